"""Dates for tests, built from the clock (``acsm_portal.clock``): no test holds a literal year."""

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")  # the portal's zone (settings.TIME_ZONE)


def next_leap_year(year: int) -> int:
    """The first leap year after ``year`` (2028 after 2024, 2104 after 2096)."""
    year += 1
    while not calendar.isleap(year):
        year += 1
    return year


def cycle_around(today: date) -> tuple[date, date]:
    """A three-year cycle holding ``today`` a year from either edge: January 1 last year to December 31 next year."""
    return date(today.year - 1, 1, 1), date(today.year + 1, 12, 31)


def at(day: date, hour: int = 12, minute: int = 0, zone: ZoneInfo = EASTERN) -> datetime:
    """``day`` at ``hour:minute`` on the clocks of ``zone`` (the portal's by default): an instant to travel to."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
