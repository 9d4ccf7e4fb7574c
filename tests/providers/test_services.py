"""Posting and retracting provider completions (``providers.services``): matching on member ID and last name, the
course's approved CECs and validity window, dates, inactive providers, duplicates in a batch and across retries (two
posts at once included), retraction within 30 days, caps on provider credits, and the constant number of queries."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from acsm_portal import clock
from cecs.models import CECEntry
from certifications.selectors import tiles_for
from providers.models import Completion, Course, Provider
from providers.services import (
    NO_MATCH, CompletionIn, CompletionNotFound, ProviderError, completion_retract, completions_post,
)
from tests.dates import at
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle
from tests.waits import wait_until

pytestmark = pytest.mark.django_db

PATIENCE = 30  # seconds a thread waits for the other at most; never reached when the code is right
BY = "token Test"
# completions_post's queries whatever the number of items: the savepoint and its release, the provider locked,
# its courses, the certificants named, the external IDs known, the same courses completed before, the credits
# inserted, the completions inserted.
POST_QUERIES = 9


# ---------------------------------------------------------------- helpers

@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.create(name="ACSM Online Learning", number="P-0001")


@pytest.fixture
def other_provider(db) -> Provider:
    return Provider.objects.create(name="NSCA Learning", number="P-0002")


def course_of(provider: Provider, number: str = "AOL-101", *, cecs: str = "2.00", fmt: str = "online",
              valid_from: date | None = None, valid_to: date | None = None, title: str = "") -> Course:
    """An approved course of ``provider``, by default valid from January 1 five years back to December 31 next
    year."""
    today = clock.today()
    return Course.objects.create(provider=provider, number=number, title=title or f"Course {number}", format=fmt,
                                 cecs=Decimal(cecs), valid_from=valid_from or date(today.year - 5, 1, 1),
                                 valid_to=valid_to or date(today.year + 1, 12, 31))


@pytest.fixture
def course(provider) -> Course:
    return course_of(provider, title="Behavior Change Coaching")


@pytest.fixture
def day(today) -> date:
    """A completion date inside every default window and cycle, in the past."""
    return date(today.year - 1, 3, 2)


def item(person: User, course: Course, completed_on: date, external_id: str, *, last_name: str | None = None,
         member_id: str | None = None, cecs: str | None = None) -> CompletionIn:
    return CompletionIn(member_id=person.member_id if member_id is None else member_id,
                        last_name=person.last_name if last_name is None else last_name,
                        course_number=course.number, completed_on=completed_on, external_id=external_id,
                        cecs=None if cecs is None else Decimal(cecs))


def post(provider: Provider, items: list[CompletionIn], via: str = Completion.Via.API):
    return completions_post(provider_id=provider.pk, items=items, via=via, posted_by=BY)


def outcomes(results) -> list[tuple]:
    return [(r.index, r.external_id, r.status, r.errors) for r in results]


def completion_rows() -> list[tuple]:
    return list(Completion.objects.order_by("pk").values_list(
        "pk", "provider_id", "course_id", "external_id", "user_id", "completed_on", "cecs", "state", "cec_entry_id",
        "created_at", "retracted_at", "retracted_by", "retraction_reason"))


def credit_rows() -> list[tuple]:
    return list(CECEntry.objects.order_by("pk").values_list(
        "pk", "user_id", "date_earned", "units", "cecs", "credit_type", "course_name", "provider", "format",
        "source"))


# ---------------------------------------------------------------- matching

@pytest.mark.parametrize(("stored", "posted"), [
    ("Muller", "  müller "),
    ("Müller", "MULLER"),
    ("De la Cruz", "  delacruz"),
    ("de la Crúz", "DE LA   CRUZ"),
], ids=["accent-and-spaces", "case", "spacing", "all-three"])
def test_member_id_and_last_name_match_ignoring_case_accents_and_spacing(provider, course, day, stored, posted):
    person = UserFactory(last_name=stored)
    [result] = post(provider, [item(person, course, day, "X-1", last_name=posted,
                                    member_id=f" {person.member_id} ")])
    assert (result.status, result.errors) == ("accepted", {})
    completion = result.completion
    assert (completion.user_id, completion.course_id, completion.completed_on, completion.cecs, completion.state,
            completion.via, completion.posted_by) == (person.pk, course.pk, day, Decimal("2.00"), "accepted", "api", BY)
    entry = CECEntry.objects.get()
    assert completion.cec_entry_id == entry.pk
    assert (entry.user_id, entry.date_earned, entry.date_reported, entry.units, entry.cecs, entry.credit_type,
            entry.course_name, entry.provider, entry.format, entry.source) == (
        person.pk, day, clock.today_for(person), Decimal("2.00"), Decimal("2.00"), "cec", "Behavior Change Coaching",
        "ACSM Online Learning", "online", "provider")


def test_a_wrong_last_name_and_an_unknown_member_id_get_the_same_answer(provider, course, day):
    person = UserFactory(last_name="Morgan")
    gone = UserFactory(last_name="Avery", is_active=False)
    results = post(provider, [
        item(person, course, day, "X-1", last_name="Morgen"),
        item(person, course, day, "X-2", member_id="999999"),
        item(gone, course, day, "X-3"),
        item(person, course, day, "X-4", last_name="Morgan Smith"),
    ])
    assert outcomes(results) == [(i, f"X-{i + 1}", "rejected", {"member_id": NO_MATCH}) for i in range(4)]
    assert NO_MATCH == "No certificant matches this member ID and last name."
    assert completion_rows() == [] and credit_rows() == []


# ---------------------------------------------------------------- what a completion may grant

@pytest.mark.parametrize(("cecs", "granted", "error"), [
    (None, Decimal("2.00"), None),  # the course's approved CECs
    ("2", Decimal("2.00"), None),
    ("1.25", Decimal("1.25"), None),
    ("2.01", None, "At most 2.00 CECs are approved for this course."),
    ("20", None, "At most 2.00 CECs are approved for this course."),
    ("0", None, "CECs must be a positive number."),
    ("-1", None, "CECs must be a positive number."),
    ("1.255", None, "CECs have at most two decimal places."),
])
def test_cecs_never_exceed_the_course_s_approved_cecs(provider, course, day, cecs, granted, error):
    person = UserFactory()
    [result] = post(provider, [item(person, course, day, "X-1", cecs=cecs)])
    if error:
        assert (result.status, result.errors) == ("rejected", {"cecs": error})
        assert completion_rows() == [] and credit_rows() == []
    else:
        assert (result.status, result.completion.cecs) == ("accepted", granted)
        assert CECEntry.objects.values_list("units", "cecs").get() == (granted, granted)


def test_a_completion_outside_the_course_s_window_is_refused(provider, today):
    first, last = date(today.year - 1, 3, 1), date(today.year - 1, 9, 30)
    course = course_of(provider, valid_from=first, valid_to=last)
    person = UserFactory()
    why = f"The course is approved for completions from 3/1/{first.year} through 9/30/{last.year}."
    results = post(provider, [
        item(person, course, first - timedelta(days=1), "X-1"),
        item(person, course, first, "X-2"),
        item(person, course, last, "X-3"),
        item(person, course, last + timedelta(days=1), "X-4"),
    ])
    assert outcomes(results) == [
        (0, "X-1", "rejected", {"completed_on": why}),
        (1, "X-2", "accepted", {}),
        (2, "X-3", "accepted", {}),
        (3, "X-4", "rejected", {"completed_on": why}),
    ]
    assert sorted(Completion.objects.values_list("external_id", "completed_on")) == [("X-2", first), ("X-3", last)]


def test_a_date_after_today_wherever_it_is_latest_on_earth_is_refused(provider, course, today):
    person = UserFactory(time_zone="America/Los_Angeles")
    day = date(today.year, 6, 10)
    # 8 PM UTC on June 10: 1 PM in Los Angeles, already 10 AM on June 11 in Kiritimati (UTC+14).
    with time_machine.travel(datetime(day.year, 6, 10, 20, 0, tzinfo=UTC), tick=False):
        results = post(provider, [
            item(person, course, day, "X-1"),
            item(person, course, day + timedelta(days=1), "X-2"),
            item(person, course, day + timedelta(days=2), "X-3"),
        ])
    assert outcomes(results) == [
        (0, "X-1", "accepted", {}),
        (1, "X-2", "accepted", {}),
        (2, "X-3", "rejected", {"completed_on": "The completion date is in the future."}),
    ]


def test_an_unknown_course_and_a_missing_external_id_are_refused_with_every_reason(provider, course, other_provider,
                                                                                   day):
    theirs = course_of(other_provider, "NSCA-1")
    person = UserFactory()
    results = post(provider, [
        item(person, theirs, day, "X-1"),
        item(person, course, day, "  ", last_name="Nobody", cecs="3"),
    ])
    assert outcomes(results) == [
        (0, "X-1", "rejected", {"course_number": "Not an approved course of this provider."}),
        (1, "", "rejected", {"external_id": "An external ID is required.", "member_id": NO_MATCH,
                             "cecs": "At most 2.00 CECs are approved for this course."}),
    ]
    assert completion_rows() == []


def test_an_inactive_or_unknown_provider_may_not_post(provider, course, day):
    person = UserFactory()
    Provider.objects.filter(pk=provider.pk).update(active=False)
    with pytest.raises(ProviderError, match=r"^This provider may not post completions\.$"):
        post(provider, [item(person, course, day, "X-1")])
    with pytest.raises(ProviderError, match=r"^This provider may not post completions\.$"):
        completions_post(provider_id=provider.pk + 1000, items=[item(person, course, day, "X-1")], via="api",
                         posted_by=BY)
    assert completion_rows() == [] and credit_rows() == []


def test_a_batch_holds_1000_items_and_a_roster_10000(provider, course, day):
    person = UserFactory()
    with pytest.raises(ProviderError, match=r"^At most 1,000 completions at a time; this had 1,001\.$"):
        post(provider, [item(person, course, day, f"X-{i}") for i in range(1001)])
    with pytest.raises(ProviderError, match=r"^At most 10,000 completions at a time; this had 10,001\.$"):
        post(provider, [item(person, course, day, f"X-{i}") for i in range(10_001)], via=Completion.Via.CSV)
    assert completion_rows() == []


# ---------------------------------------------------------------- duplicates and retries

def test_the_same_completion_under_a_new_external_id_is_refused(provider, course, day):
    """An LMS that makes a new ID on each retry, a roster exported again with new IDs: the first one stands."""
    casey = UserFactory()
    first = post(provider, [item(casey, course, day, "LMS-1")])[0].completion
    again = post(provider, [item(casey, course, day, "LMS-2"), item(casey, course, day + timedelta(days=1), "LMS-3")])
    assert outcomes(again) == [
        (0, "LMS-2", "rejected", {"external_id": f"This certificant's completion of {course.number} on "
                                                 f"{day:%-m/%-d/%Y} was posted already, as LMS-1."}),
        (1, "LMS-3", "accepted", {}),
    ]
    assert list(Completion.objects.order_by("pk").values_list("external_id", flat=True)) == ["LMS-1", "LMS-3"]
    assert first.cec_entry.cecs == course.cecs


def test_staff_and_a_provider_s_own_people_are_not_certificants_to_post_for(provider, course, day):
    staff = UserFactory(is_staff=True)
    results = post(provider, [item(staff, course, day, "S-1")])
    assert outcomes(results) == [(0, "S-1", "rejected", {"member_id": NO_MATCH})]


@pytest.mark.parametrize("external_id", ["line\nbreak", "tab\there", "nul\x00"])
def test_an_external_id_with_control_characters_is_refused(provider, course, day, external_id):
    results = post(provider, [item(UserFactory(), course, day, external_id)])
    assert results[0].errors == {
        "external_id": "An external ID may not hold line breaks, tabs or other control characters."}


def test_an_external_id_repeated_in_a_batch_is_taken_once(provider, course, day):
    casey, riley = UserFactory(), UserFactory()
    results = post(provider, [
        item(casey, course, day, "X-1"),
        item(riley, course, day, "X-1"),
        item(riley, course, day, " X-2 "),
        item(casey, course, day + timedelta(days=1), "X-1 "),
        item(casey, course, day, "X-3", last_name="Wrong"),  # refused: a later X-3 may still be taken
        item(riley, course, day, "X-3"),
    ])
    assert outcomes(results) == [
        (0, "X-1", "accepted", {}),
        (1, "X-1", "rejected", {"external_id": "Repeats the external ID of item 1."}),
        (2, "X-2", "accepted", {}),
        (3, "X-1", "rejected", {"external_id": "Repeats the external ID of item 1."}),
        (4, "X-3", "rejected", {"member_id": NO_MATCH}),
        # Riley's completion of the course that day, already posted as X-2: the same completion under another ID.
        (5, "X-3", "rejected", {"external_id": f"This certificant's completion of {course.number} on "
                                              f"{day:%-m/%-d/%Y} was posted already, as X-2."}),
    ]
    assert list(Completion.objects.order_by("external_id").values_list("external_id", "user_id")) == [
        ("X-1", casey.pk), ("X-2", riley.pk)]
    assert CECEntry.objects.count() == 2


def test_a_retry_returns_the_first_completion_and_changes_nothing(provider, course, day):
    person = UserFactory()
    other = course_of(provider, "AOL-103", cecs="5.00")
    [first] = post(provider, [item(person, course, day, "X-1")])
    before = (completion_rows(), credit_rows())
    # The same external ID again: as sent before, and with another course, date and CECs.
    results = post(provider, [item(person, course, day, "X-1"),
                              item(person, other, day - timedelta(days=9), " X-1", cecs="4")])
    assert outcomes(results) == [(0, "X-1", "duplicate", {}), (1, "X-1", "duplicate", {})]
    assert [r.completion.pk for r in results] == [first.completion.pk] * 2
    assert (results[1].completion.course.number, results[1].completion.completed_on,
            results[1].completion.cecs) == ("AOL-101", day, Decimal("2.00"))
    assert (completion_rows(), credit_rows()) == before
    # The same external ID of another provider is another completion.
    other_provider = Provider.objects.create(name="NSCA Learning", number="P-0002")
    [theirs] = post(other_provider, [item(person, course_of(other_provider, "N-1"), day, "X-1")])
    assert theirs.status == "accepted" and Completion.objects.count() == 2


def test_a_retry_after_a_retraction_returns_the_retracted_completion(provider, course, day):
    person = UserFactory()
    [first] = post(provider, [item(person, course, day, "X-1")])
    completion_retract(provider_id=provider.pk, external_id="X-1", reason="Posted in error", by=BY)
    before = (completion_rows(), credit_rows())
    [again] = post(provider, [item(person, course, day, "X-1")])
    assert (again.status, again.completion.pk, again.completion.state) == ("duplicate", first.completion.pk,
                                                                           "retracted")
    assert (completion_rows(), credit_rows()) == before
    assert credit_rows() == []


def waiting_for_a_lock(pid: int) -> bool:
    """Whether the database backend ``pid`` is waiting for a lock another transaction holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # not the status this transaction saw first
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_two_posts_of_the_same_batch_at_once_make_one_completion_per_external_id(provider, course, day, monkeypatch):
    """Two threads, each with its own connection, post the same batch at the same moment. The first to make its
    credits holds its transaction open until the other is waiting for the provider's lock (or, were there none,
    has read what it reads and come to make its credits too), so the two overlap for certain."""
    people = [UserFactory() for _ in range(3)]
    batch = [item(person, course, day, f"X-{n}") for n, person in enumerate(people, 1)]
    pids: dict[int, int] = {}  # thread -> its database backend
    arrived: list[int] = []  # the threads that came to make their credits, in order
    start = threading.Barrier(2)
    today_for = clock.today_for

    def held(person):
        me = threading.get_ident()
        if me not in arrived:
            arrived.append(me)
            if len(arrived) == 1:
                [other] = [pid for thread, pid in pids.items() if thread != me]
                wait_until(lambda: len(arrived) > 1 or waiting_for_a_lock(other),
                           what="the other post to wait for the provider's lock", timeout=PATIENCE)
        return today_for(person)

    def run():
        try:
            connection.ensure_connection()
            pids[threading.get_ident()] = connection.connection.info.backend_pid
            start.wait(timeout=PATIENCE)
            return post(provider, batch)
        finally:
            connections.close_all()  # this thread's connections

    monkeypatch.setattr(clock, "today_for", held)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = [f.result() for f in [pool.submit(run), pool.submit(run)]]
    assert len(arrived) == 1  # the second found every item posted
    statuses = sorted([[r.status for r in first], [r.status for r in second]])
    assert statuses == [["accepted"] * 3, ["duplicate"] * 3]
    assert [r.completion.pk for r in first] == [r.completion.pk for r in second]
    assert sorted(Completion.objects.values_list("external_id", "user_id")) == [
        (f"X-{n}", person.pk) for n, person in enumerate(people, 1)]
    assert sorted(CECEntry.objects.values_list("user_id", flat=True)) == sorted(p.pk for p in people)
    assert set(Completion.objects.values_list("cec_entry_id", flat=True)) == set(
        CECEntry.objects.values_list("pk", flat=True))


