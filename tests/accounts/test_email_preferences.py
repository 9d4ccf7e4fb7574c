"""Email preferences: the reminders switch, its page, and the signed one-click unsubscribe link (RFC 8058)."""

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.email_preferences import (
    ALWAYS_SENT,
    REMINDER_KINDS,
    masked_email,
    preferences_url,
    unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_url,
    user_for_unsubscribe_token,
)
from accounts.models import User
from accounts.services import AccountError, email_preferences_update
from acsm_portal import clock
from tests.e2e.helpers import log_in
from tests.factories import UserFactory
from tests.pages import text
from tests.waits import wait_until

BASE = "https://portal.example.org"
ONE_CLICK = "List-Unsubscribe=One-Click"
INVALID = "This unsubscribe link is not valid. Log in and open Email preferences instead."
LOGGER = "accounts.services"


@pytest.fixture
def frozen():
    """The clock stopped at a whole second; yields that moment."""
    moment = clock.now().replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def casey(db):
    return UserFactory(email="casey@example.com", first_name="Casey")


def preference(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return user.reminders_enabled, user.reminders_changed_at


def logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def one_click(url: str):
    """What a mail client does for RFC 8058: a POST of ``List-Unsubscribe=One-Click``, no cookie, no CSRF token."""
    return Client(enforce_csrf_checks=True).post(url, data=ONE_CLICK, content_type="application/x-www-form-urlencoded")


def unsubscribe_path(user) -> str:
    return reverse("email_unsubscribe", args=[unsubscribe_token(user)])


def changed_one_character(token: str, at: int) -> str:
    replacement = "A" if token[at] != "A" else "B"
    return token[:at] + replacement + token[at + 1:]


# The switch --------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
class TestEmailPreferencesUpdate:
    def test_a_new_account_gets_reminders(self, casey):
        assert preference(casey) == (True, None)

    def test_turning_reminders_off_records_when_and_logs_who_and_how(self, casey, frozen, caplog):
        caplog.set_level(logging.INFO, logger=LOGGER)
        assert email_preferences_update(user_id=casey.pk, reminders=False, how="preferences page") is True
        assert preference(casey) == (False, frozen)
        assert logged(caplog) == [f"Reminder emails of user {casey.pk} turned off (preferences page)"]

    def test_the_same_value_again_changes_nothing(self, casey, frozen, caplog):
        caplog.set_level(logging.INFO, logger=LOGGER)
        assert email_preferences_update(user_id=casey.pk, reminders=True, how="preferences page") is False
        assert preference(casey) == (True, None)
        email_preferences_update(user_id=casey.pk, reminders=False, how="one-click unsubscribe")
        with time_machine.travel(frozen + timedelta(hours=1), tick=False):
            assert email_preferences_update(user_id=casey.pk, reminders=False, how="unsubscribe page") is False
        assert preference(casey) == (False, frozen)
        assert logged(caplog) == [f"Reminder emails of user {casey.pk} turned off (one-click unsubscribe)"]

    def test_turning_them_on_again(self, casey, frozen, caplog):
        caplog.set_level(logging.INFO, logger=LOGGER)
        email_preferences_update(user_id=casey.pk, reminders=False, how="unsubscribe page")
        later = frozen + timedelta(days=3)
        with time_machine.travel(later, tick=False):
            assert email_preferences_update(user_id=casey.pk, reminders=True, how="preferences page") is True
        assert preference(casey) == (True, later)
        assert logged(caplog) == [f"Reminder emails of user {casey.pk} turned off (unsubscribe page)",
                                  f"Reminder emails of user {casey.pk} turned on (preferences page)"]

    def test_only_that_person_is_changed(self, casey, other_user):
        email_preferences_update(user_id=casey.pk, reminders=False, how="preferences page")
        assert preference(other_user) == (True, None)

    def test_no_such_user(self, db):
        with pytest.raises(AccountError, match="There is no such account."):
            email_preferences_update(user_id=987654321, reminders=False, how="preferences page")


@pytest.mark.django_db(transaction=True)
class TestDoubleClick:
    def test_a_second_click_waits_for_the_row_lock_and_then_finds_nothing_to_do(self):
        person = UserFactory()
        results = []

        def click():
            try:
                results.append(email_preferences_update(user_id=person.pk, reminders=False, how="unsubscribe page"))
            finally:
                connections.close_all()

        with transaction.atomic():
            first = User.objects.select_for_update().get(pk=person.pk)  # the first click, holding the row
            second = threading.Thread(target=click)
            second.start()
            wait_until(lambda: _waiting_for_a_lock(), what="the second click to wait for the row lock")
            assert results == []
            first.reminders_enabled, first.reminders_changed_at = False, clock.now()
            first.save(update_fields=["reminders_enabled", "reminders_changed_at"])
            held_at = first.reminders_changed_at
        second.join()
        assert results == [False]
        assert preference(person) == (False, held_at)

    def test_two_clicks_at_once_change_it_once(self):
        person = UserFactory()

        def click(_):
            try:
                return email_preferences_update(user_id=person.pk, reminders=False, how="one-click unsubscribe")
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert sorted(pool.map(click, range(2))) == [False, True]
        assert preference(person)[0] is False


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is otherwise frozen
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] == 1


