"""Open Badges 3.0 credentials: the credential's shape, its VC-JWT checked with the key the portal publishes (by
joserfc directly, not by the portal's own check), what breaks it (a changed character, a revoked certificate, the
end of its dates, another key), the owner-only download, the live status and the public check page."""

import base64
import html
import io
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import JWKRegistry

from acsm_portal import clock
from certifications.certificate_status import certificate_transition
from certifications.models import Certificate, Cycle
from tests.dates import at
from tests.factories import certification_with_cycle
from tests.pages import text, tile
from tests.security.pages import inline_code, post_forms
from verification import badges

pytestmark = pytest.mark.django_db

BASE = "https://certify.example.org"
DID = "did:web:certify.example.org"
CHICAGO = ZoneInfo("America/Chicago")
CPT = "Certified Personal Trainer"
CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


@pytest.fixture(autouse=True)
def june_15():
    """Noon (Eastern) on June 15 of the clock's year: summer time in Chicago (UTC-5), the holder's zone."""
    year = clock.today().year
    with time_machine.travel(at(date(year, 6, 15)), tick=False):
        yield date(year, 6, 15)


@pytest.fixture(autouse=True)
def keys(settings, tmp_path):
    """A signing key and certificate of this test's own, and the portal at an https address."""
    call_command("signing_keys_create", dir=tmp_path, stdout=io.StringIO())
    settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE = tmp_path / "key.pem", tmp_path / "cert.pem"
    settings.PORTAL_BASE_URL = BASE
    settings.VERIFY_RATE = "30/m"
    return tmp_path


@pytest.fixture
def certificate(user, june_15):
    """Zoë O'Neil's CPT certificate, issued June 1, valid through December 31 next year; she lives in Chicago."""
    user.first_name, user.last_name, user.time_zone = "Zoë", "O'Neil", "America/Chicago"
    user.save()
    year = june_15.year
    cpt = certification_with_cycle(user, "CPT", date(year, 1, 1), date(year + 1, 12, 31))
    return Certificate.objects.create(
        certification=cpt, cycle=cpt.cycles.get(), number=f"CPT-{year}-483920", holder_name="Zoë O'Neil",
        certification_name=CPT, issued_on=date(year, 6, 1), valid_through=date(year + 1, 12, 31))


def download(client, certificate) -> str:
    response = client.get(reverse("badge_download", args=[certificate.number]))
    assert response.status_code == 200
    return response.content.decode("ascii")


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def published_key(client, kid: str):
    """The key ``kid`` names, as the portal's did:web document publishes it (fetched as a verifier would)."""
    response = client.get("/.well-known/did.json")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    document = response.json()
    assert document["id"] == DID
    assert document["assertionMethod"] == [kid]
    (method,) = [m for m in document["verificationMethod"] if m["id"] == kid]
    assert (method["type"], method["controller"]) == ("JsonWebKey2020", DID)
    assert set(method["publicKeyJwk"]) == {"kty", "crv", "x", "y"}  # no "d"
    return JWKRegistry.import_key(method["publicKeyJwk"])


