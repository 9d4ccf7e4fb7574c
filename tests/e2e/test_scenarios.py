"""The cases around the seed flow, in Chromium: a renewal in the grace period (late fee),
a lapsed certification, and staff deciding on CPR cards in Django admin.

A declined card then a good one is covered by test_seed_flow.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from acsm_portal import clock
from certifications.models import CprUpload
from certifications.rules import add_years, grace_ends
from tests.certifications.cpr_helpers import png_of_size, reviewer, submitted
from tests.dates import cycle_around
from tests.e2e.helpers import PASSWORD, SHOTS, fill_card_details, log_in, patient
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle, renewable_certification

pytestmark = pytest.mark.e2e
CPT = "Certified Personal Trainer"


def dmy(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def cycle_ending(end: date) -> tuple[date, date]:
    return add_years(end, -3) + timedelta(days=1), end


def open_dashboard(page: Page, base: str, email: str, width: int):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, base, email)
    page.get_by_role("link", name="View CEC Dashboard and Report CECs").click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    return page.get_by_role("region", name=CPT)


def cart_row(page: Page, description: str):
    return page.locator("table.cart-table tbody tr", has=page.get_by_role("cell", name=description, exact=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_grace_period_renewal_adds_the_late_fee(live_server, page: Page, localstripe, width):
    today = clock.today()
    end = today - timedelta(days=1)  # the cycle ended yesterday
    user = UserFactory(email=f"grace-{width}@example.com")
    renewable_certification(user, "CPT", *cycle_ending(end), cpr_state="approved")

    tile = open_dashboard(page, live_server.url, user.email, width)
    expect(tile.locator(".tile-status")).to_have_text("Expired (grace period)")
    # The browser runs on the portal's zone (tests/conftest.py): the person took it at log-in.
    expect(tile.locator(".tile-deadline")).to_have_text(
        f"Your cycle ended {dmy(end)}. You can still renew until {dmy(grace_ends(end))} at 11:59 PM Eastern time, "
        "with a $80.00 late fee.")
    expect(tile.get_by_role("img")).to_have_accessible_name(f"{CPT}: 100% complete, 45 of 45 CECs")
    expect(tile).to_contain_text("A $80.00 late fee applies.")
    tile.get_by_role("button", name="RENEW").click()
    expect(tile.get_by_text("In cart")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    tile.screenshot(path=str(SHOTS / f"scenario-grace-tile-{width}.png"))

    page.get_by_role("link", name="Complete Recertification").click()
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    expect(page.locator("table.cart-table tbody tr")).to_have_count(2)
    for description, price in (("CPT Recertification", "$60.00"), ("CPT Late fee", "$80.00")):
        row = cart_row(page, description)
        expect(row.locator("td").nth(-2)).to_have_text(price)  # Unit Price
        expect(row.locator("td").nth(-1)).to_have_text(price)  # Total Price
    expect(cart_row(page, "CPT Late fee").get_by_role("button")).to_have_count(0)  # goes with its renewal
    expect(page.locator(".cart-total")).to_have_text("$140.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SHOTS / f"scenario-grace-cart-{width}.png"), full_page=True)

    page.get_by_role("link", name="Proceed to Checkout").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.locator(".order-lines")).to_contain_text("CPT Late fee")
    expect(page.locator(".order-total")).to_have_text("$140.00")

    # Removing the renewal takes its late fee with it.
    page.get_by_role("link", name="Change your cart").click()
    page.get_by_role("button", name="Remove CPT Recertification").click()
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_lapsed_certification_has_no_renew_and_points_to_reinstatement(live_server, page: Page, width):
    today = clock.today()
    end = date(today.year - 2, 12, 31)  # its grace period ended last June 30 or earlier
    assert grace_ends(end) < today
    user = UserFactory(email=f"lapsed-{width}@example.com")
    # Credits full and a valid card: only the lapse stands between this person and RENEW.
    renewable_certification(user, "CPT", *cycle_ending(end), cpr_state="approved")

    tile = open_dashboard(page, live_server.url, user.email, width)
    expect(tile.locator(".tile-status")).to_have_text("Lapsed")
    expect(tile.locator("dd.small")).to_have_text(
        f"This certification lapsed after the grace period ended on 6/30/{end.year + 1} at 11:59 PM Eastern time. "
        "Please contact the certification department about reinstatement.")
    expect(tile.get_by_role("button", name="RENEW")).to_have_count(0)
    expect(tile.locator(".tile-hint")).to_have_count(0)  # no promise that RENEW will appear
    expect(page.locator("#complete-recertification")).to_contain_text("Press RENEW on a certification")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    tile.screenshot(path=str(SHOTS / f"scenario-lapsed-tile-{width}.png"))
    page.get_by_role("link", name="Complete Recertification").click()
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()


# Staff decide on CPR cards in Django admin -------------------------------------

def staff_page(browser: Browser, base: str):
    """A reviewer holding only the can_review_cpr permission, logged in to /staff/ in their own browser."""
    staff = reviewer(email="reviewer@example.com", first_name="Sam", last_name="Reviewer")
    context = patient(browser.new_context(viewport={"width": 1280, "height": 900}))
    page = context.new_page()
    page.goto(base + "/staff/")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="CPR card uploads").click()
    expect(page.get_by_role("heading", name="Select CPR card upload to view")).to_be_visible()
    return context, page


def pending_card(user, code: str = "CPT") -> CprUpload:
    """Credits full and a card waiting for review, submitted through the services."""
    start, end = cycle_around(clock.today())
    certification = certification_with_cycle(user, code, start, end)
    required = certification.certification_type.required_cecs
    CECEntryFactory(user=user, date_earned=start, units=Decimal(required), cecs=Decimal(required),
                    course_name="Full credits", format="live")
    return submitted(certification, state="pending")


@pytest.mark.django_db(transaction=True)
def test_staff_reject_a_card_in_admin_and_the_certificant_uploads_again(
        live_server, page: Page, browser: Browser, worker_mail, tmp_path):
    user = UserFactory(email="rejected@example.com", first_name="Robin")
    card = pending_card(user)
    base = live_server.url

    # The certificant, on a phone: RENEW shows while the card waits for review.
    tile = open_dashboard(page, base, user.email, 375)
    expect(tile.locator(".tile-cpr")).to_contain_text("CPR Certificate Submitted – pending review")
    expect(tile.get_by_role("button", name="RENEW")).to_be_visible()

    context, staff = staff_page(browser, base)
    staff.get_by_role("link", name=user.member_id, exact=True).click()
    expect(staff.get_by_role("heading", name="Decision")).to_be_visible()
    expect(staff.get_by_role("img", name="Preview of card-0.png")).to_be_visible()
    staff.get_by_label("Reason (the certificant reads this)").fill("The card's expiry date is cut off")
    staff.screenshot(path=str(SHOTS / "scenario-admin-review-1280.png"), full_page=True)
    staff.get_by_role("button", name="Reject").click()
    expect(staff.get_by_text("Rejected 1 CPR card; the certificant is emailed.")).to_be_visible()
    expect(staff.get_by_text("0 CPR card uploads")).to_be_visible()  # the queue is empty now
    context.close()
    card.refresh_from_db()
    assert card.state == CprUpload.State.REJECTED
    assert card.rejection_reason == "The card's expiry date is cut off"

    [mail] = worker_mail.wait_for(1)
    assert mail["To"] == user.email
    assert mail["Subject"] == "Your CPR/AED card for CPT was not accepted"
    body = mail.get_payload(decode=True).decode()
    assert "Reason: The card's expiry date is cut off" in body
    assert f"/certifications/{card.certification_id}/maintenance/" in body

    page.reload()
    expect(tile.locator(".tile-cpr")).to_have_text("CPR Certificate Rejected: The card's expiry date is cut off")
    expect(tile.get_by_role("button", name="RENEW")).to_have_count(0)
    expect(tile.locator(".tile-hint")).to_be_visible()
    tile.screenshot(path=str(SHOTS / "scenario-rejected-tile-375.png"))

    # Upload again: the new card is pending and RENEW is back.
    tile.get_by_role("link", name="Upload CPR Certificate").click()
    expect(page.locator("#cpr-current")).to_contain_text("Rejected: The card's expiry date is cut off")
    expect(page.locator("#cpr-current")).to_contain_text("Please upload your current card again.")
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    new_card = tmp_path / "new card.png"
    new_card.write_bytes(png_of_size(15_565))
    page.get_by_label("Choose File").set_input_files([new_card])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#cpr-file-list .cpr-file-progress")).to_have_text("100% 15.2 KB of 15.2 KB")
    fill_card_details(page)
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    expect(tile.locator(".tile-cpr")).to_contain_text("CPR Certificate Submitted – pending review")
    expect(tile.get_by_role("button", name="RENEW")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert list(CprUpload.objects.filter(certification=card.certification).order_by("id")
                .values_list("state", flat=True)) == ["rejected", "pending"]


@pytest.mark.django_db(transaction=True)
def test_staff_approve_a_card_from_the_admin_queue(live_server, page: Page, browser: Browser, worker_mail):
    user = UserFactory(email="approved@example.com")
    card = pending_card(user)
    short = UserFactory(email="short@example.com")  # a second card in the queue, left pending
    other = submitted(certification_with_cycle(short, "EP"), state="pending")
    base = live_server.url

    # Bulk action on the queue: tick this person's card only.
    context, staff = staff_page(browser, base)
    rows = staff.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    staff.get_by_role("checkbox", name=f"Select the CPR card of {user.get_full_name()} ({user.member_id})").check()
    staff.locator("select[name=action]").select_option(label="Approve selected CPR cards")
    staff.get_by_role("button", name="Go").click()
    expect(staff.get_by_text("Approved 1 CPR card; the certificant is emailed.")).to_be_visible()
    expect(rows).to_have_count(1)  # the queue shows the cards still waiting
    expect(rows.first).to_contain_text(short.member_id)
    context.close()
    card.refresh_from_db()
    other.refresh_from_db()
    assert (card.state, other.state) == (CprUpload.State.APPROVED, CprUpload.State.PENDING)
    [mail] = worker_mail.wait_for(1)
    assert (mail["To"], mail["Subject"]) == (user.email, "Your CPR/AED card for CPT is approved")

    tile = open_dashboard(page, base, user.email, 1280)
    expect(tile.locator(".tile-cpr")).to_contain_text("CPR Certificate Approved")
    tile.get_by_role("button", name="RENEW").click()
    expect(tile.get_by_text("In cart")).to_be_visible()
    page.get_by_role("link", name="Complete Recertification").click()
    expect(page.locator(".cart-total")).to_have_text("$60.00")
