"""The CEC Dashboard's reads: the tiles, whether each renewal is in the cart, and the Active CECs table, in a
constant number of queries whatever the ledger's size."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.urls import reverse

from acsm_portal import clock
from acsm_portal.formats import format_date
from audits.selectors import AuditSummary, audits_by_certification
from cecs import rules as cec_rules
from cecs.models import CECEntry, CreditFormat, CreditType
from certifications import rules
from certifications.selectors import Tile, cap_rules, standing, tiles_and_credits
from providers.models import Completion

FORMAT_LABELS, CREDIT_LABELS = dict(CreditFormat.choices), dict(CreditType.choices)
# Columns of the tile query (``tiles_and_credits``): whether the certification's renewal is in its holder's cart, and
# whether it was ever audited (most never are: their page reads no audits).
TILE_MARKS = {
    # A certification's renewal is only ever put in its holder's cart (cart.services.cart_add_renewal).
    "in_cart": "EXISTS (SELECT 1 FROM cart_cartline l WHERE l.certification_id = c.id AND l.kind = 'renewal')",
    "audited": "EXISTS (SELECT 1 FROM audits_audit a WHERE a.certification_id = c.id)",
    # Whether a provider ever retracted a credit of the person (most never had one: their page reads no
    # completions). The recent ones are then read for the Active CECs box.
    "retracted": "EXISTS (SELECT 1 FROM providers_completion p WHERE p.user_id = c.user_id AND p.state = 'retracted')",
}
# How long the Active CECs box says that a provider retracted a credit.
RETRACTION_DAYS = 90


@dataclass(slots=True)
class LedgerRow:
    """One credit as the Active CECs table shows it, formatted here once (the table is the page's hot loop).
    ``notes`` say why some or all of it does not count; ``reported_by`` names the provider that reported it ("" for
    a credit the person or staff reported); ``edit_url`` and ``delete_url`` are "" when the person may not change it
    (a credit staff or a provider reported, or one outside every cycle open for reporting)."""

    id: int
    course_name: str
    provider: str
    reported_by: str
    notes: list[str] | tuple[()]
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
    caps_note: str = ""
    audits: dict[int, AuditSummary] = field(default_factory=dict)  # each audited certification's latest audit
    retractions: list[str] = field(default_factory=list)  # credits providers retracted lately, newest first

    @property
    def renewals_in_cart(self) -> int:
        """Renewals in the cart that can still be paid (a line whose certification lapsed meanwhile is not)."""
        return sum(1 for tile in self.tiles if tile.in_cart and tile.eligibility.can_renew)


def dashboard_for(*, user, today: date) -> Dashboard:
    """The page for ``user`` on ``today`` (their date): two queries (the tiles with their cart state, the credits),
    a third for the audits when one of the certifications was ever audited, one for the recent retractions when a
    provider ever retracted a credit of theirs, and the yearly caps when the cache does not hold them.

    A self-reported credit a provider reported too (``cec_rules.provider_duplicates``) counts once, as the
    provider's: its row says so and counts for nothing."""
    cycles, entries = tiles_and_credits(user=user, today=today, marks=TILE_MARKS)
    duplicates = cec_rules.provider_duplicates(entries)
    credits = cec_rules.countable(entries, duplicates=duplicates)
    caps = cap_rules()
    found = standing(cycles=cycles, credits=credits, today=today, notes=True, caps=caps)
    notes = found.notes
    if duplicates:
        counted_instead = set(duplicates.values())
        reporters = {e.id: e.provider for e in entries if e.id in counted_instead}
        for self_id, provider_id in duplicates.items():
            notes[self_id] = [f"Also reported by {reporters[provider_id]}: counted once, as the provider's."]
    editable_cycles = sorted({
        (c.start, c.end) for c in cycles
        if rules.cycle_status(start=c.start, end=c.end, today=today) in (rules.Status.IN_PROCESS, rules.Status.GRACE)
    })
    # One reverse() per page, not two per row; amounts and dates repeat from row to row, each written once.
    edit_head, edit_tail = reverse("cec_edit", args=[0]).split("/0/")
    delete_head, delete_tail = reverse("cec_delete", args=[0]).split("/0/")
    self_reported, provider_reported = CECEntry.Source.SELF.value, CECEntry.Source.PROVIDER.value
    days: dict[date, str] = {}
    amounts: dict[Decimal, str] = {}
    rows = []
    for pk, earned, reported, cecs, course_name, provider, fmt, credit_type, source in entries:
        editable = source == self_reported and rules.date_in_cycles(earned, editable_cycles)
        rows.append(LedgerRow(
            id=pk,
            course_name=course_name,
            provider=provider,
            reported_by=provider if source == provider_reported else "",
            notes=notes.get(pk, ()),
            earned=days.get(earned) or days.setdefault(earned, format_date(earned)),
            reported=days.get(reported) or days.setdefault(reported, format_date(reported)),
            cecs=amounts.get(cecs) or amounts.setdefault(cecs, cec_rules.format_cecs(cecs)),
            format_label=FORMAT_LABELS.get(fmt, fmt),
            credit_label=CREDIT_LABELS.get(credit_type, credit_type),
            edit_url=f"{edit_head}/{pk}/{edit_tail}" if editable else "",
            delete_url=f"{delete_head}/{pk}/{delete_tail}" if editable else "",
        ))
    audits = audits_by_certification(user=user) if any(c.marks["audited"] for c in cycles) else {}
    retracted = retraction_notes(user=user, today=today) if any(c.marks["retracted"] for c in cycles) else []
    return Dashboard(tiles=found.tiles, rows=rows, caps_note=caps_note(caps), audits=audits, retractions=retracted)


def retraction_notes(*, user, today: date) -> list[str]:
    """What the Active CECs box says of each credit a provider retracted from ``user``'s record on ``today`` (their
    date) or in the ``RETRACTION_DAYS`` days before, newest first: "ACSM Online Learning retracted Exercise is
    Medicine (3/2/Y) on 3/9/Y: Posted for the wrong member." (the date earned, then the day of the retraction in
    the person's time zone). One query."""
    zone = clock.zone_for(user)
    since = datetime.combine(today - timedelta(days=RETRACTION_DAYS), time.min, tzinfo=zone)
    retracted = (Completion.objects.filter(user=user, state=Completion.State.RETRACTED, retracted_at__gte=since)
                 .order_by("-retracted_at", "-id")
                 .values_list("provider__name", "course__title", "completed_on", "retracted_at", "retraction_reason"))
    return [f"{provider} retracted {title} ({format_date(earned)}) on {format_date(at.astimezone(zone).date())}: "
            f"{reason}" for provider, title, earned, at, reason in retracted]


def caps_note(caps: dict) -> str:
    """The yearly caps as the Active CECs box states them, from the cap table (``{"teaching": Decimal("5"), …}``),
    in the order of the formats: "A maximum of 5 credits with the format of Teaching, 8 credits for Volunteering,
    and 5 for CPR/AED/First Aid will apply to your total credits above each year." Empty without caps."""
    capped = [(label, caps[value]) for value, label in CreditFormat.choices if value in caps]
    if not capped:
        return ""
    parts = [f"{cec_rules.format_cecs(n)} credits {'with the format of' if i == 0 else 'for'} {label}"
             for i, (label, n) in enumerate(capped)]
    if len(parts) > 1:
        label, n = capped[-1]
        parts[-1] = f"and {cec_rules.format_cecs(n)} for {label}"
    return f"A maximum of {', '.join(parts)} will apply to your total credits above each year."
