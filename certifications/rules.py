"""Certification rules with no I/O: cycle status, the speedometer, RENEW eligibility.

Plain functions over dataclasses; ``today`` is always passed in.
"""

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from acsm_portal.formats import format_range
from cecs.rules import format_cecs


class Status(enum.Enum):
    IN_PROCESS = "Recertification in Process"
    RENEWED = "Recertified"  # renewed early; the next cycle has not started yet
    GRACE = "Expired (grace period)"
    LAPSED = "Lapsed"


class CprState(enum.Enum):
    NOT_UPLOADED = "not_uploaded"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Cpr:
    state: CprState = CprState.NOT_UPLOADED
    expires_on: date | None = None
    reason: str = ""


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (or earlier, for a negative ``years``); Feb 29 becomes Feb 28 in a
    common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def next_cycle(*, end: date, years: int) -> tuple[date, date]:
    """The cycle after one ending on ``end``: it starts the next day and ends on the same calendar day
    ``years`` years after ``end``. An end on the last day of February stays on the last day of February
    (Feb 28 in a common year, Feb 29 in a leap year), so a cycle that starts on Feb 29 lasts exactly ``years``
    years and the chain then runs from Mar 1 to the end of February without drifting further. Cycles that end
    on Dec 31 (the program's) are whole calendar years. ``years`` must be at least 1.

    Returns ``(start, end)``, both inclusive.
    """
    start = end + timedelta(days=1)
    if end.month == 2 and start.month == 3:
        return start, date(end.year + years, 3, 1) - timedelta(days=1)
    return start, add_years(end, years)


def grace_ends(end: date) -> date:
    """The grace period runs from the cycle end to the first June 30 after it."""
    june_30 = date(end.year, 6, 30)
    return june_30 if june_30 > end else date(end.year + 1, 6, 30)


def cycle_status(*, start: date, end: date, today: date) -> Status:
    """Where a cycle from ``start`` to ``end`` stands on ``today`` (the certificant's date in their own zone):
    renewed early (the cycle has not started), in process through ``end``, in the grace period through
    ``grace_ends(end)``, lapsed after it. Each deadline ends at 11:59 PM on its day."""
    if today < start:
        return Status.RENEWED
    if today <= end:
        return Status.IN_PROCESS
    if today <= grace_ends(end):
        return Status.GRACE
    return Status.LAPSED


@dataclass(frozen=True)
class Speedometer:
    percent: int
    shown: Decimal  # min(counted, required)
    required: int
    total: Decimal  # every counted CEC

    @property
    def label(self) -> str:
        return f"{format_cecs(self.shown)} of {self.required}"

    @property
    def full(self) -> bool:
        return self.shown >= self.required


def speedometer(*, counted: Decimal, required: int) -> Speedometer:
    """percent = min(100, counted / required), rounded down so 100% means complete."""
    ratio = (counted * 100 / Decimal(required)).to_integral_value(rounding=ROUND_FLOOR)
    return Speedometer(
        percent=int(min(Decimal(100), ratio)),
        shown=min(counted, Decimal(required)),
        required=required,
        total=counted,
    )


@dataclass(frozen=True)
class Eligibility:
    can_renew: bool
    late: bool
    blockers: tuple[str, ...] = field(default=())


SUSPENDED = "Suspended"  # a tile's status line while its certification is suspended (a failed audit)


def renew_eligibility(*, meter: Speedometer, status: Status, cpr: Cpr, today: date,
                      suspended: bool = False) -> Eligibility:
    """RENEW shows when credits are full, a CPR card is submitted (pending or approved,
    not rejected) and valid today, the cycle is still open for renewal
    (in process, or in the grace period with a late fee), and the certification is not
    ``suspended`` (a failed audit, until staff reinstate it)."""
    blockers = []
    if suspended:
        blockers.append("This certification is suspended after a failed audit; please contact the certification "
                        "department.")
    if status is Status.RENEWED:
        blockers.append("This certification is already renewed.")
    if status is Status.LAPSED:
        blockers.append("This certification has lapsed; contact us about reinstatement.")
    if not meter.full:
        blockers.append(f"{format_cecs(meter.required - meter.shown)} more CECs are needed.")
    if cpr.state in (CprState.NOT_UPLOADED, CprState.REJECTED):
        blockers.append("Upload your current CPR/AED certificate.")
    elif cpr.expires_on is not None and cpr.expires_on < today:
        blockers.append(f"Your CPR/AED card expired on {cpr.expires_on:%-m/%-d/%Y}; upload a current one.")
    return Eligibility(can_renew=not blockers, late=status is Status.GRACE, blockers=tuple(blockers))


def date_in_cycles(day: date, cycles: list[tuple[date, date]]) -> bool:
    return any(start <= day <= end for start, end in cycles)


def format_cycle(start: date, end: date) -> str:
    """A cycle as tiles show it: its first and last days, "1/1/Y - 12/31/Y" with their years."""
    return format_range(start, end)
