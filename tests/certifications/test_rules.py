"""Pure certification rules: cycles, grace period, status, the speedometer, RENEW eligibility.

No database: plain dataclasses, ``today`` passed in.
"""

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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

PROPERTY = settings(max_examples=200, deadline=None, database=None)

START, END = date(2024, 1, 1), date(2026, 12, 31)
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
        (date(2024, 1, 1), 3, date(2027, 1, 1)),
        (date(2024, 2, 29), 1, date(2025, 2, 28)),
        (date(2024, 2, 29), 3, date(2027, 2, 28)),
        (date(2024, 2, 29), 4, date(2028, 2, 29)),
        (date(2024, 2, 29), -1, date(2023, 2, 28)),
        (date(2024, 2, 29), -4, date(2020, 2, 29)),
        (date(2023, 2, 28), 1, date(2024, 2, 28)),
        (date(2023, 3, 1), 1, date(2024, 3, 1)),
        (date(2026, 12, 31), 3, date(2029, 12, 31)),
        (date(2025, 6, 15), 0, date(2025, 6, 15)),
    ],
)
def test_add_years(day, years, expected):
    assert add_years(day, years) == expected


@pytest.mark.parametrize(
    ("end", "years", "expected"),
    [
        (date(2026, 12, 31), 3, (date(2027, 1, 1), date(2029, 12, 31))),
        (date(2023, 12, 31), 3, (date(2024, 1, 1), date(2026, 12, 31))),  # contains Feb 29, 2024
        (date(2027, 12, 31), 3, (date(2028, 1, 1), date(2030, 12, 31))),  # contains Feb 29, 2028
        (date(2029, 12, 31), 3, (date(2030, 1, 1), date(2032, 12, 31))),  # ends in a leap year
        (date(2026, 12, 31), 1, (date(2027, 1, 1), date(2027, 12, 31))),
        (date(2026, 12, 31), 2, (date(2027, 1, 1), date(2028, 12, 31))),
        (date(2023, 2, 28), 1, (date(2023, 3, 1), date(2024, 2, 29))),  # ends on a leap day
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
        (date(2024, 1, 1), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2029, 12, 31)),
        (date(2030, 1, 1), date(2032, 12, 31)),
        (date(2033, 1, 1), date(2035, 12, 31)),
        (date(2036, 1, 1), date(2038, 12, 31)),
        (date(2039, 1, 1), date(2041, 12, 31)),
    ]
    # Lengths differ only by how many Feb 29s the cycle holds (2033-2035 has none).
    assert [(e - s).days + 1 for s, e in seen] == [1096, 1096, 1096, 1095, 1096, 1096]


def test_next_cycle_after_any_dec_31_is_whole_calendar_years():
    # Exhaustive rather than sampled: every end year 2000..2200 and cycle length 1..5 years.
    for year in range(2000, 2201):
        for years in range(1, 6):
            start, end = next_cycle(end=date(year, 12, 31), years=years)
            assert start == date(year + 1, 1, 1)
            assert end == date(year + years, 12, 31)
            leap_days = sum(1 for y in range(year + 1, year + years + 1) if calendar.isleap(y))
            assert (end - start).days + 1 == 365 * years + leap_days


# ---------------------------------------------------------------- grace period and status


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (date(2026, 12, 31), date(2027, 6, 30)),
        (date(2023, 12, 31), date(2024, 6, 30)),
        (date(2027, 12, 31), date(2028, 6, 30)),
    ],
)
def test_grace_ends_june_30_after_a_dec_31_end(end, expected):
    assert grace_ends(end) == expected


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        # Cycles end Dec 31; for a record staff set to another end, the docstring's rule applies:
        # the grace period runs to the first June 30 after the end.
        (date(2026, 3, 31), date(2026, 6, 30)),
        (date(2026, 6, 29), date(2026, 6, 30)),
        (date(2026, 6, 30), date(2027, 6, 30)),
        (date(2026, 7, 1), date(2027, 6, 30)),
    ],
)
def test_grace_ends_first_june_30_after_any_end(end, expected):
    assert grace_ends(end) == expected


