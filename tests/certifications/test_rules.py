"""Pure certification rules: cycles, grace period, status, the speedometer, RENEW eligibility.

No database: plain dataclasses, ``today`` passed in. No literal years either: every date is placed from
``Y``, the clock's year, and ``L``, a leap year after it, so the same cases hold whatever the date.
"""

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acsm_portal import clock
from cecs.rules import Credit, count_credits, counted_total
from certifications.rules import (
    Cpr,
    CprState,
    Eligibility,
    Speedometer,
    Status,
    add_years,
    cycle_status,
    date_in_cycles,
    format_cycle,
    grace_ends,
    next_cycle,
    renew_eligibility,
    speedometer,
)
from tests.dates import next_leap_year

PROPERTY = settings(max_examples=200, deadline=None, database=None)

Y = clock.today().year  # the base year every date here is placed from
# A leap year, so the cycle START - END holds a Feb 29; the first after Y whose neighbours every four years from
# L-4 to L+16 are leap years too (so a century's missing Feb 29, as in 2100, never lands inside these cases).
L = next_leap_year(Y)
while not all(calendar.isleap(L + 4 * k) for k in range(-1, 5)):
    L = next_leap_year(L)
START, END = date(L, 1, 1), date(L + 2, 12, 31)
CAPS = {"teaching": Decimal("5"), "volunteering": Decimal("8"), "cpr_aed": Decimal("5")}

UPLOAD = "Upload your current CPR/AED certificate."
RENEWED_MSG = "This certification is already renewed."
LAPSED_MSG = "This certification has lapsed; contact us about reinstatement."


def D(value: str) -> Decimal:
    return Decimal(value)


# ---------------------------------------------------------------- labels


def test_status_labels_match_the_portal():
    assert Status.IN_PROCESS.value == "Recertification in Process"
    assert Status.GRACE.value == "Expired (grace period)"
    assert Status.RENEWED.value == "Recertified"
    assert Status.LAPSED.value == "Lapsed"


def test_cpr_defaults_to_not_uploaded():
    assert Cpr() == Cpr(state=CprState.NOT_UPLOADED, expires_on=None, reason="")


# ---------------------------------------------------------------- add_years / next_cycle


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        pytest.param(date(L, 1, 1), 3, date(L + 3, 1, 1), id="jan-1"),
        pytest.param(date(L, 2, 29), 1, date(L + 1, 2, 28), id="feb-29-to-common-year"),
        pytest.param(date(L, 2, 29), 3, date(L + 3, 2, 28), id="feb-29-plus-3"),
        pytest.param(date(L, 2, 29), 4, date(L + 4, 2, 29), id="feb-29-to-leap-year"),
        pytest.param(date(L, 2, 29), -1, date(L - 1, 2, 28), id="feb-29-back-to-common-year"),
        pytest.param(date(L, 2, 29), -4, date(L - 4, 2, 29), id="feb-29-back-to-leap-year"),
        # The same calendar day: Feb 28 stays Feb 28 here (next_cycle is what keeps a month end a month end).
        pytest.param(date(L - 1, 2, 28), 1, date(L, 2, 28), id="feb-28-into-leap-year"),
        pytest.param(date(L - 1, 3, 1), 1, date(L, 3, 1), id="mar-1-into-leap-year"),
        pytest.param(date(L + 2, 12, 31), 3, date(L + 5, 12, 31), id="dec-31"),
        pytest.param(date(L + 1, 6, 15), 0, date(L + 1, 6, 15), id="zero-years"),
    ],
)
def test_add_years(day, years, expected):
    assert add_years(day, years) == expected


