"""The certificant's audit page: every credit of the audit with its proof, Upload proof per credit, Remove, a note
and Submit for review; in a second window, replacement credits added and taken out. Proof files download to their
owner (and reviewing staff) only.

Each action is a plain form posting to its own address, which calls one service and comes back to the page
(static/js/audit-upload.js adds an upload's progress). A refused action shows the page again with the reason where
it happened (status 400); another person's audit, credit or proof answers 404.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from acsm_portal import clock, uploads
from acsm_portal.files import capped_uploads, file_response
from acsm_portal.formats import format_date, format_range
from cecs.models import CreditFormat
from cecs.rules import format_cecs

from . import rules
from .forms import ProofForm, ReplacementForm, SubmitForm
from .models import Audit, AuditCredit
from .selectors import audit_for, audit_progress, audit_verdict, proof_for, replacement_choices
from .services import (
    AuditError, AuditNotFound, audit_proof_add, audit_proof_remove, audit_replacement_add, audit_replacement_remove,
    audit_submit,
)

FORMAT_LABELS = dict(CreditFormat.choices)
Credit = AuditCredit.State


@dataclass(frozen=True)
class CreditRow:
    """One credit as the page shows it."""

    credit: AuditCredit
    earned: str
    cecs: str
    format_label: str
    can_upload: bool  # Upload proof is offered
    can_remove_proof: bool
    can_take_out: bool  # a replacement that may be taken back out
    error: str  # why the last upload for it was refused

    @property
    def status_label(self) -> str:
        return {
            Credit.NEEDED: "Proof needed",
            Credit.DOCUMENTED: "Proof uploaded",
            Credit.VERIFIED: "Verified",
            Credit.ACCEPTED: "Accepted",
            Credit.REJECTED: "Rejected",
        }[self.credit.state]

    @property
    def verified_note(self) -> str:
        if self.credit.state != Credit.VERIFIED:
            return ""
        who = "staff" if self.credit.source == "staff" else "its provider"
        return f"Reported by {who}; no proof needed."


def _own_audit(request, audit_id: int) -> Audit:
    audit = audit_for(user=request.user, audit_id=audit_id)
    if audit is None:
        raise Http404("No such audit.")
    return audit


def _page(request, audit: Audit, *, status: int = 200, upload_errors: dict[int, str] | None = None,
          submit_form: SubmitForm | None = None, error: str = ""):
    """The audit page for ``audit`` (loaded by ``audit_for``), with the reason an action was refused where it
    happened: ``upload_errors`` by credit id, the submit form's own errors, or ``error`` at the top."""
    user = request.user
    today = clock.today_for(user)
    answering = audit.state in rules.ANSWERING_STATES and not rules.is_overdue(deadline=audit.deadline, today=today)
    extended = audit.state == Audit.State.EXTENDED
    upload_errors = upload_errors or {}
    rows = []
    for credit in audit.credits.all():
        open_for_proof = answering and credit.state in (Credit.NEEDED, Credit.DOCUMENTED)
        rows.append(CreditRow(
            credit=credit, earned=format_date(credit.date_earned), cecs=format_cecs(credit.cecs),
            format_label=FORMAT_LABELS.get(credit.format, credit.format),
            can_upload=open_for_proof and len(credit.proofs.all()) < uploads.MAX_FILES,
            can_remove_proof=open_for_proof,
            can_take_out=answering and extended and credit.replacement
            and credit.state not in (Credit.ACCEPTED, Credit.REJECTED),
            error=upload_errors.get(credit.pk, ""),
        ))
    progress = audit_progress(audit)
    needed = sum(1 for row in rows if row.credit.state == Credit.NEEDED)
    verdict = audit_verdict(audit) if extended else None
    # In a second window: CECs still short once the replacements added so far are accepted (caps aside; a hint).
    added = sum((c.cecs for c in audit.credits.all()
                 if c.replacement and c.state in (Credit.NEEDED, Credit.DOCUMENTED)), Decimal("0"))
    to_replace = max(verdict.short - added, Decimal("0")) if verdict else Decimal("0")
    return render(request, "audits/audit.html", {
        "audit": audit,
        "certification": audit.certification.certification_type,
        "cycle_label": format_range(audit.cycle.start, audit.cycle.end),
        "deadline_text": clock.deadline_text(audit.deadline, user),
        "days_left": rules.days_left(deadline=audit.deadline, today=today),
        "answering": answering,
        "extended": extended,
        "rows": rows,
        "progress": progress,
        "needed": needed,
        "verdict": verdict,
        "verdict_short": format_cecs(verdict.short) if verdict else "",
        "to_replace": format_cecs(to_replace) if to_replace else "",
        "choices": [(entry, format_date(entry.date_earned), format_cecs(entry.cecs),
                     FORMAT_LABELS.get(entry.format, entry.format))
                    for entry in replacement_choices(audit)] if answering and extended else [],
        "submit_form": submit_form or SubmitForm(initial={"note": audit.note}),
        "accept": uploads.ACCEPT,
        "max_files": uploads.MAX_FILES,
        "error": error,
    }, status=status)


