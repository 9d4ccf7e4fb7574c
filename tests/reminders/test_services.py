"""Reminders made once and sent once: the run, the sender, opting out, resending."""

import asyncio
import socket
import threading
from datetime import date, datetime, time, timedelta
from smtplib import SMTPRecipientsRefused
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.core import mail

from acsm_portal import clock, jobs
from certifications.models import Cycle
from reminders import services
from reminders.models import Reminder
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle, renewable_certification

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")


def at(day: date, hour: int, zone=CHICAGO) -> datetime:
    return datetime.combine(day, time(hour, 5), tzinfo=zone)


def cycle_ending(end: date):
    return end - timedelta(days=3 * 365), end


@pytest.fixture
def end():
    """The Dec 31 ending the current cycle of the people below: this year's (the clock's)."""
    return date(clock.today().year, 12, 31)


@pytest.fixture
def person(end):
    person = UserFactory(time_zone="America/Chicago", first_name="Casey")
    start, _ = cycle_ending(end)
    certification_with_cycle(person, "CPT", start=start, end=end)
    CECEntryFactory(user=person, date_earned=start, units=33, cecs=33, format="live")
    return person


def test_the_30_day_reminder_is_made_once_and_says_what_is_missing(person, end):
    with time_machine.travel(at(end - timedelta(days=30), 8), tick=False):
        report = services.reminders_queue()
        again = services.reminders_queue()
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 0, "skipped": 0, "claimed": 0, "later": 0}
    reminder = Reminder.objects.get()
    assert (reminder.kind, reminder.offset, reminder.about, reminder.state) == ("cycle_ending", 30, end, "sent")
    assert report.made == [reminder.pk] and again.made == [] and again.due == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "30 days left to renew your CPT certification"
    assert "12 more CECs and a current CPR/AED card." in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.alternatives[0][1] == "text/html"


def test_before_8_am_in_their_zone_nothing_is_due(person, end):
    with time_machine.travel(at(end - timedelta(days=30), 7), tick=False):
        report = services.reminders_queue()
    assert (report.people, report.made) == (0, [])


def test_a_renewable_person_is_told_to_press_renew(end):
    person = UserFactory(time_zone="America/Chicago")
    start, _ = cycle_ending(end)
    with time_machine.travel(at(end - timedelta(days=7), 9), tick=False):
        renewable_certification(person, "CPT", start=start, end=end)
        services.reminders_send(reminder_ids=services.reminders_queue().made)
    assert mail.outbox[0].subject == "7 days left to renew your CPT certification"
    assert "ready to renew: press RENEW." in mail.outbox[0].body


def test_renewed_meanwhile_the_queued_reminder_is_skipped(person, end):
    with time_machine.travel(at(end - timedelta(days=90), 8), tick=False):
        report = services.reminders_queue()
        Cycle.objects.filter(certification__user=person).update(state="renewed")
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 0, "skipped": 1, "claimed": 0, "later": 0}
    assert Reminder.objects.get().state == "skipped" and mail.outbox == []



# ---------------------------------------------------------------- what the mail server answers
# A real SMTP server (aiosmtpd, over TCP) that refuses some addresses, or takes a message and then keeps silent.

class Server:
    """An SMTP handler: ``refuse`` maps an address to its reply ("550 No such user"); while ``hold`` is set, a
    message is received and the reply withheld until ``release`` is set."""

    def __init__(self):
        self.refuse: dict[str, str] = {}
        self.received: list[tuple[str, ...]] = []
        self.hold = False
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(tuple(envelope.rcpt_tos))
        if self.hold:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    handler = Server()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()  # returns once the server answers
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 2
    yield handler
    handler.release.set()
    controller.stop()


def three_due(end):
    people = []
    for name in ("Avery", "Blake", "Cruz"):
        person = UserFactory(time_zone="America/Chicago", first_name=name, email=f"{name.lower()}@example.org")
        start, _ = cycle_ending(end)
        certification_with_cycle(person, "CPT", start=start, end=end)
        people.append(person)
    return people


def states():
    return list(Reminder.objects.order_by("user__first_name").values_list("user__first_name", "state", "skip_reason",
                                                                          "claimed_at"))


def test_an_address_refused_for_good_is_skipped_and_the_next_person_still_gets_theirs(end, smtp):
    smtp.refuse["blake@example.org"] = "550 5.1.1 No such mailbox"
    three_due(end)
    with time_machine.travel(at(end - timedelta(days=30), 8), tick=False):
        made = services.reminders_queue().made
        assert services.reminders_send(reminder_ids=made) == {"sent": 2, "skipped": 1, "claimed": 0, "later": 0}
    assert smtp.received == [("avery@example.org",), ("cruz@example.org",)]
    assert states() == [("Avery", "sent", "", None),
                        ("Blake", "skipped", "The mail server refused it: 550 5.1.1 No such mailbox", None),
                        ("Cruz", "sent", "", None)]


def test_a_passing_refusal_leaves_that_person_queued_and_is_raised_after_the_others(end, smtp):
    smtp.refuse["blake@example.org"] = "451 4.3.0 Try again later"
    three_due(end)
    with time_machine.travel(at(end - timedelta(days=30), 8), tick=False):
        made = services.reminders_queue().made
        with pytest.raises(SMTPRecipientsRefused):
            services.reminders_send(reminder_ids=made)
        assert smtp.received == [("avery@example.org",), ("cruz@example.org",)]
        assert states() == [("Avery", "sent", "", None), ("Blake", "queued", "", None), ("Cruz", "sent", "", None)]
        # The task's retry: the server takes it now, and only Blake's goes out.
        del smtp.refuse["blake@example.org"]
        assert services.reminders_send(reminder_ids=made) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    assert smtp.received[-1] == ("blake@example.org",)
    assert [s[1] for s in states()] == ["sent", "sent", "sent"]


def test_a_server_that_took_the_message_and_kept_silent_is_not_sent_it_again(person, end, smtp):
    smtp.hold = True
    with time_machine.travel(at(end - timedelta(days=30), 8), tick=False):
        made = services.reminders_queue().made
        assert services.reminders_send(reminder_ids=made) == {"sent": 0, "skipped": 1, "claimed": 0, "later": 0}
        smtp.release.set()
        assert services.reminders_send(reminder_ids=made) == {"sent": 0, "skipped": 0, "claimed": 0, "later": 0}
    assert smtp.received == [(person.email,)]
    reminder = Reminder.objects.get()
    assert (reminder.state, reminder.sends) == ("skipped", 0)
    assert reminder.skip_reason.startswith("The mail server did not answer in time: it may have been delivered")


def test_after_9_pm_in_their_zone_a_queued_reminder_waits_for_their_morning(person, end):
    made_at = at(end - timedelta(days=30), 20)
    with time_machine.travel(made_at, tick=False) as traveller:
        made = services.reminders_queue().made
        traveller.move_to(at(end - timedelta(days=30), 21))
        assert services.reminders_send(reminder_ids=made) == {"sent": 0, "skipped": 0, "claimed": 0, "later": 1}
        assert (Reminder.objects.get().state, Reminder.objects.get().claimed_at) == ("queued", None)
        assert mail.outbox == []
        traveller.move_to(at(end - timedelta(days=29), 8))
        assert services.reminders_unsent_requeue(after=jobs.LOST_AFTER) == made
        assert services.reminders_send(reminder_ids=made) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    assert mail.outbox[0].subject == "29 days left to renew your CPT certification"
