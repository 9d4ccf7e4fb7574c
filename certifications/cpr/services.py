"""State changes for CPR/AED cards: uploads and their review.

A certificant's files collect in one draft per certification until Submit; a
submitted card is pending until staff approve or reject it. Every move goes
through ``_cpr_transition``, which locks the row, treats a repeat as a no-op and
refuses an illegal move.
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse

from acsm_portal import clock, jobs, previews, uploads
from acsm_portal.errors import ServiceError

from ..models import Certification, CprUpload, CprUploadFile, Cycle
from ..tasks import send_cpr_decision_email

log = logging.getLogger(__name__)

REVIEW_PERMISSION = "certifications.can_review_cpr"
MAX_CARD_YEARS = 5
MAX_REASON_LENGTH = 500

State = CprUpload.State
TRANSITIONS: dict[str, set[str]] = {
    State.DRAFT: {State.PENDING},
    State.PENDING: {State.APPROVED, State.REJECTED},
}


class CprError(ServiceError):
    """A refused CPR card action."""


@dataclass(frozen=True)
class CardDetails:
    card_type: str
    issuing_organization: str
    expires_on: date
    skills_check_confirmed: bool


def _open_cycle(certification: Certification) -> Cycle:
    cycle = Cycle.objects.filter(certification=certification, state=Cycle.State.OPEN).first()
    if cycle is None:
        raise CprError("This certification has no open cycle; please contact the certification department.")
    return cycle


def _draft_locked(*, certification: Certification, create: bool) -> CprUpload | None:
    """The certification's draft, locked for this transaction; created first if asked and missing."""
    draft = CprUpload.objects.select_for_update().filter(certification=certification, state=State.DRAFT).first()
    if draft is None and create:
        try:
            with transaction.atomic():
                CprUpload.objects.create(certification=certification, cycle=_open_cycle(certification))
        except IntegrityError:
            pass  # another request created it a moment ago
        draft = CprUpload.objects.select_for_update().get(certification=certification, state=State.DRAFT)
    return draft


def _owned(*, certification: Certification, user) -> None:
    if certification.user_id != user.pk:
        raise CprError("This certification belongs to someone else.")


def cpr_upload_add_file(*, certification: Certification, user, name: str, data: bytes) -> CprUploadFile:
    """Check one file by its content and add it to the certification's draft (created if needed)."""
    _owned(certification=certification, user=user)
    try:
        checked = uploads.check_file(name=name, data=data)
    except uploads.UploadRefused as exc:
        raise CprError(exc.message, field="files") from None
    with transaction.atomic():
        draft = _draft_locked(certification=certification, create=True)
        names = list(draft.files.values_list("sha256", "original_name"))
        same = [shown for sha, shown in names if sha == checked.sha256]
        if same:
            raise CprError(f"“{checked.name}” is already uploaded (as “{same[0]}”).", field="files")
        if len(names) >= uploads.MAX_FILES:
            raise CprError(
                f"A CPR card upload holds at most {uploads.MAX_FILES} files; “{checked.name}” was not added. "
                "Use Remove All to start again.",
                field="files",
            )
        stored = CprUploadFile(
            upload=draft, original_name=checked.name, content_type=checked.content_type,
            size=checked.size, sha256=checked.sha256,
        )
        stored.file.save("upload", ContentFile(checked.data), save=False)
        try:
            stored.save()
        except Exception:
            default_storage.delete(stored.file.name)
            raise
    return stored


def cpr_upload_discard(*, certification: Certification, user) -> int:
    """Remove All: delete the draft and its files. Returns how many files were removed."""
    _owned(certification=certification, user=user)
    with transaction.atomic():
        draft = _draft_locked(certification=certification, create=False)
        if draft is None:
            return 0
        names = list(draft.files.values_list("file", flat=True))
        draft.delete()
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names])
    return len(names)


def _check_details(*, details: CardDetails, today: date, user) -> None:
    if details.card_type not in CprUpload.CardType.values:
        raise CprError("Choose the card type from the list.", field="card_type")
    if not details.issuing_organization.strip():
        raise CprError("Enter the organization that issued the card.", field="issuing_organization")
    if details.expires_on < today:
        raise CprError(
            f"This card expired on {details.expires_on:%-m/%-d/%Y}; upload a current CPR/AED card "
            f"(today is {today:%-m/%-d/%Y}, {clock.zone_label_for(user)}).",
            field="expires_on",
        )
    if details.expires_on.year > today.year + MAX_CARD_YEARS:
        raise CprError(
            f"CPR/AED cards are valid for a few years at most; check the expiry date "
            f"({details.expires_on:%-m/%-d/%Y}).",
            field="expires_on",
        )
    if not details.skills_check_confirmed:
        raise CprError(
            "Only courses with a hands-on skills check are accepted; confirm that yours had one.",
            field="skills_check_confirmed",
        )


