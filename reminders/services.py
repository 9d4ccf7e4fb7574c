"""Reminders through the year: finding what is due for everyone (``reminders_queue``), recording each once, and
sending it (``reminders_send``); staff resend one (``reminder_resend``).

Exactly once: a reminder is a ``Reminder`` row made under its unique key before anything is sent; a second run,
at the same time or later, finds the key taken and makes nothing. The row is then claimed by one worker, sent, and
marked sent; a worker killed before marking it leaves it queued, and the sweeper (``reminders_unsent_requeue``)
queues it again after ``jobs.LOST_AFTER``. A run that missed days catches up within each reminder's window
(``rules``); one that runs twice makes nothing new.
"""

import logging
from smtplib import SMTPException, SMTPRecipientsRefused, SMTPResponseException
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.core.mail import get_connection
from django.db.models import F, Q
from django.urls import reverse

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

from accounts.email_preferences import preferences_url, unsubscribe_headers, unsubscribe_url
from acsm_portal import clock, jobs
from acsm_portal.errors import ServiceError
from acsm_portal.formats import format_date
from acsm_portal.mail import mail_build
from cecs import rules as cec_rules
from certifications import rules as cert_rules
from certifications.selectors import Tile, TileCycle, standing, tile_cycles_of_people, tiles_and_credits

from . import rules
from .models import Reminder
from .tasks import reminders_send_task

log = logging.getLogger(__name__)

# People evaluated per batch: one query for the people, one for their open cycles, one for their reminders so far.
BATCH = 2000
# Reminders per send job; one person's reminders always go in the same job.
SEND_CHUNK = 100
CARD_STATES = ("pending", "approved")
# How far back a due reminder's day can lie (the longest window, the lapsed notice's, and some): the run reads the
# reminders made since then only.
KNOWN_HORIZON_DAYS = 40  # a submitted card that stands (a rejected one is no card)


class ReminderError(ServiceError):
    pass


@dataclass(frozen=True)
class Planned:
    """A reminder a run found due: who, their date, and what."""

    user_id: int
    email: str
    today: date
    due: rules.Due


@dataclass
class RunReport:
    """What one run did: ``people`` evaluated (those whose morning it is), ``due`` reminders found due and not sent
    before, ``made`` the ids of the rows made (empty in a dry run), ``planned`` what was found (kept in a dry run
    only), ``zones`` the zones in their sending hours with their dates."""

    people: int = 0
    due: int = 0
    made: list[int] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    zones: dict[str, date] = field(default_factory=dict)


def sending_zones(*, now: datetime) -> dict[str, date]:
    """The zones (names as stored on people, "" for the portal's) whose local time at ``now`` is within the sending
    hours (``rules.in_sending_hours``), each with its date there."""
    User = get_user_model()
    names = (User.objects.filter(is_active=True, reminders_enabled=True).order_by()
             .values_list("time_zone", flat=True).distinct())
    zones = {}
    for name in names:
        local = now.astimezone(clock.zone_for_name(name))
        if rules.in_sending_hours(local.hour):
            zones[name] = local.date()
    return zones


def facts_of(cycles: list[TileCycle]) -> list[rules.CycleFacts]:
    """The rules' view of a person's open cycles (``tile_cycles``)."""
    return [rules.CycleFacts(certification_id=c.certification_id, cycle_id=c.id, start=c.start, end=c.end,
                             suspended=c.suspended,
                             cpr_expires_on=c.cpr_expires_on if c.cpr_state in CARD_STATES else None)
            for c in cycles]


def _key(user_id: int, due: rules.Due) -> tuple:
    return (user_id, due.kind, due.certification_id, due.cycle_id, due.offset, due.about)


