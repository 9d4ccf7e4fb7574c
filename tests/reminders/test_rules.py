"""Which reminder is due on each day of a person's year: the pure rules (``reminders.rules``), no database.

Every date is placed from ``Y``, the clock's year (``C`` the first common year from it, ``L`` the first leap year
from it), so the same cases hold whatever the date. The expected windows are written out here, day and month, from
the program's offsets: cycle ending 180/90/30/7 days before the end, the grace period's start (Jan 1 for a Dec 31
cycle) for 14 days, grace ending 30 and 7 days before June 30, lapsed once for 30 days; CPR/AED card 60 and 30 days
before its expiry. A later reminder supersedes an earlier one still in its window; a "days before" one is never
due after the day it speaks of.
"""

import calendar
from datetime import date, time, timedelta

import pytest

from acsm_portal import clock
from reminders import rules
from reminders.rules import CPR_EXPIRING, CYCLE_ENDING, GRACE_ENDING, GRACE_STARTED, LAPSED, CycleFacts, Due
from tests.dates import next_leap_year

Y = clock.today().year
L = next_leap_year(Y - 1)  # the first leap year from Y (Y itself when it is one)
C = Y if not calendar.isleap(Y) else Y + 1  # the first common year from Y

CERT, CYCLE = 7, 70
DAY = timedelta(days=1)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def facts(end: date, **kwargs) -> CycleFacts:
    """A three-year cycle ending on ``end``."""
    start = kwargs.pop("start", date(end.year - 3, end.month, 1) + DAY)
    return CycleFacts(certification_id=CERT, cycle_id=CYCLE, start=start, end=end, **kwargs)


def due_on(windows: list[tuple[date, date, str, int, date]], day: date) -> list[Due]:
    """The reminder the table ``windows`` (first day, last day, kind, offset, about) says is due on ``day``."""
    hits = [Due(kind, CERT, CYCLE, offset, about) for first, last, kind, offset, about in windows
            if first <= day <= last]
    assert len(hits) <= 1, f"the expected table overlaps on {day}"
    return hits


def walk(start: date, stop: date) -> list[date]:
    return [start + days(n) for n in range((stop - start).days + 1)]


def schedule(cycle: CycleFacts, first: date, last: date) -> dict[date, list[Due]]:
    """What the rules say is due on each day from ``first`` to ``last``, days with nothing left out."""
    found = {}
    for day in walk(first, last):
        if due := rules.reminders_due([cycle], today=day):
            found[day] = due
    return found


def expected(windows, first: date, last: date) -> dict[date, list[Due]]:
    return {day: hits for day in walk(first, last) if (hits := due_on(windows, day))}


# ---------------------------------------------------------------- the program's cycle: ending Dec 31 of Y

END = date(Y, 12, 31)
GRACE_END = date(Y + 1, 6, 30)
DEC_31_WINDOWS = [
    (date(Y, 7, 4), date(Y, 7, 17), CYCLE_ENDING, 180, END),  # Jul 4 is 180 days before Dec 31, every year
    (date(Y, 10, 2), date(Y, 10, 15), CYCLE_ENDING, 90, END),
    (date(Y, 12, 1), date(Y, 12, 7), CYCLE_ENDING, 30, END),
    (date(Y, 12, 24), date(Y, 12, 31), CYCLE_ENDING, 7, END),
    (date(Y + 1, 1, 1), date(Y + 1, 1, 14), GRACE_STARTED, 0, END),
    (date(Y + 1, 5, 31), date(Y + 1, 6, 13), GRACE_ENDING, 30, GRACE_END),
    (date(Y + 1, 6, 23), date(Y + 1, 6, 30), GRACE_ENDING, 7, GRACE_END),
    (date(Y + 1, 7, 1), date(Y + 1, 7, 30), LAPSED, 0, GRACE_END),
]
WALK = walk(END - days(200), GRACE_END + days(40))


