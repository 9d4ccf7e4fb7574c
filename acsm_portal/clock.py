"""The portal's one reader of the time.

Everything else receives ``now`` or ``today`` from here: views and services for the
person they act for (``today_for``), tasks and reports for the portal
(``today``). The pure rules in ``cecs/rules.py`` and ``certifications/rules.py``
never read the clock; they are handed ``today``.

A person's "today" is the date in their own time zone (``User.time_zone``, an IANA
name such as ``America/Los_Angeles``): a deadline such as the cycle end ends at
11:59 PM on that day *their* time.

``PORTAL_TODAY`` (an ISO date, development and tests only: settings refuse it in
production) makes the clock answer that date with the real time of day in the
portal's zone, so staff can rehearse a season and testers can check a date.
Tests move the time itself with time-machine, which this module follows.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import get_timezone_name
from django.conf import settings
from django.utils import timezone

# The last minute of a day: a deadline "on 12/31" ends at 11:59 PM that day.
END_OF_DAY = time(23, 59)


def portal_zone() -> ZoneInfo:
    """The portal's own zone (``settings.TIME_ZONE``), the default for a person who never chose one."""
    return zone_named(settings.TIME_ZONE)


def now() -> datetime:
    """The current instant, time-zone aware (UTC).

    With ``settings.PORTAL_TODAY`` set: that date at the real time of day in the portal's zone.
    """
    real = timezone.now()
    as_of: date | None = getattr(settings, "PORTAL_TODAY", None)
    if as_of is None:
        return real
    zone = portal_zone()
    local = real.astimezone(zone)
    return datetime.combine(as_of, local.time(), tzinfo=zone).astimezone(real.tzinfo)


def today(zone: tzinfo | None = None) -> date:
    """The date now in ``zone`` (default: the portal's zone)."""
    return now().astimezone(zone or portal_zone()).date()


def today_for(person) -> date:
    """The date now in ``person``'s own time zone: the "today" of every rule about them
    (Date Earned not in the future, cycle status, grace period, late fee, CPR card expiry)."""
    return today(zone_for(person))


def zone_for(person) -> ZoneInfo:
    """``person``'s time zone; the portal's for a person without one (or an anonymous visitor)."""
    name = getattr(person, "time_zone", "") or ""
    return zone_named(name) if name else portal_zone()


@lru_cache(maxsize=None)
def zone_named(name: str) -> ZoneInfo:
    """The zone for an IANA name. Raises ``ZoneInfoNotFoundError`` (a ``KeyError``) for an unknown name."""
    return ZoneInfo(name)


def is_zone_name(name: str) -> bool:
    """True when ``name`` is an IANA time zone this machine knows (``America/Los_Angeles``; not ``PST``, ``+02:00``)."""
    if not name or name not in zone_names():
        return False
    try:
        zone_named(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every IANA zone name this machine's tz database holds."""
    return frozenset(available_timezones())


@lru_cache(maxsize=None)
def zone_label(name: str) -> str:
    """How a page names a zone's time: "Pacific time", "Eastern time", "New Zealand time".

    From the Unicode CLDR's generic names (through Babel), falling back to the standard
    name where CLDR has only a location ("Hawaii time", "Coordinated Universal time").
    """
    zone = zone_named(name)
    label = get_timezone_name(zone, width="long", locale="en_US")
    if "(" in label:
        label = get_timezone_name(zone, width="long", zone_variant="standard", locale="en_US")
        label = label.replace(" Standard Time", " Time")
    return label[: -len(" Time")] + " time" if label.endswith(" Time") else label


def zone_label_for(person) -> str:
    """Whose time ``person``'s deadlines are in: "Pacific time" (the portal's zone for a person without one)."""
    return zone_label(zone_for(person).key)


def deadline_text(day: date, person) -> str:
    """A deadline on ``day`` said in ``person``'s time: "12/31/2026 at 11:59 PM Pacific time"."""
    return f"{day.month}/{day.day}/{day.year} at 11:59 PM {zone_label_for(person)}"


def moment_text(at: datetime, person) -> str:
    """An instant as ``person`` reads it on their own clock: "1/1/2027 12:03 AM Pacific time"."""
    local = at.astimezone(zone_for(person))
    return f"{local.month}/{local.day}/{local.year} {local:%-I:%M %p} {zone_label_for(person)}"