def reminders_queue(*, dry_run: bool = False, batch: int = BATCH) -> RunReport:
    """Find every reminder due now for people in their sending hours (``sending_zones``), make its row once and
    queue its sending; with ``dry_run``, make and queue nothing and return what would be sent
    (``RunReport.planned``). Run every hour by the scheduler, and by hand as ``manage.py send_reminders``.

    People are read in batches of ``batch`` by id (three queries a batch, whatever they hold; never the whole table
    in memory). Each batch's rows are made in one transaction; a row another run made first is left to it."""
    now = clock.now()
    report = RunReport(zones=sending_zones(now=now))
    if not report.zones:
        return report
    User = get_user_model()
    people = User.objects.filter(is_active=True, reminders_enabled=True, time_zone__in=list(report.zones))
    last = 0
    while True:
        rows = list(people.filter(pk__gt=last).order_by("pk").values_list(
            "pk", "time_zone", "email", "previous_time_zone", "time_zone_changed_at")[:batch])
        if not rows:
            return report
        last = rows[-1][0]
        report.people += len(rows)
        cycles = tile_cycles_of_people(user_ids=[row[0] for row in rows])
        found = []
        for pk, zone, email, previous_zone, changed_at in rows:
            if pk not in cycles:
                continue
            today = report.zones[zone]
            if changed_at is not None and now - changed_at < clock.ZONE_CHANGE_HOLD:
                # As clock.today_for: for two days after a change of zone, the later of the two dates.
                today = max(today, now.astimezone(clock.zone_for_name(previous_zone)).date())
            found += [Planned(pk, email, today, due)
                      for due in rules.reminders_due(facts_of(cycles[pk]), today=today)]
        if not found:
            continue
        # A reminder due now speaks of a day at most a window before today (the lapsed notice's 30 days).
        since = min(p.today for p in found) - timedelta(days=KNOWN_HORIZON_DAYS)
        known = set(Reminder.objects.filter(user_id__in={p.user_id for p in found}, about__gte=since)
                    .values_list("user_id", "kind", "certification_id", "cycle_id", "offset", "about"))
        new = [p for p in found if _key(p.user_id, p.due) not in known]
        report.due += len(new)
        if dry_run:
            report.planned += new
            continue
        if new:
            report.made += _rows_make(new, now=now)


def _rows_make(planned: list[Planned], *, now: datetime) -> list[int]:
    """Make the rows of ``planned`` and queue the sending of those made here, after commit. Returns their ids.

    A key another run holds (made before, or being made at this moment) is left to that run: only the rows this
    run's own INSERT made are its own, whatever the clock says (two runs at the same instant included)."""
    with transaction.atomic():
        made: list[tuple[int, int]] = []
        for first in range(0, len(planned), INSERT_CHUNK):
            made += _rows_insert(planned[first:first + INSERT_CHUNK], now=now)
        made.sort(key=lambda row: (row[1], row[0]))
        for chunk in _chunks(made):
            jobs.queue_after_commit(reminders_send_task, chunk)
    return [pk for pk, _ in made]


# Rows per INSERT statement: on PostgreSQL more than one batch makes (13 arrays whatever the rows); on SQLite 13
# bound parameters a row, under its limit of 32,766.
INSERT_CHUNK = {"postgresql": 10_000}.get(connection.vendor, 1000)
INSERT_FIELDS = ("user", "kind", "certification", "cycle", "offset", "about", "for_day", "state", "created_at",
                 "queued_at", "sends", "skip_reason", "resend_by")


# PostgreSQL types of INSERT_FIELDS' columns, for the arrays UNNEST reads.
INSERT_TYPES = ("bigint", "varchar", "bigint", "bigint", "smallint", "date", "date", "varchar", "timestamptz",
                "timestamptz", "smallint", "varchar", "varchar")


