"""The CEC Dashboard's reads: the tiles, whether each renewal is in the cart, and the Active CECs table, in a
constant number of queries whatever the ledger's size."""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, OuterRef
from django.urls import reverse

from acsm_portal.formats import format_date
from audits.selectors import AuditSummary, audits_by_certification
from cart.models import CartLine
from cecs import rules as cec_rules
from cecs.models import CECEntry, CreditFormat, CreditType
from certifications import rules
from certifications.selectors import Tile, cap_rules, earliest_start, standing, tile_cycles


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
    caps_note: str = ""
    audits: dict[int, AuditSummary] = field(default_factory=dict)  # each audited certification's latest audit

    @property
    def renewals_in_cart(self) -> int:
        """Renewals in the cart that can still be paid (a line whose certification lapsed meanwhile is not)."""
        return sum(1 for tile in self.tiles if tile.in_cart and tile.eligibility.can_renew)


def dashboard_for(*, user, today: date) -> Dashboard:
    """The page for ``user`` on ``today`` (their own date): three queries (the tiles, the credits, the audits), plus
    the yearly caps when the cache does not hold them."""
    in_cart = CartLine.objects.filter(cart__user=user, certification=OuterRef("certification"),
                                      kind=CartLine.Kind.RENEWAL)
    cycles = list(tile_cycles(user=user).annotate(in_cart=Exists(in_cart)))
    entries = list(CECEntry.objects.filter(user=user, date_earned__gte=earliest_start(cycles, today))
                   .order_by("-date_earned", "-id"))
    credits = [cec_rules.Credit(e.id, e.date_earned, e.cecs, e.format) for e in entries]
    caps = cap_rules()
    found = standing(cycles=cycles, credits=credits, today=today, notes=True, caps=caps)
    editable_cycles = [
        (c.start, c.end) for c in cycles
        if rules.cycle_status(start=c.start, end=c.end, today=today) in (rules.Status.IN_PROCESS, rules.Status.GRACE)
    ]
    labels, credit_labels = dict(CreditFormat.choices), dict(CreditType.choices)
    # One reverse() per page, not two per row.
    edit_url, delete_url = reverse("cec_edit", args=[0]), reverse("cec_delete", args=[0])
    rows = []
    for e in entries:
        editable = e.source == CECEntry.Source.SELF and rules.date_in_cycles(e.date_earned, editable_cycles)
        rows.append(LedgerRow(
            entry=e,
            notes=tuple(found.notes[e.id]),
            editable=editable,
            earned=format_date(e.date_earned),
            reported=format_date(e.date_reported),
            cecs=cec_rules.format_cecs(e.cecs),
            format_label=labels.get(e.format, e.format),
            credit_label=credit_labels.get(e.credit_type, e.credit_type),
            edit_url=edit_url.replace("/0/", f"/{e.pk}/") if editable else "",
            delete_url=delete_url.replace("/0/", f"/{e.pk}/") if editable else "",
        ))
    return Dashboard(tiles=found.tiles, rows=rows, caps_note=caps_note(caps),
                     audits=audits_by_certification(user=user))


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
