"""The provider area (/provider/): its pages for a provider user, 404 for anyone else, the guard that keeps provider
users off certificant pages, posting by form and by CSV roster, the completions list and retracting, and the staff
admin for providers."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from unittest import mock

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from acsm_portal import clock
from acsm_portal.uploads import MAX_FILE_BYTES
from cecs.models import CECEntry
from providers import views
from providers.middleware import SESSION_KEY
from providers.models import Completion, Course, Provider, ProviderMember
from providers.services import CompletionIn, completions_post
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # UserFactory's
HEADER = "member_id,last_name,course_number,completed_on,external_id"


# ---------------------------------------------------------------- people, providers, courses

@pytest.fixture
def provider():
    return Provider.objects.create(name="Summit Fitness Education", number="P-0420",
                                   contact_email="office@summit.example.org")


def course_for(provider, number="SFE-101", title="Kettlebell Coaching", cecs="5", *, starts=None, ends=None):
    today = clock.today()
    return Course.objects.create(provider=provider, number=number, title=title, format="online", cecs=Decimal(cecs),
                                 valid_from=starts or date(today.year - 1, 1, 1),
                                 valid_to=ends or date(today.year + 1, 12, 31))


@pytest.fixture
def course(provider):
    return course_for(provider)


@pytest.fixture
def registrar(provider):
    """A provider user of Summit."""
    person = UserFactory(email="registrar@summit.example.org", first_name="Pat", last_name="Reyes")
    ProviderMember.objects.create(user=person, provider=provider)
    return person


@pytest.fixture
def provider_client(client, registrar):
    client.force_login(registrar)
    return client


@pytest.fixture
def member():
    """A certificant a provider reports completions for."""
    return UserFactory(first_name="Ana", last_name="Muñoz")


@pytest.fixture
def other_provider():
    rival = Provider.objects.create(name="Peak Performance Institute", number="P-0777")
    return course_for(rival, number="PPI-1", title="Mobility Basics")


def post_completion(course, person, external_id, *, completed_on=None, via=Completion.Via.API) -> Completion:
    [result] = completions_post(provider_id=course.provider_id, via=via, posted_by="token Test", items=[
        CompletionIn(member_id=person.member_id, last_name=person.last_name, course_number=course.number,
                     completed_on=completed_on or clock.today() - timedelta(days=3), external_id=external_id)])
    assert result.status == "accepted", result.errors
    return result.completion


def page_text(response) -> str:
    """The page's visible text, one space between words."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def field_errors(response, name: str) -> list[str]:
    return response.context["form"].errors.get(name, [])


# ---------------------------------------------------------------- who may come in

def test_the_home_page_shows_the_provider_and_its_courses(provider_client, provider, course):
    course_for(provider, number="SFE-050", title="Youth Strength <Level 1>", cecs="2.5",
               starts=date(clock.today().year, 1, 1), ends=date(clock.today().year, 6, 30))
    response = provider_client.get(reverse("provider_home"))
    assert response.status_code == 200
    text = page_text(response)
    y = clock.today().year
    assert "Summit Fitness Education Provider number P-0420" in text
    assert (f"SFE-050 Youth Strength <Level 1> Online course 2.5 1/1/{y} – 6/30/{y} "
            f"SFE-101 Kettlebell Coaching Online course 5 1/1/{y - 1} – 12/31/{y + 1}") in text
    assert "Youth Strength &lt;Level 1&gt;" in response.content.decode()
    for name in ("provider_completion_new", "provider_roster", "provider_roster_template", "provider_completions"):
        assert f'href="{reverse(name)}"' in response.content.decode()
    assert "Member ID" not in text  # the certificant's menu is not shown


@pytest.mark.parametrize("name", ["provider_home", "provider_completions", "provider_completion_new",
                                  "provider_roster", "provider_roster_template"])
def test_a_certificant_or_staff_without_a_provider_gets_404(client, user, admin_user, name):
    for person in (user, admin_user):
        client.force_login(person)
        assert client.get(reverse(name)).status_code == 404
        assert client.post(reverse(name)).status_code in (404, 405)


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(reverse("provider_home"))
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/provider/")


# ---------------------------------------------------------------- the guard

