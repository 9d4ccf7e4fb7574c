"""The daily digest of new provider credits: one email a day per certificant in their daytime, each credit in one
email, never a retracted one, always sent, and exactly once when two runs meet."""

import threading
from datetime import date, timedelta
from smtplib import SMTPException
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse

from acsm_portal import clock, jobs
from providers import digest
from providers.digest import provider_credit_digests_queue, provider_credit_digests_send
from providers.models import Completion
from providers.services import completion_retract
from providers.tasks import provider_credit_digests_queue_task, provider_credit_digests_send_task
from tests.dates import at
from tests.factories import UserFactory
from tests.pages import text

from .test_certificant_side import post, provider_with_course

CHICAGO = ZoneInfo("America/Chicago")
NOTHING = {"sent": 0, "credits": 0, "busy": 0, "later": 0, "none": 0}
PATIENCE = 30  # seconds a thread waits for the other at most; never reached when the code is right


@pytest.fixture
def day():
    """The day the digests are sent: a weekday in the clock's year, away from daylight-saving changes."""
    return date(clock.today().year, 6, 10)


@pytest.fixture
def earned(day):
    return day - timedelta(days=20)


@pytest.fixture
def casey(db):
    return UserFactory(first_name="Casey", time_zone="America/Chicago")


@pytest.fixture
def courses(db):
    return (provider_with_course(),
            provider_with_course(name="NSCA Learning", number="P-0002", course="Strength Basics",
                                 course_number="SB-1", cecs="2.5"))


def counts(**given) -> dict[str, int]:
    return {**NOTHING, **given}


@pytest.mark.django_db
def test_one_email_lists_the_new_credits_and_stamps_them(casey, courses, day, earned):
    eim, strength = courses
    other = UserFactory(time_zone="America/Chicago")
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        first = post(eim, casey, earned, "X-1")
        second = post(strength, casey, earned + timedelta(days=1), "Y-1")
        theirs = post(eim, other, earned, "X-2")
    sent_at = at(day, 10, zone=CHICAGO)
    with time_machine.travel(sent_at, tick=False):
        assert provider_credit_digests_queue() == sorted([casey.pk, other.pk])
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=2)
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(none=1)

    [message] = mail.outbox
    assert message.to == [casey.email]
    assert message.subject == "2 new credits reported by your providers"
    after = earned + timedelta(days=1)
    e, e2 = f"{earned.month}/{earned.day}/{earned.year}", f"{after.month}/{after.day}/{after.year}"
    assert message.body.startswith(
        "Hello Casey,\n\nProviders reported 2 credits (7.5 CECs) to your record:\n\n"
        f"- Exercise is Medicine Level 1: 5 CECs, completed {e}, reported by ACSM Online Learning\n"
        f"- Strength Basics: 2.5 CECs, completed {e2}, reported by NSCA Learning\n\n"
        "They count toward your certification like a credit you report yourself, so there is no need to report "
        "them again. If one is wrong, please contact the provider that reported it.\n\n"
        f"See your credits on your CEC Dashboard:\n{settings.PORTAL_BASE_URL.rstrip('/')}{reverse('dashboard')}\n")
    assert "unsubscribe" not in message.body.lower()
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert ("<li style=\"margin-bottom: 8px;\"><strong>Strength Basics</strong>: 2.5 CECs, completed "
            f"{e2}, reported by NSCA Learning</li>") in html
    stamped = dict(Completion.objects.values_list("pk", "digest_sent_at"))
    assert stamped == {first.pk: sent_at, second.pk: sent_at, theirs.pk: None}


@pytest.mark.django_db
def test_a_single_credit_names_its_provider(casey, courses, day, earned):
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        post(courses[0], casey, earned, "X-1")
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=1)
    [message] = mail.outbox
    assert message.subject == "1 new credit reported by ACSM Online Learning"
    assert "Hello Casey,\n\nA provider reported a credit to your record:\n\n" in message.body
    assert "It counts toward your certification like a credit you report yourself, so there is no need to report " \
           "it again." in message.body


