"""The staff CPR review queue at volume: the same queries for a page of 1 card or 30, rows written from one query,
counts that do not count 100,000 cards, searches by index, and later pages in queue order."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from acsm_portal import clock
from certifications.cpr.admin import CprQueuePaginator
from certifications.models import CprUpload
from tests.factories import UserFactory, certification_with_cycle
from tests.pages import text

from .cpr_helpers import reviewer, submitted

CHANGELIST = reverse("admin:certifications_cprupload_changelist")
STATES = ("pending", "approved", "rejected")


@pytest.fixture
def staff(db):
    return reviewer(email="reviewer@example.org", first_name="Robin", last_name="Reyes")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def cards(count: int, *, start: int = 0, states=("pending",), reviewers=()) -> list[CprUpload]:
    """``count`` certificants (member IDs 320000 + n) with one card each, submitted a day apart, oldest first; the
    n-th card in ``states[n % len(states)]``, decided by ``reviewers[n % len(reviewers)]``; every third with two
    files."""
    made = []
    for n in range(start, start + count):
        person = UserFactory(member_id=f"{320000 + n}", email=f"queue{n}@example.com", first_name=f"Sam{n}",
                             last_name="Okafor" if n % 2 else f"Silva{n}")
        state = states[n % len(states)]
        card = submitted(certification_with_cycle(person, ("CPT", "EP", "GEI")[n % 3]), state=state,
                         by=reviewers[n % len(reviewers)] if reviewers else None, files=2 if n % 3 == 0 else 1)
        CprUpload.objects.filter(pk=card.pk).update(submitted_at=clock.now() - timedelta(days=100 - n))
        made.append(card)
    return made


def rows(response) -> list[dict]:
    return response.context["cl"].result_list


def table(html: str) -> tuple[list[str], list[list[str]]]:
    """The queue table's header texts and each row's cell texts (the checkbox column included, as "")."""
    body = html.split('<table id="result_list">')[1].split("</table>")[0]
    head, rest = body.split("</thead>")
    headers = [text(cell) for cell in re.findall(r"<th scope=\"col\".*?</th>", head, re.S)]
    found = [[text(cell) for cell in re.findall(r"<t[hd][ >].*?</t[hd]>", row, re.S)]
             for row in re.findall(r"<tr>(.*?)</tr>", rest, re.S)]
    return headers, found


@pytest.mark.django_db
class TestQueries:
    @pytest.mark.parametrize("status", ["pending", "all"])
    def test_a_page_of_thirty_cards_takes_the_queries_of_a_page_of_one(self, staff_client, status,
                                                                        django_assert_num_queries):
        deciders = [reviewer(first_name="Dana", last_name=f"Decider{n}") for n in range(3)]
        cards(1, states=STATES, reviewers=deciders)
        staff_client.get(CHANGELIST, {"status": status})
        # session, user, the reviewer's two permission lookups, the certification types of the filter, the count,
        # the page's rows (cards with their certificant, type, reviewer and file count)
        with django_assert_num_queries(7):
            one = staff_client.get(CHANGELIST, {"status": status})
        assert len(rows(one)) == 1
        cards(29, start=1, states=STATES, reviewers=deciders)
        with django_assert_num_queries(7):
            thirty = staff_client.get(CHANGELIST, {"status": status})
        assert len(rows(thirty)) == (30 if status == "all" else 10)

    def test_a_later_page_is_the_next_cards_in_queue_order(self, staff_client, monkeypatch):
        monkeypatch.setattr(admin.site._registry[CprUpload], "list_per_page", 2)
        made = cards(5, states=("pending", "approved"))
        pending = [card.certification.user.member_id for card in made if card.state == "pending"]
        assert [r["member_id"] for r in rows(staff_client.get(CHANGELIST, {"p": 2}))] == pending[2:]
        everyone = [card.certification.user.member_id for card in made]
        assert [r["member_id"] for r in rows(staff_client.get(CHANGELIST, {"status": "all", "p": 2}))] == everyone[2:4]
        assert [r["member_id"] for r in rows(staff_client.get(CHANGELIST, {"status": "all", "p": 3}))] == everyone[4:]


@pytest.mark.django_db
class TestRows:
    def test_each_column_shows_its_value(self, staff_client, staff):
        waiting, decided = cards(2, states=("pending", "approved"), reviewers=[staff])
        html = staff_client.get(CHANGELIST, {"status": "all"}).content.decode()
        headers, found = table(html)
        assert headers == ["", "Submitted at", "Member ID", "Member", "Certification", "Card type", "Card expires on",
                           "Files", "State", "Reviewed by"]
        zone = clock.zone_for(staff)
        expected = []
        for card, state, reviewed_by in ((waiting, "Submitted – pending review", "-"),
                                         (decided, "Approved", "Robin Reyes")):
            card.refresh_from_db()
            person = card.certification.user
            at = card.submitted_at.astimezone(zone)
            expected.append([
                "", f"{at.month}/{at.day}/{at.year} {at:%-I:%M %p}", person.member_id,
                f"{person.first_name} {person.last_name} &lt;{person.email}&gt;", card.certification.certification_type.code,
                "CPR/AED", f"{card.expires_on.month}/{card.expires_on.day}/{card.expires_on.year}",
                "2" if card is waiting else "1", state, reviewed_by,
            ])
        assert found == expected
        change = reverse("admin:certifications_cprupload_change", args=[waiting.pk])
        assert f'<a href="{change}?_changelist_filters=status%3Dall">320000</a>' in html
        assert (f'<input type="checkbox" name="_selected_action" value="{waiting.pk}" class="action-select" '
                f'aria-label="Select the CPR card of Sam0 Silva0 (320000)">') in html

    def test_names_are_escaped(self, staff_client):
        person = UserFactory(first_name="<b>Al</b>", last_name="O'Neil & Co")
        submitted(certification_with_cycle(person, "CPT"))
        html = staff_client.get(CHANGELIST).content.decode()
        assert "&lt;b&gt;Al&lt;/b&gt; O&#x27;Neil &amp; Co &lt;" in html
        assert "<b>Al</b>" not in html

    def test_only_the_pending_queue_sorts_by_any_column(self, staff_client):
        cards(3)
        pending = staff_client.get(CHANGELIST).content.decode()
        assert [h["text"] for h in staff_client.get(CHANGELIST).context["cl"].queue_headers if h["sortable"]] == [
            "submitted at", "Member ID", "Member", "Certification", "card type", "card expires on", "Files", "state",
            "reviewed by"]
        assert 'href="?o=2.1"' in pending  # Member ID, then the submission time
        by_member = staff_client.get(CHANGELIST, {"o": "-2"})
        assert [r["member_id"] for r in rows(by_member)] == ["320002", "320001", "320000"]
        everyone = staff_client.get(CHANGELIST, {"status": "all"})
        assert [h["text"] for h in everyone.context["cl"].queue_headers if h["sortable"]] == ["submitted at"]


@pytest.mark.django_db
class TestCounts:
    def test_a_small_selection_is_counted_exactly(self, staff_client):
        cards(3)
        response = staff_client.get(CHANGELIST)
        assert response.context["cl"].paginator.estimated is False
        assert "3 CPR card uploads" in text(response.content.decode())

    def test_a_large_selection_shows_the_planners_estimate_without_counting_it(self, staff_client, monkeypatch):
        monkeypatch.setattr(CprQueuePaginator, "ESTIMATE_FROM", 4)
        monkeypatch.setattr(admin.site._registry[CprUpload], "list_per_page", 2)
        cards(6, states=("pending", "approved"))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE certifications_cprupload")  # statistics as autovacuum keeps them
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(CHANGELIST, {"status": "all"})
        page = text(response.content.decode())
        assert response.context["cl"].paginator.estimated is True
        assert "about 6 CPR card uploads" in page
        counts = [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(")]
        assert len(counts) == 1 and "LIMIT 4" in counts[0]  # stops at the threshold
        assert "Select all" not in page  # no "all N selected" for an estimate
        # Past the estimate's last page: an empty page, not an error.
        beyond = staff_client.get(CHANGELIST, {"status": "all", "p": 9})
        assert beyond.status_code == 200
        assert rows(beyond) == []

    def test_a_search_is_counted_exactly(self, staff_client, monkeypatch):
        monkeypatch.setattr(CprQueuePaginator, "ESTIMATE_FROM", 2)
        cards(4)
        response = staff_client.get(CHANGELIST, {"q": "okafor"})
        assert response.context["cl"].paginator.estimated is False
        assert [r["member_id"] for r in rows(response)] == ["320001", "320003"]


@pytest.mark.django_db
class TestSearch:
    @pytest.mark.parametrize("term, found", [
        ("320002", ["320002"]),
        ("32000", ["320000", "320001", "320002", "320003"]),
        ("Queue1@Example.COM", ["320001"]),
        ("queue", []),  # an email is found by its start only when the term has an "@"
        ("OKAFOR", ["320001", "320003"]),
        ("Sam3 Okafor", ["320003"]),
        ("sam okafor", ["320001", "320003"]),
        ("silva2", ["320002"]),
        ("Silva", []),  # a last name is found whole
        ("  ", ["320000", "320001", "320002", "320003"]),
    ])
    def test_by_member_id_email_or_name(self, staff_client, term, found):
        cards(4)
        assert [r["member_id"] for r in rows(staff_client.get(CHANGELIST, {"q": term}))] == found