def _rows_insert(planned: list[Planned], *, now: datetime) -> list[tuple[int, int]]:
    """INSERT the rows of ``planned`` in one statement, skipping a key already taken (``ON CONFLICT DO NOTHING``,
    which waits for another run making the same key to commit); ``(id, user_id)`` of the rows it made.

    Written out because the ORM's ``bulk_create(ignore_conflicts=True)`` does not say which rows it made. On
    PostgreSQL the rows go as one array per column (``INSERT … SELECT FROM UNNEST``, as Django's own bulk insert
    does there): 13 parameters whatever the number of rows, where a ``VALUES`` list binds 13 per row and spends
    most of a big run quoting them. SQLite (development) takes the ``VALUES`` list."""
    ops, meta = connection.ops, Reminder._meta
    table, pk, user = (ops.quote_name(meta.db_table), ops.quote_name(meta.pk.column),
                       ops.quote_name(meta.get_field("user").column))
    columns = ", ".join(ops.quote_name(meta.get_field(name).column) for name in INSERT_FIELDS)
    values = [[p.user_id, p.due.kind, p.due.certification_id, p.due.cycle_id, p.due.offset, p.due.about, p.today,
               Reminder.State.QUEUED.value, now, now, 0, "", ""] for p in planned]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{kind}[]" for kind in INSERT_TYPES)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays}) "
                           f"ON CONFLICT DO NOTHING RETURNING {pk}, {user}", [list(column) for column in zip(*values)])
        else:
            row = f"({', '.join(['%s'] * len(INSERT_FIELDS))})"
            params = [ops.adapt_datefield_value(v) if isinstance(v, date) and not isinstance(v, datetime) else
                      ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
                      for value in values for v in value]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(planned))} "
                           f"ON CONFLICT DO NOTHING RETURNING {pk}, {user}", params)
        return [tuple(found) for found in cursor.fetchall()]


def _chunks(rows: list[tuple[int, int]]) -> list[list[int]]:
    """Reminder ids in chunks of about ``SEND_CHUNK``, from ``(id, user_id)`` ordered by person, never splitting
    one person's."""
    chunks: list[list[int]] = []
    current: list[int] = []
    for _user_id, group in groupby(rows, key=lambda row: row[1]):
        ids = [pk for pk, _ in group]
        if current and len(current) + len(ids) > SEND_CHUNK:
            chunks.append(current)
            current = []
        current += ids
    if current:
        chunks.append(current)
    return chunks


# ---------------------------------------------------------------- sending

def reminders_send(*, reminder_ids: list[int]) -> dict[str, int]:
    """Send the queued reminders among ``reminder_ids``, one email per person and kind (``Reminder.message_key``),
    over one connection to the mail server.

    Each person's rows are claimed in a short transaction (rows another worker holds are left to it), then checked
    again on the person's date: a reminder that no longer applies (the cycle renewed or no longer open, the card
    replaced, its window past) or a person who turned reminders off is marked skipped with the reason; outside the
    person's sending hours it is left queued for the sweeper to bring back; the rest is sent with no lock held and
    its rows marked sent in one statement.

    Failures are the person's own, never the next person's: an address the server refuses for good (5xx) skips that
    person's rows with the server's answer; a server that took the message but did not answer in time (a timeout)
    may have delivered it, so the rows are skipped rather than sent twice, and staff can send them again; a
    passing failure (connection refused or dropped, 4xx) leaves the rows queued and, once every other person has
    been tried, raises it (``OSError``, ``SMTPException``) for the task to retry.

    Returns counts ``{"sent": emails, "skipped": rows, "claimed": rows another worker held, "later": people left
    queued}``.
    """
    counts = {"sent": 0, "skipped": 0, "claimed": 0, "later": 0}
    people = defaultdict(list)
    for pk, user_id in (Reminder.objects.filter(pk__in=reminder_ids, state=Reminder.State.QUEUED)
                        .order_by("user_id", "pk").values_list("pk", "user_id")):
        people[user_id].append(pk)
    if not people:
        return counts
    passing: Exception | None = None
    connection = get_connection()
    connection.open()  # one connection for the whole job; a server that cannot be reached fails the job, to retry
    try:
        for ids in people.values():
            try:
                for outcome, n in _person_send(ids, connection=connection).items():
                    counts[outcome] += n
            except PASSING_FAILURES as exc:
                passing = passing or exc
                counts["later"] += 1
    finally:
        connection.close()
    if passing is not None:
        raise passing
    return counts


