"""Staff pages for audits: the **Audits** queue, the review of one audit, paid renewals to select for audit by hand,
and the audit policy (one row).

The review page shows each audited credit with its proof previewed inline (an image as itself, every page of a
PDF), **Accept** / **Reject** per credit, the certificant's note, the decisions (**Pass audit**, **Fail audit**,
**Give more time**, **Cancel audit**, **Reinstate**) and the log. Every decision is a POST that calls the same
service as the site (``audit_credit_review``, ``audit_pass``, …) for staff holding ``audits.review_audit``; the
audit's row is locked around the call, so a double click or a second reviewer finds the first one's work and is
told "already passed", and a refusal (``AuditError``) is shown with nothing changed and what was typed kept.
"""

import io
import re
from dataclasses import dataclass, field
from typing import Callable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, DateField, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from acsm_portal import clock, previews
from acsm_portal.fields import FiniteDecimalAdminMixin
from acsm_portal.fields import FiniteDecimalAdminMixin
from acsm_portal.files import file_response
from acsm_portal.formats import format_date
from acsm_portal.uploads import ACTIVE_CONTENT_REFUSALS, JPEG, PDF
from cecs import rules as cec_rules
from cecs.models import CECEntry, CreditFormat
from payments.models import Order, OrderLine

from . import rules
from .models import Audit, AuditCredit, AuditLog, AuditPolicy, AuditProof, RenewalForAudit
from .selectors import audit_policy, audit_verdict, can_review
from .services import (
    AuditError, audit_cancel, audit_credit_review, audit_extend, audit_fail, audit_pass, audit_policy_update,
    audit_reinstate, audit_select_by_staff,
)

State = Audit.State
Credit = AuditCredit.State
EMPTY = "-"  # the admin's empty value
PREVIEW_FOLDER = "audit-previews"
FORMAT_LABELS = dict(CreditFormat.choices)
SOURCE_LABELS = dict(CECEntry.Source.choices)
KIND_NAMES = {PDF: "PDF", JPEG: "JPEG image"}


# ---------------------------------------------------------------- shared bits

def _name(user) -> str:
    return user.get_full_name() or user.email


def _label(audit: Audit) -> str:
    """"Ana Silva (310002, CPT)": who and what an audit is, in messages."""
    return f"{_name(audit.user)} ({audit.user.member_id}, {audit.certification.certification_type.code})"


ORDER_NUMBER = re.compile(r"R\d{2}-[0-9A-F]{6}", re.IGNORECASE)  # "R27-3FA9C1"


def _member_search(queryset: QuerySet, term: str, *, user: str, order: str) -> QuerySet:
    """``queryset`` narrowed to what ``term`` names, each way by an index: digits, a member ID's start; an "@", an
    email address's start (stored lower-cased); "R27-3FA9C1", that order number; otherwise a name (the whole term
    as the last name, or its last word as the last name and the words before starting the first name). ``user`` and
    ``order`` are the lookups' prefixes ("user__", "order_line__order__")."""
    term = " ".join(term.split())
    if not term:
        return queryset
    if term.isdigit():
        return queryset.filter(**{f"{user}member_id__startswith": term})
    if "@" in term:
        return queryset.filter(**{f"{user}email__startswith": term.lower()})
    if ORDER_NUMBER.fullmatch(term):
        return queryset.filter(**{f"{order}number": term.upper()})
    names = Q(**{f"{user}last_name__iexact": term})
    first, _, last = term.rpartition(" ")
    if first:
        names |= Q(**{f"{user}last_name__iexact": last, f"{user}first_name__istartswith": first})
    return queryset.filter(names)


SEARCH_HELP = "Member ID, email, name (last name, or first and last), or order number"

# The queue's short names of the states (the review page says them in full).
SHORT_STATES = {
    rules.SELECTED: "Waiting for documents", rules.SUBMITTED: "To review", rules.EXTENDED: "More time",
    rules.PASSED: "Passed", rules.FAILED: "Failed", rules.CANCELED: "Canceled", rules.REINSTATED: "Reinstated",
}


def _member_cell(user) -> str:
    """Name, then member ID and email on a quieter line."""
    return format_html('{} <span class="audit-quiet audit-line">{} · {}</span>', _name(user), user.member_id,
                       user.email)


# ---------------------------------------------------------------- the queue

