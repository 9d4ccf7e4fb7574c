import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from acsm_portal.demo import DEMO_CERTIFICANT


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_demo_certificant_logs_in_and_reaches_access_your_information(live_server, page: Page, width, tmp_path):
    call_command("seed_demo")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(live_server.url + "/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("Email address").fill(DEMO_CERTIFICANT["email"])
    page.get_by_label("Password").fill(DEMO_CERTIFICANT["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="MyACSM", exact=True)).to_be_visible()
    box = page.get_by_role("region", name="Access Your Information")
    expect(box).to_be_visible()
    link = box.get_by_role("link", name="View CEC Dashboard and Report CECs")
    expect(link).to_be_visible()
    # No horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    link.click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
