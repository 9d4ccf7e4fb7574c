"""The certificant's daily digest of the credits providers reported to their record.

Every hour (``CELERY_BEAT_SCHEDULE``) ``provider_credit_digests_queue`` finds the people with new provider credits
(accepted, ``digest_sent_at`` empty) whose local time is within the sending hours (8 AM to 9 PM, as reminders) and
who had no digest on their date yet, and queues their sending in chunks; ``provider_credit_digests_send`` sends
each one email listing them all and stamps them ``digest_sent_at``. Hourly rather than once a day at one hour of
the portal's: each person gets it in their own daytime, wherever they live, and a run lost to a broker or SMTP
outage is caught up at the next hour (a credit stays due until its email is sent), so no sweeper is needed.

Exactly once, with no row lock held while sending: a run claims the person's due completions in a short
transaction (``digest_claimed_at``, rows locked ``SKIP LOCKED`` for that transaction only), sends the email with
nothing locked, then stamps them ``digest_sent_at`` and clears the claim in one update. A run that finds any of the
person's due completions held by another (locked by its claim, or claimed less than ``jobs.CLAIM`` ago) leaves the
person to it ("busy"), even a credit posted since: that one waits for the next day's digest. A run that comes after
finds them stamped, or any of the person's completions stamped on their date, and sends nothing: one email a day,
each credit in one email. A send that fails releases the claim and raises, the credits still due. A worker killed
while sending leaves a claim that expires after ``jobs.CLAIM`` (longer than a job may run); the next hourly run
then sends it. A provider's retraction never waits for a digest: a credit retracted while its email is on its way
is in that email, and is stamped with the rest.

The digest is a notice of credits posted on the person's record, not a reminder: it is always sent, whatever
their reminder preference (the email preferences page lists it under "Always sent").
"""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
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
    ``SMTPException``), the person's credits left due and their claim released, for the task to retry; those sent
    before stay sent.
    """
    counts = {"sent": 0, "credits": 0, "busy": 0, "later": 0, "none": 0}
    for user_id in user_ids:
        outcome, listed = _person_send(user_id)
        counts[outcome] += 1
        counts["credits"] += listed
    return counts


def _person_send(user_id: int) -> tuple[str, int]:
    claimed_at = clock.now()
    outcome, completions = _claim(user_id, claimed_at)
    if outcome != "claimed":
        return outcome, 0
    user = completions[0].user
    try:
        digest = digest_message(user=user, completions=completions)
        mail_send(to=user.email, subject=digest.subject, template=TEMPLATE, context=digest.context)
    except BaseException:
        _release(completions, claimed_at)
        raise
    stamped = Completion.objects.filter(pk__in=[c.pk for c in completions], digest_claimed_at=claimed_at).update(
        digest_sent_at=clock.now(), digest_claimed_at=None)
    if stamped != len(completions):  # the claim outlived jobs.CLAIM and another run took some: they may go twice
        log.warning("Digest of user %s: %s of its %s credits were no longer claimed when stamped", user_id,
                    len(completions) - stamped, len(completions))
    log.info("Sent user %s the digest of provider credits %s", user_id, [c.pk for c in completions])
    return "sent", len(completions)


def _claim(user_id: int, claimed_at: datetime) -> tuple[str, list[Completion]]:
    """In one short transaction: the person's due completions, claimed at ``claimed_at``, with ``"claimed"``; or
    ``("none" | "busy" | "later", [])``, nothing claimed. Busy when another run holds any of them (locked by its
    own claim now, or claimed less than ``jobs.CLAIM`` ago)."""
    due = _due().filter(user_id=user_id)
    with transaction.atomic():
        # Read without locking first: a row seen here but not taken below is another run's.
        seen = set(due.values_list("pk", flat=True))
        if not seen:
            return "none", []
        completions = list(due.filter(Q(digest_claimed_at__isnull=True)
                                      | Q(digest_claimed_at__lte=claimed_at - jobs.CLAIM))
                           .select_for_update(skip_locked=True, of=("self",))
                           .select_related("user", "course", "provider").order_by("completed_on", "id"))
        if seen - {c.pk for c in completions}:  # also when another run stamped them between the two reads
            log.info("Digest of user %s left to the run that holds their credits", user_id)
            return "busy", []
        local = claimed_at.astimezone(clock.zone_for(completions[0].user))
        if not in_sending_hours(local) or Completion.objects.filter(
                user_id=user_id, digest_sent_at__gte=_day_start(local)).exists():
            return "later", []
        Completion.objects.filter(pk__in=[c.pk for c in completions]).update(digest_claimed_at=claimed_at)
    return "claimed", completions


def _release(completions: list[Completion], claimed_at: datetime) -> None:
    """Give back the claim taken at ``claimed_at`` on ``completions`` (theirs still), leaving them due."""
    Completion.objects.filter(pk__in=[c.pk for c in completions], digest_claimed_at=claimed_at).update(
        digest_claimed_at=None)
