"""The dashboard kept in the cache: the same page a fresh render gives, never an outdated one.

Each test first shows the page (so it is stored), changes something the way the
site, the admin or the worker would, and shows the page again.
"""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.backends.cache import SessionStore
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cart.services import cart_add_renewal
from cecs.models import CECEntry, YearlyCap
from certifications import dashboard_cache, selectors
from certifications.dashboard_cache import CSRF_PLACEHOLDER, MESSAGES_PLACEHOLDER, PAGE_KEY, dashboard_page
from certifications.models import Certification, CertificationType, CprUpload, Cycle
from certifications.renewals import certification_renew
from certifications.services import cpr_upload_approve
from tests.certifications.cpr_helpers import reviewer
from tests.certifications.test_dashboard import text, tile
from tests.dates import at
from tests.factories import CECEntryFactory, certification_with_cycle, renewable_certification

pytestmark = pytest.mark.django_db
CPT = "Certified Personal Trainer"


def page(client) -> str:
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def cached_page(client) -> str:
    """The page, asserting it came from the cache (no SQL at all)."""
    with CaptureQueriesContext(connection) as ctx:
        html = page(client)
    assert ctx.captured_queries == []
    return html


@pytest.fixture
def cpt(user, open_cycle):
    return certification_with_cycle(user, "CPT", *open_cycle)


@pytest.fixture
def other_client(other_user):
    client = Client()
    client.force_login(other_user)
    return client


def test_a_second_view_is_the_stored_page(user_client, user, cpt, today):
    CECEntryFactory(user=user, date_earned=today, units=Decimal("3"), cecs=Decimal("3"))
    first = page(user_client)
    again = cached_page(user_client)
    assert "3 of 45" in text(tile(first, CPT))
    assert "3 of 45" in text(tile(again, CPT))
    assert CSRF_PLACEHOLDER not in first + again
    assert cache.get(PAGE_KEY.format(user.pk)) is not None


def test_reporting_a_credit_shows_at_once_with_its_message(user_client, user, cpt, today):
    page(user_client)
    response = user_client.post(reverse("cec_report"), {
        "date_earned": today.isoformat(), "units": "2.5", "credit_type": "cec", "course_name": "Kettlebell basics",
        "provider": "ACSM", "format": "live",
    }, follow=True)
    html = response.content.decode()
    assert "Reported 2.5 CECs for “Kettlebell basics”." in html
    assert 'role="status">Reported 2.5 CECs' in html
    assert "2.5 of 45" in text(tile(html, CPT))
    # The page was stored with the message left out: the next view is the stored page, without it.
    again = cached_page(user_client)
    assert "Reported 2.5 CECs" not in again
    assert "Kettlebell basics" in again
    assert MESSAGES_PLACEHOLDER not in html + again


def test_editing_and_deleting_a_credit(user_client, user, cpt, today):
    entry = CECEntryFactory(user=user, date_earned=today, units=Decimal("4"), cecs=Decimal("4"),
                            course_name="Original title")
    page(user_client)
    user_client.post(reverse("cec_edit", args=[entry.pk]), {
        "date_earned": today.isoformat(), "units": "6", "credit_type": "cec", "course_name": "New title",
        "provider": "ACSM", "format": "live",
    })
    assert "Updated “New title”." in page(user_client)  # the message, once
    html = cached_page(user_client)
    assert 'class="course">New title' in html and "Original title" not in html
    assert "6 of 45" in text(tile(html, CPT))
    user_client.post(reverse("cec_delete", args=[entry.pk]))
    assert "Deleted “New title”." in page(user_client)
    html = cached_page(user_client)
    assert "Deleted “New title”." not in html
    assert 'class="course">New title' not in html
    assert "0 of 45" in text(tile(html, CPT))


def test_a_credit_moved_to_another_person_in_the_admin(user_client, other_client, user, other_user, cpt,
                                                       open_cycle, today):
    certification_with_cycle(other_user, "CPT", *open_cycle)
    entry = CECEntryFactory(user=user, date_earned=today, units=Decimal("5"), cecs=Decimal("5"),
                            course_name="Entered for the wrong person")
    assert "5 of 45" in text(tile(page(user_client), CPT))
    assert "0 of 45" in text(tile(page(other_client), CPT))
    entry.user = other_user
    entry.save()  # what the admin's change form does
    mine, theirs = page(user_client), page(other_client)
    assert "0 of 45" in text(tile(mine, CPT)) and "Entered for the wrong person" not in mine
    assert "5 of 45" in text(tile(theirs, CPT)) and "Entered for the wrong person" in theirs


