"""State changes for audits of paid renewals.

A paid renewal is drawn for audit by the scheduler within a minute of payment (``audit_draws_pending``: payments
knows nothing of audits), or selected by staff. The certificant uploads proof for each credit the renewal counted
and submits; staff accept or reject each credit, then pass or fail the audit, or give a second window to report
replacement credits. A failed audit (by staff, or overdue: nothing submitted by 11:59 PM on the due date, the
person's time) suspends the certification until staff reinstate it.

Every move of an audit goes through ``audit_transition``, which locks the row, treats a repeat as a no-op, refuses
a move ``rules.TRANSITIONS`` does not allow, logs who and why in ``AuditLog`` and queues the email the move calls
for. Services that change an audit's credits or proof lock the audit first, so two reviewers, a double click or a
retry find one another's work and never interleave.
"""

import logging
import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from acsm_portal import clock, jobs, uploads
from acsm_portal.errors import ServiceError
from cecs import rules as cec_rules
from cecs.models import CECEntry
from certifications.models import Cycle
from certifications.selectors import cap_rules
from certifications.suspensions import certification_reinstate, certification_suspend
from payments.models import Order, OrderLine

from . import rules
from .models import Audit, AuditCredit, AuditDraw, AuditEmail, AuditLog, AuditPolicy, AuditProof
from .selectors import audit_page_path, audit_policy, audit_progress, audit_verdict, can_review
from .tasks import audit_email_task

log = logging.getLogger(__name__)

State = Audit.State
Credit = AuditCredit.State

# How far back the scheduler draws for paid renewals that have no draw yet (a scheduler that was down catches up;
# renewals paid before audits began are left to staff selection).
DRAW_WINDOW = timedelta(days=30)
# Draws made in one run of the scheduler at most; the next run, a minute on, takes the rest.
DRAWS_PER_RUN = 500


class AuditError(ServiceError):
    """A refused audit action, with a message fit for the person or staff member."""


class AuditNotFound(AuditError):
    """No such audit, credit or proof for this person: another person's answers the same as a missing one (views
    answer 404)."""

    def __init__(self, message: str = "No such audit."):
        super().__init__(message)


class IllegalTransition(AuditError):
    """A move ``rules.TRANSITIONS`` refuses."""


def _actor(user) -> str:
    return f"{'staff' if user.is_staff else 'user'}:{user.pk}"


def _check_staff(by) -> None:
    if not can_review(by):
        raise AuditError("You need the “Can review audits” permission to do this.")