class TestCredential:
    def test_the_open_badges_3_credential(self, certificate, june_15):
        year, code = june_15.year, certificate.verify_code
        credential = badges.badge_credential(certificate)
        achievement = credential["credentialSubject"].pop("achievement")
        assert achievement.pop("id").startswith("urn:uuid:")
        assert achievement == {
            "type": ["Achievement"],
            "achievementType": "Certificate",
            "name": CPT,
            "description": f"Holds the {CPT} certification of MyACSM for the cycle the certificate names.",
            "criteria": {"narrative": (
                f"Certified as {CPT}, then recertified: 45 continuing education credits (CECs) earned and "
                "reported in the cycle, a current adult CPR/AED card on file, and the renewal completed.")},
        }
        assert credential == {
            "@context": CONTEXT,
            "id": f"{BASE}/verify/{code}/",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": CPT,
            "description": (f"{CPT} certificate No. CPT-{year}-483920, valid from 6/1/{year} through "
                            f"12/31/{year + 1}."),
            "issuer": {"id": DID, "type": ["Profile"], "name": "MyACSM", "url": f"{BASE}/"},
            "validFrom": f"{year}-06-01T00:00:00-05:00",
            "validUntil": f"{year + 1}-12-31T23:59:59-06:00",
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [{"type": "IdentityObject", "identityHash": "Zoë O'Neil", "identityType": "name",
                                "hashed": False}],
            },
            "credentialStatus": {"id": f"{BASE}/verify/{code}/status.json", "type": "1EdTechRevocationList"},
        }
        assert certificate.certification.user.email not in json.dumps(credential)
        assert certificate.certification.user.member_id not in json.dumps(credential)

    def test_the_same_achievement_for_every_holder_of_a_certification(self, certificate, other_user, june_15):
        other = certification_with_cycle(other_user, "CPT", date(june_15.year, 1, 1), date(june_15.year + 1, 12, 31))
        second = Certificate.objects.create(
            certification=other, cycle=other.cycles.get(), number="CPT-B", holder_name="Ana Ruiz",
            certification_name=CPT, issued_on=june_15, valid_through=date(june_15.year + 1, 12, 31))
        first_id = badges.badge_credential(certificate)["credentialSubject"]["achievement"]["id"]
        assert badges.badge_credential(second)["credentialSubject"]["achievement"]["id"] == first_id
        assert badges.badge_credential(second)["id"] != badges.badge_credential(certificate)["id"]


