"""Reads for the Certification Maintenance page and CPR/AED card files."""

from dataclasses import dataclass

from acsm_portal import uploads

from .. import rules
from ..models import Certification, CprUpload, CprUploadFile, Cycle

# A stored card state as the rules know it.
CPR_STATES = {
    "pending": rules.CprState.PENDING,
    "approved": rules.CprState.APPROVED,
    "rejected": rules.CprState.REJECTED,
}


@dataclass(frozen=True)
class CprMaintenance:
    certification: Certification
    draft_files: list[CprUploadFile]
    latest: CprUpload | None  # the latest submitted CprUpload of the open cycle, or None
    cpr: rules.Cpr


def cpr_maintenance_for(*, certification: Certification) -> CprMaintenance:
    """What the Certification Maintenance page shows: the draft's files and the latest submitted card of the open
    cycle (three queries)."""
    draft_files = list(
        CprUploadFile.objects.filter(upload__certification=certification, upload__state=CprUpload.State.DRAFT)
    )
    latest = (
        CprUpload.objects.filter(certification=certification, cycle__state=Cycle.State.OPEN)
        .exclude(state=CprUpload.State.DRAFT)
        .order_by("-submitted_at", "-id")
        .first()
    )
    cpr = (
        rules.Cpr(state=CPR_STATES[latest.state], expires_on=latest.expires_on, reason=latest.rejection_reason)
        if latest else rules.Cpr()
    )
    return CprMaintenance(certification=certification, draft_files=draft_files, latest=latest, cpr=cpr)


def cpr_file_for(*, user, key) -> CprUploadFile | None:
    """A CPR card file the user may open: their own (draft or submitted), or any submitted one for a reviewer."""
    found = CprUploadFile.objects.select_related("upload__certification").filter(key=key).first()
    if found is None:
        return None
    if found.upload.certification.user_id == user.pk:
        return found
    if (
        found.upload.state != CprUpload.State.DRAFT
        and user.is_active and user.is_staff and user.has_perm("certifications.can_review_cpr")
    ):
        return found
    return None


def cpr_file_facts(*, stored: CprUploadFile) -> uploads.PdfFacts:
    """What staff need to show a stored card file whole: its page count (1 for an image) and, for a PDF kept from
    before such PDFs were refused, what it can do besides show its pages (``active_content``, plain words, or "").

    A PDF that can no longer be read counts one page (its preview then says it cannot be rendered).
    """
    if stored.is_image:
        return uploads.PdfFacts(pages=1, active_content="")
    with stored.file.open("rb") as fh:
        data = fh.read()
    try:
        return uploads.pdf_facts(data)
    except ValueError:
        return uploads.PdfFacts(pages=1, active_content="")
