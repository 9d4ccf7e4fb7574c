"""Pure CEC rules: unit conversion, quarter steps, which credits count, yearly caps, totals.

No database: everything here runs on plain dataclasses in milliseconds. No literal years: the cycle START - END
runs three years from ``L``, the first leap year after the clock's year, so it holds a Feb 29 on any date.
"""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acsm_portal import clock
from cecs.rules import (
    CECS_PER_UNIT,
    MAX_CECS_PER_ENTRY,
    CountedCredit,
    Credit,
    count_credits,
    counted_total,
    format_cecs,
    is_quarter_step,
    to_cecs,
)
from tests.dates import next_leap_year

# The real format codes and the seeded yearly caps (cecs/migrations/0002_seed_yearly_caps.py).
CAPS = {"teaching": Decimal("5"), "volunteering": Decimal("8"), "cpr_aed": Decimal("5")}
LABELS = {"teaching": "Teaching", "volunteering": "Volunteering", "cpr_aed": "CPR/AED/First Aid"}
UNCAPPED = ["live", "online", "home_study", "conference", "college", "other"]
FORMATS = UNCAPPED + list(CAPS)

Y = clock.today().year
L = next_leap_year(Y)
START, END = date(L, 1, 1), date(L + 2, 12, 31)

PROPERTY = settings(max_examples=200, deadline=None, database=None)


def D(value: str) -> Decimal:
    return Decimal(value)


def count(credits, *, caps=CAPS, labels=LABELS, start=START, end=END):
    return count_credits(credits, start=start, end=end, caps=caps, format_labels=labels)


def by_id(lines: list[CountedCredit]) -> dict[int, Decimal]:
    return {line.credit.id: line.counted for line in lines}


# ---------------------------------------------------------------- unit conversion


def test_conversion_table_is_exactly_the_spec():
    assert CECS_PER_UNIT == {"cec": D("1"), "ceu": D("10"), "cme": D("1"), "college": D("10")}
    assert all(type(v) is Decimal for v in CECS_PER_UNIT.values())


def test_max_cecs_per_entry():
    assert MAX_CECS_PER_ENTRY == D("60")
    assert type(MAX_CECS_PER_ENTRY) is Decimal


@pytest.mark.parametrize(
    ("units", "credit_type", "expected"),
    [
        ("4.5", "ceu", "45.00"),
        ("0.1", "ceu", "1.00"),
        ("0.025", "ceu", "0.25"),
        ("0.45", "ceu", "4.50"),
        ("6", "ceu", "60.00"),
        ("12.25", "cme", "12.25"),
        ("1", "cme", "1.00"),
        ("3", "college", "30.00"),
        ("1.5", "college", "15.00"),
        ("0.075", "college", "0.75"),
        ("44.75", "cec", "44.75"),
        ("0.25", "cec", "0.25"),
        ("60", "cec", "60.00"),
    ],
)
def test_to_cecs_converts_exactly(units, credit_type, expected):
    result = to_cecs(D(units), credit_type)
    assert type(result) is Decimal
    assert result == D(expected)
    # Quantized to the cent: the string form is exact, not a float rendering.
    assert str(result) == expected


def test_to_cecs_rounds_half_up_to_the_cent_in_decimal_not_float():
    # 2.675 is 2.67499999... as a float, so a float round trip would give 2.67.
    assert round(2.675, 2) == 2.67
    assert to_cecs(D("2.675"), "cme") == D("2.68")
    # Half up, not banker's rounding (which would give 2.66 and 1.22).
    assert to_cecs(D("2.665"), "cme") == D("2.67")
    assert to_cecs(D("0.1225"), "ceu") == D("1.23")
    assert to_cecs(D("0.1234"), "ceu") == D("1.23")


def test_to_cecs_sums_exactly_where_floats_drift():
    assert 0.1 * 3 != 0.3  # the float trap this guards against
    total = sum((to_cecs(D("0.01"), "ceu") for _ in range(3)), Decimal("0"))
    assert total == D("0.30")