# ---------------------------------------------------------------- retraction

def test_a_retraction_within_30_days_takes_the_credit_off_the_totals(provider, course, user, day):
    certification_with_cycle(user, "CPT")
    CECEntryFactory(user=user, date_earned=day, units=Decimal("10"), cecs=Decimal("10"))
    [result] = post(provider, [item(user, course, day, "X-1")])
    entry_id = result.completion.cec_entry_id
    assert tiles_for(user=user, today=clock.today_for(user))[0].meter.total == Decimal("12")
    posted = result.completion.created_at
    with time_machine.travel(posted + timedelta(days=30), tick=False):
        completion = completion_retract(provider_id=provider.pk, external_id=" X-1 ",
                                        reason="  Posted   for the wrong person ", by="ops@provider.example")
        retracted_at = clock.now()
    assert (completion.state, completion.retracted_at, completion.retracted_by, completion.retraction_reason,
            completion.cec_entry_id) == ("retracted", retracted_at, "ops@provider.example",
                                         "Posted for the wrong person", None)
    completion.refresh_from_db()
    assert (completion.state, completion.retracted_at, completion.cec_entry_id, completion.cecs) == (
        "retracted", retracted_at, None, Decimal("2.00"))
    assert not CECEntry.objects.filter(pk=entry_id).exists()
    assert tiles_for(user=user, today=clock.today_for(user))[0].meter.total == Decimal("10")

    # Twice: the same, unchanged, whatever the second reason.
    before = completion_rows()
    again = completion_retract(provider_id=provider.pk, external_id="X-1", reason="", by="someone else")
    assert (again.pk, again.state, again.retraction_reason, again.retracted_by) == (
        completion.pk, "retracted", "Posted for the wrong person", "ops@provider.example")
    assert completion_rows() == before


