"""The same credit reported by the certificant and by a provider: which pairs are the same, and that it counts once.

Pure rules, no database. Dates come from the clock's year (no literal year)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from acsm_portal import clock
from cecs.models import CECEntry
from cecs.rules import PROVIDER, SELF, Credit, count_credits, countable, provider_duplicates, text_key
from cecs.selectors import LedgerEntry

DAY = date(clock.today().year - 1, 3, 2)
ACSM = "ACSM Online Learning"
EIM = "Exercise is Medicine Level 1"


def entry(pk: int, source: str, course: str, provider: str = "", day: date = DAY, cecs: str = "5",
          fmt: str = "online") -> LedgerEntry:
    return LedgerEntry(pk, day, day, Decimal(cecs), course, provider, fmt, "cec", source)


def test_the_sources_are_the_models():
    assert (SELF, PROVIDER) == (CECEntry.Source.SELF.value, CECEntry.Source.PROVIDER.value)


@pytest.mark.parametrize(("text", "key"), [
    ("Exercise is Medicine® Level 1", "exerciseismedicinelevel1"),
    ("  exercise  IS medicine: level-1 ", "exerciseismedicinelevel1"),
    ("Nutrición Básica", "nutricionbasica"),
    ("Straße", "strasse"),
    ("", ""),
    ("—", ""),
])
def test_text_key(text, key):
    assert text_key(text) == key


@pytest.mark.parametrize(("self_course", "self_provider", "self_day", "duplicate"), [
    # The same title, whatever the spelling, the same day: whoever the certificant named as the provider.
    (EIM, ACSM, DAY, True),
    ("exercise is medicine, level 1", "", DAY, True),
    ("EXERCISE IS MÉDICINE LEVEL 1", "Someone else", DAY, True),
    # Another day is another credit.
    (EIM, ACSM, DAY + timedelta(days=1), False),
    (EIM, ACSM, DAY - timedelta(days=1), False),
    # A title that holds the other (or is held by it) is the same only with the same provider named.
    ("Exercise is Medicine", ACSM, DAY, True),
    ("Exercise is Medicine", "acsm online-learning", DAY, True),
    ("Exercise is Medicine Level 1 (webinar)", ACSM, DAY, True),
    ("Exercise is Medicine", "", DAY, False),
    ("Exercise is Medicine", "NSCA", DAY, False),
    # Another course from the same provider on the same day is another credit.
    ("Resistance Training Basics", ACSM, DAY, False),
    ("", ACSM, DAY, False),
])
def test_which_self_reported_credit_is_the_providers(self_course, self_provider, self_day, duplicate):
    entries = [entry(1, PROVIDER, EIM, ACSM), entry(2, SELF, self_course, self_provider, day=self_day)]
    assert provider_duplicates(entries) == ({2: 1} if duplicate else {})


def test_without_provider_credits_nothing_is_a_duplicate():
    entries = [entry(1, SELF, EIM, ACSM), entry(2, SELF, EIM, ACSM), entry(3, "staff", EIM, ACSM)]
    assert provider_duplicates(entries) == {}
    assert countable(entries) == [Credit(1, DAY, Decimal("5"), "online"), Credit(2, DAY, Decimal("5"), "online"),
                                  Credit(3, DAY, Decimal("5"), "online")]


def test_staff_credits_are_never_paired():
    assert provider_duplicates([entry(1, PROVIDER, EIM, ACSM), entry(2, "staff", EIM, ACSM)]) == {}


@pytest.mark.parametrize(("entries", "expected"), [
    # Two self-reported copies, one provider credit: only the older copy is the provider's.
    ([entry(9, SELF, EIM, ACSM), entry(4, PROVIDER, EIM, ACSM), entry(7, SELF, EIM)], {7: 4}),
    # Two provider credits of the same course that day (two sessions), each with its self-reported copy.
    ([entry(1, PROVIDER, EIM, ACSM), entry(2, PROVIDER, EIM, ACSM), entry(3, SELF, EIM), entry(5, SELF, EIM)],
     {3: 1, 5: 2}),
    # A title match is preferred to a provider match, whatever the ids.
    ([entry(1, PROVIDER, "Exercise is Medicine Level 2", ACSM), entry(2, PROVIDER, EIM, ACSM),
      entry(3, SELF, EIM, ACSM)], {3: 2}),
    # The self-reported copy holding the shorter title takes the provider credit whose title holds it.
    ([entry(1, PROVIDER, "Yoga for Athletes", ACSM), entry(2, PROVIDER, EIM, ACSM),
      entry(3, SELF, "Exercise is Medicine", ACSM)], {3: 2}),
    # Self-reported copies are taken oldest first: the earlier day's copy is its day's, the other is alone.
    ([entry(1, PROVIDER, EIM, ACSM, day=DAY + timedelta(days=3)), entry(8, SELF, EIM, ACSM),
      entry(6, SELF, EIM, ACSM, day=DAY + timedelta(days=3))], {6: 1}),
])
def test_one_provider_credit_stands_for_one_self_reported_credit(entries, expected):
    assert provider_duplicates(entries) == expected


def test_countable_drops_the_self_reported_copy_and_keeps_the_order():
    entries = [entry(3, SELF, "Other", cecs="2"), entry(2, SELF, EIM, ACSM, cecs="4"), entry(1, PROVIDER, EIM, ACSM)]
    assert countable(entries) == [Credit(3, DAY, Decimal("2"), "online"), Credit(1, DAY, Decimal("5"), "online")]
    # Duplicates already found are used as given.
    assert countable(entries, duplicates={3: 1}) == [Credit(2, DAY, Decimal("4"), "online"),
                                                     Credit(1, DAY, Decimal("5"), "online")]


@pytest.mark.parametrize(("self_cecs", "counted"), [("5", Decimal("5")), ("3", Decimal("5")), ("8", Decimal("5"))])
def test_the_pair_counts_once_as_the_providers_amount(self_cecs, counted):
    entries = [entry(1, PROVIDER, EIM, ACSM), entry(2, SELF, EIM, ACSM, cecs=self_cecs)]
    lines = count_credits(countable(entries), start=DAY, end=DAY, caps={})
    assert [(line.credit.id, line.counted) for line in lines] == [(1, counted)]


def test_the_pair_counts_once_under_a_cap():
    """Teaching capped at 5 a year: a provider's 4 and the certificant's copy of it count 4, not 5 (capped 8)."""
    entries = [entry(1, PROVIDER, "Teaching clinic", ACSM, cecs="4", fmt="teaching"),
               entry(2, SELF, "Teaching clinic", ACSM, cecs="4", fmt="teaching"),
               entry(3, SELF, "Coaching", cecs="0.5", fmt="teaching")]
    lines = count_credits(countable(entries), start=DAY, end=DAY, caps={"teaching": Decimal("5")})
    assert [(line.credit.id, line.counted, line.note) for line in lines] == [
        (1, Decimal("4"), ""), (3, Decimal("0.5"), "")]
