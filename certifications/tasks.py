from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from acsm_portal import clock

from .models import CprUpload


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError, SMTPException), retry_backoff=True, max_retries=6)
def send_cpr_decision_email(self, upload_id: int) -> str:
    """Tell the certificant that their CPR/AED card was approved or rejected. Sent once per decision."""
    with transaction.atomic():
        upload = (
            CprUpload.objects.select_for_update(of=("self",))
            .select_related("certification__user", "certification__certification_type")
            .filter(pk=upload_id)
            .first()
        )
        if upload is None:
            return "no such upload"
        if upload.state not in (CprUpload.State.APPROVED, CprUpload.State.REJECTED):
            return f"not decided ({upload.state})"
        if upload.decision_emailed_at is not None:
            return "already sent"
        certification = upload.certification
        user = certification.user
        context = {
            "user": user,
            "upload": upload,
            "certification_name": certification.certification_type.name,
            "code": certification.certification_type.code,
            "dashboard_url": settings.PORTAL_BASE_URL + reverse("dashboard"),
            "maintenance_url": settings.PORTAL_BASE_URL + reverse("cpr_maintenance", args=[certification.pk]),
        }
        approved = upload.state == CprUpload.State.APPROVED
        subject = (
            f"Your CPR/AED card for {context['code']} is approved" if approved
            else f"Your CPR/AED card for {context['code']} was not accepted"
        )
        send_mail(
            subject=subject,
            message=render_to_string(f"emails/cpr_{upload.state}.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
        upload.decision_emailed_at = clock.now()
        upload.save(update_fields=["decision_emailed_at"])
    return "sent"


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=6)
def certificate_render_task(self, certificate_id: int) -> str:
    """Render a new certificate's PDF; the download renders on demand if this has not run yet."""
    from .certificates import certificate_render

    certificate = certificate_render(certificate_id=certificate_id)
    return certificate.pdf.name
