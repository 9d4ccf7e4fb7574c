"""The portal's one reader of the time.

Everything else receives ``now`` or ``today`` from here: views and services for the
person they act for (``today_for``), tasks and reports for the portal
(``today``). The pure rules in ``cecs/rules.py`` and ``certifications/rules.py``
never read the clock; they are handed ``today``.

A person's "today" is the date in their own time zone (``User.time_zone``, an IANA
name such as ``America/Los_Angeles``): a deadline such as the cycle end ends at
11:59 PM on that day *their* time.

``PORTAL_TODAY`` (an ISO date, development and tests only: settings refuse it in
production) moves the clock so that, in the portal's zone, it is that date at the
real time of day when the process first asks; from then on the clock runs as usual
(past midnight it is the next day), so time never goes backwards. Tests move the
time itself with time-machine, which this module follows.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import get_timezone_name
from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)

# Names some systems and browsers report for a zone that has a canonical name.
ZONE_ALIASES = {
    "Etc/UTC": "UTC", "Etc/UCT": "UTC", "Etc/Universal": "UTC", "Etc/Zulu": "UTC", "Etc/GMT": "UTC",
    "Etc/Greenwich": "UTC", "GMT": "UTC", "UCT": "UTC", "Universal": "UTC", "Zulu": "UTC",
    "US/Eastern": "America/New_York", "US/Central": "America/Chicago", "US/Mountain": "America/Denver",
    "US/Arizona": "America/Phoenix", "US/Pacific": "America/Los_Angeles", "US/Alaska": "America/Anchorage",
    "US/Hawaii": "Pacific/Honolulu", "US/East-Indiana": "America/Indiana/Indianapolis",
    "US/Michigan": "America/Detroit",
}


# The regions of the tz database's canonical names; the legacy country folders (Canada/, Mexico/, US/ …) and
# Etc/ are aliases or fixed offsets.
REGIONS = frozenset({"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
                     "Pacific"})


def portal_zone() -> ZoneInfo:
    """The portal's own zone (``settings.TIME_ZONE``), the default for a person who never chose one."""
    return zone_named(settings.TIME_ZONE)


def real_now() -> datetime:
    """The machine's time, aware (UTC), whatever ``PORTAL_TODAY`` says: for housekeeping that compares with
    timestamps Django itself writes from the real clock (session expiry)."""
    return timezone.now()


def now() -> datetime:
    """The current instant, aware (UTC): the real one, or under ``settings.PORTAL_TODAY`` the real one moved by
    whole days (see the module docstring). Never earlier than a previous answer in the same process, except
    for the hour a daylight-saving change repeats."""
    real = timezone.now()
    as_of: date | None = getattr(settings, "PORTAL_TODAY", None)
    if as_of is None:
        return real
    zone = portal_zone()
    local = real.astimezone(zone)
    days = _as_of_shift(as_of, settings.TIME_ZONE, local.date())
    moved = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone)
    return moved.astimezone(real.tzinfo)


_shifts: dict[tuple[date, str], int] = {}


def _as_of_shift(as_of: date, zone_name: str, real_local_day: date) -> int:
    """How many days ``PORTAL_TODAY`` moves the clock: fixed the first time this process asks."""
    return _shifts.setdefault((as_of, zone_name), (as_of - real_local_day).days)


def today(zone: tzinfo | None = None) -> date:
    """The date now in ``zone`` (default: the portal's zone), following ``PORTAL_TODAY`` like ``now()``."""
    return now().astimezone(zone or portal_zone()).date()


# How long a changed zone keeps the previous one's date when that is later: past any deadline's last hour in
# every zone (the zones of the world span 26 hours).
ZONE_CHANGE_HOLD = timedelta(hours=48)


def today_for(person) -> date:
    """The date now in ``person``'s own time zone: the "today" of every rule about them
    (Date Earned not in the future, cycle status, grace period, late fee, CPR card expiry).

    For ``ZONE_CHANGE_HOLD`` after the person's zone was changed (``time_zone_changed_at``), the later of the
    dates in the new and the previous zone: moving one's zone west never brings back a deadline that had
    already passed (a late fee, a lapse).
    """
    current = now()
    day = current.astimezone(zone_for(person)).date()
    changed_at = getattr(person, "time_zone_changed_at", None)
    if changed_at is not None and current - changed_at < ZONE_CHANGE_HOLD:
        before = current.astimezone(zone_for_name(getattr(person, "previous_time_zone", ""))).date()
        day = max(day, before)
    return day


def zone_for(person) -> ZoneInfo:
    """``person``'s time zone; the portal's for a person without one or an anonymous visitor (see
    ``zone_for_name``)."""
    return zone_for_name(getattr(person, "time_zone", "") or "")


def zone_for_name(name: str) -> ZoneInfo:
    """The zone named ``name``; the portal's for a blank name, or for a stored name this machine's tz database
    does not know (logged, so a page never fails over it)."""
    if not name:
        return portal_zone()
    try:
        return zone_named(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown time zone %r; using the portal's", name)
        return portal_zone()


@lru_cache(maxsize=None)
def zone_named(name: str) -> ZoneInfo:
    """The zone for an IANA name. Raises ``ZoneInfoNotFoundError`` (a ``KeyError``) for an unknown name and
    ``ValueError`` for a malformed one."""
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """The zones a person may have: every IANA zone of a region (``REGIONS``: "America/Chicago") in this machine's
    tz database, and UTC; not the legacy or alias names (``US/Pacific``, ``Canada/Pacific``, ``Etc/GMT+5``,
    ``EST``, ``localtime``)."""
    return frozenset(name for name in available_timezones() if name.split("/", 1)[0] in REGIONS and "/" in name) | {
        "UTC"}


def canonical_zone(name: str) -> str | None:
    """The zone name to store for ``name`` as a browser or a person sends it: itself when it is one of
    ``zone_names()``, its canonical name for a known alias (``US/Pacific`` -> ``America/Los_Angeles``,
    ``Etc/UTC`` -> ``UTC``), else None."""
    name = (name or "").strip()
    name = ZONE_ALIASES.get(name, name)
    return name if name in zone_names() else None


def is_zone_name(name: str) -> bool:
    """True when ``name`` is a zone a person may have (see ``zone_names``)."""
    return bool(name) and name in zone_names()


@lru_cache(maxsize=None)
def zone_label(name: str) -> str:
    """How a page names a zone's time: "Pacific time", "Eastern time", "New Zealand time".

    From the Unicode CLDR's generic names (through Babel), falling back to the standard name where CLDR has only
    a location ("Hawaii time", "Coordinated Universal time"). Raises ``ZoneInfoNotFoundError`` for an unknown
    name.
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
    """A deadline on ``day`` said in ``person``'s time: "12/31/Y at 11:59 PM Pacific time" (Y the year)."""
    return f"{day.month}/{day.day}/{day.year} at 11:59 PM {zone_label_for(person)}"


def moment_text(at: datetime, person) -> str:
    """An aware instant ``at`` as ``person`` reads it on their own clock: "1/1/Y 12:03 AM Pacific time"."""
    local = at.astimezone(zone_for(person))
    return f"{local.month}/{local.day}/{local.year} {local:%-I:%M %p} {zone_label_for(person)}"