class AuditStatusFilter(admin.SimpleListFilter):
    """The queue opens on the audits still open (waiting for documents or for review); staff switch to the others."""

    title = "status"
    parameter_name = "status"
    default = "open"
    STATES = {
        "open": ("Open – waiting for documents or review", rules.OPEN_STATES),
        "submitted": ("Submitted – waiting for review", {rules.SUBMITTED}),
        "answering": ("Waiting for documents (incl. more time)", rules.ANSWERING_STATES),
        rules.PASSED: ("Passed", {rules.PASSED}),
        rules.FAILED: ("Failed – suspended", {rules.FAILED}),
        rules.CANCELED: ("Canceled", {rules.CANCELED}),
        rules.REINSTATED: ("Reinstated", {rules.REINSTATED}),
        "all": ("All", None),
    }

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _) in self.STATES.items()]

    def choices(self, changelist):
        current = self.value() if self.value() in self.STATES else self.default
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        _, states = self.STATES.get(self.value(), self.STATES[self.default])
        return queryset if states is None else queryset.filter(state__in=sorted(states))


class HowFilter(admin.SimpleListFilter):
    title = "how selected"
    parameter_name = "how"

    def lookups(self, request, model_admin):
        return Audit.How.choices

    def queryset(self, request, queryset):
        return queryset.filter(how=self.value()) if self.value() in Audit.How.values else queryset


def _credit_count(condition: Q):
    """How many of an audit's credits meet ``condition``, as a subquery per row (no GROUP BY over the queue)."""
    counted = (AuditCredit.objects.filter(condition, audit=OuterRef("pk")).order_by().values("audit")
               .annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def audit_queue() -> QuerySet[Audit]:
    """Every audit as the staff queue lists it, due soonest first: the certificant, certification type, cycle and
    order joined in, ``deadline_on`` (the second window's end once given, else the due date), ``documented`` and
    ``still_in`` (``rules.progress``: credits documented, of those not rejected). One query per page."""
    return (
        Audit.objects.select_related("user", "certification__certification_type", "cycle")
        .annotate(deadline_on=Coalesce("extended_due_on", "due_on", output_field=DateField()),
                  documented=_credit_count(Q(state__in=sorted(rules.DONE_STATES))),
                  still_in=_credit_count(~Q(state=rules.REJECTED)))
        .order_by("deadline_on", "id")
    )


def is_overdue(audit: Audit, deadline=None) -> bool:
    """Whether ``audit`` waits for documents past its deadline, in its person's zone (11:59 PM their time)."""
    return audit.state in rules.ANSWERING_STATES and rules.is_overdue(
        deadline=deadline or audit.deadline, today=clock.today_for(audit.user))


class ReviewersOnlyMixin:
    """Admin pages for reviewers (``audits.review_audit``) only, read-only: changes go through the services."""

    def has_review_permission(self, request) -> bool:
        return can_review(request.user)

    def has_module_permission(self, request):
        return self.has_review_permission(request)

    def has_view_permission(self, request, obj=None):
        return self.has_review_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Audit)
