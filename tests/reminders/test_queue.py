"""The hourly run (``reminders_queue``) and the sender (``reminders_send``) against the database: each person's
morning in their own zone, "days before" on their own date, every reminder made and sent once under two runs at
once, catching up after a missed day but never late past a reminder's window, the sweeper after a run killed
half-way, opting out (also by the one-click link), and what each email says.

Times are built in the people's zones and frozen with time-machine (``tick=False``); every date comes from the
clock's year. Send jobs go to a queue of this test's own in the real Redis, which no worker reads
(``send_jobs``): the tests call the sender themselves and read what was queued.
"""

import base64
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import redis
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connections
from django.test import Client

from accounts.email_preferences import unsubscribe_url
from accounts.models import User
from acsm_portal import clock, jobs
from certifications.models import CprUpload, Cycle
from certifications.rules import format_cycle
from reminders import services
from reminders.models import Reminder
from reminders.tasks import reminders_send_task
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle

CHICAGO = "America/Chicago"
LOS_ANGELES = "America/Los_Angeles"
HONOLULU = "Pacific/Honolulu"
TOKYO = "Asia/Tokyo"


def at(day: date, hour: int, zone: str, minute: int = 5) -> datetime:
    """``day`` at ``hour:minute`` on the clocks of ``zone``."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


@pytest.fixture
def end() -> date:
    """The Dec 31 ending the people's cycles: the clock's year."""
    return date(clock.today().year, 12, 31)


def certificant(zone: str, *, end: date, codes=("CPT",), cecs: int = 33, **fields) -> User:
    """A person in ``zone`` with a certification of each of ``codes``, each with an open three-year cycle ending
    on ``end``, and ``cecs`` live CECs earned on its first day (33 of CPT's 45: "12 more CECs")."""
    person = UserFactory(**{"time_zone": zone, "first_name": "Casey", **fields})
    start = date(end.year - 2, 1, 1)
    for code in codes:
        certification_with_cycle(person, code, start=start, end=end)
    if cecs:
        CECEntryFactory(user=person, date_earned=start, units=cecs, cecs=cecs, format="live")
    return person


def card(person: User, code: str, *, expires_on: date, state: str = "approved") -> CprUpload:
    cycle = Cycle.objects.get(certification__user=person, certification__certification_type__code=code, state="open")
    return CprUpload.objects.create(
        certification=cycle.certification, cycle=cycle, state=state, card_type="cpr_aed",
        issuing_organization="American Red Cross", skills_check_confirmed=True, expires_on=expires_on,
        submitted_at=clock.now())


def rows() -> list[tuple]:
    """Every reminder: (person's email, kind, offset, about, for_day, state, sends), by person then kind."""
    return list(Reminder.objects.order_by("user_id", "kind", "offset")
                .values_list("user__email", "kind", "offset", "about", "for_day", "state", "sends"))


def send(report: services.RunReport) -> dict[str, int]:
    return services.reminders_send(reminder_ids=report.made)


@pytest.fixture(autouse=True)
def send_jobs(monkeypatch):
    """``reminders_send_task`` jobs go to a queue of this test's own in the real Redis broker, so that no worker
    another test started reads them. Returns a reader: the reminder ids of each job queued, oldest first."""
    name = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-reminders-{uuid.uuid4().hex[:12]}"
    publish = reminders_send_task.apply_async
    monkeypatch.setattr(reminders_send_task, "apply_async", lambda *args, **options: publish(
        *args, **{**options, "queue": name}))
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def queued() -> list[list[int]]:
        found = []
        for raw in reversed(broker.lrange(name, 0, -1)):  # pushed on the left, taken from the right
            message = json.loads(raw)
            assert message["headers"]["task"] == "reminders.tasks.reminders_send_task"
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append(args[0])
        return found

    yield queued
    broker.delete(name, f"_kombu.binding.{name}")
    broker.close()


# ---------------------------------------------------------------- the person's morning, the person's date

@pytest.mark.django_db
def test_each_zone_in_its_own_morning(end):
    chicago = certificant(CHICAGO, end=end)
    los_angeles = certificant(LOS_ANGELES, end=end)
    day = end - timedelta(days=30)
    made = {}
    with time_machine.travel(at(day, 8, CHICAGO), tick=False) as traveller:  # 6:05 AM in Los Angeles
        report = services.reminders_queue()
        assert (report.zones, report.people, report.due) == ({CHICAGO: day}, 1, 1)
        made["chicago"] = report.made
        assert rows() == [(chicago.email, "cycle_ending", 30, end, day, "queued", 0)]

        traveller.move_to(at(day, 9, CHICAGO))  # 7:05 AM in Los Angeles: still not their morning
        report = services.reminders_queue()
        assert (report.zones, report.people, report.due, report.made) == ({CHICAGO: day}, 1, 0, [])

        traveller.move_to(at(day, 8, LOS_ANGELES))  # 10:05 AM in Chicago
        report = services.reminders_queue()
        assert (report.zones, report.people, report.due) == ({CHICAGO: day, LOS_ANGELES: day}, 2, 1)
        made["los_angeles"] = report.made
        assert services.reminders_send(reminder_ids=made["chicago"] + made["los_angeles"]) == {
            "sent": 2, "skipped": 0, "claimed": 0, "later": 0}
    assert rows() == [(chicago.email, "cycle_ending", 30, end, day, "sent", 1),
                      (los_angeles.email, "cycle_ending", 30, end, day, "sent", 1)]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([chicago.email, los_angeles.email])


@pytest.mark.django_db
def test_after_9_pm_in_their_zone_nothing_is_made(end):
    certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 21, CHICAGO, minute=0), tick=False):
        report = services.reminders_queue()
    assert (report.zones, report.people, report.made) == ({}, 0, [])
    assert rows() == []


