"""Each person's time zone: taken from the browser at the first log-in, chosen on the profile page,
set by staff; pages then show times and deadlines in it."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from acsm_portal import clock
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
YEAR = clock.today().year


def _log_in(client, person, **extra):
    return client.post(reverse("login"), {"username": person.email, "password": PASSWORD, **extra})


def test_the_first_log_in_takes_the_browsers_zone(client):
    person = UserFactory()
    assert _log_in(client, person, time_zone="America/Los_Angeles").status_code == 302
    person.refresh_from_db()
    assert person.time_zone == "America/Los_Angeles"


def test_a_later_log_in_never_overwrites_a_chosen_zone(client):
    person = UserFactory(time_zone="America/Chicago")
    assert _log_in(client, person, time_zone="Europe/Paris").status_code == 302
    person.refresh_from_db()
    assert person.time_zone == "America/Chicago"


@pytest.mark.parametrize("sent", ["", "PST", "localtime", "Etc/GMT+5", "Mars/Olympus_Mons", "<script>alert(1)</script>",
                                  "x" * 500])
def test_a_browser_zone_that_is_not_a_zone_is_ignored(client, sent):
    person = UserFactory()
    assert _log_in(client, person, time_zone=sent).status_code == 302
    person.refresh_from_db()
    assert person.time_zone == ""


def test_a_failed_log_in_sets_nothing(client):
    person = UserFactory()
    response = client.post(reverse("login"), {"username": person.email, "password": "wrong", "time_zone": "UTC"})
    assert response.status_code == 200
    person.refresh_from_db()
    assert person.time_zone == ""


def test_the_log_in_page_asks_the_browser_for_its_zone(client):
    html = client.get(reverse("login")).content.decode()
    assert '<input type="hidden" name="time_zone" value="">' in html
    assert '<script src="/static/js/time-zone.js"></script>' in html


def test_the_profile_shows_the_persons_time_and_saves_a_new_zone(client, settings):
    settings.TIME_ZONE = "America/New_York"
    person = UserFactory(time_zone="America/Los_Angeles")
    with time_machine.travel(datetime(YEAR, 12, 31, 21, 30, tzinfo=ZoneInfo("America/Los_Angeles")), tick=False):
        client.force_login(person)  # at the travelled time, or the session would have expired by then
        html = client.get(reverse("profile")).content.decode()
    weekday = f"{datetime(YEAR, 12, 31):%A}"
    assert f"Your time now: <strong>9:30 PM</strong> on {weekday}, 12/31/{YEAR} (Pacific time)." in html
    assert '<option value="America/Los_Angeles" selected>Pacific time (America/Los_Angeles)</option>' in html

    response = client.post(reverse("profile"), {"time_zone": "America/Chicago"}, follow=True)
    assert response.redirect_chain == [(reverse("profile"), 302)]
    assert "Saved. Your deadlines now end at 11:59 PM Central time." in response.content.decode()
    person.refresh_from_db()
    assert person.time_zone == "America/Chicago"


def test_the_profile_refuses_a_zone_that_is_not_in_the_list(client):
    person = UserFactory(time_zone="America/Denver")
    client.force_login(person)
    response = client.post(reverse("profile"), {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    assert "Choose your time zone from the list." in response.content.decode()
    person.refresh_from_db()
    assert person.time_zone == "America/Denver"


def test_the_profile_requires_a_zone_and_shows_the_portals_for_a_person_without_one(client, settings):
    settings.TIME_ZONE = "America/New_York"
    person = UserFactory()
    client.force_login(person)
    html = client.get(reverse("profile")).content.decode()
    assert '<option value="America/New_York" selected>Eastern time (America/New_York)</option>' in html
    response = client.post(reverse("profile"), {"time_zone": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    person.refresh_from_db()
    assert person.time_zone == ""


def test_a_zone_chosen_as_the_portals_is_kept_at_the_next_log_in(client, settings):
    settings.TIME_ZONE = "America/New_York"
    person = UserFactory()
    client.force_login(person)
    client.post(reverse("profile"), {"time_zone": "America/New_York"})
    client.logout()
    assert _log_in(client, person, time_zone="America/Los_Angeles").status_code == 302
    person.refresh_from_db()
    assert person.time_zone == "America/New_York"


def test_a_browser_alias_is_stored_by_its_canonical_name(client):
    person = UserFactory()
    assert _log_in(client, person, time_zone="Etc/UTC").status_code == 302
    person.refresh_from_db()
    assert person.time_zone == "UTC"


def test_staff_set_a_persons_zone_in_the_admin(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    person = UserFactory()
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[person.pk])
    form = client.get(url).content.decode()
    assert '<option value="America/Phoenix">Mountain time (America/Phoenix)</option>' in form
    data = {"email": person.email, "first_name": person.first_name, "last_name": person.last_name,
            "member_id": person.member_id, "time_zone": "America/Phoenix", "is_active": "on",
            "billing_address-TOTAL_FORMS": "0", "billing_address-INITIAL_FORMS": "0",
            "reminders-TOTAL_FORMS": "0", "reminders-INITIAL_FORMS": "0"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(pk=person.pk).time_zone == "America/Phoenix"
    data["time_zone"] = ""  # "Not set": the browser sets it at the next log-in
    assert client.post(url, data).status_code == 302
    assert User.objects.get(pk=person.pk).time_zone == ""
    data["time_zone"] = "Not/A_Zone"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "“Not/A_Zone” is not a time zone" in response.content.decode()
    assert User.objects.get(pk=person.pk).time_zone == ""


def test_the_profile_says_when_no_zone_was_chosen(client):
    person = UserFactory()
    client.force_login(person)
    assert "You have not chosen a time zone yet" in client.get(reverse("profile")).content.decode()
    client.post(reverse("profile"), {"time_zone": "America/Denver"})
    assert "You have not chosen a time zone yet" not in client.get(reverse("profile")).content.decode()


def test_a_tampered_zone_is_refused_without_echoing_it(client):
    person = UserFactory(time_zone="America/Denver")
    client.force_login(person)
    response = client.post(reverse("profile"), {"time_zone": "Z" * 5000})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose your time zone from the list." in html
    assert "Z" * 100 not in html


def test_staff_add_people_one_after_another_each_with_a_member_id(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for n in (1, 2):
        response = client.post(reverse("admin:accounts_user_add"), {
            "email": f"new{n}@example.com", "first_name": "New", "last_name": f"Person{n}",
            "usable_password": "true", "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase",
            "billing_address-TOTAL_FORMS": "0", "billing_address-INITIAL_FORMS": "0",
            "reminders-TOTAL_FORMS": "0", "reminders-INITIAL_FORMS": "0",
        })
        assert response.status_code == 302, response.content.decode()[:3000]
    ids = list(User.objects.filter(email__startswith="new").order_by("email").values_list("member_id", flat=True))
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(len(i) == 6 and i.isdigit() for i in ids)


def test_a_zone_changed_in_the_admin_is_logged_like_one_changed_on_the_profile(client, settings):
    settings.TIME_ZONE = "America/New_York"
    staff = UserFactory(is_staff=True, is_superuser=True)
    person = UserFactory(time_zone="America/New_York")
    url = reverse("admin:accounts_user_change", args=[person.pk])
    with time_machine.travel(datetime(YEAR + 1, 1, 1, 0, 30, tzinfo=ZoneInfo("America/New_York")), tick=False):
        client.force_login(staff)
        client.post(url, {"email": person.email, "first_name": person.first_name, "last_name": person.last_name,
                          "member_id": person.member_id, "time_zone": "Pacific/Pago_Pago", "is_active": "on",
                          "billing_address-TOTAL_FORMS": "0", "billing_address-INITIAL_FORMS": "0",
            "reminders-TOTAL_FORMS": "0", "reminders-INITIAL_FORMS": "0"})
        person.refresh_from_db()
        assert (person.time_zone, person.previous_time_zone) == ("Pacific/Pago_Pago", "America/New_York")
        assert person.time_zone_changed_at == clock.now()
        assert clock.today_for(person) == datetime(YEAR + 1, 1, 1).date()
