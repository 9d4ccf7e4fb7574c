"""The demo follows the calendar: the seed's picture in the cycle that contains today, on any day; Jordan's last
renewal is under audit, due in 20 days."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from acsm_portal.demo import DEMO_AUDITED, DEMO_CERTIFICANT, DEMO_WEST, demo_seed
from acsm_portal import clock
from audits.models import Audit
from cecs.models import CECEntry
from acsm_portal.formats import format_date
from tests.pages import text, tile

YEAR = clock.today().year
# Days the demo must show its picture on: today, the coming Jan 1 and Jul 2, the next Feb 29, and the last
# and first days of a year.
_LEAP = next(y for y in range(YEAR, YEAR + 5) if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))
DAYS = {
    "today": None,
    "new-year": datetime(YEAR + 1, 1, 15, 10, 0),
    "after-grace": datetime(YEAR + 1, 7, 2, 10, 0),
    "leap-day": datetime(_LEAP, 2, 29, 10, 0),
    "dec-31": datetime(YEAR, 12, 31, 22, 0),
    "jan-1": datetime(YEAR + 1, 1, 1, 8, 0),
}


@pytest.fixture(params=list(DAYS), ids=list(DAYS))
def demo_day(request, db, settings):
    settings.TIME_ZONE = "America/New_York"
    moment = DAYS[request.param]
    if moment is None:
        yield clock.today()
        return
    with time_machine.travel(moment.replace(tzinfo=ZoneInfo("America/New_York")), tick=False):
        yield moment.date()


def _log_in(client, login: dict) -> None:
    response = client.post(reverse("login"), {"username": login["email"], "password": login["password"]})
    assert response.status_code == 302


def test_casey_shows_the_seed_picture_in_the_cycle_that_contains_today(demo_day, client):
    demo_seed()
    demo_seed()  # running it again keeps the picture
    _log_in(client, DEMO_CERTIFICANT)
    html = client.get(reverse("dashboard")).content.decode()
    cycle = f"1/1/{demo_day.year - 2} - 12/31/{demo_day.year}"
    for name, shown in (("Certified Personal Trainer", "45 of 45"), ("Certified Exercise Physiologist", "60 of 60")):
        t = text(tile(html, name))
        assert f"100% {shown}" in t
        assert cycle in t
        assert "Recertification in Process" in t
        assert "CPR Certificate Not Uploaded" in t
        assert "Total CECs 63" in t
        assert f"Renew by 12/31/{demo_day.year} at 11:59 PM Eastern time; after that a $80.00 late fee applies." in t
        assert ("The Renew button will appear when all credits are submitted and your updated CPR "
                "Certificate is uploaded.") in t
    assert 'aria-label="Certified Personal Trainer: 100% complete, 45 of 45 CECs"' in html
    assert html.count("<tr") == 1 + 8  # header + seven credits of her own + the one her provider reported
    volunteering = CECEntry.objects.get(user__email=DEMO_CERTIFICANT["email"], format="volunteering")
    assert f"Volunteering cap of 8 CECs for {volunteering.date_earned.year} reached: 8 of 10 count" in html
    earned = list(CECEntry.objects.filter(user__email=DEMO_CERTIFICANT["email"]).values_list("date_earned",
                                                                                             "date_reported"))
    assert len(earned) == 8
    assert all(date(demo_day.year - 2, 1, 1) <= e < demo_day and e <= r <= demo_day for e, r in earned)


def test_riley_in_los_angeles_sees_the_late_fee_in_pacific_time(demo_day, client):
    demo_seed()
    _log_in(client, DEMO_WEST)
    html = client.get(reverse("dashboard")).content.decode()
    t = text(tile(html, "Certified Personal Trainer"))
    assert "100% 45 of 45" in t
    assert "CPR Certificate Approved" in t
    local_today = clock.today(ZoneInfo("America/Los_Angeles"))
    if local_today.month <= 6:
        end = date(local_today.year - 1, 12, 31)
        assert "Expired (grace period)" in t
        assert (f"Your cycle ended {format_date(end)}. You can still renew until 6/30/{local_today.year} at "
                f"11:59 PM Pacific time, with a $80.00 late fee.") in t
        assert "RENEW" in t and "A $80.00 late fee applies." in t
    else:
        end = date(local_today.year, 12, 31)
        assert "Recertification in Process" in t
        assert f"Renew by {format_date(end)} at 11:59 PM Pacific time; after that a $80.00 late fee applies." in t
        assert "RENEW" in t and "late fee applies." in t
    card_expiry = local_today + timedelta(days=730)
    assert f"valid through {format_date(card_expiry)}" in t


def test_jordan_s_last_renewal_is_under_audit_due_in_20_days(demo_day, client):
    demo_seed()
    demo_seed()  # running it again keeps the audit as it is
    _log_in(client, DEMO_AUDITED)
    local_today = clock.today(ZoneInfo("America/Los_Angeles"))
    due = local_today + timedelta(days=20)
    audit = Audit.objects.get(user__email=DEMO_AUDITED["email"])
    assert (audit.state, audit.due_on, audit.how) == ("selected", due, "staff")
    assert (audit.cycle.start, audit.cycle.end) == (date(local_today.year - 2, 1, 1), date(local_today.year, 12, 31))
    assert sorted(audit.credits.values_list("state", flat=True)) == [
        "documented", "needed", "needed", "needed", "verified"]
    html = client.get(reverse("dashboard")).content.decode()
    t = text(tile(html, "Certified Personal Trainer"))
    assert (f"Your recertification was selected for audit Due {format_date(due)} at 11:59 PM Pacific time "
            "2 of 5 credits documented Submit audit documents") in t
    assert f"Cycle 1/1/{local_today.year + 1} - 12/31/{local_today.year + 3}" in t  # the cycle the renewal opened
    assert "RENEW" not in t
    page = text(client.get(reverse("audit", args=[audit.pk])).content.decode())
    assert f"Due {format_date(due)} at 11:59 PM Pacific time (20 days left)" in page
    assert "program-design-certificate.png" in page and "2 of 5 credits documented" in page
