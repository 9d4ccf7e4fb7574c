"""A person who walks away from the bank's 3-D Secure dialog can come back and pay with another card at once."""

import pytest
from playwright.sync_api import Page, expect

from acsm_portal.demo import DEMO_CERTIFICANT, demo_seed
from payments import rules
from payments.models import Order, Payment
from payments.stripe_gateway import client as stripe_client
from tests.e2e.helpers import SHOTS, pay
from tests.e2e.test_seed_flow import to_checkout
from tests.payments.helpers import CARD_3DS, CARD_OK
from tests.waits import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("localstripe")]


@pytest.mark.django_db(transaction=True)
def test_leaving_the_bank_dialog_then_paying_with_another_card(live_server, page: Page, tmp_path):
    demo_seed()
    to_checkout(page, live_server.url, tmp_path, 375)
    pay(page, CARD_3DS)
    page.get_by_role("button", name="Complete authentication").click()  # the card's setup
    expect(page.get_by_role("button", name="Fail authentication")).to_be_visible()  # the payment's own dialog
    stalled = wait_until(lambda: Payment.objects.filter(state=rules.REQUIRES_ACTION).first(),
                         what="the payment to wait for 3-D Secure")

    # The person closes the tab, comes back later and pays with another card.
    page.goto(live_server.url + "/checkout/")
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    pay(page, CARD_OK)
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    expect(page.get_by_role("button", name="Complete authentication")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "checkout-after-abandoned-3ds-375.png"), full_page=True)

    order = Order.objects.get(user__email=DEMO_CERTIFICANT["email"])
    assert order.state == Order.State.PAID
    assert list(order.payments.order_by("pk").values_list("state", flat=True)) == [rules.CANCELED, rules.SUCCEEDED]
    assert stripe_client().v1.payment_intents.retrieve(
        Payment.objects.get(pk=stalled.pk).stripe_payment_intent).status == "canceled"