@pytest.mark.parametrize(
    ("end", "years", "expected"),
    [
        pytest.param(date(L + 2, 12, 31), 3, (date(L + 3, 1, 1), date(L + 5, 12, 31)), id="dec-31"),
        pytest.param(date(L - 1, 12, 31), 3, (date(L, 1, 1), date(L + 2, 12, 31)), id="holds-a-feb-29"),
        pytest.param(date(L + 3, 12, 31), 3, (date(L + 4, 1, 1), date(L + 6, 12, 31)), id="holds-the-next-feb-29"),
        pytest.param(date(L + 5, 12, 31), 3, (date(L + 6, 1, 1), date(L + 8, 12, 31)), id="ends-in-a-leap-year"),
        pytest.param(date(L + 2, 12, 31), 1, (date(L + 3, 1, 1), date(L + 3, 12, 31)), id="one-year"),
        pytest.param(date(L + 2, 12, 31), 2, (date(L + 3, 1, 1), date(L + 4, 12, 31)), id="two-years"),
        pytest.param(date(L + 1, 6, 30), 3, (date(L + 1, 7, 1), date(L + 4, 6, 30)), id="jun-30"),
        pytest.param(date(L + 1, 3, 31), 2, (date(L + 1, 4, 1), date(L + 3, 3, 31)), id="mar-31"),
        # An end on the last day of February stays on the last day of February ...
        pytest.param(date(L - 1, 2, 28), 1, (date(L - 1, 3, 1), date(L, 2, 29)), id="feb-28-common-to-leap-year"),
        pytest.param(date(L - 3, 2, 28), 3, (date(L - 3, 3, 1), date(L, 2, 29)), id="feb-28-common-plus-3-to-leap"),
        pytest.param(date(L - 1, 2, 28), 3, (date(L - 1, 3, 1), date(L + 2, 2, 28)), id="feb-28-common-to-common"),
        pytest.param(date(L, 2, 29), 1, (date(L, 3, 1), date(L + 1, 2, 28)), id="feb-29-to-common-year"),
        pytest.param(date(L, 2, 29), 4, (date(L, 3, 1), date(L + 4, 2, 29)), id="feb-29-to-leap-year"),
        # ... and Feb 28 of a leap year is not a month end: the next cycle starts on Feb 29 and ends on Feb 28.
        pytest.param(date(L, 2, 28), 1, (date(L, 2, 29), date(L + 1, 2, 28)), id="feb-28-leap-to-common-year"),
        pytest.param(date(L, 2, 28), 4, (date(L, 2, 29), date(L + 4, 2, 28)), id="feb-28-leap-to-leap-year"),
    ],
)
def test_next_cycle(end, years, expected):
    assert next_cycle(end=end, years=years) == expected


def test_next_cycle_chain_is_contiguous_across_leap_years():
    start, end = START, END
    seen = [(start, end)]
    for _ in range(5):
        start, end = next_cycle(end=end, years=3)
        assert start == seen[-1][1] + timedelta(days=1)
        seen.append((start, end))
    assert seen == [
        (date(L, 1, 1), date(L + 2, 12, 31)),
        (date(L + 3, 1, 1), date(L + 5, 12, 31)),
        (date(L + 6, 1, 1), date(L + 8, 12, 31)),
        (date(L + 9, 1, 1), date(L + 11, 12, 31)),
        (date(L + 12, 1, 1), date(L + 14, 12, 31)),
        (date(L + 15, 1, 1), date(L + 17, 12, 31)),
    ]
    # Lengths differ only by how many Feb 29s the cycle holds (L+9 to L+11 has none).
    assert [(e - s).days + 1 for s, e in seen] == [1096, 1096, 1096, 1095, 1096, 1096]


def test_next_cycle_after_any_dec_31_is_whole_calendar_years():
    # Exhaustive rather than sampled: every end year from 26 years back to 174 ahead, cycle length 1..5 years.
    for year in range(Y - 26, Y + 175):
        for years in range(1, 6):
            start, end = next_cycle(end=date(year, 12, 31), years=years)
            assert start == date(year + 1, 1, 1)
            assert end == date(year + years, 12, 31)
            leap_days = sum(1 for y in range(year + 1, year + years + 1) if calendar.isleap(y))
            assert (end - start).days + 1 == 365 * years + leap_days


def last_of_february(year: int) -> date:
    return date(year, 3, 1) - timedelta(days=1)


def renewals(first_end: date, years: int, times: int = 20) -> list[tuple[date, date]]:
    """The cycles of ``times`` renewals in a row after a cycle ending on ``first_end``."""
    cycles, end = [], first_end
    for _ in range(times):
        start, end = next_cycle(end=end, years=years)
        cycles.append((start, end))
    return cycles


FEBRUARY_ENDS = {
    "feb-28-of-a-leap-year": date(L, 2, 28),  # the next cycle starts on Feb 29
    "feb-29": date(L, 2, 29),
    "feb-28-of-a-common-year": date(L - 1, 2, 28),
}