@pytest.mark.django_db
def test_days_before_are_counted_on_the_persons_own_date(end):
    """Dec 1 in Honolulu (UTC-10) while it is already Dec 2 in UTC: 30 days before the end, their time."""
    honolulu = certificant(HONOLULU, end=end)
    tokyo = certificant(TOKYO, end=end)
    dec_1 = end - timedelta(days=30)
    with time_machine.travel(at(dec_1 - timedelta(days=1), 14, HONOLULU), tick=False):
        assert clock.now().astimezone(ZoneInfo("UTC")).date() == dec_1
        report = services.reminders_queue()  # Nov 30 in Honolulu, Dec 1 9:05 AM in Tokyo
        assert report.zones == {HONOLULU: dec_1 - timedelta(days=1), TOKYO: dec_1}
        assert send(report) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    assert rows() == [(tokyo.email, "cycle_ending", 30, end, dec_1, "sent", 1)]
    with time_machine.travel(at(dec_1, 14, HONOLULU), tick=False):
        assert clock.now().astimezone(ZoneInfo("UTC")).date() == dec_1 + timedelta(days=1)
        report = services.reminders_queue()
        assert report.zones == {HONOLULU: dec_1, TOKYO: dec_1 + timedelta(days=1)}  # Tokyo's made yesterday
        assert (report.people, report.due) == (2, 1)
        assert send(report) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    assert rows() == [(honolulu.email, "cycle_ending", 30, end, dec_1, "sent", 1),
                      (tokyo.email, "cycle_ending", 30, end, dec_1, "sent", 1)]
    assert [(m.to[0], m.subject) for m in mail.outbox] == [
        (tokyo.email, "30 days left to renew your CPT certification"),
        (honolulu.email, "30 days left to renew your CPT certification"),  # not 29, as in UTC
    ]
    assert f"Your certification cycle ends 12/31/{end.year} at 11:59 PM Hawaii time: 30 days left to renew." \
           in mail.outbox[1].body


# ---------------------------------------------------------------- exactly once

def together(calls: list) -> list:
    """Run each of ``calls`` in its own thread (each with its own database connection), released at the same
    moment by a barrier; their results in order."""
    start = threading.Barrier(len(calls))

    def run(call):
        try:
            start.wait(timeout=60)
            return call()
        finally:
            connections.close_all()  # this thread's connections

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def meeting(monkeypatch, name: str, parties: int = 2) -> None:
    """Make each call of ``services.<name>`` wait until ``parties`` threads have called it: both runs have read
    what they read before either writes."""
    original, barrier = getattr(services, name), threading.Barrier(parties)

    def met(*args, **kwargs):
        barrier.wait(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(services, name, met)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_make_each_reminder_once_and_send_it_once(end, send_jobs, monkeypatch):
    people = [certificant(CHICAGO, end=end) for _ in range(4)]
    people.append(certificant(CHICAGO, end=end, codes=("CPT", "EP")))  # two reminders, one email
    day = end - timedelta(days=30)
    with time_machine.travel(at(day, 8, CHICAGO), tick=False):
        # Both runs have found the same six reminders due and none made before either makes its rows.
        meeting(monkeypatch, "_rows_make")
        first, second = together([services.reminders_queue, services.reminders_queue])
        ids = sorted(Reminder.objects.values_list("pk", flat=True))
        assert len(ids) == 6 and (first.due, second.due) == (6, 6)
        assert sorted(first.made + second.made) == ids  # each made by exactly one of the runs ...
        assert sorted(pk for job in send_jobs() for pk in job) == ids  # ... which alone queued its sending
        # Two senders over the same ids, each person's rows claimed by both at the same moment.
        meeting(monkeypatch, "_claim")
        counts = together([lambda: services.reminders_send(reminder_ids=ids)] * 2)
    assert sum(c["sent"] for c in counts) == 5
    assert sum(c["claimed"] for c in counts) == 6  # the other sender found every row taken
    assert sum(c["skipped"] for c in counts) == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)
    assert sorted(rows()) == sorted([(p.email, "cycle_ending", 30, end, day, "sent", 1) for p in people]
                                    + [(people[-1].email, "cycle_ending", 30, end, day, "sent", 1)])
    assert mail.outbox[[m.to[0] for m in mail.outbox].index(people[-1].email)].subject == (
        "30 days left to renew your CPT and EP certifications")


