"""State changes for orders and payments.

The pending order exists before Stripe is called; Stripe is never called inside a
database transaction; every Stripe call carries an idempotency key; an order moves
only through ``order_transition`` and a payment only through ``payment_transition``,
each of which locks the row, logs the move and treats a repeat as a no-op. Webhooks
are the source of truth for "paid".
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string

from acsm_portal import clock, jobs
from acsm_portal.errors import ServiceError
from cart.models import Cart, CartLine
from cart.services import cart_recheck
from certifications.models import Cycle
from certifications.renewals import certification_renew

from . import rules
from .models import Order, OrderLine, OrderLog, Payment, PaymentLog
from .pdf import receipt_pdf
from .stripe_gateway import client as stripe_client
from .tasks import order_receipt_email

log = logging.getLogger(__name__)


class PaymentError(ServiceError):
    """A refused payment action, with a message fit for the person."""


class IllegalTransition(PaymentError):
    """A move the order or payment state machine (``rules.ORDER_TRANSITIONS``, ``rules.TRANSITIONS``) refuses."""


@dataclass(frozen=True)
class BillingInput:
    name: str
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class ChargeOutcome:
    state: str  # a Payment.State value
    message: str = ""
    client_secret: str = ""  # for requires_action: the page finishes 3-D Secure with it


# ---------------------------------------------------------------- transitions

def order_transition(*, order_id: int, to: str, actor: str, note: str = "", **fields) -> Order:
    """Move order ``order_id`` to state ``to`` (an ``Order.State`` value) under a row lock, logging ``actor``
    (who or what: ``"user:12"``, ``"staff:3"``, ``"stripe"``, ``"webhook"``) and ``note`` (why) in ``OrderLog``,
    and setting the other ``fields`` (``paid_at=...``) in the same save.

    A move to the state the order is already in is a no-op: nothing is logged and ``fields`` are not set.
    Raises ``IllegalTransition`` for a move ``rules.ORDER_TRANSITIONS`` does not allow, and ``Order.DoesNotExist``.
    Returns the order as saved.
    """
    if "state" in fields:
        raise TypeError("order_transition takes the new state as `to`.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.state == to:
            return order
        if not rules.order_can_move(order.state, to):
            raise IllegalTransition(f"An order cannot go from {order.state} to {to}.")
        OrderLog.objects.create(order=order, from_state=order.state, to_state=to, actor=actor[:100], note=note[:500])
        order.state = to
        for name, value in fields.items():
            setattr(order, name, value)
        order.save(update_fields=["state", *fields])
        return order


def payment_transition(*, payment_id: int, to: str, actor: str, note: str = "", **fields) -> Payment:
    """Move payment ``payment_id`` to state ``to`` (a ``Payment.State`` value) under a row lock, logging ``actor``
    and ``note`` in ``PaymentLog`` and setting the other ``fields`` (``failure_message=...``) in the same save.

    A repeat is a no-op (nothing logged, ``fields`` not set). Raises ``IllegalTransition`` for a move
    ``rules.TRANSITIONS`` does not allow, and ``Payment.DoesNotExist``. Returns the payment as saved.
    """
    if "state" in fields:
        raise TypeError("payment_transition takes the new state as `to`.")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.state == to:
            return payment
        if not rules.can_move(payment.state, to):
            raise IllegalTransition(f"A payment cannot go from {payment.state} to {to}.")
        PaymentLog.objects.create(payment=payment, from_state=payment.state, to_state=to, actor=actor[:100],
                                  note=note[:500])
        payment.state = to
        payment.state_changed_by = actor[:100]
        for name, value in fields.items():
            setattr(payment, name, value)
        payment.save()
        return payment


# ---------------------------------------------------------------- placing

NUMBER_ATTEMPTS = 5


def _new_order_number(*, user) -> str:
    """R + the two-digit year of the person's own date + six random hex digits: "R27-3FA9C1"."""
    return f"R{clock.today_for(user):%y}-{secrets.token_hex(3).upper()}"


def _save_with_new_number(order: Order) -> None:
    """Insert ``order`` under a new random number, drawing again (up to ``NUMBER_ATTEMPTS`` times, each in its own
    savepoint) when the number is taken. Raises ``IntegrityError`` for any other refusal, or when every draw
    was taken."""
    for attempt in range(NUMBER_ATTEMPTS):
        order.number = _new_order_number(user=order.user)
        try:
            with transaction.atomic():
                order.save(force_insert=True)
            return
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1 or not Order.objects.filter(number=order.number).exists():
                raise
            log.warning("Order number %s was taken; drawing another", order.number)