class AuditAdmin(ReviewersOnlyMixin, admin.ModelAdmin):
    """The Audits queue and each audit's review page. Nobody adds, edits or deletes an audit here: it changes only
    through the services, by the buttons of its review page."""

    list_display = ("member", "certification_cycle", "status", "due", "progress", "how_text")
    list_display_links = ("member",)
    list_filter = (AuditStatusFilter, "certification__certification_type", HowFilter)
    search_fields = ("user__member_id",)  # shows the search box; _member_search does the search
    search_help_text = SEARCH_HELP
    list_per_page = 50
    show_full_result_count = False
    actions = None
    sortable_by = ("member", "due")

    class Media:
        css = {"all": ("css/audit-admin.css",)}


    def get_queryset(self, request):
        return audit_queue()

    def get_ordering(self, request):
        return ("deadline_on", "id")

    def get_search_results(self, request, queryset, search_term):
        return _member_search(queryset, search_term, user="user__", order="order_line__order__"), False

    # Columns: narrow enough for the queue to fit beside the admin's menu and filters at 1280 px.
    @admin.display(description="Member", ordering="user__last_name")
    def member(self, obj):
        return _member_cell(obj.user)

    @admin.display(description="Certification, cycle")
    def certification_cycle(self, obj):
        return format_html('{} <span class="audit-quiet audit-line">{}</span>',
                           obj.certification.certification_type.code, obj.cycle)

    @admin.display(description="State")
    def status(self, obj):
        return format_html('<span class="audit-state audit-state-{}">{}</span>', obj.state, SHORT_STATES[obj.state])

    @admin.display(description="Due", ordering="deadline_on")
    def due(self, obj):
        if is_overdue(obj, obj.deadline_on):
            return format_html('<span class="audit-overdue">Overdue</span> <span class="audit-line">{}</span>',
                               format_date(obj.deadline_on))
        if obj.extended_due_on:
            return format_html('{} <span class="audit-quiet audit-line">more time</span>', format_date(obj.deadline_on))
        return format_date(obj.deadline_on)

    @admin.display(description="Progress")
    def progress(self, obj):
        return f"{obj.documented} of {obj.still_in} documented"

    @admin.display(description="Selected by")
    def how_text(self, obj):
        return "Draw" if obj.how == Audit.How.DRAW else "Staff"

    def changelist_view(self, request, extra_context=None):
        extra = {"renewals_url": reverse("admin:audits_renewalforaudit_changelist"), "title": "Audits"}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    # The review page and its buttons
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/change/", view(self.review_view), name="audits_audit_change"),
            path("<int:audit_id>/decide/<str:action>/", view(self.decide_view), name="audits_audit_decide"),
            path("<int:audit_id>/credits/<int:credit_id>/<str:action>/", view(self.credit_view),
                 name="audits_audit_credit"),
            path("proofs/<uuid:key>/preview/", view(self.proof_preview_view), name="audits_audit_proof_preview"),
            path("proofs/<uuid:key>/download/", view(self.proof_download_view), name="audits_audit_proof_download"),
            *(url for url in super().get_urls() if url.name != "audits_audit_change"),  # the review page instead
        ]

    def _check(self, request) -> None:
        if not self.has_review_permission(request):
            raise PermissionDenied

    def review_view(self, request, object_id: str):
        self._check(request)
        if not object_id.isdigit():
            raise Http404("No such audit.")
        return self._review_page(request, int(object_id))

    def _review_page(self, request, audit_id: int, *, kept: dict | None = None):
        audit = (
            Audit.objects.select_related("user", "certification__certification_type", "cycle", "order_line__order",
                                         "selected_by", "decided_by")
            .prefetch_related(Prefetch("credits", queryset=AuditCredit.objects.select_related("reviewed_by")
                                       .prefetch_related("proofs")))
            .filter(pk=audit_id).first()
        )
        if audit is None:
            raise Http404("No such audit.")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Audit of {_label(audit)}",
            "subtitle": None,
            "review": _review(audit, kept=kept or {}),
            "audit": audit,
        }
        return TemplateResponse(request, "admin/audits/audit/review.html", context)

    def _posted(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._check(request)
        return None

    def decide_view(self, request, audit_id: int, action: str):
        """One decision on the whole audit (``DECISIONS``), under the audit's row lock."""
        if refused := self._posted(request):
            return refused
        decision = DECISIONS.get(action)
        if decision is None:
            raise Http404("No such decision.")
        typed = {"reason": request.POST.get("reason", ""), "days": request.POST.get("days", "")}
        try:
            with transaction.atomic():
                audit = Audit.objects.select_for_update(of=("self",)).filter(pk=audit_id).first()
                if audit is None:
                    raise Http404("No such audit.")
                already = audit.state == decision.to
                if not already:
                    decision.call(audit=audit, by=request.user, **typed)
        except AuditError as exc:
            messages.error(request, exc.message)
            return self._review_page(request, audit_id, kept={"action": action, **typed})
        audit = Audit.objects.select_related("user", "certification__certification_type", "decided_by").get(
            pk=audit_id)
        if already:
            messages.info(request, f"This audit was already {decision.done}{_by(audit, decision.to)}; nothing "
                                   "changed.")
        else:
            messages.success(request, decision.told(audit))
        return HttpResponseRedirect(_review_url(audit_id))

    def credit_view(self, request, audit_id: int, credit_id: int, action: str):
        """Accept or reject one credit (``audit_credit_review``), under the audit's row lock; then on to the next
        credit still to be decided."""
        if refused := self._posted(request):
            return refused
        if action not in ("accept", "reject"):
            raise Http404("No such decision.")
        accept = action == "accept"
        reason = request.POST.get("reason", "")
        try:
            with transaction.atomic():
                if not Audit.objects.select_for_update().filter(pk=audit_id).exists():
                    raise Http404("No such audit.")
                credit = (AuditCredit.objects.select_related("reviewed_by")
                          .filter(pk=credit_id, audit_id=audit_id).first())
                if credit is None:
                    raise Http404("No such credit in this audit.")
                to = Credit.ACCEPTED if accept else Credit.REJECTED
                already = credit.state == to
                if not already:
                    credit = audit_credit_review(credit_id=credit.pk, by=request.user, accept=accept, reason=reason)
        except AuditError as exc:
            messages.error(request, f"“{_course(credit_id)}”: {exc.message}")
            return self._review_page(request, audit_id, kept={"action": f"credit-{credit_id}", "reason": reason})
        course = f"“{credit.course_name}” ({cec_rules.format_cecs(credit.cecs)} CECs)"
        if already:
            who = f" by {_name(credit.reviewed_by)}" if credit.reviewed_by else ""
            messages.info(request, f"{course} was already {'accepted' if accept else 'rejected'}{who}; nothing "
                                   "changed.")
        elif accept:
            messages.success(request, f"Accepted {course}.")
        else:
            messages.success(request, f"Rejected {course}: {credit.reason}")
        following = (AuditCredit.objects.filter(audit_id=audit_id, state=Credit.DOCUMENTED)
                     .order_by("replacement", "date_earned", "id").values_list("pk", flat=True).first())
        return HttpResponseRedirect(_review_url(audit_id, f"#credit-{following}" if following else "#decision"))

    def _proof(self, request, key) -> AuditProof:
        self._check(request)
        proof = AuditProof.objects.filter(key=key).first()
        if proof is None:
            raise Http404("No such file.")
        return proof

    def proof_preview_view(self, request, key):
        proof = self._proof(request, key)
        try:
            page = int(request.GET.get("page", "1"))
        except ValueError:
            raise Http404("No such page.") from None
        preview = previews.stored_preview(stored=proof, page=page, folder=PREVIEW_FOLDER)
        if preview is None:
            raise Http404("No preview for this page; download the file instead.")
        data, content_type = preview
        return file_response(proof, as_attachment=False, content=io.BytesIO(data), content_type=content_type,
                             filename=f"preview-{proof.key.hex}-page{page}.{content_type.split('/')[1]}")

    def proof_download_view(self, request, key):
        return file_response(self._proof(request, key), as_attachment=True)


def _review_url(audit_id: int, anchor: str = "") -> str:
    return reverse("admin:audits_audit_change", args=[audit_id]) + anchor


def _course(credit_id: int) -> str:
    return AuditCredit.objects.filter(pk=credit_id).values_list("course_name", flat=True).first() or "This credit"


def _by(audit: Audit, state: str) -> str:
    """" by Pat Lee on 5/3/Y": who took the audit to ``state`` (a decision), for "already passed" messages."""
    if state == State.EXTENDED or audit.decided_by is None:
        return ""
    at = timezone.localtime(audit.decided_at)
    return f" by {_name(audit.decided_by)} on {format_date(at)} {at:%-I:%M %p}"


# ---------------------------------------------------------------- decisions on the whole audit

def _days(days: str) -> int | None:
    days = days.strip()
    if not days:
        return None
    if not days.isdigit():
        raise AuditError(f"Give the number of days as a whole number from 1 to 365 (not “{days}”).", field="days")
    return int(days)


@dataclass(frozen=True)
class Decision:
    to: str  # the state it takes the audit to
    done: str  # "passed": "This audit was already passed"
    call: Callable  # (audit=, by=, reason=, days=) -> the service's answer
    told: Callable[[Audit], str]  # the success message


DECISIONS = {
    "pass": Decision(
        State.PASSED, "passed",
        lambda audit, by, reason, days: audit_pass(audit_id=audit.pk, by=by),
        lambda audit: f"Passed the audit of {_label(audit)}; the certificant is emailed.",
    ),
    "fail": Decision(
        State.FAILED, "failed",
        lambda audit, by, reason, days: audit_fail(audit_id=audit.pk, by=by, reason=reason),
        lambda audit: f"Failed the audit of {_label(audit)}: the certification is suspended and the certificant "
                      "emailed.",
    ),
    "extend": Decision(
        State.EXTENDED, "given more time",
        lambda audit, by, reason, days: audit_extend(audit_id=audit.pk, by=by, days=_days(days), reason=reason),
        lambda audit: f"Gave {_label(audit)} until {clock.deadline_text(audit.deadline, audit.user)} to report "
                      "replacement credits; the certificant is emailed.",
    ),
    "cancel": Decision(
        State.CANCELED, "canceled",
        lambda audit, by, reason, days: audit_cancel(audit_id=audit.pk, by=by, reason=reason),
        lambda audit: f"Canceled the audit of {_label(audit)}; the certificant is emailed.",
    ),
    "reinstate": Decision(
        State.REINSTATED, "reinstated",
        lambda audit, by, reason, days: audit_reinstate(audit_id=audit.pk, by=by, reason=reason),
        lambda audit: (f"Reinstated {_label(audit)}: "
                       + ("the certification is still suspended by another failed audit"
                          if audit.certification.is_suspended else "the suspension is lifted")
                       + "; the certificant is emailed."),
    ),
}


# ---------------------------------------------------------------- what the review page shows

@dataclass
class Page:
    number: int
    url: str


@dataclass
class ProofView:
    proof: AuditProof
    kind: str  # "PDF, 3 pages", "JPEG image"
    pages: list[Page]
    download_url: str
    warning: str  # what a PDF kept from before such PDFs were refused can do, or ""


@dataclass
class CreditView:
    credit: AuditCredit
    format_label: str
    source_label: str
    proofs: list[ProofView]
    can_accept: bool
    can_reject: bool
    reason: str = ""  # the reject reason typed, kept after a refusal
    refused: bool = False


@dataclass
class LogLine:
    at: object
    who: str
    move: str
    note: str


@dataclass
class ReviewPage:
    audit: Audit
    deadline_text: str
    overdue: bool
    days_left: int
    progress: rules.Progress
    verdict: rules.Verdict
    credits: list[CreditView]
    unreviewed: int  # credits with proof not yet accepted or rejected
    log: list[LogLine]
    actions: dict[str, bool]  # decision -> offered
    pass_blocked: str  # why Pass is disabled, or ""
    fail_blocked: str
    extension_days: int
    next_url: str | None
    kept: dict = field(default_factory=dict)

    @property
    def decided(self) -> bool:
        return not self.audit.is_open

    @property
    def offered(self) -> bool:
        return any(self.actions.values())

    @property
    def outcome(self) -> str:
        """What came of a decided audit, in a sentence."""
        return {
            State.PASSED: "This audit passed.",
            State.FAILED: "This audit failed: the certification is suspended until staff reinstate it (below).",
            State.CANCELED: "This audit was canceled.",
            State.REINSTATED: "This audit failed; the certification was reinstated since.",
        }.get(self.audit.state, "")


def _proof_view(proof: AuditProof) -> ProofView:
    facts = previews.stored_facts(stored=proof)
    pages = max(facts.pages, 1)
    url = reverse("admin:audits_audit_proof_preview", args=[proof.key])
    kind = f"PDF, {pages} page{'s' if pages != 1 else ''}" if proof.content_type == PDF else \
        KIND_NAMES.get(proof.content_type, "PNG image")
    return ProofView(
        proof=proof, kind=kind, pages=[Page(n, f"{url}?page={n}") for n in range(1, pages + 1)],
        download_url=reverse("admin:audits_audit_proof_download", args=[proof.key]),
        warning=ACTIVE_CONTENT_REFUSALS[facts.active_content] if facts.active_content else "",
    )


def _actor_names(entries: list[AuditLog]) -> dict[str, str]:
    """Each log actor ("staff:3", "user:12", "draw", "scheduler") as a person reads it (one query for the names)."""
    from django.contrib.auth import get_user_model

    ids = {int(a.split(":", 1)[1]) for a in (e.actor for e in entries)
           if a.startswith(("staff:", "user:")) and a.split(":", 1)[1].isdigit()}
    people = {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)}
    names = {"draw": "Random draw", "scheduler": "Scheduler", "test": "Test"}
    for entry in entries:
        kind, _, pk = entry.actor.partition(":")
        person = people.get(int(pk)) if pk.isdigit() else None
        if person is not None:
            names[entry.actor] = f"{_name(person)} ({'staff' if kind == 'staff' else 'certificant'})"
    return names


