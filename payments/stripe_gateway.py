"""The one place that builds the Stripe client (the official package)."""

import stripe
from django.conf import settings


def client() -> stripe.StripeClient:
    if settings.STRIPE_API_BASE:
        # The local emulator ignores idempotency keys, so the client must not retry on its own.
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": settings.STRIPE_API_BASE},
                                   max_network_retries=0)
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2)
