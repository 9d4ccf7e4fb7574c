"""Audit jobs for the worker and the scheduler. Each takes primary keys (or nothing) and calls one service, imported
inside the task so that services can import the tasks they queue."""

from smtplib import SMTPException

from celery import shared_task

from acsm_portal.jobs import MAX_RETRIES, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def audit_email_task(self, email_id: int) -> str:
    """Send audit email ``email_id`` once (``services.audit_email_send``); returns its outcome."""
    from .services import audit_email_send

    return audit_email_send(email_id=email_id)


@shared_task(acks_late=True)
def audit_draws_pending_task() -> list[int]:
    """Every minute (``CELERY_BEAT_SCHEDULE``): draw the paid renewals not drawn yet
    (``services.audit_draws_pending``); returns the ids of the draws made."""
    from .services import audit_draws_pending

    return audit_draws_pending()


@shared_task(acks_late=True)
def audits_overdue_fail_task() -> list[int]:
    """Every hour: fail the audits whose deadline passed with nothing submitted (``services.audits_overdue_fail``);
    returns their ids."""
    from .services import audits_overdue_fail

    return audits_overdue_fail()


@shared_task(acks_late=True)
def audit_reminders_queue_task() -> list[int]:
    """Every hour: queue the reminders due 14, 7 and 1 days before each deadline
    (``services.audit_reminders_queue``); returns the ids of the emails queued."""
    from .services import audit_reminders_queue

    return audit_reminders_queue()
