"""The provider API through DRF's client: posting one completion or a batch (every answer and error), listing with
filters and pages, retracting, the throttle per token, the number of queries, and ``create_provider_token``.

Time is frozen (time-machine, ``tick=False``) at noon Eastern on June 15 of the clock's year; every date is built
from it. The helpers here (``provider``, ``course``, ``certificant``, ``api_for``, ...) serve the security tests
too (``test_api_security``).
"""

import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from acsm_portal import clock
from cecs.models import CECEntry
from providers.models import Completion, Course, Provider, ProviderToken
from providers.services import NO_MATCH
from providers.tokens import provider_token_create, provider_token_find
from tests.dates import at
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/completions/"


@pytest.fixture
def traveller():
    """The clock stopped at noon Eastern on June 15 of this year; ``shift`` moves it."""
    with time_machine.travel(at(date(clock.today().year, 6, 15)), tick=False) as traveller:
        yield traveller


@pytest.fixture
def provider(traveller) -> Provider:
    return Provider.objects.create(name="ACSM Online Learning", number="P-0001")


@pytest.fixture
def course(provider) -> Course:
    return make_course(provider)


@pytest.fixture
def token(provider) -> tuple[ProviderToken, str]:
    return provider_token_create(provider_number=provider.number, name="LMS")


@pytest.fixture
def api(token) -> APIClient:
    return api_for(token[1])


@pytest.fixture
def person(traveller) -> User:
    return UserFactory(last_name="De la Cruz")


def make_course(provider: Provider, number: str = "OL-101", cecs: str = "2.00") -> Course:
    """An approved course, valid from a year before today to a year after."""
    today = clock.today()
    return Course.objects.create(provider=provider, number=number, title=f"Program Design {number}", format="online",
                                 cecs=Decimal(cecs), valid_from=today - timedelta(days=365),
                                 valid_to=today + timedelta(days=365))