def test_grace_for_any_dec_31_end():
    for year in range(1990, 2301):
        assert grace_ends(date(year, 12, 31)) == date(year + 1, 6, 30)


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (date(2020, 5, 1), Status.RENEWED),
        (date(2023, 12, 31), Status.RENEWED),  # the day before the start
        (date(2024, 1, 1), Status.IN_PROCESS),  # the start
        (date(2024, 2, 29), Status.IN_PROCESS),
        (date(2025, 7, 1), Status.IN_PROCESS),
        (date(2026, 12, 31), Status.IN_PROCESS),  # the end
        (date(2027, 1, 1), Status.GRACE),  # the day after the end
        (date(2027, 3, 15), Status.GRACE),
        (date(2027, 6, 30), Status.GRACE),  # last day of grace
        (date(2027, 7, 1), Status.LAPSED),  # first day lapsed
        (date(2031, 1, 1), Status.LAPSED),
    ],
)
def test_cycle_status(today, status):
    assert cycle_status(start=START, end=END, today=today) is status


ORDER = [Status.RENEWED, Status.IN_PROCESS, Status.GRACE, Status.LAPSED]


@PROPERTY
@given(
    year=st.integers(min_value=2000, max_value=2100),
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
        (date(2024, 2, 29), [(START, END)], True),
        (date(2024, 1, 1), [(START, END)], True),
        (date(2026, 12, 31), [(START, END)], True),
        (date(2023, 12, 31), [(START, END)], False),
        (date(2027, 1, 1), [(START, END)], False),
        (date(2027, 1, 1), [(START, END), (date(2025, 1, 1), date(2027, 12, 31))], True),
        (date(2023, 6, 1), [(date(2022, 1, 1), date(2024, 12, 31)), (START, END)], True),
        (date(2024, 6, 1), [], False),
    ],
)
def test_date_in_cycles(day, cycles, inside):
    assert date_in_cycles(day, cycles) is inside


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (date(2024, 1, 1), date(2026, 12, 31), "1/1/2024 - 12/31/2026"),
        (date(2027, 1, 1), date(2029, 12, 31), "1/1/2027 - 12/31/2029"),
        (date(2025, 3, 5), date(2028, 10, 9), "3/5/2025 - 10/9/2028"),
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

TODAY = date(2026, 11, 15)
FULL = speedometer(counted=D("45"), required=45)
SHORT = speedometer(counted=D("44.75"), required=45)

CPR_STATES = [CprState.NOT_UPLOADED, CprState.PENDING, CprState.APPROVED, CprState.REJECTED]
EXPIRIES = {
    "expired": TODAY - timedelta(days=1),
    "expires_today": TODAY,
    "valid": date(2028, 5, 1),
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
        blockers.append("Your CPR/AED card expired on 11/14/2026; upload a current one.")
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
        (FULL, Status.IN_PROCESS, Cpr(CprState.APPROVED, date(2027, 1, 1)), Eligibility(True, False, ())),
        (FULL, Status.IN_PROCESS, Cpr(CprState.PENDING, TODAY), Eligibility(True, False, ())),
        (FULL, Status.GRACE, Cpr(CprState.APPROVED, date(2027, 1, 1)), Eligibility(True, True, ())),
        (FULL, Status.IN_PROCESS, Cpr(), Eligibility(False, False, (UPLOAD,))),
        (
            FULL,
            Status.IN_PROCESS,
            Cpr(CprState.REJECTED, date(2028, 1, 1), reason="Blurry photo"),
            Eligibility(False, False, (UPLOAD,)),
        ),
        (
            FULL,
            Status.IN_PROCESS,
            Cpr(CprState.APPROVED, date(2026, 3, 9)),
            Eligibility(False, False, ("Your CPR/AED card expired on 3/9/2026; upload a current one.",)),
        ),
        (
            speedometer(counted=D("30"), required=60),
            Status.IN_PROCESS,
            Cpr(CprState.APPROVED, date(2027, 1, 1)),
            Eligibility(False, False, ("30 more CECs are needed.",)),
        ),
        (
            speedometer(counted=D("44.50"), required=45),  # a DecimalField value
            Status.GRACE,
            Cpr(CprState.APPROVED, date(2027, 1, 1)),
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
            Cpr(CprState.APPROVED, date(2027, 1, 1)),
            Eligibility(False, False, (RENEWED_MSG,)),
        ),
    ],
)
def test_renew_eligibility_examples(meter, status, cpr, expected):
    assert renew_eligibility(meter=meter, status=status, cpr=cpr, today=TODAY) == expected