def test_staff_approving_the_cpr_card(user_client, user, open_cycle):
    certification = renewable_certification(user, "CPT", *open_cycle, cpr_state="pending")
    assert "CPR Certificate Submitted – pending review" in text(tile(page(user_client), CPT))
    cpr_upload_approve(upload=CprUpload.objects.get(certification=certification), reviewer=reviewer())
    t = text(tile(page(user_client), CPT))
    assert "CPR Certificate Approved" in t
    assert "RENEW" in t


def test_the_cart_and_the_renewal_with_its_certificate(user_client, user, open_cycle, today):
    certification = renewable_certification(user, "CPT", *open_cycle)
    page(user_client)
    cart_add_renewal(user=user, certification_id=certification.pk, today=today)
    assert "In cart" in text(tile(page(user_client), CPT))
    user_client.post(reverse("cart_remove", args=[certification.pk]))
    assert "In cart" not in text(tile(page(user_client), CPT))

    certification_renew(cycle_id=certification.cycles.get(state=Cycle.State.OPEN).pk)
    t = tile(page(user_client), CPT)
    assert "Thank you for renewing" in text(t)
    assert "Download your certificate" in text(t)


def test_a_certification_removed_in_the_admin(user_client, cpt):
    page(user_client)
    Certification.objects.filter(pk=cpt.pk).delete()
    assert "You hold no certifications yet." in page(user_client)


def test_reference_data_changes_every_dashboard(user_client, other_client, user, other_user, cpt, open_cycle, today):
    certification_with_cycle(other_user, "CPT", *open_cycle)
    CECEntryFactory(user=user, date_earned=today, units=Decimal("8"), cecs=Decimal("8"), format="volunteering")
    assert "8 of 45" in text(tile(page(user_client), CPT))
    assert "0 of 45" in text(tile(page(other_client), CPT))

    cpt_type = CertificationType.objects.get(code="CPT")
    cpt_type.required_cecs = 50
    cpt_type.save()
    assert "8 of 50" in text(tile(page(user_client), CPT))
    assert "0 of 50" in text(tile(page(other_client), CPT))

    cap = YearlyCap.objects.get(format="volunteering")
    cap.max_cecs = Decimal("2")
    cap.save()
    assert "2 of 50" in text(tile(page(user_client), CPT))


def test_caps_read_before_a_change_and_stored_after_it_are_not_used(monkeypatch, django_capture_on_commit_callbacks):
    caps = selectors.YearlyCap

    class CapsReadWhileStaffChangesOne:
        class objects:
            @staticmethod
            def values_list(*fields):
                rows = list(caps.objects.values_list(*fields))  # this render has read the caps ...
                with django_capture_on_commit_callbacks(execute=True):  # ... when staff lower one and commit
                    cap = caps.objects.get(format="volunteering")
                    cap.max_cecs = Decimal("2")
                    cap.save()
                return rows  # ... and the render stores what it read

    monkeypatch.setattr(selectors, "YearlyCap", CapsReadWhileStaffChangesOne)
    assert selectors.cap_rules()["volunteering"] == Decimal("8.00")
    monkeypatch.setattr(selectors, "YearlyCap", caps)
    assert selectors.cap_rules()["volunteering"] == Decimal("2.00")


def test_a_new_day_renders_the_page_again(client, user, today):
    """The page stored in the cycle's last minute is not served in the first minute of the grace period."""
    end = date(today.year, 12, 31)
    certification_with_cycle(user, "CPT", date(today.year - 2, 1, 1), end)
    with time_machine.travel(at(end, 23, 59), tick=False) as traveller:
        client.force_login(user)
        page(client)
        t = text(tile(cached_page(client), CPT))
        assert "Recertification in Process" in t
        assert f"Renew by 12/31/{end.year} at 11:59 PM Eastern time; after that a $80.00 late fee applies." in t
        traveller.move_to(at(end + timedelta(days=1), 0, 0))
        t = text(tile(page(client), CPT))
    assert "Recertification in Process" not in t
    assert "Expired (grace period)" in t
    assert (f"Your cycle ended 12/31/{end.year}. You can still renew until 6/30/{end.year + 1} at 11:59 PM "
            "Eastern time, with a $80.00 late fee.") in t


