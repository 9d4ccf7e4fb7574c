"""Provider credits on the certificant's side: "Reported by", not theirs to change, a self-reported copy counted once
(on the dashboard, for the cart and in reminders alike), and a retraction said in the Active CECs box."""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from acsm_portal import clock
from acsm_portal.dashboard.selectors import dashboard_for
from cart.services import CartError, cart_add_renewal
from cecs.models import CECEntry
from certifications.selectors import tiles_for
from providers.models import Completion, Course, Provider
from providers.services import CompletionIn, completion_retract, completions_post
from reminders import services as reminders
from tests.dashboard.test_page_queries import CREDITS, FLOOR, TILES, reads
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle, renewable_certification
from tests.pages import text

pytestmark = pytest.mark.django_db

ACSM = "ACSM Online Learning"
EIM = "Exercise is Medicine Level 1"
COMPLETIONS = 'FROM "providers_completion"'
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


# ---------------------------------------------------------------- helpers (test_digest.py uses them too)

def provider_with_course(name: str = ACSM, number: str = "P-0001", course: str = EIM, course_number: str = "EIM-1",
                         cecs: str = "5", fmt: str = "online") -> Course:
    """An active provider with one approved course, valid for any completion of the last five years and the next."""
    provider = Provider.objects.filter(number=number).first() or Provider.objects.create(name=name, number=number)
    today = clock.today()
    return Course.objects.create(provider=provider, number=course_number, title=course, format=fmt,
                                 cecs=Decimal(cecs), valid_from=date(today.year - 5, 1, 1),
                                 valid_to=date(today.year + 1, 12, 31))


def post(course: Course, person, completed_on: date, external_id: str) -> Completion:
    """``course`` completed by ``person`` on ``completed_on``, posted by its provider; the completion."""
    [result] = completions_post(provider_id=course.provider_id, via=Completion.Via.API, posted_by="token Test", items=[
        CompletionIn(member_id=person.member_id, last_name=person.last_name, course_number=course.number,
                     completed_on=completed_on, external_id=external_id)])
    assert result.status == "accepted", result.errors
    return result.completion


def row_of(html: str, course: str) -> str:
    """The Active CECs row of ``course``."""
    [row] = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", html) if f'class="course">{course}<' in r]
    return row


@pytest.fixture
def day(today):
    """A day inside the default cycle (January 1 last year to December 31 next year), in the past."""
    return date(today.year - 1, 3, 2)


@pytest.fixture
def course(db):
    return provider_with_course()


# ---------------------------------------------------------------- Reported by, and not the certificant's to change

def test_a_provider_credit_says_who_reported_it_counts_and_has_no_edit_or_delete(user_client, user, course, day):
    certification_with_cycle(user, "CPT")
    CECEntryFactory(user=user, date_earned=day, units=Decimal("10"), cecs=Decimal("10"), course_name="Spin class",
                    provider="City Gym")
    entry = post(course, user, day, "X-1").cec_entry
    html = user_client.get(reverse("dashboard")).content.decode()

    row = row_of(html, EIM)
    assert '<div class="small text-body-secondary reported-by">Reported by ACSM Online Learning</div>' in row
    assert "not-counted" not in row and "cec-note" not in row
    assert reverse("cec_edit", args=[entry.pk]) not in html and reverse("cec_delete", args=[entry.pk]) not in html
    assert "Edit" not in row and "Delete" not in row
    # The certificant's own credit names its provider as typed, with its links.
    own = row_of(html, "Spin class")
    assert '<div class="small text-body-secondary">City Gym</div>' in own and "Reported by" not in own
    assert "Edit" in own and "Delete" in own
    [tile] = dashboard_for(user=user, today=clock.today_for(user)).tiles
    assert tile.meter.total == Decimal("15")


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("page", ["cec_edit", "cec_delete"])
def test_the_edit_and_delete_pages_refuse_a_provider_credit(user_client, user, course, day, page, method):
    certification_with_cycle(user, "CPT")
    entry = post(course, user, day, "X-1").cec_entry
    data = {"date_earned": day.isoformat(), "units": "1", "credit_type": "cec", "course_name": "Changed",
            "provider": "Me", "format": "live"}
    response = getattr(user_client, method)(reverse(page, args=[entry.pk]), data if method == "post" else None,
                                            follow=True)
    assert response.redirect_chain == [(reverse("dashboard"), 302)]
    assert ("“Exercise is Medicine Level 1” was reported by ACSM Online Learning. Only credits you reported yourself "
            "can be changed; contact us about this one.") in text(response.content.decode())
    entry.refresh_from_db()
    assert (entry.course_name, entry.cecs, entry.source, entry.provider) == (EIM, Decimal("5.00"), "provider", ACSM)


