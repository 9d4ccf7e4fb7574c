"""Uploading a CPR/AED card in Chromium: progress bars, Submit, and the tile changing."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from certifications.models import CprUpload
from tests.certifications.cpr_helpers import pdf_bytes, png_of_size
from tests.e2e.helpers import fill_card_details, log_in, patient
from tests.factories import UserFactory, certification_with_cycle

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"

# Remember every value each progress bar shows, to check it climbs to 100%.
WATCH_PROGRESS = """() => {
  window.cprProgress = {};
  new MutationObserver((changes) => {
    for (const change of changes) {
      const bar = change.target;
      if (bar.getAttribute && bar.getAttribute("role") === "progressbar") {
        const name = bar.getAttribute("aria-label");
        (window.cprProgress[name] = window.cprProgress[name] || []).push(Number(bar.getAttribute("aria-valuenow")));
      }
    }
  }).observe(document.getElementById("cpr-file-list"),
             {subtree: true, attributes: true, attributeFilter: ["aria-valuenow"]});
}"""


def card_files(tmp_path: Path) -> list[Path]:
    front = tmp_path / "Front of card.png"
    front.write_bytes(png_of_size(15_565))  # 15.2 KB, as in the how-to
    back = tmp_path / "Back – firma.pdf"
    back.write_bytes(pdf_bytes())
    return [front, back]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_upload_two_files_watch_progress_submit_and_see_the_tile_change(live_server, page: Page, width, tmp_path):
    user = UserFactory(email=f"cpr-{width}@example.com")
    certification_with_cycle(user, "CPT")
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, user.email)
    page.goto(live_server.url + "/dashboard/")
    tile = page.get_by_role("region", name="Certified Personal Trainer")
    expect(tile.locator(".tile-cpr")).to_have_text("CPR Certificate Not Uploaded")
    tile.get_by_role("link", name="Upload CPR Certificate").click()

    expect(page.get_by_role("heading", name="Certification Maintenance")).to_be_visible()
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    expect(page.get_by_text("Please upload your certificate to verify your certification status")).to_be_visible()
    choose = page.locator("label.cpr-choose-button")
    expect(choose).to_have_text("Choose File")
    expect(choose).to_be_visible()
    for name in ("Upload", "Remove All", "Submit"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Back", exact=True)).to_be_visible()

    front, back = card_files(tmp_path)
    page.get_by_label("Choose File").set_input_files([front, back])
    rows = page.locator("#cpr-file-list li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".cpr-file-name")).to_have_text("Front of card.png")
    expect(rows.nth(0).locator(".cpr-file-size")).to_have_text("15.2 KB")
    expect(rows.nth(1).locator(".cpr-file-name")).to_have_text("Back – firma.pdf")
    expect(rows.nth(0).locator(".cpr-file-progress")).to_have_text("Ready to upload")

    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(rows.nth(0).locator(".cpr-file-progress")).to_have_text("100% 15.2 KB of 15.2 KB")
    back_size = rows.nth(1).locator(".cpr-file-size").inner_text()
    expect(rows.nth(1).locator(".cpr-file-progress")).to_have_text(f"100% {back_size} of {back_size}")
    expect(page.locator("#cpr-upload-status")).to_have_text("2 of 2 files uploaded.")
    for row in (rows.nth(0), rows.nth(1)):
        expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
        expect(row.get_by_role("link")).to_be_visible()  # the name now opens the stored file
    seen = page.evaluate("window.cprProgress")
    assert set(seen) == {"Upload of Front of card.png", "Upload of Back – firma.pdf"}
    for values in seen.values():
        assert values[0] == 0 and values[-1] == 100
        assert values == sorted(values)
    assert CprUpload.objects.get().files.count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"cpr-maintenance-{width}.png"), full_page=True)

    fill_card_details(page)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    expect(page.get_by_role("status").first).to_have_text("Your CPR/AED card for CPT was submitted for review.")
    expect(tile.locator(".tile-cpr")).to_contain_text("CPR Certificate Submitted – pending review")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    tile.screenshot(path=str(SHOTS / f"cpr-tile-{width}.png"))
    card = CprUpload.objects.get()
    assert card.state == CprUpload.State.PENDING
    assert card.issuing_organization == "American Heart Association"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_refused_file_shows_its_reason_and_submit_uploads_waiting_files(live_server, page: Page, tmp_path):
    user = UserFactory(email="cpr-refused@example.com")
    certification_with_cycle(user, "EP")
    log_in(page, live_server.url, user.email)
    page.goto(live_server.url + "/dashboard/")
    page.get_by_role("link", name="Upload CPR Certificate").click()
    page.wait_for_url("**/maintenance/")
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    fake = tmp_path / "card.pdf"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    page.get_by_label("Choose File").set_input_files([fake])
    page.get_by_role("button", name="Upload", exact=True).click()
    # The refusal first; what to send instead follows it (its exact words are tested in tests/certifications).
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^“card\.pdf” is not a PDF, JPEG or PNG file\."))
    assert not CprUpload.objects.filter(files__isnull=False).exists()

    # Files chosen but not uploaded yet go up first when Submit is pressed.
    front, _ = card_files(tmp_path)
    page.get_by_label("Choose File").set_input_files([front])
    fill_card_details(page)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    expect(page.locator(".tile-cpr")).to_contain_text("CPR Certificate Submitted – pending review")
    assert CprUpload.objects.get(state="pending").files.get().original_name == "Front of card.png"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_page_works_without_javascript(live_server, browser, tmp_path):
    user = UserFactory(email="cpr-nojs@example.com")
    certification_with_cycle(user, "CPT")
    context = patient(browser.new_context(java_script_enabled=False))
    page = context.new_page()
    log_in(page, live_server.url, user.email)
    page.goto(live_server.url + "/dashboard/")
    page.get_by_role("link", name="Upload CPR Certificate").click()
    page.wait_for_url("**/maintenance/")
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    front, back = card_files(tmp_path)
    page.get_by_label("Choose File").set_input_files([front, back])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#cpr-file-list li")).to_have_count(2)
    expect(page.locator("#cpr-file-list li").first).to_contain_text("100% 15.2 KB of 15.2 KB")
    page.get_by_role("button", name="Remove All").click()
    expect(page.get_by_text("No files uploaded yet.")).to_be_visible()
    page.get_by_label("Choose File").set_input_files([front])
    fill_card_details(page)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.locator(".tile-cpr")).to_contain_text("CPR Certificate Submitted – pending review")
    context.close()
