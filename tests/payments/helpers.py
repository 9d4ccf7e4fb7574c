import hashlib
import hmac
import json
import time
from decimal import Decimal

from django.conf import settings

from acsm_portal import clock
from cart.services import cart_add_renewal
from payments.services import BillingInput, order_place, payment_charge, payment_start
from payments.stripe_gateway import client as stripe_client
from tests.dates import cycle_around
from tests.factories import renewable_certification

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002500003155"
BILLING = BillingInput(name="Jordan Lee", line1="401 W Michigan St", line2="", city="Indianapolis", state="IN",
                       postal_code="46202", country="US")


def card(number: str = CARD_OK) -> str:
    """A PaymentMethod made at the emulator, as Stripe.js would make it in the browser."""
    method = stripe_client().v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": clock.today().year + 3, "cvc": "123"},
    })
    return method.id


def cart_with(user, *codes: str, today=None):
    """``codes`` renewable in a cycle around ``today`` (default: ``user``'s today), each renewal in the cart."""
    today = today or clock.today_for(user)
    certs = []
    for code in codes:
        cert = renewable_certification(user, code, *cycle_around(today))
        cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        certs.append(cert)
    return certs


def placed_order(user, *codes: str, total: str):
    cart_with(user, *codes)
    return order_place(user=user, billing=BILLING, expected_total=Decimal(total), today=clock.today_for(user))


def signed(event: dict, secret: str | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new((secret or settings.STRIPE_WEBHOOK_SECRET).encode(), f"{timestamp}.".encode() + payload,
                         hashlib.sha256).hexdigest()
    return payload, f"t={timestamp},v1={signature}"


def intent_event(intent, event_type: str = "payment_intent.succeeded", event_id: str = "evt_test_1") -> dict:
    return {"id": event_id, "object": "event", "type": event_type, "api_version": "2017-08-15",
            "created": int(time.time()), "data": {"object": intent.to_dict()}}


def authenticate_3ds(client_secret: str, success: bool = True) -> str:
    """Answer the emulator's 3-D Secure step, as Stripe.js does when the person confirms. Returns the intent id."""
    from urllib.request import Request, urlopen

    intent_id = client_secret.split("_secret_")[0]
    body = json.dumps({"key": settings.STRIPE_PUBLISHABLE_KEY, "client_secret": client_secret}).encode()
    url = f"{settings.STRIPE_API_BASE}/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}"
    urlopen(Request(url, data=body, method="POST"), timeout=5).read()
    return intent_id


def paid_order_without_stripe(user, *codes: str, total: str):
    """An order of ``codes`` paid by a Visa ending 4242, moved through the two transitions as a confirmed charge
    would move it, but with no renewal and no receipt queued."""
    from payments import rules
    from payments.models import Order, Payment
    from payments.services import order_transition, payment_transition

    order = placed_order(user, *codes, total=total)
    payment = Payment.objects.create(order=order, amount=order.total, card_brand="visa", card_last4="4242")
    payment_transition(payment_id=payment.pk, to=rules.PROCESSING, actor="test")
    payment_transition(payment_id=payment.pk, to=rules.SUCCEEDED, actor="test")
    return order_transition(order_id=order.pk, to=Order.State.PAID, actor="test", paid_at=clock.now())


URL = "/payments/stripe/webhook/"


def post(client, event, secret=None, signature=None):
    payload, header = signed(event, secret)
    return client.post(URL, data=payload, content_type="application/json",
                       headers={"Stripe-Signature": signature or header})


def requires_action_payment(user):
    """A payment left waiting for 3-D Secure, and its PaymentIntent at the emulator after authentication."""
    order = placed_order(user, "CPT", total="60.00")
    payment, _ = payment_start(order=order)
    outcome = payment_charge(payment_id=payment.pk, user=user, payment_method=card(CARD_3DS))
    intent_id = authenticate_3ds(outcome.client_secret)
    return order, payment, stripe_client().v1.payment_intents.retrieve(intent_id)
