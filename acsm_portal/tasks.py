"""The portal's sweeper: the jobs every app queues, found again by their rows when they went missing."""

import logging
from datetime import timedelta

from celery import shared_task

from accounts.services import set_password_emails_unsent_requeue
from audits.services import audit_emails_unsent_requeue
from certifications.certificate_status import certificate_status_emails_unsent_requeue
from certifications.certificates import certificates_unrendered_requeue
from certifications.cpr.services import cpr_decision_emails_unsent_requeue
from payments.refunds import refund_emails_unsent_requeue
from payments.services import order_receipts_unsent_requeue
from reminders.services import reminders_unsent_requeue

from . import jobs

log = logging.getLogger(__name__)


def lost_jobs_requeue(*, after: timedelta = jobs.LOST_AFTER) -> dict[str, list[int]]:
    """Queue again every job called for more than ``after`` ago that is not done and that no live worker holds:
    receipts of paid orders, certificate renders, CPR/AED decision emails, set-password emails, refund emails,
    audit emails, reminders and certificate status emails.
    Each job does nothing when it runs twice, so queuing one that was only slow costs nothing.

    Returns the ids queued, oldest first, by kind: ``{"receipts": [order ids], "certificates": [certificate ids],
    "cpr_decisions": [upload ids], "set_password": [user ids],
    "refund_emails": [refund ids], "audit_emails": [audit email ids], "reminders": [reminder ids],
    "certificate_status_emails": [certificate log ids]}``. See ``acsm_portal.jobs`` for why a job goes missing
    (the broker down at commit, a worker killed) and how the times fit together.
    """
    queued = {
        "receipts": order_receipts_unsent_requeue(after=after),
        "certificates": certificates_unrendered_requeue(after=after),
        "cpr_decisions": cpr_decision_emails_unsent_requeue(after=after),
        "set_password": set_password_emails_unsent_requeue(after=after),
        "refund_emails": refund_emails_unsent_requeue(after=after),
        "audit_emails": audit_emails_unsent_requeue(after=after),
        "reminders": reminders_unsent_requeue(after=after),
        "certificate_status_emails": certificate_status_emails_unsent_requeue(after=after),
    }
    if any(queued.values()):
        log.warning("Queued again the lost jobs %s", queued)
    return queued


@shared_task(acks_late=True)
def lost_jobs_requeue_task() -> dict[str, list[int]]:
    """Every minute (``CELERY_BEAT_SCHEDULE``): ``lost_jobs_requeue``; returns the ids queued."""
    return lost_jobs_requeue()
