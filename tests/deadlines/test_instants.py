"""The date-sensitive rules at the instants a season turns, in an Eastern and a Pacific certificant's zone.

The instants are placed relative to the machine's clock, so the suite checks the coming season on any
day: the last half hour of the cycle (Dec 31, 11:30 PM local), the first of the grace period (Jan 1,
12:30 AM), the last of the grace period (Jun 30, 11:30 PM), the first day lapsed (Jul 1, 12:30 AM), noon on
the next Feb 29, and the real now. Each test id names the instant it ran at. Time is moved with
time-machine; the portal's own zone stays America/New_York, so a Pacific certificant at 11:30 PM on Dec 31
is already on Jan 1 by the portal's clock.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from acsm_portal import clock
from cart.models import CartLine
from cecs.models import CECEntry
from certifications.models import CprUpload
from acsm_portal.formats import format_date
from certifications.rules import Status, grace_ends
from certifications.cpr.services import CardDetails, CprError, cpr_upload_add_file, cpr_upload_submit
from tests.certifications.cpr_helpers import png_bytes
from tests.factories import UserFactory, renewable_certification

pytestmark = pytest.mark.deadlines
PORTAL_ZONE = "America/New_York"
ZONES = {"America/New_York": "Eastern time", "America/Los_Angeles": "Pacific time"}


def _next_leap_day(after: date) -> date:
    year = after.year
    while True:
        try:
            leap_day = date(year, 2, 29)
        except ValueError:
            year += 1
            continue
        if leap_day >= after:
            return leap_day
        year += 1


@dataclass(frozen=True)
class Instant:
    key: str
    local: datetime | None  # a wall-clock time in the person's zone; None: the real now
    cycle: tuple[date, date]
    status: Status

    @property
    def late(self) -> bool:
        return self.status is Status.GRACE

    @property
    def renewable(self) -> bool:
        return self.status in (Status.IN_PROCESS, Status.GRACE)


def season_instants(today: date) -> list[Instant]:
    """The instants the suite checks, for a machine whose date is ``today``."""
    year = today.year
    ending = (date(year - 2, 1, 1), date(year, 12, 31))
    leap_day = _next_leap_day(today)
    return [
        Instant("cycle-last-half-hour", datetime(year, 12, 31, 23, 30), ending, Status.IN_PROCESS),
        Instant("grace-first-hour", datetime(year + 1, 1, 1, 0, 30), ending, Status.GRACE),
        Instant("grace-last-half-hour", datetime(year + 1, 6, 30, 23, 30), ending, Status.GRACE),
        Instant("lapsed-first-hour", datetime(year + 1, 7, 1, 0, 30), ending, Status.LAPSED),
        Instant("leap-day-noon", datetime(leap_day.year, 2, 29, 12, 0),
                (date(leap_day.year - 1, 1, 1), date(leap_day.year + 1, 12, 31)), Status.IN_PROCESS),
        Instant("real-now", None, (date(year - 1, 1, 1), date(year + 1, 12, 31)), Status.IN_PROCESS),
    ]


INSTANTS = season_instants(clock.today())


def _id(instant: Instant, zone: str) -> str:
    when = f"{instant.local:%Y-%m-%dT%H:%M}" if instant.local else "now"
    return f"{instant.key}@{when}-{zone.split('/')[1]}"


CASES = [(instant, zone) for instant in INSTANTS for zone in ZONES]


@dataclass
class Moment:
    instant: Instant
    zone: str
    person: object
    certification: object

    @property
    def today(self) -> date:
        return clock.today_for(self.person)

    @property
    def label(self) -> str:
        return ZONES[self.zone]


@pytest.fixture(params=CASES, ids=[_id(i, z) for i, z in CASES])
def moment(request, db, settings):
    """A Pacific or Eastern certificant at one instant, with CPT credits full and an approved card valid for
    400 more days, in the cycle the instant is about."""
    settings.TIME_ZONE = PORTAL_ZONE
    instant, zone = request.param
    travel = None
    if instant.local is not None:
        travel = time_machine.travel(instant.local.replace(tzinfo=ZoneInfo(zone)), tick=False)
        travel.start()
    try:
        person = UserFactory(time_zone=zone)
        local_today = clock.today_for(person)
        if instant.local is not None:
            assert local_today == instant.local.date()
        certification = renewable_certification(person, "CPT", *instant.cycle,
                                                cpr_expires=local_today + timedelta(days=400))
        yield Moment(instant, zone, person, certification)
    finally:
        if travel is not None:
            travel.stop()


def _deadline_sentence(m: Moment) -> str:
    start, end = m.instant.cycle
    grace = grace_ends(end)
    if m.instant.status is Status.IN_PROCESS:
        return f"Renew by {format_date(end)} at 11:59 PM {m.label}; after that a $80.00 late fee applies."
    if m.instant.status is Status.GRACE:
        return (f"Your cycle ended {format_date(end)}. You can still renew until {format_date(grace)} at 11:59 PM "
                f"{m.label}, with a $80.00 late fee.")
    return (f"This certification lapsed after the grace period ended on {format_date(grace)} at 11:59 PM "
            f"{m.label}. Please contact the certification department about reinstatement.")


def test_the_tile_states_status_and_deadline_in_the_persons_time(moment, client):
    client.force_login(moment.person)
    html = client.get(reverse("dashboard")).content.decode()
    status = moment.instant.status
    assert f'status-{status.name.lower()}">{status.value}</dd>' in html
    assert _deadline_sentence(moment) in html
    assert (">RENEW<" in html) is moment.instant.renewable
    assert ("A $80.00 late fee applies." in html) is moment.instant.late


def test_the_cart_charges_the_late_fee_only_in_the_persons_grace_period(moment, client):
    client.force_login(moment.person)
    response = client.post(reverse("cart_renew", args=[moment.certification.pk]))
    notices = [m.message for m in get_messages(response.wsgi_request)]
    lines = list(CartLine.objects.filter(cart__user=moment.person).order_by("id").values_list("kind", "unit_price"))
    if not moment.instant.renewable:
        assert lines == []
        assert notices == ["This certification cannot be renewed yet. "
                           "This certification has lapsed; contact us about reinstatement."]
        return
    expected = [("renewal", Decimal("60.00"))] + ([("late_fee", Decimal("80.00"))] if moment.instant.late else [])
    assert lines == expected
    cart = client.get(reverse("cart")).content.decode()
    total = Decimal("140.00") if moment.instant.late else Decimal("60.00")
    assert f"${total}" in cart
    assert ("CPT Late fee" in cart) is moment.instant.late


def _report(client, earned: date):
    return client.post(reverse("cec_report"), {
        "date_earned": earned.isoformat(), "units": "2", "credit_type": "cec", "course_name": "Balance training",
        "provider": "", "format": "live",
    })


def test_date_earned_today_is_judged_by_the_persons_date(moment, client):
    client.force_login(moment.person)
    today = moment.today
    start, end = moment.instant.cycle
    before = CECEntry.objects.filter(user=moment.person).count()
    response = _report(client, today)
    if moment.instant.status is Status.IN_PROCESS:
        assert response.status_code == 302
        entry = CECEntry.objects.filter(user=moment.person).latest("id")
        assert (entry.date_earned, entry.date_reported, entry.cecs) == (today, today, Decimal("2.00"))
    else:
        expected = ("You have no open certification cycle to report CECs into."
                    if moment.instant.status is Status.LAPSED
                    else f"Date Earned must fall inside your current certification cycle "
                         f"({format_date(start)} - {format_date(end)}).")
        assert expected in response.content.decode()
        assert CECEntry.objects.filter(user=moment.person).count() == before
    tomorrow = _report(client, today + timedelta(days=1))
    assert f"Date Earned cannot be in the future (today is {format_date(today)}, {moment.label})." in tomorrow.content.decode()


def test_a_cpr_card_is_valid_through_its_expiry_date_in_the_persons_time(moment, client):
    client.force_login(moment.person)
    card = CprUpload.objects.get(certification=moment.certification)
    card.expires_on = moment.today
    card.save(update_fields=["expires_on"])
    html = client.get(reverse("dashboard")).content.decode()
    assert f"Card valid through {format_date(moment.today)}" in html
    assert (">RENEW<" in html) is moment.instant.renewable

    yesterday = moment.today - timedelta(days=1)
    card.expires_on = yesterday
    card.save(update_fields=["expires_on"])
    html = client.get(reverse("dashboard")).content.decode()
    assert f"Card expired {format_date(yesterday)}" in html
    assert ">RENEW<" not in html


def test_submitting_a_card_that_expires_today_is_accepted_and_yesterday_refused(moment):
    """Also after lapsing: a card then goes to staff with the reinstatement."""
    details = dict(card_type="cpr_aed", issuing_organization="American Red Cross", skills_check_confirmed=True)
    cpr_upload_add_file(certification=moment.certification, user=moment.person, name="card.png", data=png_bytes())
    yesterday = moment.today - timedelta(days=1)
    with pytest.raises(CprError) as refused:
        cpr_upload_submit(certification=moment.certification, user=moment.person, today=moment.today,
                          details=CardDetails(expires_on=yesterday, **details))
    assert refused.value.message == (f"This card expired on {format_date(yesterday)}; upload a current CPR/AED card "
                                     f"(today is {format_date(moment.today)}, {moment.label}).")
    upload = cpr_upload_submit(certification=moment.certification, user=moment.person, today=moment.today,
                               details=CardDetails(expires_on=moment.today, **details))
    assert (upload.state, upload.expires_on) == (CprUpload.State.PENDING, moment.today)