def _reason(reason: str, *, what: str = "the reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise AuditError(f"Give {what}; it is logged and the certificant reads it.", field="reason")
    if len(reason) > rules.MAX_REASON_LENGTH:
        raise AuditError(f"Keep {what} under {rules.MAX_REASON_LENGTH} characters (it has {len(reason)}).",
                         field="reason")
    return reason


# ---------------------------------------------------------------- the one transition

# The email each move sends the certificant.
_EMAILS = {
    State.EXTENDED: AuditEmail.Kind.EXTENDED,
    State.PASSED: AuditEmail.Kind.PASSED,
    State.FAILED: AuditEmail.Kind.FAILED,
    State.CANCELED: AuditEmail.Kind.CANCELED,
    State.REINSTATED: AuditEmail.Kind.REINSTATED,
}
_VERBS = {
    State.SUBMITTED: "submitted", State.EXTENDED: "given more time", State.PASSED: "passed", State.FAILED: "failed",
    State.CANCELED: "canceled", State.REINSTATED: "reinstated",
}


def audit_transition(*, audit_id: int, to: str, actor: str, note: str = "", **fields) -> tuple[Audit, bool]:
    """Move audit ``audit_id`` to state ``to`` (an ``Audit.State`` value) under a row lock, logging ``actor``
    (``"user:12"``, ``"staff:3"``, ``"scheduler"``) and ``note`` (why) in ``AuditLog``, and setting the other
    ``fields`` (``submitted_at=...``) in the same save.

    What the move brings goes with it, in the same transaction: to ``failed`` the certification is suspended (with
    ``fields["reason"]``); to ``reinstated`` it is reinstated unless another failed audit of it stands; to
    ``extended``, ``passed``, ``failed``, ``canceled`` or ``reinstated`` the certificant's email is queued after
    commit.

    Returns ``(audit, moved)``. A move to the state the audit is already in is a no-op (``moved`` false: nothing
    logged, ``fields`` not set, no email). Raises ``IllegalTransition`` for a move ``rules.TRANSITIONS`` does not
    allow, and ``Audit.DoesNotExist``.
    """
    if "state" in fields:
        raise TypeError("audit_transition takes the new state as `to`.")
    with transaction.atomic():
        audit = Audit.objects.select_for_update().get(pk=audit_id)
        if audit.state == to:
            return audit, False
        if not rules.can_move(audit.state, to):
            raise IllegalTransition(
                f"This audit is {audit.get_state_display().lower()}; it cannot be {_VERBS.get(to, to)} now.")
        AuditLog.objects.create(audit=audit, from_state=audit.state, to_state=to, actor=actor[:100], note=note[:500])
        audit.state = to
        for name, value in fields.items():
            setattr(audit, name, value)
        audit.save(update_fields=["state", *fields])
        if to == State.FAILED:
            certification_suspend(certification_id=audit.certification_id, actor=actor,
                                  reason=f"Audit {audit.pk} failed: {audit.reason}"[:500])
        elif to == State.REINSTATED:
            others = Audit.objects.filter(certification_id=audit.certification_id, state=State.FAILED)
            if not others.exclude(pk=audit.pk).exists():
                certification_reinstate(certification_id=audit.certification_id, actor=actor,
                                        reason=f"Audit {audit.pk}: {audit.reason}"[:500])
        if to in _EMAILS:
            kind = _EMAILS[to]
            key = f"{kind}-{audit.extended_due_on.isoformat()}" if to == State.EXTENDED else str(kind)
            _email_queue(audit, kind=kind, key=key, due_on=audit.deadline if to == State.EXTENDED else None)
    return audit, True


def _email_queue(audit: Audit, *, kind: str, key: str, due_on: date | None = None,
                 days_before: int | None = None) -> AuditEmail | None:
    """Record email ``key`` of ``audit`` and queue it after commit, once: None when it was recorded before. Runs
    under the audit's row lock (the caller's transaction)."""
    try:
        with transaction.atomic():
            email = AuditEmail.objects.create(audit=audit, kind=kind, key=key, due_on=due_on, days_before=days_before)
    except IntegrityError:
        return None
    jobs.queue_after_commit(audit_email_task, email.pk)
    return email


def _locked(audit_id: int, *, user=None) -> Audit:
    """Audit ``audit_id`` locked for this transaction; with ``user``, only theirs (``AuditNotFound`` otherwise)."""
    audits = Audit.objects.select_for_update(of=("self",)).select_related("cycle", "user")
    if user is not None:
        audits = audits.filter(user=user)
    audit = audits.filter(pk=audit_id).first()
    if audit is None:
        raise AuditNotFound()
    return audit


def _note(audit: Audit, actor: str, note: str) -> None:
    """Log a step that leaves the audit's state as it is."""
    AuditLog.objects.create(audit=audit, from_state=audit.state, to_state=audit.state, actor=actor[:100],
                            note=note[:500])


# ---------------------------------------------------------------- selection

def _renewal_line(order_line_id: int) -> OrderLine:
    """Order line ``order_line_id``, locked, when it is a paid renewal that still stands; ``AuditError`` if not."""
    line = (OrderLine.objects.select_for_update(of=("self",))
            .select_related("order__user", "cycle", "renewed_cycle", "certification__certification_type")
            .filter(pk=order_line_id).first())
    if line is None:
        raise AuditNotFound("No such renewal.")
    if line.kind != OrderLine.Kind.RENEWAL:
        raise AuditError(f"“{line.description}” is not a renewal; only renewals are audited.")
    if line.order.state != Order.State.PAID or line.renewed_cycle is None:
        raise AuditError(f"The renewal “{line.description}” of order {line.order.number} is not paid; "
                         "only paid renewals are audited.")
    if line.renewed_cycle.state == Cycle.State.UNDONE:
        raise AuditError(f"The renewal “{line.description}” of order {line.order.number} was undone; "
                         "there is nothing to audit.")
    return line


def _audit_open(line: OrderLine, *, how: str, by, actor: str, note: str) -> Audit:
    """Begin the audit of renewal ``line`` (locked by the caller): due ``days_to_answer`` after the person's today,
    covering each credit that counted toward the renewed cycle (``line.cycle``), the selection email queued."""
    user = line.order.user
    cycle = line.cycle
    policy = audit_policy()
    audit = Audit.objects.create(
        order_line=line, user=user, certification=line.certification, cycle=cycle,
        required_cecs=line.certification.certification_type.required_cecs, how=how, selected_by=by,
        selected_at=clock.now(), due_on=rules.due_on(selected_on=clock.today_for(user), days=policy.days_to_answer),
    )
    entries = list(CECEntry.objects.filter(user=user, date_earned__gte=cycle.start, date_earned__lte=cycle.end)
                   .order_by("date_earned", "id"))
    counted = cec_rules.count_credits([cec_rules.Credit(e.id, e.date_earned, e.cecs, e.format) for e in entries],
                                      start=cycle.start, end=cycle.end, caps=cap_rules())
    counts = {line.credit.id for line in counted if line.counted > 0}
    AuditCredit.objects.bulk_create([_snapshot(audit, e) for e in entries if e.id in counts])
    AuditLog.objects.create(audit=audit, from_state="", to_state=State.SELECTED, actor=actor[:100], note=note[:500])
    _email_queue(audit, kind=AuditEmail.Kind.SELECTED, key=AuditEmail.Kind.SELECTED, due_on=audit.due_on)
    return audit


def _snapshot(audit: Audit, entry: CECEntry, *, replacement: bool = False) -> AuditCredit:
    return AuditCredit(
        audit=audit, cec_entry=entry, date_earned=entry.date_earned, course_name=entry.course_name, cecs=entry.cecs,
        format=entry.format, provider=entry.provider, source=entry.source, replacement=replacement,
        state=Credit.VERIFIED if entry.source in rules.NO_PROOF_SOURCES else Credit.NEEDED,
    )


def audit_draw(*, order_line_id: int, rng: random.Random | None = None) -> AuditDraw:
    """Draw paid renewal ``order_line_id`` for audit, once: a roll (``rules.roll`` from ``rng``, by default
    ``secrets.SystemRandom()``) below the policy's rate selects it, and its audit begins (unless staff selected it
    already). The draw is recorded either way (``AuditDraw``: rate, roll, selected). A second call returns the
    first draw. Raises ``AuditError`` for a line that is not a paid renewal still standing, ``AuditNotFound``."""
    with transaction.atomic():
        line = _renewal_line(order_line_id)
        existing = AuditDraw.objects.filter(order_line=line).first()
        if existing is not None:
            return existing
        rate = audit_policy().rate
        roll = rules.roll(rng or secrets.SystemRandom())
        draw = AuditDraw.objects.create(order_line=line, rate=rate, roll=roll,
                                        selected=rules.is_selected(roll=roll, rate=rate))
        if draw.selected and not Audit.objects.filter(order_line=line).exists():
            _audit_open(line, how=Audit.How.DRAW, by=None, actor="draw",
                        note=f"Selected by random draw: roll {roll} is below the rate {rate}.")
    return draw


def audit_draws_pending(*, rng: random.Random | None = None, limit: int = DRAWS_PER_RUN) -> list[int]:
    """Draw every paid renewal standing (order paid within ``DRAW_WINDOW``, its renewal not undone) that has no
    draw yet, oldest payment first, ``limit`` at most (``audit_draw``). The scheduler runs this every minute, so a
    renewal is drawn within about a minute of payment. Returns the ids of the draws made; a line that cannot be
    drawn is logged and skipped."""
    lines = list(
        OrderLine.objects.filter(kind=OrderLine.Kind.RENEWAL, order__state=Order.State.PAID,
                                 order__paid_at__gte=clock.now() - DRAW_WINDOW, renewed_cycle__isnull=False,
                                 audit_draw__isnull=True)
        .exclude(renewed_cycle__state=Cycle.State.UNDONE)
        .order_by("order__paid_at", "pk").values_list("pk", flat=True)[:limit]
    )
    drawn = []
    for line_id in lines:
        try:
            drawn.append(audit_draw(order_line_id=line_id, rng=rng).pk)
        except AuditError as exc:
            log.warning("Could not draw renewal %s for audit: %s", line_id, exc.message)
    return drawn


def audit_select_by_staff(*, order_line_id: int, by) -> tuple[Audit, bool]:
    """Select paid renewal ``order_line_id`` for audit by hand (staff with ``audits.review_audit``). Returns
    ``(audit, selected)``; a renewal already audited (by draw or by hand, whatever came of it) keeps its one
    audit: that audit is returned with ``selected`` false. Raises ``AuditError`` without the permission or for a
    line that is not a paid renewal still standing."""
    _check_staff(by)
    with transaction.atomic():
        line = _renewal_line(order_line_id)
        existing = Audit.objects.filter(order_line=line).first()
        if existing is not None:
            return existing, False
        return _audit_open(line, how=Audit.How.STAFF, by=by, actor=_actor(by), note="Selected by staff."), True


def audit_cancel(*, audit_id: int, by, reason: str) -> Audit:
    """Cancel an open audit (selected, submitted or extended) for ``reason`` (staff); the certificant is told. A
    repeat is a no-op. Raises ``AuditError`` without the permission or a reason, ``IllegalTransition`` for an
    audit already decided, ``Audit.DoesNotExist``."""
    _check_staff(by)
    reason = _reason(reason)
    audit, _ = audit_transition(audit_id=audit_id, to=State.CANCELED, actor=_actor(by), note=reason, reason=reason,
                                decided_at=clock.now(), decided_by=by)
    return audit


# ---------------------------------------------------------------- the certificant's side

def _check_answering(audit: Audit) -> None:
    """Refuse changes to an audit that is not waiting for the certificant, or whose deadline has passed."""
    if audit.state == State.SUBMITTED:
        raise AuditError("Your audit documents are submitted; they can no longer be changed.")
    if audit.state not in rules.ANSWERING_STATES:
        raise AuditError(f"This audit is {audit.get_state_display().lower()}; it can no longer be changed.")
    if rules.is_overdue(deadline=audit.deadline, today=clock.today_for(audit.user)):
        raise AuditError(f"The audit was due {clock.deadline_text(audit.deadline, audit.user)}; "
                         "it can no longer be changed. Please contact the certification department.")


def _credit_locked(audit: Audit, credit_id: int) -> AuditCredit:
    credit = AuditCredit.objects.select_for_update().filter(pk=credit_id, audit=audit).first()
    if credit is None:
        raise AuditNotFound("No such credit in this audit.")
    return credit


def audit_proof_add(*, audit_id: int, credit_id: int, user, name: str, data: bytes) -> AuditProof:
    """Check one file of proof by its content (``acsm_portal.uploads.check_file``: PDF, JPEG, PNG or HEIC, at
    most 10 MB) and store it privately for credit ``credit_id`` of ``user``'s own audit ``audit_id``; the credit
    is then documented. Nothing is kept of a refused file.

    Raises ``AuditNotFound`` for another person's audit or credit; ``AuditError`` (``field="file"``) for a refused
    file, the same file twice, more than ``uploads.MAX_FILES`` files for a credit, a credit that needs no proof or
    was decided, or an audit that is not waiting for documents or is past its deadline.
    """
    try:
        checked = uploads.check_file(name=name, data=data)
    except uploads.UploadRefused as exc:
        raise AuditError(exc.message, field="file") from None
    stored = None
    try:
        with transaction.atomic():
            audit = _locked(audit_id, user=user)
            credit = _credit_locked(audit, credit_id)
            _check_answering(audit)
            if credit.state not in (Credit.NEEDED, Credit.DOCUMENTED):
                raise AuditError(_no_proof_needed(credit), field="file")
            names = list(credit.proofs.values_list("sha256", "original_name"))
            same = [shown for sha, shown in names if sha == checked.sha256]
            if same:
                raise AuditError(f"“{checked.name}” is already uploaded for this credit (as “{same[0]}”).",
                                 field="file")
            if len(names) >= uploads.MAX_FILES:
                raise AuditError(f"A credit holds at most {uploads.MAX_FILES} files of proof; “{checked.name}” was "
                                 "not added. Remove one first.", field="file")
            stored = AuditProof(credit=credit, original_name=checked.name, content_type=checked.content_type,
                                size=checked.size, sha256=checked.sha256)
            stored.file.save("proof", ContentFile(checked.data), save=False)
            stored.save()
            if credit.state == Credit.NEEDED:
                credit.state = Credit.DOCUMENTED
                credit.save(update_fields=["state"])
            _note(audit, _actor(user), f"Proof “{checked.name}” added for “{credit.course_name}”.")
    except Exception:
        if stored is not None and stored.file.name:
            default_storage.delete(stored.file.name)
        raise
    return stored


def _no_proof_needed(credit: AuditCredit) -> str:
    return {
        Credit.VERIFIED: f"“{credit.course_name}” was reported by its provider or by staff; it needs no proof.",
        Credit.ACCEPTED: f"“{credit.course_name}” is already accepted; it needs no more proof.",
        Credit.REJECTED: f"“{credit.course_name}” was rejected; report a replacement credit instead.",
    }.get(credit.state, f"“{credit.course_name}” takes no proof now.")


def audit_proof_remove(*, audit_id: int, proof_id: int, user) -> AuditCredit:
    """Remove one file of proof from ``user``'s own audit ``audit_id`` while it waits for documents; a credit left
    with no proof needs proof again. The stored file is deleted once the change is committed. Returns the credit.
    Raises ``AuditNotFound`` for another person's audit or proof (or one removed already), ``AuditError`` for an
    audit that is not waiting for documents or is past its deadline, or a credit already decided."""
    with transaction.atomic():
        audit = _locked(audit_id, user=user)
        proof = AuditProof.objects.select_related("credit").filter(pk=proof_id, credit__audit=audit).first()
        if proof is None:
            raise AuditNotFound("No such file of proof.")
        credit = _credit_locked(audit, proof.credit_id)
        _check_answering(audit)
        if credit.state not in (Credit.NEEDED, Credit.DOCUMENTED):
            raise AuditError(f"“{credit.course_name}” is {credit.get_state_display().lower()}; its proof stays.")
        name = proof.file.name
        proof.delete()
        if not credit.proofs.exists():
            credit.state = Credit.NEEDED
            credit.save(update_fields=["state"])
        _note(audit, _actor(user), f"Proof “{proof.original_name}” removed from “{credit.course_name}”.")
        transaction.on_commit(lambda: default_storage.delete(name))
    return credit


def audit_submit(*, audit_id: int, user, note: str = "") -> Audit:
    """Submit ``user``'s own audit for review, with their ``note`` (at most ``rules.MAX_NOTE_LENGTH``
    characters). A second submit (a double click) returns the audit as submitted. Raises ``AuditNotFound`` for
    another person's audit; ``AuditError`` while a credit still needs proof (``field="credits"``, naming them),
    for an over-long note, past the deadline, or for an audit that is not waiting for documents."""
    note = (note or "").strip()
    if len(note) > rules.MAX_NOTE_LENGTH:
        raise AuditError(f"Keep the note under {rules.MAX_NOTE_LENGTH} characters (it has {len(note)}).",
                         field="note")
    with transaction.atomic():
        audit = _locked(audit_id, user=user)
        if audit.state == State.SUBMITTED:
            return audit
        _check_answering(audit)
        missing = list(audit.credits.filter(state=Credit.NEEDED).values_list("course_name", flat=True))
        if missing:
            listed = "; ".join(f"“{name}”" for name in missing[:5]) + ("; …" if len(missing) > 5 else "")
            raise AuditError(f"Upload proof for every credit before you submit: {len(missing)} "
                             f"{'credit still needs' if len(missing) == 1 else 'credits still need'} proof "
                             f"({listed}).", field="credits")
        audit.note = note  # the person's note (``audit_transition``'s own ``note`` is the log's)
        audit.save(update_fields=["note"])
        audit, _ = audit_transition(audit_id=audit.pk, to=State.SUBMITTED, actor=_actor(user),
                                    note="Submitted for review.", submitted_at=clock.now())
    return audit


def audit_replacement_add(*, audit_id: int, user, cec_entry_id: int) -> AuditCredit:
    """Add one of ``user``'s own credits, earned in the audited cycle and not in the audit yet, to their audit in
    its second window (``extended``), as a replacement for rejected CECs. It needs proof unless its provider or
    staff reported it. Raises ``AuditNotFound`` for another person's audit or credit; ``AuditError``
    (``field="cec_entry"``) outside a second window, past the deadline, for a credit earned outside the audited
    cycle or already in the audit."""
    with transaction.atomic():
        audit = _locked(audit_id, user=user)
        entry = CECEntry.objects.filter(pk=cec_entry_id, user=user).first()
        if entry is None:
            raise AuditNotFound("No such credit.")
        if audit.state != State.EXTENDED:
            raise AuditError("Replacement credits can be added only when staff give more time to replace rejected "
                             "credits.", field="cec_entry")
        _check_answering(audit)
        cycle = audit.cycle
        if not cycle.start <= entry.date_earned <= cycle.end:
            raise AuditError(
                f"“{entry.course_name}” was earned on {entry.date_earned:%-m/%-d/%Y}, outside the audited cycle "
                f"({cycle}); only credits earned in that cycle can replace rejected ones.", field="cec_entry")
        if audit.credits.filter(cec_entry=entry).exists():
            raise AuditError(f"“{entry.course_name}” is already part of this audit.", field="cec_entry")
        credit = _snapshot(audit, entry, replacement=True)
        credit.save()
        _note(audit, _actor(user), f"Replacement credit “{entry.course_name}” ({cec_rules.format_cecs(entry.cecs)} CECs) added.")
    return credit


def audit_replacement_remove(*, audit_id: int, credit_id: int, user) -> None:
    """Take a replacement credit ``user`` added back out of their audit (with its proof files) in its second
    window. Raises ``AuditNotFound`` for another person's audit or credit, ``AuditError`` for a credit that is not a
    replacement or was decided, outside the second window or past the deadline."""
    with transaction.atomic():
        audit = _locked(audit_id, user=user)
        credit = _credit_locked(audit, credit_id)
        if audit.state != State.EXTENDED:
            raise AuditError("Replacement credits can be changed only in the second window.")
        _check_answering(audit)
        if not credit.replacement or credit.state in (Credit.ACCEPTED, Credit.REJECTED):
            raise AuditError(f"“{credit.course_name}” cannot be taken out of the audit.")
        names = list(credit.proofs.values_list("file", flat=True))
        credit.delete()
        _note(audit, _actor(user), f"Replacement credit “{credit.course_name}” taken out.")
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names])


