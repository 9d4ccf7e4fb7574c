"""With the database down, a form post answers 503 "try again in a minute" with what was typed kept, and the
kept form, posted again once the database is back, saves it. The database is really stopped for each test
(``database_down``): requests fail the way they would in production."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from django.test import Client
from django.urls import reverse

from acsm_portal import clock
from acsm_portal.middleware import is_database_outage, outage_response
from accounts.models import User
from cecs.models import CECEntry
from certifications.models import CprUpload
from tests.certifications.cpr_helpers import png_bytes, upload
from tests.factories import UserFactory, certification_with_cycle
from tests.outage.database import FormReader, database_down

PASSWORD = "correct-horse-battery"
SAVE_FAILED = "We could not save this just now"
pytestmark = pytest.mark.django_db(transaction=True)


def browser_client(user=None) -> Client:
    """A client that checks CSRF like a browser and, like a real server, answers errors instead of raising."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def csrf_token_of(client: Client, url: str) -> str:
    """The token in the page's own form, as a browser would send it."""
    html = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def the_outage_form(response) -> dict:
    [form] = FormReader(response.content.decode()).forms
    return form


def assert_outage_answer(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "no-store" in response["Cache-Control"]


def test_a_cec_report_is_kept_through_an_outage_and_saved_with_try_again(user):
    certification_with_cycle(user, "CPT")
    client = browser_client(user)
    url = reverse("cec_report")
    token = csrf_token_of(client, url)
    earned = clock.today() - timedelta(days=3)
    typed = {"date_earned": earned.isoformat(), "units": "2.5", "credit_type": "cec",
             "course_name": "Balance <training> & “mobility”", "provider": "", "format": "live"}

    with database_down():
        response = client.post(url, {"csrfmiddlewaretoken": token, **typed})

    assert_outage_answer(response)
    html = response.content.decode()
    assert SAVE_FAILED in html and "Please try again in a minute" in html
    assert "Balance &lt;training&gt; &amp; “mobility”" in html  # shown, escaped
    form = the_outage_form(response)
    assert (form["method"], form["action"], form["enctype"]) == ("post", url, None)
    assert form["fields"] == [("csrfmiddlewaretoken", token, "hidden")] + [
        (name, value, "hidden") for name, value in typed.items()]
    assert CECEntry.objects.count() == 0  # nothing saved

    # The database is back: Try again posts the kept form, its CSRF token still good.
    again = client.post(form["action"], {name: value for name, value, _ in form["fields"]})
    assert (again.status_code, again.url) == (302, reverse("dashboard"))
    entry = CECEntry.objects.get(user=user)
    assert (entry.date_earned, entry.units, entry.cecs, entry.course_name, entry.format) == (
        earned, Decimal("2.50"), Decimal("2.50"), "Balance <training> & “mobility”", "live")


def test_a_log_in_during_an_outage_never_echoes_the_password(caplog):
    person = UserFactory(email="outage@example.com")
    client = browser_client()
    url = reverse("login") + "?next=/dashboard/"
    token = csrf_token_of(client, url)

    with database_down():
        response = client.post(url, {"csrfmiddlewaretoken": token, "username": person.email,
                                     "password": PASSWORD, "next": "/dashboard/", "time_zone": "America/Chicago"})

    assert_outage_answer(response)
    # No session yet: the database failed in the view itself, and the middleware answered for it.
    assert "Database unavailable: POST /accounts/login/" in caplog.messages
    html = response.content.decode()
    assert PASSWORD not in html
    assert "Passwords are never kept: enter your password again." in html
    form = the_outage_form(response)
    assert form["action"] == url
    assert form["fields"] == [("csrfmiddlewaretoken", token, "hidden"), ("username", person.email, "hidden"),
                              ("next", "/dashboard/", "hidden"), ("time_zone", "America/Chicago", "hidden"),
                              ("password", "", "password")]

    posted = {name: value for name, value, _ in form["fields"]} | {"password": PASSWORD}
    again = client.post(form["action"], posted)
    assert (again.status_code, again.url) == (302, "/dashboard/")
    assert User.objects.get(pk=person.pk).time_zone == "America/Chicago"


def test_a_card_upload_during_an_outage_asks_for_the_files_again(user):
    certification = certification_with_cycle(user, "CPT")
    client = browser_client(user)
    url = reverse("cpr_maintenance", args=[certification.pk])
    token = csrf_token_of(client, url)
    expires = (clock.today() + timedelta(days=300)).isoformat()
    details = {"action": "submit", "card_type": "cpr_aed", "issuing_organization": "American Red Cross",
               "skills_check_confirmed": "on", "expires_on": expires}

    with database_down():
        response = client.post(url, {"csrfmiddlewaretoken": token, "files": [upload("front.png", png_bytes())],
                                     **details})

    assert_outage_answer(response)
    html = response.content.decode()
    assert "Files cannot be kept while we are unavailable (front.png): choose it again" in html
    form = the_outage_form(response)
    assert form["enctype"] == "multipart/form-data"
    assert form["fields"] == [("csrfmiddlewaretoken", token, "hidden")] + [
        (name, value, "hidden") for name, value in details.items()] + [("files", "", "file")]
    assert not CprUpload.objects.filter(files__isnull=False).exists()

    fields = {name: value for name, value, kind in form["fields"] if kind != "file"}
    again = client.post(form["action"], {**fields, "files": [upload("front.png", png_bytes())]})
    assert (again.status_code, again.url) == (302, reverse("dashboard"))
    card = CprUpload.objects.get(certification=certification)
    assert (card.state, card.files.count(), card.issuing_organization) == (
        CprUpload.State.PENDING, 1, "American Red Cross")


@pytest.mark.parametrize("route, posted", [
    ("profile", {"time_zone": "America/Denver"}),
    ("checkout", {"name": "Jordan Lee", "line1": "401 W Michigan St", "line2": "Suite 5", "city": "Indianapolis",
                  "state": "IN", "postal_code": "46202", "country": "US", "save_to_profile": "on",
                  "expected_total": "60.00"}),
    ("password_change", {"old_password": PASSWORD, "new_password1": "a-new-long-secret-1",
                         "new_password2": "a-new-long-secret-1"}),
])
def test_every_form_post_is_kept(user, route, posted):
    client = browser_client(user)
    with database_down():
        response = client.post(reverse(route), {"csrfmiddlewaretoken": "the-pages-token", **posted})
    assert_outage_answer(response)
    fields = the_outage_form(response)["fields"]
    kept = [(name, value) for name, value, kind in fields if kind == "hidden"]
    assert kept == [("csrfmiddlewaretoken", "the-pages-token")] + [
        (name, value) for name, value in posted.items() if "password" not in name]
    assert [name for name, _, kind in fields if kind == "password"] == [
        name for name in posted if "password" in name]
    for secret in (value for name, value in posted.items() if "password" in name):
        assert secret not in response.content.decode()


def test_a_script_asking_for_json_gets_the_message_as_json(user):
    client = browser_client(user)
    with database_down():
        response = client.post(reverse("checkout"), {"name": "Jordan Lee"}, headers={
            "Accept": "application/json", "X-CSRFToken": "the-pages-token"})
    assert_outage_answer(response)
    message = "We could not save this just now — try again in a minute."
    assert response.json() == {"error": message, "message": message}


def test_a_page_read_during_an_outage_is_the_503_page(user):
    client = browser_client(user)
    with database_down():
        response = client.get(reverse("dashboard"))
    assert_outage_answer(response)
    html = response.content.decode()
    assert "MyACSM is briefly unavailable" in html and "Please try again in a minute" in html
    assert f'href="{reverse("dashboard")}"' in html  # Try again
    assert client.get(reverse("dashboard")).status_code == 200  # back once the database is


def test_a_post_without_a_token_is_not_turned_into_a_form(user):
    """A post from another site cannot know the token: the page re-offers nothing it could make the person send."""
    client = browser_client(user)
    with database_down():
        response = client.post(reverse("cec_report"), {"course_name": "Sent from elsewhere"})
    assert_outage_answer(response)
    html = response.content.decode()
    assert FormReader(html).forms == []
    assert "Sent from elsewhere" not in html and "go back and send it again in a minute" in html


@pytest.mark.django_db(transaction=False)
def test_the_503_page_reads_no_database(rf):
    # Marked without database access: any query while rendering raises.
    request = rf.post("/cecs/report/?from=dashboard", {"csrfmiddlewaretoken": "t", "course_name": "Yoga"})
    response = outage_response(request)
    assert response.status_code == 503
    form = the_outage_form(response)
    assert (form["action"], form["fields"]) == (
        "/cecs/report/?from=dashboard", [("csrfmiddlewaretoken", "t", "hidden"), ("course_name", "Yoga", "hidden")])


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("exc, outage", [
    (OperationalError("connection refused"), True),
    (InterfaceError("connection already closed"), True),
    (IntegrityError("duplicate key"), False),
    (ValueError("bad"), False),
])
def test_only_an_unanswered_database_is_an_outage(exc, outage):
    assert is_database_outage(exc) is outage
    try:
        raise RuntimeError("while saving") from exc
    except RuntimeError as wrapped:
        assert is_database_outage(wrapped) is outage
