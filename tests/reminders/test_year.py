"""A year of the demo, day by day: the scheduler's run each morning and the mails each demo person gets from it.

The clock is frozen at noon UTC on November 1 of the clock's year and the demo seeded (``acsm_portal.demo``):
Casey (Indianapolis, Eastern time) holds CPT and EP without a CPR/AED card, Riley (Los Angeles) CPT ready to renew,
Jordan (Los Angeles) CPT renewed already, the renewal under audit. Then, for each of the next 365 days, the time is
moved to 17:00 UTC (the morning of every demo zone: 9-10 AM Pacific, noon-1 PM Eastern) and the run made and sent
what it found (``reminders_queue`` then ``reminders_send``, as the worker does). Nobody renews during the year.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail

from accounts.models import User
from acsm_portal import clock
from acsm_portal.demo import DEMO_AUDITED, DEMO_CERTIFICANT, DEMO_WEST, demo_casey_cycle, demo_riley_cycle, demo_seed
from certifications.models import CprUpload, Cycle
from reminders import services
from reminders.models import Reminder

pytestmark = pytest.mark.django_db

CASEY, RILEY, JORDAN = DEMO_CERTIFICANT["email"], DEMO_WEST["email"], DEMO_AUDITED["email"]
PACIFIC = "America/Los_Angeles"
DAYS = 365
MORNING = 17  # UTC: 9-10 AM Pacific, noon-1 PM Eastern
EVENING = 3  # UTC: 10-11 PM Eastern (past its sending hours), 7-8 PM Pacific of the day before
NIGHT = 10  # UTC: 2-3 AM Pacific, 5-6 AM Eastern: no demo zone is in its sending hours


@dataclass(frozen=True)
class Mail:
    """A reminder as its person got it: to whom, on which of their days, and its subject."""

    to: str
    day: date
    subject: str
    body: str = field(default="", compare=False, repr=False)


def utc(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def slash(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def days_from(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


@pytest.fixture
def start() -> date:
    """November 1 of the clock's year: the day the demo is seeded and the simulated year begins."""
    return date(clock.today().year, 11, 1)


@pytest.fixture
def traveller(start):
    """The clock frozen at noon UTC on ``start`` (it moves only when the test moves it), the demo seeded, and the
    seed's own mails (CPR decisions, the audit notice) left out of the outbox."""
    with time_machine.travel(utc(start, 12), tick=False) as traveller:
        demo_seed()
        mail.outbox.clear()
        yield traveller


@pytest.fixture
def end(start) -> date:
    """The cycle end of Casey and Riley (12/31 of the start's year), after the demo's own functions."""
    casey_end, riley_end = demo_casey_cycle(start)[1], demo_riley_cycle(start)[1]
    assert casey_end == riley_end == date(start.year, 12, 31)
    return casey_end


@pytest.fixture
def grace_end(end) -> date:
    """The grace period's last day: June 30 after the cycle end (SPEC.md)."""
    return date(end.year + 1, 6, 30)


def year_run(traveller, start: date, *, down: frozenset[date] = frozenset(),
             night_checks: frozenset[date] = frozenset()) -> list[Mail]:
    """Run the scheduler at 17:00 UTC on each of the ``DAYS`` days from ``start`` but those in ``down`` (the
    scheduler stopped), sending what each run made; on each day of ``night_checks``, first run it at 03:00 and
    10:00 UTC, outside the sending hours of some zones and then of every zone, and check it made nothing. Returns
    the mails sent, in order, each with the day it was on its person's clock."""
    zones = {person.email: clock.zone_for(person) for person in User.objects.all()}
    sent = []
    for day in days_from(start, DAYS):
        if day in down:
            continue
        if day in night_checks:
            traveller.move_to(utc(day, EVENING))
            report = services.reminders_queue()
            # Only Pacific time is in its sending hours, on its yesterday, whose morning run came first.
            assert (report.zones, report.due, report.made) == ({PACIFIC: day - timedelta(days=1)}, 0, [])
            traveller.move_to(utc(day, NIGHT))
            report = services.reminders_queue()
            # Everyone's date is ``day`` already, with something due on it: nobody is in their sending hours.
            assert (report.zones, report.people, report.made) == ({}, 0, [])
            assert mail.outbox == []
        traveller.move_to(utc(day, MORNING))
        report = services.reminders_queue()
        counts = services.reminders_send(reminder_ids=report.made)
        assert (counts["skipped"], counts["claimed"]) == (0, 0)
        assert counts["sent"] == len(mail.outbox)
        sent += [Mail(m.to[0], clock.now().astimezone(zones[m.to[0]]).date(), m.subject, m.body)
                 for m in mail.outbox]
        mail.outbox.clear()
    return sent