def test_another_persons_provider_credit_is_not_found(user_client, other_user, course, day):
    certification_with_cycle(other_user, "CPT")
    entry = post(course, other_user, day, "X-1").cec_entry
    assert user_client.get(reverse("cec_edit", args=[entry.pk])).status_code == 404
    assert user_client.post(reverse("cec_delete", args=[entry.pk])).status_code == 404
    assert CECEntry.objects.filter(pk=entry.pk).exists()


# ---------------------------------------------------------------- the same credit reported twice

def test_a_self_reported_copy_is_flagged_and_counted_once(user_client, user, course, day):
    certification_with_cycle(user, "CPT")
    copy = CECEntryFactory(user=user, date_earned=day, units=Decimal("5"), cecs=Decimal("5"),
                           course_name="Exercise is Medicine", provider="ACSM online learning", format="online")
    CECEntryFactory(user=user, date_earned=day, units=Decimal("10"), cecs=Decimal("10"), course_name="Spin class")
    provided = post(course, user, day, "X-1").cec_entry
    html = user_client.get(reverse("dashboard")).content.decode()

    row = row_of(html, "Exercise is Medicine")
    assert row.startswith('<tr class="not-counted">')
    assert ('<div class="small cec-note"><span aria-hidden="true">⚠</span> Also reported by ACSM Online Learning: '
            "counted once, as the provider&#x27;s.</div>") in row
    # Still theirs: they may delete their copy.
    assert reverse("cec_edit", args=[copy.pk]) in row and reverse("cec_delete", args=[copy.pk]) in row
    provider_row = row_of(html, EIM)
    assert provider_row.startswith("<tr>") and "cec-note" not in provider_row
    assert "Reported by ACSM Online Learning" in provider_row
    board = dashboard_for(user=user, today=clock.today_for(user))
    assert board.tiles[0].meter.total == Decimal("15")  # 10 + the provider's 5, not 20
    assert {r.id: list(r.notes) for r in board.rows if r.notes} == {
        copy.pk: ["Also reported by ACSM Online Learning: counted once, as the provider's."]}
    assert provided.pk not in {r.id for r in board.rows if r.notes}


def test_the_cart_counts_the_copy_once(user, course, day, today):
    """CPT needs 45: 35 of the certificant's, the provider's 5 and the certificant's copy of it make 40, not 45."""
    cpt = renewable_certification(user, "CPT")
    CECEntry.objects.filter(user=user).update(units=Decimal("35"), cecs=Decimal("35"))
    CECEntryFactory(user=user, date_earned=day, units=Decimal("5"), cecs=Decimal("5"), course_name=EIM,
                    provider="", format="online")
    post(course, user, day, "X-1")
    [tile] = tiles_for(user=user, today=today)
    assert (tile.meter.total, tile.eligibility.can_renew) == (Decimal("40"), False)
    with pytest.raises(CartError):
        cart_add_renewal(user=user, certification_id=cpt.pk, today=today)
    # Five more CECs of another course, and the renewal goes in the cart.
    CECEntryFactory(user=user, date_earned=day, units=Decimal("5"), cecs=Decimal("5"), course_name="Yoga")
    [tile] = tiles_for(user=user, today=today)
    assert (tile.meter.total, tile.eligibility.can_renew) == (Decimal("45"), True)
    assert cart_add_renewal(user=user, certification_id=cpt.pk, today=today).certification_id == cpt.pk


def test_reminders_count_the_copy_once():
    """The 30-day reminder says what is missing counting the copy once: 30 + 5 = 35 of 45, so 10 more CECs."""
    chicago = ZoneInfo("America/Chicago")
    end = date(clock.today().year, 12, 31)
    start = end - timedelta(days=3 * 365)
    person = UserFactory(time_zone="America/Chicago", first_name="Casey")
    certification_with_cycle(person, "CPT", start=start, end=end)
    course = provider_with_course()
    with time_machine.travel(datetime.combine(end - timedelta(days=30), time(8, 5), tzinfo=chicago), tick=False):
        CECEntryFactory(user=person, date_earned=start, units=Decimal("30"), cecs=Decimal("30"), format="live")
        CECEntryFactory(user=person, date_earned=start + timedelta(days=40), units=Decimal("5"), cecs=Decimal("5"),
                        course_name=EIM, provider=ACSM, format="online")
        post(course, person, start + timedelta(days=40), "X-1")
        report = reminders.reminders_queue()
        assert reminders.reminders_send(reminder_ids=report.made)["sent"] == 1
    [message] = [m for m in mail.outbox if m.to == [person.email]]
    assert "10 more CECs and a current CPR/AED card." in message.body


