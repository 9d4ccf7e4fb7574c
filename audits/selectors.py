"""Reads about audits for pages and services: the policy, a person's own audits and proof, each certification's
latest audit for its tile, and an audit's progress and verdict."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Prefetch, Q

from acsm_portal import clock
from cecs.models import CECEntry
from certifications.selectors import cap_rules

from . import rules
from .models import Audit, AuditCredit, AuditPolicy, AuditProof

REVIEW_PERMISSION = "audits.review_audit"


def audit_policy() -> AuditPolicy:
    """The one ``AuditPolicy`` row, created with the defaults (5 %, 30 days to answer, 30 more days in a second
    window) when missing."""
    policy, _ = AuditPolicy.objects.get_or_create(pk=AuditPolicy.ONLY)
    return policy


def audit_page_path(audit_id: int) -> str:
    """Where the certificant answers audit ``audit_id`` (emails link to it): ``/audits/<id>/``."""
    return f"/audits/{audit_id}/"


def can_review(user) -> bool:
    """Whether ``user`` is active staff with the "Can review audits" permission (``audits.review_audit``)."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(REVIEW_PERMISSION))


def audit_for(*, user, audit_id: int) -> Audit | None:
    """``user``'s own audit ``audit_id`` with its credits (in page order) and their proof files, or None (another
    person's audit answers the same as a missing one). Three queries."""
    return (
        Audit.objects.select_related("certification__certification_type", "cycle", "user")
        .prefetch_related(Prefetch("credits", queryset=AuditCredit.objects.prefetch_related("proofs")))
        .filter(pk=audit_id, user=user)
        .first()
    )


def proof_for(*, user, key) -> AuditProof | None:
    """Proof file ``key`` (its UUID) for its owner, or for staff who may review audits; None for anyone else."""
    proofs = AuditProof.objects.select_related("credit__audit")
    if not can_review(user):
        proofs = proofs.filter(credit__audit__user=user)
    return proofs.filter(key=key).first()


def audit_progress(audit: Audit) -> rules.Progress:
    """``rules.progress`` of ``audit``'s credits ("3 of 7 credits documented"); uses prefetched credits if any."""
    return rules.progress(c.state for c in audit.credits.all())


def audit_verdict(audit: Audit) -> rules.Verdict:
    """Whether ``audit`` can pass on its accepted and verified credits (``rules.verdict``), under today's yearly
    caps and the requirement copied when it began."""
    credits = [rules.AuditedCredit(c.id, c.date_earned, c.cecs, c.format, c.state) for c in audit.credits.all()]
    return rules.verdict(credits=credits, start=audit.cycle.start, end=audit.cycle.end,
                         required=audit.required_cecs, caps=cap_rules())


@dataclass(frozen=True)
class AuditSummary:
    """What a certification's tile shows about its latest audit."""

    audit_id: int
    state: str  # an ``Audit.State`` value
    state_label: str
    deadline: date  # the day documents are due (the second window's end once given)
    deadline_text: str  # "6/30/Y at 11:59 PM Eastern time", the person's zone
    progress: rules.Progress
    overdue: bool  # failed because nothing was submitted in time
    reason: str

    @property
    def headline(self) -> str:
        """The tile's line about the audit."""
        return {
            rules.SELECTED: "Your recertification was selected for audit",
            rules.EXTENDED: "Your audit has more time: report replacement credits",
            rules.SUBMITTED: "Your audit documents are submitted and waiting for review",
            rules.PASSED: "Your recertification audit passed",
            rules.FAILED: "Your recertification audit failed: this certification is suspended",
            rules.CANCELED: "Your recertification audit was canceled",
            rules.REINSTATED: "Your certification was reinstated after the audit",
        }[self.state]

    @property
    def needs_answer(self) -> bool:
        """Whether the certificant has documents to send (show **Submit audit documents**)."""
        return self.state in rules.ANSWERING_STATES


def audits_by_certification(*, user) -> dict[int, AuditSummary]:
    """For each of ``user``'s certifications that has been audited, its latest audit (newest selection first), by
    certification id. One query (the dashboard's only one about audits)."""
    audits = (Audit.objects.filter(user=user).order_by("certification_id", "-selected_at", "-id")
              .annotate(documented=Count("credits", filter=Q(credits__state__in=rules.DONE_STATES)),
                        still_in=Count("credits", filter=~Q(credits__state=rules.REJECTED))))
    found: dict[int, AuditSummary] = {}
    for audit in audits:
        if audit.certification_id in found:
            continue
        found[audit.certification_id] = AuditSummary(
            audit_id=audit.pk, state=audit.state, state_label=audit.get_state_display(), deadline=audit.deadline,
            deadline_text=clock.deadline_text(audit.deadline, user),
            progress=rules.Progress(documented=audit.documented, total=audit.still_in),
            overdue=audit.overdue, reason=audit.reason,
        )
    return found


def replacement_choices(audit: Audit) -> list[CECEntry]:
    """The credits ``audit``'s person reported as earned in the audited cycle that are not part of the audit, oldest
    first: what they may add as replacements in a second window (``services.audit_replacement_add``). One query."""
    in_audit = audit.credits.filter(cec_entry__isnull=False).values("cec_entry_id")
    return list(CECEntry.objects.filter(user_id=audit.user_id, date_earned__gte=audit.cycle.start,
                                        date_earned__lte=audit.cycle.end)
                .exclude(pk__in=in_audit).order_by("date_earned", "id"))