def mails_of(sent: list[Mail], email: str) -> list[Mail]:
    return [m for m in sent if m.to == email]


def casey_year(end: date, grace_end: date) -> list[Mail]:
    """Casey's year: CPT and EP in one mail each time (the two cycles end together), no card, so no card mail."""
    return [
        Mail(CASEY, end - timedelta(days=30), "30 days left to renew your CPT and EP certifications"),
        Mail(CASEY, end - timedelta(days=7), "7 days left to renew your CPT and EP certifications"),
        Mail(CASEY, end + timedelta(days=1),
             f"Your CPT and EP certifications expired on {slash(end)}: renew by {slash(grace_end)} "
             f"with a late fee of $80 for each certification"),
        Mail(CASEY, grace_end - timedelta(days=30), "30 days left in your CPT and EP grace period"),
        Mail(CASEY, grace_end - timedelta(days=7), "7 days left in your CPT and EP grace period"),
        Mail(CASEY, grace_end + timedelta(days=1), "Your CPT and EP certifications have lapsed"),
    ]


def riley_year(end: date, grace_end: date) -> list[Mail]:
    """Riley's year: ready to renew and never renewing; the card's first reminder comes after the year."""
    return [
        Mail(RILEY, end - timedelta(days=30), "30 days left to renew your CPT certification"),
        Mail(RILEY, end - timedelta(days=7), "7 days left to renew your CPT certification"),
        Mail(RILEY, end + timedelta(days=1),
             f"Your CPT certification expired on {slash(end)}: renew by {slash(grace_end)} with a late fee of $80"),
        Mail(RILEY, grace_end - timedelta(days=30), "30 days left in your CPT grace period"),
        Mail(RILEY, grace_end - timedelta(days=7), "7 days left in your CPT grace period"),
        Mail(RILEY, grace_end + timedelta(days=1), "Your CPT certification has lapsed"),
    ]


