"""The public verify page and its search: exactly the allowed fields, the live status in words and colour, when it
was checked; one answer for an unknown code, an unknown number and a wrong name; throttled per address."""

import re
from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import BillingAddress
from certifications.certificate_status import certificate_transition
from certifications.models import Certificate
from tests.dates import at
from tests.factories import UserFactory
from tests.security.pages import inline_code
from tests.verification.certificates import certificate

pytestmark = pytest.mark.django_db
S = Certificate.Status


@pytest.fixture
def noon(today):
    """Noon, March 15 this year, Eastern time (the portal's)."""
    moment = at(date(today.year, 3, 15), 12, 4)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def holder(db):
    person = UserFactory(first_name="Zoë", last_name="de la Cruz", email="zoe.delacruz@example.com",
                         member_id="482913", time_zone="America/Los_Angeles")
    BillingAddress.objects.create(user=person, line1="17 Juniper Lane", city="Bloomington", state="IN",
                                  postal_code="47401")
    return person


def text_of(response) -> str:
    """The page's main content as words, tags dropped."""
    main = response.content.decode().split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main.split(">", 1)[1]).split())


def address(name: str, path: str) -> str:
    """The other checks' pages by name, or their fixed paths while those pages are not there yet."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return path


def page(client, cert, **extra):
    return client.get(reverse("verify", args=[cert.verify_code]), **extra)


class TestVerifyPage:
    def test_shows_exactly_the_allowed_fields(self, client, holder, noon):
        cert = certificate(holder, valid_through=date(noon.year + 1, 12, 31))
        Certificate.objects.filter(pk=cert.pk).update(status_reason="Internal note about the holder.")
        response = page(client, cert)
        assert response.status_code == 200
        assert text_of(response) == (
            f"Certificate verification ✓ Active This certificate is current. "
            f"Holder Zoë de la Cruz Certification Certified Personal Trainer Certificate number {cert.number} "
            f"Issued on 1/1/{noon.year - 2} Valid through 12/31/{noon.year + 1} Status Active "
            f"Checked on 3/15/{noon.year} at 12:04 PM Eastern time. Verify another certificate")
        html = response.content.decode()
        for private in ("zoe.delacruz@example.com", "482913", "Member ID", "17 Juniper Lane", "Bloomington",
                        "47401", "Internal note", "Pacific"):
            assert private not in html, private
        assert inline_code(html) == [] and ' style="' not in html

    @pytest.mark.parametrize(("setup", "label", "tone", "sign"), [
        ("current", "Active", "success", "✓"),
        ("grace", "Expired (grace period)", "warning", "!"),
        ("lapsed", "Lapsed", "secondary", "–"),
        ("renewed", "Renewed (replaced by a newer certificate)", "secondary", "–"),
        ("suspended", "Suspended", "danger", "✕"),
        ("revoked", "Revoked", "danger", "✕"),
    ])
    def test_each_status_in_words_colour_and_sign(self, client, holder, noon, setup, label, tone, sign):
        valid_through = {"grace": date(noon.year - 1, 12, 31), "lapsed": date(noon.year - 2, 12, 31)}.get(
            setup, date(noon.year + 1, 12, 31))
        cert = certificate(holder, valid_through=valid_through)
        if setup == "renewed":
            certificate(holder, valid_through=date(noon.year + 4, 12, 31), certification=cert.certification)
        if setup in ("suspended", "revoked"):
            certificate_transition(certificate_id=cert.pk, to=setup, actor="staff:3", reason="Secret reason.")
        html = page(client, cert).content.decode()
        assert f'<div class="alert alert-{tone} mb-3 verify-status-' in html
        assert re.search(rf'<h2 class="h4 mb-1" id="verify-status"><span aria-hidden="true" class="me-2 fw-bold">'
                         rf'{re.escape(sign)}</span>{re.escape(label)}</h2>', html)
        assert f'<dd class="col-sm-7" id="verify-status-text">{label}</dd>' in html
        assert "Secret reason." not in html

    def test_the_status_is_live_before_the_hourly_run_stores_it(self, client, holder, today):
        cert = certificate(holder, valid_through=date(today.year - 1, 12, 31))  # stored Active; grace by the dates
        new_year = date(today.year, 1, 1)
        with time_machine.travel(at(new_year, 1, 0), tick=False):  # 10 PM on Dec 31 for the holder (Pacific)
            assert "✓</span>Active</h2>" in page(client, cert).content.decode()
        with time_machine.travel(at(new_year, 3, 30), tick=False):  # 12:30 AM on Jan 1 for the holder
            html = page(Client(REMOTE_ADDR="10.0.0.2"), cert).content.decode()
            assert "!</span>Expired (grace period)</h2>" in html
            assert f"Checked on 1/1/{today.year} at 3:30 AM Eastern time." in html
        assert Certificate.objects.get(pk=cert.pk).status == "active"

    def test_a_void_certificate_reads_revoked(self, client, holder, noon):
        cert = certificate(holder, valid_through=date(noon.year + 1, 12, 31))
        Certificate.objects.filter(pk=cert.pk).update(voided_at=noon, void_reason="Refunded")
        assert "✕</span>Revoked</h2>" in page(client, cert).content.decode()

    def test_the_page_is_not_kept_in_a_cache(self, client, holder, today):
        cert = certificate(holder, valid_through=date(today.year + 1, 12, 31))
        cache_control = page(client, cert)["Cache-Control"]
        assert "no-cache" in cache_control and "no-store" in cache_control


class TestOneAnswerForEverythingWrong:
    def test_unknown_code_unknown_number_and_wrong_name_are_answered_alike(self, client, holder, noon):
        cert = certificate(holder, valid_through=date(noon.year + 1, 12, 31))
        one_off = ("A" if cert.verify_code[0] != "A" else "B") + cert.verify_code[1:]  # one character changed
        unknown_code = client.get(reverse("verify", args=[one_off]))
        unknown_number = client.get(reverse("verify_search"), {"number": cert.number + "1", "last_name": "de la Cruz"})
        wrong_name = client.get(reverse("verify_search"), {"number": cert.number, "last_name": "Cruz"})
        answers = [unknown_code, unknown_number, wrong_name]
        assert [a.status_code for a in answers] == [404, 404, 404]
        assert unknown_code.content == unknown_number.content == wrong_name.content
        assert "No certificate matches." in unknown_code.content.decode()
        assert cert.number not in unknown_code.content.decode()

    @pytest.mark.parametrize("typed", ["de la Cruz", "  DE LA CRUZ ", "Delacruz", "de la Crúz"])
    def test_the_search_matches_the_last_name_like_name_key_and_goes_to_the_page(self, client, holder, typed, today):
        cert = certificate(holder, valid_through=date(today.year + 1, 12, 31))
        response = client.get(reverse("verify_search"), {"number": cert.number.lower(), "last_name": typed})
        assert (response.status_code, response["Location"]) == (302, reverse("verify", args=[cert.verify_code]))

    def test_the_last_name_on_the_certificate_still_finds_it_after_a_change(self, client, holder, today):
        cert = certificate(holder, valid_through=date(today.year + 1, 12, 31))
        holder.last_name = "Okafor"
        holder.save()
        for typed in ("Okafor", "de la Cruz"):
            response = client.get(reverse("verify_search"), {"number": cert.number, "last_name": typed})
            assert response.status_code == 302, typed
        assert client.get(reverse("verify_search"), {"number": cert.number, "last_name": "Jordan"}).status_code == 404

    def test_an_incomplete_search_says_what_is_missing(self, client):
        response = client.get(reverse("verify_search"), {"number": "CPT-1", "last_name": ""})
        assert response.status_code == 400
        assert "This field is required." in response.content.decode()

    def test_the_search_page_links_the_other_checks(self, client):
        response = client.get(reverse("verify_search"))
        html = response.content.decode()
        assert response.status_code == 200
        assert f'<a href="{address("verify_document", "/verify/document/")}">Check a PDF</a>' in html
        assert f'<a href="{address("verify_credential", "/verify/credential/")}">Check a credential</a>' in html
        assert '<form method="get" action="/verify/"' in html


class TestThrottle:
    def test_lookups_beyond_the_rate_get_429_per_address(self, holder, settings, noon):
        settings.VERIFY_RATE = "3/m"
        cert = certificate(holder, valid_through=date(noon.year + 1, 12, 31))
        first, other = Client(REMOTE_ADDR="192.0.2.7"), Client(REMOTE_ADDR="192.0.2.8")
        assert first.get(reverse("verify_search")).status_code == 200  # the blank form counts for nothing
        assert page(first, cert).status_code == 200
        assert first.get(reverse("verify_search"), {"number": cert.number, "last_name": "x"}).status_code == 404
        assert page(first, cert).status_code == 200
        limited = page(first, cert)
        assert (limited.status_code, limited["Retry-After"]) == (429, "60")
        assert "Too many checks from your address in the last minute." in limited.content.decode()
        assert cert.number not in limited.content.decode()
        assert first.get(reverse("verify_search"), {"number": cert.number, "last_name": "de la Cruz"}
                         ).status_code == 429
        assert page(other, cert).status_code == 200
        with time_machine.travel(noon.timestamp() + 61, tick=False):
            assert page(first, cert).status_code == 200

