"""The certificant's daily digest of the credits providers reported to their record.

Every hour (``CELERY_BEAT_SCHEDULE``) ``provider_credit_digests_queue`` finds the people with new provider credits
(accepted, ``digest_sent_at`` empty) whose local time is within the sending hours (8 AM to 9 PM, as reminders) and
who had no digest on their date yet, and queues their sending in chunks; ``provider_credit_digests_send`` sends
each one email listing them all and stamps them ``digest_sent_at``. Hourly rather than once a day at one hour of
the portal's: each person gets it in their own daytime, wherever they live, and a run lost to a broker or SMTP
outage is caught up at the next hour (a credit stays due until its email is sent), so no sweeper is needed.

Exactly once: the person's due completions are locked (``NOWAIT``: a person another run holds is left to it) and
stay locked until the email is sent and the stamps are written in the same transaction. A run that finds them
locked skips the person; one that comes after finds them stamped, or any of the person's completions stamped on
their date, and sends nothing: one email a day, each credit in one email. A worker killed while sending leaves
nothing stamped (the transaction rolls back) and the next run sends it. The lock is held for one SMTP exchange
(``EMAIL_TIMEOUT`` at most) on rows only a provider's retraction writes, which waits for it.

The digest is a notice of credits posted on the person's record, not a reminder: it is always sent, whatever
their reminder preference (the email preferences page lists it under "Always sent").
"""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import QuerySet
from django.urls import reverse

from acsm_portal import clock, jobs
from acsm_portal.formats import format_date
from acsm_portal.mail import mail_send
from cecs.rules import format_cecs

from .models import Completion
from .tasks import provider_credit_digests_send_task

log = logging.getLogger(__name__)

# The person's local hours in which digests go out (as reminders): from 8 AM, and not in the night.
SEND_FROM_HOUR, SEND_UNTIL_HOUR = 8, 21
# People per send job.
SEND_CHUNK = 100
TEMPLATE = "emails/provider_credits"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock another transaction holds


def in_sending_hours(at: datetime) -> bool:
    """Whether ``at`` (aware, on the person's clock) is within the digest's sending hours."""
    return SEND_FROM_HOUR <= at.hour < SEND_UNTIL_HOUR


def _day_start(local: datetime) -> datetime:
    """The first instant of ``local``'s date, in its zone."""
    return datetime.combine(local.date(), time.min, tzinfo=local.tzinfo)


def _due() -> QuerySet:
    """The completions still to be told of: accepted, in no digest yet, of a person who may log in."""
    return Completion.objects.filter(state=Completion.State.ACCEPTED, digest_sent_at__isnull=True,
                                     user__is_active=True)


def provider_credit_digests_queue() -> list[int]:
    """Queue the digest of each person with new provider credits whose local time is within the sending hours and
    who had no digest on their date yet, ``SEND_CHUNK`` people a job. Returns their user ids, ascending.

    Three queries whatever the number of people: who has credits due (with their zones), who of them had a digest
    in the last day (compared with each one's date). Queuing a person twice is harmless: the sender sends once."""
    now = clock.now()
    local_now = {}
    for user_id, zone_name in _due().order_by("user_id").values_list("user_id", "user__time_zone").distinct():
        local = now.astimezone(clock.zone_for_name(zone_name))
        if in_sending_hours(local):
            local_now[user_id] = local
    if not local_now:
        return []
    had_today = {
        user_id for user_id, sent_at in Completion.objects.filter(
            user_id__in=list(local_now), digest_sent_at__gte=now - timedelta(days=1)).values_list(
            "user_id", "digest_sent_at")
        if sent_at >= _day_start(local_now[user_id])
    }
    people = [user_id for user_id in local_now if user_id not in had_today]
    for first in range(0, len(people), SEND_CHUNK):
        jobs.queue(provider_credit_digests_send_task, people[first:first + SEND_CHUNK])
    return people


@dataclass(frozen=True)
class Digest:
    """One person's digest: ``subject``, and the ``context`` of its templates (``TEMPLATE`` .txt and .html)."""

    subject: str
    context: dict


def digest_message(*, user, completions: list[Completion]) -> Digest:
    """The digest for ``user`` of ``completions`` (theirs, with ``course`` and ``provider`` loaded), in the order
    given. Subject: "1 new credit reported by ACSM Online Learning", "3 new credits reported by your providers"
    (several providers)."""
    providers = list(dict.fromkeys(c.provider.name for c in completions))
    count = len(completions)
    credits = f"{count} new credit{'' if count == 1 else 's'}"
    subject = f"{credits} reported by {providers[0] if len(providers) == 1 else 'your providers'}"
    return Digest(subject=subject, context={
        "user": user,
        "credits": [{"course": c.course.title, "provider": c.provider.name, "completed_on": format_date(c.completed_on),
                     "cecs": format_cecs(c.cecs)} for c in completions],
        "count": count,
        "total": format_cecs(sum((c.cecs for c in completions), Decimal("0"))),
        "dashboard_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("dashboard"),
    })


def provider_credit_digests_send(*, user_ids: list[int]) -> dict[str, int]:
    """Send each person of ``user_ids`` (user ids) their digest of new provider credits, one email each, and stamp
    the credits it lists ``digest_sent_at``; see the module docstring for how it is sent exactly once.

    A person is left for a later run when another run holds their credits ("busy"), or when it is outside their
    sending hours or they had a digest on their date already ("later"); a person with nothing due (sent by
    another run, retracted meanwhile) counts as "none". Returns ``{"sent": emails, "credits": credits listed,
    "busy": people, "later": people, "none": people}``. Raises what sending raises (``OSError``,
    ``SMTPException``), the person's credits left due, for the task to retry; those sent before stay sent.
    """
    counts = {"sent": 0, "credits": 0, "busy": 0, "later": 0, "none": 0}
    for user_id in user_ids:
        outcome, listed = _person_send(user_id)
        counts[outcome] += 1
        counts["credits"] += listed
    return counts


def _person_send(user_id: int) -> tuple[str, int]:
    now = clock.now()
    try:
        with transaction.atomic():
            completions = list(_due().filter(user_id=user_id).select_for_update(nowait=True, of=("self",))
                               .select_related("user", "course", "provider").order_by("completed_on", "id"))
            if not completions:
                return "none", 0
            user = completions[0].user
            local = now.astimezone(clock.zone_for(user))
            if not in_sending_hours(local) or Completion.objects.filter(
                    user_id=user_id, digest_sent_at__gte=_day_start(local)).exists():
                return "later", 0
            digest = digest_message(user=user, completions=completions)
            mail_send(to=user.email, subject=digest.subject, template=TEMPLATE, context=digest.context)
            Completion.objects.filter(pk__in=[c.pk for c in completions]).update(digest_sent_at=clock.now())
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:  # psycopg 3's name for the SQLSTATE
            raise
        log.info("Digest of user %s left to the run that holds their credits", user_id)
        return "busy", 0
    log.info("Sent user %s the digest of provider credits %s", user_id, [c.pk for c in completions])
    return "sent", len(completions)
