"""The demo's provider: "ACSM Online Learning" (P-0001), its three approved courses, its user, and the one credit it
reported on Casey's ledger, the same from one ``seed_demo`` to the next; Casey's picture (63 CECs) unchanged."""

import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from acsm_portal import clock
from acsm_portal.demo import (
    CASEY_COMPLETION, DEMO_CERTIFICANT, DEMO_PROVIDER_USER, demo_casey_cycle, demo_earned_on, demo_seed,
)
from cecs.models import CECEntry
from providers.models import Completion, Course, Provider
from tests.pages import text, tile

pytestmark = pytest.mark.django_db

CASEY = DEMO_CERTIFICANT["email"]
PROVIDER_USER = DEMO_PROVIDER_USER["email"]
MEMBER_IDS = {
    "casey@example.com": "482913",
    "riley@example.com": "573104",
    "jordan@example.com": "615207",
    "staff@example.com": "100001",
    "provider@example.com": "100002",
}
COACHING = "Behavior Change Coaching for Exercise Professionals"
EASTERN = ZoneInfo("America/New_York")


def member_ids() -> dict[str, str]:
    return dict(User.objects.order_by("email").values_list("email", "member_id"))


def provider_credits() -> list[tuple]:
    """Every completion with what its credit says, in id order."""
    return list(Completion.objects.order_by("pk").values_list(
        "pk", "provider__number", "course__number", "external_id", "user__email", "completed_on", "cecs", "state",
        "via", "posted_by", "created_at", "cec_entry_id", "cec_entry__source", "cec_entry__cecs",
        "cec_entry__course_name", "cec_entry__provider", "cec_entry__format", "cec_entry__date_earned"))


def casey_dates() -> tuple[date, tuple[date, date]]:
    casey_today = clock.today_for(User.objects.get(email=CASEY))
    return casey_today, demo_casey_cycle(casey_today)


def test_two_seeds_keep_the_member_ids_and_one_provider_credit():
    first = demo_seed()
    ids, credits = member_ids(), provider_credits()
    second = demo_seed()
    assert member_ids() == ids == MEMBER_IDS
    assert provider_credits() == credits
    casey_today, cycle = casey_dates()
    [(pk, *rest)] = credits
    completion = Completion.objects.get(pk=pk)
    assert rest == [
        "P-0001", "AOL-101", "AOL-DEMO-0001", CASEY, demo_earned_on(cycle, CASEY_COMPLETION.share, today=casey_today),
        Decimal("2.00"), "accepted", "api", "demo", completion.created_at, completion.cec_entry_id, "provider",
        Decimal("2.00"), COACHING, "ACSM Online Learning", "online",
        demo_earned_on(cycle, CASEY_COMPLETION.share, today=casey_today),
    ]
    assert cycle[0] <= completion.completed_on < casey_today
    assert CECEntry.objects.filter(source=CECEntry.Source.PROVIDER, user__email=CASEY).count() == 1
    provider_line = (f"provider user {PROVIDER_USER} / {DEMO_PROVIDER_USER['password']} (ACSM Online Learning, "
                     "P-0001; provider area /provider/)")
    assert first[-1] == f"created {provider_line}"
    assert second[-1] == f"kept {provider_line}"
    assert len(first) == len(second) == 5


def test_seed_demo_prints_the_provider_login(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (f"created provider user {PROVIDER_USER} / {DEMO_PROVIDER_USER['password']} "
                       "(ACSM Online Learning, P-0001; provider area /provider/)")


def test_the_provider_its_courses_and_its_user(today):
    demo_seed()
    provider = Provider.objects.get()
    assert (provider.number, provider.name, provider.contact_name, provider.contact_email, provider.contact_phone,
            provider.active) == ("P-0001", "ACSM Online Learning", "Continuing Education Office",
                                 "online-learning@example.com", "317-555-0142", True)
    window = (date(today.year - 2, 1, 1), date(today.year + 1, 12, 31))
    assert list(Course.objects.filter(provider=provider).order_by("number").values_list(
        "number", "title", "format", "cecs", "valid_from", "valid_to")) == [
        ("AOL-101", COACHING, "online", Decimal("2.00"), *window),
        ("AOL-102", "Exercise Programming for Clients with Hypertension", "online", Decimal("3.50"), *window),
        ("AOL-103", "Balance and Fall Prevention for Older Adults", "online", Decimal("5.00"), *window),
    ]
    person = User.objects.get(email=PROVIDER_USER)
    assert person.check_password(DEMO_PROVIDER_USER["password"]) and person.is_active
    assert (person.is_staff, person.is_superuser, person.provider_member.provider_id) == (False, False, provider.pk)
    assert not hasattr(User.objects.get(email=CASEY), "provider_member")


def test_a_second_seed_brings_the_provider_back_to_shape(today):
    demo_seed()
    Provider.objects.update(active=False, name="Renamed")
    Course.objects.filter(number="AOL-102").update(cecs=Decimal("1"), valid_to=today)
    credits = provider_credits()
    demo_seed()
    assert Provider.objects.values_list("name", "active").get() == ("ACSM Online Learning", True)
    assert Course.objects.values_list("cecs", "valid_to").get(number="AOL-102") == (
        Decimal("3.50"), date(today.year + 1, 12, 31))
    assert provider_credits() == credits


def test_casey_sees_the_credit_reported_by_her_provider_and_the_same_totals(client):
    demo_seed()
    casey = User.objects.get(email=CASEY)
    client.force_login(casey)
    html = client.get(reverse("dashboard")).content.decode()
    for name, shown in (("Certified Personal Trainer", "45 of 45"), ("Certified Exercise Physiologist", "60 of 60")):
        t = text(tile(html, name))
        assert f"100% {shown}" in t and "Total CECs 63" in t
    [row] = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if f'class="course">{COACHING}<' in r]
    completion = Completion.objects.get()
    day = completion.completed_on
    assert text(row) == (f"{day.month}/{day.day}/{day.year} {completion.cec_entry.date_reported:%-m/%-d/%Y} 2 "
                         f"{COACHING} Reported by ACSM Online Learning Online course CEC")
    assert "Edit" not in row and "Delete" not in row


def test_a_seed_in_the_next_year_posts_the_credit_again_in_casey_s_new_cycle(today):
    demo_seed()
    [old] = provider_credits()
    with time_machine.travel(datetime(today.year + 1, 1, 15, 10, 0, tzinfo=EASTERN), tick=False):
        demo_seed()
        casey_today, cycle = casey_dates()
        assert cycle == (date(today.year - 1, 1, 1), date(today.year + 1, 12, 31))
        [new] = provider_credits()
        assert new[0] != old[0] and new[11] != old[11]  # a new completion and a new credit
        assert new[5] == demo_earned_on(cycle, CASEY_COMPLETION.share, today=casey_today)
        assert cycle[0] <= new[5] < casey_today
        assert (new[3], new[7], new[12]) == ("AOL-DEMO-0001", "accepted", "provider")
        assert set(Course.objects.values_list("valid_from", "valid_to")) == {
            (date(today.year - 1, 1, 1), date(today.year + 2, 12, 31))}
        assert not CECEntry.objects.filter(pk=old[11]).exists()
        assert member_ids() == MEMBER_IDS
        demo_seed()
        assert provider_credits() == [new]