def test_a_new_name_shows_in_the_header(user_client, user, cpt):
    page(user_client)
    user.first_name = "Renamed"
    user.save()
    assert f"Renamed {user.last_name} · Member ID {user.member_id}" in page(user_client)


def test_each_person_gets_only_their_own_page(user_client, other_client, user, other_user, cpt, open_cycle, today):
    certification_with_cycle(other_user, "CPT", *open_cycle)
    CECEntryFactory(user=user, date_earned=today, course_name="Only mine")
    CECEntryFactory(user=other_user, date_earned=today, course_name="Only theirs")
    for _ in range(2):
        mine, theirs = page(user_client), page(other_client)
        assert "Only mine" in mine and "Only theirs" not in mine
        assert "Only theirs" in theirs and "Only mine" not in theirs
        assert user.member_id in mine and other_user.member_id not in mine


def test_the_stored_pages_csrf_token_is_each_responses_own_and_works(user, open_cycle):
    certification = renewable_certification(user, "CPT", *open_cycle)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page(client)
    html = cached_page(client)
    token = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = client.post(reverse("cart_renew", args=[certification.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "In cart" in text(tile(page(client), CPT))


def test_losing_the_cache_costs_only_a_render(user_client, user, cpt, today):
    CECEntryFactory(user=user, date_earned=today, units=Decimal("7"), cecs=Decimal("7"))
    page(user_client)
    cache.delete_pattern("*")  # eviction or a Redis restart: sessions stay in the database
    assert "7 of 45" in text(tile(page(user_client), CPT))


# The tokens, directly: a page rendered while a change lands is never served after it. ------------------------


@pytest.fixture
def request_of(user):
    def make():
        request = RequestFactory().get(reverse("dashboard"))
        request.user = user
        request.session = SessionStore()
        request._messages = default_storage(request)
        return request
    return make


def test_a_page_rendered_while_a_credit_is_saved_is_not_kept(request_of, user, cpt, today):
    def render_then_change(context):
        CECEntryFactory(user=user, date_earned=today)  # lands while this render was reading the old ledger
        return "rendered from the old ledger"

    assert dashboard_page(request_of(), today=today, render=render_then_change) == "rendered from the old ledger"
    assert dashboard_page(request_of(), today=today, render=lambda context: "fresh") == "fresh"
    assert dashboard_page(request_of(), today=today, render=lambda context: "not asked for") == "fresh"


def test_a_page_rendered_before_a_change_commits_is_dropped_when_it_commits(
    request_of, user, cpt, today, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as after_commit:
        CECEntryFactory(user=user, date_earned=today)
        # Another process renders before the commit: under READ COMMITTED it still sees the old ledger.
        dashboard_page(request_of(), today=today, render=lambda context: "the old ledger")
        assert dashboard_page(request_of(), today=today, render=lambda context: "x") == "the old ledger"
    assert after_commit  # the tokens are dropped again once the change is committed
    for callback in after_commit:
        callback()
    assert dashboard_page(request_of(), today=today, render=lambda context: "the new ledger") == "the new ledger"


def test_a_rolled_back_change_costs_only_a_render(request_of, user, cpt, today):
    dashboard_page(request_of(), today=today, render=lambda context: "before")
    with pytest.raises(RuntimeError), transaction.atomic():
        CECEntryFactory(user=user, date_earned=today)
        raise RuntimeError("rolled back")
    assert CECEntry.objects.filter(user=user).count() == 0
    assert dashboard_page(request_of(), today=today, render=lambda context: "again") == "again"


def test_every_table_a_render_reads_is_watched(user_client, user, open_cycle):
    """A table added to the dashboard's queries later must get a receiver too, or this fails."""
    from django.apps import apps

    renewable_certification(user, "CPT", *open_cycle)
    cache.delete_pattern("*")
    with CaptureQueriesContext(connection) as ctx:
        page(user_client)
    read = {table for query in ctx.captured_queries for table in re.findall(r'(?:FROM|JOIN) "(\w+)"', query["sql"])}
    watched = {apps.get_model(label)._meta.db_table for label in (*dashboard_cache.OWNED, *dashboard_cache.REFERENCE)}
    # Sessions and users are the request's own (a user's change drops their cached copy, and the page is
    # stamped with the name it shows); a cart row only links lines to their person and never moves.
    request_tables = {"django_session", "accounts_user", "cart_cart"}
    assert "cecs_cecentry" in read and "certifications_cycle" in read
    assert read - request_tables <= watched, read - request_tables - watched