# A failure worth another try later: the server or the provider's API was unreachable or said "try later" (4xx).
PASSING_FAILURES = (OSError, SMTPException, AnymailAPIError)


def _no_answer_in_time(exc: BaseException) -> bool:
    """Whether sending timed out waiting for the server (smtplib says so as ``SMTPServerDisconnected`` from a
    ``TimeoutError``): the message may have been taken, and sending it again could deliver it twice (RFC 5321
    section 4.5.3.2.6 asks senders to wait 10 minutes after the message for this reason)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, TimeoutError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _refused_for_good(exc: Exception) -> bool:
    """Whether the mail server refused the message for good: every recipient refused, or a 5xx answer (RFC 5321
    section 4.2.1: a permanent negative completion reply)."""
    if isinstance(exc, SMTPRecipientsRefused):
        return all(code >= 500 for code, _reply in exc.recipients.values())
    if isinstance(exc, AnymailRecipientsRefused):
        return True
    return isinstance(exc, SMTPResponseException) and exc.smtp_code >= 500


def _claim(ids: list[int], claimed_at: datetime) -> list[Reminder]:
    with transaction.atomic():
        rows = list(Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(pk__in=ids, state=Reminder.State.QUEUED)
                    .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lte=claimed_at - jobs.CLAIM))
                    .select_related("user").order_by("pk"))
        Reminder.objects.filter(pk__in=[r.pk for r in rows]).update(claimed_at=claimed_at)
    return rows


def _skip(rows: list[Reminder], reason: str) -> int:
    Reminder.objects.filter(pk__in=[r.pk for r in rows], state=Reminder.State.QUEUED).update(
        state=Reminder.State.SKIPPED, skip_reason=reason[:200], claimed_at=None)
    log.info("Skipped reminders %s: %s", [r.pk for r in rows], reason)
    return len(rows)


def _release(rows: list[Reminder], claimed_at: datetime) -> None:
    Reminder.objects.filter(pk__in=[r.pk for r in rows], claimed_at=claimed_at,
                            state=Reminder.State.QUEUED).update(claimed_at=None)


def _smtp_answer(exc: Exception) -> str:
    """The server's refusal in words, without the address (it goes into a log and a staff column)."""
    if isinstance(exc, SMTPRecipientsRefused):
        codes = {f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
                 for code, reply in exc.recipients.values()}
        return "; ".join(sorted(codes))
    return f"{type(exc).__name__}: {getattr(exc, 'smtp_code', '')} {getattr(exc, 'smtp_error', '')}".strip()