def test_a_retraction_after_30_days_is_refused(provider, course, day, today):
    person = UserFactory()
    posted_on = date(today.year, 4, 14)
    with time_machine.travel(at(posted_on, 12), tick=False):  # noon: the same date in UTC and the Americas
        [result] = post(provider, [item(person, course, day, "X-1")])
    before = (completion_rows(), credit_rows())
    with time_machine.travel(result.completion.created_at + timedelta(days=30, seconds=1), tick=False):
        with pytest.raises(ProviderError) as refused:
            completion_retract(provider_id=provider.pk, external_id="X-1", reason="Posted in error", by=BY)
    assert refused.value.message == (
        f"A completion can be retracted within 30 days of posting; this one was posted on 4/14/{today.year}. "
        "Contact the certification department.")
    assert (completion_rows(), credit_rows()) == before


def test_another_provider_s_completion_or_an_unknown_one_is_not_found(provider, other_provider, course, day):
    person = UserFactory()
    post(provider, [item(person, course, day, "X-1")])
    before = (completion_rows(), credit_rows())
    for provider_id, external_id in ((other_provider.pk, "X-1"), (provider.pk, "X-2"), (provider.pk, "")):
        with pytest.raises(CompletionNotFound) as missing:
            completion_retract(provider_id=provider_id, external_id=external_id, reason="Posted in error", by=BY)
        assert missing.value.message == "No such completion."
    assert (completion_rows(), credit_rows()) == before


