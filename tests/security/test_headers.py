"""Security headers on every page, and the HTTPS-only settings of production mode."""

import json
import os
import stat

import pytest
from django.conf import settings
from django.urls import reverse

from certifications.cpr.services import cpr_upload_add_file
from tests.production import GOOD, run_manage
from tests.certifications.cpr_helpers import png_bytes
from tests.factories import certification_with_cycle
from tests.security.pages import inline_code, rendered_pages


def directives(policy: str) -> dict[str, list[str]]:
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def assert_strict_policy(policy: str) -> dict[str, list[str]]:
    found = directives(policy)
    assert found["default-src"] == ["'self'"]
    assert found["script-src"][0] == "'self'"
    for keyword in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "http:", "https:"):
        assert keyword not in found["script-src"], keyword
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert found["object-src"] == ["'none'"]
    assert found["base-uri"] == ["'self'"]
    assert found["form-action"] == ["'self'"]
    assert found["frame-ancestors"] == ["'none'"]
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["dashboard", "login"])
def test_a_normal_page_sends_the_security_headers(client, user, page):
    if page != "login":
        client.force_login(user)
    response = client.get(reverse(page))
    assert response.status_code == 200
    found = assert_strict_policy(response["Content-Security-Policy"])
    # Only this site and the Stripe.js origin may run script.
    assert found["script-src"] == ["'self'", settings.STRIPE_JS_URL.split("/js.stripe.com")[0]]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_every_page_has_the_policy_and_no_inline_code(user):
    """Inline script would be blocked by the policy (a broken page) or need 'unsafe-inline' (a weaker one)."""
    pages = rendered_pages(user)
    assert len(pages) > 50
    problems = []
    for page in pages:
        policy = page.response.get("Content-Security-Policy", "")
        if not policy or "'unsafe-inline'" in policy or "'unsafe-eval'" in policy:
            problems.append(f"{page.name}: policy {policy!r}")
        if page.response.get("X-Frame-Options") != "DENY" or page.response.get("X-Content-Type-Options") != "nosniff":
            problems.append(f"{page.name}: framing or sniffing headers missing")
        problems += [f"{page.name}: {code}" for code in inline_code(page.html)]
        if ' style="' in page.html:
            problems.append(f"{page.name}: inline style attribute (blocked by style-src 'self')")
    assert problems == []


def test_inline_code_is_noticed():
    assert inline_code('<script src="/static/a.js"></script><script type="application/json">{}</script>') == []
    assert len(inline_code("<script>alert(1)</script>")) == 1
    assert len(inline_code('<button onclick="go()">')) == 1
    assert len(inline_code('<a href="javascript:go()">')) == 1


PRODUCTION_PROBE = """
import json
from django.conf import settings as s
from django.test import Client
client = Client(HTTP_HOST="my.example.org")
secure = client.get("/accounts/login/", secure=True)
proxied = client.get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
plain = client.get("/accounts/login/")
print(json.dumps({
    "settings": {name: getattr(s, name) for name in (
        "DEBUG", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY", "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY", "X_FRAME_OPTIONS",
        "FILE_UPLOAD_PERMISSIONS", "FILE_UPLOAD_DIRECTORY_PERMISSIONS")},
    "secure": {"status": secure.status_code, "headers": dict(secure.headers),
               "csrf_cookie": dict(secure.cookies["csrftoken"].items())},
    "proxied": proxied.status_code,
    "plain": [plain.status_code, plain.get("Location")],
}))
"""


@pytest.fixture(scope="module")
def production():
    """The production settings, and what a request gets there (in a process of its own)."""
    result = run_manage({**GOOD, "STATIC_MANIFEST": "false"}, "shell", "-c", PRODUCTION_PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_are_https_only(production):
    found = production["settings"]
    assert found["DEBUG"] is False
    assert found["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365
    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["SESSION_COOKIE_HTTPONLY"] is True
    assert found["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert found["CSRF_COOKIE_SECURE"] is True
    # The page's script reads the token from the form's hidden input, never from the cookie.
    assert found["CSRF_COOKIE_HTTPONLY"] is False
    assert found["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert found["SECURE_REFERRER_POLICY"] == "same-origin"
    assert found["X_FRAME_OPTIONS"] == "DENY"
    assert found["FILE_UPLOAD_PERMISSIONS"] == 0o600
    assert found["FILE_UPLOAD_DIRECTORY_PERMISSIONS"] == 0o700


def test_production_responses_are_https_only(production):
    secure = production["secure"]
    assert secure["status"] == 200
    headers = secure["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    found = assert_strict_policy(headers["Content-Security-Policy"])
    assert found["script-src"] == ["'self'", "https://js.stripe.com"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert secure["csrf_cookie"]["secure"] is True
    assert secure["csrf_cookie"]["samesite"] == "Lax"
    # Behind the proxy's TLS the request counts as secure; plain HTTP is sent to HTTPS.
    assert production["proxied"] == 200
    assert production["plain"] == [301, "https://my.example.org/accounts/login/"]


@pytest.mark.django_db
def test_uploaded_files_are_private_to_the_portal_user(user):
    certification = certification_with_cycle(user, "CPT")
    stored = cpr_upload_add_file(certification=certification, user=user, name="card.png", data=png_bytes())
    path = stored.file.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    root = settings.STORAGES["default"]["OPTIONS"]["location"]
    folder = os.path.dirname(path)
    assert folder != root
    while folder != root:
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        folder = os.path.dirname(folder)