@pytest.mark.parametrize("years", [1, 2, 3, 4, 5], ids=lambda n: f"{n}-year")
@pytest.mark.parametrize("first_end", list(FEBRUARY_ENDS.values()), ids=list(FEBRUARY_ENDS))
def test_twenty_renewals_from_a_february_end_never_drift(first_end, years):
    cycles = renewals(first_end, years)
    assert len(cycles) == 20
    previous = first_end
    for start, end in cycles:
        assert start == previous + timedelta(days=1)  # contiguous: no gap, no overlap
        if previous == last_of_february(previous.year):
            assert end == last_of_february(previous.year + years)  # a month end stays a month end
        else:
            assert end == date(previous.year + years, previous.month, previous.day)  # the same calendar day
        assert (end.month, end.day) in ((2, 28), (2, 29))  # never Feb 27, never Mar 1
        previous = end
    if first_end != date(L, 2, 28):
        # Started on a month end: every end is the last day of February, Feb 29 in each leap year.
        assert [end for _, end in cycles] == [last_of_february(first_end.year + years * n) for n in range(1, 21)]


def test_yearly_renewals_from_feb_28_of_a_leap_year():
    assert renewals(date(L, 2, 28), 1, times=6) == [
        (date(L, 2, 29), date(L + 1, 2, 28)),
        (date(L + 1, 3, 1), date(L + 2, 2, 28)),
        (date(L + 2, 3, 1), date(L + 3, 2, 28)),
        (date(L + 3, 3, 1), date(L + 4, 2, 29)),
        (date(L + 4, 3, 1), date(L + 5, 2, 28)),
        (date(L + 5, 3, 1), date(L + 6, 2, 28)),
    ]


def test_four_year_renewals_from_feb_28_of_a_leap_year_stay_on_feb_28():
    assert renewals(date(L, 2, 28), 4, times=4) == [
        (date(L, 2, 29), date(L + 4, 2, 28)),
        (date(L + 4, 2, 29), date(L + 8, 2, 28)),
        (date(L + 8, 2, 29), date(L + 12, 2, 28)),
        (date(L + 12, 2, 29), date(L + 16, 2, 28)),
    ]


def test_three_year_renewals_from_feb_28_of_a_common_year():
    assert renewals(date(L - 1, 2, 28), 3, times=5) == [
        (date(L - 1, 3, 1), date(L + 2, 2, 28)),
        (date(L + 2, 3, 1), date(L + 5, 2, 28)),
        (date(L + 5, 3, 1), date(L + 8, 2, 29)),
        (date(L + 8, 3, 1), date(L + 11, 2, 28)),
        (date(L + 11, 3, 1), date(L + 14, 2, 28)),
    ]


def test_three_year_renewals_from_feb_29():
    assert renewals(date(L, 2, 29), 3, times=4) == [
        (date(L, 3, 1), date(L + 3, 2, 28)),
        (date(L + 3, 3, 1), date(L + 6, 2, 28)),
        (date(L + 6, 3, 1), date(L + 9, 2, 28)),
        (date(L + 9, 3, 1), date(L + 12, 2, 29)),
    ]


# ---------------------------------------------------------------- grace period and status


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        pytest.param(date(L + 2, 12, 31), date(L + 3, 6, 30), id="into-a-common-year"),
        pytest.param(date(L - 1, 12, 31), date(L, 6, 30), id="into-a-leap-year"),
        pytest.param(date(L + 3, 12, 31), date(L + 4, 6, 30), id="into-the-next-leap-year"),
    ],
)
def test_grace_ends_june_30_after_a_dec_31_end(end, expected):
    assert grace_ends(end) == expected


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        # Cycles end Dec 31; for a record staff set to another end, the docstring's rule applies:
        # the grace period runs to the first June 30 after the end.
        pytest.param(date(L + 2, 3, 31), date(L + 2, 6, 30), id="mar-31"),
        pytest.param(date(L + 2, 6, 29), date(L + 2, 6, 30), id="jun-29"),
        pytest.param(date(L + 2, 6, 30), date(L + 3, 6, 30), id="jun-30"),
        pytest.param(date(L + 2, 7, 1), date(L + 3, 6, 30), id="jul-1"),
    ],
)
def test_grace_ends_first_june_30_after_any_end(end, expected):
    assert grace_ends(end) == expected