def test_the_table_speaks_of_the_program_offsets():
    """The written-out dates are the offsets they stand for (so the table itself cannot drift)."""
    assert [(about - first).days for first, _, kind, _, about in DEC_31_WINDOWS if kind != LAPSED] == [
        180, 90, 30, 7, -1, 30, 7]
    assert DEC_31_WINDOWS[-1][0] == GRACE_END + DAY
    assert len(WALK) == 200 + (GRACE_END - END).days + 40 + 1


@pytest.mark.parametrize("day", WALK, ids=lambda d: f"{d:%b%d}{(d - END).days:+d}")
def test_a_dec_31_cycle_day_by_day(day):
    assert rules.reminders_due([facts(END)], today=day) == due_on(DEC_31_WINDOWS, day)


@pytest.mark.parametrize(("day", "due"), [
    (END - days(181), []),  # the day before the first reminder
    (END - days(180), [(CYCLE_ENDING, 180)]),
    (END - days(167), [(CYCLE_ENDING, 180)]),  # a run that missed 13 days still catches up
    (END - days(166), []),  # past its window: "180 days left" is no longer sent
    (END - days(95), []),  # missed the 180-day one: nothing, not a late "180 days"
    (END - days(90), [(CYCLE_ENDING, 90)]),
    (END - days(30), [(CYCLE_ENDING, 30)]),
    (END - days(29), [(CYCLE_ENDING, 30)]),  # the day after: the 30-day one caught up
    (END - days(23), []),
    (END - days(7), [(CYCLE_ENDING, 7)]),
    (END, [(CYCLE_ENDING, 7)]),  # the last day of the cycle
    (END + days(1), [(GRACE_STARTED, 0)]),  # Jan 1: never "7 days left" after the end
    (END + days(14), [(GRACE_STARTED, 0)]),
    (END + days(15), []),
    (GRACE_END - days(30), [(GRACE_ENDING, 30)]),
    (GRACE_END, [(GRACE_ENDING, 7)]),
    (GRACE_END + days(1), [(LAPSED, 0)]),
    (GRACE_END + days(30), [(LAPSED, 0)]),
    (GRACE_END + days(31), []),  # lapsed once, and only for 30 days
], ids=lambda v: f"{(v - END).days:+d}" if isinstance(v, date) else None)
def test_catching_up_only_on_the_latest_reminder(day, due):
    assert [(d.kind, d.offset) for d in rules.reminders_due([facts(END)], today=day)] == due


# ---------------------------------------------------------------- cycles ending on other days

def standard(end: date, grace_end: date) -> list[tuple]:
    """The windows of a cycle ending on ``end`` whose grace period (to ``grace_end``) is long enough for all."""
    return [
        (end - days(180), end - days(167), CYCLE_ENDING, 180, end),
        (end - days(90), end - days(77), CYCLE_ENDING, 90, end),
        (end - days(30), end - days(24), CYCLE_ENDING, 30, end),
        (end - days(7), end, CYCLE_ENDING, 7, end),
        (end + DAY, end + days(14), GRACE_STARTED, 0, end),
        (grace_end - days(30), grace_end - days(17), GRACE_ENDING, 30, grace_end),
        (grace_end - days(7), grace_end, GRACE_ENDING, 7, grace_end),
        (grace_end + DAY, grace_end + days(30), LAPSED, 0, grace_end),
    ]


def short_grace(end: date, *, started_until: date, ending_30: bool, ending_7: bool) -> list[tuple]:
    """A cycle ending in the first half of the year: its grace period ends this June 30, so the grace period's
    start is superseded early (``started_until``), and a grace-ending reminder whose moment is not after the
    grace period's first day is not sent at all (it would speak of the grace period before it began)."""
    grace_end = date(end.year, 6, 30)
    windows = standard(end, grace_end)[:4]
    windows.append((end + DAY, started_until, GRACE_STARTED, 0, end))
    if ending_30:
        windows.append((grace_end - days(30), grace_end - days(17), GRACE_ENDING, 30, grace_end))
    if ending_7:
        windows.append((grace_end - days(7), grace_end, GRACE_ENDING, 7, grace_end))
    windows.append((grace_end + DAY, grace_end + days(30), LAPSED, 0, grace_end))
    return windows