class TestSignedCredential:
    def test_the_download_verifies_with_the_published_key(self, client, user_client, certificate, june_15):
        token = download(user_client, certificate)
        header = unb64(token.split(".")[0])
        kid = header["kid"]
        assert kid.startswith(f"{DID}#") and len(kid) == len(DID) + 1 + 43  # the key's SHA-256 thumbprint
        assert header == {"alg": "ES256", "kid": kid, "typ": "vc+jwt"}

        client.logout()
        found = jws.deserialize_compact(token, published_key(client, kid), algorithms=["ES256"])
        payload = json.loads(found.payload)
        year = june_15.year
        assert payload == {
            **badges.badge_credential(certificate),
            "iss": DID,
            "jti": f"{BASE}/verify/{certificate.verify_code}/",
            "nbf": int(datetime(year, 6, 1, tzinfo=CHICAGO).timestamp()),
            "exp": int(datetime(year + 1, 12, 31, 23, 59, 59, tzinfo=CHICAGO).timestamp()),
        }
        (jwk,) = client.get("/.well-known/jwks.json").json()["keys"]
        assert (jwk["kid"], jwk["alg"], jwk["use"]) == (kid, "ES256", "sig")
        assert "d" not in jwk
        jws.deserialize_compact(token, JWKRegistry.import_key(jwk), algorithms=["ES256"])

    def test_the_download_is_a_jwt_file(self, user_client, certificate):
        response = user_client.get(reverse("badge_download", args=[certificate.number]))
        assert response["Content-Type"] == "application/vc+jwt"
        assert response["Content-Disposition"] == (
            f'attachment; filename="certificate-{certificate.number}-open-badge.jwt"')
        assert response.content.count(b".") == 2

    def test_one_character_changed_breaks_the_signature(self, client, user_client, certificate):
        token = download(user_client, certificate)
        head, body, signature = token.split(".")
        changed = unb64(body)
        changed["credentialSubject"]["identifier"][0]["identityHash"] = "Zoë O'Neal"
        forged = f"{head}.{b64(changed)}.{signature}"
        with pytest.raises(BadSignatureError):
            jws.deserialize_compact(forged, published_key(client, unb64(head)["kid"]), algorithms=["ES256"])
        check = badges.credential_check(token=forged)
        assert not check.valid
        assert check.signature == badges.Outcome(
            "Signature", False, "The signature does not match: the credential was changed after it was issued.")
        assert (check.dates.passed, check.status.passed) == (False, False)
        assert check.holder_name == ""

    def test_a_character_of_the_encoded_payload_changed(self, user_client, certificate):
        token = download(user_client, certificate)
        head, body, signature = token.split(".")
        middle = len(body) // 2
        flipped = "A" if body[middle] != "A" else "B"
        check = badges.credential_check(token=f"{head}.{body[:middle]}{flipped}{body[middle + 1:]}.{signature}")
        assert (check.valid, check.signature.passed) == (False, False)

    def test_a_valid_credential_passes_every_check(self, user_client, certificate, june_15):
        check = badges.credential_check(token="\n " + download(user_client, certificate) + "\n")
        year = june_15.year
        assert check.valid
        assert check.outcomes == (
            badges.Outcome("Signature", True, "Signed by MyACSM with its published key, unchanged."),
            badges.Outcome("Dates", True, f"Within its dates: valid from 6/1/{year} through 12/31/{year + 1}."),
            badges.Outcome("Status", True, "The certificate is Active."),
        )
        assert (check.holder_name, check.certification_name, check.valid_from, check.valid_until) == (
            "Zoë O'Neil", CPT, date(year, 6, 1), date(year + 1, 12, 31))

    @pytest.mark.parametrize("status", [Certificate.Status.REVOKED, Certificate.Status.SUSPENDED])
    def test_revoked_or_suspended_by_staff(self, user_client, certificate, status):
        token = download(user_client, certificate)
        certificate_transition(certificate_id=certificate.pk, to=status, actor="staff:1", reason="Failed audit",
                               email_holder=False)
        check = badges.credential_check(token=token)
        assert not check.valid
        assert (check.signature.passed, check.dates.passed) == (True, True)
        assert check.status == badges.Outcome(
            "Status", False, f"The certificate is {status.label}: it is not in good standing.")

    def test_a_renewed_certificate_stays_valid_through_its_dates(self, user_client, certificate):
        token = download(user_client, certificate)
        certification = certificate.certification
        end = certificate.valid_through
        Cycle.objects.filter(pk=certificate.cycle_id).update(state=Cycle.State.RENEWED)
        newer_cycle = Cycle.objects.create(certification=certification, start=end + timedelta(days=1),
                                           end=date(end.year + 3, 12, 31))
        Certificate.objects.create(certification=certification, cycle=newer_cycle, number="CPT-NEXT",
                                   holder_name="Zoë O'Neil", certification_name=CPT, issued_on=clock.today(),
                                   valid_through=newer_cycle.end)
        check = badges.credential_check(token=token)
        assert check.valid
        assert check.status.detail == "The certificate is Renewed (replaced by a newer certificate)."

    def test_a_void_certificate_matches_nothing(self, user_client, certificate):
        token = download(user_client, certificate)
        Certificate.objects.filter(pk=certificate.pk).update(voided_at=clock.now(), void_reason="Issued in error")
        check = badges.credential_check(token=token)
        assert check.status == badges.Outcome("Status", False, "No current certificate matches this credential.")

    def test_valid_until_the_last_second_of_its_day_on_the_holders_clock(self, user_client, certificate):
        token = download(user_client, certificate)
        last = certificate.valid_through
        # 11:59 PM in Chicago is already 12:59 AM of the next day in the portal's (Eastern) zone.
        with time_machine.travel(datetime.combine(last, time(23, 59), tzinfo=CHICAGO), tick=False):
            assert badges.credential_check(token=token).valid
        with time_machine.travel(datetime.combine(last + timedelta(days=1), time(0, 0, 30), tzinfo=CHICAGO),
                                 tick=False):
            check = badges.credential_check(token=token)
        assert not check.valid
        assert check.signature.passed
        assert check.dates == badges.Outcome("Dates", False, f"Expired: it was valid through 12/31/{last.year}.")
        assert check.status == badges.Outcome(
            "Status", False, "The certificate is Expired (grace period): it is not in good standing.")

    def test_lapsed_after_the_grace_period(self, user_client, certificate):
        token = download(user_client, certificate)
        with time_machine.travel(at(date(certificate.valid_through.year + 1, 7, 1)), tick=False):
            check = badges.credential_check(token=token)
        assert (check.signature.passed, check.dates.passed) == (True, False)
        assert check.status.detail == "The certificate is Lapsed: it is not in good standing."

    def test_not_valid_before_its_first_day(self, user_client, certificate):
        token = download(user_client, certificate)
        with time_machine.travel(datetime.combine(certificate.issued_on, time(0), tzinfo=CHICAGO)
                                 - timedelta(seconds=5), tick=False):
            check = badges.credential_check(token=token)
        year = certificate.issued_on.year
        assert check.dates == badges.Outcome("Dates", False, f"Not valid yet: valid from 6/1/{year}.")

    def test_signed_with_a_key_no_longer_published(self, user_client, certificate, keys):
        token = download(user_client, certificate)
        call_command("signing_keys_create", dir=keys, force=True, stdout=io.StringIO())
        check = badges.credential_check(token=token)
        assert check.signature == badges.Outcome("Signature", False, "Not signed with MyACSM's published key.")
        assert badges.credential_check(token=download(user_client, certificate)).valid

    def test_a_token_made_with_another_key_under_the_portals_kid(self, user_client, certificate):
        from cryptography.hazmat.primitives.asymmetric import ec
        from joserfc.jwk import ECKey

        head, body, _ = download(user_client, certificate).split(".")
        forged = jws.serialize_compact(unb64(head), base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)),
                                       ECKey.import_key(ec.generate_private_key(ec.SECP256R1())),
                                       algorithms=["ES256"])
        assert badges.credential_check(token=forged).signature.detail == (
            "The signature does not match: the credential was changed after it was issued.")

    @pytest.mark.parametrize("token", ["", "not a credential", "a.b.c", "e30.e30.", "W10.e30.AAAA"])
    def test_anything_else_is_not_a_credential(self, token):
        check = badges.credential_check(token=token)
        assert not check.valid
        assert not check.signature.passed
        assert check.dates.detail == badges.NOT_CHECKED


