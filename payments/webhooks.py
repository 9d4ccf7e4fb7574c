"""Stripe webhooks: verified, recorded once per event id, and the source of truth for "paid"."""

import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from .models import Payment, WebhookEvent
from .services import PaymentError, payment_sync

log = logging.getLogger(__name__)
HANDLED = {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
           "payment_intent.requires_action"}


class WebhookRejected(Exception):
    pass


def webhook_handle(*, payload: bytes, signature: str) -> str:
    try:
        event = stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise WebhookRejected("Invalid signature or payload.") from exc
    if event.type not in HANDLED:
        return "ignored"
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(event_id=event.id, type=event.type)
            outcome = _apply(event)
            WebhookEvent.objects.filter(event_id=event.id).update(outcome=outcome[:200])
    except IntegrityError:
        return "duplicate"
    return outcome


def _apply(event) -> str:
    intent = event.data.object
    payment = Payment.objects.filter(stripe_payment_intent=intent.id).first()
    if payment is None:
        metadata = getattr(intent, "metadata", None)
        metadata = metadata.to_dict() if hasattr(metadata, "to_dict") else dict(metadata or {})
        payment_id = metadata.get("payment")
        payment = Payment.objects.filter(pk=payment_id).first() if str(payment_id or "").isdigit() else None
        if payment is None:
            return "unknown payment"
        Payment.objects.filter(pk=payment.pk, stripe_payment_intent="").update(stripe_payment_intent=intent.id)
    try:
        outcome = payment_sync(payment_id=payment.pk, intent=intent, actor="webhook")
    except PaymentError as exc:
        log.error("Webhook %s for payment %s: %s", event.id, payment.pk, exc)
        return f"refused: {exc}"
    return f"payment {payment.pk}: {outcome.state}"