OTHER_ENDS = {
    "Feb 29 of a leap year": (date(L, 2, 29), standard(date(L, 2, 29), date(L, 6, 30))),
    "Feb 28 of a common year": (date(C, 2, 28), standard(date(C, 2, 28), date(C, 6, 30))),
    "Feb 28 of a leap year: the grace period starts Feb 29": (
        date(L, 2, 28), standard(date(L, 2, 28), date(L, 6, 30))),
    "Jun 30: a grace period of a whole year": (date(Y, 6, 30), standard(date(Y, 6, 30), date(Y + 1, 6, 30))),
    "Sep 30": (date(Y, 9, 30), standard(date(Y, 9, 30), date(Y + 1, 6, 30))),
    "May 20: grace started superseded on May 31": (
        date(Y, 5, 20), short_grace(date(Y, 5, 20), started_until=date(Y, 5, 30), ending_30=True, ending_7=True)),
    "May 30: grace ending 30 would fall on the grace period's first day": (
        date(Y, 5, 30), short_grace(date(Y, 5, 30), started_until=date(Y, 6, 13), ending_30=False, ending_7=True)),
    "Jun 15: grace ending 30 would fall inside the cycle": (
        date(Y, 6, 15), short_grace(date(Y, 6, 15), started_until=date(Y, 6, 22), ending_30=False, ending_7=True)),
    "Jun 29: a grace period of one day": (
        date(Y, 6, 29), short_grace(date(Y, 6, 29), started_until=date(Y, 6, 30), ending_30=False, ending_7=False)),
}


@pytest.mark.parametrize(("end", "windows"), OTHER_ENDS.values(), ids=OTHER_ENDS.keys())
def test_cycles_ending_on_other_days(end, windows):
    grace_end = windows[-1][4]
    first, last = end - days(200), grace_end + days(40)
    assert schedule(facts(end), first, last) == expected(windows, first, last)


def test_a_leap_day_end_counts_the_leap_day():
    """180 days before Feb 29 and Mar 1 after it: the day arithmetic keeps the leap day."""
    assert schedule(facts(date(L, 2, 29)), date(L, 2, 28), date(L, 3, 1)) == {
        date(L, 2, 28): [Due(CYCLE_ENDING, CERT, CYCLE, 7, date(L, 2, 29))],
        date(L, 2, 29): [Due(CYCLE_ENDING, CERT, CYCLE, 7, date(L, 2, 29))],
        date(L, 3, 1): [Due(GRACE_STARTED, CERT, CYCLE, 0, date(L, 2, 29))],
    }
    assert rules.reminders_due([facts(date(L, 2, 29))], today=date(L - 1, 9, 2)) == [
        Due(CYCLE_ENDING, CERT, CYCLE, 180, date(L, 2, 29))]  # Sep 2 to Feb 29 is 180 days with the leap day


def test_every_track_is_in_the_order_of_its_moments():
    for end in [END, *(end for end, _ in OTHER_ENDS.values())]:
        moments = [step.moment for step in rules.cycle_track(end=end)]
        assert moments == sorted(moments) and len(set(moments)) == len(moments), end


# ---------------------------------------------------------------- the CPR/AED card

def cpr_windows(expires_on: date, *, sixty_until: date | None = None, thirty: bool = True) -> list[tuple]:
    windows = [(expires_on - days(60), sixty_until or expires_on - days(47), CPR_EXPIRING, 60, expires_on)]
    if thirty:
        windows.append((expires_on - days(30), expires_on, CPR_EXPIRING, 30, expires_on))
    return windows