def test_grace_for_any_dec_31_end():
    for year in range(Y - 36, Y + 275):
        assert grace_ends(date(year, 12, 31)) == date(year + 1, 6, 30)


@pytest.mark.parametrize(
    ("today", "status"),
    [
        pytest.param(date(L - 4, 5, 1), Status.RENEWED, id="years-before-the-start"),
        pytest.param(date(L - 1, 12, 31), Status.RENEWED, id="the-day-before-the-start"),
        pytest.param(date(L, 1, 1), Status.IN_PROCESS, id="the-start"),
        pytest.param(date(L, 2, 29), Status.IN_PROCESS, id="leap-day"),
        pytest.param(date(L + 1, 7, 1), Status.IN_PROCESS, id="mid-cycle"),
        pytest.param(date(L + 2, 12, 31), Status.IN_PROCESS, id="the-end"),
        pytest.param(date(L + 3, 1, 1), Status.GRACE, id="the-day-after-the-end"),
        pytest.param(date(L + 3, 3, 15), Status.GRACE, id="mid-grace"),
        pytest.param(date(L + 3, 6, 30), Status.GRACE, id="last-day-of-grace"),
        pytest.param(date(L + 3, 7, 1), Status.LAPSED, id="first-day-lapsed"),
        pytest.param(date(L + 7, 1, 1), Status.LAPSED, id="years-after"),
    ],
)
def test_cycle_status(today, status):
    assert cycle_status(start=START, end=END, today=today) is status


ORDER = [Status.RENEWED, Status.IN_PROCESS, Status.GRACE, Status.LAPSED]


@PROPERTY
@given(
    year=st.integers(min_value=Y - 26, max_value=Y + 74),
    a=st.integers(min_value=-400, max_value=1800),
    b=st.integers(min_value=-400, max_value=1800),
)
def test_property_status_only_moves_forward(year, a, b):
    start, end = date(year, 1, 1), date(year + 2, 12, 31)
    early, late = sorted([start + timedelta(days=a), start + timedelta(days=b)])
    s1 = cycle_status(start=start, end=end, today=early)
    s2 = cycle_status(start=start, end=end, today=late)
    assert ORDER.index(s1) <= ORDER.index(s2)
    for today, status in ((early, s1), (late, s2)):
        expected = (
            Status.RENEWED if today < start
            else Status.IN_PROCESS if today <= end
            else Status.GRACE if today <= date(year + 3, 6, 30)
            else Status.LAPSED
        )
        assert status is expected


# ---------------------------------------------------------------- date_in_cycles / format_cycle


@pytest.mark.parametrize(
    ("day", "cycles", "inside"),
    [
        pytest.param(date(L, 2, 29), [(START, END)], True, id="leap-day"),
        pytest.param(date(L, 1, 1), [(START, END)], True, id="the-start"),
        pytest.param(date(L + 2, 12, 31), [(START, END)], True, id="the-end"),
        pytest.param(date(L - 1, 12, 31), [(START, END)], False, id="the-day-before"),
        pytest.param(date(L + 3, 1, 1), [(START, END)], False, id="the-day-after"),
        pytest.param(date(L + 3, 1, 1), [(START, END), (date(L + 1, 1, 1), date(L + 3, 12, 31))], True,
                     id="in-the-second-cycle"),
        pytest.param(date(L - 1, 6, 1), [(date(L - 2, 1, 1), date(L, 12, 31)), (START, END)], True,
                     id="in-the-first-cycle"),
        pytest.param(date(L, 6, 1), [], False, id="no-cycles"),
    ],
)
def test_date_in_cycles(day, cycles, inside):
    assert date_in_cycles(day, cycles) is inside


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        pytest.param(date(L, 1, 1), date(L + 2, 12, 31), f"1/1/{L} - 12/31/{L + 2}", id="whole-years"),
        pytest.param(date(L + 3, 1, 1), date(L + 5, 12, 31), f"1/1/{L + 3} - 12/31/{L + 5}", id="the-next-cycle"),
        pytest.param(date(L + 1, 3, 5), date(L + 4, 10, 9), f"3/5/{L + 1} - 10/9/{L + 4}", id="no-leading-zeros"),
    ],
)
def test_format_cycle(start, end, text):
    assert format_cycle(start, end) == text


