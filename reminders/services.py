"""Reminders through the year: finding what is due for everyone (``reminders_queue``), recording each once, and
sending it (``reminders_send``); staff resend one (``reminder_resend``).

Exactly once: a reminder is a ``Reminder`` row made under its unique key before anything is sent; a second run,
at the same time or later, finds the key taken and makes nothing. The row is then claimed by one worker, sent, and
marked sent; a worker killed before marking it leaves it queued, and the sweeper (``reminders_unsent_requeue``)
queues it again after ``jobs.LOST_AFTER``. A run that missed days catches up within each reminder's window
(``rules``); one that runs twice makes nothing new.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse

from accounts.email_preferences import preferences_url, unsubscribe_headers, unsubscribe_url
from acsm_portal import clock, jobs
from acsm_portal.errors import ServiceError
from acsm_portal.formats import format_date
from acsm_portal.mail import mail_send
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
CARD_STATES = ("pending", "approved")  # a submitted card that stands (a rejected one is no card)


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
        rows = list(people.filter(pk__gt=last).order_by("pk").values_list("pk", "time_zone", "email")[:batch])
        if not rows:
            return report
        last = rows[-1][0]
        report.people += len(rows)
        cycles = tile_cycles_of_people(user_ids=[pk for pk, _, _ in rows])
        found = [Planned(pk, email, report.zones[zone], due)
                 for pk, zone, email in rows if pk in cycles
                 for due in rules.reminders_due(facts_of(cycles[pk]), today=report.zones[zone])]
        if not found:
            continue
        known = set(Reminder.objects.filter(user_id__in={p.user_id for p in found})
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


# Rows per INSERT statement: 13 bound parameters a row, well under PostgreSQL's 65,535 (and SQLite's 32,766).
INSERT_CHUNK = 1000
INSERT_FIELDS = ("user", "kind", "certification", "cycle", "offset", "about", "for_day", "state", "created_at",
                 "queued_at", "sends", "skip_reason", "resend_by")


def _rows_insert(planned: list[Planned], *, now: datetime) -> list[tuple[int, int]]:
    """INSERT the rows of ``planned`` in one statement, skipping a key already taken (``ON CONFLICT DO NOTHING``,
    which waits for another run making the same key to commit); ``(id, user_id)`` of the rows it made.

    Written out because the ORM's ``bulk_create(ignore_conflicts=True)`` does not say which rows it made."""
    ops, meta = connection.ops, Reminder._meta
    columns = ", ".join(ops.quote_name(meta.get_field(name).column) for name in INSERT_FIELDS)
    row = f"({', '.join(['%s'] * len(INSERT_FIELDS))})"
    at = ops.adapt_datetimefield_value(now)
    params: list = []
    for p in planned:
        params += [p.user_id, p.due.kind, p.due.certification_id, p.due.cycle_id, p.due.offset,
                   ops.adapt_datefield_value(p.due.about), ops.adapt_datefield_value(p.today),
                   Reminder.State.QUEUED.value, at, at, 0, "", ""]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ops.quote_name(meta.db_table)} ({columns}) VALUES {', '.join([row] * len(planned))} "
            f"ON CONFLICT DO NOTHING RETURNING {ops.quote_name(meta.pk.column)}, "
            f"{ops.quote_name(meta.get_field('user').column)}",
            params,
        )
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
    """Send the queued reminders among ``reminder_ids``, one email per person and kind (``Reminder.message_key``).

    Each person's rows are claimed in a short transaction (rows another worker holds are left to it), then checked
    again on the person's date: a reminder that no longer applies (the cycle renewed or no longer open, the card
    replaced, its window past) or a person who turned reminders off is marked skipped with the reason; the rest is
    sent with no lock held and marked sent. Returns counts ``{"sent": emails, "skipped": rows, "claimed": rows
    another worker held}``. Raises what sending raises (``OSError``, ``SMTPException``) after letting the claims
    go, for the task to retry; emails already sent in the same call stay marked sent.
    """
    counts = {"sent": 0, "skipped": 0, "claimed": 0}
    people = defaultdict(list)
    for pk, user_id in (Reminder.objects.filter(pk__in=reminder_ids, state=Reminder.State.QUEUED)
                        .order_by("user_id", "pk").values_list("pk", "user_id")):
        people[user_id].append(pk)
    for ids in people.values():
        for outcome, n in _person_send(ids).items():
            counts[outcome] += n
    return counts


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


