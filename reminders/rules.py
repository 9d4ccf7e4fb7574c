"""Which reminders are due on a person's day: pure rules over dates, no I/O (``today`` is always passed in).

A certification's open cycle runs one *track* of reminders through its year, in the order of their moments:

    cycle ending 180, 90, 30 and 7 days before the cycle end   (only while the cycle is in process)
    grace period started, the day after the cycle end          ("renew by June 30 with the late fee")
    grace period ending 30 and 7 days before its end
    lapsed, the day after the grace period ends                (once, with how to apply for reinstatement)

and its latest CPR/AED card a second track: 60 and 30 days before the card's expiry date.

On a day, at most one reminder of a track is due: the latest whose moment has come, while its *window* lasts
(``Step.window`` days from the moment, never past the day the reminder speaks of). A run that missed days catches
up on the latest step only: a person is not sent "180 days left" and "90 days left" on the same morning, nor
"7 days left" after the end. Source: SPEC.md "reminders" (each at most once; offsets as listed there).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from certifications import rules as cert_rules

CYCLE_ENDING = "cycle_ending"
GRACE_STARTED = "grace_started"
GRACE_ENDING = "grace_ending"
LAPSED = "lapsed"
CPR_EXPIRING = "cpr_expiring"

CYCLE_ENDING_DAYS = (180, 90, 30, 7)
GRACE_ENDING_DAYS = (30, 7)
CPR_EXPIRING_DAYS = (60, 30)

# The person's local hours in which reminders go out: from 8 AM, and not in the night.
SEND_FROM_HOUR, SEND_UNTIL_HOUR = 8, 21


@dataclass(frozen=True)
class Step:
    """One reminder of a track: its ``kind``, ``offset`` (days before ``about``; 0 for a notice on the day),
    ``about`` (the day it speaks of: the cycle end, the grace period's end, the card's expiry), the first day it is
    due (``moment``) and how many days it stays due (``window``)."""

    kind: str
    offset: int
    about: date
    moment: date
    window: int

    @property
    def last_day(self) -> date:
        """The last day it may still be sent: the window's last day, and for a "days before" reminder never after
        the day it speaks of."""
        last = self.moment + timedelta(days=self.window - 1)
        return min(last, self.about) if self.offset else last


@dataclass(frozen=True)
class CycleFacts:
    """What the rules need of one open cycle: its certification, dates, whether the certification is suspended (a
    failed audit: staff speak to the person, the portal does not remind), and its latest submitted CPR/AED card
    (``cpr_expires_on`` None when there is none, or it was rejected)."""

    certification_id: int
    cycle_id: int
    start: date
    end: date
    suspended: bool = False
    cpr_expires_on: date | None = None


@dataclass(frozen=True)
class Due:
    """A reminder due on a day for one certification's cycle: the record's key is
    ``(person, kind, certification_id, cycle_id, offset, about)``."""

    kind: str
    certification_id: int
    cycle_id: int
    offset: int
    about: date


def cycle_track(*, end: date) -> list[Step]:
    """The cycle's reminders in the order of their moments, for a cycle ending on ``end``.

    A cycle ending in the first half of the year has a grace period shorter than a month or two (it ends this June
    30): a grace-ending reminder whose moment is not after the grace period's first day is left out, since it would
    speak of the grace period before it began (or on the day the grace-started notice is due)."""
    grace_end = cert_rules.grace_ends(end)
    grace_start = end + timedelta(days=1)
    steps = [Step(CYCLE_ENDING, days, end, end - timedelta(days=days), window)
             for days, window in zip(CYCLE_ENDING_DAYS, (14, 14, 7, 8))]
    steps.append(Step(GRACE_STARTED, 0, end, grace_start, 14))
    steps += [Step(GRACE_ENDING, days, grace_end, grace_end - timedelta(days=days), window)
              for days, window in zip(GRACE_ENDING_DAYS, (14, 8))
              if grace_end - timedelta(days=days) > grace_start]
    steps.append(Step(LAPSED, 0, grace_end, grace_end + timedelta(days=1), 30))
    return steps


def cpr_track(*, expires_on: date) -> list[Step]:
    """The card's reminders, 60 and 30 days before ``expires_on`` (the last day the card is valid)."""
    return [Step(CPR_EXPIRING, days, expires_on, expires_on - timedelta(days=days), window)
            for days, window in zip(CPR_EXPIRING_DAYS, (14, 31))]


def step_due(track: list[Step], *, today: date) -> Step | None:
    """The step of ``track`` due on ``today``: the latest whose moment has come, if ``today`` is within its window;
    else None."""
    current = None
    for step in track:
        if step.moment <= today:
            current = step
    if current is None or today > current.last_day:
        return None
    return current


def reminders_due(cycles: list[CycleFacts], *, today: date) -> list[Due]:
    """The reminders due on ``today`` (the person's own date) for their open ``cycles``, at most one per track.

    A cycle renewed early (its open cycle has not started yet) has nothing due; a suspended certification's cycle
    track is silent (its card reminders too). Card reminders run while the cycle can still be renewed (in process
    or in the grace period)."""
    found = []
    for cycle in cycles:
        status = cert_rules.cycle_status(start=cycle.start, end=cycle.end, today=today)
        if status is cert_rules.Status.RENEWED or cycle.suspended:
            continue
        step = step_due(cycle_track(end=cycle.end), today=today)
        if step is not None:
            found.append(Due(step.kind, cycle.certification_id, cycle.cycle_id, step.offset, step.about))
        if cycle.cpr_expires_on is not None and status in (cert_rules.Status.IN_PROCESS, cert_rules.Status.GRACE):
            step = step_due(cpr_track(expires_on=cycle.cpr_expires_on), today=today)
            if step is not None:
                found.append(Due(step.kind, cycle.certification_id, cycle.cycle_id, step.offset, step.about))
    return found


def in_sending_hours(hour: int) -> bool:
    """Whether reminders go out at ``hour`` (0-23) of a person's local day."""
    return SEND_FROM_HOUR <= hour < SEND_UNTIL_HOUR


def card_expires_before_next_cycle(*, expires_on: date, cycle_end: date) -> bool:
    """Whether a card expiring on ``expires_on`` runs out before the next cycle would start (the day after
    ``cycle_end``): renewing after that day needs a renewed card (SPEC.md: the card must be valid on the renewal
    date)."""
    return expires_on <= cycle_end