def _person_send(ids: list[int], *, connection) -> dict[str, int]:
    claimed_at = clock.now()
    rows = _claim(ids, claimed_at)
    counts = {"sent": 0, "skipped": 0, "claimed": len(ids) - len(rows), "later": 0}
    if not rows:
        return counts
    user = rows[0].user
    if not (user.is_active and user.reminders_enabled):
        counts["skipped"] += _skip(rows, "Reminders are off for this person.")
        return counts
    today = clock.today_for(user)
    cycles, entries = tiles_and_credits(user=user, today=today)
    tiles = standing(cycles=cycles, today=today,
                     credits=cec_rules.countable(entries)).tiles
    tile_of = {cycle.id: tile for cycle, tile in zip(cycles, tiles)}
    still_due = {_key(user.pk, due) for due in rules.reminders_due(facts_of(cycles), today=today)}
    for _key_, group in groupby(sorted(rows, key=lambda r: (r.message_key, r.pk)), key=lambda r: r.message_key):
        group = list(group)
        # A resend by staff goes out again as long as the cycle is open; a scheduled one only while it still applies.
        live = [r for r in group if r.cycle_id in tile_of
                and (r.resend_by or _key(r.user_id, rules.Due(r.kind, r.certification_id, r.cycle_id, r.offset,
                                                               r.about)) in still_due)]
        stale = [r for r in group if r not in live]
        if stale:
            counts["skipped"] += _skip(stale, f"No longer applies on {format_date(today)}: renewed, the card "
                                              f"replaced, or the reminder's time passed.")
        if not live:
            continue
        if not rules.in_sending_hours(clock.now().astimezone(clock.zone_for(user)).hour):
            _release(live, claimed_at)  # queued until their morning: the sweeper brings it back (REMINDER_LOST_AFTER)
            counts["later"] += 1
            continue
        message = reminder_message(user=user, rows=live, tiles=[tile_of[r.cycle_id] for r in live], today=today)
        email = mail_build(to=user.email, subject=message.subject, template=message.template,
                           context=message.context, headers=message.headers)
        try:
            connection.send_messages([email])
        except Exception as exc:
            if _no_answer_in_time(exc):
                counts["skipped"] += _skip(live, "The mail server did not answer in time: it may have been delivered, "
                                                 "so it is not sent again by itself (Send again if it was not).")
                continue
            if _refused_for_good(exc):
                counts["skipped"] += _skip(live, f"The mail server refused it: {_smtp_answer(exc)}")
                continue
            _release(rows, claimed_at)
            raise
        Reminder.objects.filter(pk__in=[r.pk for r in live]).update(
            state=Reminder.State.SENT, sent_at=clock.now(), claimed_at=None, sends=F("sends") + 1)
        counts["sent"] += 1
    return counts


# ---------------------------------------------------------------- the email

@dataclass(frozen=True)
class Message:
    subject: str
    template: str  # path without the extension: .txt and .html
    context: dict
    headers: dict[str, str]


@dataclass(frozen=True)
class Item:
    """One certification in a reminder: its tile, and what it still needs in words."""

    tile: Tile
    needs: str
    warning: str = ""


def needs_text(tile: Tile, *, today: date) -> tuple[str, str]:
    """What ``tile``'s certification still needs to be renewed, in words, and a warning about its card:
    ("12 more CECs and a current CPR/AED card", "") or ("ready to renew: press RENEW", "Your CPR/AED card expires on
    …, before your cycle ends: …")."""
    if tile.eligibility.can_renew:
        needs = "ready to renew: press RENEW"
    else:
        parts = []
        if not tile.meter.full:
            missing = tile.meter.required - tile.meter.shown
            parts.append(f"{cec_rules.format_cecs(missing)} more CEC{'' if missing == 1 else 's'}")
        card = tile.cpr
        if card.state in (cert_rules.CprState.NOT_UPLOADED, cert_rules.CprState.REJECTED) or (
                card.expires_on is not None and card.expires_on < today):
            parts.append("a current CPR/AED card")
        needs = " and ".join(parts) if parts else "; ".join(tile.eligibility.blockers)
    warning = ""
    card = tile.cpr
    if (card.state in (cert_rules.CprState.PENDING, cert_rules.CprState.APPROVED) and card.expires_on is not None
            and today <= card.expires_on
            and rules.card_expires_before_next_cycle(expires_on=card.expires_on, cycle_end=tile.cycle_end)):
        warning = (f"Your CPR/AED card expires on {format_date(card.expires_on)}, before your next cycle starts on "
                   f"{format_date(tile.cycle_end + timedelta(days=1))}: renew before it expires, or upload a "
                   f"renewed card first.")
    return needs, warning


