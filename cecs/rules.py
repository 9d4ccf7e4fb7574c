"""CEC rules with no I/O: unit conversion, which credits count, yearly caps, totals.

Plain functions over immutable records; ``today`` and the rule data are passed in.
"""

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import NamedTuple, Protocol

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


# ---------------------------------------------------------------- the same credit reported twice

# ``CECEntry.Source`` values (the model's choices; a test keeps the two alike).
SELF, PROVIDER = "self", "provider"


class LedgerCredit(Protocol):
    """What duplicates are found from: a credit as the ledger reads it (``cecs.selectors.LedgerEntry``)."""

    id: int
    date_earned: date
    cecs: Decimal
    format: str
    course_name: str
    provider: str
    source: str


def text_key(text: str) -> str:
    """``text`` as course titles and provider names are compared: accents dropped (NFKD), case folded, and only
    letters and digits kept, so "Exercise is Medicine®: Level 1" and "exercise is medicine level1" compare
    equal."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text or "").casefold() if ch.isalnum())


def provider_duplicates(entries: Sequence[LedgerCredit]) -> dict[int, int]:
    """The self-reported credits among ``entries`` that a provider reported too: ``{self entry id: provider entry
    id}``.

    A self-reported credit is the same as a provider-reported one when both were earned on the same date and
    either their course titles are the same (``text_key``), or the self-reported one names the same provider
    (``text_key`` of the provider, not blank) and one title holds the other ("Exercise is Medicine" and
    "Exercise is Medicine Level 1", both from "ACSM Online Learning").

    One to one: a provider credit stands for at most one self-reported credit, so no more is dropped than the
    provider reported. Self-reported credits are taken oldest first (date earned, then id), each paired with the
    lowest-id provider credit left that matches on the title, else with the lowest-id one that matches on the
    provider and a title it holds. Staff credits are never paired.
    """
    reported: dict[date, list[tuple[int, str, str]]] = defaultdict(list)
    for entry in entries:
        if entry.source == PROVIDER:
            reported[entry.date_earned].append((entry.id, text_key(entry.course_name), text_key(entry.provider)))
    if not reported:
        return {}
    for same_day in reported.values():
        same_day.sort()
    taken: set[int] = set()
    found: dict[int, int] = {}
    for entry in sorted((e for e in entries if e.source == SELF and e.date_earned in reported), key=EARNED_ORDER):
        left = [p for p in reported[entry.date_earned] if p[0] not in taken]
        title, provider = text_key(entry.course_name), text_key(entry.provider)
        if not title:
            continue
        match = next((pk for pk, p_title, _ in left if p_title == title), None)
        if match is None and provider:
            match = next((pk for pk, p_title, p_provider in left
                          if p_provider == provider and p_title and (title in p_title or p_title in title)), None)
        if match is not None:
            taken.add(match)
            found[entry.id] = match
    return found


def countable(entries: Iterable[LedgerCredit], *, duplicates: Mapping[int, int] | None = None) -> list[Credit]:
    """``entries`` as the credits that count (``Credit``, in the order given): each one except a self-reported
    credit a provider reported too (``provider_duplicates``, or the ``duplicates`` already found), which counts
    once, as the provider's. Every page and job that counts a person's credits counts these."""
    entries = list(entries)
    dropped = provider_duplicates(entries) if duplicates is None else duplicates
    return [Credit(e.id, e.date_earned, e.cecs, e.format) for e in entries if e.id not in dropped]
