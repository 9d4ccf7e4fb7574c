"""Accessibility in Chromium: axe-core on every page of the flow, the speedometer read
as text, and the flow from login to the cart done with the keyboard alone."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from accounts.models import BillingAddress
from acsm_portal import clock
from certifications.models import CprUpload
from certifications.rules import add_years
from tests.certifications.cpr_helpers import png_of_size
from tests.e2e.axe import axe_check, axe_violations
from tests.e2e.helpers import PASSWORD, SHOTS, log_in, pay
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle, renewable_certification
from tests.payments.helpers import CARD_DECLINED, CARD_OK

pytestmark = pytest.mark.e2e
WIDTHS = (1280, 375)


class Audit:
    """Runs axe on a page at every width and keeps the findings, so one run lists every page that fails."""

    def __init__(self, page: Page):
        self.page = page
        self.failures: list[str] = []
        self.pages: list[str] = []

    def __call__(self, name: str) -> None:
        page = self.page
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            try:
                axe_check(page, f"{name} @{width}px")
            except AssertionError as exc:
                self.failures.append(str(exc).split("\nassert ")[0])
            if width == 375:
                page.screenshot(path=str(SHOTS / f"a11y-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        self.pages.append(name)

    def assert_clean(self) -> None:
        assert not self.failures, "\n\n".join(self.failures)


def cycle_ending(end: date) -> tuple[date, date]:
    """The three-year cycle that ends on ``end``."""
    return add_years(end, -3) + timedelta(days=1), end


def certificant_with_tiles_in_every_state():
    """One person, four certifications: renewable, short of credits with a rejected card,
    in the grace period, and lapsed. Dates follow today, so the states hold on any day."""
    today = clock.today()
    user = UserFactory(email="tiles@example.com", first_name="Robin", last_name="Okafor")
    BillingAddress.objects.create(user=user, line1="401 W Michigan St", city="Indianapolis", state="IN",
                                  postal_code="46202")
    renewable_certification(user, "EP", date(today.year - 1, 1, 1), date(today.year + 1, 12, 31))  # card approved
    cpt = certification_with_cycle(user, "CPT", date(today.year, 1, 1), date(today.year + 2, 12, 31))
    CECEntryFactory(user=user, date_earned=date(today.year, 1, 1), units=Decimal("20"), cecs=Decimal("20"),
                    course_name="Strength & Conditioning Workshop", format="live")
    CprUpload.objects.create(
        certification=cpt, cycle=cpt.cycles.get(), state="rejected", card_type="cpr_aed",
        issuing_organization="American Red Cross", skills_check_confirmed=True,
        expires_on=today + timedelta(days=300), submitted_at=clock.now(), rejection_reason="Photo is blurry",
    )
    renewable_certification(user, "GEI", *cycle_ending(today - timedelta(days=1)))  # grace period
    renewable_certification(user, "CEP", *cycle_ending(date(today.year - 2, 12, 31)))  # lapsed
    return user


@pytest.mark.django_db(transaction=True)
def test_axe_finds_nothing_serious_on_any_page_of_the_flow(live_server, page: Page, localstripe, tmp_path):
    user = certificant_with_tiles_in_every_state()
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    audit = Audit(page)

    # Signed out: log in (also with an error), reset the password.
    page.goto(base + "/accounts/login/")
    audit("login")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".alert-danger, .invalid-feedback").first).to_be_visible()
    audit("login-error")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    audit("password-reset")
    page.get_by_role("button", name="Send the link").click()  # empty: the form says what is missing
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    audit("password-reset-error")

    log_in(page, base, user.email)
    audit("home")

    # CEC Dashboard: renewable, short of credits + rejected card, grace period, lapsed.
    page.get_by_role("link", name="View CEC Dashboard and Report CECs").click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    names = {
        "Certified Exercise Physiologist": "100% complete, 60 of 60 CECs",
        "Certified Personal Trainer": "44% complete, 20 of 45 CECs",
        "Certified Group Exercise Instructor": "100% complete, 45 of 45 CECs",
        "Certified Clinical Exercise Physiologist": "100% complete, 60 of 60 CECs",
    }
    for name, value in names.items():
        expect(page.get_by_role("region", name=name).get_by_role("img")).to_have_accessible_name(f"{name}: {value}")
    expect(page.get_by_role("region", name="Certified Group Exercise Instructor")).to_contain_text(
        "Expired (grace period)")
    expect(page.get_by_role("region", name="Certified Personal Trainer")).to_contain_text(
        "CPR Certificate Rejected: Photo is blurry")
    audit("dashboard")
    page.wait_for_load_state("load")  # Bootstrap opens the inline form from then on
    page.get_by_role("button", name="Report CECs").click()
    expect(page.locator("#report-inline")).to_be_visible()
    audit("dashboard-report-open")

    # Report CECs page with its validation errors shown.
    page.goto(base + "/cecs/report/")
    page.get_by_label("Date Earned").fill((clock.today() + timedelta(days=3)).isoformat())
    page.get_by_label("Credits earned").fill("0")
    page.get_by_role("button", name="Report CECs").click()
    expect(page.get_by_text("Credits earned must be more than 0.")).to_be_visible()
    audit("report-cecs-errors")

    # Delete confirmation.
    page.goto(base + "/dashboard/")
    page.locator("tr", has_text="Strength & Conditioning Workshop").get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete this CEC?")).to_be_visible()
    audit("delete-cec")

    # Certification Maintenance: a refused file, then a file uploaded with its progress bar.
    page.goto(base + "/dashboard/")
    page.get_by_role("region", name="Certified Personal Trainer").get_by_role(
        "link", name="Upload CPR Certificate").click()
    expect(page.get_by_role("heading", name="Certification Maintenance")).to_be_visible()
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    audit("maintenance")
    bad = tmp_path / "card.pdf"
    bad.write_bytes(b"not a pdf at all")
    page.get_by_label("Choose File").set_input_files([bad])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("is not a PDF, JPEG or PNG file")
    good = tmp_path / "card.png"
    good.write_bytes(png_of_size(15_565))
    page.get_by_label("Choose File").set_input_files([good])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#cpr-upload-status")).to_have_text("1 of 1 file uploaded.")
    audit("maintenance-uploaded")

    # RENEW twice: one tile in the cart, one with its late fee.
    page.goto(base + "/dashboard/")
    for name in ("Certified Exercise Physiologist", "Certified Group Exercise Instructor"):
        tile = page.get_by_role("region", name=name)
        tile.get_by_role("button", name="RENEW").click()
        expect(tile.get_by_text("In cart")).to_be_visible()
    audit("dashboard-in-cart")
    page.get_by_role("link", name="Complete Recertification").click()
    expect(page.locator(".cart-total")).to_have_text("$210.00")
    audit("cart")

    page.get_by_role("link", name="Proceed to Checkout").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_role("group", name="Card").get_by_role("textbox").first).to_be_visible()
    audit("checkout")
    pay(page, CARD_DECLINED)
    expect(page.locator("#checkout-error")).to_have_text("Your card was declined.")
    audit("checkout-declined")
    pay(page, CARD_OK)
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    audit("receipt")

    page.get_by_role("link", name="Back to CEC Dashboard").click()
    expect(page.get_by_role("link", name="Download your certificate").first).to_be_visible()
    audit("dashboard-renewed")

    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    audit("password-change")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    audit("password-change-errors")

    print(f"\naxe ran on {len(audit.pages)} pages at {', '.join(map(str, WIDTHS))} px")
    audit.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_the_axe_check_itself_catches_violations(live_server, page: Page):
    """So a clean result above means something: an image without alt text and pale grey text are caught."""
    page.goto(live_server.url + "/accounts/login/")
    page.evaluate("""() => {
      const img = document.createElement("img");
      img.src = "/static/img/favicon.svg";
      const pale = document.createElement("p");
      pale.textContent = "Pale grey text on white";
      pale.style.color = "#bbbbbb";
      document.querySelector(".login-card").append(img, pale);
    }""")
    found = {v["id"]: v["impact"] for v in axe_violations(page)}
    assert found == {"image-alt": "critical", "color-contrast": "serious"}
    with pytest.raises(AssertionError, match="image-alt"):
        axe_check(page, "login with two faults")


# Keyboard only ---------------------------------------------------------------

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, type: el.type || "",
    text: (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().replace(/\\s+/g, " "),
    label: el.labels && el.labels.length ? el.labels[0].innerText.trim() : (el.getAttribute("aria-label") || ""),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== "none",
    visible: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < window.innerHeight,
  };
}"""