def _back(audit_id: int):
    return redirect("audit", audit_id=audit_id)


def _wants_json(request) -> bool:
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


@never_cache
@require_GET
def audit_page(request, audit_id: int):
    """The person's own audit (another person's answers 404)."""
    return _page(request, _own_audit(request, audit_id))


@never_cache
@require_POST
@capped_uploads
def proof_upload(request, audit_id: int, credit_id: int):
    """Upload proof: one file for one credit of the person's own audit. The page's script asks for JSON (to show
    progress) and gets ``{"redirect": ...}`` (201) or ``{"error": ...}`` (400); a plain form post comes back to the
    page, or shows it again with the reason under the credit."""
    form = ProofForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            stored = audit_proof_add(audit_id=audit_id, credit_id=credit_id, user=request.user, name=upload.name,
                                     data=upload.read())
        except AuditNotFound:
            raise Http404("No such audit.") from None
        except AuditError as exc:
            refused = exc.message
        else:
            messages.success(request, f"Uploaded “{stored.original_name}” for “{stored.credit.course_name}”.")
            url = f"{reverse('audit', args=[audit_id])}#credit-{credit_id}"
            return JsonResponse({"redirect": url}, status=201) if _wants_json(request) else redirect(url)
    else:
        refused = form.errors["file"][0]
    audit = _own_audit(request, audit_id)
    if _wants_json(request):
        return JsonResponse({"error": refused}, status=400)
    return _page(request, audit, status=400, upload_errors={credit_id: refused})


@require_POST
def proof_remove(request, audit_id: int, proof_id: int):
    """Remove one file of proof from the person's own audit."""
    try:
        credit = audit_proof_remove(audit_id=audit_id, proof_id=proof_id, user=request.user)
    except AuditNotFound:
        raise Http404("No such file of proof.") from None
    except AuditError as exc:
        return _page(request, _own_audit(request, audit_id), status=400, error=exc.message)
    messages.info(request, f"Removed the file from “{credit.course_name}”.")
    return redirect(f"{reverse('audit', args=[audit_id])}#credit-{credit.pk}")


@require_GET
def proof_download(request, key):
    """A file of proof, to its owner or a reviewer only; anyone else gets 404."""
    found = proof_for(user=request.user, key=key)
    if found is None:
        raise Http404("No such file.")
    return file_response(found, as_attachment=True)


@require_POST
def submit(request, audit_id: int):
    """Submit for review, with the note; refused (the note kept) while a credit still needs proof."""
    form = SubmitForm(request.POST)
    if form.is_valid():
        try:
            audit_submit(audit_id=audit_id, user=request.user, note=form.cleaned_data["note"])
        except AuditNotFound:
            raise Http404("No such audit.") from None
        except AuditError as exc:
            form.add_error("note" if exc.field == "note" else None, exc.message)
        else:
            messages.success(request, "Your audit documents are submitted for review. We will email you when the "
                                      "review is done.")
            return redirect("dashboard")
    return _page(request, _own_audit(request, audit_id), status=400, submit_form=form)


@require_POST
def replacement_add(request, audit_id: int):
    """Add one of the person's credits as a replacement, in a second window."""
    form = ReplacementForm(request.POST)
    try:
        if not form.is_valid():
            raise AuditError("Pick a credit to add.", field="cec_entry")
        credit = audit_replacement_add(audit_id=audit_id, user=request.user,
                                       cec_entry_id=form.cleaned_data["cec_entry"])
    except AuditNotFound:
        raise Http404("No such credit.") from None
    except AuditError as exc:
        return _page(request, _own_audit(request, audit_id), status=400, error=exc.message)
    messages.success(request, f"Added “{credit.course_name}” to your audit."
                     + (" Upload proof for it below." if credit.state == Credit.NEEDED else ""))
    return redirect(f"{reverse('audit', args=[audit_id])}#credit-{credit.pk}")


@require_POST
def replacement_remove(request, audit_id: int, credit_id: int):
    """Take a replacement credit back out of the audit, in a second window."""
    try:
        audit_replacement_remove(audit_id=audit_id, credit_id=credit_id, user=request.user)
    except AuditNotFound:
        raise Http404("No such credit.") from None
    except AuditError as exc:
        return _page(request, _own_audit(request, audit_id), status=400, error=exc.message)
    messages.info(request, "Took the credit out of your audit.")
    return redirect(f"{reverse('audit', args=[audit_id])}#replacements")
