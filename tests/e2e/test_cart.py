from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from acsm_portal.demo import DEMO_CERTIFICANT, demo_seed
from accounts.models import User
from acsm_portal import clock
from certifications.models import CprUpload
from tests.e2e.helpers import SHOTS, log_in_demo


def approve_demo_cpr_cards():
    casey = User.objects.get(email=DEMO_CERTIFICANT["email"])
    for cert in casey.certifications.all():
        CprUpload.objects.create(certification=cert, cycle=cert.cycles.get(state="open"), state="approved",
                                 card_type="cpr_aed", issuing_organization="American Red Cross",
                                 skills_check_confirmed=True, submitted_at=clock.now(),
                                 expires_on=clock.today_for(casey) + timedelta(days=730))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_renew_both_remove_one_and_open_the_cart(live_server, page: Page, width):
    demo_seed()
    approve_demo_cpr_cards()
    page.set_viewport_size({"width": width, "height": 900})
    log_in_demo(page, live_server.url)
    page.goto(live_server.url + "/dashboard/")
    cpt = page.get_by_role("region", name="Certified Personal Trainer")
    ep = page.get_by_role("region", name="Certified Exercise Physiologist")

    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    cpt.get_by_role("button", name="RENEW").click()
    expect(cpt.get_by_text("In cart")).to_be_visible()
    expect(page.get_by_role("status").first).to_have_text("CPT Recertification is in your cart.")
    ep.get_by_role("button", name="RENEW").click()
    expect(ep.get_by_text("In cart")).to_be_visible()
    expect(page.locator("#complete-recertification")).to_contain_text("2 renewals in your cart")
    # The page did not reload: the tile was swapped in place.
    assert page.evaluate("window.sameDocument === true")

    cpt.get_by_role("button", name="Remove CPT renewal from cart").click()
    expect(cpt.get_by_role("button", name="RENEW")).to_be_visible()
    expect(page.locator("#complete-recertification")).to_contain_text("1 renewal in your cart")

    page.get_by_role("link", name="Complete Recertification").click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    rows = page.locator("table.cart-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("EP Recertification")
    expect(rows.first).to_contain_text("$70.00")
    expect(page.locator(".cart-total")).to_have_text("$70.00")
    expect(page.get_by_role("link", name="Proceed to Checkout")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"cart-{width}.png"), full_page=True)

    page.get_by_role("button", name="Remove EP Recertification").click()
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
