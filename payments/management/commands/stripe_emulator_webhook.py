import json
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"]


class Command(BaseCommand):
    help = "Point the local Stripe emulator's webhooks at this portal (demo and development only)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=f"{settings.PORTAL_BASE_URL}/payments/stripe/webhook/")

    def handle(self, *args, url: str, **options):
        if not settings.STRIPE_API_BASE.startswith(("http://", "https://")):
            raise CommandError("STRIPE_API_BASE is not set: real Stripe webhooks are set up in Stripe's dashboard.")
        body = json.dumps({"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET, "events": EVENTS}).encode()
        request = urllib.request.Request(f"{settings.STRIPE_API_BASE}/_config/webhooks/portal", data=body,
                                         method="POST", headers={"Content-Type": "application/json"})
        try:
            # The URL is the operator's STRIPE_API_BASE (checked to be http(s) above), never a request's.
            urllib.request.urlopen(request, timeout=5).read()  # nosec B310
        except OSError as exc:
            raise CommandError(f"The Stripe emulator at {settings.STRIPE_API_BASE} did not answer: {exc}") from exc
        self.stdout.write(f"Stripe emulator sends {', '.join(EVENTS)} to {url}")
