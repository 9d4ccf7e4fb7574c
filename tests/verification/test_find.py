"""Find a certified professional: opt-in only (off by default, set on the profile page), an exact last name compared
like ``name_key`` (in SQL through an index on PostgreSQL, the same for every character), a state to narrow, at most
25 people, only the allowed facts, throttled per address."""

import sys
import unicodedata
from datetime import date

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.forms import FindListingForm
from accounts.models import BillingAddress, User
from certifications.certificate_status import certificate_transition
from certifications.suspensions import certification_suspend
from providers.rules import name_key
from tests.dates import at
from tests.factories import UserFactory, certification_with_cycle
from tests.security.pages import inline_code
from tests.verification.certificates import certificate
from verification.selectors import find_people, state_names

pytestmark = pytest.mark.django_db


def listed(first_name: str, last_name: str, *, city: str = "Indianapolis", state: str = "IN", code: str = "CPT",
           **fields) -> User:
    """A person listed in Find a certified professional, with a billing address and a certification (current)."""
    person = UserFactory(first_name=first_name, last_name=last_name, listed_in_find_a_pro=True, **fields)
    BillingAddress.objects.create(user=person, line1="9 Private Road", city=city, state=state, postal_code="46202")
    certification_with_cycle(person, code)
    return person


def found(last_name: str, state: str = "") -> list[str]:
    return [p.name for p in find_people(last_name=last_name, state=state).people]


class TestWhoIsFound:
    def test_nobody_is_listed_unless_they_chose_to_be(self):
        assert User._meta.get_field("listed_in_find_a_pro").default is False
        unlisted = UserFactory(first_name="Ada", last_name="Okafor")
        certification_with_cycle(unlisted, "CPT")
        assert unlisted.listed_in_find_a_pro is False
        listed("Ben", "Okafor")
        gone = listed("Cy", "Okafor")
        gone.is_active = False
        gone.save()
        assert found("Okafor") == ["Ben Okafor"]

    def test_only_the_exact_last_name_compared_like_name_key(self):
        listed("Zoë", "de la Cruz")
        listed("Ana", "Delacruz")
        listed("Eve", "Cruz")
        listed("Al", "de la Cruzado")
        for typed in ("de la Cruz", "DELACRUZ", "  de la  Crúz ", "De La Cruz"):
            assert found(typed) == ["Ana Delacruz", "Zoë de la Cruz"], typed
        assert found("Cruz") == ["Eve Cruz"]
        assert found("de la") == [] and found("Cru") == [] and found("%") == [] and found(" ") == []

    def test_other_databases_compare_in_python_alike(self, monkeypatch):
        listed("Zoë", "de la Cruz")
        listed("Eve", "Cruz")
        monkeypatch.setattr(connection, "vendor", "sqlite")  # SQLite (development) has no accounts_name_key
        assert found("DELACRUZ") == ["Zoë de la Cruz"]
        assert found("cruz") == ["Eve Cruz"]

    def test_people_without_a_certification_are_not_professionals_to_find(self):
        UserFactory(first_name="Dee", last_name="Okafor", listed_in_find_a_pro=True)
        assert found("Okafor") == []

    @pytest.mark.parametrize("typed", ["IN", "in", "Indiana", " indiana "])
    def test_a_state_by_code_or_name_narrows(self, typed):
        listed("Ben", "Okafor", state="IN")
        listed("Cy", "Okafor", state="Indiana")
        listed("Di", "Okafor", state="OH")
        listed("Ed", "Okafor", state="Ontario")
        assert found("Okafor", typed) == ["Ben Okafor", "Cy Okafor"]
        assert found("Okafor", "Ontario") == ["Ed Okafor"]
        assert found("Okafor") == ["Ben Okafor", "Cy Okafor", "Di Okafor", "Ed Okafor"]

    def test_state_names(self):
        assert state_names("in") == {"in", "IN", "Indiana"}
        assert state_names("New  York") == {"New York", "NY"}
        assert state_names("Ontario") == {"Ontario"}

    def test_at_most_25_and_says_there_are_more(self):
        for n in range(27):
            listed(f"P{n:02d}", "Nakamura")
        result = find_people(last_name="Nakamura")
        assert [p.name for p in result.people] == [f"P{n:02d} Nakamura" for n in range(25)]
        assert result.more is True
        assert find_people(last_name="Nakamura", limit=30).more is False

    def test_each_certification_with_its_live_status(self, today):
        person = listed("Ben", "Okafor", code="CPT")
        ep = certification_with_cycle(person, "EP")
        cert = certificate(person, valid_through=date(today.year + 1, 12, 31), code="GEI")
        certificate_transition(certificate_id=cert.pk, to="revoked", actor="staff:1", reason="Forged.")
        certification_suspend(certification_id=ep.pk, actor="audit 3", reason="Audit 3 failed.")
        [ben] = find_people(last_name="Okafor").people
        assert (ben.name, ben.place) == ("Ben Okafor", "Indianapolis, IN")
        assert [(c.name, c.status.label, c.status.tone) for c in ben.certifications] == [
            ("Certified Group Exercise Instructor", "Revoked", "danger"),
            ("Certified Personal Trainer", "Active", "success"),
            ("Certified Exercise Physiologist", "Suspended", "danger"),
        ]

    @pytest.mark.parametrize(("ended_years_ago", "label"), [(1, "Expired (grace period)"), (2, "Lapsed")])
    def test_without_a_certificate_the_open_cycle_gives_the_status(self, today, ended_years_ago, label):
        person = listed("Ben", "Okafor")
        end = date(today.year - ended_years_ago, 12, 31)
        person.certifications.get().cycles.update(start=date(end.year - 2, 1, 1), end=end)
        with time_machine.travel(at(date(today.year, 3, 15), 12), tick=False):
            [ben] = find_people(last_name="Okafor").people
        assert [c.status.label for c in ben.certifications] == [label]