@pytest.mark.parametrize("path", ["/", "/dashboard/", "/cart/", "/accounts/profile/", "/accounts/email/",
                                  "/staff/", "/healthz"])
def test_a_provider_user_is_sent_to_the_provider_area(provider_client, path):
    for method in ("get", "post"):
        response = getattr(provider_client, method)(path)
        assert (response.status_code, response["Location"]) == (302, "/provider/"), (method, path)


def test_a_provider_user_may_read_the_api_docs_but_the_api_wants_a_token(provider_client):
    assert provider_client.get("/api/v1/docs/").status_code == 200
    response = provider_client.get("/api/v1/completions/")
    assert (response.status_code, response["WWW-Authenticate"]) == (401, 'Bearer realm="MyACSM provider API"')


def test_a_provider_user_may_change_their_password_and_log_out(provider_client, registrar):
    assert provider_client.get(reverse("password_change")).status_code == 200
    response = provider_client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "a-new-long-passphrase-7",
        "new_password2": "a-new-long-passphrase-7"})
    assert response["Location"] == reverse("password_change_done")
    assert provider_client.get(reverse("password_change_done")).status_code == 200
    assert provider_client.get("/static/css/portal.css").status_code != 302
    assert provider_client.post(reverse("logout")).status_code == 302
    assert provider_client.get(reverse("provider_home"))["Location"] == "/accounts/login/?next=/provider/"


def test_a_certificant_goes_where_they_asked(user_client):
    assert user_client.get("/").status_code == 200
    assert user_client.get(reverse("provider_home")).status_code == 404