def order_place(*, user, billing: BillingInput, expected_total: Decimal, today: date) -> Order:
    """A pending order for what is in the cart now (``today``: the person's date). Placing the same cart again
    returns the same order; a changed cart replaces the person's pending order (canceled).

    Placing is the person pressing Pay: an earlier attempt of theirs left at 3-D Secure, or processing for longer
    than ``IN_FLIGHT``, is ended first (``payment_stalled_end``, canceled at Stripe), so they can pay at once.
    Raises ``PaymentError`` when the cart changed since the person looked at it (prices, lines), the total they
    were shown is not the total now, an earlier attempt is still being charged, or Stripe did not answer while an
    attempt was being ended.
    """
    checked = cart_recheck(user=user, today=today)
    if checked.messages:
        raise PaymentError("Your cart changed: " + " ".join(checked.messages) + " Please review it and pay again.")
    if not checked.lines:
        raise PaymentError("Your cart is empty.")
    if checked.total != expected_total:
        raise PaymentError(
            f"The total changed from ${expected_total} to ${checked.total}. Please review your cart and pay again."
        )
    wanted = sorted((line.certification_id, line.kind, line.unit_price) for line in checked.lines)
    waiting = Payment.objects.filter(order__user=user, order__state=Order.State.PENDING,
                                     state__in=rules.OPEN_STATES - {rules.CREATED})
    for payment_id in waiting.values_list("pk", flat=True):
        # The person pressed Pay again: an attempt left waiting for 3-D Secure is ended (at Stripe first) so that
        # they can pay at once, with this card or another; one whose charge may still be on its way is left alone.
        payment_stalled_end(payment_id=payment_id, actor=f"user:{user.pk}", note="The person started paying again.",
                            waited=IN_FLIGHT)
    with transaction.atomic():
        Cart.objects.select_for_update().get(user=user)  # one placement per person at a time
        for order in Order.objects.select_for_update().filter(user=user, state=Order.State.PENDING):
            have = sorted((x.certification_id, x.kind, x.unit_price) for x in order.lines.all())
            if have == wanted:
                _set_billing(order, billing)
                order.save(update_fields=BILLING_FIELDS)
                return order
            if order.payments.filter(state__in=rules.OPEN_STATES - {rules.CREATED}).exists():
                raise PaymentError("A payment for your earlier order is still in progress; please wait a moment.")
            for payment_id in order.payments.filter(state=rules.CREATED).values_list("pk", flat=True):
                payment_transition(payment_id=payment_id, to=rules.CANCELED, actor=f"user:{user.pk}",
                                   note="Its order was replaced by a changed cart.")
            order_transition(order_id=order.pk, to=Order.State.CANCELED, actor=f"user:{user.pk}",
                             note="Replaced by a changed cart.", canceled_at=clock.now())
        cycles = dict(
            Cycle.objects.filter(certification_id__in=[x[0] for x in wanted], state=Cycle.State.OPEN)
            .values_list("certification_id", "id")
        )
        order = Order(user=user, total=checked.total, time_zone=clock.zone_for(user).key)
        _set_billing(order, billing)
        _save_with_new_number(order)
        OrderLine.objects.bulk_create([
            OrderLine(order=order, kind=line.kind, certification_id=line.certification_id,
                      cycle_id=cycles[line.certification_id], description=line.description,
                      unit_price=line.unit_price, quantity=line.quantity, total_price=line.total_price)
            for line in checked.lines
        ])
    return order


BILLING_FIELDS = ["billing_name", "billing_line1", "billing_line2", "billing_city", "billing_state",
                  "billing_postal_code", "billing_country"]


def _set_billing(order: Order, billing: BillingInput) -> None:
    order.billing_name = billing.name
    order.billing_line1 = billing.line1
    order.billing_line2 = billing.line2
    order.billing_city = billing.city
    order.billing_state = billing.state
    order.billing_postal_code = billing.postal_code
    order.billing_country = billing.country


# ---------------------------------------------------------------- paying

