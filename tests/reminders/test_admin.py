"""Staff and reminders in the admin: each person's reminders on their page, "Send again" (confirm, queue, send),
a person's choice to turn reminders off respected, who may resend, and the Reminder list's queries."""

import re
from html import unescape
from datetime import date, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import User
from reminders import services
from reminders.models import Reminder
from tests.factories import UserFactory
from tests.pages import text
from tests.reminders.test_queue import CHICAGO, at, certificant

pytestmark = pytest.mark.django_db

LIST = reverse("admin:reminders_reminder_changelist")
VIEW = (("accounts", "view_user"), ("reminders", "view_reminder"))
RESEND = ("reminders", "resend_reminder")


def staff_member(*permissions, **fields) -> User:
    member = UserFactory(is_staff=True, first_name="Pat", last_name="Staff", **fields)
    member.user_permissions.add(*(Permission.objects.get(content_type__app_label=app, codename=codename)
                                  for app, codename in permissions))
    return member


def person_url(person: User) -> str:
    return reverse("admin:accounts_user_change", args=[person.pk])


def resend_url(reminder: Reminder) -> str:
    return reverse("admin:reminders_reminder_resend", args=[reminder.pk])


def inline_rows(html: str) -> list[tuple[str, ...]]:
    """The words of each cell of each row of the "Reminders sent" inline, in page order."""
    group = re.search(r'<div class="js-inline-admin-formset inline-group" id="reminders-group"(.*?)</fieldset>',
                      html, re.S)
    assert group, "no reminders inline"
    return [tuple(text(cell) for cell in re.findall(r'<td class="field-\w+">(.*?)</td>', row, re.S))
            for row in re.findall(r'<tr class="form-row[^"]*"\s+id="reminders-\d+">(.*?)</tr>', group.group(1), re.S)]


def shown(instant) -> str:
    """A date and time as the admin shows it (the portal's zone)."""
    return formats.localize(timezone.localtime(instant))


def messages_after(client, response) -> list[str]:
    assert response.status_code == 302, response.status_code
    return [str(m) for m in client.get(response.url).context["messages"]]


@pytest.fixture
def end() -> date:
    from acsm_portal import clock

    return date(clock.today().year, 12, 31)


@pytest.fixture
def year_so_far(end):
    """A person's reminders up to Dec 24 (newest first): the 7-day one queued, the 30-day one skipped (reminders
    were off that morning), the 90-day one sent; and another person's, which their page does not show."""
    person = certificant(CHICAGO, end=end, first_name="Casey", last_name="Rivera")
    other = certificant(CHICAGO, end=end, first_name="Other", last_name="Person")
    with time_machine.travel(at(end - timedelta(days=90), 8, CHICAGO), tick=False) as traveller:
        services.reminders_send(reminder_ids=services.reminders_queue().made)
        traveller.move_to(at(end - timedelta(days=30), 8, CHICAGO))
        report = services.reminders_queue()
        User.objects.filter(pk=person.pk).update(reminders_enabled=False)
        services.reminders_send(reminder_ids=report.made)
        User.objects.filter(pk=person.pk).update(reminders_enabled=True)
        traveller.move_to(at(end - timedelta(days=7), 8, CHICAGO))
        services.reminders_queue()
    mine = list(Reminder.objects.filter(user=person).order_by("offset"))
    assert [(r.offset, r.state) for r in mine] == [(7, "queued"), (30, "skipped"), (90, "sent")]
    assert Reminder.objects.filter(user=other).count() == 3
    return person, mine


def test_staff_see_the_persons_reminders_on_their_page(client, end, year_so_far):
    person, (seven, thirty, ninety) = year_so_far
    client.force_login(staff_member(*VIEW))
    response = client.get(person_url(person))
    assert response.status_code == 200
    y = end.year
    assert inline_rows(response.content.decode()) == [
        ("Cycle ending", "CPT", "7", f"12/31/{y}", "Queued", "-", "0", "-", "—"),
        ("Cycle ending", "CPT", "30", f"12/31/{y}", "Skipped", "-", "0", "Reminders are off for this person.",
         "Send again"),
        ("Cycle ending", "CPT", "90", f"12/31/{y}", "Sent", shown(ninety.sent_at), "1", "-", "Send again"),
    ]
    assert f'href="{resend_url(thirty)}"' in response.content.decode()


