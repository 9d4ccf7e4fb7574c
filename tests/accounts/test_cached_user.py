"""The user of each request comes from the shared cache, and a change to the user counts from the next request."""

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.auth import USER_CACHE_KEY, USER_CACHE_SECONDS, USER_TOKEN_KEY
from accounts.models import User
from acsm_portal.cache_tokens import token_new

pytestmark = pytest.mark.django_db


def home(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("home"))
    return response, [q["sql"] for q in ctx.captured_queries if '"accounts_user"' in q["sql"]]


def test_settings_use_the_cached_backend_and_sessions():
    assert settings.AUTHENTICATION_BACKENDS[-1] == "accounts.auth.CachedModelBackend"
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    assert USER_CACHE_SECONDS == 300


def test_the_login_uses_the_cached_backend(client, user):
    response = client.post(reverse("login"), {"username": user.email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "accounts.auth.CachedModelBackend"


def test_only_the_first_request_reads_the_user_row(user_client, user):
    first, reads = home(user_client)
    assert first.status_code == 200
    assert len(reads) == 1
    second, reads = home(user_client)
    assert second.status_code == 200
    assert reads == []
    token, copy = cache.get(USER_CACHE_KEY.format(user.pk))
    assert (token, copy.email) == (cache.get(USER_TOKEN_KEY.format(user.pk)), user.email)


def test_a_deactivated_user_is_logged_out_at_the_next_request(user_client, user):
    home(user_client)
    user.is_active = False
    user.save()  # what the admin does
    response, _ = home(user_client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_password_changed_elsewhere_ends_this_session(user_client, user):
    home(user_client)
    user.set_password("a-new-secret-after-the-old-one")
    user.save()
    response, _ = home(user_client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_deleted_user_is_logged_out(user_client, user):
    home(user_client)
    User.objects.filter(pk=user.pk).delete()
    assert cache.get_many([USER_CACHE_KEY.format(user.pk), USER_TOKEN_KEY.format(user.pk)]) == {}
    response, _ = home(user_client)
    assert response.status_code == 302


def test_a_copy_cached_before_the_change_committed_is_dropped_at_commit(
    user_client, user, django_capture_on_commit_callbacks
):
    home(user_client)
    stale = User.objects.get(pk=user.pk)
    with django_capture_on_commit_callbacks() as after_commit:
        user.is_active = False
        user.save()
        # Another request, between the save and the commit, still reads the old row and stores it.
        token = token_new(USER_TOKEN_KEY.format(user.pk))
        cache.set(USER_CACHE_KEY.format(user.pk), (token, stale), USER_CACHE_SECONDS)
    assert home(user_client)[0].status_code == 200  # until the commit, the old row is what others see
    for callback in after_commit:
        callback()
    assert home(user_client)[0].status_code == 302


def test_a_copy_read_before_the_change_and_stored_after_it_committed_is_not_served(
    user_client, user, monkeypatch, django_capture_on_commit_callbacks
):
    read_row = ModelBackend.get_user

    def read_then_the_admin_deactivates(backend, user_id):
        row = read_row(backend, user_id)  # this request has read the row ...
        with django_capture_on_commit_callbacks(execute=True):  # ... when the admin's change commits
            changed = User.objects.get(pk=user_id)
            changed.is_active = False
            changed.save()
        return row  # ... and the request stores the row it read, after the change was forgotten

    monkeypatch.setattr(ModelBackend, "get_user", read_then_the_admin_deactivates)
    assert home(user_client)[0].status_code == 200  # it started before the change
    monkeypatch.setattr(ModelBackend, "get_user", read_row)
    response, reads = home(user_client)
    assert response.status_code == 302
    assert len(reads) == 1  # the stored copy was refused and the row read again