# ---------------------------------------------------------------- retractions

def test_a_retracted_credit_leaves_the_totals_with_a_note(client, course, day):
    person = UserFactory(time_zone="America/Los_Angeles")
    certification_with_cycle(person, "CPT")
    client.force_login(person)
    other = provider_with_course(name="NSCA Learning", number="P-0002", course="Strength Basics",
                                 course_number="SB-1", cecs="3")
    post(course, person, day, "X-1")
    kept = post(other, person, day, "Y-1")
    today = clock.today_for(person)
    retract_day = today - timedelta(days=2)
    # 11 PM in Los Angeles is the next day in UTC: the note gives the certificant's date.
    with time_machine.travel(datetime.combine(retract_day, time(23, 0), tzinfo=LOS_ANGELES), tick=False):
        completion_retract(provider_id=course.provider_id, external_id="X-1", reason="Posted for the wrong member.",
                           by="token Test")
    html = client.get(reverse("dashboard")).content.decode()

    note = (f"ACSM Online Learning retracted Exercise is Medicine Level 1 ({day.month}/{day.day}/{day.year}) on "
            f"{retract_day.month}/{retract_day.day}/{retract_day.year}: Posted for the wrong member.")
    assert ('<ul class="list-unstyled small mb-3" id="retractions" aria-label="Credits retracted by providers">\n'
            f'    <li class="cec-note"><span aria-hidden="true">⚠</span> {note}</li>\n  </ul>') in html
    assert f'class="course">{EIM}<' not in html
    board = dashboard_for(user=person, today=today)
    assert board.retractions == [note]
    assert [r.id for r in board.rows] == [kept.cec_entry_id]
    assert board.tiles[0].meter.total == Decimal("3")
    assert tiles_for(user=person, today=today)[0].meter.total == Decimal("3")


def test_retractions_are_said_for_90_days_newest_first(user, day):
    certification_with_cycle(user, "CPT")
    first = provider_with_course()
    second = provider_with_course(course="Yoga for Athletes", course_number="YFA-1")
    start = clock.today_for(user)
    with time_machine.travel(datetime.combine(start, time(12, 0), tzinfo=clock.portal_zone()), tick=False):
        post(first, user, day, "X-1")
        post(second, user, day, "X-2")
        completion_retract(provider_id=first.provider_id, external_id="X-1", reason="Duplicate roster.", by="t")
    with time_machine.travel(datetime.combine(start + timedelta(days=1), time(12, 0), tzinfo=clock.portal_zone()),
                             tick=False):
        completion_retract(provider_id=second.provider_id, external_id="X-2", reason="Did not attend.", by="t")
    earned = f"({day.month}/{day.day}/{day.year})"
    on = [f"{d.month}/{d.day}/{d.year}" for d in (start, start + timedelta(days=1))]
    both = [f"ACSM Online Learning retracted Yoga for Athletes {earned} on {on[1]}: Did not attend.",
            f"ACSM Online Learning retracted Exercise is Medicine Level 1 {earned} on {on[0]}: Duplicate roster."]
    assert dashboard_for(user=user, today=start + timedelta(days=90)).retractions == both
    assert dashboard_for(user=user, today=start + timedelta(days=91)).retractions == both[:1]
    assert dashboard_for(user=user, today=start + timedelta(days=92)).retractions == []


def test_the_page_reads_the_completions_only_for_a_person_with_a_retraction(user_client, user, course, day,
                                                                         django_assert_num_queries):
    certification_with_cycle(user, "CPT")
    post(course, user, day, "X-1")
    post(provider_with_course(course="Yoga for Athletes", course_number="YFA-1"), user, day, "X-2")
    user_client.get(reverse("dashboard"))  # the yearly caps are read into the cache
    with django_assert_num_queries(4) as captured:
        user_client.get(reverse("dashboard"))
    assert reads(captured, *FLOOR, TILES, CREDITS)

    completion_retract(provider_id=course.provider_id, external_id="X-1", reason="Wrong date.", by="t")
    with django_assert_num_queries(5) as captured:
        html = user_client.get(reverse("dashboard")).content.decode()
    assert reads(captured, *FLOOR, TILES, CREDITS, COMPLETIONS)
    assert "retracted Exercise is Medicine Level 1" in html
    # Another person's retraction is not theirs to read.
    other = UserFactory()
    certification_with_cycle(other, "CPT")
    assert dashboard_for(user=other, today=clock.today_for(other)).retractions == []
