"""Account jobs for the worker. A job takes primary keys and calls one service, imported inside the task so
that services can import the tasks they queue."""

from smtplib import SMTPException

from celery import shared_task
from django.contrib.sessions.models import Session

from acsm_portal import clock
from acsm_portal.jobs import MAX_RETRIES, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def send_set_password_email(self, user_id: int) -> str:
    """Email user ``user_id`` their set-password link once (``services.set_password_email_send``); returns its
    outcome."""
    from .services import set_password_email_send

    return set_password_email_send(user_id=user_id)


@shared_task
def clear_expired_sessions() -> int:
    """Delete the stored sessions that expired; returns how many."""
    deleted, _ = Session.objects.filter(expire_date__lt=clock.real_now()).delete()
    return deleted
