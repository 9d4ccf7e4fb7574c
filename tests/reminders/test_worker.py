"""A reminder through the real pieces: the run queues its sending after commit to Redis, the suite's Celery worker
process sends it over SMTP to a real server process (aiosmtpd), and it arrives once with both parts and the
one-click unsubscribe headers; the same job queued again sends nothing.

The worker reads the real clock, not this process's, so nothing here travels in time: the person's zone is one
where it is now the middle of the day (``in_hours_zone``), and their cycle is placed around their date today.
"""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from accounts.email_preferences import unsubscribe_url
from acsm_portal import clock, jobs
from reminders import services
from reminders.models import Reminder
from reminders.tasks import reminders_send_task
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle
from tests.waits import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# Zones a whole day apart between them, west to east: one of them is always in the middle of its day.
ZONES = ("Pacific/Honolulu", "America/Los_Angeles", "America/Chicago", "America/New_York", "America/Sao_Paulo",
         "UTC", "Europe/Berlin", "Asia/Dubai", "Asia/Bangkok", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland",
         "Pacific/Kiritimati")


def in_hours_zone() -> str:
    """A zone where it is now between 9 AM and 8 PM: inside the sending hours (8 AM - 9 PM) with an hour to spare
    at each end, so the run here and the worker there see the same date and hours."""
    now = clock.now()
    return next(name for name in ZONES if 9 <= now.astimezone(clock.zone_named(name)).hour < 20)


def certificant_whose_cycle_ends_in(days: int, *, zone: str, email: str, first_name: str):
    """A CPT certificant in ``zone`` with 33 of 45 CECs and no card, whose cycle ends ``days`` after their today
    (negative: ended that many days ago)."""
    person = UserFactory(email=email, first_name=first_name, time_zone=zone)
    end = clock.today_for(person) + timedelta(days=days)
    start = end - timedelta(days=3 * 365)
    certification_with_cycle(person, "CPT", start=start, end=end)
    CECEntryFactory(user=person, date_earned=start, units=Decimal("33"), cecs=Decimal("33"), format="live")
    return person, end


def slash(day) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def header(message, name: str) -> str:
    """A header's value unfolded (RFC 5322 2.2.3): a long one (``List-Unsubscribe``, a subject) comes folded."""
    return re.sub(r"\r?\n(?=[ \t])", "", message[name]).strip()


def parts(message) -> dict[str, str]:
    return {part.get_content_type(): part.get_payload(decode=True).decode()
            for part in message.walk() if not part.is_multipart()}


def sent_row(pk: int) -> Reminder | None:
    row = Reminder.objects.get(pk=pk)
    return row if row.state == Reminder.State.SENT else None


def test_a_reminder_arrives_once_over_smtp_from_the_worker_and_a_repeated_job_sends_nothing(worker_mail):
    zone = in_hours_zone()
    casey, end = certificant_whose_cycle_ends_in(30, zone=zone, email="casey.worker@example.com", first_name="Casey")

    report = services.reminders_queue()  # outside a transaction: the job goes to the broker at once

    [reminder] = Reminder.objects.filter(user=casey)
    assert report.made == [reminder.pk]
    assert (reminder.kind, reminder.offset, reminder.about, reminder.for_day) == (
        "cycle_ending", 30, end, clock.today_for(casey))
    [message] = worker_mail.wait_for(1)
    assert header(message, "Subject") == "30 days left to renew your CPT certification"
    assert (header(message, "From"), header(message, "To")) == (settings.DEFAULT_FROM_EMAIL, "casey.worker@example.com")
    link = unsubscribe_url(casey)
    assert header(message, "List-Unsubscribe") == f"<{link}>"
    assert header(message, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative", "text/plain", "text/html"]
    body = parts(message)
    text, html = body["text/plain"], body["text/html"]
    deadline = f"{slash(end)} at 11:59 PM {clock.zone_label(zone)}"
    assert text.startswith(f"Hello Casey,\n\nYour certification cycle ends {deadline}: 30 days left to renew.\n")
    assert "12 more CECs and a current CPR/AED card.\n" in text
    assert f"\n{settings.PORTAL_BASE_URL}/dashboard/\n" in text
    assert f"Turn them off: {link}\n" in text
    assert html.startswith("<!doctype html>")
    assert f"<strong>{deadline}</strong>: 30 days left to renew." in html
    assert f'href="{link}"' in html
    sent = wait_until(lambda: sent_row(reminder.pk), what="the reminder to be marked sent")
    assert (sent.sends, sent.claimed_at, sent.skip_reason) == (1, None, "")
    assert sent.sent_at is not None and sent.sent_at >= reminder.created_at

    # The same job again, by hand; then a second person's reminder queued behind it. The worker takes jobs one at a
    # time, first in first out: when the second mail is in, the repeated job has run.
    assert jobs.queue(reminders_send_task, [reminder.pk]) is True
    riley, riley_end = certificant_whose_cycle_ends_in(-1, zone=zone, email="riley.worker@example.com",
                                                       first_name="Riley")
    second = services.reminders_queue()
    [later] = Reminder.objects.filter(user=riley)
    assert second.made == [later.pk] and later.kind == "grace_started"
    messages = worker_mail.wait_for(2)
    wait_until(lambda: sent_row(later.pk), what="the second reminder to be marked sent")

    assert [header(m, "To") for m in worker_mail.messages()] == ["casey.worker@example.com", "riley.worker@example.com"]
    assert header(messages[1], "Subject") == (f"Your CPT certification expired on {slash(riley_end)}: renew by "
                                      f"{slash(june_30_after(riley_end))} with a late fee of $80")
    again = Reminder.objects.get(pk=reminder.pk)
    assert (again.state, again.sends, again.sent_at) == ("sent", 1, sent.sent_at)


def june_30_after(end: date) -> date:
    """The grace period's last day for a cycle ending on ``end``: the first June 30 after it (SPEC.md)."""
    june_30 = date(end.year, 6, 30)
    return june_30 if june_30 > end else date(end.year + 1, 6, 30)