class TestThePage:
    def test_explains_the_opt_in_and_links_the_profile_setting(self, client):
        response = client.get(reverse("find_a_pro"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "Only people who chose to be listed appear here" in html
        assert f'<a href="{reverse("profile")}#find-listing">profile</a>' in html
        assert inline_code(html) == [] and ' style="' not in html

    def test_shows_name_certifications_place_and_status_and_nothing_else(self, client):
        listed("Ben", "Okafor", email="ben.okafor@example.com", member_id="731905", city="Bloomington")
        response = client.get(reverse("find_a_pro"), {"last_name": "okafor", "state": "Indiana"})
        html = response.content.decode()
        assert response.status_code == 200
        assert "1 person found" in html
        assert '<h3 class="h5 mb-1" dir="auto">Ben Okafor</h3>' in html
        assert '<p class="mb-2 text-body-secondary find-place" dir="auto">Bloomington, IN</p>' in html
        assert "Certified Personal Trainer" in html and "✓ </span>Active</span>" in html
        for private in ("ben.okafor@example.com", "731905", "Member ID", "9 Private Road", "46202"):
            assert private not in html, private

    def test_nobody_found_is_said(self, client):
        listed("Ben", "Okafor")
        html = client.get(reverse("find_a_pro"), {"last_name": "Okafo", "state": ""}).content.decode()
        assert "Nobody found" in html and "Ben" not in html

    def test_a_last_name_is_required(self, client):
        response = client.get(reverse("find_a_pro"), {"last_name": "", "state": "IN"})
        assert response.status_code == 400 and "This field is required." in response.content.decode()

    def test_searches_beyond_the_rate_get_429(self, settings):
        settings.VERIFY_RATE = "2/m"
        listed("Ben", "Okafor")
        first, other = Client(REMOTE_ADDR="198.51.100.4"), Client(REMOTE_ADDR="198.51.100.5")
        assert first.get(reverse("find_a_pro")).status_code == 200  # the blank page counts for nothing
        for _ in range(2):
            assert "Ben Okafor" in first.get(reverse("find_a_pro"), {"last_name": "Okafor"}).content.decode()
        limited = first.get(reverse("find_a_pro"), {"last_name": "Okafor"})
        assert (limited.status_code, limited["Retry-After"]) == (429, "60")
        assert "Too many searches from your address" in limited.content.decode()
        assert "Ben Okafor" not in limited.content.decode()
        assert other.get(reverse("find_a_pro"), {"last_name": "Okafor"}).status_code == 200


class TestTheProfileSetting:
    def test_off_by_default_then_on_then_off(self, user_client, user):
        page = user_client.get(reverse("profile")).content.decode()
        assert 'id="id_listed" aria-describedby="id_listed_helptext">' in page  # not checked
        assert FindListingForm.base_fields["listed"].label in page
        assert FindListingForm.base_fields["listed"].help_text in page
        response = user_client.post(reverse("find_a_pro_listing"), {"listed": "on"}, follow=True)
        assert response.redirect_chain == [(reverse("profile") + "#find-listing", 302)]
        assert "Saved. You are listed in Find a certified professional." in response.content.decode()
        assert 'aria-describedby="id_listed_helptext" checked>' in response.content.decode()
        user.refresh_from_db()
        assert user.listed_in_find_a_pro is True
        user_client.post(reverse("find_a_pro_listing"), {})
        user.refresh_from_db()
        assert user.listed_in_find_a_pro is False

    def test_only_a_post_and_only_logged_in(self, user_client, user):
        assert user_client.get(reverse("find_a_pro_listing")).status_code == 405
        response = Client().post(reverse("find_a_pro_listing"), {"listed": "on"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
        user.refresh_from_db()
        assert user.listed_in_find_a_pro is False


@pytest.mark.skipif("connection.vendor != 'postgresql'")
class TestTheKeyInSql:
    def test_the_sql_key_is_name_key_for_every_character(self):
        """Every code point but the surrogates; a name's key is its characters' keys joined (NFKD acts on each
        character, the marks it reorders are dropped, case folding is per character)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT n, accounts_name_key(chr(n)) FROM generate_series(1, %s) n "
                           "WHERE n NOT BETWEEN 55296 AND 57343", [sys.maxunicode])
            differ = [(hex(n), unicodedata.name(chr(n), "?"), key, name_key(chr(n)))
                      for n, key in cursor.fetchall() if key != name_key(chr(n))]
        assert differ == []

    @pytest.mark.parametrize("name", ["  De la Crúz ", "STRAUẞ", "Ὀδυσσεύς", "शर्मा", "Nguyễn", "Ꮳ Ꭶ", "O'Neil-Ørsted"])
    def test_whole_names(self, name):
        with connection.cursor() as cursor:
            cursor.execute("SELECT accounts_name_key(%s)", [name])
            assert cursor.fetchone()[0] == name_key(name)

    def test_the_search_uses_the_index_of_listed_names(self):
        listed("Ben", "Okafor")
        from verification.selectors import _listed_with_last_name

        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = _listed_with_last_name("Okafor").explain()
        assert "accounts_user_find_a_pro_name" in plan