def payment_start(*, order: Order) -> tuple[Payment, str]:
    """The open payment attempt for ``order`` (made if needed) and a SetupIntent client secret
    with which the page collects the card. Returns no secret when a payment is already under way.

    The SetupIntent's idempotency key comes from the payment: ``seti-<payment id>`` for its first one, and
    ``seti-<payment id>-after-<previous SetupIntent id>`` when the page starts again (a reload, a second tab), so
    a repeated request gets the same SetupIntent from Stripe and a fresh start never replays one already used.
    Raises ``PaymentError`` when the order no longer awaits payment.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.state != Order.State.PENDING:
            raise PaymentError("This order is no longer awaiting payment.")
        payment = order.payments.filter(state__in=rules.OPEN_STATES).first()
        if payment is None:
            payment = Payment.objects.create(order=order, amount=order.total)
    if payment.state != rules.CREATED:
        return payment, ""
    setup = stripe_client().v1.setup_intents.create(
        params={"usage": "on_session", "metadata": {"order": order.number, "payment": str(payment.pk)}},
        options={"idempotency_key": _setup_intent_key(payment)},
    )
    Payment.objects.filter(pk=payment.pk).update(stripe_setup_intent=setup.id)
    return payment, setup.client_secret


def _setup_intent_key(payment: Payment) -> str:
    if not payment.stripe_setup_intent:
        return f"seti-{payment.pk}"
    return f"seti-{payment.pk}-after-{payment.stripe_setup_intent}"


def payment_charge(*, payment_id: int, user, payment_method: str) -> ChargeOutcome:
    """Charge the card the page collected (``payment_method``, a Stripe PaymentMethod id) for payment
    ``payment_id`` of ``user``'s order. Safe under double clicks, reloads and two tabs: only the request that moves
    the payment out of ``created`` talks to Stripe.

    The PaymentIntent is made unconfirmed first and its id recorded before it is confirmed, so the portal knows
    every intent that can take money: an attempt whose confirmation goes unanswered can be looked up and canceled
    at Stripe (``payment_stalled_end``), and one whose creation goes unanswered can never be charged. Returns the
    outcome for the page; raises ``PaymentError`` when the order changed since the payment started, and
    ``Payment.DoesNotExist`` for another person's payment.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id, order__user=user)
        order = payment.order
        if payment.state != rules.CREATED:
            return _outcome(payment)
        stale = order.state != Order.State.PENDING or payment.amount != order.total
        payment_transition(payment_id=payment.pk, to=rules.FAILED if stale else rules.PROCESSING,
                           actor=f"user:{user.pk}", failure_message="The order changed; please pay again." if stale else "")
    if stale:
        raise PaymentError("Your order changed; please review it and pay again.")
    gateway = stripe_client()
    brand, last4 = _card_details(gateway, payment_method)
    Payment.objects.filter(pk=payment.pk).update(card_brand=brand, card_last4=last4)
    try:
        intent = gateway.v1.payment_intents.create(
            params={
                "amount": rules.to_cents(payment.amount),
                "currency": order.currency,
                "payment_method": payment_method,
                "metadata": {"order": order.number, "payment": str(payment.pk)},
            },
            options={"idempotency_key": f"pi-{payment.pk}"},
        )
    except stripe.StripeError as exc:
        # Nothing was confirmed, so nothing can be charged: the attempt ends here and the person may try again.
        log.warning("Stripe refused or did not answer the PaymentIntent of payment %s: %s", payment.pk, exc)
        message = "The card could not be charged. Please try again or use another card."
        _fail_unless_settled(payment.pk, message, "stripe")
        return ChargeOutcome(rules.FAILED, message)
    if not Payment.objects.filter(pk=payment.pk, state=rules.PROCESSING).update(stripe_payment_intent=intent.id):
        # The attempt was ended meanwhile (the person paid again, or staff ended it): this intent is never
        # confirmed, so it cannot take money; it is canceled too, so that Stripe's dashboard says so.
        try:
            gateway.v1.payment_intents.cancel(intent.id, options={"idempotency_key": f"pi-cancel-{payment.pk}"})
        except stripe.StripeError:
            log.warning("Could not cancel the unconfirmed intent %s of ended payment %s", intent.id, payment.pk)
        return _outcome(Payment.objects.get(pk=payment.pk))
    try:
        intent = gateway.v1.payment_intents.confirm(intent.id, options={"idempotency_key": f"pi-confirm-{payment.pk}"})
    except stripe.CardError as exc:
        message = exc.user_message or "Your card was declined."
        _fail_unless_settled(payment.pk, message, "stripe")
        return ChargeOutcome(rules.FAILED, message)
    except stripe.InvalidRequestError as exc:
        log.warning("Stripe refused to confirm payment %s: %s", payment.pk, exc)
        _fail_unless_settled(payment.pk, "The card could not be charged.", "stripe")
        return ChargeOutcome(rules.FAILED, "The card could not be charged. Please try another card.")
    except stripe.StripeError:
        # The charge may or may not have happened: stay in processing; the webhook, the page's refresh or the
        # scheduler (which knows the intent) settles it.
        log.exception("Stripe did not answer the confirmation of payment %s", payment.pk)
        return ChargeOutcome(rules.PROCESSING, "We are confirming your payment with the bank; this page will update.")
    return payment_sync(payment_id=payment.pk, intent=intent, actor="stripe")