# ---------------------------------------------------------------- the staff side

def audit_credit_review(*, credit_id: int, by, accept: bool, reason: str = "") -> AuditCredit:
    """Accept or reject (with ``reason``, which the certificant reads) one credit of a submitted audit (staff
    with ``audits.review_audit``). A rejected credit no longer counts toward the audited cycle. A repeat of the
    same decision changes nothing (the first reviewer's reason stays); the other decision replaces it, logged.
    Raises ``AuditError`` without the permission, without a reason to reject, or while the audit is not
    submitted; ``AuditNotFound``."""
    _check_staff(by)
    reason = "" if accept else _reason(reason, what="the reason for rejecting it")
    audit_id = AuditCredit.objects.filter(pk=credit_id).values_list("audit_id", flat=True).first()
    if audit_id is None:
        raise AuditNotFound("No such credit.")
    with transaction.atomic():
        audit = _locked(audit_id)
        credit = _credit_locked(audit, credit_id)
        if audit.state != State.SUBMITTED:
            raise AuditError(f"This audit is {audit.get_state_display().lower()}; credits are reviewed while it is "
                             "submitted.")
        to = Credit.ACCEPTED if accept else Credit.REJECTED
        if credit.state == to:
            return credit
        credit.state, credit.reason, credit.reviewed_by, credit.reviewed_at = to, reason, by, clock.now()
        credit.save(update_fields=["state", "reason", "reviewed_by", "reviewed_at"])
        said = "accepted." if accept else f"rejected: {reason}"
        _note(audit, _actor(by), f"“{credit.course_name}” ({cec_rules.format_cecs(credit.cecs)} CECs, "
                                 f"{credit.date_earned:%-m/%-d/%Y}) {said}")
    return credit