# ---------------------------------------------------------------- late runs and lost jobs

@pytest.mark.django_db
def test_a_missed_day_is_caught_up_with_the_days_left_that_morning(end):
    person = certificant(CHICAGO, end=end)
    dec_2 = end - timedelta(days=29)  # the scheduler did not run on Dec 1, the 30-day morning
    with time_machine.travel(at(dec_2, 8, CHICAGO), tick=False) as traveller:
        assert send(services.reminders_queue()) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
        traveller.move_to(at(dec_2 + timedelta(days=1), 8, CHICAGO))
        assert services.reminders_queue().made == []  # and not again the next morning
    assert rows() == [(person.email, "cycle_ending", 30, end, dec_2, "sent", 1)]
    [message] = mail.outbox
    assert message.subject == "29 days left to renew your CPT certification"
    assert (f"Your certification cycle ends 12/31/{end.year} at 11:59 PM Central time: 29 days left to renew."
            in message.body)


@pytest.mark.django_db
def test_no_7_days_left_after_the_end(end):
    person = certificant(CHICAGO, end=end)
    jan_1 = end + timedelta(days=1)
    with time_machine.travel(at(end, 20, CHICAGO), tick=False) as traveller:
        # Made at 8:05 PM on Dec 31 (every earlier morning of its window missed), the worker only gets to it after
        # midnight: it no longer applies.
        report = services.reminders_queue()
        traveller.move_to(at(jan_1, 0, CHICAGO, minute=30))
        assert send(report) == {"sent": 0, "skipped": 1, "claimed": 0, "later": 0}
        traveller.move_to(at(jan_1, 8, CHICAGO))
        assert send(services.reminders_queue()) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    assert rows() == [(person.email, "cycle_ending", 7, end, end, "skipped", 0),
                      (person.email, "grace_started", 0, end, jan_1, "sent", 1)]
    assert Reminder.objects.get(kind="cycle_ending").skip_reason == (
        f"No longer applies on 1/1/{jan_1.year}: renewed, the card replaced, or the reminder's time passed.")
    assert [m.subject for m in mail.outbox] == [
        f"Your CPT certification expired on 12/31/{end.year}: renew by 6/30/{jan_1.year} with a late fee of $80"]


@pytest.mark.django_db
def test_a_run_killed_half_way_is_swept_up_and_sent_once(end, send_jobs):
    """Rows made, their sending never queued (the run died at commit) or a worker gone with a row claimed: the
    sweeper queues them again once ``services.REMINDER_LOST_AFTER`` has passed and no live worker holds them, and
    then not again before another ``REMINDER_LOST_AFTER``."""
    left = certificant(CHICAGO, end=end)
    held = certificant(CHICAGO, end=end)
    made_at = at(end - timedelta(days=30), 8, CHICAGO)
    lost_after = services.REMINDER_LOST_AFTER
    with time_machine.travel(made_at, tick=False) as traveller:
        report = services.reminders_queue()  # the test's transaction never commits: no send job queued
        assert send_jobs() == []
        left_id, held_id = report.made
        # A worker claimed the other's row a minute before the sweep, then died before sending.
        Reminder.objects.filter(pk=held_id).update(claimed_at=made_at + lost_after - timedelta(minutes=1))

        traveller.move_to(made_at + lost_after - timedelta(seconds=1))
        assert services.reminders_unsent_requeue(after=jobs.LOST_AFTER) == []
        traveller.move_to(made_at + lost_after)
        assert services.reminders_unsent_requeue(after=jobs.LOST_AFTER) == [left_id]  # the claim is still live
        traveller.move_to(made_at + lost_after - timedelta(minutes=1) + jobs.CLAIM)
        # The left one was queued again a moment ago: not again; the held one's claim has expired.
        assert services.reminders_unsent_requeue(after=jobs.LOST_AFTER) == [held_id]
        assert send_jobs() == [[left_id], [held_id]]
        for job in send_jobs():
            services.reminders_send(reminder_ids=job)
        traveller.move_to(made_at + 3 * lost_after)
        assert services.reminders_unsent_requeue(after=jobs.LOST_AFTER) == []
    assert sorted(m.to[0] for m in mail.outbox) == sorted([left.email, held.email])
    assert [r[5:] for r in rows()] == [("sent", 1), ("sent", 1)]


