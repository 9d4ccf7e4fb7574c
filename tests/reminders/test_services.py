"""Reminders made once and sent once: the run, the sender, opting out, resending."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from acsm_portal import clock
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
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 1, "skipped": 0, "claimed": 0}
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 0, "skipped": 0, "claimed": 0}
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
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 0, "skipped": 1, "claimed": 0}
    assert Reminder.objects.get().state == "skipped" and mail.outbox == []