def audit_pass(*, audit_id: int, by) -> Audit:
    """Pass a submitted audit (staff): only when its accepted and verified credits meet the requirement as the
    portal counts them (``rules.verdict``). The certificant is told. A repeat is a no-op. Raises ``AuditError``
    without the permission or when the credits fall short (saying by how much), ``IllegalTransition`` for an
    audit not submitted, ``Audit.DoesNotExist``."""
    _check_staff(by)
    with transaction.atomic():
        audit = _locked(audit_id)
        if audit.state == State.PASSED:
            return audit
        if audit.state != State.SUBMITTED:
            raise IllegalTransition(f"This audit is {audit.get_state_display().lower()}; it cannot be passed now.")
        verdict = audit_verdict(audit)
        if not verdict.can_pass:
            raise AuditError(
                f"The audit cannot pass: {verdict.label}; {cec_rules.format_cecs(verdict.short)} more are needed. "
                "Accept more credits, or give the certificant more time to report replacement credits.")
        audit, _ = audit_transition(audit_id=audit.pk, to=State.PASSED, actor=_actor(by),
                                    note=f"Passed: {verdict.label}.", decided_at=clock.now(), decided_by=by)
    return audit


def audit_fail(*, audit_id: int, by, reason: str) -> Audit:
    """Fail an audit for ``reason`` (staff): a submitted one, or one whose deadline has passed with nothing
    submitted. The certification is suspended and the certificant told. A repeat is a no-op. Raises
    ``AuditError`` without the permission or a reason, or for an audit still within its deadline;
    ``IllegalTransition`` for one already decided; ``Audit.DoesNotExist``."""
    _check_staff(by)
    reason = _reason(reason)
    with transaction.atomic():
        audit = _locked(audit_id)
        if audit.state == State.FAILED:
            return audit
        overdue = False
        if audit.state in rules.ANSWERING_STATES:
            overdue = rules.is_overdue(deadline=audit.deadline, today=clock.today_for(audit.user))
            if not overdue:
                raise AuditError(f"The certificant has until {clock.deadline_text(audit.deadline, audit.user)} to "
                                 "submit; fail the audit after that, or cancel it.")
        audit, _ = audit_transition(audit_id=audit.pk, to=State.FAILED, actor=_actor(by), note=reason, reason=reason,
                                    overdue=overdue, decided_at=clock.now(), decided_by=by)
    return audit


