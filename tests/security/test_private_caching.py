"""Nothing shown to a logged-in person stays in a shared computer's cache.

Every answer to a signed-in person (pages, receipts, certificates, uploaded card files)
carries ``Cache-Control: no-store, private``. Anonymous pages are left cacheable by
the browser's own rules: they show nothing personal.
"""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.cache import get_max_age

from tests.factories import UserFactory, certification_with_cycle
from tests.security.pages import rendered_pages
from tests.security.scoped import SCOPED, current_cycle, renewal_in_cart
from tests.security.urlconf import PUBLIC, endpoints


def directives(response) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in response.get("Cache-Control", "").split(",") if part.strip()}


def assert_private(response, label: str) -> None:
    found = directives(response)
    assert "no-store" in found, f"{label}: Cache-Control {response.get('Cache-Control')!r}"
    assert "private" in found, f"{label}: Cache-Control {response.get('Cache-Control')!r}"
    assert "public" not in found, label


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["dashboard", "cart", "checkout", "profile", "cec_report"])
def test_the_persons_own_pages_are_not_stored(user, name):
    renewal_in_cart(user)  # so the checkout has something to show
    client = Client()
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert_private(response, name)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["receipt", "receipt_pdf", "certificate_download",
                                  "cpr_maintenance", "cpr_file_download"])
def test_receipts_certificates_and_uploads_are_not_stored(name):
    owner = UserFactory()
    scoped = SCOPED[name]
    target = scoped.build(owner)
    endpoint = next(e for e in endpoints() if e.name == name)
    client = Client()
    client.force_login(owner)
    response = client.get(endpoint.url(**scoped.kwargs(target)))
    assert response.status_code == 200
    assert body(response)
    assert_private(response, name)


@pytest.mark.django_db
def test_pdfs_are_pdfs_and_not_stored():
    owner = UserFactory()
    client = Client()
    client.force_login(owner)
    for name in ("receipt_pdf", "certificate_download"):
        scoped = SCOPED[name]
        endpoint = next(e for e in endpoints() if e.name == name)
        response = client.get(endpoint.url(**scoped.kwargs(scoped.build(owner))))
        assert response["Content-Type"].startswith("application/pdf"), name
        assert_private(response, name)


@pytest.mark.django_db
def test_every_logged_in_page_is_not_stored(user):
    """The kind, not a list: each HTML page a signed-in person or staff member gets."""
    pages = [page for page in rendered_pages(user) if page.name not in PUBLIC]
    assert len(pages) > 40
    missing = [f"{page.name} {page.url}: {page.response.get('Cache-Control')!r}"
               for page in pages if not {"no-store", "private"} <= directives(page.response)]
    assert missing == []


@pytest.mark.django_db
def test_a_views_own_directives_are_kept_and_no_store_added(user_client, user):
    """``never_cache`` on the CPR page and the file headers stay as they were."""
    certification = certification_with_cycle(user, "CPT", *current_cycle())
    response = user_client.get(reverse("cpr_maintenance", args=[certification.pk]))
    assert response["Cache-Control"].startswith("max-age=0")
    assert get_max_age(response) == 0
    assert_private(response, "cpr_maintenance")


@pytest.mark.django_db
def test_anonymous_pages_are_left_to_their_views(client, user):
    """Public pages show nothing personal, so the middleware adds nothing to them.

    The login page is already ``never_cache`` by Django's own ``LoginView`` (it carries a
    CSRF token), and that stays; a plain public page such as "check your email" gets no
    forced header. Once the person logs in, the same client gets no-store pages, and after
    logout the public page is back to its own rules.
    """
    login = client.get(reverse("login"))
    assert login.status_code == 200
    assert login["Cache-Control"].startswith("max-age=0")  # Django's never_cache, untouched
    public = client.get(reverse("password_reset_done"))
    assert public.status_code == 200
    assert "Cache-Control" not in public

    client.force_login(user)
    assert_private(client.get(reverse("dashboard")), "dashboard")
    client.post(reverse("logout"))
    assert "Cache-Control" not in client.get(reverse("password_reset_done"))
