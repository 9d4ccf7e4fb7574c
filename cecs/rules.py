"""CEC rules with no I/O: unit conversion, which credits count, yearly caps, totals.

Plain functions over immutable records; ``today`` and the rule data are passed in.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import NamedTuple

QUARTER = Decimal("0.25")
CENT = Decimal("0.01")
MAX_CECS_PER_ENTRY = Decimal("60")

# CECs per unit of each credit type (CEU ×10, CME ×1, college credit hour ×10).
CECS_PER_UNIT = {"cec": Decimal("1"), "ceu": Decimal("10"), "cme": Decimal("1"), "college": Decimal("10")}


def to_cecs(units: Decimal, credit_type: str) -> Decimal:
    """Convert an amount in ``credit_type`` units to CECs, exact to the cent."""
    return (units * CECS_PER_UNIT[credit_type]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def is_quarter_step(cecs: Decimal) -> bool:
    return cecs % QUARTER == 0


# Named tuples, not frozen dataclasses: a page counts every credit once per certification, and a frozen
# dataclass takes three times as long to build.
class Credit(NamedTuple):
    id: int
    date_earned: date
    cecs: Decimal
    format: str


class CountedCredit(NamedTuple):
    credit: Credit
    counted: Decimal
    note: str = ""  # why some or all of it does not count


def count_credits(
    credits: Iterable[Credit],
    *,
    start: date,
    end: date,
    caps: Mapping[str, Decimal],
    format_labels: Mapping[str, str] | None = None,
) -> list[CountedCredit]:
    """How much of each credit counts toward a cycle from ``start`` to ``end`` (inclusive).

    Credits earned outside the cycle count for nothing (no carry-over). For each
    capped format, at most ``caps[format]`` CECs count per calendar year; credits
    are taken in the order they were earned, and the one that crosses the cap
    counts in part. The result keeps the input order.
    """
    labels = format_labels or {}
    used: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    reached: dict[str, str] = {}  # the start of each capped format's note, written once (a ledger may be long)
    counted: dict[int, CountedCredit] = {}
    credits = list(credits)
    for credit in sorted(credits, key=EARNED_ORDER):
        if not start <= credit.date_earned <= end:
            counted[credit.id] = CountedCredit(credit, ZERO, "Outside the cycle")
            continue
        cap = caps.get(credit.format)
        if cap is None:
            counted[credit.id] = CountedCredit(credit, credit.cecs)
            continue
        key = (credit.format, credit.date_earned.year)
        room = max(cap - used[key], ZERO)
        take = min(credit.cecs, room)
        used[key] += take
        note = ""
        if take < credit.cecs:
            head = reached.get(credit.format)
            if head is None:
                head = reached[credit.format] = f"{labels.get(credit.format, credit.format)} cap of {_fmt(cap)} CECs"
            note = f"{head} for {credit.date_earned.year} reached: "
            note += f"{_fmt(take)} of {_fmt(credit.cecs)} count" if take else "not counted"
        counted[credit.id] = CountedCredit(credit, take, note)
    return [counted[c.id] for c in credits]


ZERO = Decimal("0")
EARNED_ORDER = attrgetter("date_earned", "id")


def counted_total(lines: Iterable[CountedCredit]) -> Decimal:
    return sum((line.counted for line in lines), Decimal("0"))


def _fmt(value: Decimal) -> str:
    return format_cecs(value)


def format_cecs(value: Decimal) -> str:
    """45 → '45', 44.50 → '44.5', 44.25 → '44.25'."""
    text = f"{value.quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