# The signed link ---------------------------------------------------------------------------------------------------

@pytest.mark.django_db
class TestUnsubscribeToken:
    def test_a_token_names_its_person(self, casey, other_user):
        assert user_for_unsubscribe_token(unsubscribe_token(casey)) == casey
        assert user_for_unsubscribe_token(unsubscribe_token(other_user)) == other_user
        assert unsubscribe_token(casey) != unsubscribe_token(other_user)

    def test_the_token_is_the_same_each_time_and_shows_no_address(self, casey):
        token = unsubscribe_token(casey)
        assert token == unsubscribe_token(User.objects.get(pk=casey.pk))
        assert token.startswith(f"{casey.pk}.")
        assert "casey" not in token and "@" not in token and "/" not in token

    def test_the_url_is_absolute(self, casey, settings):
        settings.PORTAL_BASE_URL = BASE
        token = unsubscribe_token(casey)
        assert unsubscribe_url(casey) == f"{BASE}/email/unsubscribe/{token}/"
        assert preferences_url() == f"{BASE}/accounts/email/"

    def test_the_headers_of_a_reminder(self, casey, settings):
        settings.PORTAL_BASE_URL = BASE
        assert unsubscribe_headers(casey) == {
            "List-Unsubscribe": f"<{BASE}/email/unsubscribe/{unsubscribe_token(casey)}/>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def test_every_one_character_change_is_refused(self, casey):
        token = unsubscribe_token(casey)
        assert [at for at in range(len(token)) if user_for_unsubscribe_token(changed_one_character(token, at))] == []

    def test_another_persons_number_under_this_signature_is_refused(self, casey, other_user):
        value, signature = unsubscribe_token(casey).split(":")
        digest = value.split(".")[1]
        assert user_for_unsubscribe_token(f"{other_user.pk}.{digest}:{signature}") is None

    @pytest.mark.parametrize("token", ["", "x", ":", "1", "1:", ":abc", "1.abc:def", "💥" * 10, "1" * 5000, None, 42])
    def test_garbage_is_refused_without_raising(self, casey, token):
        assert user_for_unsubscribe_token(token) is None

    def test_a_token_signed_with_another_salt_is_refused(self, casey):
        value = unsubscribe_token(casey).split(":")[0]
        assert user_for_unsubscribe_token(signing.Signer().sign(value)) is None
        assert user_for_unsubscribe_token(signing.Signer(salt="other").sign(value)) is None

    def test_a_token_with_a_large_number_is_refused_without_raising(self, casey):
        value = unsubscribe_token(casey).split(":")[0]
        digest = value.split(".")[1]
        assert user_for_unsubscribe_token(signing.Signer(salt="accounts.email_unsubscribe").sign(
            f"{'9' * 30}.{digest}")) is None

    def test_a_person_who_is_not_there(self, casey):
        nobody = User(pk=User.objects.order_by("-pk").first().pk + 1000, email="casey@example.com")
        assert user_for_unsubscribe_token(unsubscribe_token(nobody)) is None

    def test_a_link_sent_to_an_old_address_stops_working_when_the_address_changes(self, casey):
        token = unsubscribe_token(casey)
        User.objects.filter(pk=casey.pk).update(email="casey.new@example.com")
        assert user_for_unsubscribe_token(token) is None
        assert user_for_unsubscribe_token(unsubscribe_token(User.objects.get(pk=casey.pk))) == casey

    def test_it_never_expires(self, casey):
        token = unsubscribe_token(casey)
        today = clock.today()
        with time_machine.travel(clock.now().replace(year=today.year + 10, month=1, day=2), tick=False):
            assert user_for_unsubscribe_token(token) == casey

    def test_it_outlives_a_secret_key_rotation(self, casey, settings):
        token = unsubscribe_token(casey)
        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
        assert user_for_unsubscribe_token(token) == casey
        settings.SECRET_KEY_FALLBACKS = []
        assert user_for_unsubscribe_token(token) is None


@pytest.mark.parametrize(("email", "masked"), [
    ("casey@example.com", "c****@example.com"),
    ("c@example.com", "c****@example.com"),
    ("jordan.lee+acsm@mail.example.org", "j****@mail.example.org"),
])
def test_the_address_is_masked(email, masked):
    assert masked_email(email) == masked


# The unsubscribe page ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
class TestUnsubscribePage:
    def test_get_asks_and_changes_nothing(self, casey, client):
        response = client.get(unsubscribe_path(casey))
        assert response.status_code == 200
        html = response.content.decode()
        assert "<h1 class=\"h3\" id=\"unsubscribe-title\">Stop reminder emails?</h1>" in html
        words = text(html)
        assert "For c****@example.com, these reminders stop:" in words
        assert "casey@example.com" not in html
        for kind in REMINDER_KINDS + ALWAYS_SENT:
            assert f"<li>{kind}</li>" in html
        assert "These still arrive:" in words
        [form] = re.findall(r'<form method="post">.*?</form>', html, re.S)
        assert '<button type="submit" class="btn btn-primary">Turn off reminders</button>' in form
        assert "no-store" in response["Cache-Control"]
        assert preference(casey) == (True, None)

    def test_get_again_and_again_changes_nothing(self, casey):
        for _ in range(3):
            assert Client().get(unsubscribe_path(casey)).status_code == 200
        assert preference(casey) == (True, None)

    def test_one_click_post_without_cookie_or_csrf_token_turns_reminders_off(self, casey, frozen, caplog):
        caplog.set_level(logging.INFO, logger=LOGGER)
        response = one_click(unsubscribe_path(casey))
        assert response.status_code == 200
        words = text(response.content.decode())
        assert "Reminders are off for c****@example.com." in words
        assert (f'Log in and turn them on again in <a href="{reverse("email_preferences")}">Email preferences</a>.'
                in response.content.decode())
        assert preference(casey) == (False, frozen)
        assert logged(caplog) == [f"Reminder emails of user {casey.pk} turned off (one-click unsubscribe)"]

    def test_one_click_twice_answers_the_same_and_changes_once(self, casey, frozen):
        first = one_click(unsubscribe_path(casey))
        with time_machine.travel(frozen + timedelta(minutes=5), tick=False):
            second = one_click(unsubscribe_path(casey))
        assert (first.status_code, second.status_code) == (200, 200)
        assert "Reminders are off for c****@example.com." in text(second.content.decode())
        assert preference(casey) == (False, frozen)

    def test_the_pages_button_turns_reminders_off(self, casey, frozen, caplog):
        caplog.set_level(logging.INFO, logger=LOGGER)
        browser = Client(enforce_csrf_checks=True)
        browser.get(unsubscribe_path(casey))
        response = browser.post(unsubscribe_path(casey))
        assert response.status_code == 200
        assert "Reminders are off for c****@example.com." in text(response.content.decode())
        assert preference(casey) == (False, frozen)
        assert logged(caplog) == [f"Reminder emails of user {casey.pk} turned off (unsubscribe page)"]

    def test_a_token_for_one_person_never_touches_another(self, casey, other_user):
        assert one_click(unsubscribe_path(casey)).status_code == 200
        assert preference(casey)[0] is False
        assert preference(other_user) == (True, None)

    def test_a_token_with_one_character_changed_is_404_and_changes_nothing(self, casey):
        token = unsubscribe_token(casey)
        tampered = changed_one_character(token, len(token) - 3)
        for response in (Client().get(f"/email/unsubscribe/{tampered}/"), one_click(f"/email/unsubscribe/{tampered}/")):
            assert response.status_code == 404
            assert INVALID in text(response.content.decode())
        assert preference(casey) == (True, None)

    def test_unknown_and_tampered_get_the_same_answer(self, casey):
        token = unsubscribe_token(casey)
        tampered = Client().get(f"/email/unsubscribe/{changed_one_character(token, 0)}/")
        nobody = User(pk=casey.pk + 1000, email=casey.email)
        gone = Client().get(unsubscribe_path(nobody))
        assert (tampered.status_code, gone.status_code) == (404, 404)
        assert tampered.content == gone.content
        assert f'<a href="{reverse("email_preferences")}">Email preferences</a>' in gone.content.decode()

    def test_other_methods_are_refused(self, casey):
        for method in ("put", "delete", "patch"):
            assert getattr(Client(), method)(unsubscribe_path(casey)).status_code == 405
        assert preference(casey) == (True, None)

    def test_the_preferences_link_asks_an_anonymous_person_to_log_in(self, casey, client):
        response = client.get(reverse("email_preferences"))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={reverse('email_preferences')}"


# The Email preferences page ----------------------------------------------------------------------------------------

@pytest.mark.django_db
class TestEmailPreferencesPage:
    def test_the_page_lists_reminders_and_what_is_always_sent(self, user_client, user):
        response = user_client.get(reverse("email_preferences"))
        assert response.status_code == 200
        html = response.content.decode()
        assert '<h1 class="h2 mb-3">Email preferences</h1>' in html
        assert re.search(r'<input type="checkbox" name="reminders"[^>]*\bchecked\b', html)
        assert re.search(r'<label[^>]*for="id_reminders"[^>]*>\s*Send me reminders\s*</label>', html)
        for kind in REMINDER_KINDS + ALWAYS_SENT:
            assert f"<li>{kind}</li>" in html
        assert '<h2 class="box-title" id="prefs-always">Always sent</h2>' in html
        assert 'name="csrfmiddlewaretoken"' in html
        assert f"Reminders are sent to {user.email}:" in text(html)

    def test_saving_unchecked_turns_reminders_off(self, user_client, user, frozen, caplog):
        caplog.set_level(logging.INFO, logger=LOGGER)
        response = user_client.post(reverse("email_preferences"), {})
        assert response.status_code == 302
        assert response["Location"] == reverse("email_preferences")
        assert preference(user) == (False, frozen)
        assert logged(caplog) == [f"Reminder emails of user {user.pk} turned off (preferences page)"]
        page = user_client.get(response["Location"]).content.decode()
        assert "Your email preferences are saved." in page
        assert re.search(r'<input type="checkbox" name="reminders"[^>]*>', page)[0].count("checked") == 0

    def test_saving_checked_turns_them_on_again(self, user_client, user, frozen):
        User.objects.filter(pk=user.pk).update(reminders_enabled=False)
        response = user_client.post(reverse("email_preferences"), {"reminders": "on"}, follow=True)
        assert response.redirect_chain == [(reverse("email_preferences"), 302)]
        assert "Your email preferences are saved." in response.content.decode()
        assert preference(user) == (True, frozen)

    def test_saving_what_is_already_there_changes_nothing(self, user_client, user):
        response = user_client.post(reverse("email_preferences"), {"reminders": "on"}, follow=True)
        assert "Your email preferences are saved." in response.content.decode()
        assert preference(user) == (True, None)

    def test_the_page_is_not_stored(self, user_client):
        assert "no-store" in user_client.get(reverse("email_preferences"))["Cache-Control"]

    def test_the_nav_and_the_profile_link_to_it(self, user_client):
        link = f'href="{reverse("email_preferences")}">Email preferences</a>'
        assert user_client.get(reverse("profile")).content.decode().count(link) == 2
        assert user_client.get(reverse("home")).content.decode().count(link) == 1


# On a phone ---------------------------------------------------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_preferences_and_unsubscribe_on_a_phone(live_server, page: Page):
    person = UserFactory(email="casey@example.com")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + unsubscribe_path(person))
    expect(page.get_by_role("heading", name="Stop reminder emails?")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("button", name="Turn off reminders").click()
    expect(page.get_by_text("Reminders are off for c****@example.com.")).to_be_visible()
    assert preference(person)[0] is False

    log_in(page, live_server.url, person.email)
    page.goto(live_server.url + reverse("email_preferences"))
    expect(page.get_by_role("heading", name="Email preferences", exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.get_by_label("Send me reminders")
    expect(box).not_to_be_checked()
    box.check()
    page.get_by_role("button", name="Save email preferences").click()
    expect(page.get_by_text("Your email preferences are saved.")).to_be_visible()
    expect(page.get_by_label("Send me reminders")).to_be_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert preference(person)[0] is True
