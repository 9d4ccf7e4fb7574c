from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from acsm_portal import clock

from .models import Order
from .pdf import receipt_pdf


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=600,
             max_retries=8)
def order_receipt_email(self, order_id: int) -> str:
    """Email the receipt (HTML and text, PDF attached) once per paid order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("user").get(pk=order_id)
        if order.state != Order.State.PAID:
            return "not paid"
        if order.receipt_emailed_at:
            return "already sent"
        lines = list(order.lines.all())
        payment = order.payments.filter(state="succeeded").first()
        context = {"order": order, "lines": lines, "payment": payment, "base_url": settings.PORTAL_BASE_URL,
                   "paid_at": clock.moment_text(order.paid_at, order)}
        message = EmailMultiAlternatives(
            subject=f"Your MyACSM receipt {order.number}",
            body=render_to_string("emails/receipt.txt", context),
            to=[order.user.email],
        )
        message.attach_alternative(render_to_string("emails/receipt.html", context), "text/html")
        message.attach(f"receipt-{order.number}.pdf", receipt_pdf(order=order), "application/pdf")
        message.send()
        order.receipt_emailed_at = clock.now()
        order.save(update_fields=["receipt_emailed_at"])
    return "sent"