@pytest.mark.parametrize("next_url", ["", "/dashboard/", "/provider/completions/"])
def test_logging_in_sends_a_provider_user_to_the_provider_area(client, registrar, next_url):
    response = client.post(reverse("login"), {"username": registrar.email, "password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == (next_url if next_url.startswith("/provider/") else "/provider/")
    assert client.session[SESSION_KEY] == registrar.provider_member.provider_id


def test_logging_in_sends_a_certificant_home_as_before(client, user):
    response = client.post(reverse("login"), {"username": user.email, "password": PASSWORD, "next": "/dashboard/"})
    assert response["Location"] == "/dashboard/"
    assert client.session[SESSION_KEY] == 0
    response = client.post(reverse("logout"))
    response = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    assert response["Location"] == "/"


def test_certificant_pages_read_nothing_more_for_the_guard(user_client):
    with CaptureQueriesContext(connection) as captured:
        assert user_client.get(reverse("email_preferences")).status_code == 200
    assert not any("providers_" in q["sql"] for q in captured)


def test_a_session_from_before_the_guard_is_looked_up_once(client, registrar, user):
    for person, expected in ((registrar, registrar.provider_member.provider_id), (user, 0)):
        client.force_login(person)
        session = client.session
        del session[SESSION_KEY]
        session.save()
        with CaptureQueriesContext(connection) as first:
            client.get("/accounts/email/")
        assert sum("providers_providermember" in q["sql"] for q in first) == 1
        assert client.session[SESSION_KEY] == expected
        with CaptureQueriesContext(connection) as second:
            client.get("/accounts/email/")
        assert not any("providers_providermember" in q["sql"] for q in second)


def test_a_person_whose_membership_was_removed_is_a_certificant_again(provider_client, registrar):
    ProviderMember.objects.filter(user=registrar).delete()
    assert provider_client.get("/dashboard/")["Location"] == "/provider/"  # their session still says so
    assert provider_client.get("/provider/").status_code == 404  # ... until the provider area finds out
    assert provider_client.get("/dashboard/").status_code == 200


# ---------------------------------------------------------------- posting one completion by form

def completion_form(course, person, **overrides) -> dict:
    data = {"member_id": person.member_id, "last_name": person.last_name, "course": course.pk,
            "completed_on": (clock.today() - timedelta(days=2)).isoformat(), "external_id": "REG-1001", "cecs": ""}
    return data | overrides


def test_the_form_offers_the_provider_s_courses_whose_approval_has_begun(provider_client, provider, course,
                                                                         other_provider):
    later = course_for(provider, number="SFE-900", title="Next Year's Course",
                       starts=clock.today() + timedelta(days=30), ends=clock.today() + timedelta(days=400))
    form = provider_client.get(reverse("provider_completion_new")).context["form"]
    assert list(form.fields["course"].queryset) == [course]
    assert later not in form.fields["course"].queryset


def test_a_completion_posted_by_form_is_accepted(provider_client, registrar, course, member):
    response = provider_client.post(reverse("provider_completion_new"),
                                    completion_form(course, member, last_name=" MUNOZ ", cecs="2.5"))
    assert (response.status_code, response["Location"]) == (302, reverse("provider_completion_new"))
    completion = Completion.objects.get()
    assert (completion.user, completion.course, completion.external_id, completion.cecs, completion.via,
            completion.posted_by, completion.state) == (member, course, "REG-1001", Decimal("2.50"), "form",
                                                        registrar.email, "accepted")
    entry = CECEntry.objects.get(user=member)
    assert (entry.cecs, entry.source, entry.provider, entry.course_name) == (
        Decimal("2.50"), "provider", "Summit Fitness Education", "Kettlebell Coaching")
    page = page_text(provider_client.get(reverse("provider_completion_new")))
    assert f"Accepted: 2.5 CECs for member {member.member_id}, course SFE-101, external ID “REG-1001”." in page


def test_the_same_external_id_again_is_a_duplicate_and_changes_nothing(provider_client, course, member):
    provider_client.post(reverse("provider_completion_new"), completion_form(course, member))
    other = UserFactory()
    response = provider_client.post(reverse("provider_completion_new"), completion_form(course, other))
    assert response.status_code == 200
    posted = clock.today()
    assert (f"Already posted on {posted.month}/{posted.day}/{posted.year} under external ID “REG-1001”; nothing "
            f"changed.") in page_text(response)
    assert response.context["form"]["member_id"].value() == other.member_id  # the input is kept
    assert Completion.objects.get().user == member
    assert CECEntry.objects.filter(user=other).count() == 0


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"last_name": "Smith"}, "member_id", "No certificant matches this member ID and last name."),
    ({"member_id": "999999"}, "member_id", "No certificant matches this member ID and last name."),
    ({"cecs": "6"}, "cecs", "At most 5.00 CECs are approved for this course."),
    ({"completed_on": "tomorrow"}, "completed_on", "Enter a valid date."),
    ({"external_id": "  "}, "external_id", "This field is required."),
    ({"cecs": "1e2"}, "cecs", "Enter a number such as 12.5."),
])
def test_a_rejected_completion_says_why_on_the_form_and_keeps_the_input(provider_client, course, member,
                                                                        overrides, field, message):
    data = completion_form(course, member, **overrides)
    response = provider_client.post(reverse("provider_completion_new"), data)
    assert response.status_code == 400
    assert field_errors(response, field) == [message]
    html = response.content.decode()
    for name in ("member_id", "last_name", "external_id"):
        if data[name].strip():
            assert f'value="{data[name]}"' in html
    assert Completion.objects.count() == 0 and CECEntry.objects.count() == 0


def test_a_future_date_and_one_outside_the_course_s_approval_are_refused(provider_client, provider, member):
    today = clock.today()
    short = course_for(provider, number="SFE-7", starts=today - timedelta(days=10), ends=today - timedelta(days=5))
    response = provider_client.post(reverse("provider_completion_new"), completion_form(
        short, member, completed_on=(today - timedelta(days=20)).isoformat()))
    start, end = today - timedelta(days=10), today - timedelta(days=5)
    assert field_errors(response, "completed_on") == [
        f"The course is approved for completions from {start.month}/{start.day}/{start.year} through "
        f"{end.month}/{end.day}/{end.year}."]
    response = provider_client.post(reverse("provider_completion_new"), completion_form(
        short, member, completed_on=(today + timedelta(days=3)).isoformat()))
    assert field_errors(response, "completed_on") == ["The completion date is in the future."]


def test_another_provider_s_course_cannot_be_chosen(provider_client, course, other_provider, member):
    response = provider_client.post(reverse("provider_completion_new"), completion_form(other_provider, member))
    assert response.status_code == 400
    assert field_errors(response, "course") == [
        "Select a valid choice. That choice is not one of the available choices."]
    assert Completion.objects.count() == 0


