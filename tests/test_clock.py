"""The clock: time-machine moves it, PORTAL_TODAY sets its date (never in production), and a person's today
and deadlines are in their own zone."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from acsm_portal import clock
from tests.accounts.test_settings import GOOD, run_manage

YEAR = clock.today().year
EASTERN, PACIFIC, AUCKLAND = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"), ZoneInfo("Pacific/Auckland")


class Person:
    def __init__(self, time_zone: str = ""):
        self.time_zone = time_zone


def test_now_follows_time_machine_and_is_aware():
    moment = datetime(YEAR, 12, 31, 23, 30, tzinfo=PACIFIC)
    with time_machine.travel(moment, tick=False):
        assert clock.now() == moment
        assert clock.now().utcoffset() == timedelta(0)


@pytest.mark.parametrize(("zone", "expected"), [
    ("America/Los_Angeles", date(YEAR, 12, 31)),
    ("America/New_York", date(YEAR + 1, 1, 1)),
    ("Pacific/Auckland", date(YEAR + 1, 1, 1)),
    ("", date(YEAR + 1, 1, 1)),  # no zone chosen: the portal's (New York)
])
def test_a_persons_today_is_the_date_in_their_zone(zone, expected, settings):
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(datetime(YEAR, 12, 31, 21, 30, tzinfo=PACIFIC), tick=False):  # 12:30 AM Eastern
        assert clock.today_for(Person(zone)) == expected


def test_auckland_is_a_day_ahead_of_the_portal(settings):
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(datetime(YEAR + 1, 1, 1, 9, 0, tzinfo=AUCKLAND), tick=False):
        assert clock.today() == date(YEAR, 12, 31)
        assert clock.today_for(Person("Pacific/Auckland")) == date(YEAR + 1, 1, 1)


def test_portal_today_answers_that_date_with_the_real_time_of_day(settings):
    settings.TIME_ZONE = "America/New_York"
    settings.PORTAL_TODAY = date(YEAR + 1, 1, 15)
    with time_machine.travel(datetime(YEAR, 6, 3, 14, 25, 7, tzinfo=EASTERN), tick=False):
        assert clock.now() == datetime(YEAR + 1, 1, 15, 14, 25, 7, tzinfo=EASTERN)
        assert clock.today() == date(YEAR + 1, 1, 15)
        assert clock.today_for(Person("America/Los_Angeles")) == date(YEAR + 1, 1, 15)
    with time_machine.travel(datetime(YEAR, 6, 3, 1, 0, tzinfo=EASTERN), tick=False):
        # 1:00 AM on the as-of day in New York is still the evening before in Los Angeles.
        assert clock.today_for(Person("America/Los_Angeles")) == date(YEAR + 1, 1, 14)


def test_portal_today_is_refused_in_production():
    result = run_manage({**GOOD, "PORTAL_TODAY": f"{YEAR + 1}-01-15"}, "check")
    assert result.returncode != 0
    assert "PORTAL_TODAY moves the portal's clock; it is refused in production." in result.stderr


def test_a_malformed_portal_today_is_refused_with_its_value():
    result = run_manage({"PORTAL_TODAY": "next tuesday"}, "check")
    assert result.returncode != 0
    assert "PORTAL_TODAY must be a date as YYYY-MM-DD, not 'next tuesday'." in result.stderr


def test_portal_today_in_development_moves_the_management_commands_clock():
    result = run_manage({"PORTAL_TODAY": f"{YEAR + 1}-07-02"}, "shell", "-c",
                        "from acsm_portal import clock; print(clock.today())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"{YEAR + 1}-07-02"


@pytest.mark.parametrize(("name", "label"), [
    ("America/Los_Angeles", "Pacific time"),
    ("America/New_York", "Eastern time"),
    ("America/Indiana/Indianapolis", "Eastern time"),
    ("America/Chicago", "Central time"),
    ("America/Denver", "Mountain time"),
    ("America/Phoenix", "Mountain time"),
    ("America/Anchorage", "Alaska time"),
    ("Pacific/Honolulu", "Hawaii time"),
    ("Pacific/Auckland", "New Zealand time"),
    ("UTC", "Coordinated Universal time"),
])
def test_zone_labels(name, label):
    assert clock.zone_label(name) == label


@pytest.mark.parametrize("name", ["America/Los_Angeles", "Europe/Berlin", "UTC"])
def test_zone_names_are_accepted(name):
    assert clock.is_zone_name(name)


@pytest.mark.parametrize("name", ["", "PST", "+02:00", "Mars/Olympus_Mons", "../../etc/passwd", "america/new_york",
                                  "<script>", "America/New_York\x00"])
def test_anything_else_is_not_a_zone(name):
    assert not clock.is_zone_name(name)


def test_deadline_and_moment_texts_say_whose_time(settings):
    settings.TIME_ZONE = "America/New_York"
    riley = Person("America/Los_Angeles")
    assert clock.deadline_text(date(YEAR, 12, 31), riley) == f"12/31/{YEAR} at 11:59 PM Pacific time"
    assert clock.deadline_text(date(YEAR, 12, 31), Person()) == f"12/31/{YEAR} at 11:59 PM Eastern time"
    paid = datetime(YEAR + 1, 1, 1, 3, 3, tzinfo=EASTERN)
    assert clock.moment_text(paid, riley) == f"1/1/{YEAR + 1} 12:03 AM Pacific time"
    assert clock.moment_text(paid, Person()) == f"1/1/{YEAR + 1} 3:03 AM Eastern time"
