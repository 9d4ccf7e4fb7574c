"""In Chromium, with the database really stopped: a CEC report is answered "try again in a minute" with what
was typed kept, and Try again saves it once the database is back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from acsm_portal import clock
from cecs.models import CECEntry
from tests.e2e.axe import axe_check
from tests.e2e.helpers import SHOTS, log_in
from tests.factories import UserFactory, certification_with_cycle
from tests.outage.database import database_down

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [375, 1280])
def test_a_cec_report_survives_a_database_outage(live_server, page: Page, width):
    user = UserFactory(email=f"outage-{width}@example.com")
    certification_with_cycle(user, "CPT")
    earned = clock.today() - timedelta(days=2)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, user.email)
    page.goto(live_server.url + "/cecs/report/")
    page.get_by_label("Date Earned").fill(earned.isoformat())
    page.get_by_label("Credits earned").fill("2.5")
    page.get_by_label("Course Name").fill("Balance training for older adults")
    page.get_by_label("Format").select_option(label="Live course")

    with database_down():
        page.get_by_role("button", name="Report CECs").click()
        expect(page.get_by_role("heading", name="We could not save this just now")).to_be_visible()
        expect(page).to_have_title("Not saved yet · MyACSM")
        expect(page.locator("input[type=hidden][name=course_name]")).to_have_value("Balance training for older adults")
        expect(page.locator("input[type=hidden][name=units]")).to_have_value("2.5")
        page.get_by_text("What will be sent again").click()
        kept = page.locator("details dl")
        expect(kept).to_contain_text("Balance training for older adults")
        expect(kept).to_contain_text(earned.isoformat())
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"outage-cec-report-{width}.png"), full_page=True)
        axe_check(page, f"outage page @{width}px")
    assert not CECEntry.objects.exists()  # asked once the database is back: nothing was saved

    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("status")).to_have_text("Reported 2.5 CECs for “Balance training for older adults”.")
    entry = CECEntry.objects.get(user=user)
    assert (entry.date_earned, entry.cecs, entry.format) == (earned, Decimal("2.50"), "live")
