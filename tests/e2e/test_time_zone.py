"""In Chromium: the browser's zone becomes the person's at the first log-in, the dashboard states deadlines in
it, and the profile changes it."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.helpers import patient
from tests.factories import UserFactory, renewable_certification

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_the_browsers_zone_is_taken_and_deadlines_are_said_in_it(live_server, browser: Browser, width):
    person = UserFactory(first_name="Riley", last_name="Chen")
    renewable_certification(person, "CPT")
    end = person.certifications.get().cycles.get(state="open").end
    context = patient(browser.new_context(timezone_id="America/Los_Angeles", viewport={"width": width, "height": 900}))
    page = context.new_page()
    try:
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Email address").fill(person.email)
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="MyACSM", exact=True)).to_be_visible()
        person.refresh_from_db()
        assert person.time_zone == "America/Los_Angeles"

        page.goto(live_server.url + "/dashboard/")
        tile = page.locator("section.tile").first
        expect(tile.locator(".tile-deadline")).to_have_text(
            f"Renew by {end.month}/{end.day}/{end.year} at 11:59 PM Pacific time; after that a $80.00 late fee applies.")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"deadline-pacific-{width}.png"), full_page=True)

        page.goto(live_server.url + "/accounts/profile/")
        zone = page.get_by_role("combobox", name="Time zone")
        expect(zone).to_have_value("America/Los_Angeles")
        zone.select_option("America/Chicago")
        page.get_by_role("button", name="Save time zone").click()
        expect(page.get_by_text("Saved. Your deadlines now end at 11:59 PM Central time.")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"profile-{width}.png"), full_page=True)
        page.goto(live_server.url + "/dashboard/")
        expect(page.locator("section.tile .tile-deadline").first).to_contain_text("at 11:59 PM Central time;")
    finally:
        context.close()
