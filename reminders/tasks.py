"""Reminder jobs for the worker and the scheduler. Each calls one service, imported inside the task so that services
can import the tasks they queue."""

from smtplib import SMTPException

from anymail.exceptions import AnymailAPIError
from celery import shared_task

from acsm_portal.jobs import MAX_RETRIES, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException, AnymailAPIError), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def reminders_send_task(self, reminder_ids: list[int]) -> dict[str, int]:
    """Send the queued reminders ``reminder_ids`` (``services.reminders_send``); returns its counts."""
    from .services import reminders_send

    return reminders_send(reminder_ids=reminder_ids)


@shared_task(acks_late=True)
def reminders_queue_task() -> dict[str, int]:
    """Every hour (``CELERY_BEAT_SCHEDULE``): make and queue the reminders due for people in their morning
    (``services.reminders_queue``); returns how many people were evaluated and reminders made."""
    from .services import reminders_queue

    report = reminders_queue()
    return {"people": report.people, "made": len(report.made)}
