"""The provider area in Chromium, on a phone: a provider user logs in, posts one completion by form, downloads the
roster template, uploads a CSV with two good rows and two bad ones, reads the report, takes the rejected rows back,
sees what was posted, and logs out; then Casey logs in and finds the new credit on her dashboard, reported by the
provider."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from acsm_portal.demo import DEMO_CERTIFICANT, demo_seed
from accounts.models import User
from providers.models import Completion, Course, Provider, ProviderMember
from tests.e2e.axe import axe_check
from tests.e2e.helpers import PASSWORD, SHOTS, casey_today, log_in_demo
from tests.factories import UserFactory

PROVIDER = "Summit Fitness Education"
COURSE = "Kettlebell Coaching for Trainers"
TEMPLATE = "member_id,last_name,course_number,completed_on,external_id,cecs\r\n"


def show_menu(page: Page) -> None:
    """At phone width the menu is folded behind its toggler."""
    toggler = page.get_by_role("button", name="Show menu")
    if toggler.is_visible():
        toggler.click()
        # Bootstrap has finished opening it (no longer "collapsing"): nothing moves under the next click.
        expect(page.locator("#nav-provider")).to_have_class(re.compile(r"(^|\s)collapse show($|\s)"))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_provider_uploads_a_roster_and_casey_sees_the_credit(live_server, page: Page, tmp_path):
    demo_seed()
    today = casey_today()
    casey = User.objects.get(email=DEMO_CERTIFICANT["email"])
    provider = Provider.objects.create(name=PROVIDER, number="P-0420")
    Course.objects.create(provider=provider, number="SFE-101", title=COURSE, format="online", cecs=Decimal("4"),
                          valid_from=date(today.year - 1, 1, 1), valid_to=date(today.year, 12, 31))
    rival = Provider.objects.create(name="Peak Performance Institute", number="P-0777")
    Course.objects.create(provider=rival, number="PPI-1", title="Mobility Basics", format="online", cecs=Decimal("2"),
                          valid_from=date(today.year - 1, 1, 1), valid_to=date(today.year, 12, 31))
    registrar = UserFactory(email="registrar@summit.example.org", first_name="Pat", last_name="Reyes")
    ProviderMember.objects.create(user=registrar, provider=provider)
    jordan = UserFactory(first_name="Jordan", last_name="De la Cruz")
    base = live_server.url
    page.set_viewport_size({"width": 375, "height": 800})

    # Log in: the provider user lands in the provider area, never on MyACSM's home.
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email address").fill(registrar.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=PROVIDER, level=1)).to_be_visible()
    assert page.url == base + "/provider/"
    expect(page.get_by_text("Provider number P-0420")).to_be_visible()
    courses = page.get_by_role("table", name=f"Courses approved for {PROVIDER}")
    expect(courses.locator("tbody tr td")).to_have_text(
        ["SFE-101", COURSE, "Online course", "4", f"1/1/{today.year - 1} – 12/31/{today.year}"])
    axe_check(page, "provider home @375px")

    # One completion by form: a wrong last name is refused on the form with the input kept, then it goes through.
    page.get_by_role("link", name="Post one completion").click()
    page.get_by_label("Member ID").fill(jordan.member_id)
    page.get_by_label("Last name").fill("Cruz")
    page.get_by_label("Course").select_option(label=f"SFE-101 · {COURSE} (4 CECs)")
    page.get_by_label("Date completed").fill((today - timedelta(days=20)).isoformat())
    page.get_by_label("External ID").fill("WALK-IN-7")
    page.get_by_role("button", name="Post completion").click()
    expect(page.locator("#error_1_id_member_id")).to_have_text("No certificant matches this member ID and last name.")
    expect(page.get_by_label("External ID")).to_have_value("WALK-IN-7")
    page.screenshot(path=str(SHOTS / "provider-form-error-375.png"), full_page=True)
    axe_check(page, "provider form with an error @375px")
    page.get_by_label("Last name").fill("de la cruz")
    page.get_by_role("button", name="Post completion").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Accepted: 4 CECs for member {jordan.member_id}, course SFE-101, external ID “WALK-IN-7”.")
    expect(page.get_by_label("External ID")).to_have_value("")
    page.get_by_role("link", name=PROVIDER).click()

    # The template.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the roster template (CSV)").click()
    assert download.value.suggested_filename == "roster-template.csv"
    template = open(download.value.path(), encoding="utf-8-sig", newline="").read()
    assert template == TEMPLATE

    # Two good rows (one M/D/YYYY, one name typed loosely), an unknown member, a course of another provider.
    done, earlier = today - timedelta(days=3), today - timedelta(days=10)
    roster = tmp_path / "june-roster.csv"
    roster.write_text(template + (
        f"{casey.member_id},Morgan,SFE-101,{done.isoformat()},SFE-{today:%y}-0001,\r\n"
        f"{jordan.member_id},DELACRUZ,SFE-101,{earlier.month}/{earlier.day}/{earlier.year},SFE-{today:%y}-0002,2.5\r\n"
        f"999999,Nobody,SFE-101,{done.isoformat()},SFE-{today:%y}-0003,\r\n"
        f"{casey.member_id},Morgan,PPI-1,{done.isoformat()},SFE-{today:%y}-0004,\r\n"
    ), encoding="utf-8-sig")
    page.get_by_role("link", name="Upload a CSV roster").click()
    expect(page.get_by_role("heading", name="Upload a CSV roster")).to_be_visible()
    axe_check(page, "roster upload @375px")
    page.get_by_label("CSV roster file").set_input_files([roster])
    page.get_by_role("button", name="Upload roster").click()

    # The report: totals on top, every row with its line, external ID, result and reason.
    expect(page.get_by_role("heading", name="Roster report")).to_be_visible()
    expect(page.locator(".roster-totals")).to_have_text("4 rows: 2 accepted, 0 duplicates, 2 rejected.")
    rows = page.locator("table.roster-report tbody tr")
    expect(rows).to_have_count(4)
    expected = [
        ["2", f"SFE-{today:%y}-0001", "Accepted", f"4 CECs for member {casey.member_id}, course SFE-101"],
        ["3", f"SFE-{today:%y}-0002", "Accepted", f"2.5 CECs for member {jordan.member_id}, course SFE-101"],
        ["4", f"SFE-{today:%y}-0003", "Rejected", "No certificant matches this member ID and last name."],
        ["5", f"SFE-{today:%y}-0004", "Rejected", "Not an approved course of this provider."],
    ]
    for index, cells in enumerate(expected):
        expect(rows.nth(index).locator("td")).to_have_text(cells)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "provider-roster-report-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    axe_check(page, "roster report @375px")
    assert sorted(Completion.objects.filter(provider=provider).values_list("external_id", "via", "posted_by")) == [
        (f"SFE-{today:%y}-0001", "csv", registrar.email), (f"SFE-{today:%y}-0002", "csv", registrar.email),
        ("WALK-IN-7", "form", registrar.email)]

    # The rejected rows, to fix and upload again.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the rejected rows (CSV)").click()
    assert download.value.suggested_filename == "rejected-rows.csv"
    with open(download.value.path(), encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(io.StringIO(f.read()))) == [
            ["member_id", "last_name", "course_number", "completed_on", "external_id", "cecs", "line", "reason"],
            ["999999", "Nobody", "SFE-101", done.isoformat(), f"SFE-{today:%y}-0003", "", "4",
             "No certificant matches this member ID and last name."],
            [casey.member_id, "Morgan", "PPI-1", done.isoformat(), f"SFE-{today:%y}-0004", "", "5",
             "Not an approved course of this provider."],
        ]

    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / "provider-roster-report-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})

    # What was posted, in the completions list, each with Retract.
    page.get_by_role("link", name="Completions", exact=True).last.click()
    expect(page.get_by_role("heading", name="Completions")).to_be_visible()
    expect(page.locator(".completion-count")).to_have_text("3 completions")
    listed = page.get_by_role("table", name=f"Completions posted by {PROVIDER}").locator("tbody tr")
    expect(listed.locator('td[data-label="External ID"]')).to_have_text(
        [f"SFE-{today:%y}-0002", f"SFE-{today:%y}-0001", "WALK-IN-7"])
    expect(listed.get_by_role("link", name="Retract")).to_have_count(3)
    page.screenshot(path=str(SHOTS / "provider-completions-375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    axe_check(page, "provider completions @375px")

    # Log out.
    show_menu(page)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to MyACSM")).to_be_visible()

    # Casey finds the credit on her dashboard, reported by the provider and not hers to change.
    log_in_demo(page, base)
    page.get_by_role("link", name="View CEC Dashboard and Report CECs").click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()
    row = page.locator("tr", has_text=COURSE)
    expect(row).to_have_count(1)
    expect(row.locator('td[data-label="CECs Earned"]')).to_have_text("4")
    expect(row.locator(".reported-by")).to_have_text(f"Reported by {PROVIDER}")
    expect(row.get_by_role("link", name="Edit")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "provider-credit-on-dashboard-375.png"), full_page=True)