def _log(audit: Audit) -> list[LogLine]:
    entries = list(audit.log.all())
    names = _actor_names(entries)
    labels = dict(State.choices)
    lines = []
    for entry in entries:
        if not entry.from_state:
            move = f"Opened: {labels.get(entry.to_state, entry.to_state)}"
        elif entry.from_state == entry.to_state:
            move = ""  # a step within the state: the note says what
        else:
            move = f"{labels.get(entry.from_state, entry.from_state)} → {labels.get(entry.to_state, entry.to_state)}"
        lines.append(LogLine(at=timezone.localtime(entry.at), who=names.get(entry.actor, entry.actor), move=move,
                             note=entry.note))
    return lines


def _next_url(audit: Audit) -> str | None:
    """The next audit waiting for review in queue order (due soonest first), other than ``audit``."""
    following = (audit_queue().filter(state=State.SUBMITTED).exclude(pk=audit.pk)
                 .values_list("pk", flat=True).first())
    return _review_url(following) if following else None


def _review(audit: Audit, *, kept: dict) -> ReviewPage:
    state = audit.state
    reviewing = state == State.SUBMITTED
    credits = []
    for credit in audit.credits.all():
        refused = kept.get("action") == f"credit-{credit.pk}"
        credits.append(CreditView(
            credit=credit, format_label=FORMAT_LABELS.get(credit.format, credit.format),
            source_label=SOURCE_LABELS.get(credit.source, credit.source),
            proofs=[_proof_view(p) for p in credit.proofs.all()],
            can_accept=reviewing and credit.state in (Credit.DOCUMENTED, Credit.REJECTED),
            can_reject=reviewing and credit.state in (Credit.DOCUMENTED, Credit.ACCEPTED, Credit.VERIFIED),
            reason=kept.get("reason", "") if refused else "", refused=refused,
        ))
    verdict = audit_verdict(audit)
    today = clock.today_for(audit.user)
    overdue = is_overdue(audit)
    unreviewed = sum(c.credit.state == Credit.DOCUMENTED for c in credits) if reviewing else 0
    pass_blocked = ""
    if reviewing and not verdict.can_pass:
        pass_blocked = (f"Cannot pass yet: {verdict.label}; {cec_rules.format_cecs(verdict.short)} more are needed."
                        + (f" {unreviewed} credit{'s' if unreviewed != 1 else ''} still to review." if unreviewed
                           else " Give more time to report replacement credits, or fail the audit."))
    fail_blocked = ""
    if state in rules.ANSWERING_STATES and not overdue:
        fail_blocked = (f"The certificant has until {clock.deadline_text(audit.deadline, audit.user)} to submit; "
                        "fail the audit after that, or cancel it.")
    actions = {
        "pass": reviewing,
        "fail": state in rules.OPEN_STATES,
        "extend": state in (State.SELECTED, State.SUBMITTED),
        "cancel": state in rules.OPEN_STATES,
        "reinstate": state == State.FAILED,
    }
    progress = rules.progress(c.credit.state for c in credits)
    return ReviewPage(
        audit=audit, deadline_text=clock.deadline_text(audit.deadline, audit.user), overdue=overdue,
        days_left=rules.days_left(deadline=audit.deadline, today=today), progress=progress, verdict=verdict,
        credits=credits, unreviewed=unreviewed, log=_log(audit), actions=actions, pass_blocked=pass_blocked,
        fail_blocked=fail_blocked, extension_days=audit_policy().extension_days, next_url=_next_url(audit),
        kept=kept,
    )


