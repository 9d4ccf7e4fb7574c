import time

import pytest
from django.urls import reverse

from payments.models import Order, Payment, WebhookEvent
from payments.services import payment_charge, payment_start
from payments.stripe_gateway import client as stripe_client
from tests.conftest import stripe_webhook_register, stripe_webhooks_clear
from tests.payments.helpers import URL, intent_event, placed_order, post, requires_action_payment, signed

pytestmark = pytest.mark.usefixtures("localstripe")


@pytest.mark.django_db
class TestWebhook:
    def test_completes_an_order_whose_browser_never_came_back(self, client, user):
        order, payment, intent = requires_action_payment(user)
        response = post(client, intent_event(intent))
        assert response.status_code == 200
        assert response.content.decode() == f"payment {payment.pk}: succeeded"
        order.refresh_from_db()
        assert order.state == Order.State.PAID
        assert WebhookEvent.objects.get(event_id="evt_test_1").outcome == f"payment {payment.pk}: succeeded"

    def test_a_repeated_event_is_handled_once(self, client, user):
        order, payment, intent = requires_action_payment(user)
        assert post(client, intent_event(intent)).status_code == 200
        response = post(client, intent_event(intent))
        assert (response.status_code, response.content) == (200, b"duplicate")
        assert WebhookEvent.objects.count() == 1
        assert Payment.objects.get(pk=payment.pk).state == "succeeded"

    def test_a_late_failure_after_success_changes_nothing(self, client, user):
        order, payment, intent = requires_action_payment(user)
        post(client, intent_event(intent))
        failed = intent.to_dict()
        failed["status"] = "requires_payment_method"
        event = {**intent_event(intent, "payment_intent.payment_failed", "evt_late"), "data": {"object": failed}}
        assert post(client, event).status_code == 200
        assert Payment.objects.get(pk=payment.pk).state == "succeeded"
        assert Order.objects.get(pk=order.pk).state == Order.State.PAID

    def test_success_from_a_second_event_id_is_a_no_op(self, client, user):
        order, payment, intent = requires_action_payment(user)
        post(client, intent_event(intent, event_id="evt_a"))
        assert post(client, intent_event(intent, event_id="evt_b")).content.decode() == \
            f"payment {payment.pk}: succeeded"
        assert order.lines.count() == 1
        assert order.lines.get().certification.cycles.count() == 2  # renewed once

    @pytest.mark.parametrize("how", ["wrong secret", "garbage header", "no header"])
    def test_bad_signature_is_400_and_changes_nothing(self, client, user, how):
        order, payment, intent = requires_action_payment(user)
        event = intent_event(intent)
        if how == "wrong secret":
            response = post(client, event, secret="whsec_wrong")
        elif how == "garbage header":
            response = post(client, event, signature="t=1,v1=deadbeef")
        else:
            response = client.post(URL, data=b"{}", content_type="application/json")
        assert response.status_code == 400
        assert WebhookEvent.objects.count() == 0
        assert Order.objects.get(pk=order.pk).state == Order.State.PENDING

    def test_unknown_event_types_are_ignored(self, client):
        response = post(client, {"id": "evt_x", "object": "event", "type": "customer.created",
                                 "data": {"object": {"id": "cus_1", "object": "customer"}}})
        assert (response.status_code, response.content) == (200, b"ignored")
        assert WebhookEvent.objects.count() == 0

    def test_amount_mismatch_is_refused(self, client, user):
        order, payment, intent = requires_action_payment(user)
        tampered = intent.to_dict()
        tampered["amount"] = 100
        event = {**intent_event(intent), "data": {"object": tampered}}
        response = post(client, event)
        assert response.content.decode().startswith("refused: Amount mismatch")
        assert Order.objects.get(pk=order.pk).state == Order.State.PENDING

    def test_get_is_not_allowed(self, client):
        assert client.get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_the_emulator_delivers_signed_events_to_the_live_server(live_server, localstripe, user):
    stripe_webhooks_clear(localstripe)  # no events left over from earlier tests
    stripe_webhook_register(localstripe, live_server.url + reverse("stripe_webhook"), name="live")
    try:
        order, payment, intent = requires_action_payment(user)
        done = WebhookEvent.objects.filter(type="payment_intent.succeeded", outcome=f"payment {payment.pk}: succeeded")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.2)
        assert done.get().event_id.startswith("evt_")
        assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    finally:
        stripe_webhooks_clear(localstripe)