def focused(page: Page) -> dict | None:
    return page.evaluate(FOCUSED)


def assert_focus_visible(page: Page, where: str) -> dict:
    el = focused(page)
    assert el is not None, f"{where}: nothing has focus"
    assert el["outline"] or el["shadow"], f"{where}: no visible focus indicator on {el}"
    assert el["visible"], f"{where}: the focused element is off screen: {el}"
    return el


def tab_to(page: Page, match, *, limit: int = 40, backwards: bool = False) -> dict:
    """Press Tab (or Shift+Tab) until ``match(focused)`` holds; every stop on the way must show its focus."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        el = assert_focus_visible(page, f"{page.url} after {len(seen) + 1} Tab(s)")
        if match(el):
            return el
        seen.append(el["text"] or el["label"] or el["tag"])
    raise AssertionError(f"not reached with Tab on {page.url}; stops were: {seen}")


def skip_to_main(page: Page) -> None:
    """The skip link is the first Tab stop; Enter on it moves focus to the main content."""
    page.keyboard.press("Tab")
    skip = assert_focus_visible(page, f"first Tab on {page.url}")
    assert skip["text"] == "Skip to main content", skip
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def text_is(value: str):
    return lambda el: el["text"] == value


@pytest.mark.django_db(transaction=True)
def test_keyboard_only_from_login_to_the_cart(live_server, page: Page, tmp_path):
    today = clock.today()
    user = UserFactory(email="keys@example.com")
    certification_with_cycle(user, "CPT", date(today.year - 1, 1, 1), date(today.year + 1, 12, 31))
    CECEntryFactory(user=user, date_earned=date(today.year - 1, 1, 1), units=Decimal("45"), cecs=Decimal("45"),
                    course_name="Full credits", format="live")
    card = tmp_path / "cpr-card.png"
    card.write_bytes(png_of_size(15_565))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(reduced_motion="reduce")  # Bootstrap scrolls smoothly otherwise: focus lands mid-scroll
    # Playwright turns file-chooser interception on without waiting for it; turn it on now,
    # well before the key press that opens the chooser, or a busy machine can miss the dialog.
    page.on("filechooser", lambda chooser: None)
    page.goto(live_server.url + "/accounts/login/")

    # The login form starts in its first field.
    assert assert_focus_visible(page, "login")["label"].startswith("Email address")
    page.keyboard.type(user.email)
    tab_to(page, lambda el: el["label"].startswith("Password"))
    page.keyboard.type(PASSWORD)
    tab_to(page, text_is("Log in"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="MyACSM", exact=True)).to_be_visible()

    skip_to_main(page)
    # Back up through the navy header: each stop there carries an outline, not only a faint shadow.
    for expected in ("Log out", "Change password", "Email preferences", "Profile", "Home", "MyACSM"):
        page.keyboard.press("Shift+Tab")
        el = assert_focus_visible(page, "header")
        assert (el["text"], el["outline"]) == (expected, True), el
    tab_to(page, text_is("View CEC Dashboard and Report CECs"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    skip_to_main(page)
    tile = page.get_by_role("region", name="Certified Personal Trainer")
    expect(tile.get_by_role("button", name="RENEW")).to_have_count(0)

    # Upload the CPR card: the file chooser opens from the keyboard; the rest is typed.
    tab_to(page, lambda el: el["text"].startswith("Upload CPR Certificate"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Certification Maintenance")).to_be_visible()
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    skip_to_main(page)
    tab_to(page, lambda el: el["type"] == "file")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files([card])
    expect(page.locator("#cpr-file-list li")).to_have_count(1)
    tab_to(page, text_is("Upload"))
    page.keyboard.press("Enter")
    expect(page.locator("#cpr-file-list .cpr-file-progress")).to_have_text("100% 15.2 KB of 15.2 KB")
    tab_to(page, lambda el: el["label"].startswith("Card type"))
    page.keyboard.press("ArrowDown")  # the first choice after the empty one
    expect(page.get_by_label("Card type")).not_to_have_value("")
    tab_to(page, lambda el: el["label"].startswith("Issuing organization"))
    page.keyboard.type("American Heart Association")
    tab_to(page, lambda el: el["label"].startswith("Expiry date"))
    expiry = today + timedelta(days=500)
    page.keyboard.type(expiry.strftime("%m%d%Y"))  # a date input takes the digits in its locale order
    expect(page.get_by_label("Expiry date")).to_have_value(expiry.isoformat())
    tab_to(page, lambda el: el["type"] == "checkbox")
    page.keyboard.press("Space")
    expect(page.get_by_label("The course included a hands-on skills check")).to_be_checked()
    tab_to(page, text_is("Submit"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    expect(tile.locator(".tile-cpr")).to_contain_text("Submitted – pending review")
    page.wait_for_load_state("load")  # RENEW swaps the tile in place from then on

    # RENEW with Space; the X that replaces it takes the focus, Shift+Tab goes back up the page.
    tab_to(page, lambda el: el["text"].startswith("RENEW"))
    page.keyboard.press("Space")
    expect(tile.get_by_text("In cart")).to_be_visible()
    expect(page.locator("#complete-recertification")).to_contain_text("1 renewal in your cart")
    remove = assert_focus_visible(page, "after RENEW")
    assert remove["label"] == "Remove CPT renewal from cart"
    tab_to(page, lambda el: el["text"].startswith("Upload CPR Certificate"), backwards=True)

    tab_to(page, text_is("Complete Recertification"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your cart")).to_be_visible()
    skip_to_main(page)
    expect(page.locator("table.cart-table tbody tr")).to_have_count(1)
    expect(page.locator(".cart-total")).to_have_text("$60.00")
    tab_to(page, text_is("Proceed to Checkout"))
    page.screenshot(path=str(SHOTS / "a11y-keyboard-cart-1280.png"))