# ---------------------------------------------------------------- speedometer


@pytest.mark.parametrize(
    ("counted", "required", "percent", "shown", "label", "full"),
    [
        ("0", 45, 0, "0", "0 of 45", False),
        ("0.25", 45, 0, "0.25", "0.25 of 45", False),
        ("0.5", 45, 1, "0.5", "0.5 of 45", False),
        ("22.5", 45, 50, "22.5", "22.5 of 45", False),
        ("44.25", 45, 98, "44.25", "44.25 of 45", False),
        ("44.5", 45, 98, "44.5", "44.5 of 45", False),
        ("44.75", 45, 99, "44.75", "44.75 of 45", False),  # 99.44...: never rounds up to 100
        ("45", 45, 100, "45", "45 of 45", True),
        ("45.00", 45, 100, "45", "45 of 45", True),
        ("63", 45, 100, "45", "45 of 45", True),
        ("30", 60, 50, "30", "30 of 60", False),
        ("59.75", 60, 99, "59.75", "59.75 of 60", False),
        ("60", 60, 100, "60", "60 of 60", True),
        ("120", 60, 100, "60", "60 of 60", True),
    ],
)
def test_speedometer(counted, required, percent, shown, label, full):
    meter = speedometer(counted=D(counted), required=required)
    assert meter == Speedometer(percent=percent, shown=D(shown), required=required, total=D(counted))
    assert type(meter.percent) is int
    assert meter.label == label
    assert meter.full is full


def test_speedometer_over_full_keeps_the_total():
    meter = speedometer(counted=D("63"), required=45)
    assert (meter.percent, meter.shown, meter.total, meter.label) == (100, D("45"), D("63"), "45 of 45")


