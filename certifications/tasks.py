"""Certification jobs for the worker. Each takes primary keys and calls one service, imported inside the task so
that services can import the tasks they queue."""

from smtplib import SMTPException

from celery import shared_task

from acsm_portal.jobs import MAX_RETRIES, RETRY_BACKOFF_MAX


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def send_cpr_decision_email(self, upload_id: int) -> str:
    """Tell the certificant their CPR/AED card ``upload_id`` was approved or rejected, once per decision
    (``cpr.services.cpr_decision_email_send``); returns its outcome."""
    from .cpr.services import cpr_decision_email_send

    return cpr_decision_email_send(upload_id=upload_id)


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def certificate_render_task(self, certificate_id: int) -> str:
    """Render certificate ``certificate_id``'s PDF once (``certificates.certificate_render``); returns its stored
    name. The holder's download renders it on demand if this has not run yet."""
    from .certificates import certificate_render

    certificate = certificate_render(certificate_id=certificate_id)
    return certificate.pdf.name


@shared_task(acks_late=True)
def cpr_drafts_abandoned_remove_task() -> list[int]:
    """Daily (``CELERY_BEAT_SCHEDULE``): remove the CPR/AED drafts untouched for 7 days, with their stored files
    (``cpr.services.cpr_drafts_abandoned_remove``); returns the ids of the drafts removed. Safe to run twice."""
    from .cpr.services import cpr_drafts_abandoned_remove

    return cpr_drafts_abandoned_remove()


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True,
             retry_backoff_max=RETRY_BACKOFF_MAX, max_retries=MAX_RETRIES)
def certificate_status_email_task(self, log_id: int) -> str:
    """Email the holder about staff's move ``log_id`` of their certificate's status (a ``CertificateLog``:
    suspended, reinstated, revoked), once: queued when the move commits, again by the sweeper while not sent
    (``certificate_status.certificate_status_email_send``: claim, send, stamp); returns its outcome ("sent",
    "already sent", "claimed", ...). Retried on ``OSError``/``SMTPException``, the claim let go in between."""
    from .certificate_status import certificate_status_email_send

    return certificate_status_email_send(log_id=log_id)


@shared_task(acks_late=True)
def certificates_status_refresh_task() -> dict[str, list[int]]:
    """Hourly (``CELERY_BEAT_SCHEDULE``): move each certificate to the status its dates give on its holder's date
    (``certificate_status.certificates_status_refresh``); returns the ids moved by new status. Safe to run twice."""
    from .certificate_status import certificates_status_refresh

    return certificates_status_refresh()