def audit_extend(*, audit_id: int, by, days: int | None = None, reason: str = "") -> Audit:
    """Give the certificant a second window of ``days`` (default: the policy's ``extension_days``) from their
    today, to report replacement credits earned in the audited cycle (``audit_replacement_add``) and submit again;
    the certificant is told the new due date. A repeat while the audit is extended is a no-op. Raises
    ``AuditError`` without the permission or for ``days`` outside 1-365; ``IllegalTransition`` for an audit
    decided; ``Audit.DoesNotExist``."""
    _check_staff(by)
    days = audit_policy().extension_days if days is None else days
    if not 1 <= days <= 365:
        raise AuditError("Give between 1 and 365 days.", field="days")
    with transaction.atomic():
        audit = _locked(audit_id)
        if audit.state == State.EXTENDED:
            return audit
        due = rules.due_on(selected_on=clock.today_for(audit.user), days=days)
        note = f"{days} more days, to {due:%-m/%-d/%Y}." + (f" {reason.strip()}" if reason.strip() else "")
        audit, _ = audit_transition(audit_id=audit.pk, to=State.EXTENDED, actor=_actor(by), note=note,
                                    extended_due_on=due)
    return audit


def audit_reinstate(*, audit_id: int, by, reason: str) -> Audit:
    """Reinstate after a failed audit (staff, once resolved): the certification's suspension is lifted unless
    another failed audit of it stands, and the certificant is told. A repeat is a no-op. Raises ``AuditError``
    without the permission or a reason, ``IllegalTransition`` for an audit that did not fail,
    ``Audit.DoesNotExist``."""
    _check_staff(by)
    reason = _reason(reason)
    audit, _ = audit_transition(audit_id=audit_id, to=State.REINSTATED, actor=_actor(by), note=reason,
                                reason=reason, decided_at=clock.now(), decided_by=by)
    return audit


