"""Reads about certifications: each open cycle's standing (the dashboard tile), the cycles a credit may be
reported into, and a person's own certifications and certificates."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.core.cache import cache
from django.db import connection

from cecs import rules as cec_rules
from cecs.models import CreditFormat, YearlyCap
from cecs.selectors import LedgerEntry, ledger

from . import rules
from .cpr.selectors import CPR_STATES
from .models import Certificate, Certification, Cycle


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
    suspended: bool = False  # a failed audit: no RENEW until staff reinstate it

    @property
    def status_label(self) -> str:
        return rules.SUSPENDED if self.suspended else self.status.value


@dataclass(frozen=True)
class Standing:
    """The tiles of a person's open cycles, and for each credit id that does not count in full the notes on why."""

    tiles: list[Tile]
    notes: dict[int, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TileCycle:
    """One open cycle with what its tile shows besides credits: the certification type's facts, the latest
    submitted CPR card of the cycle (``cpr_state`` None when there is none), the newest certificate not
    voided (``certificate_number`` "" when there is none), and the ``marks`` a page asked for (``in_cart``...)."""

    id: int
    certification_id: int
    start: date
    end: date
    code: str
    name: str
    required_cecs: int
    renewal_fee: Decimal
    late_fee: Decimal
    cpr_state: str | None
    cpr_expires_on: date | None
    cpr_reason: str
    certificate_number: str
    certificate_valid_through: date | None
    suspended: bool = False
    marks: dict[str, bool] = field(default_factory=dict)

    @property
    def in_cart(self) -> bool:
        return self.marks.get("in_cart", False)


# Written out rather than composed by the ORM: composing and compiling this shape (a card and a certificate per
# cycle) cost more than the rest of the dashboard together, on every request. Correlated subqueries picking the
# latest card and certificate by id, not LATERAL joins, so that SQLite (development) runs it too; the indexes on the
# foreign keys answer each one. ``{marks}`` are the boolean columns a page adds (see ``tile_cycles``).
TILE_SQL = """
SELECT cy.id, cy.certification_id, cy.start, cy."end", t.code, t.name, t.required_cecs, t.renewal_fee, t.late_fee,
    u.state, u.expires_on, u.rejection_reason, n.number, n.valid_through, c.suspended_at IS NOT NULL, c.user_id{marks}
FROM certifications_cycle cy
JOIN certifications_certification c ON c.id = cy.certification_id
JOIN certifications_certificationtype t ON t.id = c.certification_type_id
LEFT JOIN certifications_cprupload u ON u.id = (
    SELECT u2.id FROM certifications_cprupload u2 WHERE u2.cycle_id = cy.id AND u2.state <> 'draft'
    ORDER BY u2.submitted_at DESC, u2.id DESC LIMIT 1)
LEFT JOIN certifications_certificate n ON n.id = (
    SELECT n2.id FROM certifications_certificate n2 WHERE n2.certification_id = c.id AND n2.voided_at IS NULL
    ORDER BY n2.issued_on DESC, n2.id DESC LIMIT 1)
WHERE c.user_id {people} AND cy.state = 'open'
ORDER BY c.user_id, t.display_order, t.code
"""
TILE_WIDTH = 16  # the columns before the marks
CENT = Decimal("0.01")
FORMAT_LABELS = dict(CreditFormat.choices)


def tile_cycles(*, user, marks: dict[str, str] | None = None) -> list[TileCycle]:
    """The person's open cycles, in tile order (the certification types' display order), as ``TileCycle``: one
    query.

    ``marks``, from the page composing the tiles (the cart and the audits are not this app's), name SQL text written
    in code, never from input: each a boolean expression over ``c`` (the certification row: ``c.id``,
    ``c.user_id``), read into ``TileCycle.marks`` under its name; ``in_cart`` fills ``TileCycle.in_cart``.
    """
    marks = marks or {}
    with connection.cursor() as cursor:
        cursor.execute(TILE_SQL.format(marks=_mark_columns(marks), people="= %s"), [user.pk])
        return [_tile_cycle(row, marks) for row in cursor.fetchall()]


def tile_cycles_of_people(*, user_ids: list[int]) -> dict[int, list[TileCycle]]:
    """``tile_cycles`` for many people at once (the reminders' batches): their open cycles by user id, in tile
    order; people without an open cycle are left out. One query whatever the number of ids (keep it to a few
    thousand: each is a bound parameter)."""
    if not user_ids:
        return {}
    found: dict[int, list[TileCycle]] = {}
    with connection.cursor() as cursor:
        cursor.execute(TILE_SQL.format(marks="", people=f"IN ({', '.join(['%s'] * len(user_ids))})"), list(user_ids))
        for row in cursor.fetchall():
            found.setdefault(row[TILE_WIDTH - 1], []).append(_tile_cycle(row, {}))
    return found


def tiles_and_credits(*, user, today: date, marks: dict[str, str] | None = None
                      ) -> tuple[list[TileCycle], list[LedgerEntry]]:
    """What ``tile_cycles`` gives (``marks`` alike), and ``user``'s credits that may count toward those cycles (earned
    since the first one starts; since ``today``, their date, when they have none), newest first: two queries.

    (One statement could read both, a UNION ALL of the two; PostgreSQL plans it in twice the time of the two
    together, which costs the dashboard more than the round trip it saves.)"""
    cycles = tile_cycles(user=user, marks=marks)
    return cycles, ledger(user=user, since=min((c.start for c in cycles), default=today))


def _mark_columns(marks: dict[str, str]) -> str:
    return "".join(f",\n    {sql}" for sql in marks.values())


def _tile_cycle(row, marks: dict[str, str]) -> TileCycle:
    # PostgreSQL hands back dates and decimals; SQLite (development) text and numbers for computed columns.
    return TileCycle(
        id=row[0], certification_id=row[1], start=_day(row[2]), end=_day(row[3]), code=row[4], name=row[5],
        required_cecs=row[6], renewal_fee=Decimal(str(row[7])).quantize(CENT),
        late_fee=Decimal(str(row[8])).quantize(CENT), cpr_state=row[9], cpr_expires_on=_day(row[10]),
        cpr_reason=row[11] or "", certificate_number=row[12] or "", certificate_valid_through=_day(row[13]),
        suspended=bool(row[14]), marks=dict(zip(marks, map(bool, row[TILE_WIDTH:]))),
    )


def _day(value) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


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


def standing(*, cycles: list[TileCycle], credits: list[cec_rules.Credit], today: date, notes: bool = False,
             caps: dict[str, Decimal] | None = None) -> Standing:
    """The tile of each of ``cycles`` (from ``tile_cycles``) on ``today`` (the person's date), counting ``credits``
    under the yearly ``caps`` (default ``cap_rules()``); with ``notes``, also why each credit counts in part or not
    at all, per certification."""
    caps = cap_rules() if caps is None else caps
    tiles: list[Tile] = []
    found: dict[int, list[str]] = {}
    # Cycles of the same dates count alike: counted once, with the total and the credits that carry a note.
    counted: dict[tuple[date, date], tuple[Decimal, list[cec_rules.CountedCredit]]] = {}
    for cycle in cycles:
        window = counted.get((cycle.start, cycle.end))
        if window is None:
            lines = cec_rules.count_credits(credits, start=cycle.start, end=cycle.end, caps=caps,
                                            format_labels=FORMAT_LABELS)
            window = counted[cycle.start, cycle.end] = (cec_rules.counted_total(lines),
                                                        [line for line in lines if line.note])
        total, noted = window
        if notes:
            outside = (f"Outside the {cycle.code} cycle ({rules.format_cycle(cycle.start, cycle.end)}): "
                       f"not counted for {cycle.code}")
            for line in noted:
                note = outside if line.note == "Outside the cycle" else line.note
                said = found.setdefault(line.credit.id, [])
                if note not in said:
                    said.append(note)
        meter = rules.speedometer(counted=total, required=cycle.required_cecs)
        status = rules.cycle_status(start=cycle.start, end=cycle.end, today=today)
        cpr = (rules.Cpr(state=CPR_STATES[cycle.cpr_state], expires_on=cycle.cpr_expires_on, reason=cycle.cpr_reason)
               if cycle.cpr_state else rules.Cpr())
        tiles.append(Tile(
            certification_id=cycle.certification_id,
            code=cycle.code,
            name=cycle.name,
            cycle_start=cycle.start,
            cycle_end=cycle.end,
            cycle_label=rules.format_cycle(cycle.start, cycle.end),
            status=status,
            meter=meter,
            cpr=cpr,
            eligibility=rules.renew_eligibility(meter=meter, status=status, cpr=cpr, today=today,
                                                suspended=cycle.suspended),
            grace_ends=rules.grace_ends(cycle.end),
            late_fee=cycle.late_fee,
            renewal_fee=cycle.renewal_fee,
            in_cart=cycle.in_cart,
            certificate_number=cycle.certificate_number,
            certificate_valid_through=cycle.certificate_valid_through,
            suspended=cycle.suspended,
        ))
    return Standing(tiles=tiles, notes=found)


def tiles_for(*, user, today: date) -> list[Tile]:
    """The tiles of ``user``'s open cycles on ``today`` (their date), without the ledger (the cart re-checks
    eligibility with them): one query."""
    cycles, entries = tiles_and_credits(user=user, today=today)
    credits = cec_rules.countable(entries)
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