def cpr_upload_submit(*, certification: Certification, user, details: CardDetails, today: date) -> CprUpload:
    """Submit the draft with the card's details; it then waits for staff review."""
    _owned(certification=certification, user=user)
    _check_details(details=details, today=today, user=user)
    with transaction.atomic():
        draft = _draft_locked(certification=certification, create=False)
        if draft is None or not draft.files.exists():
            raise CprError("Upload at least one file of your card (front, and back if it has one) before you submit.",
                           field="files")
        draft.cycle = _open_cycle(certification)
        draft.card_type = details.card_type
        draft.issuing_organization = " ".join(details.issuing_organization.split())
        draft.expires_on = details.expires_on
        draft.skills_check_confirmed = details.skills_check_confirmed
        draft.save(update_fields=["cycle", "card_type", "issuing_organization", "expires_on",
                                  "skills_check_confirmed"])
        upload, _ = _cpr_transition(upload_id=draft.pk, to=State.PENDING, by=user)
    return upload


def _check_reviewer(reviewer) -> None:
    if not reviewer.is_active or not reviewer.is_staff or not reviewer.has_perm(REVIEW_PERMISSION):
        raise CprError("You need the “Can review CPR cards” permission to review CPR cards.")


def cpr_upload_approve(*, upload: CprUpload, reviewer) -> tuple[CprUpload, bool]:
    """Approve a pending card. Returns the upload and whether this call changed it (a repeat does not)."""
    _check_reviewer(reviewer)
    return _cpr_transition(upload_id=upload.pk, to=State.APPROVED, by=reviewer)


