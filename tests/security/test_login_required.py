"""Every view needs a login, except the explicit allow-list in ``urlconf.PUBLIC``.

The views come from walking the URL conf (admin included), so a new view is covered
without anyone remembering to add it here.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from tests.security.urlconf import PUBLIC, endpoints

ENDPOINTS = endpoints()
PROTECTED = [e for e in ENDPOINTS if e.name not in PUBLIC]


def login_redirect(response, *, login_urls: set[str]) -> str:
    """The ``next`` of a redirect to one of ``login_urls``; fails unless the response is exactly that redirect."""
    assert response.status_code == 302, f"{response.status_code} instead of a redirect to {login_urls}"
    assert response.content == b""
    location = urlsplit(response["Location"])
    assert location.path in login_urls, response["Location"]
    return parse_qs(location.query)["next"][0]


def test_the_url_conf_is_walked_whole():
    names = {e.name for e in ENDPOINTS}
    assert len(names) == len(ENDPOINTS), "two views share a name"
    # A few from each urls.py and from the admin, so an empty walk cannot pass.
    assert {"home", "dashboard", "cec_edit", "cpr_file_download", "cart_renew", "receipt_pdf", "stripe_webhook",
            "password_reset_confirm", "admin:index", "admin:accounts_user_change",
            "admin:certifications_cprupload_approve", "admin:payments_payment_refund"} <= names
    assert len(ENDPOINTS) > 100


def test_the_allow_list_is_exactly_what_is_public():
    """Marking a view ``login_not_required`` fails here until it is added to PUBLIC on purpose."""
    public = {e.name for e in ENDPOINTS if not e.login_required}
    assert public == PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", PROTECTED, ids=str)
def test_anonymous_is_sent_to_log_in(client, endpoint):
    """The admin's own views send to the staff login; its per-model views (which Django does not mark with
    a login URL) send to the site's login, whose ``next`` leads back to the staff page."""
    url = endpoint.url()
    login_urls = {reverse("admin:login"), reverse("login")} if endpoint.is_admin else {reverse("login")}
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert login_redirect(response, login_urls=login_urls) == url, method


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.name in PUBLIC], ids=str)
def test_public_views_answer_anonymously(client, endpoint):
    response = client.get(endpoint.url(uidb64="MQ", token="set-password"))
    assert response.status_code != 302 or urlsplit(response["Location"]).path not in (
        reverse("login"), reverse("admin:login")
    )
    assert response.status_code != 500


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.is_admin and e.name != "admin:login"], ids=str)
def test_staff_pages_send_a_certificant_to_the_staff_login(user_client, endpoint):
    """Logged in but not staff: every /staff/ URL goes to the admin's own login (log out goes to its index first)."""
    url = endpoint.url()
    target = reverse("admin:index") if endpoint.name == "admin:logout" else reverse("admin:login")
    for method in ("get", "post"):
        response = getattr(user_client, method)(url)
        assert response.status_code == 302, method
        location = urlsplit(response["Location"])
        assert location.path == target, method
        if target == reverse("admin:login"):
            assert parse_qs(location.query)["next"] == [url], method


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", ["https://evil.example/phish", "//evil.example/", "/\\evil.example/"])
def test_login_never_sends_to_another_site(client, user, next_url):
    response = client.post(f"{reverse('login')}?next={next_url}",
                           {"username": user.email, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