def audit_policy_update(*, by, rate: Decimal, days_to_answer: int, extension_days: int) -> AuditPolicy:
    """Set the audit policy (staff who may change it, ``audits.change_auditpolicy``): ``rate`` from 0 to 1, days
    from 1 to 365. Draws made from then on use the new rate; audits already begun keep their due dates. Raises
    ``AuditError``."""
    if not (by.is_active and by.is_staff and by.has_perm("audits.change_auditpolicy")):
        raise AuditError("You need the permission to change the audit policy.")
    if not Decimal("0") <= rate <= Decimal("1") or rate.as_tuple().exponent < -4:
        raise AuditError("The rate is a share from 0 to 1 with at most four decimal places (0.05 is 5 %).",
                         field="rate")
    for field, value in (("days_to_answer", days_to_answer), ("extension_days", extension_days)):
        if not 1 <= value <= 365:
            raise AuditError("Give between 1 and 365 days.", field=field)
    with transaction.atomic():
        audit_policy()
        policy = AuditPolicy.objects.select_for_update().get(pk=AuditPolicy.ONLY)
        policy.rate, policy.days_to_answer, policy.extension_days = rate, days_to_answer, extension_days
        policy.updated_at, policy.updated_by = clock.now(), by
        policy.save()
    return policy


# ---------------------------------------------------------------- the scheduler