@pytest.mark.parametrize(("reason", "message"), [
    ("   ", "Give the reason for the retraction."),
    ("x" * 501, "The reason is at most 500 characters."),
])
def test_a_retraction_needs_a_reason_of_at_most_500_characters(provider, course, day, reason, message):
    person = UserFactory()
    post(provider, [item(person, course, day, "X-1")])
    before = (completion_rows(), credit_rows())
    with pytest.raises(ProviderError) as refused:
        completion_retract(provider_id=provider.pk, external_id="X-1", reason=reason, by=BY)
    assert (refused.value.message, refused.value.field) == (message, "reason")
    assert (completion_rows(), credit_rows()) == before


# ---------------------------------------------------------------- caps

@pytest.mark.parametrize(("fmt", "cap"), [("teaching", Decimal("5")), ("volunteering", Decimal("8"))])
def test_a_provider_credit_counts_under_its_format_s_yearly_cap(provider, user, day, fmt, cap):
    """4 CECs reported by the provider and 4 self-reported of the same capped format in one year: the cap of the
    year counts, the rest does not; a live course beside them counts in full."""
    certification_with_cycle(user, "CPT")
    course = course_of(provider, "AOL-201", cecs="4.00", fmt=fmt, title="Community program")
    CECEntryFactory(user=user, date_earned=day, units=Decimal("10"), cecs=Decimal("10"), format="live")
    CECEntryFactory(user=user, date_earned=day + timedelta(days=5), units=Decimal("4"), cecs=Decimal("4"),
                    format=fmt, course_name="Another program", provider="City Parks Dept.")
    today = clock.today_for(user)
    assert tiles_for(user=user, today=today)[0].meter.total == Decimal("14")
    [result] = post(provider, [item(user, course, day + timedelta(days=20), "X-1")])
    assert (result.status, result.completion.cec_entry.format) == ("accepted", fmt)
    assert tiles_for(user=user, today=today)[0].meter.total == Decimal("10") + min(cap, Decimal("8"))
    # The same in another year counts under that year's cap.
    post(provider, [item(user, course, date(day.year + 1, 1, 1), "X-2")])
    assert tiles_for(user=user, today=today)[0].meter.total == Decimal("10") + min(cap, Decimal("8")) + Decimal("4")


