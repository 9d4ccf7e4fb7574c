"""A payment attempt that stalls (3-D Secure never answered, or Stripe never answering the charge) ends by itself:
the person can pay again at once with another card, the scheduler ends what is left after 30 minutes, staff can
end one by hand, and the stalled PaymentIntent is canceled at Stripe first so that it can never be charged later."""

from datetime import timedelta
from urllib.error import HTTPError
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from acsm_portal import clock
from payments import rules
from payments.models import Order, Payment, PaymentLog
from payments.services import (
    IN_FLIGHT,
    STALL_AFTER,
    PaymentError,
    order_place,
    payment_charge,
    payment_stalled_end,
    payment_start,
    payment_transition,
    payments_stalled_end,
)
from payments.stripe_gateway import client as stripe_client
from tests.factories import UserFactory
from tests.payments.helpers import BILLING, CARD_3DS, authenticate_3ds, card, cart_with, placed_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("localstripe")]


def left_at_3ds(user):
    """An order whose payment waits for the bank's 3-D Secure dialog, which the person closed."""
    order = placed_order(user, "CPT", total="60.00")
    payment, _ = payment_start(order=order)
    outcome = payment_charge(payment_id=payment.pk, user=user, payment_method=card(CARD_3DS))
    assert outcome.state == rules.REQUIRES_ACTION
    return order, Payment.objects.get(pk=payment.pk), outcome.client_secret


def intent_status(payment: Payment) -> str:
    return stripe_client().v1.payment_intents.retrieve(payment.stripe_payment_intent).status


def place_again(user, total: str) -> Order:
    return order_place(user=user, billing=BILLING, expected_total=Decimal(total), today=clock.today_for(user))


def test_paying_again_after_closing_the_bank_dialog_ends_the_attempt_and_takes_a_new_card(user):
    order, stalled, secret = left_at_3ds(user)

    again = place_again(user, "60.00")
    assert again.pk == order.pk
    stalled.refresh_from_db()
    assert stalled.state == rules.CANCELED
    assert intent_status(stalled) == "canceled"
    log = PaymentLog.objects.filter(payment=stalled).last()
    assert (log.from_state, log.to_state, log.actor) == ("requires_action", "canceled", f"user:{user.pk}")
    assert log.note == "Canceled at Stripe. The person started paying again."

    payment, client_secret = payment_start(order=again)
    assert payment.pk != stalled.pk and payment.state == rules.CREATED and client_secret.startswith("seti_")
    assert payment_charge(payment_id=payment.pk, user=user, payment_method=card()).state == rules.SUCCEEDED
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    # The old dialog answered late cannot charge the canceled intent.
    with pytest.raises(HTTPError):
        authenticate_3ds(secret)
    assert intent_status(stalled) == "canceled"
    assert list(Payment.objects.filter(order=order).values_list("state", flat=True).order_by("pk")) == [
        rules.CANCELED, rules.SUCCEEDED]


def test_changing_the_cart_after_closing_the_bank_dialog_is_not_blocked(user):
    order, stalled, _ = left_at_3ds(user)
    cart_with(user, "EP")

    new = place_again(user, "130.00")
    assert new.pk != order.pk and new.state == Order.State.PENDING and new.total == Decimal("130.00")
    assert Order.objects.get(pk=order.pk).state == Order.State.CANCELED
    assert Payment.objects.get(pk=stalled.pk).state == rules.CANCELED
    assert intent_status(stalled) == "canceled"


def test_a_charge_that_may_still_be_on_its_way_is_left_to_finish_then_ended(user):
    order = placed_order(user, "CPT", total="60.00")
    payment, _ = payment_start(order=order)
    # Stripe did not answer the charge: the attempt stays processing with no PaymentIntent.
    payment_transition(payment_id=payment.pk, to=rules.PROCESSING, actor=f"user:{user.pk}")
    cart_with(user, "EP")
    with pytest.raises(PaymentError, match="A payment for your earlier order is still in progress"):
        place_again(user, "130.00")
    assert Payment.objects.get(pk=payment.pk).state == rules.PROCESSING

    with time_machine.travel(clock.now() + IN_FLIGHT + timedelta(seconds=1)):
        new = place_again(user, "130.00")
    assert new.pk != order.pk
    ended = Payment.objects.get(pk=payment.pk)
    assert (ended.state, ended.failure_message) == (rules.CANCELED,
                                                    "No answer from Stripe. The person started paying again.")


