"""``manage.py send_reminders [--dry-run]``: the scheduler's hourly job by hand. A dry run prints what would be sent
to whom and why and records nothing; a real run makes the rows."""

from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from acsm_portal import clock
from audits.models import AuditEmail
from certifications.models import Cycle
from reminders.models import Reminder
from tests.reminders.test_queue import CHICAGO, LOS_ANGELES, at, certificant

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command("send_reminders", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def end() -> date:
    return date(clock.today().year, 12, 31)


def test_a_dry_run_prints_whom_and_why_and_records_nothing(end):
    y = end.year
    ending = certificant(CHICAGO, end=end)
    ended = certificant(CHICAGO, end=end - timedelta(days=31))  # Nov 30: its grace period starts Dec 1
    certificant(LOS_ANGELES, end=end)  # 6:05 AM there: not yet
    cycle = {person.pk: Cycle.objects.get(certification__user=person) for person in (ending, ended)}
    with time_machine.travel(at(end - timedelta(days=30), 8, CHICAGO), tick=False):
        lines = run("--dry-run")
    assert lines == [
        f"Zones in their sending hours: {CHICAGO} 12/1/{y}",
        f"due for {ending.email}: cycle ending: 30 days before 12/31/{y} (certification "
        f"{cycle[ending.pk].certification_id}, cycle {cycle[ending.pk].pk}; their date 12/1/{y})",
        f"due for {ended.email}: grace period started: after 11/30/{y} (certification "
        f"{cycle[ended.pk].certification_id}, cycle {cycle[ended.pk].pk}; their date 12/1/{y})",
        f'would send to {ending.email}: "30 days left to renew your CPT certification"',
        "    CPT: 12 more CECs and a current CPR/AED card",
        f'would send to {ended.email}: "Your CPT certification expired on 11/30/{y}: renew by 6/30/{y + 1} with a '
        f'late fee of $80"',
        "    CPT: 12 more CECs and a current CPR/AED card",
        f"Dry run at {y}-12-01 14:05 UTC: 2 people evaluated, 2 reminders and 0 audit reminders would be sent; "
        f"nothing was recorded or sent.",
    ]
    assert (Reminder.objects.count(), AuditEmail.objects.count(), mail.outbox) == (0, 0, [])


def test_without_dry_run_the_rows_are_made_once(end):
    person = certificant(CHICAGO, end=end)
    dec_1 = end - timedelta(days=30)
    with time_machine.travel(at(dec_1, 8, CHICAGO), tick=False):
        assert run() == [f"Zones in their sending hours: {CHICAGO} 12/1/{end.year}",
                         "1 people evaluated; 1 reminders and 0 audit reminders queued to be sent."]
        assert run()[-1] == "1 people evaluated; 0 reminders and 0 audit reminders queued to be sent."
        assert run("--dry-run")[-1] == (
            f"Dry run at {end.year}-12-01 14:05 UTC: 1 people evaluated, 0 reminders and 0 audit reminders would be "
            f"sent; nothing was recorded or sent.")
    assert list(Reminder.objects.values_list("user_id", "kind", "offset", "about", "for_day", "state")) == [
        (person.pk, "cycle_ending", 30, end, dec_1, "queued")]


def test_outside_everyones_morning_nothing_is_evaluated(end):
    certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 6, CHICAGO), tick=False):
        assert run("--dry-run") == [
            "Zones in their sending hours: none",
            f"Dry run at {end.year}-12-01 12:05 UTC: 0 people evaluated, 0 reminders and 0 audit reminders would be "
            f"sent; nothing was recorded or sent.",
        ]
