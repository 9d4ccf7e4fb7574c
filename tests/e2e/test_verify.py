"""A certificate's public verify page in Chromium, on a phone's width: the holder downloads the certificate and opens
its verify page (Active, green); staff revoke it in the admin with a reason; the same page says Revoked (red), and
the search by number and last name and Find a certified professional say so too."""

import re
from datetime import date

import pytest
from playwright.sync_api import Browser, Page, expect

from acsm_portal import clock
from certifications.models import Certificate
from certifications.renewals import certification_renew
from tests.e2e.axe import BLOCKING, axe_violations
from tests.e2e.helpers import SHOTS, log_in, patient
from tests.factories import UserFactory, certification_with_cycle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WIDTH = 375


def fits(page: Page) -> None:
    """Nothing wider than the phone's screen, and nothing axe calls serious."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert [v for v in axe_violations(page) if v["impact"] in BLOCKING] == []


def test_download_verify_active_staff_revoke_verify_revoked(live_server, page: Page, browser: Browser, tmp_path):
    today = clock.today()
    person = UserFactory(first_name="Marisol", last_name="Nakamura-Brown", email="marisol@example.com",
                         member_id="604418")
    certification = certification_with_cycle(person, "CPT", date(today.year - 2, 1, 1), date(today.year, 12, 31))
    certificate = Certificate.objects.get(cycle=certification_renew(cycle_id=certification.cycles.get().pk))
    SHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    page.set_viewport_size({"width": WIDTH, "height": 800})

    # The holder downloads the certificate from the dashboard, then opens its verify page.
    log_in(page, base, person.email)
    page.goto(base + "/dashboard/")
    with page.expect_download() as download_info:
        page.get_by_role("region", name="Certified Personal Trainer").get_by_role(
            "link", name="Download your certificate").click()
    assert download_info.value.suggested_filename == f"certificate-{certificate.number}.pdf"
    download_info.value.save_as(tmp_path / "certificate.pdf")
    assert (tmp_path / "certificate.pdf").read_bytes()[:5] == b"%PDF-"

    # She chooses, on her profile, to be listed in Find a certified professional (off until she does).
    page.goto(base + "/accounts/profile/")
    listing = page.get_by_label("List me in Find a certified professional")
    expect(listing).not_to_be_checked()
    listing.check()
    page.get_by_role("button", name="Save listing choice").click()
    expect(page.locator(".messages").get_by_role("status")).to_have_text(
        "Saved. You are listed in Find a certified professional.")
    expect(page.get_by_label("List me in Find a certified professional")).to_be_checked()
    page.locator("#find-listing").scroll_into_view_if_needed()
    fits(page)
    page.screenshot(path=str(SHOTS / f"verify-profile-listing-{WIDTH}.png"), full_page=True)

    page.goto(f"{base}/verify/{certificate.verify_code}/")
    expect(page.get_by_role("heading", name="Certificate verification")).to_be_visible()
    expect(page.locator("#verify-status")).to_have_text("✓Active")
    expect(page.locator("#verify-status-box")).to_have_class(re.compile(r"\balert-success\b"))
    expect(page.locator("#verify-holder")).to_have_text("Marisol Nakamura-Brown")
    expect(page.locator("#verify-number")).to_have_text(certificate.number)
    expect(page.locator("#verify-valid-through")).to_have_text(f"12/31/{today.year + 3}")
    expect(page.locator("#verify-checked")).to_contain_text("Eastern time.")
    body = page.locator("main").inner_text()
    assert "marisol@example.com" not in body and "604418" not in body
    fits(page)
    page.screenshot(path=str(SHOTS / f"verify-active-{WIDTH}.png"), full_page=True)

    # Staff revoke it in the admin, with a reason.
    staff = UserFactory(first_name="Sam", last_name="Okafor", is_staff=True, is_superuser=True)
    admin = patient(browser.new_context(viewport={"width": WIDTH, "height": 800})).new_page()
    try:
        log_in(admin, base, staff.email)
        admin.goto(f"{base}/staff/certifications/certificate/{certificate.pk}/change/")
        admin.get_by_role("link", name="Revoke", exact=True).click()
        expect(admin.get_by_role("heading", name="Revoke this certificate?")).to_be_visible()
        admin.get_by_label("Reason").fill("The qualifying exam was taken by someone else.")
        admin.screenshot(path=str(SHOTS / f"verify-admin-revoke-{WIDTH}.png"), full_page=True)
        admin.get_by_role("button", name="Revoke").click()
        expect(admin.locator(".messagelist")).to_contain_text(f"Certificate {certificate.number} is revoked")
        expect(admin.locator(".messagelist")).to_contain_text("The holder is emailed.")
    finally:
        admin.context.close()
    certificate.refresh_from_db()
    assert (certificate.status, certificate.status_reason) == ("revoked",
                                                               "The qualifying exam was taken by someone else.")

    # Anyone opening the page now reads Revoked, in red, without the reason.
    page.reload()
    expect(page.locator("#verify-status")).to_have_text("✕Revoked")
    expect(page.locator("#verify-status-box")).to_have_class(re.compile(r"\balert-danger\b"))
    expect(page.locator("#verify-meaning")).to_have_text("This certificate has been revoked: it is not valid.")
    assert "someone else" not in page.locator("main").inner_text()
    fits(page)
    page.screenshot(path=str(SHOTS / f"verify-revoked-{WIDTH}.png"), full_page=True)

    # The search by number and last name leads to the same page; a wrong name gets the not-found answer.
    page.goto(f"{base}/verify/")
    fits(page)
    page.get_by_label("Certificate number").fill(certificate.number)
    page.get_by_label("Holder's last name").fill("NAKAMURA-BROWN")
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{base}/verify/{certificate.verify_code}/")
    expect(page.locator("#verify-status-text")).to_have_text("Revoked")
    page.goto(f"{base}/verify/")
    page.get_by_label("Certificate number").fill(certificate.number)
    page.get_by_label("Holder's last name").fill("Nakamura")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verify-not-found")).to_contain_text("No certificate matches.")
    fits(page)
    page.screenshot(path=str(SHOTS / f"verify-search-not-found-{WIDTH}.png"), full_page=True)

    # Find a certified professional (she chose to be listed) shows the same status.
    page.goto(f"{base}/find/")
    page.get_by_label("Last name").fill("Nakamura-Brown")
    page.get_by_role("button", name="Search").click()
    person_card = page.locator(".find-person")
    expect(person_card).to_have_count(1)
    expect(person_card.get_by_role("heading")).to_have_text("Marisol Nakamura-Brown")
    expect(person_card.locator(".find-status")).to_have_text("✕ Revoked")
    fits(page)
    page.screenshot(path=str(SHOTS / f"find-{WIDTH}.png"), full_page=True)