def payment_refresh(*, payment_id: int, user) -> ChargeOutcome:
    """Ask Stripe where a payment stands (after 3-D Secure in the page)."""
    payment = Payment.objects.get(pk=payment_id, order__user=user)
    if payment.state not in (rules.PROCESSING, rules.REQUIRES_ACTION) or not payment.stripe_payment_intent:
        return _outcome(payment)
    intent = stripe_client().v1.payment_intents.retrieve(payment.stripe_payment_intent)
    return payment_sync(payment_id=payment.pk, intent=intent, actor="stripe")


def payment_sync(*, payment_id: int, intent, actor: str) -> ChargeOutcome:
    """Bring a payment in line with its PaymentIntent as Stripe reports it."""
    status = intent.status
    if status == "succeeded":
        payment_confirm(payment_id=payment_id, amount_cents=intent.amount, actor=actor)
    elif status == "requires_action":
        payment_transition(payment_id=payment_id, to=rules.REQUIRES_ACTION, actor=actor)
        return ChargeOutcome(rules.REQUIRES_ACTION, client_secret=intent.client_secret)
    elif status == "requires_payment_method":
        error = getattr(intent, "last_payment_error", None)
        message = (getattr(error, "message", None) if error else None) or "Your card was declined."
        _fail_unless_settled(payment_id, message, actor)
    elif status == "canceled":
        _fail_unless_settled(payment_id, "The payment was canceled.", actor, to=rules.CANCELED)
    return _outcome(Payment.objects.get(pk=payment_id))


def _fail_unless_settled(payment_id: int, message: str, actor: str, to: str = rules.FAILED) -> None:
    try:
        payment_transition(payment_id=payment_id, to=to, actor=actor, note=message, failure_message=message[:500])
    except IllegalTransition:
        pass  # already succeeded or refunded: a late failure report changes nothing


