"""Audit rules with no I/O: the draw, due dates and overdue, the moves an audit may make, progress, whether an
audit can pass, and which reminder is due.

Plain functions over dataclasses; ``today`` (the certificant's date in their own time zone) and the rule data
(the rate, the caps, the requirement) are passed in. A deadline ends at 11:59 PM on its day, the person's time.
"""

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from cecs import rules as cec_rules

# Audit states. Open: the certificant or staff still have something to do.
SELECTED, SUBMITTED, EXTENDED = "selected", "submitted", "extended"
PASSED, FAILED, CANCELED, REINSTATED = "passed", "failed", "canceled", "reinstated"
OPEN_STATES = frozenset({SELECTED, SUBMITTED, EXTENDED})
# States in which the certificant may add or remove proof and submit.
ANSWERING_STATES = frozenset({SELECTED, EXTENDED})

# Each state and the states it may move to (``services.audit_transition`` refuses any other move).
TRANSITIONS: dict[str, frozenset[str]] = {
    SELECTED: frozenset({SUBMITTED, EXTENDED, FAILED, CANCELED}),
    SUBMITTED: frozenset({PASSED, FAILED, EXTENDED, CANCELED}),
    EXTENDED: frozenset({SUBMITTED, FAILED, CANCELED}),
    FAILED: frozenset({REINSTATED}),
    PASSED: frozenset(),
    CANCELED: frozenset(),
    REINSTATED: frozenset(),
}

# Credit states: proof still needed, proof uploaded, no proof needed (provider- or staff-reported), and staff's
# decisions.
NEEDED, DOCUMENTED, VERIFIED, ACCEPTED, REJECTED = "needed", "documented", "verified", "accepted", "rejected"
DONE_STATES = frozenset({DOCUMENTED, VERIFIED, ACCEPTED})
COUNTING_STATES = frozenset({VERIFIED, ACCEPTED})  # what an audit may pass on
NO_PROOF_SOURCES = frozenset({"provider", "staff"})  # ``cecs.models.CECEntry.Source`` values needing no proof

REMINDER_DAYS = (14, 7, 1)
MAX_NOTE_LENGTH = 2000
MAX_REASON_LENGTH = 1000
ROLL_PLACES = 6
ROLL_STEPS = 10**ROLL_PLACES


def can_move(current: str, to: str) -> bool:
    """Whether an audit in state ``current`` may move to ``to`` (``TRANSITIONS``)."""
    return to in TRANSITIONS.get(current, frozenset())


# ---------------------------------------------------------------- the draw

def roll(rng: random.Random) -> Decimal:
    """A roll uniform over [0, 1) in steps of 0.000001, from ``rng`` (``secrets.SystemRandom()`` in production, a
    seeded ``random.Random`` in tests)."""
    return Decimal(rng.randrange(ROLL_STEPS)) / ROLL_STEPS


def is_selected(*, roll: Decimal, rate: Decimal) -> bool:
    """A renewal is selected when its roll is below the rate: with rolls uniform over [0, 1) in steps of 0.000001,
    exactly ``rate`` of all rolls select (to six places). A rate of 0 selects none, a rate of 1 all."""
    return roll < rate


# ---------------------------------------------------------------- dates

def due_on(*, selected_on: date, days: int) -> date:
    """The due date of documents for an audit selected on ``selected_on`` (the person's date then), ``days`` later;
    due by 11:59 PM that day, the person's time. Also the end of a second window given on ``selected_on``."""
    return selected_on + timedelta(days=days)


def is_overdue(*, deadline: date, today: date) -> bool:
    """True once ``deadline`` has passed: ``today`` (the person's date in their zone) is after it, so the last
    minute of the deadline, 11:59 PM their time, is still in time."""
    return today > deadline


def days_left(*, deadline: date, today: date) -> int:
    """Whole days from ``today`` to ``deadline``: 0 on the due day itself, negative once it has passed."""
    return (deadline - today).days


def reminder_due(*, deadline: date, today: date, offsets: Iterable[int] = REMINDER_DAYS) -> int | None:
    """Which reminder (``offsets``: days before the deadline) belongs to ``today``: the nearest offset at or above
    the days left, so that a run missed on its day still sends it later, and only the latest one is sent when
    several were missed (an audit extended to 5 days sends the 7-day reminder, not the 14-day one too). None
    before the first offset and after the deadline. Each reminder is sent once (``AuditEmail.key``)."""
    left = days_left(deadline=deadline, today=today)
    if left < 0:
        return None
    due = [o for o in offsets if o >= left]
    return min(due) if due else None


# ---------------------------------------------------------------- progress and the verdict

@dataclass(frozen=True)
class Progress:
    documented: int  # credits with proof, verified or accepted
    total: int  # credits that still matter: every one but those rejected

    @property
    def label(self) -> str:
        return f"{self.documented} of {self.total} credit{'' if self.total == 1 else 's'} documented"

    @property
    def complete(self) -> bool:
        return self.documented == self.total


def progress(states: Iterable[str]) -> Progress:
    """How far the certificant is: credits documented (proof uploaded, verified or accepted) of those still in the
    audit (a rejected credit no longer counts either way; a replacement takes its place)."""
    states = list(states)
    return Progress(documented=sum(s in DONE_STATES for s in states), total=sum(s != REJECTED for s in states))


@dataclass(frozen=True)
class AuditedCredit:
    id: int
    date_earned: date
    cecs: Decimal
    format: str
    state: str


@dataclass(frozen=True)
class Verdict:
    counted: Decimal  # CECs of accepted and verified credits that count toward the cycle (yearly caps applied)
    required: int

    @property
    def can_pass(self) -> bool:
        return self.counted >= self.required

    @property
    def short(self) -> Decimal:
        """CECs still missing (0 when it can pass)."""
        return max(Decimal(self.required) - self.counted, Decimal("0"))

    @property
    def label(self) -> str:
        return f"{cec_rules.format_cecs(min(self.counted, Decimal(self.required)))} of {self.required} CECs accepted"


def verdict(*, credits: Iterable[AuditedCredit], start: date, end: date, required: int,
            caps: Mapping[str, Decimal]) -> Verdict:
    """Whether the audited cycle (``start`` to ``end``) is met by its accepted and verified ``credits`` alone,
    counted as the portal counts them (``cecs.rules.count_credits``: no credit outside the cycle, the yearly
    caps by format); documented credits not yet reviewed, needed and rejected ones count for nothing."""
    counting = [cec_rules.Credit(c.id, c.date_earned, c.cecs, c.format) for c in credits if c.state in COUNTING_STATES]
    lines = cec_rules.count_credits(counting, start=start, end=end, caps=caps)
    return Verdict(counted=cec_rules.counted_total(lines), required=required)
