import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from acsm_portal.demo import demo_seed
from tests.e2e.helpers import SHOTS, casey_today, log_in_demo, patient


def tile(page: Page, name: str):
    return page.get_by_role("region", name=name)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_dashboard_tiles_and_reporting_a_credit(live_server, page: Page, width):
    demo_seed()
    year = casey_today().year  # the demo's cycle is the one that contains today: 1/1 two years back to 12/31
    page.set_viewport_size({"width": width, "height": 900})
    log_in_demo(page, live_server.url)
    page.get_by_role("link", name="View CEC Dashboard and Report CECs").click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()

    cpt, ep = tile(page, "Certified Personal Trainer"), tile(page, "Certified Exercise Physiologist")
    for t, shown in ((cpt, "45 of 45"), (ep, "60 of 60")):
        expect(t.get_by_role("img")).to_have_accessible_name(
            f"{t.get_by_role('heading').inner_text()}: 100% complete, {shown} CECs")
        expect(t.locator(".tile-cycle")).to_have_text(f"1/1/{year - 2} - 12/31/{year}")
        expect(t.locator(".tile-status")).to_have_text("Recertification in Process")
        expect(t.locator(".tile-deadline")).to_have_text(
            f"Renew by 12/31/{year} at 11:59 PM Eastern time; after that a $80.00 late fee applies.")
        expect(t).to_contain_text("CPR Certificate Not Uploaded")
        expect(t.locator(".tile-total")).to_have_text("Total CECs 63")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboard-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # Delete the 10-CEC college course: EP drops below full, CPT stays full.
    row = page.locator("tr", has_text="KIN 410 Exercise Physiology Lab")
    row.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Deleted “KIN 410 Exercise Physiology Lab”.")
    expect(ep.get_by_role("img")).to_have_accessible_name(
        "Certified Exercise Physiologist: 88% complete, 53 of 60 CECs")
    expect(cpt.locator(".tile-total")).to_have_text("Total CECs 53")
    page.wait_for_load_state("load")  # Bootstrap opens the inline form from then on

    # Report 7.5 CECs with the + on the Active CECs tile (opens inline).
    page.get_by_role("button", name="Report CECs").click()
    form = page.locator("#report-inline")
    # Bootstrap's collapse has finished opening (no longer "collapsing"): nothing moves under the next clicks.
    expect(form).to_have_class(re.compile(r"(^|\s)collapse show($|\s)"))
    form.get_by_label("Date Earned").fill(date(year - 1, 6, 1).isoformat())  # inside the cycle, in the past
    form.get_by_label("Credits earned").fill("7.5")
    form.get_by_label("Course Name").fill("Functional Training <Level 2>")
    form.get_by_label("Format").select_option(label="Online course")
    expect(form.get_by_label("Credits earned")).to_have_value("7.5")
    with page.expect_navigation():
        form.get_by_role("button", name="Report CECs").click()
    expect(page.get_by_role("status")).to_have_text("Reported 7.5 CECs for “Functional Training <Level 2>”.")
    expect(ep.get_by_role("img")).to_have_accessible_name(
        "Certified Exercise Physiologist: 100% complete, 60 of 60 CECs")
    expect(ep.locator(".tile-total")).to_have_text("Total CECs 60.5")
    expect(page.locator("tr", has_text="Functional Training <Level 2>")).to_contain_text("7.5")
    page.screenshot(path=str(SHOTS / f"dashboard-after-report-{width}.png"), full_page=True)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_plus_works_without_javascript(live_server, browser):
    demo_seed()
    context = patient(browser.new_context(java_script_enabled=False))
    page = context.new_page()
    log_in_demo(page, live_server.url)
    page.goto(live_server.url + "/dashboard/")
    page.get_by_role("button", name="Report CECs").click()
    expect(page.get_by_role("heading", name="Report CECs")).to_be_visible()
    page.get_by_label("Date Earned").fill((casey_today() + timedelta(days=365)).isoformat())
    page.get_by_label("Credits earned").fill("2")
    page.get_by_label("Course Name").fill("Future course")
    page.get_by_label("Format").select_option(label="Live course")
    page.get_by_role("button", name="Report CECs").click()
    today = casey_today()
    expect(page.get_by_text(
        f"Date Earned cannot be in the future (today is {today.month}/{today.day}/{today.year}, Eastern time).",
    )).to_be_visible()
    expect(page.get_by_label("Course Name")).to_have_value("Future course")
    context.close()