# ---------------------------------------------------------------- opting out

@pytest.mark.django_db
def test_a_person_with_reminders_off_gets_no_row(end):
    certificant(CHICAGO, end=end, reminders_enabled=False)
    on = certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 8, CHICAGO), tick=False):
        report = services.reminders_queue()
    assert (report.people, report.due) == (1, 1)
    assert rows() == [(on.email, "cycle_ending", 30, end, end - timedelta(days=30), "queued", 0)]


@pytest.mark.django_db
def test_reminders_turned_off_between_queue_and_send_are_skipped(end):
    from accounts.services import email_preferences_update

    person = certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 8, CHICAGO), tick=False):
        report = services.reminders_queue()
        assert email_preferences_update(user_id=person.pk, reminders=False, how="preferences page") is True
        assert send(report) == {"sent": 0, "skipped": 1, "claimed": 0, "later": 0}
    reminder = Reminder.objects.get()
    assert (reminder.state, reminder.skip_reason, reminder.sent_at, reminder.sends) == (
        "skipped", "Reminders are off for this person.", None, 0)
    assert mail.outbox == []


@pytest.mark.django_db
def test_one_click_unsubscribe_from_the_email_stops_the_next_run(end):
    person = certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 8, CHICAGO), tick=False):
        send(services.reminders_queue())
    [message] = mail.outbox
    url = unsubscribe_url(person)
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url.startswith(settings.PORTAL_BASE_URL) and url in message.body
    # RFC 8058: the mail client POSTs the body, with no cookie and no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        urlsplit(url).path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.reminders_enabled is False
    with time_machine.travel(at(end - timedelta(days=7), 8, CHICAGO), tick=False):
        report = services.reminders_queue()
    assert (report.zones, report.people, report.made) == ({}, 0, [])
    assert [r[1:3] for r in rows()] == [("cycle_ending", 30)]


# ---------------------------------------------------------------- what the emails say

@pytest.mark.django_db
def test_one_email_for_several_certifications_ending_the_same_day(end):
    person = certificant(CHICAGO, end=end, codes=("CPT", "EP"), cecs=50)  # CPT's 45 full, EP's 60 not
    card(person, "CPT", expires_on=end + timedelta(days=400))
    certification_with_cycle(person, "GEI", start=date(end.year - 1, 1, 1), end=date(end.year + 1, 12, 31))
    day = end - timedelta(days=30)
    with time_machine.travel(at(day, 8, CHICAGO), tick=False):
        assert send(services.reminders_queue()) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    assert Reminder.objects.filter(state="sent", sends=1).count() == 2
    assert sorted(Reminder.objects.values_list("certification__certification_type__code", flat=True)) == [
        "CPT", "EP"]
    [message] = mail.outbox
    assert message.subject == "30 days left to renew your CPT and EP certifications"
    cycle = format_cycle(date(end.year - 2, 1, 1), end)
    assert (f"\n- Certified Personal Trainer (CPT), cycle {cycle}: ready to renew: press RENEW."
            f"\n- Certified Exercise Physiologist (EP), cycle {cycle}: 10 more CECs and a current CPR/AED card.\n"
            in message.body)
    assert "GEI" not in message.body
    html = message.alternatives[0][0]
    assert (f"<strong>Certified Exercise Physiologist (EP)</strong>, cycle {cycle}: 10 more CECs and a current "
            f"CPR/AED card.</li>") in html


@pytest.mark.django_db
def test_the_grace_period_email_on_jan_1(end):
    person = certificant(CHICAGO, end=end)
    jan_1 = end + timedelta(days=1)
    with time_machine.travel(at(jan_1, 8, CHICAGO), tick=False):
        send(services.reminders_queue())
    assert rows() == [(person.email, "grace_started", 0, end, jan_1, "sent", 1)]
    [message] = mail.outbox
    assert message.subject == (
        f"Your CPT certification expired on 12/31/{end.year}: renew by 6/30/{jan_1.year} with a late fee of $80")
    assert (f"Your CPT certification expired on 12/31/{end.year}. You are now in the grace period: you can still "
            f"renew until 6/30/{jan_1.year} at 11:59 PM Central time, with a late fee of $80 added to your cart."
            in message.body)
    assert f"expired on <strong>12/31/{end.year}</strong>" in message.alternatives[0][0]