def test_cpr_expiring_today_is_still_valid_but_not_tomorrow():
    cpr = Cpr(CprState.APPROVED, date(2026, 12, 31))
    ok = renew_eligibility(meter=FULL, status=Status.IN_PROCESS, cpr=cpr, today=date(2026, 12, 31))
    late = renew_eligibility(meter=FULL, status=Status.GRACE, cpr=cpr, today=date(2027, 1, 1))
    assert ok == Eligibility(True, False, ())
    assert late == Eligibility(False, True, ("Your CPR/AED card expired on 12/31/2026; upload a current one.",))


def test_two_certifications_with_different_cycles_on_the_same_date():
    """CPT runs 2024-2026, EP ran 2022-2024: on 3/15/2025 the CPT is in process and EP is in grace.

    The same credits fill both tiles where their cycles overlap; each tile has its own CPR card.
    """
    today = date(2025, 3, 15)
    cpt = (date(2024, 1, 1), date(2026, 12, 31))
    ep = (date(2022, 1, 1), date(2024, 12, 31))
    credits = [
        Credit(1, date(2023, 5, 1), D("30"), "live"),  # EP only
        Credit(2, date(2024, 2, 29), D("40"), "conference"),  # both
        Credit(3, date(2024, 6, 1), D("5"), "teaching"),  # both
        Credit(4, date(2025, 1, 10), D("2"), "online"),  # CPT only (after EP's end)
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

    card = Cpr(CprState.APPROVED, date(2026, 6, 1))
    cpt_elig = renew_eligibility(meter=cpt_meter, status=cpt_status, cpr=card, today=today)
    ep_elig = renew_eligibility(meter=ep_meter, status=ep_status, cpr=Cpr(), today=today)
    assert cpt_elig == Eligibility(True, False, ())
    assert ep_elig == Eligibility(False, True, (UPLOAD,))
    ep_elig = renew_eligibility(meter=ep_meter, status=ep_status, cpr=card, today=today)
    assert ep_elig == Eligibility(True, True, ())

    # After July 1 the EP has lapsed while the CPT is still in process.
    later = date(2025, 7, 1)
    assert cycle_status(start=ep[0], end=ep[1], today=later) is Status.LAPSED
    assert cycle_status(start=cpt[0], end=cpt[1], today=later) is Status.IN_PROCESS


def test_renewed_early_shows_recertified_until_the_next_cycle_starts():
    start, end = next_cycle(end=END, years=3)
    today = date(2026, 10, 1)
    status = cycle_status(start=start, end=end, today=today)
    assert status is Status.RENEWED
    card = Cpr(CprState.APPROVED, date(2028, 1, 1))
    result = renew_eligibility(meter=FULL, status=status, cpr=card, today=today)
    assert result == Eligibility(False, False, (RENEWED_MSG,))


cpr_strategy = st.builds(
    Cpr,
    state=st.sampled_from(CPR_STATES),
    # A submitted card always has an expiry date (certifications/services.py requires it).
    expires_on=st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 31)),
)


@PROPERTY
@given(
    quarters=st.integers(min_value=0, max_value=100 * 4),
    required=st.sampled_from([45, 60]),
    status=st.sampled_from(STATUSES),
    cpr=cpr_strategy,
    today=st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 31)),
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