@pytest.mark.django_db
def test_the_digest_goes_out_in_the_persons_daytime_once_a_day(casey, courses, day, earned):
    eim, strength = courses
    with time_machine.travel(at(day, 6, zone=CHICAGO), tick=False):
        first = post(eim, casey, earned, "X-1")
    # Before 8 AM and from 9 PM their time, nothing; the portal's own zone (an hour ahead) does not matter.
    for hour, minute in ((7, 59), (21, 0), (23, 30)):
        with time_machine.travel(at(day, hour, minute, zone=CHICAGO), tick=False):
            assert provider_credit_digests_queue() == []
            assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(later=1)
    assert mail.outbox == []
    with time_machine.travel(at(day, 8, zone=CHICAGO), tick=False):
        assert provider_credit_digests_queue() == [casey.pk]
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=1)
    # A credit posted later that day waits for the next day's digest.
    with time_machine.travel(at(day, 12, zone=CHICAGO), tick=False):
        later = post(strength, casey, earned, "Y-1")
    with time_machine.travel(at(day, 20, 59, zone=CHICAGO), tick=False):
        assert provider_credit_digests_queue() == []
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(later=1)
    assert len(mail.outbox) == 1
    next_morning = at(day + timedelta(days=1), 8, 5, zone=CHICAGO)
    with time_machine.travel(next_morning, tick=False):
        assert provider_credit_digests_queue() == [casey.pk]
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=1)
    assert [m.subject for m in mail.outbox] == ["1 new credit reported by ACSM Online Learning",
                                                "1 new credit reported by NSCA Learning"]
    assert "Exercise is Medicine" not in mail.outbox[1].body
    assert Completion.objects.get(pk=first.pk).digest_sent_at == at(day, 8, zone=CHICAGO)
    assert Completion.objects.get(pk=later.pk).digest_sent_at == next_morning


@pytest.mark.django_db
def test_a_retracted_credit_is_not_in_the_digest(casey, courses, day, earned):
    eim, strength = courses
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        post(eim, casey, earned, "X-1")
        kept = post(strength, casey, earned, "Y-1")
        retracted = completion_retract(provider_id=eim.provider_id, external_id="X-1", reason="Wrong member.",
                                       by="token Test")
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=1)
    [message] = mail.outbox
    assert message.subject == "1 new credit reported by NSCA Learning"
    assert "Exercise is Medicine" not in message.body
    assert Completion.objects.get(pk=retracted.pk).digest_sent_at is None
    assert Completion.objects.get(pk=kept.pk).digest_sent_at == at(day, 9, zone=CHICAGO)
    # A person whose only new credit was retracted gets nothing.
    other = UserFactory(time_zone="America/Chicago")
    with time_machine.travel(at(day, 10, zone=CHICAGO), tick=False):
        post(eim, other, earned, "X-9")
        completion_retract(provider_id=eim.provider_id, external_id="X-9", reason="Wrong member.", by="t")
        assert provider_credit_digests_queue() == []
        assert provider_credit_digests_send(user_ids=[other.pk]) == counts(none=1)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_digest_is_always_sent_but_never_to_an_inactive_person(casey, courses, day, earned):
    casey.reminders_enabled = False
    casey.save(update_fields=["reminders_enabled"])
    gone = UserFactory(time_zone="America/Chicago")
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        post(courses[0], casey, earned, "X-1")
        post(courses[0], gone, earned, "X-2")
        type(gone).objects.filter(pk=gone.pk).update(is_active=False)
        assert provider_credit_digests_queue() == [casey.pk]
        assert provider_credit_digests_send(user_ids=[casey.pk, gone.pk]) == counts(sent=1, credits=1, none=1)
    assert [m.to for m in mail.outbox] == [[casey.email]]