def test_the_demo_people_get_the_exact_mails_of_a_year_each_once(traveller, start, end, grace_end):
    last_day = start + timedelta(days=DAYS - 1)
    # What the seed made, from which the lists below follow. The 180 and 90 days' moments passed before the start.
    assert end - timedelta(days=90) < start < end - timedelta(days=30) and grace_end + timedelta(days=1) <= last_day
    assert set(CprUpload.objects.values_list("certification__user__email", "state")) == {
        (RILEY, "approved"), (JORDAN, "approved")}
    assert all(expires - timedelta(days=60) > last_day for expires in CprUpload.objects.values_list(
        "expires_on", flat=True))  # no card reminder falls in the year
    # Jordan renewed: the open cycle starts after Casey's ends, its first reminder 180 days before its own end.
    assert list(Cycle.objects.filter(certification__user__email=JORDAN, state=Cycle.State.OPEN)
                .values_list("start", "end")) == [(end + timedelta(days=1), date(end.year + 3, 12, 31))]
    moments = [m.day for m in casey_year(end, grace_end)]

    sent = year_run(traveller, start, night_checks=frozenset(moments))

    assert mails_of(sent, CASEY) == casey_year(end, grace_end)
    assert mails_of(sent, RILEY) == riley_year(end, grace_end)
    assert mails_of(sent, JORDAN) == []
    assert len(sent) == 12  # and nobody else (the staff member has no certification)
    # What each still needs, said in the first mail: Casey a card for both, Riley nothing.
    cycle = f"cycle {slash(demo_casey_cycle(start)[0])} - {slash(end)}"
    casey_first, riley_first = mails_of(sent, CASEY)[0].body, mails_of(sent, RILEY)[0].body
    assert (f"- Certified Personal Trainer (CPT), {cycle}: a current CPR/AED card.\n"
            f"- Certified Exercise Physiologist (EP), {cycle}: a current CPR/AED card.\n") in casey_first
    assert f"- Certified Personal Trainer (CPT), {cycle}: ready to renew: press RENEW.\n" in riley_first
    # One row per certification and reminder: Casey's two certifications are two rows sent in one mail.
    assert Reminder.objects.count() == 18
    assert sorted(Reminder.objects.filter(user__email=CASEY).values_list(
        "kind", "offset", "about", "for_day", "certification__certification_type__code", "state", "sends")) == sorted(
        (kind, offset, about, for_day, code, "sent", 1)
        for kind, offset, about, for_day in [
            ("cycle_ending", 30, end, end - timedelta(days=30)), ("cycle_ending", 7, end, end - timedelta(days=7)),
            ("grace_started", 0, end, end + timedelta(days=1)),
            ("grace_ending", 30, grace_end, grace_end - timedelta(days=30)),
            ("grace_ending", 7, grace_end, grace_end - timedelta(days=7)),
            ("lapsed", 0, grace_end, grace_end + timedelta(days=1)),
        ]
        for code in ("CPT", "EP"))

    # The same year again, the same mornings: everything is on record, nothing is made or sent a second time.
    for day in days_from(start, DAYS):
        traveller.move_to(utc(day, MORNING))
        report = services.reminders_queue()
        assert (report.due, report.made) == (0, [])
        assert services.reminders_send(reminder_ids=report.made) == {"sent": 0, "skipped": 0, "claimed": 0, "later": 0}
    assert mail.outbox == []
    assert Reminder.objects.count() == Reminder.objects.filter(state="sent", sends=1).count() == 18


def test_after_10_days_down_the_30_day_reminder_goes_out_late_with_the_days_truly_left(traveller, start, end,
                                                                                     grace_end):
    moment = end - timedelta(days=30)
    down = frozenset(days_from(moment - timedelta(days=4), 10))
    back = moment + timedelta(days=6)  # its window's last day

    sent = year_run(traveller, start, down=down)

    late = [Mail(CASEY, back, "24 days left to renew your CPT and EP certifications"),
            Mail(RILEY, back, "24 days left to renew your CPT certification")]
    assert mails_of(sent, CASEY) == [late[0], *casey_year(end, grace_end)[1:]]
    assert mails_of(sent, RILEY) == [late[1], *riley_year(end, grace_end)[1:]]
    assert mails_of(sent, JORDAN) == []
    deadline = f"{slash(end)} at 11:59 PM Eastern time"
    assert f"Your certification cycle ends {deadline}: 24 days left to renew.\n" in mails_of(sent, CASEY)[0].body
    assert set(Reminder.objects.filter(user__email=CASEY, kind="cycle_ending", offset=30)
               .values_list("for_day", flat=True)) == {back}
    assert Reminder.objects.filter(user__email=CASEY).count() == 12


def test_after_10_days_down_over_the_cycle_end_the_grace_mail_goes_out_and_no_7_days_left_after_the_end(
        traveller, start, end, grace_end):
    moment = end - timedelta(days=7)
    down = frozenset(days_from(moment - timedelta(days=1), 10))  # the 7 days' whole window and the cycle's end
    back = end + timedelta(days=2)

    sent = year_run(traveller, start, down=down)

    casey, riley = casey_year(end, grace_end), riley_year(end, grace_end)
    assert mails_of(sent, CASEY) == [casey[0], Mail(CASEY, back, casey[2].subject), *casey[3:]]
    assert mails_of(sent, RILEY) == [riley[0], Mail(RILEY, back, riley[2].subject), *riley[3:]]
    assert mails_of(sent, JORDAN) == []
    assert not Reminder.objects.filter(kind="cycle_ending", offset=7).exists()
    assert Reminder.objects.filter(user__email=CASEY).count() == 10
