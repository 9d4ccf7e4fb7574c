"""Payment jobs for the worker. Each takes primary keys and calls one service (imported inside the task, so
that services can import the tasks they queue)."""

from smtplib import SMTPException

from celery import shared_task


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=600, max_retries=8)
def order_receipt_email(self, order_id: int) -> str:
    """Email paid order ``order_id``'s receipt once (``services.order_receipt_send``); returns its outcome."""
    from .services import order_receipt_send

    return order_receipt_send(order_id=order_id)


@shared_task(acks_late=True)
def lost_jobs_requeue_task() -> dict[str, list[int]]:
    """Every few minutes (``CELERY_BEAT_SCHEDULE``): queue again the receipts and certificate renders that went
    missing (``services.lost_jobs_requeue``); returns the ids queued."""
    from .services import lost_jobs_requeue

    return lost_jobs_requeue()