@pytest.mark.django_db
def test_a_failed_send_leaves_the_credits_due(casey, courses, day, earned, monkeypatch):
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        completion = post(courses[0], casey, earned, "X-1")

        def refused(**kwargs):
            raise SMTPException("421 try again later")

        monkeypatch.setattr(digest, "mail_send", refused)
        with pytest.raises(SMTPException):
            provider_credit_digests_send(user_ids=[casey.pk])
        assert Completion.objects.filter(pk=completion.pk).values("digest_sent_at", "digest_claimed_at").get() == {
            "digest_sent_at": None, "digest_claimed_at": None}
        assert provider_credit_digests_queue() == [casey.pk]
        monkeypatch.undo()
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=1)
    assert len(mail.outbox) == 1
    assert Completion.objects.filter(pk=completion.pk).values("digest_sent_at", "digest_claimed_at").get() == {
        "digest_sent_at": at(day, 9, zone=CHICAGO), "digest_claimed_at": None}


@pytest.mark.django_db
def test_a_claim_keeps_other_runs_away_until_it_expires(casey, courses, day, earned):
    """A worker killed while sending leaves its claim: other runs leave the person alone for jobs.CLAIM, then send."""
    eim, strength = courses
    now = at(day, 9, zone=CHICAGO)
    with time_machine.travel(now, tick=False):
        held = post(eim, casey, earned, "X-1")
        fresh = post(strength, casey, earned, "Y-1")  # unclaimed, yet the person is held: one email a day
        Completion.objects.filter(pk=held.pk).update(digest_claimed_at=now - jobs.CLAIM + timedelta(seconds=1))
        assert provider_credit_digests_queue() == [casey.pk]
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(busy=1)
        assert mail.outbox == []
        assert dict(Completion.objects.values_list("pk", "digest_claimed_at")) == {
            held.pk: now - jobs.CLAIM + timedelta(seconds=1), fresh.pk: None}
        Completion.objects.filter(pk=held.pk).update(digest_claimed_at=now - jobs.CLAIM)
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=2)
    [message] = mail.outbox
    assert message.subject == "2 new credits reported by your providers"
    assert set(Completion.objects.values_list("pk", "digest_sent_at", "digest_claimed_at")) == {
        (held.pk, now, None), (fresh.pk, now, None)}


@pytest.mark.django_db
def test_a_person_left_for_later_is_not_claimed(casey, courses, day, earned):
    with time_machine.travel(at(day, 7, zone=CHICAGO), tick=False):
        completion = post(courses[0], casey, earned, "X-1")
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(later=1)
    assert Completion.objects.filter(pk=completion.pk).values("digest_sent_at", "digest_claimed_at").get() == {
        "digest_sent_at": None, "digest_claimed_at": None}


@pytest.mark.django_db
def test_the_queue_sends_people_in_chunks(courses, day, earned, monkeypatch):
    people = [UserFactory(time_zone=zone) for zone in ("America/Chicago", "America/New_York", "America/Denver")]
    far = UserFactory(time_zone="Asia/Tokyo")  # 11 PM there
    queued = []
    monkeypatch.setattr(digest, "SEND_CHUNK", 2)
    monkeypatch.setattr(digest.jobs, "queue", lambda task, *args: queued.append((task, args)) or True)
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        for n, person in enumerate(people + [far]):
            post(courses[0], person, earned, f"X-{n}")
        ids = sorted(p.pk for p in people)
        assert provider_credit_digests_queue() == ids
    assert queued == [(provider_credit_digests_send_task, (ids[:2],)), (provider_credit_digests_send_task, (ids[2:],))]


@pytest.mark.django_db
def test_the_tasks_call_the_services_and_beat_runs_the_queue_hourly(casey, courses, day, earned, monkeypatch):
    queued = []
    monkeypatch.setattr(digest.jobs, "queue", lambda task, *args: queued.append(args) or True)
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        post(courses[0], casey, earned, "X-1")
        assert provider_credit_digests_queue_task.apply().get() == 1
        assert queued == [([casey.pk],)]
        assert provider_credit_digests_send_task.apply(args=[[casey.pk]]).get() == counts(sent=1, credits=1)
    assert len(mail.outbox) == 1
    assert settings.CELERY_BEAT_SCHEDULE["send-provider-credit-digests"] == {
        "task": "providers.tasks.provider_credit_digests_queue_task", "schedule": crontab(minute=7),
        "options": {"expires": 60 * 60}}
    assert provider_credit_digests_queue_task.name == "providers.tasks.provider_credit_digests_queue_task"