def payment_confirm(*, payment_id: int, amount_cents: int, actor: str) -> Payment:
    """Stripe says ``amount_cents`` arrived for payment ``payment_id``: mark the payment succeeded and its pending
    order paid, renew each renewal line's cycle and queue the receipt, once. A second confirm returns the payment.

    A charge Stripe reports for an order that is no longer pending (canceled when a changed cart replaced it) is
    recorded on the payment and logged for staff to refund; the order stays as it is and nothing is renewed.
    Raises ``PaymentError`` when the amount is not the payment's, or the order already has another success.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id)
        if payment.state in (rules.SUCCEEDED, rules.REFUNDED):
            return payment
        if amount_cents != rules.to_cents(payment.amount):
            log.error("Payment %s: Stripe charged %s cents, expected %s", payment.pk, amount_cents,
                      rules.to_cents(payment.amount))
            raise PaymentError(f"Amount mismatch on payment {payment.pk}: {amount_cents} cents charged.")
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        if order.payments.filter(state=rules.SUCCEEDED).exclude(pk=payment.pk).exists():
            log.error("Order %s was charged twice (payment %s); refund the second charge", order.number, payment.pk)
        try:
            with transaction.atomic():
                payment_transition(payment_id=payment.pk, to=rules.SUCCEEDED, actor=actor)
        except IntegrityError:
            raise PaymentError(f"Order {order.number} is already paid.") from None
        if order.state not in (Order.State.PENDING, Order.State.PAID):
            log.error("Order %s is %s but payment %s succeeded; refund it", order.number, order.state, payment.pk)
        elif order.state == Order.State.PENDING:
            order = order_transition(order_id=order.pk, to=Order.State.PAID, actor=actor,
                                     note=f"Payment {payment.pk} succeeded.", paid_at=clock.now())
            for line in order.lines.filter(kind=OrderLine.Kind.RENEWAL):
                line.renewed_cycle = certification_renew(cycle_id=line.cycle_id)
                line.save(update_fields=["renewed_cycle"])
            CartLine.objects.filter(
                cart__user=order.user, certification_id__in=order.lines.values("certification_id")
            ).delete()
            jobs.queue_after_commit(order_receipt_email, order.pk)
        return Payment.objects.get(pk=payment.pk)


# ---------------------------------------------------------------- stalled attempts

# How long an attempt may wait for the bank's 3-D Secure answer, or for Stripe's, before the scheduler ends it.
STALL_AFTER = timedelta(minutes=30)

# Longer than a charge can take (two Stripe requests, each up to the client's 80 s timeout times three tries): a
# ``processing`` attempt older than this is not waiting for an answer any more.
IN_FLIGHT = timedelta(minutes=10)


def payment_stalled_end(*, payment_id: int, actor: str, note: str, waited: timedelta = STALL_AFTER) -> Payment:
    """End payment attempt ``payment_id`` if it stalled: waiting for 3-D Secure (``requires_action``), or
    ``processing`` for ``waited`` or longer. Its PaymentIntent is canceled at Stripe first, so the attempt can never
    be charged later; then the payment moves to ``canceled`` (logged with ``actor`` and ``note``) and its order
    stays pending, for the person to pay again with any card.

    Stripe has the last word: an intent it reports as succeeded confirms the payment instead (the order is paid),
    and one still processing at Stripe is left alone. A ``processing`` attempt with no PaymentIntent recorded (its
    creation never answered) cannot be charged, since ``payment_charge`` confirms only an intent it recorded: it is
    canceled here only. Any other state, or an attempt younger than ``waited``, is returned untouched.
    Raises ``PaymentError`` when Stripe does not answer, and ``Payment.DoesNotExist``.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.state not in (rules.REQUIRES_ACTION, rules.PROCESSING):
        return payment
    if payment.state == rules.PROCESSING and clock.now() - _last_move(payment) < waited:
        return payment
    if not payment.stripe_payment_intent:
        # No intent recorded: its creation never answered, and an intent is confirmed only once recorded
        # (``payment_charge``), so nothing can be charged. End it, unless it moved on meanwhile.
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            if payment.state == rules.PROCESSING and not payment.stripe_payment_intent:
                message = f"No answer from Stripe. {note}"
                payment_transition(payment_id=payment.pk, to=rules.CANCELED, actor=actor, note=message,
                                   failure_message=message[:500])
        return Payment.objects.get(pk=payment_id)
    gateway = stripe_client()
    try:
        try:
            intent = gateway.v1.payment_intents.cancel(payment.stripe_payment_intent,
                                                       options={"idempotency_key": f"pi-cancel-{payment.pk}"})
        except stripe.InvalidRequestError:
            # Stripe cancels only an intent still waiting (for a card, a confirmation, 3-D Secure); for any other
            # it refuses: take its word for where the intent stands.
            intent = gateway.v1.payment_intents.retrieve(payment.stripe_payment_intent)
    except stripe.StripeError as exc:
        log.warning("Could not end stalled payment %s: %s", payment.pk, exc)
        raise PaymentError("Stripe did not answer; please try again in a minute.") from exc
    if intent.status == "canceled":
        _fail_unless_settled(payment.pk, f"Canceled at Stripe. {note}", actor, to=rules.CANCELED)
    else:
        payment_sync(payment_id=payment.pk, intent=intent, actor=actor)
    return Payment.objects.get(pk=payment_id)


def _last_move(payment: Payment):
    """When ``payment`` last changed state (its creation when it never did)."""
    moved = payment.log.order_by("-at").values_list("at", flat=True).first()
    return moved or payment.created_at