# ---------------------------------------------------------------- queries

def test_a_batch_takes_the_same_queries_for_10_items_as_for_1000(provider, course, day):
    password = make_password(None)
    people = User.objects.bulk_create([
        User(email=f"bulk{n}@example.com", first_name="Bulk", last_name=f"Person{n}", member_id=f"{300000 + n}",
             password=password) for n in range(1000)])
    other = course_of(provider, "AOL-102", cecs="3.50")
    before = day - timedelta(days=1)  # the ten completed the course the day before: no repeat of the same completion
    few = [item(p, course, before, f"F-{n}") for n, p in enumerate(people[:10])]
    many = [item(p, other if n % 2 else course, day, f"M-{n}") for n, p in enumerate(people)]
    many[7] = item(people[7], course, before, "F-3")  # posted before: a duplicate
    many[8] = item(people[8], course, day, "M-9-bad", last_name="Wrong")  # rejected
    with CaptureQueriesContext(connections["default"]) as ten:
        assert {r.status for r in post(provider, few)} == {"accepted"}
    with CaptureQueriesContext(connections["default"]) as thousand:
        results = post(provider, many)
    assert [len(ten), len(thousand)] == [POST_QUERIES, POST_QUERIES]
    assert [r.status for r in results].count("accepted") == 998
    assert (results[7].status, results[8].status) == ("duplicate", "rejected")
    assert Completion.objects.count() == CECEntry.objects.count() == 1008
    assert CECEntry.objects.filter(user=people[1], course_name="Course AOL-102").values_list(
        "cecs", flat=True).get() == Decimal("3.50")