@pytest.mark.django_db
def test_the_grace_period_ending_emails(end):
    person = certificant(CHICAGO, end=end)
    grace_end = date(end.year + 1, 6, 30)
    with time_machine.travel(at(grace_end - timedelta(days=30), 8, CHICAGO), tick=False) as traveller:
        send(services.reminders_queue())
        traveller.move_to(at(grace_end - timedelta(days=6), 8, CHICAGO))  # the 7-day morning missed
        send(services.reminders_queue())
    assert rows() == [(person.email, "grace_ending", 7, grace_end, grace_end - timedelta(days=6), "sent", 1),
                      (person.email, "grace_ending", 30, grace_end, grace_end - timedelta(days=30), "sent", 1)]
    assert [m.subject for m in mail.outbox] == ["30 days left in your CPT grace period",
                                                "6 days left in your CPT grace period"]
    assert f"renew your CPT certification by 6/30/{grace_end.year} at 11:59 PM Central time" in mail.outbox[1].body


@pytest.mark.django_db
def test_the_lapsed_email_says_how_to_apply_for_reinstatement(end):
    person = certificant(CHICAGO, end=end)
    jul_1 = date(end.year + 1, 7, 1)
    with time_machine.travel(at(jul_1, 8, CHICAGO), tick=False):
        send(services.reminders_queue())
    assert rows() == [(person.email, "lapsed", 0, date(end.year + 1, 6, 30), jul_1, "sent", 1)]
    [message] = mail.outbox
    assert message.subject == "Your CPT certification has lapsed"
    assert (f"Your CPT certification lapsed: the grace period ended on 6/30/{jul_1.year}, and a lapsed "
            f"certification can no longer be renewed online." in message.body)
    assert (f"To apply for reinstatement, write to {settings.CERTIFICATION_CONTACT_EMAIL} with your member ID "
            f"({person.member_id})." in message.body)
    assert f'<a href="mailto:{settings.CERTIFICATION_CONTACT_EMAIL}">' in message.alternatives[0][0]


@pytest.mark.django_db
def test_a_card_expiring_before_the_next_cycle_is_warned_of(end):
    before = certificant(CHICAGO, end=end)
    card(before, "CPT", expires_on=end - timedelta(days=10))  # Dec 21: its 30-day morning is Nov 21
    after = certificant(CHICAGO, end=end)
    card(after, "CPT", expires_on=end + timedelta(days=20))  # Jan 20: its 60-day morning is Nov 21 too
    nov_21 = end - timedelta(days=40)
    with time_machine.travel(at(nov_21, 8, CHICAGO), tick=False):
        assert send(services.reminders_queue()) == {"sent": 2, "skipped": 0, "claimed": 0, "later": 0}
    assert rows() == [(before.email, "cpr_expiring", 30, end - timedelta(days=10), nov_21, "sent", 1),
                      (after.email, "cpr_expiring", 60, end + timedelta(days=20), nov_21, "sent", 1)]
    warned, calm = sorted(mail.outbox, key=lambda m: m.to[0] != before.email)
    year = end.year
    assert warned.subject == f"Your CPR/AED card expires on 12/21/{year}"
    assert f"The CPR/AED card on file for your certification expires on 12/21/{year} (30 days from today)." \
           in warned.body
    assert (f": 12 more CECs.\n  Your CPR/AED card expires on 12/21/{year}, before your next cycle starts on "
            f"1/1/{year + 1}: renew before it expires, or upload a renewed card first.") in warned.body
    assert calm.subject == f"Your CPR/AED card expires on 1/20/{year + 1}"
    assert f"expires on 1/20/{year + 1} (60 days from today)." in calm.body
    assert "before your next cycle starts" not in calm.body


# ---------------------------------------------------------------- scale

# The zones in their morning; a batch's people, their open cycles, their reminders so far; the rows made (a
# savepoint around one INSERT); the next batch, empty.
QUERIES = 1 + 3 + 3 + 1


@pytest.mark.django_db
@pytest.mark.parametrize("people", [5, 50])
def test_the_run_reads_in_a_constant_number_of_queries(end, people, django_assert_num_queries):
    for _ in range(people):
        certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 8, CHICAGO), tick=False):
        with django_assert_num_queries(QUERIES) as captured:
            report = services.reminders_queue()
    assert len(report.made) == people
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1  # every row in one statement

