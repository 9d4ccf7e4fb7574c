"""The clock: time-machine moves it, PORTAL_TODAY sets its date (never in production), and a person's today
and deadlines are in their own zone."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from acsm_portal import clock
from tests.production import GOOD, run_manage

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


@pytest.fixture
def as_of(settings):
    """PORTAL_TODAY set for one test; the clock fixes its shift at the first call after this."""
    settings.TIME_ZONE = "America/New_York"
    clock._shifts.clear()
    yield settings
    clock._shifts.clear()


def test_portal_today_answers_that_date_with_the_real_time_of_day(as_of):
    as_of.PORTAL_TODAY = date(YEAR + 1, 1, 15)
    with time_machine.travel(datetime(YEAR, 6, 3, 14, 25, 7, tzinfo=EASTERN), tick=False):
        assert clock.now() == datetime(YEAR + 1, 1, 15, 14, 25, 7, tzinfo=EASTERN)
        assert clock.today() == date(YEAR + 1, 1, 15)
        assert clock.today_for(Person("America/Los_Angeles")) == date(YEAR + 1, 1, 15)
    with time_machine.travel(datetime(YEAR, 6, 3, 1, 0, tzinfo=EASTERN), tick=False):
        # 1:00 AM on the as-of day in New York is still the evening before in Los Angeles.
        assert clock.today_for(Person("America/Los_Angeles")) == date(YEAR + 1, 1, 14)


def test_portal_today_runs_on_past_midnight_and_never_goes_back(as_of):
    as_of.PORTAL_TODAY = date(YEAR + 1, 7, 1)
    with time_machine.travel(datetime(YEAR, 3, 10, 23, 59, tzinfo=EASTERN), tick=False) as traveller:
        before = clock.now()
        assert before == datetime(YEAR + 1, 7, 1, 23, 59, tzinfo=EASTERN)
        traveller.move_to(datetime(YEAR, 3, 11, 0, 1, tzinfo=EASTERN))
        assert clock.now() == datetime(YEAR + 1, 7, 2, 0, 1, tzinfo=EASTERN)
        assert clock.now() > before
        assert clock.real_now() == datetime(YEAR, 3, 11, 0, 1, tzinfo=EASTERN)


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


@pytest.mark.parametrize(("sent", "stored"), [
    ("America/Los_Angeles", "America/Los_Angeles"), ("Europe/Berlin", "Europe/Berlin"), ("UTC", "UTC"),
    ("Etc/UTC", "UTC"), ("US/Pacific", "America/Los_Angeles"), (" America/Chicago ", "America/Chicago"),
])
def test_zone_names_and_their_aliases_are_accepted(sent, stored):
    assert clock.canonical_zone(sent) == stored
    assert clock.is_zone_name(stored)


@pytest.mark.parametrize("name", ["", "PST", "EST", "EST5EDT", "Etc/GMT+5", "localtime", "Factory", "Japan",
                                  "+02:00", "Mars/Olympus_Mons", "../../etc/passwd", "america/new_york", "<script>",
                                  "America/New_York\x00"])
def test_anything_else_is_not_a_zone(name):
    assert not clock.is_zone_name(name)
    assert clock.canonical_zone(name) is None


def test_every_zone_a_person_may_have_has_a_label():
    labels = {name: clock.zone_label(name) for name in clock.zone_names()}
    assert all(label.endswith(" time") and "Unknown" not in label for label in labels.values()), [
        (n, label) for n, label in labels.items() if not label.endswith(" time") or "Unknown" in label]


def test_a_stored_zone_this_machine_does_not_know_falls_back_to_the_portals(settings, caplog):
    settings.TIME_ZONE = "America/New_York"
    assert clock.zone_for(Person("Atlantis/Poseidonia")).key == "America/New_York"
    assert "Unknown time zone 'Atlantis/Poseidonia'" in caplog.text


def test_deadline_and_moment_texts_say_whose_time(settings):
    settings.TIME_ZONE = "America/New_York"
    riley = Person("America/Los_Angeles")
    assert clock.deadline_text(date(YEAR, 12, 31), riley) == f"12/31/{YEAR} at 11:59 PM Pacific time"
    assert clock.deadline_text(date(YEAR, 12, 31), Person()) == f"12/31/{YEAR} at 11:59 PM Eastern time"
    paid = datetime(YEAR + 1, 1, 1, 3, 3, tzinfo=EASTERN)
    assert clock.moment_text(paid, riley) == f"1/1/{YEAR + 1} 12:03 AM Pacific time"
    assert clock.moment_text(paid, Person()) == f"1/1/{YEAR + 1} 3:03 AM Eastern time"