def test_to_cecs_refuses_a_float():
    with pytest.raises(TypeError):
        to_cecs(0.1, "ceu")


def test_to_cecs_unknown_credit_type_is_an_error():
    with pytest.raises(KeyError):
        to_cecs(D("1"), "hours")


@pytest.mark.parametrize("credit_type", ["cec", "cme"])
def test_to_cecs_identity_types_keep_every_quarter_value(credit_type):
    # Exhaustive over the whole legal range 0.25 .. 60 rather than sampled.
    for quarters in range(1, 60 * 4 + 1):
        cecs = D(quarters) / 4
        assert to_cecs(cecs, credit_type) == cecs
        assert is_quarter_step(to_cecs(cecs, credit_type))


@pytest.mark.parametrize("credit_type", ["ceu", "college"])
def test_to_cecs_times_ten_for_every_hundredth_unit(credit_type):
    for units_in_hundredths in range(1, 601):  # 0.01 .. 6.00 units, exhaustively
        result = to_cecs(D(units_in_hundredths) / 100, credit_type)
        assert result == D(units_in_hundredths) / 10
        assert result.as_tuple().exponent == -2


# ---------------------------------------------------------------- quarter steps


@pytest.mark.parametrize(
    ("cecs", "ok"),
    [
        ("0.25", True),
        ("0.5", True),
        ("0.75", True),
        ("1", True),
        ("1.00", True),
        ("44.25", True),
        ("45", True),
        ("60.00", True),
        ("0.3", False),
        ("0.1", False),
        ("0.2", False),
        ("0.26", False),
        ("44.3", False),
        ("1.05", False),
        ("59.99", False),
    ],
)
def test_is_quarter_step(cecs, ok):
    assert is_quarter_step(D(cecs)) is ok


def test_is_quarter_step_iff_hundredths_divisible_by_25():
    for hundredths in range(1, 6001):  # 0.01 .. 60.00, exhaustively
        assert is_quarter_step(D(hundredths) / 100) is (hundredths % 25 == 0)


# ---------------------------------------------------------------- format_cecs


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("45", "45"),
        ("45.00", "45"),
        ("44.5", "44.5"),
        ("44.50", "44.5"),
        ("44.25", "44.25"),
        ("0.25", "0.25"),
        ("0.75", "0.75"),
        ("0", "0"),
        ("0.00", "0"),
        ("10", "10"),
        ("100", "100"),
        ("60.00", "60"),
        ("63", "63"),
        ("1E+2", "100"),
    ],
)
def test_format_cecs(value, text):
    assert format_cecs(D(value)) == text


def test_format_cecs_round_trips_and_has_no_trailing_zeros():
    for hundredths in range(0, 20_001):  # 0.00 .. 200.00, exhaustively
        value = D(hundredths) / 100
        text = format_cecs(value)
        assert D(text) == value
        assert not text.endswith(".")
        if "." in text:
            assert not text.endswith("0")


# ---------------------------------------------------------------- count_credits: the cycle window


def test_outside_the_cycle_counts_nothing_with_a_note():
    credits = [
        Credit(1, START - timedelta(days=1), D("10"), "live"),  # Dec 31 before the cycle: no carry-over
        Credit(2, END + timedelta(days=1), D("10"), "live"),  # Jan 1 after it: next cycle
        Credit(3, date(L - 4, 6, 1), D("3"), "teaching"),
    ]
    lines = count(credits)
    assert [(line.counted, line.note) for line in lines] == [(D("0"), "Outside the cycle")] * 3
    assert [line.credit for line in lines] == credits
    assert counted_total(lines) == D("0")