def api_for(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def item(person: User, external_id: str = "lms-1", **fields) -> dict:
    """A good completion of OL-101 for ``person``, completed yesterday."""
    return {"member_id": person.member_id, "last_name": person.last_name, "course_number": "OL-101",
            "completed_on": (clock.today() - timedelta(days=1)).isoformat(), "external_id": external_id, **fields}


def post(client: APIClient, body):
    return client.post(URL, body, format="json")


def stamp(moment: datetime) -> str:
    """An instant as the API writes it: UTC, to the second, with Z."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def shown(completion: Completion) -> dict:
    """What the API gives for ``completion`` (read from the database afresh)."""
    completion = Completion.objects.select_related("course", "user").get(pk=completion.pk)
    return {
        "external_id": completion.external_id, "member_id": completion.user.member_id,
        "course_number": completion.course.number, "course_title": completion.course.title,
        "completed_on": completion.completed_on.isoformat(), "cecs": f"{completion.cecs:.2f}",
        "state": completion.state, "via": completion.via, "posted_at": stamp(completion.created_at),
        "retracted_at": stamp(completion.retracted_at) if completion.retracted_at else None,
        "retraction_reason": completion.retraction_reason,
    }


def accepted(index: int, completion: Completion) -> dict:
    return {"index": index, "external_id": completion.external_id, "status": "accepted",
            "completion": shown(completion), "errors": {}}


def rejected(index: int, external_id: str, errors: dict) -> dict:
    return {"index": index, "external_id": external_id, "status": "rejected", "completion": None, "errors": errors}


# Posting ---------------------------------------------------------------------------------------------------------

def test_one_completion_is_posted_with_its_credit(api, token, course, person):
    yesterday = clock.today() - timedelta(days=1)
    response = post(api, item(person, last_name="  DELA CRÚZ "))  # case, accents and spaces ignored
    assert response.status_code == 201
    completion = Completion.objects.get()
    assert response.json() == {"accepted": 1, "duplicate": 0, "rejected": 0, "results": [accepted(0, completion)]}
    assert response.json()["results"][0]["completion"] == {
        "external_id": "lms-1", "member_id": person.member_id, "course_number": "OL-101",
        "course_title": "Program Design OL-101", "completed_on": yesterday.isoformat(), "cecs": "2.00",
        "state": "accepted", "via": "api", "posted_at": stamp(clock.now()), "retracted_at": None,
        "retraction_reason": "",
    }
    assert (completion.provider, completion.course, completion.user, completion.cecs, completion.via,
            completion.posted_by) == (course.provider, course, person, Decimal("2.00"), "api",
                                      f"API token {token[0].prefix} (LMS)")
    entry = completion.cec_entry
    assert (entry.user, entry.source, entry.cecs, entry.units, entry.course_name, entry.provider, entry.format,
            entry.date_earned, entry.date_reported) == (
        person, CECEntry.Source.PROVIDER, Decimal("2.00"), Decimal("2.00"), "Program Design OL-101",
        "ACSM Online Learning", "online", yesterday, clock.today())
    assert response["Content-Type"] == "application/json"
    assert {"no-store", "private"} <= {part.strip() for part in response["Cache-Control"].split(",")}


def test_a_retry_returns_the_first_completion_and_changes_nothing(api, course, person, traveller):
    first = post(api, item(person, cecs="1.5")).json()["results"][0]
    assert first["completion"]["cecs"] == "1.50"
    traveller.shift(timedelta(hours=2))
    again = post(api, item(person, cecs="2", course_number="nonsense", last_name="Someone else"))
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicate": 1, "rejected": 0, "results": [
        {**first, "status": "duplicate"}]}
    assert (Completion.objects.count(), CECEntry.objects.count()) == (1, 1)
    assert Completion.objects.get().cecs == Decimal("1.50")


def test_a_batch_keeps_the_good_items_and_says_why_each_bad_one_is_refused(api, course, person, provider):
    other = UserFactory(last_name="Okafor")
    make_course(provider, "OL-102", cecs="1.00")
    today = clock.today()
    body = {"completions": [
        item(person, "a"),
        item(other, "b", course_number="OL-102", cecs=0.5),
        item(person, "c", last_name="Cruz"),  # the member ID exists, the name does not match
        item(person, "d", member_id="999999"),  # no such member: the same answer
        item(person, "e", course_number="OL-999"),
        item(person, "f", completed_on=(today + timedelta(days=2)).isoformat()),
        item(person, "g", completed_on=(today - timedelta(days=400)).isoformat()),
        item(person, "h", cecs="2.5"),
        item(person, "a"),  # repeats item 0's external ID in the same batch
        item(person, "j", completed_on=f"{today:%m/%d/%Y}"),
        {"member_id": person.member_id, "external_id": "k"},
        "not an object",
        item(person, "  "),
    ]}
    response = post(api, body)
    assert response.status_code == 201
    made = {c.external_id: c for c in Completion.objects.all()}
    assert sorted(made) == ["a", "b"]
    start, end = today - timedelta(days=365), today + timedelta(days=365)
    assert response.json() == {"accepted": 2, "duplicate": 0, "rejected": 11, "results": [
        accepted(0, made["a"]),
        accepted(1, made["b"]),
        rejected(2, "c", {"member_id": [NO_MATCH]}),
        rejected(3, "d", {"member_id": [NO_MATCH]}),
        rejected(4, "e", {"course_number": ["Not an approved course of this provider."]}),
        rejected(5, "f", {"completed_on": ["The completion date is in the future."]}),
        rejected(6, "g", {"completed_on": [
            f"The course is approved for completions from {start:%-m/%-d/%Y} through {end:%-m/%-d/%Y}."]}),
        rejected(7, "h", {"cecs": ["At most 2.00 CECs are approved for this course."]}),
        rejected(8, "a", {"external_id": ["Repeats the external ID of the item at index 0."]}),
        rejected(9, "j", {"completed_on": ["Give the date as YYYY-MM-DD."]}),
        rejected(10, "k", {"last_name": ["This field is required."], "course_number": ["This field is required."],
                           "completed_on": ["This field is required."]}),
        rejected(11, "", {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
        rejected(12, "", {"external_id": ["This field may not be blank."]}),
    ]}
    assert made["b"].cecs == Decimal("0.50")
    assert CECEntry.objects.filter(source="provider").count() == 2


def test_a_repeated_external_id_names_the_first_items_index_in_the_request(api, course, person):
    """Items refused for their format are not passed on: the index named is still the request's own."""
    body = {"completions": [item(person, "p", completed_on="soon"), item(person, "q"), item(person, "q", cecs="1")]}
    response = post(api, body)
    assert response.status_code == 201
    assert response.json()["results"][1:] == [
        accepted(1, Completion.objects.get()),
        rejected(2, "q", {"external_id": ["Repeats the external ID of the item at index 1."]}),
    ]


def test_every_item_refused_is_400_with_the_same_report(api, course, person):
    response = post(api, {"completions": [item(person, "x", course_number="OL-999"), item(person, "y", cecs="0")]})
    assert response.status_code == 400
    assert response.json() == {"accepted": 0, "duplicate": 0, "rejected": 2, "results": [
        rejected(0, "x", {"course_number": ["Not an approved course of this provider."]}),
        rejected(1, "y", {"cecs": ["CECs must be a positive number."]}),
    ]}
    assert Completion.objects.count() == 0


def test_duplicates_and_refusals_without_anything_new_is_200(api, course, person):
    post(api, item(person, "x"))
    response = post(api, {"completions": [item(person, "x"), item(person, "y", course_number="OL-999")]})
    assert response.status_code == 200
    assert [(r["status"], r["external_id"]) for r in response.json()["results"]] == [("duplicate", "x"),
                                                                                    ("rejected", "y")]
    assert (response.json()["duplicate"], response.json()["rejected"]) == (1, 1)


@pytest.mark.parametrize(("cecs", "message"), [
    ("NaN", "Give CECs as a number such as 1.5."),
    ("nan", "Give CECs as a number such as 1.5."),
    ("sNaN", "Give CECs as a number such as 1.5."),
    ("Infinity", "Give CECs as a number such as 1.5."),
    ("-Infinity", "Give CECs as a number such as 1.5."),
    ("two", "Give CECs as a number such as 1.5."),
    ("1,5", "Give CECs as a number such as 1.5."),
    (True, "Give CECs as a number such as 1.5."),
    ([1], "Give CECs as a number such as 1.5."),
    ({"value": 1}, "Give CECs as a number such as 1.5."),
    ("1.234", "CECs have at most two decimal places."),
    ("12345.5", "CECs have at most 4 digits before the decimal point."),
    ("-1", "CECs must be a positive number."),
    ("0.00", "CECs must be a positive number."),
])
def test_cecs_that_are_not_a_fit_number_are_refused_with_a_message(api, course, person, cecs, message):
    response = post(api, item(person, cecs=cecs))
    assert response.status_code == 400
    assert response.json()["results"] == [rejected(0, "lms-1", {"cecs": [message]})]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_bare_nan_and_infinity_in_the_json_are_refused_as_the_field(api, course, person, literal):
    body = json.dumps(item(person))[:-1] + f', "cecs": {literal}}}'
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["results"] == [rejected(0, "lms-1", {"cecs": ["Give CECs as a number such as 1.5."]})]


@pytest.mark.parametrize(("cecs", "granted"), [(1.25, "1.25"), ("0.5", "0.50"), (None, "2.00"), ("", "2.00"),
                                                ("2", "2.00")])
def test_cecs_as_a_number_a_string_or_left_out(api, course, person, cecs, granted):
    response = post(api, item(person, cecs=cecs))
    assert response.status_code == 201
    assert response.json()["results"][0]["completion"]["cecs"] == granted
    assert Completion.objects.get().cec_entry.cecs == Decimal(granted)


def test_more_than_a_thousand_at_once_are_refused_whole(api, course, person):
    response = post(api, {"completions": [item(person, f"x{n}") for n in range(1001)]})
    assert response.status_code == 400
    assert response.json() == {"completions": ["At most 1,000 completions at a time; this had 1,001."]}
    assert Completion.objects.count() == 0


@pytest.mark.parametrize(("body", "errors"), [
    ([], {"non_field_errors": ['Send one completion as an object, or several as {"completions": [...]}.']}),
    ("text", {"non_field_errors": ['Send one completion as an object, or several as {"completions": [...]}.']}),
    ({"completions": []}, {"completions": ["Send at least one completion."]}),
    ({"completions": {"member_id": "1"}}, {"completions": ["Give the completions as a list."]}),
])
def test_a_body_that_is_not_completions_is_400(api, course, body, errors):
    response = post(api, body)
    assert response.status_code == 400
    assert response.json() == errors


def test_broken_json_and_other_media_types(api, course):
    response = api.post(URL, '{"member_id": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")
    response = api.post(URL, "member_id=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'}
    assert Completion.objects.count() == 0


def test_other_methods_are_405(api, course):
    assert api.put(URL, {}, format="json").json() == {"detail": 'Method "PUT" not allowed.'}
    assert api.put(URL, {}, format="json").status_code == 405
    response = api.get(URL + "lms-1/")
    assert (response.status_code, response.json()) == (405, {"detail": 'Method "GET" not allowed.'})


def test_a_thousand_completions_take_the_queries_of_ten(api, course, provider, django_assert_num_queries):
    """The token, then the service's savepoint, provider locked, courses, certificants, external IDs known, the same
    courses completed before, credits inserted, completions inserted, release: ten, for ten items or a thousand."""
    people = User.objects.bulk_create([
        User(email=f"batch{n}@example.com", first_name="Sam", last_name=f"Batch{n}", member_id=f"{700000 + n}")
        for n in range(1010)
    ])
    for group, offset in ((people[:10], 0), (people[10:], 10)):
        batch = {"completions": [item(p, f"b{offset + n}") for n, p in enumerate(group)]}
        with django_assert_num_queries(10):
            response = post(api, batch)
        assert (response.status_code, response.json()["accepted"]) == (201, len(group))
    assert Completion.objects.count() == CECEntry.objects.filter(source="provider").count() == 1010
    # A retry of the thousand: every one a duplicate, nothing inserted, their certificants loaded in one query.
    with django_assert_num_queries(9):
        response = post(api, {"completions": [item(p, f"b{10 + n}") for n, p in enumerate(people[10:])]})
    assert (response.status_code, response.json()["duplicate"]) == (200, 1000)


# Listing ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def posted(api, provider, course, person, traveller) -> list[Completion]:
    """Five completions posted an hour apart: e0 to e4, completed 5 to 1 days ago, e3 of course OL-102 and e4
    retracted; and one of another provider."""
    make_course(provider, "OL-102")
    today = clock.today()
    for n in range(5):
        body = item(person, f"e{n}", completed_on=(today - timedelta(days=5 - n)).isoformat(),
                    course_number="OL-102" if n == 3 else "OL-101")
        assert post(api, body).status_code == 201
        traveller.shift(timedelta(hours=1))
    assert api.delete(URL + "e4/?reason=Posted by mistake").status_code == 200
    elsewhere = Provider.objects.create(name="Elsewhere", number="P-0002")
    make_course(elsewhere)
    assert post(api_for(provider_token_create(provider_number="P-0002", name="x")[1]), item(person, "z")
                ).status_code == 201
    return list(Completion.objects.filter(provider=provider).order_by("external_id"))


def ids(response) -> list[str]:
    return [c["external_id"] for c in response.json()["results"]]


def test_the_list_is_this_providers_newest_first(api, posted):
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json() == {"count": 5, "next": None, "previous": None,
                               "results": [shown(c) for c in reversed(posted)]}
    assert response.json()["results"][0]["state"] == "retracted"
    assert response.json()["results"][0]["retraction_reason"] == "Posted by mistake"


@pytest.mark.parametrize(("query", "expected"), [
    ("completed_from={d3}", ["e4", "e3", "e2"]),
    ("completed_to={d3}", ["e2", "e1", "e0"]),
    ("completed_from={d4}&completed_to={d2}", ["e3", "e2", "e1"]),
    ("course_number=OL-102", ["e3"]),
    ("course_number=OL-999", []),
    ("state=retracted", ["e4"]),
    ("state=accepted&course_number=OL-101&completed_from={d4}", ["e2", "e1"]),
])
def test_the_list_filters(api, posted, query, expected):
    today = clock.today()
    days = {f"d{n}": (today - timedelta(days=n)).isoformat() for n in range(1, 6)}
    response = api.get(f"{URL}?{query.format(**days)}")
    assert response.status_code == 200
    assert ids(response) == expected


def test_the_list_is_paged(api, posted):
    first = api.get(URL + "?page_size=2")
    assert first.json()["count"] == 5
    assert ids(first) == ["e4", "e3"]
    assert first.json()["next"] == "http://testserver/api/v1/completions/?page=2&page_size=2"
    last = api.get(URL + "?page_size=2&page=3")
    assert (ids(last), last.json()["next"]) == (["e0"], None)
    missing = api.get(URL + "?page=4&page_size=2")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Invalid page."})


@pytest.mark.parametrize(("query", "errors"), [
    ("completed_from=yesterday", {"completed_from": ["Give the date as YYYY-MM-DD."]}),
    ("state=lost", {"state": ['"lost" is not a valid choice.']}),
    ("completed_from={today}&completed_to={yesterday}", {"completed_to": ["Give a date on or after completed_from."]}),
])
def test_a_bad_filter_is_400(api, posted, query, errors):
    today = clock.today()
    response = api.get(f"{URL}?{query.format(today=today, yesterday=today - timedelta(days=1))}")
    assert (response.status_code, response.json()) == (400, errors)


def test_a_page_takes_three_queries_whatever_its_size(api, posted, person, django_assert_num_queries):
    """The token, the count, the page (completions with their course and certificant)."""
    with django_assert_num_queries(3):
        assert len(api.get(URL + "?page_size=2").json()["results"]) == 2
    post(api, {"completions": [item(person, f"m{n}", completed_on=(clock.today() - timedelta(days=n + 2)).isoformat())
                               for n in range(60)]})
    with django_assert_num_queries(3):
        assert len(api.get(URL + "?page_size=60").json()["results"]) == 60


# Retracting ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["body", "query"])
def test_a_retraction_takes_the_credit_off_the_ledger(api, token, course, person, traveller, how):
    post(api, item(person, "lms/7/1"))  # an external ID with slashes: the URL takes it whole
    entry_id = Completion.objects.get().cec_entry_id
    traveller.shift(timedelta(days=29))
    url = URL + "lms/7/1/"
    if how == "body":
        response = api.delete(url, {"reason": "  Wrong   person "}, format="json")
    else:
        response = api.delete(url + "?reason=Wrong person")
    assert response.status_code == 200
    completion = Completion.objects.get()
    assert response.json() == shown(completion)
    assert (completion.state, completion.retracted_at, completion.retracted_by, completion.retraction_reason,
            completion.cec_entry) == ("retracted", clock.now(), f"API token {token[0].prefix} (LMS)", "Wrong person",
                                      None)
    assert not CECEntry.objects.filter(pk=entry_id).exists()
    assert response["Cache-Control"] == "no-store, private"

    traveller.shift(timedelta(days=5))  # again, later: the same, unchanged
    again = api.delete(url + "?reason=Again")
    assert (again.status_code, again.json()) == (200, response.json())


@pytest.mark.parametrize(("send", "errors"), [
    ({}, {"reason": ["Give the reason for the retraction."]}),
    ({"reason": "   "}, {"reason": ["Give the reason for the retraction."]}),
    ({"reason": None}, {"reason": ["Give the reason for the retraction."]}),
    ({"reason": "x" * 501}, {"reason": ["Ensure this field has no more than 500 characters."]}),
])
def test_a_retraction_needs_a_reason(api, course, person, send, errors):
    post(api, item(person))
    response = api.delete(URL + "lms-1/", send, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert Completion.objects.get().state == "accepted"


def test_an_unknown_completion_is_404(api, course):
    response = api.delete(URL + "nothing/?reason=Mistake")
    assert (response.status_code, response.json()) == (404, {"detail": "No such completion."})


def test_after_thirty_days_a_retraction_is_409(api, course, person, traveller):
    posted_on = clock.today()
    post(api, item(person))
    traveller.shift(timedelta(days=30, seconds=1))
    response = api.delete(URL + "lms-1/?reason=Late")
    assert response.status_code == 409
    assert response.json() == {"detail": f"A completion can be retracted within 30 days of posting; this one was "
                                         f"posted on {posted_on:%-m/%-d/%Y}. Contact the certification department."}
    assert Completion.objects.get().state == "accepted"


# Throttle --------------------------------------------------------------------------------------------------------

@override_settings(PROVIDER_API_RATE="3/min")
def test_each_token_is_throttled_on_its_own(api, provider, course, traveller):
    for _ in range(3):
        assert api.get(URL).status_code == 200
    response = api.get(URL)
    assert response.status_code == 429
    assert response.json() == {"detail": "Request was throttled. Expected available in 60 seconds."}
    assert response["Retry-After"] == "60"
    assert post(api, {"completions": []}).status_code == 429  # every method counts
    # Another token of the same provider has its own count.
    other = api_for(provider_token_create(provider_number=provider.number, name="Second system")[1])
    assert other.get(URL).status_code == 200
    traveller.shift(timedelta(seconds=61))
    assert api.get(URL).status_code == 200


# The command -----------------------------------------------------------------------------------------------------

def test_create_provider_token_prints_the_token_once_on_its_last_line(provider):
    out = StringIO()
    call_command("create_provider_token", "--provider", "P-0001", "--name", "Moodle", stdout=out)
    lines = out.getvalue().splitlines()
    token = ProviderToken.objects.get()
    assert lines == [f"Token 'Moodle' (prefix {token.prefix}) for ACSM Online Learning (P-0001). It is shown this "
                     "once: store it now.", lines[-1]]
    key = lines[-1]
    assert key.startswith(token.prefix + ".") and len(key) == 41
    assert provider_token_find(key) == token
    assert (token.provider, token.name, token.revoked) == (provider, "Moodle", False)
    assert key not in (token.id, token.hashed_key) and key.split(".")[1] not in token.hashed_key


def test_create_provider_token_for_an_inactive_provider_says_so(provider):
    Provider.objects.filter(pk=provider.pk).update(active=False)
    out = StringIO()
    call_command("create_provider_token", "--provider", "P-0001", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[1] == "The provider is not active: the API refuses the token until it is."
    assert ProviderToken.objects.get().name == "API token"
    assert api_for(lines[-1]).get(URL).status_code == 403


@pytest.mark.parametrize(("args", "message"), [
    (["--provider", "P-0404"], "No provider is numbered 'P-0404'."),
    (["--provider", "P-0001", "--name", "   "], "Name the token (such as the system that will use it)."),
    (["--provider", "P-0001", "--name", "n" * 51], "The name is at most 50 characters."),
])
def test_create_provider_token_refuses(provider, args, message):
    out = StringIO()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("create_provider_token", *args, stdout=out)
    assert out.getvalue() == ""
    assert ProviderToken.objects.count() == 0
