"""An audit in Chromium: the certificant sees the tile, uploads proof and submits; a reviewer accepts each credit in
the admin's Audits queue and passes the audit; a failed audit suspends the certification (no RENEW)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from acsm_portal.demo import DEMO_AUDITED, demo_seed
from audits.models import Audit
from audits.services import audit_proof_add, audit_submit
from tests.audits.helpers import audited, reviewer
from tests.certifications.cpr_helpers import png_bytes
from tests.e2e.helpers import SHOTS, log_in, patient
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Jordan's credits (demo): one reported by its provider, one documented by the demo, three still needing proof.
TO_DOCUMENT = ["Sports Nutrition Essentials", "Regional Strength and Conditioning Clinic", "Injury Prevention Seminar"]
DOCUMENTED = ["Program Design for Older Adults", *TO_DOCUMENT]


def staff_page(browser: Browser, base: str, staff, width: int) -> Page:
    """A second browser, the reviewer's, logged in and on the admin's Audits queue."""
    context = patient(browser.new_context(viewport={"width": width, "height": 900}))
    page = context.new_page()
    log_in(page, base, staff.email)
    page.goto(base + "/staff/")
    page.locator("tr.model-audit").get_by_role("link", name="Audits", exact=True).click()
    expect(page.locator("#result_list")).to_be_visible()
    return page


def open_audit(page: Page, name: str) -> None:
    page.locator("#result_list").get_by_role("link", name=re.compile(re.escape(name))).click()
    expect(page.get_by_role("heading", name="Decision")).to_be_visible()


def credit(page: Page, course: str):
    return page.locator("article.audit-credit").filter(has=page.get_by_role("heading", name=course, exact=True))


@pytest.mark.parametrize("width", [1280, 375])
def test_selected_documented_submitted_and_passed(live_server, page: Page, browser: Browser, tmp_path: Path, width):
    demo_seed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, base, DEMO_AUDITED["email"], DEMO_AUDITED["password"])
    page.goto(base + "/dashboard/")
    tile = page.get_by_role("region", name="Certified Personal Trainer")
    banner = tile.locator(".tile-audit")
    expect(banner.locator("p").first).to_have_text("Your recertification was selected for audit")
    expect(banner.locator(".tile-audit-progress")).to_have_text("2 of 5 credits documented")
    expect(banner.locator(".tile-audit-due")).to_contain_text("at 11:59 PM Pacific time")
    tile.scroll_into_view_if_needed()
    tile.screenshot(path=str(SHOTS / f"audit-tile-selected-{width}.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    banner.get_by_role("link", name="Submit audit documents").click()
    expect(page.get_by_role("heading", name="Recertification audit")).to_be_visible()
    expect(page.locator("#audit-progress-label")).to_have_text("2 of 5 credits documented")
    expect(page.locator("#audit-submit")).to_be_disabled()
    page.wait_for_load_state("load")  # the upload script listens from then on
    for n, course in enumerate(TO_DOCUMENT, start=1):
        row = page.locator("li.audit-credit").filter(has=page.get_by_role("heading", name=course, exact=True))
        expect(row.locator(".audit-badge")).to_have_text("Proof needed")
        proof = tmp_path / f"proof-{n}.png"
        proof.write_bytes(png_bytes(seed=n))
        row.get_by_label("Proof for this credit").set_input_files([proof])
        row.get_by_role("button", name=f"Upload proof for {course}").click()
        row = page.locator("li.audit-credit").filter(has=page.get_by_role("heading", name=course, exact=True))
        expect(row.locator(".audit-badge")).to_have_text("Proof uploaded")
        expect(row.get_by_role("link", name=f"proof-{n}.png")).to_be_visible()
        expect(page.locator("#audit-progress-label")).to_have_text(f"{2 + n} of 5 credits documented")
        page.wait_for_load_state("load")
    page.get_by_label(re.compile("note", re.I)).fill("Certificates for the three courses attached.")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SHOTS / f"audit-page-documented-{width}.png"), full_page=True)
    page.get_by_role("button", name="Submit for review").click()  # back to the dashboard
    tile = page.get_by_role("region", name="Certified Personal Trainer")
    expect(tile.locator(".tile-audit p")).to_have_text("Audit documents submitted – under review")
    tile.scroll_into_view_if_needed()
    tile.screenshot(path=str(SHOTS / f"audit-tile-submitted-{width}.png"))
    audit = Audit.objects.get(user__email=DEMO_AUDITED["email"])
    assert audit.state == "submitted"
    assert audit.note == "Certificates for the three courses attached."

    staff = reviewer(first_name="Sam", last_name="Okafor")
    review = staff_page(browser, base, staff, width)
    try:
        open_audit(review, "Jordan Avery")
        expect(review.locator(".audit-state")).to_have_text("Submitted – waiting for review")
        expect(credit(review, "Functional Movement Screening Workshop").locator(".audit-badge")).to_have_text(
            "Verified (no proof needed)")
        review.screenshot(path=str(SHOTS / f"audit-review-submitted-{width}.png"), full_page=True)
        for course in DOCUMENTED:
            credit(review, course).get_by_role("button", name="Accept").click()
            expect(credit(review, course).locator(".audit-badge")).to_have_text("Accepted")
        review.get_by_role("button", name="Pass audit").click()
        expect(review.locator(".messagelist")).to_contain_text("Passed the audit of")
        expect(review.locator(".audit-state")).to_have_text("Passed")
        review.screenshot(path=str(SHOTS / f"audit-review-passed-{width}.png"), full_page=True)
    finally:
        review.context.close()
    audit.refresh_from_db()
    assert (audit.state, audit.decided_by_id) == ("passed", staff.pk)
    assert sorted(audit.credits.values_list("state", flat=True)) == ["accepted"] * 4 + ["verified"]

    page.goto(base + "/dashboard/")
    tile = page.get_by_role("region", name="Certified Personal Trainer")
    expect(tile.locator(".tile-audit p")).to_have_text("Audit passed")
    expect(tile.get_by_role("link", name="Submit audit documents")).to_have_count(0)
    tile.scroll_into_view_if_needed()
    tile.screenshot(path=str(SHOTS / f"audit-tile-passed-{width}.png"))


@pytest.mark.parametrize("width", [1280, 375])
def test_failed_audit_suspends_the_certification(live_server, page: Page, browser: Browser, width):
    person = UserFactory(first_name="Morgan", last_name="Lee")
    audit = audited(person)
    for item in audit.credits.filter(state="needed"):
        audit_proof_add(audit_id=audit.pk, credit_id=item.pk, user=person, name=f"proof-{item.pk}.png",
                        data=png_bytes(seed=item.pk))
    audit_submit(audit_id=audit.pk, user=person)  # submitted: staff may fail it before the due date
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url

    staff = reviewer(first_name="Sam", last_name="Okafor")
    review = staff_page(browser, base, staff, width)
    try:
        open_audit(review, "Morgan Lee")
        fail = review.locator("form.audit-decision").filter(has=review.get_by_role("heading", name="Fail audit"))
        fail.get_by_label("Reason").fill("The conference certificate is for another person.")
        fail.get_by_role("button", name="Fail audit").click()
        expect(review.locator(".messagelist")).to_contain_text("the certification is suspended")
        expect(review.locator(".audit-state")).to_have_text("Failed")
        review.screenshot(path=str(SHOTS / f"audit-review-failed-{width}.png"), full_page=True)
    finally:
        review.context.close()
    audit.refresh_from_db()
    assert audit.state == "failed"
    assert audit.certification.is_suspended

    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, base, person.email)
    page.goto(base + "/dashboard/")
    tile = page.get_by_role("region", name="Certified Personal Trainer")
    expect(tile.locator(".tile-status")).to_have_text("Suspended")
    expect(tile.get_by_role("button", name="RENEW")).to_have_count(0)
    expect(tile.locator(".tile-audit p")).to_have_text(
        "Your recertification audit failed: this certification is suspended")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    tile.scroll_into_view_if_needed()
    tile.screenshot(path=str(SHOTS / f"audit-tile-suspended-{width}.png"))
    tile.get_by_role("link", name="View your audit").click()
    expect(page.locator("#audit-status p").first).to_have_text("Audit failed: your certification is suspended")
    expect(page.locator("#audit-status")).to_contain_text("The conference certificate is for another person.")
    page.screenshot(path=str(SHOTS / f"audit-page-failed-{width}.png"), full_page=True)