def payments_stalled_end(*, after: timedelta = STALL_AFTER) -> list[int]:
    """End every payment attempt that has waited ``after`` or longer in ``requires_action`` or ``processing``
    (``payment_stalled_end``, as the scheduler). Returns the ids of those now canceled, oldest first; an attempt
    Stripe could not be asked about is logged and tried again on the next run."""
    cutoff = clock.now() - after
    ended = []
    for payment in (Payment.objects.filter(state__in=[rules.REQUIRES_ACTION, rules.PROCESSING])
                    .annotate(moved=Max("log__at")).order_by("created_at", "pk")):
        if (payment.moved or payment.created_at) > cutoff:
            continue
        try:
            done = payment_stalled_end(payment_id=payment.pk, actor="scheduler", waited=after,
                                       note=f"Waited over {after.total_seconds() / 60:.0f} minutes.")
        except PaymentError:
            continue
        if done.state == rules.CANCELED:
            ended.append(done.pk)
    return ended


# ---------------------------------------------------------------- the receipt email

def order_receipt_send(*, order_id: int) -> str:
    """Email the receipt of paid order ``order_id`` (text and HTML, the PDF attached) to its holder, once.

    The order is claimed in a short transaction (``receipt_claimed_at``); the email is rendered and sent with no
    row lock held; then ``receipt_emailed_at`` is set. Returns what happened: ``"sent"``, ``"not paid"``,
    ``"already sent"``, or ``"claimed"`` when another worker took it on less than ``jobs.CLAIM`` ago. When
    sending fails the claim is let go and the error (``OSError``, ``SMTPException``) raised, so a retry or the
    sweeper (``order_receipts_unsent_requeue``) sends it. Raises ``Order.DoesNotExist``.
    """
    claimed_at = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("user").get(pk=order_id)
        if order.state != Order.State.PAID:
            return "not paid"
        if order.receipt_emailed_at is not None:
            return "already sent"
        if order.receipt_claimed_at is not None and claimed_at - order.receipt_claimed_at < jobs.CLAIM:
            return "claimed"
        order.receipt_claimed_at = claimed_at
        order.save(update_fields=["receipt_claimed_at"])
    try:
        _receipt_message(order).send()
    except Exception:
        Order.objects.filter(pk=order_id, receipt_claimed_at=claimed_at).update(receipt_claimed_at=None)
        raise
    Order.objects.filter(pk=order_id).update(receipt_emailed_at=clock.now())
    return "sent"


def order_receipts_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again the receipt of every order paid more than ``after`` ago (and within ``jobs.SWEEP_WINDOW``) and
    not emailed, unless a worker took it on less than ``jobs.CLAIM`` ago. Returns the order ids, oldest first."""
    lost = list(jobs.unsent(Order.objects.filter(state=Order.State.PAID, receipt_emailed_at__isnull=True),
                            called_at="paid_at", claimed_at="receipt_claimed_at", after=after)
                .values_list("pk", flat=True))
    for order_id in lost:
        jobs.queue(order_receipt_email, order_id)
    return lost


def _receipt_message(order: Order) -> EmailMultiAlternatives:
    context = {"order": order, "lines": list(order.lines.all()),
               "payment": order.payments.filter(state=rules.SUCCEEDED).first(),
               "base_url": settings.PORTAL_BASE_URL, "paid_at": clock.moment_text(order.paid_at, order)}
    message = EmailMultiAlternatives(
        subject=f"Your MyACSM receipt {order.number}",
        body=render_to_string("emails/receipt.txt", context),
        to=[order.user.email],
    )
    message.attach_alternative(render_to_string("emails/receipt.html", context), "text/html")
    message.attach(f"receipt-{order.number}.pdf", receipt_pdf(order=order), "application/pdf")
    return message


def _outcome(payment: Payment) -> ChargeOutcome:
    messages = {
        rules.SUCCEEDED: "Payment received.",
        rules.PROCESSING: "Your payment is being processed.",
        rules.REQUIRES_ACTION: "Your bank asks you to confirm this payment.",
        rules.FAILED: payment.failure_message or "The payment failed.",
        rules.CANCELED: "The payment was canceled.",
        rules.CREATED: "",
        rules.REFUNDED: "This payment was refunded.",
    }
    return ChargeOutcome(payment.state, messages[payment.state])


def _card_details(gateway, payment_method: str) -> tuple[str, str]:
    try:
        method = gateway.v1.payment_methods.retrieve(payment_method)
    except stripe.StripeError:
        return "", ""
    card = getattr(method, "card", None)
    return (getattr(card, "brand", "") or "", getattr(card, "last4", "") or "") if card else ("", "")