def _person_send(ids: list[int]) -> dict[str, int]:
    claimed_at = clock.now()
    rows = _claim(ids, claimed_at)
    counts = {"sent": 0, "skipped": 0, "claimed": len(ids) - len(rows)}
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
        message = reminder_message(user=user, rows=live, tiles=[tile_of[r.cycle_id] for r in live], today=today)
        try:
            mail_send(to=user.email, subject=message.subject, template=message.template,
                      context=message.context, headers=message.headers)
        except Exception:
            Reminder.objects.filter(pk__in=[r.pk for r in rows], claimed_at=claimed_at,
                                    state=Reminder.State.QUEUED).update(claimed_at=None)
            raise
        sent_at = clock.now()
        for r in live:
            Reminder.objects.filter(pk=r.pk).update(state=Reminder.State.SENT, sent_at=sent_at, claimed_at=None,
                                                    sends=r.sends + 1)
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
            parts.append(f"{cec_rules.format_cecs(tile.meter.required - tile.meter.shown)} more CECs")
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
    late_fee = max(t.late_fee for t in tiles)
    grace_end = tiles[0].grace_ends
    subject = {
        rules.CYCLE_ENDING: f"{_days(left)} left to renew your {codes} certification{plural}",
        rules.CPR_EXPIRING: f"Your CPR/AED card expires on {format_date(about)}",
        rules.GRACE_STARTED: f"Your {codes} certification{plural} expired on {format_date(about)}: renew by "
                             f"{format_date(grace_end)} with a late fee of {money(late_fee)}",
        rules.GRACE_ENDING: f"{_days(left)} left in your {codes} grace period",
        rules.LAPSED: f"Your {codes} certification{plural} {'have' if plural else 'has'} lapsed",
    }[kind]
    context = {
        "user": user, "kind": kind, "items": items, "codes": codes, "days_left": _days(max(left, 0)),
        "about": format_date(about), "deadline": clock.deadline_text(about, user),
        "grace_deadline": clock.deadline_text(grace_end, user), "late_fee": money(late_fee),
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

def reminder_resend(*, reminder_id: int, by) -> Reminder:
    """Send reminder ``reminder_id`` again, for staff: queued again (its key and history kept, ``sends`` counts the
    sendings) and sent by the worker as long as its cycle is open. A reminder already waiting to go out is left as it
    is. Raises ``ReminderError`` for a missing reminder or a person who turned reminders off (their choice stands)."""
    with transaction.atomic():
        reminder = (Reminder.objects.select_for_update(of=("self",)).select_related("user")
                    .filter(pk=reminder_id).first())
        if reminder is None:
            raise ReminderError("No such reminder.")
        if not reminder.user.reminders_enabled:
            raise ReminderError(f"{reminder.user.get_full_name()} turned reminders off; it was not sent again.")
        if reminder.state == Reminder.State.QUEUED:
            return reminder
        reminder.state, reminder.claimed_at, reminder.skip_reason = Reminder.State.QUEUED, None, ""
        reminder.resend_by, reminder.queued_at = (getattr(by, "email", "") or str(by))[:100], clock.now()
        reminder.save(update_fields=["state", "claimed_at", "skip_reason", "resend_by", "queued_at"])
        log.info("Reminder %s to be sent again, asked by %s", reminder.pk, reminder.resend_by)
        jobs.queue_after_commit(reminders_send_task, [reminder.pk])
    return reminder


def reminders_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again the reminders queued (made, or resent by staff) more than ``after`` ago (within
    ``jobs.SWEEP_WINDOW``) and not sent, that no worker holds. Returns their ids, oldest first."""
    lost = list(jobs.unsent(Reminder.objects.filter(state=Reminder.State.QUEUED), called_at="queued_at",
                            claimed_at="claimed_at", after=after).values_list("pk", "user_id"))
    for chunk in _chunks(sorted(lost, key=lambda row: (row[1], row[0]))):
        jobs.queue(reminders_send_task, chunk)
    return [pk for pk, _ in lost]