@pytest.mark.django_db
def test_the_email_preferences_say_the_digest_is_always_sent(user_client):
    html = user_client.get(reverse("email_preferences")).content.decode()
    always = html[html.index('<ul id="always-sent"'):]
    always = always[:always.index("</ul>")]
    assert ("<li>Credits a provider reported to your record: one notice a day, listing the new ones</li>"
            in always)
    assert "Credits a provider reported to your record: one notice a day" in text(html)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_one_email(casey, courses, day, earned, monkeypatch):
    """Run A claims Casey's credits and holds no lock while its email is on its way; run B, meanwhile, finds them
    claimed and leaves her to A; after A, B finds her digest of the day sent."""
    eim, strength = courses
    sending, release = threading.Event(), threading.Event()
    real_send = digest.mail_send

    def slow_send(**kwargs):
        sending.set()
        assert release.wait(PATIENCE)
        real_send(**kwargs)

    results = {}

    def run_a():
        try:
            results["a"] = provider_credit_digests_send(user_ids=[casey.pk])
        finally:
            connection.close()

    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        post(eim, casey, earned, "X-1")
    with time_machine.travel(at(day, 10, zone=CHICAGO), tick=False):  # the thread sees the same moved clock
        monkeypatch.setattr(digest, "mail_send", slow_send)
        a = threading.Thread(target=run_a)
        a.start()
        try:
            assert sending.wait(PATIENCE)
            monkeypatch.setattr(digest, "mail_send", real_send)
            # A's claim is committed and no row is locked while it sends: a NOWAIT lock is had at once.
            with transaction.atomic():
                claimed = list(Completion.objects.select_for_update(nowait=True).filter(user=casey)
                               .values_list("external_id", "digest_claimed_at", "digest_sent_at"))
            assert claimed == [("X-1", at(day, 10, zone=CHICAGO), None)]
            # A credit posted while A is sending: B still leaves Casey to A, not a second email the same day.
            post(strength, casey, earned, "Y-1")
            assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(busy=1)
        finally:
            release.set()
            a.join(PATIENCE)
    assert results["a"] == counts(sent=1, credits=1)
    with time_machine.travel(at(day, 11, zone=CHICAGO), tick=False):
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(later=1)
    assert [m.subject for m in mail.outbox] == ["1 new credit reported by ACSM Online Learning"]
    assert set(Completion.objects.values_list("external_id", "digest_sent_at", "digest_claimed_at")) == {
        ("X-1", at(day, 10, zone=CHICAGO), None), ("Y-1", None, None)}


@pytest.mark.django_db(transaction=True)
def test_a_run_meeting_another_runs_claim_in_progress_leaves_the_person(casey, courses, day, earned):
    """While run A's claim transaction has Casey's credits locked (not yet committed), run B skips the locked rows and
    leaves her to A rather than waiting or sending what is left."""
    eim, strength = courses
    with time_machine.travel(at(day, 9, zone=CHICAGO), tick=False):
        post(eim, casey, earned, "X-1")
        post(strength, casey, earned, "Y-1")
    locked, release = threading.Event(), threading.Event()

    def claiming():
        try:
            with transaction.atomic():
                list(Completion.objects.select_for_update().filter(external_id="X-1"))
                locked.set()
                assert release.wait(PATIENCE)
        finally:
            connection.close()

    a = threading.Thread(target=claiming)
    a.start()
    try:
        assert locked.wait(PATIENCE)
        with time_machine.travel(at(day, 10, zone=CHICAGO), tick=False):
            assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(busy=1)
    finally:
        release.set()
        a.join(PATIENCE)
    assert mail.outbox == []
    assert set(Completion.objects.values_list("external_id", "digest_sent_at", "digest_claimed_at")) == {
        ("X-1", None, None), ("Y-1", None, None)}
    with time_machine.travel(at(day, 10, zone=CHICAGO), tick=False):
        assert provider_credit_digests_send(user_ids=[casey.pk]) == counts(sent=1, credits=2)
