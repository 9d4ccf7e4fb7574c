"""Reads for the CEC Dashboard: a constant number of queries, whatever the ledger's size."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cecs import rules as cec_rules
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse

from acsm_portal.cache_tokens import token_new
from cecs.models import CECEntry, CreditFormat, CreditType, YearlyCap

from . import rules
from .dashboard_cache import REFERENCE_KEY
from .models import Certificate, Certification, CprUpload, CprUploadFile, Cycle


@dataclass(frozen=True)
class Tile:
    certification_id: int
    code: str
    name: str
    cycle_start: date
    cycle_end: date
    cycle_label: str
    status: rules.Status
    meter: rules.Speedometer
    cpr: rules.Cpr
    eligibility: rules.Eligibility
    grace_ends: date
    late_fee: Decimal
    renewal_fee: Decimal
    in_cart: bool = False
    certificate_number: str = ""
    certificate_valid_through: date | None = None

    @property
    def status_label(self) -> str:
        return self.status.value


@dataclass(frozen=True)
class LedgerRow:
    """One credit as the Active CECs table shows it, formatted here once (the table is the page's hot loop)."""

    entry: CECEntry
    notes: tuple[str, ...]
    editable: bool
    earned: str
    reported: str
    cecs: str
    format_label: str
    credit_label: str
    edit_url: str
    delete_url: str


@dataclass(frozen=True)
class Dashboard:
    tiles: list[Tile]
    rows: list[LedgerRow]
    open_cycles: list[tuple[date, date]]

    @property
    def renewals_in_cart(self) -> int:
        """Renewals in the cart that can still be paid (a line whose certification lapsed meanwhile is not)."""
        return sum(1 for tile in self.tiles if tile.in_cart and tile.eligibility.can_renew)


def open_cycles(*, user) -> list[Cycle]:
    return list(
        Cycle.objects.filter(certification__user=user, state=Cycle.State.OPEN)
        .select_related("certification__certification_type")
        .order_by("certification__certification_type__display_order", "certification__certification_type__code")
    )


def _tile_cycles(*, user) -> list[Cycle]:
    """The open cycles with everything a tile shows besides credits, in one query: the latest
    submitted CPR card of the cycle, whether the renewal is in the cart, the newest certificate."""
    from cart.models import CartLine

    card = (CprUpload.objects.filter(cycle=OuterRef("pk")).exclude(state=CprUpload.State.DRAFT)
            .order_by("-submitted_at", "-id"))
    certificate = Certificate.objects.filter(certification=OuterRef("certification")).order_by("-issued_on", "-id")
    in_cart = CartLine.objects.filter(cart__user=user, certification=OuterRef("certification"),
                                      kind=CartLine.Kind.RENEWAL)
    return list(
        Cycle.objects.filter(certification__user=user, state=Cycle.State.OPEN)
        .select_related("certification__certification_type")
        .annotate(
            cpr_state=Subquery(card.values("state")[:1]),
            cpr_expires_on=Subquery(card.values("expires_on")[:1]),
            cpr_reason=Subquery(card.values("rejection_reason")[:1]),
            certificate_number=Subquery(certificate.values("number")[:1]),
            certificate_valid_through=Subquery(certificate.values("valid_through")[:1]),
            in_cart=Exists(in_cart),
        )
        .order_by("certification__certification_type__display_order", "certification__certification_type__code")
    )


CAPS_CACHE_KEY, CAPS_CACHE_SECONDS = "cecs:yearly-caps", 60


def cap_rules() -> dict[str, Decimal]:
    """The yearly caps (staff-editable), read on every dashboard render and cart; cached for a minute with the
    reference token, which a changed cap drops (``dashboard_cache.reference_changed``)."""
    found = cache.get_many([REFERENCE_KEY, CAPS_CACHE_KEY])
    token = found.get(REFERENCE_KEY) or token_new(REFERENCE_KEY)
    stored = found.get(CAPS_CACHE_KEY)
    if stored is not None and stored[0] == token:
        return stored[1]
    caps = dict(YearlyCap.objects.values_list("format", "max_cecs"))
    cache.set(CAPS_CACHE_KEY, (token, caps), CAPS_CACHE_SECONDS)
    return caps


def tiles_for(*, user, today: date) -> list[Tile]:
    """The tiles alone, without the Active CECs table (the cart re-checks eligibility with them)."""
    return _board(user=user, today=today, ledger=False).tiles


def dashboard_for(*, user, today: date) -> Dashboard:
    return _board(user=user, today=today, ledger=True)


def _board(*, user, today: date, ledger: bool) -> Dashboard:
    cycles = _tile_cycles(user=user)
    caps = cap_rules()
    labels = dict(CreditFormat.choices)
    earliest = min((c.start for c in cycles), default=today)
    in_cycles = CECEntry.objects.filter(user=user, date_earned__gte=earliest)
    if ledger:
        entries = list(in_cycles.order_by("-date_earned", "-id"))
        credits = [cec_rules.Credit(e.id, e.date_earned, e.cecs, e.format) for e in entries]
    else:
        entries = []
        credits = [cec_rules.Credit(*row) for row in in_cycles.values_list("id", "date_earned", "cecs", "format")]

    tiles: list[Tile] = []
    notes: dict[int, list[str]] = {e.id: [] for e in entries}
    for cycle in cycles:
        ctype = cycle.certification.certification_type
        lines = cec_rules.count_credits(credits, start=cycle.start, end=cycle.end, caps=caps, format_labels=labels)
        for line in lines:
            if not line.note or not ledger:
                continue
            note = (
                f"Outside the {ctype.code} cycle ({rules.format_cycle(cycle.start, cycle.end)}): "
                f"not counted for {ctype.code}"
                if line.note == "Outside the cycle"
                else line.note
            )
            if note not in notes[line.credit.id]:
                notes[line.credit.id].append(note)
        meter = rules.speedometer(counted=cec_rules.counted_total(lines), required=ctype.required_cecs)
        status = rules.cycle_status(start=cycle.start, end=cycle.end, today=today)
        cpr = (rules.Cpr(state=_CPR_STATES[cycle.cpr_state], expires_on=cycle.cpr_expires_on, reason=cycle.cpr_reason)
               if cycle.cpr_state else rules.Cpr())
        tiles.append(
            Tile(
                certification_id=cycle.certification_id,
                code=ctype.code,
                name=ctype.name,
                cycle_start=cycle.start,
                cycle_end=cycle.end,
                cycle_label=rules.format_cycle(cycle.start, cycle.end),
                status=status,
                meter=meter,
                cpr=cpr,
                eligibility=rules.renew_eligibility(meter=meter, status=status, cpr=cpr, today=today),
                grace_ends=rules.grace_ends(cycle.end),
                late_fee=ctype.late_fee,
                renewal_fee=ctype.renewal_fee,
                in_cart=cycle.in_cart,
                certificate_number=cycle.certificate_number or "",
                certificate_valid_through=cycle.certificate_valid_through,
            )
        )
    editable_cycles = [
        (c.start, c.end) for c in cycles
        if rules.cycle_status(start=c.start, end=c.end, today=today) in (rules.Status.IN_PROCESS, rules.Status.GRACE)
    ]
    credit_labels = dict(CreditType.choices)
    # One reverse() per page, not two per row.
    edit_url, delete_url = reverse("cec_edit", args=[0]), reverse("cec_delete", args=[0])
    rows = []
    for e in entries:
        editable = e.source == CECEntry.Source.SELF and rules.date_in_cycles(e.date_earned, editable_cycles)
        rows.append(LedgerRow(
            entry=e,
            notes=tuple(notes[e.id]),
            editable=editable,
            earned=rules.format_date(e.date_earned),
            reported=rules.format_date(e.date_reported),
            cecs=cec_rules.format_cecs(e.cecs),
            format_label=labels.get(e.format, e.format),
            credit_label=credit_labels.get(e.credit_type, e.credit_type),
            edit_url=edit_url.replace("/0/", f"/{e.pk}/") if editable else "",
            delete_url=delete_url.replace("/0/", f"/{e.pk}/") if editable else "",
        ))
    return Dashboard(tiles=tiles, rows=rows, open_cycles=[(c.start, c.end) for c in cycles])


# CPR/AED cards ----------------------------------------------------------------

_CPR_STATES = {
    "pending": rules.CprState.PENDING,
    "approved": rules.CprState.APPROVED,
    "rejected": rules.CprState.REJECTED,
}


def cpr_by_certification(*, user) -> dict[int, rules.Cpr]:
    """For each of the user's certifications, the latest submitted card of its open cycle (one query)."""
    found: dict[int, rules.Cpr] = {}
    latest_first = (
        CprUpload.objects.filter(certification__user=user, cycle__state=Cycle.State.OPEN)
        .exclude(state=CprUpload.State.DRAFT)
        .order_by("certification_id", "-submitted_at", "-id")
        .values_list("certification_id", "state", "expires_on", "rejection_reason")
    )
    for certification_id, state, expires_on, reason in latest_first:
        found.setdefault(certification_id, rules.Cpr(state=_CPR_STATES[state], expires_on=expires_on, reason=reason))
    return found


def certification_for(*, user, certification_id: int) -> Certification | None:
    """The user's own certification, or None (another person's answers the same as a missing one)."""
    return (
        Certification.objects.select_related("certification_type", "user")
        .filter(pk=certification_id, user=user)
        .first()
    )


@dataclass(frozen=True)
class CprMaintenance:
    certification: Certification
    draft_files: list[CprUploadFile]
    latest: CprUpload | None  # the latest submitted CprUpload of the open cycle, or None
    cpr: rules.Cpr


def cpr_maintenance_for(*, certification: Certification) -> CprMaintenance:
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
        rules.Cpr(state=_CPR_STATES[latest.state], expires_on=latest.expires_on, reason=latest.rejection_reason)
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


def certificate_for(*, user, number: str) -> "Certificate | None":
    """A certificate its holder may open, or any certificate for staff who may view certificates."""
    certificates = Certificate.objects.select_related("certification__user")
    if not (user.is_staff and user.has_perm("certifications.view_certificate")):
        certificates = certificates.filter(certification__user=user)
    return certificates.filter(number=number).first()