class TestDownload:
    def test_only_the_holder_may_download(self, client, other_user, certificate):
        url = reverse("badge_download", args=[certificate.number])
        assert url == f"/certificates/{certificate.number}/badge.jwt"
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, f"{reverse('login')}?next={url}")
        client.force_login(other_user)
        assert client.get(url).status_code == 404

    def test_a_void_certificate_is_not_offered(self, user_client, certificate):
        Certificate.objects.filter(pk=certificate.pk).update(voided_at=clock.now(), void_reason="Issued in error")
        assert user_client.get(reverse("badge_download", args=[certificate.number])).status_code == 404

    def test_the_tile_links_to_it(self, user_client, certificate):
        html = tile(user_client.get(reverse("dashboard")).content.decode(), CPT)
        assert (f'<a class="tile-badge d-inline-block small mt-1" href="/certificates/{certificate.number}/badge.jwt">'
                f'Open Badge<span class="visually-hidden"> of certificate No. {certificate.number}</span></a>') in html


class TestStatus:
    def test_the_live_status_as_a_revocation_list(self, client, certificate, june_15):
        url = f"/verify/{certificate.verify_code}/status.json"
        response = client.get(url)
        assert response.status_code == 200
        assert response["Access-Control-Allow-Origin"] == "*"
        expected = {
            "id": f"{BASE}{url}", "issuer": DID, "revokedCredentials": [], "status": "active",
            "statusLabel": "Active", "validThrough": f"{june_15.year + 1}-12-31",
            "checkedAt": f"{june_15.year}-06-15T16:00:00+00:00",
        }
        assert response.json() == expected
        certificate_transition(certificate_id=certificate.pk, to=Certificate.Status.REVOKED, actor="staff:1",
                               reason="Certificate obtained by fraud", email_holder=False)
        assert client.get(url).json() == {
            **expected, "status": "revoked", "statusLabel": "Revoked",
            "revokedCredentials": [{"id": f"{BASE}/verify/{certificate.verify_code}/", "revocationReason": "Revoked"}],
        }

    def test_a_grace_period_is_said_but_not_a_revocation(self, client, certificate):
        with time_machine.travel(at(certificate.valid_through + timedelta(days=2)), tick=False):
            found = client.get(f"/verify/{certificate.verify_code}/status.json").json()
        assert (found["status"], found["statusLabel"], found["revokedCredentials"]) == (
            "grace", "Expired (grace period)", [])

    def test_unknown_and_void_codes_answer_alike(self, client, certificate):
        unknown = client.get("/verify/AAAAAAAAAAAAAAAA/status.json")
        Certificate.objects.filter(pk=certificate.pk).update(voided_at=clock.now(), void_reason="Issued in error")
        void = client.get(f"/verify/{certificate.verify_code}/status.json")
        assert (unknown.status_code, unknown.json()) == (void.status_code, void.json()) == (404, {"status": "unknown"})

    def test_throttled_per_address(self, client, certificate, settings):
        settings.VERIFY_RATE = "2/m"
        url = f"/verify/{certificate.verify_code}/status.json"
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get(url, REMOTE_ADDR="192.0.2.7").status_code == 200