def money(amount: Decimal) -> str:
    """Dollars as reminders say them: "$80" for whole dollars, "$80.50" otherwise."""
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else f"${amount:,.2f}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def reminder_message(*, user, rows: list[Reminder], tiles: list[Tile], today: date) -> Message:
    """The email for ``rows`` (one person's reminders of one kind, offset and day, with each row's tile in
    ``tiles``) on ``today`` (the person's date). The days left are counted from ``today``, so a reminder a run
    caught up on late says the truth."""
    kind, about = rows[0].kind, rows[0].about
    items = []
    for tile in tiles:
        needs, warning = needs_text(tile, today=today)
        items.append(Item(tile=tile, needs=needs, warning=warning))
    codes = " and ".join(dict.fromkeys(t.code for t in tiles))
    plural = "s" if len(tiles) > 1 else ""
    left = (about - today).days
    grace_end = tiles[0].grace_ends
    fees = [t.late_fee for t in tiles]
    if len(set(fees)) == 1:
        late_fee = money(fees[0]) + (" for each certification" if len(tiles) > 1 else "")
    else:
        late_fee = " and ".join(f"{money(t.late_fee)} for {t.code}" for t in tiles)
    time_left = {
        rules.CYCLE_ENDING: (f"{_days(left)} left to renew" if left > 0 else
                             "today is the last day to renew" if left == 0 else "it has ended"),
        rules.CPR_EXPIRING: (f"{_days(left)} from today" if left > 0 else "today" if left == 0 else "it has expired"),
        rules.GRACE_ENDING: (f"{_days(left)} left in your grace period" if left > 0 else
                             "today is the last day of your grace period" if left == 0 else
                             "your grace period has ended"),
    }.get(kind, "")
    subject = {
        rules.CYCLE_ENDING: (f"{_days(left)} left to renew your {codes} certification{plural}" if left > 0 else
                             f"Last day to renew your {codes} certification{plural}" if left == 0 else
                             f"Your {codes} certification cycle{plural} ended on {format_date(about)}"),
        rules.CPR_EXPIRING: f"Your CPR/AED card expires on {format_date(about)}",
        rules.GRACE_STARTED: f"Your {codes} certification{plural} expired on {format_date(about)}: renew by "
                             f"{format_date(grace_end)} with a late fee of {late_fee}",
        rules.GRACE_ENDING: (f"{_days(left)} left in your {codes} grace period" if left > 0 else
                             f"Last day of your {codes} grace period" if left == 0 else
                             f"Your {codes} grace period ended on {format_date(about)}"),
        rules.LAPSED: f"Your {codes} certification{plural} {'have' if plural else 'has'} lapsed",
    }[kind]
    context = {
        "user": user, "kind": kind, "items": items, "codes": codes, "time_left": time_left,
        "about": format_date(about), "deadline": clock.deadline_text(about, user),
        "grace_deadline": clock.deadline_text(grace_end, user), "late_fee": late_fee,
        "dashboard_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("dashboard"),
        "unsubscribe_url": unsubscribe_url(user), "preferences_url": preferences_url(),
        "contact_email": settings.CERTIFICATION_CONTACT_EMAIL,
    }
    return Message(subject=subject, template=f"emails/reminders/{kind}", context=context,
                   headers=unsubscribe_headers(user))


@dataclass(frozen=True)
class Preview:
    """An email a dry run would send: to whom, its subject, and per certification what it says is needed."""

    email: str
    subject: str
    lines: list[str]


def reminders_preview(planned: list[Planned]) -> list[Preview]:
    """The emails ``planned`` (a dry run's ``RunReport.planned``) would become, as the sender would write them
    today: one per person and kind. Reads each person's tiles (two queries a person: for a dry run by hand, not for
    the scheduler's run)."""
    User = get_user_model()
    people = User.objects.in_bulk({p.user_id for p in planned})
    previews = []
    for user_id, group in groupby(sorted(planned, key=lambda p: (p.user_id, p.due.kind, p.due.offset, p.due.about)),
                                  key=lambda p: p.user_id):
        user = people[user_id]
        cycles, entries = tiles_and_credits(user=user, today=clock.today_for(user))
        today = clock.today_for(user)
        tiles = standing(cycles=cycles, today=today,
                         credits=cec_rules.countable(entries)).tiles
        tile_of = {cycle.id: tile for cycle, tile in zip(cycles, tiles)}
        for _kind, same in groupby(list(group), key=lambda p: (p.due.kind, p.due.offset, p.due.about)):
            rows = [Reminder(user=user, kind=p.due.kind, certification_id=p.due.certification_id,
                             cycle_id=p.due.cycle_id, offset=p.due.offset, about=p.due.about, for_day=p.today)
                    for p in same if p.due.cycle_id in tile_of]
            if not rows:
                continue
            message = reminder_message(user=user, rows=rows, tiles=[tile_of[r.cycle_id] for r in rows], today=today)
            lines = [f"{item.tile.code}: {item.needs}" + (f" ({item.warning})" if item.warning else "")
                     for item in message.context["items"]]
            previews.append(Preview(email=user.email, subject=message.subject, lines=lines))
    return previews