UNDONE_REASON = "The renewal was refunded and undone; there is nothing to audit."


def audits_undone_cancel() -> list[int]:
    """Cancel every open audit whose renewal was undone since (staff refunded it: ``OrderLine.renewed_cycle`` is
    ``undone``), logged as the scheduler's, the certificant told. Returns the ids canceled."""
    canceled = []
    for audit_id in (Audit.objects.filter(state__in=rules.OPEN_STATES,
                                          order_line__renewed_cycle__state=Cycle.State.UNDONE)
                     .order_by("pk").values_list("pk", flat=True)):
        try:
            _, moved = audit_transition(audit_id=audit_id, to=State.CANCELED, actor="scheduler", note=UNDONE_REASON,
                                        reason=UNDONE_REASON, decided_at=clock.now())
        except IllegalTransition:
            continue  # decided meanwhile
        if moved:
            canceled.append(audit_id)
    return canceled


def audits_overdue_fail(*, today_fn=clock.today_for) -> list[int]:
    """Fail every audit still waiting for documents (selected or extended) whose deadline has passed in its
    person's zone (``today_fn(person)``, their today): the certification is suspended and the certificant told.
    Run every hour by the scheduler, so an audit fails within the hour after 11:59 PM on its due date, the
    person's time. Audits of renewals undone since are canceled first (``audits_undone_cancel``), never failed.
    Returns the ids failed, soonest deadline first."""
    audits_undone_cancel()
    # A person's today is at most a day ahead of the portal's: nothing due later can be overdue yet.
    horizon = clock.today() + timedelta(days=1)
    candidates = (Audit.objects.filter(Q(state=State.SELECTED, due_on__lt=horizon)
                                       | Q(state=State.EXTENDED, extended_due_on__lt=horizon))
                  .select_related("user").order_by("due_on", "pk"))
    failed = []
    for candidate in candidates:
        with transaction.atomic():
            audit = _locked(candidate.pk)
            if audit.state not in rules.ANSWERING_STATES:
                continue
            if not rules.is_overdue(deadline=audit.deadline, today=today_fn(audit.user)):
                continue
            reason = (f"Nothing was submitted by the due date, {clock.deadline_text(audit.deadline, audit.user)}.")
            audit_transition(audit_id=audit.pk, to=State.FAILED, actor="scheduler", note=reason, reason=reason,
                             overdue=True, decided_at=clock.now())
            failed.append(audit.pk)
    return failed


def audit_reminders_due(*, today_fn=clock.today_for) -> list[tuple[Audit, int]]:
    """The audits waiting for documents whose reminder is due today in the person's zone (``rules.reminder_due``)
    and not made yet, each with the days before its deadline: ``[(audit, 7), …]``, by due date. Reads only (the
    dry run of ``manage.py send_reminders`` lists them)."""
    horizon = clock.today() + timedelta(days=max(rules.REMINDER_DAYS) + 1)
    candidates = (Audit.objects.filter(Q(state=State.SELECTED, due_on__lte=horizon)
                                       | Q(state=State.EXTENDED, extended_due_on__lte=horizon))
                  .select_related("user", "certification__certification_type").order_by("due_on", "pk"))
    due = []
    for audit in candidates:
        offset = rules.reminder_due(deadline=audit.deadline, today=today_fn(audit.user))
        if offset is not None:
            due.append((audit, offset))
    made = set(AuditEmail.objects.filter(audit__in=[a for a, _ in due], kind=AuditEmail.Kind.REMINDER)
               .values_list("audit_id", "key"))
    return [(a, o) for a, o in due if (a.pk, f"reminder-{o}-{a.deadline}") not in made]


