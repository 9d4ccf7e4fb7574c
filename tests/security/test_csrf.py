"""CSRF: a POST without the token is refused at every URL, and every POST form carries the token.

The Stripe webhook is the one documented exception: it is ``csrf_exempt`` because Stripe
cannot send a token, and it is verified by its signature instead (tests/payments/test_webhooks.py).
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.security.pages import post_forms, rendered_pages
from tests.security.urlconf import PUBLIC, endpoints

CSRF_EXEMPT = {"stripe_webhook", "email_unsubscribe"}
# DRF's views are csrf_exempt: the API's views take a token a browser never sends by itself, never a session.
API = {"api:completions", "api:completions_without_slash", "api:completion", "api:schema", "api:docs"}
CSRF_EXEMPT |= API
ENDPOINTS = endpoints()


@pytest.fixture
def strict_client(db):
    """A staff superuser's browser that sends no CSRF token unless the test gives one."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def is_csrf_refusal(response) -> bool:
    return response.status_code == 403 and b"CSRF verification failed" in response.content


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.name not in CSRF_EXEMPT], ids=str)
def test_post_without_token_is_refused(strict_client, endpoint):
    assert is_csrf_refusal(strict_client.post(endpoint.url(), {"anything": "1"}))


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.name in PUBLIC - CSRF_EXEMPT], ids=str)
def test_public_forms_refuse_a_post_without_token_anonymously(db, endpoint):
    """Login, password reset and the rest check the token before anyone is logged in (no login CSRF)."""
    assert is_csrf_refusal(Client(enforce_csrf_checks=True).post(endpoint.url(), {"anything": "1"}))


def test_the_webhook_the_one_click_unsubscribe_and_the_api_are_the_only_exceptions(strict_client):
    """Without a Stripe signature the webhook refuses the request itself (400); without a valid signed token the
    one-click unsubscribe (RFC 8058: mail clients post without cookies) answers 404 and changes nothing. Neither
    needs a CSRF token. The provider API ignores the staff member's session: without a Bearer token it is 401
    (nothing a forged form could use); the schema and its docs page take no POST at all (405)."""
    exempt = {e.name: e for e in ENDPOINTS if e.name in CSRF_EXEMPT}
    assert sorted(exempt) == sorted(["email_unsubscribe", "stripe_webhook", *API])
    response = strict_client.post(exempt["stripe_webhook"].url(), b"{}", content_type="application/json")
    assert response.status_code == 400
    response = strict_client.post(exempt["email_unsubscribe"].url(), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    for name in ("api:completions", "api:completions_without_slash", "api:completion"):
        response = strict_client.post(exempt[name].url(), b"{}", content_type="application/json")
        assert (response.status_code, response.json()) == (401, {
            "detail": "Authentication credentials were not provided."}), name
        response = strict_client.post(exempt[name].url(), {"anything": "1"})
        assert response.status_code == 401, name
    for name in ("api:schema", "api:docs"):
        assert strict_client.post(exempt[name].url(), {"anything": "1"}).status_code == 405, name


def test_the_same_post_with_the_token_gets_through(strict_client, user):
    """A control: the refusals above are the CSRF check, not something else about the request."""
    page = strict_client.get(reverse("password_change")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    assert is_csrf_refusal(strict_client.post(reverse("password_change"), {"old_password": "x"}))
    response = strict_client.post(reverse("password_change"), {"old_password": "x", "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "Your old password was entered incorrectly." in response.content.decode()


@pytest.mark.django_db
def test_every_post_form_carries_the_token(user):
    pages = rendered_pages(user)
    missing = [f"{page.name} ({page.url}): form #{n} {form.attrs}"
               for page in pages for n, form in enumerate(post_forms(page.html)) if not form.token]
    assert missing == []
    with_forms = {page.name for page in pages if post_forms(page.html)}
    # The forms a certificant and staff use; an empty sweep cannot pass.
    assert {
        "login", "password_reset", "password_reset_confirm", "password_change", "home", "dashboard", "cec_report",
        "cec_edit", "cec_delete", "cpr_maintenance", "cart", "checkout", "admin:login", "admin:index",
        "admin:accounts_user_add", "admin:accounts_user_change", "admin:certifications_cprupload_change",
        "admin:certifications_cprupload_reject", "admin:payments_payment_refund", "admin:cecs_cecentry_delete",
    } <= with_forms