# ---------------------------------------------------------------- staff and the sweeper

def reminder_resend(*, reminder_id: int, by) -> tuple[Reminder, bool]:
    """Send reminder ``reminder_id`` again, for staff: queued again (its key and history kept, ``sends`` counts the
    sendings) and sent by the worker as long as its cycle is open. Returns the reminder and whether it was queued
    now: one waiting to go out for less than ``REMINDER_LOST_AFTER`` is left as it is; one waiting longer (stuck: a
    mail outage, a lost job) is queued again. Raises ``ReminderError`` for a missing reminder or a person who
    turned reminders off (their choice stands)."""
    now = clock.now()
    with transaction.atomic():
        reminder = (Reminder.objects.select_for_update(of=("self",)).select_related("user")
                    .filter(pk=reminder_id).first())
        if reminder is None:
            raise ReminderError("No such reminder.")
        if not reminder.user.reminders_enabled:
            raise ReminderError(f"{reminder.user.get_full_name()} turned reminders off; it was not sent again.")
        if reminder.state == Reminder.State.QUEUED and now - reminder.queued_at < REMINDER_LOST_AFTER:
            return reminder, False
        reminder.state, reminder.claimed_at, reminder.skip_reason = Reminder.State.QUEUED, None, ""
        reminder.resend_by, reminder.queued_at = (getattr(by, "email", "") or str(by))[:100], now
        reminder.save(update_fields=["state", "claimed_at", "skip_reason", "resend_by", "queued_at"])
        log.info("Reminder %s to be sent again, asked by staff user %s", reminder.pk, getattr(by, "pk", by))
        jobs.queue_after_commit(reminders_send_task, [reminder.pk])
    return reminder, True


# A reminder still queued this long after it was queued is queued again by the sweeper, which then restarts the
# count (``queued_at``): longer than the other jobs' ``jobs.LOST_AFTER``, because a busy morning queues tens of
# thousands that wait their turn at the worker, and bringing them all back every minute would only crowd it.
REMINDER_LOST_AFTER = timedelta(minutes=30)
# Reminders queued again by one sweep, at most.
REQUEUE_LIMIT = 5_000


def reminders_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again the reminders queued (made, or resent by staff) more than ``after`` ago, and at least
    ``REMINDER_LOST_AFTER`` ago (within ``jobs.SWEEP_WINDOW``), not sent, that no worker holds; at most
    ``REQUEUE_LIMIT``, oldest first. Each is stamped queued now, so it comes back once per ``REMINDER_LOST_AFTER``
    at most. Returns their ids."""
    after = max(after, REMINDER_LOST_AFTER)
    with transaction.atomic():
        lost = list(jobs.unsent(Reminder.objects.filter(state=Reminder.State.QUEUED), called_at="queued_at",
                                claimed_at="claimed_at", after=after)
                    .select_for_update(skip_locked=True).values_list("pk", "user_id")[:REQUEUE_LIMIT])
        Reminder.objects.filter(pk__in=[pk for pk, _ in lost]).update(queued_at=clock.now())
    for chunk in _chunks(sorted(lost, key=lambda row: (row[1], row[0]))):
        jobs.queue(reminders_send_task, chunk)
    return [pk for pk, _ in lost]