@pytest.mark.parametrize(
    ("earned", "counted", "note"),
    [
        pytest.param(date(L - 1, 12, 31), D("0"), "Outside the cycle", id="the-day-before"),
        pytest.param(date(L, 1, 1), D("2.5"), "", id="first-day-counts"),
        pytest.param(date(L, 2, 29), D("2.5"), "", id="leap-day-inside"),
        pytest.param(date(L + 1, 7, 4), D("2.5"), "", id="mid-cycle"),
        pytest.param(date(L + 2, 12, 31), D("2.5"), "", id="last-day-counts"),
        pytest.param(date(L + 3, 1, 1), D("0"), "Outside the cycle", id="the-day-after"),
    ],
)
def test_cycle_edges(earned, counted, note):
    [line] = count([Credit(7, earned, D("2.5"), "online")])
    assert line.counted == counted
    assert line.note == note
    assert line.credit == Credit(7, earned, D("2.5"), "online")


def test_out_of_cycle_credit_does_not_use_up_the_cap():
    credits = [
        Credit(1, date(L - 1, 12, 31), D("5"), "teaching"),  # outside; must not consume its year's (or any) room
        Credit(2, date(L, 1, 1), D("5"), "teaching"),
    ]
    assert by_id(count(credits)) == {1: D("0"), 2: D("5")}


def test_cycle_bounds_are_taken_from_the_arguments():
    credit = Credit(1, date(L + 5, 6, 1), D("4"), "live")
    assert count([credit], start=date(L + 3, 1, 1), end=date(L + 5, 12, 31))[0].counted == D("4")
    assert count([credit])[0].note == "Outside the cycle"


def test_empty_input():
    assert count([]) == []
    assert counted_total([]) == D("0")
    assert type(counted_total([])) is Decimal


def test_accepts_any_iterable_once():
    credits = [Credit(1, date(L, 5, 1), D("3"), "live"), Credit(2, date(L, 5, 2), D("2"), "teaching")]
    lines = count(iter(credits))
    assert [line.credit.id for line in lines] == [1, 2]
    assert counted_total(lines) == D("5")


# ---------------------------------------------------------------- count_credits: yearly caps


@pytest.mark.parametrize(("fmt", "cap"), [("teaching", D("5")), ("volunteering", D("8")), ("cpr_aed", D("5"))])
def test_cap_exactly_reached_counts_fully_without_note(fmt, cap):
    [line] = count([Credit(1, date(L + 1, 3, 1), cap, fmt)])
    assert line.counted == cap
    assert line.note == ""


@pytest.mark.parametrize(
    ("fmt", "label", "cap", "first", "second", "second_counted", "note"),
    [
        ("teaching", "Teaching", "5", "3", "4", "2", f"Teaching cap of 5 CECs for {L + 1} reached: 2 of 4 count"),
        ("volunteering", "Volunteering", "8", "7.25", "2.5", "0.75",
         f"Volunteering cap of 8 CECs for {L + 1} reached: 0.75 of 2.5 count"),
        ("cpr_aed", "CPR/AED/First Aid", "5", "4.75", "1", "0.25",
         f"CPR/AED/First Aid cap of 5 CECs for {L + 1} reached: 0.25 of 1 count"),
        ("teaching", "Teaching", "5", "5", "1.5", "0", f"Teaching cap of 5 CECs for {L + 1} reached: not counted"),
        ("volunteering", "Volunteering", "8", "10", "1", "0",
         f"Volunteering cap of 8 CECs for {L + 1} reached: not counted"),
    ],
)
def test_credit_crossing_the_cap_counts_in_part_with_note(fmt, label, cap, first, second, second_counted, note):
    credits = [Credit(1, date(L + 1, 2, 1), D(first), fmt), Credit(2, date(L + 1, 9, 1), D(second), fmt)]
    first_line, second_line = count(credits)
    assert first_line.counted == min(D(first), D(cap))
    assert second_line.counted == D(second_counted)
    assert second_line.note == note
    assert counted_total([first_line, second_line]) == D(cap)