def audit_reminders_queue(*, today_fn=clock.today_for) -> list[int]:
    """Queue the reminder due today for each audit waiting for documents: 14, 7 and 1 days before its deadline in
    the person's zone (``rules.reminder_due``), each once per deadline (``AuditEmail.key``
    ``"reminder-<days>-<due date>"``: a second window brings its own). Run every hour by the scheduler. Returns the
    ids of the ``AuditEmail`` rows made."""
    made = []
    for candidate, _offset in audit_reminders_due(today_fn=today_fn):
        with transaction.atomic():
            audit = _locked(candidate.pk)
            offset = rules.reminder_due(deadline=audit.deadline, today=today_fn(audit.user))
            if audit.state not in rules.ANSWERING_STATES or offset is None:
                continue
            email = _email_queue(audit, kind=AuditEmail.Kind.REMINDER, key=f"reminder-{offset}-{audit.deadline}",
                                 due_on=audit.deadline, days_before=offset)
            if email is not None:
                made.append(email.pk)
    return made


# ---------------------------------------------------------------- emails

@dataclass(frozen=True)
class _Message:
    subject: str
    template: str


def _message(email: AuditEmail, code: str) -> _Message:
    kind = AuditEmail.Kind
    return {
        kind.SELECTED: _Message(f"Your {code} recertification was selected for audit", "emails/audit_selected.txt"),
        kind.REMINDER: _Message(f"Reminder: your {code} audit documents are due "
                                f"{'tomorrow' if email.days_before == 1 else f'in {email.days_before} days'}",
                                "emails/audit_reminder.txt"),
        kind.EXTENDED: _Message(f"More time for your {code} audit", "emails/audit_extended.txt"),
        kind.PASSED: _Message(f"Your {code} recertification audit passed", "emails/audit_passed.txt"),
        kind.FAILED: _Message(f"Your {code} recertification audit failed: certification suspended",
                              "emails/audit_failed.txt"),
        kind.CANCELED: _Message(f"Your {code} recertification audit was canceled", "emails/audit_canceled.txt"),
        kind.REINSTATED: _Message(f"Your {code} certification is reinstated", "emails/audit_reinstated.txt"),
    }[email.kind]


def audit_email_send(*, email_id: int) -> str:
    """Send audit email ``email_id`` to the certificant, once.

    The email is claimed in a short transaction (``claimed_at``), sent with no row lock held, then ``emailed_at``
    set. Returns what happened: ``"sent"``, ``"no such email"``, ``"already sent"``, ``"not needed (<state>)"``
    for a reminder of an audit no longer waiting for documents, or ``"claimed"`` when another worker took it on
    less than ``jobs.CLAIM`` ago. When sending fails the claim is let go and the error (``OSError``,
    ``SMTPException``) raised, for the task to retry.
    """
    claimed_at = clock.now()
    with transaction.atomic():
        email = (AuditEmail.objects.select_for_update(of=("self",))
                 .select_related("audit__user", "audit__certification__certification_type", "audit__cycle")
                 .filter(pk=email_id).first())
        if email is None:
            return "no such email"
        if email.emailed_at is not None:
            return "already sent"
        audit = email.audit
        if email.kind == AuditEmail.Kind.REMINDER and audit.state not in rules.ANSWERING_STATES:
            return f"not needed ({audit.state})"
        if email.claimed_at is not None and claimed_at - email.claimed_at < jobs.CLAIM:
            return "claimed"
        email.claimed_at = claimed_at
        email.save(update_fields=["claimed_at"])
    user, ctype = audit.user, audit.certification.certification_type
    due = email.due_on or audit.deadline
    context = {
        "user": user, "audit": audit, "email": email, "code": ctype.code, "certification_name": ctype.name,
        "cycle": str(audit.cycle), "deadline": clock.deadline_text(due, user),
        "progress": audit_progress(audit), "reason": audit.reason,
        "audit_url": settings.PORTAL_BASE_URL + audit_page_path(audit.pk),
        "dashboard_url": settings.PORTAL_BASE_URL + reverse("dashboard"),
    }
    message = _message(email, ctype.code)
    try:
        send_mail(subject=message.subject, message=render_to_string(message.template, context), from_email=None,
                  recipient_list=[user.email])
    except Exception:
        AuditEmail.objects.filter(pk=email_id, claimed_at=claimed_at).update(claimed_at=None)
        raise
    AuditEmail.objects.filter(pk=email_id).update(emailed_at=clock.now())
    return "sent"


def audit_emails_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again every audit email called for more than ``after`` ago (and within ``jobs.SWEEP_WINDOW``) and not
    sent, unless a worker took it on less than ``jobs.CLAIM`` ago; reminders only while their audit waits for
    documents. Returns the ``AuditEmail`` ids, oldest first."""
    waiting = (AuditEmail.objects.filter(emailed_at__isnull=True)
               .exclude(Q(kind=AuditEmail.Kind.REMINDER) & ~Q(audit__state__in=rules.ANSWERING_STATES)))
    lost = list(jobs.unsent(waiting, called_at="created_at", claimed_at="claimed_at", after=after)
                .values_list("pk", flat=True))
    for email_id in lost:
        jobs.queue(audit_email_task, email_id)
    return lost
