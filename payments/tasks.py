"""Payment jobs for the worker. Each takes primary keys and calls one service (imported inside the task, so
that services can import the tasks they queue)."""

from smtplib import SMTPException

from celery import shared_task

from acsm_portal.jobs import MAX_RETRIES, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def order_receipt_email(self, order_id: int) -> str:
    """Email paid order ``order_id``'s receipt once (``services.order_receipt_send``); returns its outcome."""
    from .services import order_receipt_send

    return order_receipt_send(order_id=order_id)


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def refund_email(self, refund_id: int) -> str:
    """Email the holder what refund ``refund_id`` gave back and what happened to each renewal, once
    (``refunds.refund_email_send``); returns its outcome."""
    from .refunds import refund_email_send

    return refund_email_send(refund_id=refund_id)


@shared_task(acks_late=True)
def stalled_payments_end_task() -> list[int]:
    """Every five minutes (``CELERY_BEAT_SCHEDULE``): end the payment attempts that waited too long for 3-D Secure
    or for Stripe (``services.payments_stalled_end``); returns the ids canceled."""
    from .services import payments_stalled_end

    return payments_stalled_end()