def test_single_credit_over_the_cap_counts_up_to_the_cap():
    [line] = count([Credit(1, date(L, 4, 1), D("12"), "teaching")])
    assert line.counted == D("5")
    assert line.note == f"Teaching cap of 5 CECs for {L} reached: 5 of 12 count"


def test_note_with_database_shaped_decimals():
    # DecimalField(decimal_places=2) hands back 3.00, 4.00, 5.00: the note must still read "2 of 4".
    credits = [
        Credit(1, date(L + 1, 2, 1), D("3.00"), "teaching"),
        Credit(2, date(L + 1, 3, 1), D("4.50"), "teaching"),
        Credit(3, date(L + 1, 4, 1), D("1.00"), "teaching"),
    ]
    lines = count(credits, caps={"teaching": D("5.00")})
    assert [line.counted for line in lines] == [D("3"), D("2"), D("0")]
    assert [line.note for line in lines] == [
        "",
        f"Teaching cap of 5 CECs for {L + 1} reached: 2 of 4.5 count",
        f"Teaching cap of 5 CECs for {L + 1} reached: not counted",
    ]
    assert counted_total(lines) == D("5.00")


def test_note_falls_back_to_the_format_code_without_labels():
    credits = [Credit(1, date(L, 4, 1), D("6"), "teaching"), Credit(2, date(L, 5, 1), D("1"), "teaching")]
    lines = count_credits(credits, start=START, end=END, caps=CAPS)
    assert [line.note for line in lines] == [
        f"teaching cap of 5 CECs for {L} reached: 5 of 6 count",
        f"teaching cap of 5 CECs for {L} reached: not counted",
    ]


def test_cap_is_per_calendar_year_dec_31_and_jan_1_are_separate_buckets():
    credits = [
        Credit(1, date(L, 12, 31), D("5"), "teaching"),
        Credit(2, date(L + 1, 1, 1), D("5"), "teaching"),
        Credit(3, date(L + 1, 1, 2), D("1"), "teaching"),
        Credit(4, date(L + 2, 12, 31), D("6"), "teaching"),
    ]
    lines = count(credits)
    assert by_id(lines) == {1: D("5"), 2: D("5"), 3: D("0"), 4: D("5")}
    assert [line.note for line in lines] == [
        "",
        "",
        f"Teaching cap of 5 CECs for {L + 1} reached: not counted",
        f"Teaching cap of 5 CECs for {L + 2} reached: 5 of 6 count",
    ]
    assert counted_total(lines) == D("15")


def test_caps_are_per_format_not_shared():
    credits = [
        Credit(1, date(L, 3, 1), D("5"), "teaching"),
        Credit(2, date(L, 3, 1), D("5"), "cpr_aed"),
        Credit(3, date(L, 3, 1), D("8"), "volunteering"),
        Credit(4, date(L, 3, 2), D("1"), "teaching"),
        Credit(5, date(L, 3, 2), D("1"), "cpr_aed"),
        Credit(6, date(L, 3, 2), D("1"), "volunteering"),
    ]
    assert by_id(count(credits)) == {1: D("5"), 2: D("5"), 3: D("8"), 4: D("0"), 5: D("0"), 6: D("0")}


def test_cap_fills_in_date_order_and_result_keeps_input_order():
    # Given newest first: the earliest-earned credits take the room.
    credits = [
        Credit(10, date(L + 1, 11, 1), D("3"), "teaching"),
        Credit(11, date(L + 1, 6, 1), D("3"), "teaching"),
        Credit(12, date(L + 1, 1, 15), D("1"), "live"),
        Credit(13, date(L + 1, 2, 1), D("1"), "teaching"),
    ]
    lines = count(credits)
    assert [line.credit.id for line in lines] == [10, 11, 12, 13]
    assert [line.counted for line in lines] == [D("1"), D("3"), D("1"), D("1")]
    assert lines[0].note == f"Teaching cap of 5 CECs for {L + 1} reached: 1 of 3 count"
    assert lines[1].note == lines[2].note == lines[3].note == ""