def test_an_inactive_provider_cannot_post(provider_client, provider, course, member):
    Provider.objects.filter(pk=provider.pk).update(active=False)
    assert "This provider is not active" in page_text(provider_client.get(reverse("provider_home")))
    response = provider_client.post(reverse("provider_completion_new"), completion_form(course, member))
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["This provider may not post completions."]
    assert Completion.objects.count() == 0


# ---------------------------------------------------------------- CSV rosters

def upload(provider_client, text: str | bytes, name="roster.csv"):
    data = text.encode() if isinstance(text, str) else text
    return provider_client.post(reverse("provider_roster"), {"roster": SimpleUploadedFile(name, data, "text/csv")})


def report_rows(response) -> list[list[str]]:
    """The report table's rows, each cell's text."""
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


def test_the_template_downloads(provider_client):
    response = provider_client.get(reverse("provider_roster_template"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="roster-template.csv"'
    assert response.content.decode() == "\ufeffmember_id,last_name,course_number,completed_on,external_id,cecs\r\n"


def test_a_roster_is_posted_in_one_call_and_every_row_reported(provider_client, registrar, course, member,
                                                               other_provider):
    y = clock.today().year
    earlier = post_completion(course, member, "R-3", completed_on=clock.today() - timedelta(days=9))
    second = UserFactory(last_name="O'Neil")
    roster = (f"\ufeff{HEADER},cecs\r\n"
              f"{member.member_id},muñoz,SFE-101,{clock.today() - timedelta(days=1)},R-1,\r\n"
              f"{second.member_id},O'Neil,SFE-101,1/2/{y},R-2,1.5\r\n"
              f"{member.member_id},Muñoz,SFE-101,{clock.today() - timedelta(days=9)},R-3,\r\n"
              f"\r\n"
              f"123456,Nobody,SFE-101,1/2/{y},R-4,\r\n"
              f"{member.member_id},Muñoz,PPI-1,1/2/{y},R-5,\r\n"
              f"{second.member_id},O'Neil,SFE-101,2/30/{y},R-6,\r\n"
              f"{member.member_id},Muñoz,SFE-101,1/3/{y},R-1,\r\n")
    with mock.patch.object(views, "completions_post", wraps=completions_post) as service:
        response = upload(provider_client, roster)
    assert response.status_code == 200
    service.assert_called_once()
    assert service.call_args.kwargs["via"] == "csv"
    assert service.call_args.kwargs["posted_by"] == registrar.email
    assert [i.external_id for i in service.call_args.kwargs["items"]] == ["R-1", "R-2", "R-3", "R-4", "R-5", "R-1"]
    assert "7 rows: 2 accepted, 1 duplicate, 4 rejected." in page_text(response)
    posted = earlier.created_at.astimezone(clock.zone_for(registrar)).date()
    assert report_rows(response) == [
        ["2", "R-1", "Accepted", f"5 CECs for member {member.member_id}, course SFE-101"],
        ["3", "R-2", "Accepted", f"1.5 CECs for member {second.member_id}, course SFE-101"],
        ["4", "R-3", "Duplicate", f"Already posted on {posted.month}/{posted.day}/{posted.year}; nothing changed."],
        ["6", "R-4", "Rejected", "No certificant matches this member ID and last name."],
        ["7", "R-5", "Rejected", "Not an approved course of this provider."],
        ["8", "R-6", "Rejected", f"The completion date “2/30/{y}” is not a date: write YYYY-MM-DD or M/D/YYYY."],
        ["9", "R-1", "Rejected", "Repeats the external ID of line 2."],
    ]
    assert sorted(Completion.objects.values_list("external_id", "via")) == [("R-1", "csv"), ("R-2", "csv"),
                                                                            ("R-3", "api")]
    assert CECEntry.objects.filter(user=second).get().cecs == Decimal("1.50")


def test_the_rejected_rows_download_to_fix_and_send_again(provider_client, course, member):
    y = clock.today().year
    response = upload(provider_client, f"{HEADER}\n{member.member_id},Muñoz,SFE-101,1/2/{y},R-1\n"
                                       f"{member.member_id},\"Muñoz, Jr\",SFE-101,bad,R-2\n"
                                       f"654321,Nobody,SFE-101,1/2/{y},R-3\n")
    token = re.search(r'name="rows" value="([^"]+)"', response.content.decode())[1]
    download = provider_client.post(reverse("provider_roster_rejected"), {"rows": token})
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="rejected-rows.csv"'
    text = download.content.decode()
    assert list(csv.reader(io.StringIO(text.removeprefix("\ufeff")))) == [
        ["member_id", "last_name", "course_number", "completed_on", "external_id", "line", "reason"],
        [member.member_id, "Muñoz, Jr", "SFE-101", "bad", "R-2", "3",
         "The completion date “bad” is not a date: write YYYY-MM-DD or M/D/YYYY."],
        ["654321", "Nobody", "SFE-101", f"1/2/{y}", "R-3", "4", "No certificant matches this member ID and last name."],
    ]
    # Fixed and sent back as it is: the line and reason columns are ignored.
    fixed = text.replace(",bad,", f",1/5/{y},").replace("Muñoz, Jr", "Muñoz")
    again = upload(provider_client, fixed)
    assert report_rows(again)[0] == ["2", "R-2", "Accepted", f"5 CECs for member {member.member_id}, course SFE-101"]
    assert provider_client.post(reverse("provider_roster_rejected"), {"rows": token[:-2] + "xx"}).status_code == 400


def test_another_provider_s_rejected_rows_are_not_theirs(client, provider_client, course, other_provider):
    response = upload(provider_client, f"{HEADER}\n1,Nobody,SFE-101,bad,R-1\n")
    token = re.search(r'name="rows" value="([^"]+)"', response.content.decode())[1]
    rival = UserFactory()
    ProviderMember.objects.create(user=rival, provider=other_provider.provider)
    client.force_login(rival)
    assert client.post(reverse("provider_roster_rejected"), {"rows": token}).status_code == 404


@pytest.mark.parametrize(("content", "message"), [
    ("member_id,last_name\n1,Lee\n".encode(), "The header (line 1) is missing the columns course_number, "
                                              "completed_on, external_id."),
    (f"{HEADER}\n1,Muñoz,SFE-101,1/2/{clock.today().year},R-1\n".encode("latin-1"),
     "This file is not UTF-8 text."),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "This file is not UTF-8 text."),
    (b"", "The submitted file is empty."),
])
def test_a_file_that_cannot_be_read_is_refused_whole(provider_client, course, content, message):
    response = upload(provider_client, content)
    assert response.status_code == 400
    assert field_errors(response, "roster")[0].startswith(message)
    assert Completion.objects.count() == 0


def test_more_than_ten_thousand_rows_are_refused_and_nothing_is_posted(provider_client, course, member):
    y = clock.today().year
    rows = "".join(f"{member.member_id},Muñoz,SFE-101,1/2/{y},R-{n}\n" for n in range(10_001))
    response = upload(provider_client, HEADER + "\n" + rows)
    assert response.status_code == 400
    assert field_errors(response, "roster") == [
        "This file has more than 10,000 rows. Split it into files of at most 10,000 rows and upload each."]
    assert Completion.objects.count() == 0


def test_a_file_over_ten_megabytes_is_refused(provider_client, course):
    response = upload(provider_client, HEADER.encode() + b"\n" + b"x" * MAX_FILE_BYTES)
    assert response.status_code == 400
    assert field_errors(response, "roster") == ["This file is over 10 MB. Split it into smaller files and upload each."]


# ---------------------------------------------------------------- the completions list

def test_the_list_filters_by_dates_course_and_state(provider_client, provider, course, member, other_provider):
    today = clock.today()
    other_course = course_for(provider, number="SFE-202", title="Rowing Technique")
    a = post_completion(course, member, "A", completed_on=today - timedelta(days=40))
    b = post_completion(course, UserFactory(), "B", completed_on=today - timedelta(days=10))
    c = post_completion(other_course, member, "C", completed_on=today - timedelta(days=5))
    post_completion(other_provider, member, "THEIRS")
    Completion.objects.filter(pk=b.pk).update(state="retracted", retracted_at=clock.now(), retraction_reason="x",
                                              cec_entry=None)

    def listed(**params):
        response = provider_client.get(reverse("provider_completions"), params)
        assert response.status_code == 200
        return [row.external_id for row in response.context["page"].object_list]

    assert listed() == ["C", "B", "A"]
    assert listed(completed_from=(today - timedelta(days=10)).isoformat()) == ["C", "B"]
    assert listed(completed_to=(today - timedelta(days=10)).isoformat()) == ["B", "A"]
    assert listed(course=other_course.pk) == ["C"]
    assert listed(state="retracted") == ["B"]
    assert listed(state="accepted", course=course.pk) == ["A"]
    response = provider_client.get(reverse("provider_completions"), {"completed_from": "soon", "state": "accepted"})
    assert field_errors(response, "completed_from") == ["Enter a valid date."]
    assert [row.external_id for row in response.context["page"].object_list] == ["C", "A"]
    assert listed(course=other_provider.pk) == ["C", "B", "A"]  # not a choice here: shown as an error, not applied
    text = page_text(provider_client.get(reverse("provider_completions")))
    assert f"{member.member_id} Muñoz SFE-202 Rowing Technique 5" in text
    assert {a.pk, c.pk} == set(Completion.objects.filter(state="accepted", provider=provider)
                               .values_list("pk", flat=True))


def test_the_list_is_paginated_by_fifty_in_a_constant_number_of_queries(provider_client, course):
    people = UserFactory.create_batch(3)
    for n in range(3):
        post_completion(course, people[n], f"E-{n}")
    with CaptureQueriesContext(connection) as few:
        provider_client.get(reverse("provider_completions"))
    people = UserFactory.create_batch(50)
    completions_post(provider_id=course.provider_id, via="api", posted_by="t", items=[
        CompletionIn(member_id=p.member_id, last_name=p.last_name, course_number=course.number,
                     completed_on=clock.today() - timedelta(days=1), external_id=f"F-{n}")
        for n, p in enumerate(people)])
    with CaptureQueriesContext(connection) as many:
        response = provider_client.get(reverse("provider_completions"), {"course": course.pk})
    assert len(many) == len(few) + 1  # the course filter, checked against the provider's courses
    assert len(response.context["page"].object_list) == 50
    assert "53 completions · page 1 of 2" in page_text(response)
    assert f'href="?course={course.pk}&amp;page=2"' in response.content.decode()
    second = provider_client.get(reverse("provider_completions"), {"course": course.pk, "page": 2})
    assert [c.external_id for c in second.context["page"].object_list] == ["E-2", "E-1", "E-0"]


def test_retract_is_offered_within_thirty_days_only(provider_client, registrar, course, member):
    old = post_completion(course, member, "OLD")
    with time_machine.travel(clock.now() + timedelta(days=20), tick=False):
        recent = post_completion(course, UserFactory(), "RECENT")
    with time_machine.travel(clock.now() + timedelta(days=31), tick=False):
        provider_client.force_login(registrar)  # a session does not last a month
        html = provider_client.get(reverse("provider_completions")).content.decode()
    assert reverse("provider_completion_retract", args=[recent.pk]) in html
    assert reverse("provider_completion_retract", args=[old.pk]) not in html


# ---------------------------------------------------------------- retracting

def test_retracting_takes_a_reason_and_takes_the_credit_off(provider_client, registrar, course, member):
    completion = post_completion(course, member, "REG-9")
    url = reverse("provider_completion_retract", args=[completion.pk])
    page = provider_client.get(url)
    assert page.status_code == 200
    assert "REG-9" in page_text(page) and 'name="reason"' in page.content.decode()
    response = provider_client.post(url, {"reason": "  "})
    assert response.status_code == 400
    assert field_errors(response, "reason") == ["Give the reason for the retraction."]
    assert Completion.objects.get().state == "accepted"

    response = provider_client.post(url, {"reason": "Posted for the wrong member."})
    assert (response.status_code, response["Location"]) == (302, reverse("provider_completions"))
    completion.refresh_from_db()
    assert (completion.state, completion.retraction_reason, completion.retracted_by, completion.cec_entry) == (
        "retracted", "Posted for the wrong member.", registrar.email, None)
    assert CECEntry.objects.filter(user=member).count() == 0
    text = page_text(provider_client.get(reverse("provider_completions")))
    assert f"Retracted external ID “REG-9”: the credit is off member {member.member_id}'s record." in text
    again = provider_client.get(url)
    assert "Retracted on" in page_text(again) and 'name="reason"' not in again.content.decode()


def test_after_thirty_days_there_is_no_button_and_the_service_refuses(provider_client, registrar, course, member):
    completion = post_completion(course, member, "REG-10")
    url = reverse("provider_completion_retract", args=[completion.pk])
    with time_machine.travel(clock.now() + timedelta(days=30, seconds=1), tick=False):
        provider_client.force_login(registrar)  # a session does not last a month
        page = provider_client.get(url)
        assert "can no longer be retracted here" in page_text(page)
        assert 'name="reason"' not in page.content.decode()
        response = provider_client.post(url, {"reason": "Too late?"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"A completion can be retracted within 30 days of posting; this one was posted on "
        f"{completion.created_at:%-m/%-d/%Y}. Contact the certification department."]
    assert Completion.objects.get().state == "accepted"


def test_another_provider_s_completion_is_404_and_untouched(provider_client, member, other_provider):
    theirs = post_completion(other_provider, member, "THEIRS")
    url = reverse("provider_completion_retract", args=[theirs.pk])
    assert provider_client.get(url).status_code == 404
    assert provider_client.post(url, {"reason": "Not ours"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == "accepted" and theirs.cec_entry_id is not None


# ---------------------------------------------------------------- staff admin

@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_lists_read_a_constant_number_of_queries(staff_client, provider, course, registrar, member,
                                                       other_provider):
    post_completion(course, member, "A-1")
    pages = [reverse(f"admin:providers_{name}_changelist") for name in ("provider", "providermember", "completion")]
    counts = []
    for url in pages:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(url).status_code == 200
        counts.append(len(captured))
    for n in range(6):
        rival = Provider.objects.create(name=f"Provider {n}", number=f"P-9{n:03d}")
        course_for(rival, number=f"X-{n}")
        ProviderMember.objects.create(user=UserFactory(), provider=rival)
        post_completion(course, UserFactory(), f"B-{n}")
    for url, before in zip(pages, counts):
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(url).status_code == 200
        assert len(captured) == before, url


def test_admin_completions_are_read_only_and_searchable(staff_client, course, member):
    completion = post_completion(course, member, "SEARCH-ME")
    post_completion(course, UserFactory(), "OTHER")
    url = reverse("admin:providers_completion_changelist")
    for term in ("SEARCH-ME", member.member_id):
        html = staff_client.get(url, {"q": term}).content.decode()
        assert "SEARCH-ME" in html and "OTHER" not in html
    assert staff_client.get(reverse("admin:providers_completion_add")).status_code == 403
    change = staff_client.get(reverse("admin:providers_completion_change", args=[completion.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert staff_client.post(reverse("admin:providers_completion_delete", args=[completion.pk])).status_code == 403
    assert staff_client.get(url, {"state__exact": "retracted"}).context["cl"].result_count == 0
    assert staff_client.get(url, {"via__exact": "api"}).context["cl"].result_count == 2


def test_admin_adds_a_provider_with_a_course_and_finds_it(staff_client):
    today = clock.today()
    response = staff_client.post(reverse("admin:providers_provider_add"), {
        "name": "Coastal Fitness Academy", "number": "P-0555", "active": "on", "contact_name": "", "contact_email": "",
        "contact_phone": "",
        "courses-TOTAL_FORMS": "1", "courses-INITIAL_FORMS": "0", "courses-MIN_NUM_FORMS": "0",
        "courses-MAX_NUM_FORMS": "1000",
        "courses-0-number": "CFA-1", "courses-0-title": "Aquatic Exercise", "courses-0-format": "live",
        "courses-0-cecs": "3.5", "courses-0-valid_from": date(today.year, 1, 1).isoformat(),
        "courses-0-valid_to": date(today.year, 12, 31).isoformat(),
        "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0", "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    provider = Provider.objects.get(number="P-0555")
    assert list(provider.courses.values_list("number", "cecs")) == [("CFA-1", Decimal("3.50"))]
    html = staff_client.get(reverse("admin:providers_provider_changelist"), {"q": "P-0555"}).content.decode()
    assert "Coastal Fitness Academy" in html
