"""The audit rules with no I/O: the draw, due dates, overdue, reminders, moves, progress and the verdict."""

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from acsm_portal import clock
from audits import rules
from tests.dates import next_leap_year

Y = clock.today().year
L = next_leap_year(Y)
CAPS = {"teaching": Decimal("5"), "volunteering": Decimal("8"), "cpr_aed": Decimal("5")}


def binomial_interval(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """The central ``confidence`` interval of a Binomial(n, p) count, exactly (its tails each at most
    (1 - confidence) / 2), from the log-pmf."""
    tail = (1 - confidence) / 2
    pmf = [math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p)) for k in range(n + 1)]
    low, total = 0, 0.0
    while total + pmf[low] <= tail:
        total += pmf[low]
        low += 1
    high, total = n, 0.0
    while total + pmf[high] <= tail:
        total += pmf[high]
        high -= 1
    return low, high


class TestDraw:
    @pytest.mark.parametrize("rate", ["0.05", "0.02", "0.10"])
    @pytest.mark.parametrize("seed", [1, 2, 3, 29])
    def test_the_rate_is_honoured_within_a_binomial_999_interval(self, rate, seed):
        rng = random.Random(seed)
        n = 10_000
        selected = sum(rules.is_selected(roll=rules.roll(rng), rate=Decimal(rate)) for _ in range(n))
        low, high = binomial_interval(n, float(rate))
        assert low <= selected <= high, (selected, low, high)

    def test_the_interval_is_the_binomial_one(self):
        # n = 10,000 at 5 %: mean 500, sd 21.8; the 99.9 % interval is about ±3.29 sd, a little skewed.
        assert binomial_interval(10_000, 0.05) == (430, 573)

    def test_rolls_are_six_place_decimals_in_zero_to_one(self):
        rng = random.Random(7)
        rolls = [rules.roll(rng) for _ in range(2000)]
        assert all(Decimal("0") <= r < Decimal("1") for r in rolls)
        assert all(r.as_tuple().exponent >= -6 for r in rolls)
        assert len(set(rolls)) > 1990  # a million steps: almost never the same twice

    def test_extreme_rolls_and_rates(self):
        class Fixed(random.Random):
            def __init__(self, value):
                super().__init__(0)
                self.value = value

            def randrange(self, *args):
                return self.value

        assert rules.roll(Fixed(0)) == Decimal("0")
        assert rules.roll(Fixed(999_999)) == Decimal("0.999999")
        assert rules.is_selected(roll=Decimal("0.049999"), rate=Decimal("0.05"))
        assert not rules.is_selected(roll=Decimal("0.05"), rate=Decimal("0.05"))
        assert not rules.is_selected(roll=Decimal("0"), rate=Decimal("0"))  # a rate of 0 selects none
        assert rules.is_selected(roll=Decimal("0.999999"), rate=Decimal("1"))  # a rate of 1 all


class TestDates:
    @pytest.mark.parametrize(("selected_on", "days", "due"), [
        (date(Y, 1, 10), 30, date(Y, 2, 9)),
        (date(Y, 12, 15), 30, date(Y + 1, 1, 14)),  # over the year end
        (date(L, 1, 30), 30, date(L, 2, 29)),  # onto a leap day
        (date(L, 2, 1), 30, date(L, 3, 2)),  # February of a leap year has 29 days
        (date(L + 1, 2, 1), 30, date(L + 1, 3, 3)),  # and of a common year 28
        (date(L, 2, 29), 30, date(L, 3, 30)),  # from a leap day
        (date(L, 2, 29), 365, date(L + 1, 2, 28)),
        (date(Y, 5, 1), 1, date(Y, 5, 2)),
    ])
    def test_due_on(self, selected_on, days, due):
        assert rules.due_on(selected_on=selected_on, days=days) == due

    @pytest.mark.parametrize(("today", "overdue", "left"), [
        (date(L, 2, 28), False, 1),
        (date(L, 2, 29), False, 0),  # the due day itself, until 11:59 PM the person's time
        (date(L, 3, 1), True, -1),
        (date(L, 3, 30), True, -30),
    ])
    def test_overdue_only_after_the_due_day(self, today, overdue, left):
        deadline = date(L, 2, 29)
        assert rules.is_overdue(deadline=deadline, today=today) is overdue
        assert rules.days_left(deadline=deadline, today=today) == left

    @pytest.mark.parametrize(("left", "reminder"), [
        (30, None), (15, None), (14, 14), (13, 14), (8, 14), (7, 7), (6, 7), (2, 7), (1, 1), (0, 1), (-1, None),
    ])
    def test_the_reminder_due(self, left, reminder):
        deadline = date(L, 3, 1)
        assert rules.reminder_due(deadline=deadline, today=deadline - timedelta(days=left)) == reminder