@PROPERTY
@given(quarters=st.integers(min_value=0, max_value=200 * 4), required=st.integers(min_value=1, max_value=120))
def test_property_speedometer(quarters, required):
    counted = Decimal(quarters) / 4
    meter = speedometer(counted=counted, required=required)
    # floor(counted * 100 / required) in exact integer arithmetic
    assert meter.percent == min(100, (quarters * 100) // (4 * required))
    assert 0 <= meter.percent <= 100
    assert meter.shown == min(counted, Decimal(required))
    assert meter.total == counted
    assert meter.full is (counted >= required)
    assert (meter.percent == 100) is meter.full
    assert meter.label.endswith(f" of {required}")
    assert Decimal(meter.label.split(" of ")[0]) == meter.shown


# ---------------------------------------------------------------- RENEW eligibility

TODAY = date(L + 2, 11, 15)  # late in the cycle START - END
FULL = speedometer(counted=D("45"), required=45)
SHORT = speedometer(counted=D("44.75"), required=45)

CPR_STATES = [CprState.NOT_UPLOADED, CprState.PENDING, CprState.APPROVED, CprState.REJECTED]
EXPIRIES = {
    "expired": TODAY - timedelta(days=1),
    "expires_today": TODAY,
    "valid": date(L + 4, 5, 1),
}
STATUSES = [Status.IN_PROCESS, Status.GRACE, Status.LAPSED, Status.RENEWED]


def expected_blockers(*, full: bool, cpr_state: CprState, expiry: str, status: Status) -> tuple[str, ...]:
    """The spec, written out by hand: status, then credits, then the CPR card."""
    blockers = []
    if status is Status.RENEWED:
        blockers.append(RENEWED_MSG)
    if status is Status.LAPSED:
        blockers.append(LAPSED_MSG)
    if not full:
        blockers.append("0.25 more CECs are needed.")
    if cpr_state in (CprState.NOT_UPLOADED, CprState.REJECTED):
        blockers.append(UPLOAD)
    elif expiry == "expired":
        blockers.append(f"Your CPR/AED card expired on 11/14/{L + 2}; upload a current one.")
    return tuple(blockers)


@pytest.mark.parametrize(
    ("full", "cpr_state", "expiry", "status"),
    list(itertools.product([True, False], CPR_STATES, list(EXPIRIES), STATUSES)),
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_renew_eligibility_matrix(full, cpr_state, expiry, status):
    meter = FULL if full else SHORT
    cpr = Cpr(state=cpr_state, expires_on=EXPIRIES[expiry])
    result = renew_eligibility(meter=meter, status=status, cpr=cpr, today=TODAY)
    blockers = expected_blockers(full=full, cpr_state=cpr_state, expiry=expiry, status=status)
    assert result == Eligibility(can_renew=not blockers, late=status is Status.GRACE, blockers=blockers)
    # Spot the spec's rule directly, independent of the blocker list.
    can = (
        full
        and cpr_state in (CprState.PENDING, CprState.APPROVED)
        and expiry != "expired"
        and status in (Status.IN_PROCESS, Status.GRACE)
    )
    assert result.can_renew is can


def test_renew_eligibility_matrix_has_every_combination():
    assert len(list(itertools.product([True, False], CPR_STATES, list(EXPIRIES), STATUSES))) == 96


@pytest.mark.parametrize(
    ("meter", "status", "cpr", "expected"),
    [
        (FULL, Status.IN_PROCESS, Cpr(CprState.APPROVED, date(L + 3, 1, 1)), Eligibility(True, False, ())),
        (FULL, Status.IN_PROCESS, Cpr(CprState.PENDING, TODAY), Eligibility(True, False, ())),
        (FULL, Status.GRACE, Cpr(CprState.APPROVED, date(L + 3, 1, 1)), Eligibility(True, True, ())),
        (FULL, Status.IN_PROCESS, Cpr(), Eligibility(False, False, (UPLOAD,))),
        (
            FULL,
            Status.IN_PROCESS,
            Cpr(CprState.REJECTED, date(L + 4, 1, 1), reason="Blurry photo"),
            Eligibility(False, False, (UPLOAD,)),
        ),
        (
            FULL,
            Status.IN_PROCESS,
            Cpr(CprState.APPROVED, date(L + 2, 3, 9)),
            Eligibility(False, False, (f"Your CPR/AED card expired on 3/9/{L + 2}; upload a current one.",)),
        ),
        (
            speedometer(counted=D("30"), required=60),
            Status.IN_PROCESS,
            Cpr(CprState.APPROVED, date(L + 3, 1, 1)),
            Eligibility(False, False, ("30 more CECs are needed.",)),
        ),
        (
            speedometer(counted=D("44.50"), required=45),  # a DecimalField value
            Status.GRACE,
            Cpr(CprState.APPROVED, date(L + 3, 1, 1)),
            Eligibility(False, True, ("0.5 more CECs are needed.",)),
        ),
        (
            speedometer(counted=D("0"), required=45),
            Status.LAPSED,
            Cpr(),
            Eligibility(False, False, (LAPSED_MSG, "45 more CECs are needed.", UPLOAD)),
        ),
        (
            speedometer(counted=D("63"), required=45),
            Status.RENEWED,
            Cpr(CprState.APPROVED, date(L + 3, 1, 1)),
            Eligibility(False, False, (RENEWED_MSG,)),
        ),
    ],
)
def test_renew_eligibility_examples(meter, status, cpr, expected):
    assert renew_eligibility(meter=meter, status=status, cpr=cpr, today=TODAY) == expected


def test_cpr_expiring_today_is_still_valid_but_not_tomorrow():
    cpr = Cpr(CprState.APPROVED, END)
    ok = renew_eligibility(meter=FULL, status=Status.IN_PROCESS, cpr=cpr, today=END)
    late = renew_eligibility(meter=FULL, status=Status.GRACE, cpr=cpr, today=END + timedelta(days=1))
    assert ok == Eligibility(True, False, ())
    assert late == Eligibility(False, True, (f"Your CPR/AED card expired on 12/31/{L + 2}; upload a current one.",))


def test_two_certifications_with_different_cycles_on_the_same_date():
    """CPT runs L to L+2, EP ran L-2 to L: on March 15 of L+1 the CPT is in process and EP is in grace.

    The same credits fill both tiles where their cycles overlap; each tile has its own CPR card.
    """
    today = date(L + 1, 3, 15)
    cpt = (date(L, 1, 1), date(L + 2, 12, 31))
    ep = (date(L - 2, 1, 1), date(L, 12, 31))
    credits = [
        Credit(1, date(L - 1, 5, 1), D("30"), "live"),  # EP only
        Credit(2, date(L, 2, 29), D("40"), "conference"),  # both
        Credit(3, date(L, 6, 1), D("5"), "teaching"),  # both
        Credit(4, date(L + 1, 1, 10), D("2"), "online"),  # CPT only (after EP's end)
    ]
    assert [date_in_cycles(c.date_earned, [cpt, ep]) for c in credits] == [True, True, True, True]
    assert [date_in_cycles(c.date_earned, [cpt]) for c in credits] == [False, True, True, True]

    cpt_lines = count_credits(credits, start=cpt[0], end=cpt[1], caps=CAPS)
    ep_lines = count_credits(credits, start=ep[0], end=ep[1], caps=CAPS)
    assert [line.counted for line in cpt_lines] == [D("0"), D("40"), D("5"), D("2")]
    assert [line.counted for line in ep_lines] == [D("30"), D("40"), D("5"), D("0")]

    cpt_meter = speedometer(counted=counted_total(cpt_lines), required=45)
    ep_meter = speedometer(counted=counted_total(ep_lines), required=60)
    assert (cpt_meter.percent, cpt_meter.label, cpt_meter.total) == (100, "45 of 45", D("47"))
    assert (ep_meter.percent, ep_meter.label, ep_meter.total) == (100, "60 of 60", D("75"))

    cpt_status = cycle_status(start=cpt[0], end=cpt[1], today=today)
    ep_status = cycle_status(start=ep[0], end=ep[1], today=today)
    assert (cpt_status, ep_status) == (Status.IN_PROCESS, Status.GRACE)

    card = Cpr(CprState.APPROVED, date(L + 2, 6, 1))
    cpt_elig = renew_eligibility(meter=cpt_meter, status=cpt_status, cpr=card, today=today)
    ep_elig = renew_eligibility(meter=ep_meter, status=ep_status, cpr=Cpr(), today=today)
    assert cpt_elig == Eligibility(True, False, ())
    assert ep_elig == Eligibility(False, True, (UPLOAD,))
    ep_elig = renew_eligibility(meter=ep_meter, status=ep_status, cpr=card, today=today)
    assert ep_elig == Eligibility(True, True, ())

    # After July 1 the EP has lapsed while the CPT is still in process.
    later = date(L + 1, 7, 1)
    assert cycle_status(start=ep[0], end=ep[1], today=later) is Status.LAPSED
    assert cycle_status(start=cpt[0], end=cpt[1], today=later) is Status.IN_PROCESS


def test_renewed_early_shows_recertified_until_the_next_cycle_starts():
    start, end = next_cycle(end=END, years=3)
    today = date(L + 2, 10, 1)
    status = cycle_status(start=start, end=end, today=today)
    assert status is Status.RENEWED
    card = Cpr(CprState.APPROVED, date(L + 4, 1, 1))
    result = renew_eligibility(meter=FULL, status=status, cpr=card, today=today)
    assert result == Eligibility(False, False, (RENEWED_MSG,))


cpr_strategy = st.builds(
    Cpr,
    state=st.sampled_from(CPR_STATES),
    # A submitted card always has an expiry date (certifications/cpr/services.py requires it).
    expires_on=st.dates(min_value=date(L, 1, 1), max_value=date(L + 5, 12, 31)),
)


@PROPERTY
@given(
    quarters=st.integers(min_value=0, max_value=100 * 4),
    required=st.sampled_from([45, 60]),
    status=st.sampled_from(STATUSES),
    cpr=cpr_strategy,
    today=st.dates(min_value=date(L, 1, 1), max_value=date(L + 5, 12, 31)),
)
def test_property_renew_eligibility(quarters, required, status, cpr, today):
    meter = speedometer(counted=Decimal(quarters) / 4, required=required)
    result = renew_eligibility(meter=meter, status=status, cpr=cpr, today=today)
    cpr_ok = cpr.state in (CprState.PENDING, CprState.APPROVED) and cpr.expires_on >= today
    assert result.can_renew is (
        Decimal(quarters) / 4 >= required and cpr_ok and status in (Status.IN_PROCESS, Status.GRACE)
    )
    assert result.can_renew is (result.blockers == ())
    assert result.late is (status is Status.GRACE)
    assert len(set(result.blockers)) == len(result.blockers)