def test_send_again_confirm_queue_and_send(client, end, year_so_far):
    person, (_, _, ninety) = year_so_far
    member = staff_member(*VIEW, RESEND, email="pat.staff@example.org")
    client.force_login(member)
    mail.outbox.clear()  # the year so far's
    oct_20 = at(end - timedelta(days=72), 10, CHICAGO)
    with time_machine.travel(oct_20, tick=False):
        page = client.get(resend_url(ninety))
        assert page.status_code == 200
        words = unescape(text(page.content.decode()))
        assert (f"Send Cycle ending (CPT, 90 days before 12/31/{end.year}) again to Casey Rivera "
                f"<{person.email}>? Sent 1 time (last: {shown(ninety.sent_at)}).") in words
        assert Reminder.objects.get(pk=ninety.pk).state == "sent"  # asking changes nothing

        response = client.post(resend_url(ninety))
        assert response.url == person_url(person)
        assert messages_after(client, response) == [
            f"The reminder to {person.email} will be sent again within a minute."]
        queued = Reminder.objects.get(pk=ninety.pk)
        assert (queued.state, queued.resend_by, queued.queued_at, queued.claimed_at, queued.sends) == (
            "queued", "pat.staff@example.org", oct_20, None, 1)

        # Past its own window, a resend still goes out, with the days left that day.
        assert services.reminders_send(reminder_ids=[ninety.pk]) == {"sent": 1, "skipped": 0, "claimed": 0, "later": 0}
    sent = Reminder.objects.get(pk=ninety.pk)
    assert (sent.state, sent.sends, sent.sent_at) == ("sent", 2, oct_20)
    assert [(m.to[0], m.subject) for m in mail.outbox] == [
        (person.email, "72 days left to renew your CPT certification")]


def test_a_person_who_turned_reminders_off_is_not_sent_one_again(client, year_so_far):
    person, (_, _, ninety) = year_so_far
    User.objects.filter(pk=person.pk).update(reminders_enabled=False)
    client.force_login(staff_member(*VIEW, RESEND))
    response = client.post(resend_url(ninety))
    assert messages_after(client, response) == ["Casey Rivera turned reminders off; it was not sent again."]
    unchanged = Reminder.objects.get(pk=ninety.pk)
    assert (unchanged.state, unchanged.resend_by, unchanged.sends) == ("sent", "", 1)


def test_staff_without_the_resend_permission_get_403(client, year_so_far):
    _, (_, thirty, ninety) = year_so_far
    client.force_login(staff_member(*VIEW))
    assert client.get(resend_url(ninety)).status_code == 403
    assert client.post(resend_url(ninety)).status_code == 403
    assert client.post(resend_url(thirty)).status_code == 403
    assert list(Reminder.objects.order_by("pk").filter(pk__in=[thirty.pk, ninety.pk])
                .values_list("state", "resend_by")) == [("sent", ""), ("skipped", "")]
    # Nor may they use the list's action: it is not offered, and posting it does nothing.
    assert 'value="send_again_action"' not in client.get(LIST).content.decode()
    response = client.post(LIST, {"action": "send_again_action", "_selected_action": [ninety.pk]})
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == []
    assert Reminder.objects.get(pk=ninety.pk).state == "sent"


def test_the_list_action_sends_the_selected_again(client, year_so_far):
    person, (seven, thirty, ninety) = year_so_far
    client.force_login(staff_member(*VIEW, RESEND, email="pat.staff@example.org"))
    assert 'value="send_again_action"' in client.get(LIST).content.decode()
    response = client.post(LIST, {"action": "send_again_action",
                                  "_selected_action": [seven.pk, thirty.pk, ninety.pk]})
    # The 7-day one, still waiting to go out, is left as it is (and counted).
    assert messages_after(client, response) == ["2 reminder(s) will be sent again within a minute.",
                                                "1 reminder(s) already on their way were left as they are."]
    assert list(Reminder.objects.filter(user=person).order_by("offset")
                .values_list("offset", "state", "resend_by")) == [
        (7, "queued", ""), (30, "queued", "pat.staff@example.org"), (90, "queued", "pat.staff@example.org")]


def test_a_person_without_staff_rights_gets_nothing(client, year_so_far):
    _, (_, _, ninety) = year_so_far
    client.force_login(UserFactory())
    assert client.post(resend_url(ninety)).status_code == 302  # to the admin's log-in
    assert Reminder.objects.get(pk=ninety.pk).state == "sent"


def reminders_for(people: int, end: date) -> None:
    for _ in range(people):
        certificant(CHICAGO, end=end)
    with time_machine.travel(at(end - timedelta(days=30), 8, CHICAGO), tick=False):
        assert len(services.reminders_queue().made) == people


# The session and its user, their permissions (the user's, then their groups'), the count, the page of reminders
# with their people and certification types, the date hierarchy's first and last day and its months, the offsets
# for the filter.
LIST_QUERIES = 9


@pytest.mark.parametrize("people", [5, 50])
def test_the_reminder_list_in_a_constant_number_of_queries(client, end, people, django_assert_num_queries):
    reminders_for(people, end)
    client.force_login(staff_member(*VIEW))
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == people
    html = response.content.decode()
    assert html.count('<td class="field-certification_code">CPT</td>') == people


def test_the_reminder_list_needs_the_view_permission(client, end):
    reminders_for(1, end)
    client.force_login(staff_member(("accounts", "view_user")))
    assert client.get(LIST).status_code == 403