def words(response) -> str:
    """A page's text as a reader sees it: tags dropped, entities unescaped."""
    return html.unescape(text(response.content.decode()))


class TestCheckPage:
    def post(self, client, **data):
        return client.post(reverse("verify_credential"), data)

    def test_the_empty_form_for_anyone(self, client):
        response = client.get("/verify/credential/")
        assert response.status_code == 200
        html = response.content.decode()
        assert "<h1 class=\"h2 mb-3\">Check an Open Badge credential</h1>" in html
        assert 'name="credential"' in html and 'name="file"' in html
        assert 'enctype="multipart/form-data"' in html
        assert "credential-result" not in html
        assert " style=" not in html and inline_code(html) == []
        (form,) = post_forms(html)
        assert form.token
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]

    def test_valid(self, client, user_client, certificate, june_15):
        token = download(user_client, certificate)
        client.logout()
        response = self.post(client, credential=token)
        assert response.status_code == 200
        page = words(response)
        year = june_15.year
        assert (f"Valid Holder Zoë O'Neil Certification {CPT} Valid from 6/1/{year} Valid through 12/31/{year + 1} "
                "Checks ✓ Signature: passed. Signed by MyACSM with its published key, unchanged. "
                f"✓ Dates: passed. Within its dates: valid from 6/1/{year} through 12/31/{year + 1}. "
                "✓ Status: passed. The certificate is Active. "
                f"Checked 6/15/{year} 12:00 PM Eastern time.") in page
        assert "Not valid" not in page

    def test_not_valid_when_altered(self, client, user_client, certificate):
        head, body, signature = download(user_client, certificate).split(".")
        client.logout()
        changed = unb64(body)
        changed["validUntil"] = changed["validUntil"].replace("23:59:59", "23:59:58")
        response = self.post(client, credential=f"{head}.{b64(changed)}.{signature}")
        page = words(response)
        assert ("Not valid Checks ✗ Signature: failed. The signature does not match: the credential was changed after "
                f"it was issued. ✗ Dates: failed. {badges.NOT_CHECKED} ✗ Status: failed. {badges.NOT_CHECKED}") in page
        assert "Zoë" not in page

    def test_not_valid_when_revoked_uploaded_as_a_file(self, client, user_client, certificate):
        from django.core.files.uploadedfile import SimpleUploadedFile

        token = download(user_client, certificate)
        Certificate.objects.filter(pk=certificate.pk).update(status=Certificate.Status.REVOKED)
        upload = SimpleUploadedFile("badge.jwt", token.encode(), content_type="application/vc+jwt")
        page = words(self.post(client, file=upload))
        assert "Not valid Holder Zoë O'Neil" in page
        assert "✓ Signature: passed." in page
        assert "✗ Status: failed. The certificate is Revoked: it is not in good standing." in page

    def test_nothing_given_or_both(self, client, user_client, certificate):
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = self.post(client)
        assert response.status_code == 400
        assert "Paste the credential or upload its file." in response.content.decode()
        token = download(user_client, certificate)
        both = self.post(client, credential=token, file=SimpleUploadedFile("b.jwt", token.encode()))
        assert both.status_code == 400
        assert "Paste the credential or upload its file, not both." in both.content.decode()
        binary = self.post(client, file=SimpleUploadedFile("b.jwt", b"\xff\xfe\x00"))
        assert "That file is not a credential (.jwt text file)." in binary.content.decode()

    def test_throttled_per_address(self, client, settings):
        settings.VERIFY_RATE = "2/m"
        statuses = [self.post(client, credential="x.y.z").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        response = self.post(client, credential="x.y.z")
        assert "Too many checks from your address in the last minute." in response.content.decode()
        assert "credential-result" not in response.content.decode()
        assert client.get(reverse("verify_credential")).status_code == 200