def test_same_date_ties_are_broken_by_id():
    day = date(L + 1, 5, 5)
    credits = [Credit(9, day, D("4"), "teaching"), Credit(3, day, D("4"), "teaching")]
    lines = count(credits)
    assert [line.credit.id for line in lines] == [9, 3]
    assert by_id(lines) == {3: D("4"), 9: D("1")}
    assert lines[0].note == f"Teaching cap of 5 CECs for {L + 1} reached: 1 of 4 count"
    assert lines[1].note == ""
    assert by_id(count(list(reversed(credits)))) == {3: D("4"), 9: D("1")}


def test_uncapped_format_is_never_limited():
    credits = [Credit(i, date(L, 1, 1) + timedelta(days=i), D("60"), "live") for i in range(10)]
    lines = count(credits)
    assert all(line.counted == D("60") and line.note == "" for line in lines)
    assert counted_total(lines) == D("600")


def test_a_format_is_capped_only_when_given_in_caps():
    credits = [Credit(1, date(L, 3, 1), D("20"), "teaching")]
    assert count(credits, caps={})[0].counted == D("20")
    assert count(credits, caps={"teaching": D("2.5")})[0].counted == D("2.5")
    assert count(credits, caps={"teaching": D("2.5")})[0].note == (
        f"Teaching cap of 2.5 CECs for {L} reached: 2.5 of 20 count"
    )


def test_zero_cap_counts_nothing():
    [line] = count([Credit(1, date(L, 3, 1), D("1"), "teaching")], caps={"teaching": D("0")})
    assert line.counted == D("0")
    assert line.note == f"Teaching cap of 0 CECs for {L} reached: not counted"


def test_leap_day_capped_credit_lands_in_its_year():
    credits = [
        Credit(1, date(L, 2, 29), D("4"), "cpr_aed"),
        Credit(2, date(L, 3, 1), D("4"), "cpr_aed"),
        Credit(3, date(L + 1, 2, 28), D("4"), "cpr_aed"),
    ]
    lines = count(credits)
    assert by_id(lines) == {1: D("4"), 2: D("1"), 3: D("4")}
    assert lines[1].note == f"CPR/AED/First Aid cap of 5 CECs for {L} reached: 1 of 4 count"


def test_dashboard_example_total_63():
    # A full mixed ledger like the seed's "Total CECs 63": the excess is listed but not counted.
    credits = [
        Credit(1, date(L, 2, 10), D("20"), "live"),
        Credit(2, date(L, 8, 3), D("15"), "online"),
        Credit(3, date(L + 1, 3, 8), D("10"), "volunteering"),
        Credit(4, date(L + 1, 5, 1), D("4"), "cpr_aed"),
        Credit(5, date(L + 1, 7, 19), D("4"), "teaching"),
        Credit(6, date(L + 2, 4, 2), D("12"), "conference"),
        Credit(7, date(L - 1, 11, 30), D("8"), "live"),
    ]
    lines = count(credits)
    assert by_id(lines) == {1: D("20"), 2: D("15"), 3: D("8"), 4: D("4"), 5: D("4"), 6: D("12"), 7: D("0")}
    assert lines[2].note == f"Volunteering cap of 8 CECs for {L + 1} reached: 8 of 10 count"
    assert lines[6].note == "Outside the cycle"
    assert counted_total(lines) == D("63")


def test_counted_total_sums_exactly():
    lines = [
        CountedCredit(Credit(1, START, D("0.25"), "live"), D("0.25")),
        CountedCredit(Credit(2, START, D("44.5"), "live"), D("44.5")),
        CountedCredit(Credit(3, START, D("3"), "teaching"), D("0"), "x"),
    ]
    total = counted_total(lines)
    assert total == D("44.75")
    assert type(total) is Decimal


# ---------------------------------------------------------------- properties