def cpr_upload_reject(*, upload: CprUpload, reviewer, reason: str) -> tuple[CprUpload, bool]:
    """Reject a pending card with a reason the certificant will read. A repeat is a no-op."""
    _check_reviewer(reviewer)
    reason = reason.strip()
    if not reason:
        raise CprError("Give the reason for the rejection; the certificant reads it.", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise CprError(f"Keep the reason under {MAX_REASON_LENGTH} characters (it has {len(reason)}).",
                       field="reason")
    return _cpr_transition(upload_id=upload.pk, to=State.REJECTED, by=reviewer, reason=reason)


_VERBS = {State.PENDING: "submitted", State.APPROVED: "approved", State.REJECTED: "rejected"}


def _cpr_transition(*, upload_id: int, to: str, by, reason: str = "") -> tuple[CprUpload, bool]:
    with transaction.atomic():
        upload = CprUpload.objects.select_for_update().get(pk=upload_id)
        if upload.state == to:
            return upload, False
        if to not in TRANSITIONS.get(upload.state, set()):
            raise CprError(
                f"This CPR card is {upload.get_state_display().lower()}; it cannot be {_VERBS[to]} now."
            )
        now = clock.now()
        upload.state = to
        if to == State.PENDING:
            upload.submitted_at = now
        else:
            upload.reviewed_at = now
            upload.reviewed_by = by
            upload.rejection_reason = reason
            jobs.queue_after_commit(send_cpr_decision_email, upload.pk)
        upload.save(update_fields=["state", "submitted_at", "reviewed_at", "reviewed_by", "rejection_reason"])
    return upload, True


def cpr_file_preview(*, stored: CprUploadFile, page: int = 1) -> tuple[bytes, str] | None:
    """An image staff can look at inline: ``(bytes, content type)`` of the image itself, or of page ``page`` (from 1)
    of a PDF, rendered once and kept under ``cpr-previews/`` (``acsm_portal.previews.stored_preview``). None when
    there is no such page or it cannot be rendered."""
    return previews.stored_preview(stored=stored, page=page, folder="cpr-previews")


# The decision email ----------------------------------------------------------



def cpr_decision_email_send(*, upload_id: int) -> str:
    """Tell the certificant that their CPR/AED card ``upload_id`` was approved or rejected, once.

    The card is claimed in a short transaction (``decision_email_claimed_at``), the email sent with no row lock
    held, then ``decision_emailed_at`` set. Returns what happened: ``"sent"``, ``"no such upload"``,
    ``"not decided (<state>)"``, ``"already sent"``, or ``"claimed"`` when another worker took it on less than
    ``jobs.CLAIM`` ago. When sending fails the claim is let go and the error (``OSError``,
    ``SMTPException``) raised, for the task to retry.
    """
    claimed_at = clock.now()
    with transaction.atomic():
        upload = (
            CprUpload.objects.select_for_update(of=("self",))
            .select_related("certification__user", "certification__certification_type")
            .filter(pk=upload_id)
            .first()
        )
        if upload is None:
            return "no such upload"
        if upload.state not in (State.APPROVED, State.REJECTED):
            return f"not decided ({upload.state})"
        if upload.decision_emailed_at is not None:
            return "already sent"
        if upload.decision_email_claimed_at is not None \
                and claimed_at - upload.decision_email_claimed_at < jobs.CLAIM:
            return "claimed"
        upload.decision_email_claimed_at = claimed_at
        upload.save(update_fields=["decision_email_claimed_at"])
    certification = upload.certification
    code = certification.certification_type.code
    context = {
        "user": certification.user,
        "upload": upload,
        "certification_name": certification.certification_type.name,
        "code": code,
        "dashboard_url": settings.PORTAL_BASE_URL + reverse("dashboard"),
        "maintenance_url": settings.PORTAL_BASE_URL + reverse("cpr_maintenance", args=[certification.pk]),
    }
    approved = upload.state == State.APPROVED
    try:
        send_mail(
            subject=(f"Your CPR/AED card for {code} is approved" if approved
                     else f"Your CPR/AED card for {code} was not accepted"),
            message=render_to_string(f"emails/cpr_{upload.state}.txt", context),
            from_email=None,
            recipient_list=[certification.user.email],
        )
    except Exception:
        CprUpload.objects.filter(pk=upload_id, decision_email_claimed_at=claimed_at).update(
            decision_email_claimed_at=None)
        raise
    CprUpload.objects.filter(pk=upload_id).update(decision_emailed_at=clock.now())
    return "sent"


def cpr_decision_emails_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again the decision email of every CPR/AED card approved or rejected more than ``after`` ago (and
    within ``jobs.SWEEP_WINDOW``) and not emailed, unless a worker took it on less than ``jobs.CLAIM`` ago.
    Returns the upload ids, oldest first."""
    decided = CprUpload.objects.filter(state__in=[State.APPROVED, State.REJECTED], decision_emailed_at__isnull=True)
    lost = list(jobs.unsent(decided, called_at="reviewed_at", claimed_at="decision_email_claimed_at", after=after)
                .values_list("pk", flat=True))
    for upload_id in lost:
        jobs.queue(send_cpr_decision_email, upload_id)
    return lost


# Housekeeping: abandoned drafts ----------------------------------------------

# Drafts locked, deleted and committed together by one transaction of ``cpr_drafts_abandoned_remove``.
ABANDONED_DRAFTS_BATCH = 200


def _abandoned_drafts(*, before):
    """Drafts created before ``before`` that have no file added since then: their last activity is older."""
    recent_file = CprUploadFile.objects.filter(upload=OuterRef("pk"), created_at__gte=before)
    return CprUpload.objects.filter(state=State.DRAFT, created_at__lt=before).exclude(Exists(recent_file))


def _stored_files_delete(names: list[str]) -> None:
    """Delete ``names`` from the storage, each on its own: one already gone (or that cannot be deleted, logged)
    does not keep the others."""
    for name in names:
        try:
            default_storage.delete(name)  # FileSystemStorage (and S3) take a missing file as deleted already
        except Exception:
            log.warning("Could not delete the stored file %s of an abandoned CPR/AED draft", name, exc_info=True)


def cpr_drafts_abandoned_remove(*, older_than: timedelta = timedelta(days=7)) -> list[int]:
    """Remove the CPR/AED drafts nobody has touched for ``older_than``: their last activity (the draft's
    ``created_at`` and its newest file's ``created_at``) is older than ``clock.now() - older_than``.

    Drafts are taken ``ABANDONED_DRAFTS_BATCH`` at a time in id order, each batch in its own transaction: the drafts
    are locked with ``SKIP LOCKED`` (one a certificant is adding to or submitting right now is left for a later
    run, never waited on), checked again under the lock, then deleted with their file rows. Their stored files are
    deleted once that transaction has committed; a file already missing is no error. Submitted cards (any state
    but draft) are never touched. Running it again finds nothing more to do.

    Returns the ids of the drafts removed, in ascending order. Database errors propagate (the batches already
    committed stay removed).
    """
    before = clock.now() - older_than
    removed: list[int] = []
    after_id = 0
    while True:
        with transaction.atomic():
            locked = list(
                _abandoned_drafts(before=before).filter(pk__gt=after_id).order_by("pk")
                .select_for_update(skip_locked=True).values_list("pk", flat=True)[:ABANDONED_DRAFTS_BATCH]
            )
            if not locked:
                break
            after_id = locked[-1]
            # Under the lock, with a fresh look: a file added or a Submit committed after the query above began
            # keeps its draft.
            ids = list(_abandoned_drafts(before=before).filter(pk__in=locked).order_by("pk")
                       .values_list("pk", flat=True))
            names = [name for name in CprUploadFile.objects.filter(upload_id__in=ids)
                     .order_by("pk").values_list("file", flat=True) if name]
            CprUpload.objects.filter(pk__in=ids, state=State.DRAFT).delete()  # and their file rows (CASCADE)
            if names:
                transaction.on_commit(partial(_stored_files_delete, names))
        if ids:
            log.info("Removed %d abandoned CPR/AED draft(s) with %d file(s), untouched since %s: ids %s",
                     len(ids), len(names), before.isoformat(), ids)
        removed += ids
        if len(locked) < ABANDONED_DRAFTS_BATCH:
            break
    log.info("Removed %d abandoned CPR/AED draft(s) in all, untouched since %s", len(removed), before.isoformat())
    return removed