class TestMoves:
    OPEN = ["selected", "submitted", "extended"]

    @pytest.mark.parametrize(("current", "to"), [
        ("selected", "submitted"), ("selected", "extended"), ("selected", "failed"), ("selected", "canceled"),
        ("submitted", "passed"), ("submitted", "failed"), ("submitted", "extended"), ("submitted", "canceled"),
        ("extended", "submitted"), ("extended", "failed"), ("extended", "canceled"),
        ("failed", "reinstated"),
    ])
    def test_allowed(self, current, to):
        assert rules.can_move(current, to)

    @pytest.mark.parametrize(("current", "to"), [
        ("selected", "passed"), ("extended", "passed"), ("selected", "reinstated"), ("passed", "failed"),
        ("passed", "canceled"), ("failed", "passed"), ("failed", "canceled"), ("canceled", "selected"),
        ("canceled", "submitted"), ("reinstated", "failed"), ("submitted", "selected"), ("passed", "extended"),
    ])
    def test_refused(self, current, to):
        assert not rules.can_move(current, to)

    def test_every_state_is_known_and_the_open_ones_can_be_canceled(self):
        assert set(rules.TRANSITIONS) == {"selected", "submitted", "extended", "passed", "failed", "canceled",
                                          "reinstated"}
        assert all(rules.can_move(state, "canceled") for state in self.OPEN)
        assert rules.OPEN_STATES == set(self.OPEN)


class TestProgress:
    @pytest.mark.parametrize(("states", "label", "complete"), [
        (["documented", "documented", "verified", "needed", "needed", "needed", "needed"],
         "3 of 7 credits documented", False),
        (["documented", "needed", "accepted", "needed", "needed"], "2 of 5 credits documented", False),
        (["verified"], "1 of 1 credit documented", True),
        (["needed"], "0 of 1 credit documented", False),
        ([], "0 of 0 credits documented", True),
        # A rejected credit no longer counts either way; its replacement takes its place.
        (["accepted", "rejected", "documented"], "2 of 2 credits documented", True),
        (["accepted", "rejected", "needed"], "1 of 2 credits documented", False),
    ])
    def test_label(self, states, label, complete):
        progress = rules.progress(states)
        assert progress.label == label
        assert progress.complete is complete


def credit(n, cecs, state, fmt="live", earned=None):
    return rules.AuditedCredit(n, earned or date(Y, 1, n), Decimal(cecs), fmt, state)


class TestVerdict:
    START, END = date(Y - 1, 1, 1), date(Y + 1, 12, 31)

    @pytest.mark.parametrize(("credits", "counted", "can_pass"), [
        ([credit(1, "30", "accepted"), credit(2, "15", "verified")], "45", True),
        ([credit(1, "30", "accepted"), credit(2, "15", "documented")], "30", False),  # not reviewed yet
        ([credit(1, "30", "accepted"), credit(2, "15", "needed")], "30", False),
        ([credit(1, "30", "accepted"), credit(2, "15", "rejected")], "30", False),  # rejected counts for nothing
        ([credit(1, "40", "accepted"), credit(2, "10", "verified")], "50", True),
        # Yearly caps as the portal counts them: 8 teaching CECs in a year count as 5.
        ([credit(1, "40", "accepted"), credit(2, "8", "accepted", fmt="teaching")], "45", True),
        ([credit(1, "36", "accepted"), credit(2, "8", "accepted", fmt="teaching")], "41", False),
        ([credit(1, "36", "accepted"), credit(2, "4", "accepted", fmt="teaching"),
          credit(3, "4", "accepted", fmt="teaching", earned=date(Y + 1, 1, 3))], "44", False),
        # A credit earned outside the audited cycle counts for nothing.
        ([credit(1, "40", "accepted"), credit(2, "5", "accepted", earned=date(Y + 2, 1, 1))], "40", False),
        ([credit(1, "44.75", "accepted"), credit(2, "0.25", "verified")], "45.00", True),
    ])
    def test_can_pass_on_accepted_and_verified_credits(self, credits, counted, can_pass):
        verdict = rules.verdict(credits=credits, start=self.START, end=self.END, required=45, caps=CAPS)
        assert verdict.counted == Decimal(counted)
        assert verdict.can_pass is can_pass
        assert verdict.short == (Decimal("0") if can_pass else Decimal(45) - Decimal(counted))

    def test_label_says_how_far(self):
        verdict = rules.verdict(credits=[credit(1, "30.5", "accepted")], start=self.START, end=self.END,
                                required=60, caps=CAPS)
        assert verdict.label == "30.5 of 60 CECs accepted"
        assert verdict.short == Decimal("29.5")