quarter_cecs = st.integers(min_value=1, max_value=60 * 4).map(lambda q: Decimal(q) / 4)
# Any day a little either side of the cycle, often one of the edges (so ties and year buckets meet).
EDGE_DATES = [
    date(L - 1, 12, 31), date(L, 1, 1), date(L, 2, 29), date(L, 12, 31), date(L + 1, 1, 1),
    date(L + 1, 12, 31), date(L + 2, 1, 1), date(L + 2, 12, 31), date(L + 3, 1, 1),
]
earned_dates = st.one_of(
    st.sampled_from(EDGE_DATES),
    st.integers(min_value=0, max_value=1277).map(lambda n: date(L - 1, 10, 1) + timedelta(days=n)),
)
credit_fields = st.tuples(earned_dates, quarter_cecs, st.sampled_from(FORMATS))


def _ledger(fields: list) -> list[Credit]:
    # Ids run against the list order, so input order, date order and id order all differ.
    return [Credit(len(fields) - i, *f) for i, f in enumerate(fields)]


ledgers = st.lists(credit_fields, max_size=10).map(_ledger)


def in_cycle(credit: Credit) -> bool:
    return START <= credit.date_earned <= END


@PROPERTY
@given(credits=ledgers)
def test_property_lines_totals_and_caps(credits):
    lines = count(credits)

    # Input order preserved, one line per credit.
    assert [line.credit for line in lines] == credits

    # Each line counts between 0 and its CECs, with the right note.
    for line in lines:
        assert Decimal("0") <= line.counted <= line.credit.cecs
        assert is_quarter_step(line.counted)
        if not in_cycle(line.credit):
            assert (line.counted, line.note) == (Decimal("0"), "Outside the cycle")
        elif line.credit.format not in CAPS:
            assert (line.counted, line.note) == (line.credit.cecs, "")  # uncapped: never limited
        elif line.counted == line.credit.cecs:
            assert line.note == ""
        else:
            c = line.credit
            cap = format_cecs(CAPS[c.format])
            head = f"{LABELS[c.format]} cap of {cap} CECs for {c.date_earned.year} reached: "
            tail = f"{format_cecs(line.counted)} of {format_cecs(c.cecs)} count" if line.counted else "not counted"
            assert line.note == head + tail

    # The total never exceeds the in-cycle sum; without caps it equals it.
    in_cycle_sum = sum((c.cecs for c in credits if in_cycle(c)), Decimal("0"))
    assert counted_total(lines) <= in_cycle_sum
    assert counted_total(count(credits, caps={})) == in_cycle_sum

    # Each capped format's counted total per calendar year is min(cap, what was offered).
    counted = defaultdict(Decimal)
    offered = defaultdict(Decimal)
    for line in lines:
        c = line.credit
        if c.format in CAPS and in_cycle(c):
            counted[(c.format, c.date_earned.year)] += line.counted
            offered[(c.format, c.date_earned.year)] += c.cecs
    for key, total in counted.items():
        assert total <= CAPS[key[0]]
        assert total == min(CAPS[key[0]], offered[key])


@PROPERTY
@given(data=st.data(), credits=ledgers)
def test_property_independent_of_order_and_monotonic(data, credits):
    original = count(credits)
    total = counted_total(original)

    # The same counted and note per id whatever the input order (and the result follows the input order).
    shuffled = data.draw(st.permutations(credits))
    for reordered_input in (shuffled, credits[::-1]):
        reordered = count(reordered_input)
        assert [line.credit for line in reordered] == list(reordered_input)
        assert by_id(reordered) == by_id(original)
        assert {ln.credit.id: ln.note for ln in reordered} == {ln.credit.id: ln.note for ln in original}

    # Adding a credit never lowers the total, and raises it by at most its own in-cycle CECs:
    # checked for every credit of the ledger as "the ledger without it, plus it".
    for i, added in enumerate(credits):
        without = counted_total(count(credits[:i] + credits[i + 1:]))
        assert without <= total
        assert total - without <= (added.cecs if in_cycle(added) else Decimal("0"))