# ---------------------------------------------------------------- paid renewals, selected by hand

class AuditedFilter(admin.SimpleListFilter):
    title = "audit"
    parameter_name = "audited"

    def lookups(self, request, model_admin):
        return [("no", "Not audited"), ("yes", "Audited")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(audit__isnull=True)
        if self.value() == "yes":
            return queryset.filter(audit__isnull=False)
        return queryset


@admin.register(RenewalForAudit)
class RenewalForAuditAdmin(ReviewersOnlyMixin, admin.ModelAdmin):
    """Paid renewals still standing, newest payment first, with their draw and audit: tick any and run **Select for
    audit** (``audit_select_by_staff``); a renewal is audited at most once."""

    list_display = ("order_number", "member", "certification_cycle", "draw", "audit_link")
    list_display_links = None
    list_filter = (AuditedFilter, "certification__certification_type")
    search_fields = ("order__number",)  # shows the search box; _member_search does the search
    search_help_text = SEARCH_HELP
    ordering = ("-order__paid_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    sortable_by = ()
    actions = ["select_for_audit"]

    class Media:
        css = {"all": ("css/audit-admin.css",)}


    def get_queryset(self, request):
        from certifications.models import Cycle

        return (
            RenewalForAudit.objects.filter(kind=OrderLine.Kind.RENEWAL, order__state=Order.State.PAID,
                                           renewed_cycle__isnull=False)
            .exclude(renewed_cycle__state=Cycle.State.UNDONE)
            .select_related("order__user", "certification__certification_type", "cycle", "audit", "audit_draw")
        )

    def get_search_results(self, request, queryset, search_term):
        return _member_search(queryset, search_term, user="order__user__", order="order__"), False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:audits_renewalforaudit_changelist"))

    def changelist_view(self, request, extra_context=None):
        extra = {"title": "Paid renewals: tick any and choose “Select for audit”"}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    @admin.display(description="Order, paid")
    def order_number(self, obj):
        paid = format_date(timezone.localtime(obj.order.paid_at)) if obj.order.paid_at else EMPTY
        return format_html('{} <span class="audit-quiet audit-line">{}</span>', obj.order.number, paid)

    @admin.display(description="Member")
    def member(self, obj):
        return _member_cell(obj.order.user)

    @admin.display(description="Certification, cycle renewed")
    def certification_cycle(self, obj):
        return format_html('{} <span class="audit-quiet audit-line">{}</span>',
                           obj.certification.certification_type.code, obj.cycle)

    @admin.display(description="Draw")
    def draw(self, obj):
        drawn = getattr(obj, "audit_draw", None)
        if drawn is None:
            return "Not drawn yet"
        return format_html('{} <span class="audit-quiet audit-line">roll {} {} rate {}</span>',
                           "Selected" if drawn.selected else "Not selected", drawn.roll,
                           "<" if drawn.selected else "≥", drawn.rate)

    @admin.display(description="Audit")
    def audit_link(self, obj):
        audit = getattr(obj, "audit", None)
        if audit is None:
            return EMPTY
        return format_html('<a href="{}">{}</a>', _review_url(audit.pk), SHORT_STATES[audit.state])

    @admin.action(description="Select for audit", permissions=["review"])
    def select_for_audit(self, request, queryset):
        for line in queryset:
            user = line.order.user
            label = (f"{_name(user)} ({user.member_id}, {line.certification.certification_type.code}, order "
                     f"{line.order.number})")
            try:
                audit, selected = audit_select_by_staff(order_line_id=line.pk, by=request.user)
            except AuditError as exc:
                self.message_user(request, f"{label}: {exc.message}", messages.ERROR)
                continue
            if selected:
                self.message_user(request, format_html(
                    'Selected {} for audit: documents due {}; the certificant is emailed. <a href="{}">Open the '
                    "audit</a>", label, clock.deadline_text(audit.due_on, user), _review_url(audit.pk)),
                    messages.SUCCESS)
            else:
                self.message_user(request, format_html(
                    '{} was already audited (<a href="{}">{}</a>); a renewal is audited at most once.', label,
                    _review_url(audit.pk), audit.get_state_display().lower()), messages.WARNING)


# ---------------------------------------------------------------- the policy

@admin.register(AuditPolicy)
class AuditPolicyAdmin(FiniteDecimalAdminMixin, admin.ModelAdmin):
    """The one policy row: the list goes straight to it; it is never added or deleted, only changed through
    ``audit_policy_update``."""

    fields = ("rate", "days_to_answer", "extension_days", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_object(self, request, object_id, from_field=None):
        audit_policy()  # the row exists from the first look on
        return super().get_object(request, object_id, from_field)

    def changelist_view(self, request, extra_context=None):
        policy = audit_policy()
        return HttpResponseRedirect(reverse("admin:audits_auditpolicy_change", args=[policy.pk]))

    def save_model(self, request, obj, form, change):
        """Saved through ``audit_policy_update`` (the form's field validators have checked the values)."""
        try:
            audit_policy_update(by=request.user, rate=obj.rate, days_to_answer=obj.days_to_answer,
                                extension_days=obj.extension_days)
        except AuditError as exc:
            messages.error(request, exc.message)
            return
        messages.info(request, "Draws from now on use this policy; audits already begun keep their due dates.")
