"""What the Chromium tests share: how long they wait, where screenshots go, logging in, the CPR card's details,
paying by card."""

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import BrowserContext, Page, expect

from acsm_portal import clock
from acsm_portal.demo import DEMO_CERTIFICANT

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"  # pytest-playwright empties test-results/
PASSWORD = "correct-horse-battery"  # UserFactory's

# How long a condition may take to come on a busy machine (two cores, another suite running beside) before the
# test fails; set once (conftest.py, ``patient``), never per call.
EXPECT_TIMEOUT_MS = 30_000  # ``expect``; Playwright's own 5 s failed an upload on a loaded machine
ACTION_TIMEOUT_MS = 60_000  # clicks, fills, downloads, file choosers
NAVIGATION_TIMEOUT_MS = 60_000  # goto, reload, wait_for_url, wait_for_load_state


def patient(context: BrowserContext) -> BrowserContext:
    """``context`` with the suite's timeouts for actions and navigation; for every context a test opens."""
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context


def log_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="MyACSM", exact=True)).to_be_visible()


def log_in_demo(page: Page, base: str) -> None:
    """Log in as the demo certificant (``demo_seed``)."""
    log_in(page, base, DEMO_CERTIFICANT["email"], DEMO_CERTIFICANT["password"])


def casey_today() -> date:
    """The demo certificant's date: Casey lives in Indianapolis (Eastern time)."""
    return clock.today(ZoneInfo("America/Indiana/Indianapolis"))


def fill_card_details(page: Page) -> None:
    page.get_by_label("Card type").select_option(label="CPR/AED")
    page.get_by_label("Issuing organization").fill("American Heart Association")
    page.get_by_label("Expiry date").fill((clock.today() + timedelta(days=500)).isoformat())
    page.get_by_label("The course included a hands-on skills check").check()


def pay(page: Page, number: str) -> None:
    """Fill the card form (localstripe's fields) with ``number`` and press Process Payment."""
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill(str(clock.today().year + 3)[2:])
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("46202")
    page.get_by_role("button", name="Process Payment").click()