CARDS = {
    "expiring Oct 15, in the cycle": (date(Y, 10, 15), [
        (date(Y, 8, 16), date(Y, 8, 29), CPR_EXPIRING, 60, date(Y, 10, 15)),
        (date(Y, 9, 15), date(Y, 10, 15), CPR_EXPIRING, 30, date(Y, 10, 15)),
    ]),
    "expiring on the cycle end": (END, [
        (date(Y, 11, 1), date(Y, 11, 14), CPR_EXPIRING, 60, END),
        (date(Y, 12, 1), END, CPR_EXPIRING, 30, END),
    ]),
    "expiring Mar 31, in the grace period": (date(Y + 1, 3, 31), cpr_windows(date(Y + 1, 3, 31))),
    # 60 days before falls in the grace period; 30 days before the certification has lapsed: nothing.
    "expiring Aug 15, after the grace period": (date(Y + 1, 8, 15), cpr_windows(date(Y + 1, 8, 15), thirty=False)),
    "expired before the walk": (END - days(250), []),
}


@pytest.mark.parametrize(("expires_on", "card"), CARDS.values(), ids=CARDS.keys())
def test_card_reminders_run_beside_the_cycle_and_never_after_expiry(expires_on, card):
    first, last = END - days(200), GRACE_END + days(40)
    found = schedule(facts(END, cpr_expires_on=expires_on), first, last)
    cycle, cards = expected(DEC_31_WINDOWS, first, last), expected(card, first, last)
    assert found == {day: cycle.get(day, []) + cards.get(day, []) for day in walk(first, last)
                     if day in cycle or day in cards}
    assert not any(d.kind == CPR_EXPIRING for day, due in found.items() if day > expires_on for d in due)


def test_the_card_and_the_cycle_on_the_same_morning():
    assert rules.reminders_due([facts(END, cpr_expires_on=END)], today=date(Y, 12, 1)) == [
        Due(CYCLE_ENDING, CERT, CYCLE, 30, END), Due(CPR_EXPIRING, CERT, CYCLE, 30, END)]


def test_renewed_early_nothing_is_due():
    """Renewed before the end: the open cycle is the next one, not started yet (status RENEWED); its card
    expiring Dec 15 and the old cycle's end are spoken of by no reminder."""
    renewed = facts(date(Y + 3, 12, 31), start=date(Y + 1, 1, 1), cpr_expires_on=date(Y, 12, 15))
    assert schedule(renewed, END - days(200), date(Y + 1, 1, 1) - DAY) == {}
    # The card's 30-day window would be open: Nov 15 to Dec 15.
    assert rules.reminders_due([facts(END, cpr_expires_on=date(Y, 12, 15))], today=date(Y, 11, 15)) == [
        Due(CPR_EXPIRING, CERT, CYCLE, 30, date(Y, 12, 15))]


def test_a_suspended_certification_gets_nothing():
    suspended = facts(END, suspended=True, cpr_expires_on=date(Y, 12, 15))
    assert schedule(suspended, END - days(200), GRACE_END + days(40)) == {}


def test_several_certifications_each_their_own_track():
    other = CycleFacts(certification_id=8, cycle_id=80, start=date(Y - 1, 1, 1), end=date(Y + 1, 12, 31),
                       cpr_expires_on=date(Y, 12, 31))
    suspended = CycleFacts(certification_id=9, cycle_id=90, start=date(Y - 2, 1, 1), end=END, suspended=True)
    assert rules.reminders_due([facts(END), other, suspended], today=date(Y, 12, 1)) == [
        Due(CYCLE_ENDING, CERT, CYCLE, 30, END), Due(CPR_EXPIRING, 8, 80, 30, date(Y, 12, 31))]


# ---------------------------------------------------------------- hours and the card's warning

@pytest.mark.parametrize(("at", "sends"), [
    (time(0, 0), False), (time(7, 59), False), (time(8, 0), True), (time(12, 0), True), (time(20, 59), True),
    (time(21, 0), False), (time(23, 59), False),
])
def test_in_sending_hours(at, sends):
    assert rules.in_sending_hours(at.hour) is sends


@pytest.mark.parametrize(("expires_on", "before"), [
    (END - DAY, True), (END, True), (END + DAY, False), (END + days(365), False),
])
def test_card_expires_before_next_cycle(expires_on, before):
    assert rules.card_expires_before_next_cycle(expires_on=expires_on, cycle_end=END) is before
