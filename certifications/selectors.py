"""Reads about certifications: each open cycle's standing (the dashboard tile), the cycles a credit may be
reported into, and a person's own certifications and certificates."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.cache import cache
from django.db.models import OuterRef, QuerySet, Subquery

from cecs import rules as cec_rules
from cecs.models import CECEntry, CreditFormat, YearlyCap

from . import rules
from .cpr.selectors import CPR_STATES
from .models import Certificate, Certification, CprUpload, Cycle


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
class Standing:
    """The tiles of a person's open cycles, and for each credit id the notes on why some of it does not count."""

    tiles: list[Tile]
    notes: dict[int, list[str]] = field(default_factory=dict)


def tile_cycles(*, user) -> QuerySet:
    """The person's open cycles, in tile order, each annotated with what its tile shows besides credits (the latest
    submitted CPR card of the cycle, the newest certificate not voided): one query. A page may annotate more."""
    card = (CprUpload.objects.filter(cycle=OuterRef("pk")).exclude(state=CprUpload.State.DRAFT)
            .order_by("-submitted_at", "-id"))
    certificate = (Certificate.objects.filter(certification=OuterRef("certification"), voided_at__isnull=True)
                   .order_by("-issued_on", "-id"))
    return (
        Cycle.objects.filter(certification__user=user, state=Cycle.State.OPEN)
        .select_related("certification__certification_type")
        .annotate(
            cpr_state=Subquery(card.values("state")[:1]),
            cpr_expires_on=Subquery(card.values("expires_on")[:1]),
            cpr_reason=Subquery(card.values("rejection_reason")[:1]),
            certificate_number=Subquery(certificate.values("number")[:1]),
            certificate_valid_through=Subquery(certificate.values("valid_through")[:1]),
        )
        .order_by("certification__certification_type__display_order", "certification__certification_type__code")
    )


CAPS_CACHE_KEY, CAPS_CACHE_SECONDS = "cecs:yearly-caps", 60


def cap_rules() -> dict[str, Decimal]:
    """The yearly caps by format (staff-editable), ``{"volunteering": Decimal("8.00"), …}``.

    Shared reference data: kept in the cache for a minute, so a cap staff change counts within a minute. A cache
    that does not answer costs one query (the cache backend ignores its errors, see settings).
    """
    caps = cache.get(CAPS_CACHE_KEY)
    if caps is None:
        caps = dict(YearlyCap.objects.values_list("format", "max_cecs"))
        cache.set(CAPS_CACHE_KEY, caps, CAPS_CACHE_SECONDS)
    return caps


def earliest_start(cycles, today: date) -> date:
    """The first day any of ``cycles`` starts (``today`` when there are none): no credit before it can count."""
    return min((c.start for c in cycles), default=today)


def standing(*, cycles, credits: list[cec_rules.Credit], today: date, notes: bool = False,
             caps: dict[str, Decimal] | None = None) -> Standing:
    """The tile of each of ``cycles`` (from ``tile_cycles``) on ``today`` (the person's date), counting ``credits``
    under the yearly ``caps`` (default ``cap_rules()``); with ``notes``, also why each credit counts in part or not
    at all, per certification."""
    caps = cap_rules() if caps is None else caps
    labels = dict(CreditFormat.choices)
    tiles: list[Tile] = []
    found: dict[int, list[str]] = {c.id: [] for c in credits} if notes else {}
    for cycle in cycles:
        ctype = cycle.certification.certification_type
        lines = cec_rules.count_credits(credits, start=cycle.start, end=cycle.end, caps=caps, format_labels=labels)
        if notes:
            for line in lines:
                if not line.note:
                    continue
                note = (
                    f"Outside the {ctype.code} cycle ({rules.format_cycle(cycle.start, cycle.end)}): "
                    f"not counted for {ctype.code}"
                    if line.note == "Outside the cycle"
                    else line.note
                )
                if note not in found[line.credit.id]:
                    found[line.credit.id].append(note)
        meter = rules.speedometer(counted=cec_rules.counted_total(lines), required=ctype.required_cecs)
        status = rules.cycle_status(start=cycle.start, end=cycle.end, today=today)
        cpr = (rules.Cpr(state=CPR_STATES[cycle.cpr_state], expires_on=cycle.cpr_expires_on, reason=cycle.cpr_reason)
               if cycle.cpr_state else rules.Cpr())
        tiles.append(Tile(
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
            in_cart=getattr(cycle, "in_cart", False),
            certificate_number=cycle.certificate_number or "",
            certificate_valid_through=cycle.certificate_valid_through,
        ))
    return Standing(tiles=tiles, notes=found)


def tiles_for(*, user, today: date) -> list[Tile]:
    """The tiles of ``user``'s open cycles on ``today`` (their date), without the ledger (the cart re-checks
    eligibility with them): two queries."""
    cycles = list(tile_cycles(user=user))
    rows = CECEntry.objects.filter(user=user, date_earned__gte=earliest_start(cycles, today))
    credits = [cec_rules.Credit(*row) for row in rows.values_list("id", "date_earned", "cecs", "format")]
    return standing(cycles=cycles, credits=credits, today=today).tiles


def reportable_cycles(*, user, today: date) -> list[tuple[date, date]]:
    """The ``(start, end)`` of each of ``user``'s open cycles a credit may be reported into on ``today``: in
    process, or in the grace period (not lapsed, not yet started)."""
    return [
        (c.start, c.end)
        for c in Cycle.objects.filter(certification__user=user, state=Cycle.State.OPEN).only("start", "end")
        if rules.cycle_status(start=c.start, end=c.end, today=today) in (rules.Status.IN_PROCESS, rules.Status.GRACE)
    ]


def certification_for(*, user, certification_id: int) -> Certification | None:
    """The user's own certification, or None (another person's answers the same as a missing one)."""
    return (
        Certification.objects.select_related("certification_type", "user")
        .filter(pk=certification_id, user=user)
        .first()
    )


def certificate_for(*, user, number: str) -> "Certificate | None":
    """A certificate its holder may open, or any certificate for staff who may view certificates."""
    certificates = Certificate.objects.select_related("certification__user")
    if not (user.is_staff and user.has_perm("certifications.view_certificate")):
        certificates = certificates.filter(certification__user=user)
    return certificates.filter(number=number).first()
