"""Provider jobs for the worker and the scheduler. Each calls one service, imported inside the task so that services
can import the tasks they queue."""

from smtplib import SMTPException

from celery import shared_task

from acsm_portal.jobs import MAX_RETRIES, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def provider_credit_digests_send_task(self, user_ids: list[int]) -> dict[str, int]:
    """Send the people ``user_ids`` their digests of new provider credits (``digest.provider_credit_digests_send``);
    returns its counts."""
    from .digest import provider_credit_digests_send

    return provider_credit_digests_send(user_ids=user_ids)


@shared_task(acks_late=True)
def provider_credit_digests_queue_task() -> int:
    """Every hour (``CELERY_BEAT_SCHEDULE``): queue the digests of the people in their sending hours with new
    provider credits (``digest.provider_credit_digests_queue``); returns how many people were queued."""
    from .digest import provider_credit_digests_queue

    return len(provider_credit_digests_queue())