def test_the_scheduler_ends_attempts_stalled_for_thirty_minutes_only(user, other_user):
    _, old, _ = left_at_3ds(user)
    with time_machine.travel(clock.now() + STALL_AFTER - timedelta(minutes=10)):
        _, recent, _ = left_at_3ds(other_user)
    with time_machine.travel(clock.now() + STALL_AFTER + timedelta(minutes=1)):
        assert payments_stalled_end() == [old.pk]
        assert payments_stalled_end() == []
    assert Payment.objects.get(pk=old.pk).state == rules.CANCELED
    assert intent_status(old) == "canceled"
    assert Payment.objects.get(pk=recent.pk).state == rules.REQUIRES_ACTION
    assert intent_status(recent) == "requires_action"
    log = PaymentLog.objects.filter(payment=old).last()
    assert (log.actor, log.note) == ("scheduler", "Canceled at Stripe. Waited over 30 minutes.")


def test_an_attempt_the_bank_confirmed_meanwhile_is_paid_not_canceled(user):
    order, stalled, secret = left_at_3ds(user)
    authenticate_3ds(secret)  # the person did answer; the page never told us

    done = payment_stalled_end(payment_id=stalled.pk, actor="scheduler", note="Waited.", waited=timedelta(0))
    assert done.state == rules.SUCCEEDED
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID


def test_staff_end_a_stalled_attempt_from_the_admin(client, user):
    _, stalled, _ = left_at_3ds(user)
    paid_order = placed_order(UserFactory(), "EP", total="70.00")
    paid, _ = payment_start(order=paid_order)
    payment_charge(payment_id=paid.pk, user=paid_order.user, payment_method=card())
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "change_payment"]))
    client.force_login(staff)

    response = client.post(reverse("admin:payments_payment_changelist"),
                           {"action": "end_stalled", "_selected_action": [stalled.pk, paid.pk]}, follow=True)
    html = response.content.decode()
    assert f"Payment #{stalled.pk} is now canceled." in html
    assert (f"Payment #{paid.pk} is succeeded; only an attempt waiting for the bank or for Stripe can be ended."
            in html)
    assert Payment.objects.get(pk=stalled.pk).state == rules.CANCELED
    assert PaymentLog.objects.filter(payment=stalled).last().actor == f"staff:{staff.pk}"
    assert Payment.objects.get(pk=paid.pk).state == rules.SUCCEEDED


def test_staff_without_the_change_permission_do_not_get_the_action(client, user):
    left_at_3ds(user)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client.force_login(staff)
    html = client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert "end_stalled" not in html


def test_with_stripe_unreachable_nothing_is_charged_and_the_person_can_pay_again(user, settings):
    order = placed_order(user, "CPT", total="60.00")
    payment, _ = payment_start(order=order)
    method = card()
    emulator = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: the intent's creation never answers
    outcome = payment_charge(payment_id=payment.pk, user=user, payment_method=method)
    assert (outcome.state, outcome.message) == (rules.FAILED,
                                                "The card could not be charged. Please try again or use another card.")
    failed = Payment.objects.get(pk=payment.pk)
    assert (failed.state, failed.stripe_payment_intent) == (rules.FAILED, "")

    settings.STRIPE_API_BASE = emulator
    again, _ = payment_start(order=place_again(user, "60.00"))
    assert again.pk != payment.pk
    assert payment_charge(payment_id=again.pk, user=user, payment_method=card()).state == rules.SUCCEEDED
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
