"""Who may use the provider API and what stays secret: a token of an active provider and nothing else (no session:
not a certificant's, a provider user's or staff's), one provider never reaching another's completions, and the
plain token never in a log, a database row or an admin page after the one message that shows it."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

import providers.admin_tokens  # noqa: F401  (registered in the admin by providers/admin.py; here for this module alone)
from acsm_portal import clock
from cecs.models import CECEntry
from providers.models import Completion, Provider, ProviderMember, ProviderToken
from providers.tokens import provider_token_create, provider_token_find
from tests.factories import UserFactory
from tests.providers.test_api import URL, api_for, item, make_course, post
from tests.providers.test_api import api, course, person, provider, token, traveller  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
NOT_VALID = {"detail": "The token is not valid: unknown, revoked or expired."}
INACTIVE = {"detail": "This provider may not use the API: it is not active."}
CHALLENGE = 'Bearer realm="MyACSM provider API"'


def send(client, method: str, person):
    """One request of each kind the API takes, on a completion that exists ("lms-1")."""
    if method == "get":
        return client.get(URL)
    if method == "post":
        return client.post(URL, item(person, "new-1"), format="json")
    return client.delete(URL + "lms-1/?reason=Mistake")


def state() -> list:
    return list(Completion.objects.order_by("pk").values_list("external_id", "state", "cec_entry_id")) + [
        CECEntry.objects.count()]


@pytest.fixture
def existing(api, course, person) -> Completion:
    assert post(api, item(person)).status_code == 201
    return Completion.objects.get()


# The token -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("header", [None, "Api-Key {key}", "Token {key}", "Bearer", "Basic dXNlcjpwYXNz", "{key}"])
def test_without_a_bearer_token_it_is_401(existing, person, token, method, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header.format(key=token[1]))
    before = state()
    response = send(client, method, person)
    assert (response.status_code, response.json()) == (401, NOT_PROVIDED)
    assert response["WWW-Authenticate"] == CHALLENGE
    assert state() == before


def _unknown(token):
    return "Zz9Zz9Zz.0123456789abcdefghijABCDEFGHIJ12"


def _wrong_secret(token):
    return token[0].prefix + ".0123456789abcdefghijABCDEFGHIJ12"


def _truncated(token):
    return token[1][:-1]


def _revoked(token):
    ProviderToken.objects.filter(pk=token[0].pk).update(revoked=True)
    return token[1]


def _expired(token):
    ProviderToken.objects.filter(pk=token[0].pk).update(expiry_date=clock.now() - timedelta(seconds=1))
    return token[1]


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("make", [_unknown, _wrong_secret, _truncated, _revoked, _expired, lambda t: "", lambda t: "."],
                         ids=["unknown", "wrong-secret", "truncated", "revoked", "expired", "empty", "dot"])
def test_a_token_unknown_revoked_or_expired_is_401(existing, person, token, method, make):
    client = api_for(make(token))
    before = state()
    response = send(client, method, person)
    assert (response.status_code, response.json()) == (401, NOT_VALID)
    assert response["WWW-Authenticate"] == CHALLENGE
    assert state() == before


def test_an_expiry_still_ahead_lets_the_token_work(api, token, course):
    ProviderToken.objects.filter(pk=token[0].pk).update(expiry_date=clock.now() + timedelta(minutes=1))
    assert api.get(URL).status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_inactive_providers_token_is_403(existing, api, provider, person, method):
    Provider.objects.filter(pk=provider.pk).update(active=False)
    before = state()
    response = send(api, method, person)
    assert (response.status_code, response.json()) == (403, INACTIVE)
    assert state() == before


# No session ------------------------------------------------------------------------------------------------------

def _certificant(person):
    return person


def _provider_user(person):
    user = UserFactory()
    ProviderMember.objects.create(user=user, provider=Provider.objects.get(number="P-0001"))
    return user


def _staff(person):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("who", [_certificant, _provider_user, _staff], ids=["certificant", "provider-user", "staff"])
def test_a_logged_in_session_without_a_token_is_401(existing, person, method, who):
    for client in (Client(), APIClient(enforce_csrf_checks=True)):
        client.force_login(who(person))
        before = state()
        response = send(client, method, person) if isinstance(client, APIClient) else {
            "get": lambda: client.get(URL),
            "post": lambda: client.post(URL, item(person, "new-1"), content_type="application/json"),
            "delete": lambda: client.delete(URL + "lms-1/?reason=Mistake"),
        }[method]()
        if response.status_code == 302:
            # Provider users are kept in the provider area (providers.middleware) before the API is reached.
            assert (who, response["Location"]) == (_provider_user, reverse("provider_home"))
        else:
            assert (response.status_code, response.json()) == (401, NOT_PROVIDED)
        assert state() == before


def test_a_session_beside_a_token_changes_nothing(existing, person, token):
    """The token decides whose completions these are; the logged-in person is not looked at."""
    client = api_for(token[1])
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(URL)
    assert [c["external_id"] for c in response.json()["results"]] == ["lms-1"]
    assert response["Cache-Control"] == "no-store, private"


# One provider, not another's -------------------------------------------------------------------------------------

@pytest.fixture
def other(traveller):
    """Provider B with its own course OL-101 and token."""
    provider_b = Provider.objects.create(name="Other Learning", number="P-0002")
    make_course(provider_b)
    return api_for(provider_token_create(provider_number="P-0002", name="B's LMS")[1])


def test_a_token_lists_only_its_own_providers_completions(existing, person, other):
    assert post(other, item(person, "b-1")).status_code == 201
    assert [c["external_id"] for c in other.get(URL).json()["results"]] == ["b-1"]
    assert other.get(URL + "?course_number=OL-101").json()["count"] == 1


def test_a_token_cannot_retract_another_providers_completion(existing, person, api, other):
    before = state()
    response = other.delete(URL + "lms-1/?reason=Not ours")
    unknown = other.delete(URL + "no-such-id/?reason=Not ours")
    assert (response.status_code, response.json()) == (404, {"detail": "No such completion."})
    assert (unknown.status_code, unknown.json()) == (response.status_code, response.json())
    assert state() == before
    assert api.delete(URL + "lms-1/?reason=Mistake").status_code == 200  # its own provider still can


def test_the_same_external_id_at_another_provider_is_its_own_completion(existing, person, other):
    """Idempotency is per provider: B posting A's external ID gets a new completion of its own, not A's back."""
    response = post(other, item(person, "lms-1"))
    assert response.status_code == 201
    result = response.json()["results"][0]
    assert (result["status"], result["completion"]["course_title"]) == ("accepted", "Program Design OL-101")
    assert sorted(Completion.objects.values_list("provider__number", "external_id")) == [
        ("P-0001", "lms-1"), ("P-0002", "lms-1")]


# The token stays secret ------------------------------------------------------------------------------------------

def test_the_token_is_never_logged_or_stored(provider, course, person, caplog):
    for name in (None, "django"):  # everything, Django's own loggers (set to INFO by its defaults) included
        caplog.set_level(logging.DEBUG, logger=name)
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:  # the SQL is logged at DEBUG too, while captured
        call_command("create_provider_token", "--provider", "P-0001", "--name", "LMS", stdout=out)
        key = out.getvalue().splitlines()[-1]
        client = api_for(key)
        assert post(client, item(person)).status_code == 201
        assert client.get(URL).status_code == 200
        assert client.delete(URL + "lms-1/?reason=Mistake").status_code == 200
        assert api_for(key + "x").get(URL).status_code == 401
    secret = key.split(".", 1)[1]
    token = ProviderToken.objects.get()
    logged = caplog.text + "\n".join(q["sql"] for q in queries.captured_queries)
    assert f"API token {token.prefix} (LMS) issued for provider P-0001" in caplog.text
    assert "django.db.backends" in {r.name for r in caplog.records}  # the SQL was logged, and looked at
    assert secret not in logged
    row = ProviderToken.objects.filter(pk=token.pk).values().get()
    assert not any(secret in str(value) for value in row.values())
    assert Completion.objects.get().posted_by == f"API token {token.prefix} (LMS)"


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_shows_a_new_token_once_and_never_again(staff_client, provider, course, person, caplog):
    for name in (None, "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    add = reverse("admin:providers_providertoken_add")
    assert staff_client.get(add).status_code == 200
    response = staff_client.post(add, {"provider": provider.pk, "name": "Moodle", "expiry_date_0": "",
                                       "expiry_date_1": ""}, follow=True)
    assert response.status_code == 200
    token = ProviderToken.objects.get()
    page = response.content.decode()
    start = page.index(f"The token for “Moodle” ({provider}) is ") + len(f"The token for “Moodle” ({provider}) is ")
    key = page[start:start + 41]
    assert provider_token_find(key) == token
    assert page.count(key) == 1
    secret = key.split(".", 1)[1]
    assert api_for(key).get(URL).status_code == 200

    changelist = staff_client.get(reverse("admin:providers_providertoken_changelist")).content.decode()
    change = staff_client.get(reverse("admin:providers_providertoken_change", args=[token.pk])).content.decode()
    digest = token.hashed_key.split("$$")[1]
    for shown in (changelist, change):
        assert secret not in shown
        assert digest not in shown
    assert token.prefix in changelist and "Moodle" in changelist and str(provider) in changelist
    assert secret not in caplog.text
    assert not any(secret in f"{e.object_repr} {e.change_message}" for e in LogEntry.objects.all())

    # Revoked on its page: the API refuses it from then on.
    response = staff_client.post(reverse("admin:providers_providertoken_change", args=[token.pk]),
                                 {"name": "Moodle", "expiry_date_0": "", "expiry_date_1": "", "revoked": "on"})
    assert response.status_code == 302
    assert ProviderToken.objects.get().revoked is True
    assert (api_for(key).get(URL).status_code, api_for(key).get(URL).json()) == (401, NOT_VALID)


def test_the_admin_list_never_shows_a_key_or_hash(staff_client, provider):
    tokens = [provider_token_create(provider_number="P-0001", name=f"System {n}") for n in range(3)]
    page = staff_client.get(reverse("admin:providers_providertoken_changelist")).content.decode()
    for made, key in tokens:
        assert made.prefix in page
        assert key.split(".", 1)[1] not in page
        assert made.hashed_key.split("$$")[1] not in page
