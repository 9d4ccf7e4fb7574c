"""Reads for the Certification Maintenance page, CPR/AED card files and the staff review queue."""

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from acsm_portal import previews, uploads

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
    before such PDFs were refused, what it can do besides show its pages (``acsm_portal.previews.stored_facts``).
    A PDF that can no longer be read counts one page (its preview then says it cannot be rendered)."""
    return previews.stored_facts(stored=stored)


def cpr_review_queue() -> QuerySet[CprUpload]:
    """Every submitted card (a draft is its owner's until it is submitted) as the staff queue lists it, oldest
    submission first: the certificant, certification type, cycle and reviewer joined in, and ``file_count``.

    The order (``submitted_at``, ``id``) is that of the indexes ``cpr_upload_by_state`` (one state) and
    ``cpr_upload_submitted`` (every submitted card), so a page reads its rows in index order and stops.
    """
    # Files counted per row in a subquery: Count("files") would GROUP BY the whole queryset, so every page (and its
    # count) would aggregate all matching cards before picking 50 of them.
    files = CprUploadFile.objects.filter(upload=OuterRef("pk")).order_by().values("upload").annotate(n=Count("pk"))
    return (
        CprUpload.objects.exclude(state=CprUpload.State.DRAFT)
        .select_related("certification__user", "certification__certification_type", "cycle", "reviewed_by")
        .annotate(file_count=Coalesce(Subquery(files.values("n"), output_field=IntegerField()), 0))
        .order_by("submitted_at", "id")
    )


def cpr_queue_rows(queryset: QuerySet[CprUpload]) -> list[dict]:
    """What the queue shows of each card in ``queryset`` (a page of ``cpr_review_queue()``), in its order, as plain
    values (one query, no model instances)::

        {"pk": 7, "submitted_at": datetime (aware), "member_id": "310002", "first_name": "Ana", "last_name": "Silva",
         "email": "ana@example.com", "certification_code": "CPT", "card_type": "cpr_aed" or "",
         "expires_on": date or None, "file_count": 2, "state": "pending",
         "reviewer_first_name": str or None, "reviewer_last_name": str or None, "reviewer_email": str or None}
    """
    user = "certification__user__"
    return list(queryset.values(
        "pk", "submitted_at", "card_type", "expires_on", "file_count", "state",
        member_id=F(f"{user}member_id"), first_name=F(f"{user}first_name"), last_name=F(f"{user}last_name"),
        email=F(f"{user}email"), certification_code=F("certification__certification_type__code"),
        reviewer_first_name=F("reviewed_by__first_name"), reviewer_last_name=F("reviewed_by__last_name"),
        reviewer_email=F("reviewed_by__email"),
    ))


def cpr_queue_search(queryset: QuerySet[CprUpload], term: str) -> QuerySet[CprUpload]:
    """``queryset`` narrowed to the certificants ``term`` names, each way by an index on the user table:

    - digits: member IDs starting with them ("310002", or "3100" for 310000-310099);
    - anything with "@": email addresses starting with it (stored lower-cased, so compared lower-cased);
    - otherwise a name, ignoring case: the whole term as the last name ("Garcia", "garcia lopez"), or its last word
      as the last name and the words before it starting the first name ("Maria Garcia", "M Garcia").

    A blank term returns ``queryset`` unchanged.
    """
    term = " ".join(term.split())
    if not term:
        return queryset
    user = "certification__user__"
    if term.isdigit():
        return queryset.filter(**{f"{user}member_id__startswith": term})
    if "@" in term:
        return queryset.filter(**{f"{user}email__startswith": term.lower()})
    names = Q(**{f"{user}last_name__iexact": term})
    first, _, last = term.rpartition(" ")
    if first:
        names |= Q(**{f"{user}last_name__iexact": last, f"{user}first_name__istartswith": first})
    return queryset.filter(names)
