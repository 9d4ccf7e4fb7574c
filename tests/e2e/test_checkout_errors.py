"""In Chromium: field errors at checkout are shown by their fields, and nothing says a payment is under way."""

import pytest
from playwright.sync_api import Page, expect

from acsm_portal import clock
from cart.services import cart_add_renewal
from payments.models import Order
from tests.e2e.helpers import SHOTS, log_in
from tests.factories import UserFactory, renewable_certification


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_field_errors_leave_no_processing_message(live_server, page: Page, localstripe, width):
    person = UserFactory()
    certification = renewable_certification(person, "CPT")
    cart_add_renewal(user=person, certification_id=certification.pk, today=clock.today_for(person))
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, person.email)
    page.goto(live_server.url + "/checkout/")
    page.locator("#id_name").fill("Jordan Lee")
    page.locator("#id_line1").fill("401 W Michigan St")
    page.locator("#id_city").fill("")
    page.locator("#id_postal_code").fill("46202")
    page.get_by_role("button", name="Process Payment").click()
    expect(page.locator("#id_city")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".js-field-error").first).to_have_text("This field is required.")
    expect(page.locator("#pay-status")).to_have_text("")
    expect(page.get_by_role("button", name="Process Payment")).to_be_enabled()
    expect(page.locator("#id_name")).to_have_value("Jordan Lee")
    page.screenshot(path=str(SHOTS / f"checkout-field-errors-{width}.png"), full_page=True)
    assert Order.objects.filter(user=person).count() == 0
