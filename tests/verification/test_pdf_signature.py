"""The signed certificate PDF: pyHanko itself finds a PAdES certifying signature by our key over the whole file,
and a broken one once a byte of the page's content changes; the public page that checks an uploaded PDF says
valid and which certificate (with its status today) for a real one, and not valid for an altered one, one signed
by another key, an unsigned one, one with something added after signing; it refuses a file that is not a PDF or
is too big, and more than VERIFY_RATE checks a minute. Also the signing key files: made by
``signing_keys_create`` (0600, never replaced without --force), refused clearly when missing."""

import asyncio
import html
import io
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import resolve, reverse
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from acsm_portal import clock, signing
from certifications.certificates import certificate_pdf, certificate_render
from certifications.models import Certificate
from tests.factories import certification_with_cycle
from tests.pages import text
from verification import documents

BASE = "https://certify.example.org"
URL = "/verify/document/"


@pytest.fixture
def certificate(db, user, today, settings):
    """Casey Morgan's CPT certificate, issued today, valid through December 31 next year, rendered and stored."""
    settings.PORTAL_BASE_URL = BASE
    cpt = certification_with_cycle(user, "CPT", date(today.year, 1, 1), date(today.year + 1, 12, 31))
    made = Certificate.objects.create(
        certification=cpt, cycle=cpt.cycles.get(), number=f"CPT-{today.year}-483920", holder_name="Casey Morgan",
        certification_name="Certified Personal Trainer", issued_on=today, valid_through=date(today.year + 1, 12, 31))
    return certificate_render(certificate_id=made.pk)


@pytest.fixture
def signed(certificate) -> bytes:
    with certificate.pdf.open("rb") as f:
        return f.read()


@pytest.fixture
def unsigned(certificate, monkeypatch) -> bytes:
    """The same certificate's PDF as WeasyPrint wrote it, before it is signed."""
    monkeypatch.setattr("certifications.certificates.pdf_sign", lambda data: data)
    return certificate_pdf(certificate=certificate)


def our_context() -> ValidationContext:
    ours = asn1_x509.Certificate.load(signing.signing_certificate().public_bytes(serialization.Encoding.DER))
    return ValidationContext(trust_roots=[ours], allow_fetching=False)


def off_this_thread(function, *args):
    """``function(*args)`` in a thread of its own: pyHanko and the test below run ``asyncio.run``, which fails in a
    thread whose loop is running (a browser test earlier in the session leaves Playwright's running here)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def pyhanko_status(data: bytes):
    [signature] = PdfFileReader(io.BytesIO(data), strict=False).embedded_regular_signatures
    return signature, off_this_thread(validate_pdf_signature, signature, our_context())


def byte_range(data: bytes) -> list[int]:
    return [int(n) for n in re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data).groups()]


def one_content_byte_flipped(data: bytes) -> tuple[bytes, int]:
    """``data`` with one byte of page 1's content stream changed (the first revision's, well before the
    signature's own /Contents), and that byte's offset."""
    ref = PdfReader(io.BytesIO(data)).pages[0].raw_get("/Contents")
    header = re.search(rb"(?<![0-9])%d 0 obj\s*<<.*?>>\s*stream\r?\n" % ref.idnum, data, re.S)
    offset = header.end() + 40
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:], offset


def signed_with_another_key(data: bytes, settings, folder) -> bytes:
    """``data`` signed by a self-made key of the same name ("MyACSM Certification (development)"), not ours."""
    call_command("signing_keys_create", "--dir", str(folder), stdout=io.StringIO())
    ours = settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE
    settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE = folder / "key.pem", folder / "cert.pem"
    try:
        return signing.pdf_sign(data)
    finally:
        settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE = ours


def upload(client, data: bytes, name: str = "certificate.pdf"):
    return client.post(URL, {"file": SimpleUploadedFile(name, data, content_type="application/pdf")})


def checks(response) -> list[str]:
    return [html.unescape(text(li)) for li in re.findall(r"<li class=\"mb-2\">(.*?)</li>",
                                          re.search(r'id="document-checks">(.*?)</ul>', response.content.decode(),
                                                    re.S)[1], re.S)]


def verdict(response) -> str:
    found = re.search(r'id="document-verdict"[^>]*>(.*?)</h2>', response.content.decode(), re.S)
    return html.unescape(text(found[1]))


# pyHanko on its own


def test_the_stored_pdf_carries_a_pades_certifying_signature_by_our_key_over_the_whole_file(signed):
    signature, status = pyhanko_status(signed)
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.subject.native["common_name"] == "MyACSM Certification (development)"
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES baseline
    assert signature.sig_object["/Reason"] == "Certificate of the certifying body"
    assert (signature.sig_object["/Name"], signature.sig_object["/Location"]) == ("MyACSM Certification",
                                                                                  "certify.example.org")
    assert signature.docmdp_level == MDPPerm.NO_CHANGES  # a certifying signature that permits no change
    signed_attrs = {attr["type"].native for attr in signature.signer_info["signed_attrs"]}
    assert {"signing_certificate_v2", "message_digest", "content_type"} <= signed_attrs
    assert signature.md_algorithm == "sha256"


def test_one_byte_changed_in_the_pages_content_breaks_the_signature(signed):
    altered, offset = one_content_byte_flipped(signed)
    start, first, second, _ = byte_range(signed)
    assert start <= offset < first < second  # a byte the signature covers, not the signature itself
    _, status = pyhanko_status(altered)
    # The digest of the signed bytes no longer matches; the signer's signature over that (old) digest still does.
    assert (status.intact, status.valid, status.bottom_line) == (False, True, False)
    assert signing.pdf_signature_check(altered).valid is False


def test_a_pdf_signed_by_another_self_made_key_is_not_trusted(unsigned, settings, tmp_path):
    other = signed_with_another_key(unsigned, settings, tmp_path / "other")
    _, status = pyhanko_status(other)
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, False, False)


# The check behind the page


@pytest.mark.django_db
def test_our_check_reads_the_certificate_from_the_signed_revision(signed, certificate):
    found = signing.pdf_signature_check(signed)
    assert (found.signed, found.intact, found.ours, found.whole_document, found.unchanged, found.valid) == (
        True, True, True, True, True, True)
    assert found.revision_info["/Subject"] == (f"Certificate {certificate.number}. Check it at "
                                               f"{BASE}/verify/{certificate.verify_code}/")
    assert documents.document_check(data=signed).certificate == certificate


def test_a_missing_key_file_says_to_run_signing_keys_create(settings, tmp_path):
    settings.SIGNING_KEY_FILE = tmp_path / "missing.pem"
    with pytest.raises(ImproperlyConfigured, match=r"does not exist\. For development and the demo, run "
                                                   r"`manage\.py signing_keys_create`"):
        signing.pdf_sign(b"%PDF-1.7")
    with pytest.raises(ImproperlyConfigured, match="missing.pem"):
        signing.signing_public_jwk()


def test_a_key_that_is_not_the_certificates_is_refused(settings, tmp_path):
    call_command("signing_keys_create", "--dir", str(tmp_path), stdout=io.StringIO())
    settings.SIGNING_KEY_FILE = tmp_path / "key.pem"  # the certificate stays the suite's
    with pytest.raises(ImproperlyConfigured, match="is not the key of the signing certificate"):
        signing.signing_key()


# The page


@pytest.mark.django_db
def test_the_page_says_valid_and_which_certificate_for_a_real_one(client, signed, certificate):
    response = upload(client, signed)
    assert response.status_code == 200
    assert verdict(response) == "Valid: a genuine certificate from MyACSM Certification, unchanged"
    page = response.content.decode()
    facts = text(re.search(r'id="document-certificate">(.*?)</dl>', page, re.S)[1])
    assert facts == (f"Certificate number {certificate.number} Holder Casey Morgan Certification Certified Personal "
                     "Trainer Status today Active")
    assert f'href="/verify/{certificate.verify_code}/" id="document-verify-link"' in page
    assert "document-standing" not in page
    signed_on = clock.moment_text(signing.pdf_signature_check(signed).signed_at, None)
    assert checks(response) == [
        f"✓ Signature: passed. Signed by MyACSM Certification on {signed_on}.",
        "✓ Whole document: passed. Nothing was changed or added since it was signed.",
        f"✓ Certificate: passed. It is certificate {certificate.number}, on record.",
    ]


@pytest.mark.django_db
def test_a_genuine_pdf_of_a_revoked_certificate_says_so(client, signed, certificate):
    Certificate.objects.filter(pk=certificate.pk).update(status=Certificate.Status.REVOKED)
    response = upload(client, signed)
    page = response.content.decode()
    assert verdict(response) == ("A genuine document from MyACSM Certification, unchanged, but the certificate is "
                                 "Revoked today")
    assert 'class="alert alert-warning h4 mb-3" id="document-verdict"' in page
    assert text(re.search(r'id="document-status">(.*?)</span>', page)[1]) == "Revoked"
    assert 'class="badge text-bg-danger" id="document-status"' in page
    assert text(re.search(r'id="document-standing">(.*?)</p>', page)[1]) == (
        "The document is genuine, but the certificate is Revoked today.")


@pytest.mark.django_db
def test_the_check_says_the_status_of_this_moment_not_the_stored_one(client, signed, certificate):
    """Past its valid-through day the certificate is in its grace period at once, before the hourly refresh."""
    with time_machine.travel(datetime.combine(certificate.valid_through + timedelta(days=5), time(12),
                                              tzinfo=UTC), tick=False):
        response = upload(client, signed)
    assert Certificate.objects.get(pk=certificate.pk).status == Certificate.Status.ACTIVE  # stored: not yet moved
    assert verdict(response) == ("A genuine document from MyACSM Certification, unchanged, but the certificate is "
                                 "Expired (grace period) today")


@pytest.mark.django_db
def test_the_page_says_not_valid_for_an_altered_pdf(client, signed):
    altered, _ = one_content_byte_flipped(signed)
    response = upload(client, altered)
    assert response.status_code == 200
    assert verdict(response) == "Not valid: the document was changed after it was signed"
    assert checks(response) == ["✗ Signature: failed. The signature no longer matches the document: something "
                                "in it was changed after it was signed (or the file is damaged)."]
    assert "document-certificate" not in response.content.decode()


@pytest.mark.django_db
def test_the_page_says_not_signed_by_us_for_another_self_made_key(client, unsigned, settings, tmp_path):
    other = signed_with_another_key(unsigned, settings, tmp_path / "other")
    response = upload(client, other)
    assert verdict(response) == "Not valid: not signed by MyACSM Certification"
    assert checks(response) == ["✗ Signature: failed. The document is signed, but not with MyACSM "
                                "Certification's key, whatever name the signature gives."]
    assert "document-certificate" not in response.content.decode()


@pytest.mark.django_db
def test_the_page_says_not_valid_for_an_unsigned_pdf(client, unsigned):
    assert b"/ByteRange" not in unsigned
    response = upload(client, unsigned)
    assert verdict(response) == "Not valid: this PDF is not signed"
    assert checks(response) == ["✗ Signature: failed. The document carries no digital signature. Every "
                                "certificate PDF from MyACSM Certification is signed, so this one is not as we "
                                "issued it."]


@pytest.mark.django_db
def test_a_genuine_pdf_of_no_certificate_on_record_is_not_valid(client, today, settings):
    settings.PORTAL_BASE_URL = BASE
    never_saved = Certificate(number=f"EP-{today.year}-999999", holder_name="Casey Morgan", issued_on=today,
                              certification_name="Certified Exercise Physiologist",
                              valid_through=date(today.year + 1, 12, 31))
    response = upload(client, certificate_pdf(certificate=never_saved))
    assert verdict(response) == "Not valid: no such certificate on record"
    assert checks(response)[1:] == [
        "✓ Whole document: passed. Nothing was changed or added since it was signed.",
        "✗ Certificate: failed. The document names no certificate on record.",
    ]
    assert "document-certificate" not in response.content.decode()


@pytest.mark.django_db
def test_something_added_after_signing_is_not_valid_and_names_no_certificate(client, signed, certificate, user,
                                                                             today):
    """An incremental update after the signature (here: the subject pointed at another certificate) leaves the
    signed bytes intact, but the file is no longer what was signed."""
    other = certification_with_cycle(user, "EP", date(today.year, 1, 1), date(today.year + 1, 12, 31))
    decoy = Certificate.objects.create(
        certification=other, cycle=other.cycles.get(), number=f"EP-{today.year}-100001", holder_name="Someone Else",
        certification_name="Certified Exercise Physiologist", issued_on=today,
        valid_through=date(today.year + 1, 12, 31))
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    info_ref = writer.trailer.raw_get("/Info")
    info = info_ref.get_object()
    info["/Subject"] = generic.TextStringObject(f"Certificate {decoy.number}. Check it at "
                                                f"{BASE}/verify/{decoy.verify_code}/")
    writer.mark_update(info_ref)
    out = io.BytesIO()
    writer.write(out)

    response = upload(client, out.getvalue())

    assert verdict(response) == "Not valid: the document was changed after it was signed"
    assert checks(response) == [
        f"✓ Signature: passed. Signed by MyACSM Certification on "
        f"{clock.moment_text(signing.pdf_signature_check(signed).signed_at, None)}.",
        "✗ Whole document: failed. Something was added to the file after it was signed, so what it shows may not "
        "be what was signed.",
    ]
    page = response.content.decode()
    assert "document-certificate" not in page and decoy.number not in page and certificate.number not in page


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data", "message"), [
    ("card.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
     "“card.png” is not a PDF. Upload the certificate as the PDF file downloaded from MyACSM (a photo, scan or "
     "printout cannot be checked)."),
    ("certificate.pdf", b"<html>not a pdf</html>",
     "“certificate.pdf” is not a PDF. Upload the certificate as the PDF file downloaded from MyACSM (a photo, scan "
     "or printout cannot be checked)."),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj\n<<",
     "This file could not be read as a PDF (it may be damaged, incomplete or password-protected). Download the "
     "certificate again and upload that copy."),
    ("big.pdf", b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024),
     "“big.pdf” is larger than 5 MB; a certificate PDF is far smaller. Upload the PDF as it was downloaded from "
     "MyACSM."),
])
def test_a_file_that_is_not_a_readable_pdf_gets_a_clear_message(client, name, data, message):
    response = upload(client, data, name)
    assert response.status_code == 400
    page = response.content.decode()
    assert html.unescape(text(re.search(r'id="error_1_id_file"[^>]*>(.*?)</', page, re.S)[1])) == message
    assert "document-result" not in page


@pytest.mark.django_db
def test_checks_are_throttled_per_address(client, signed, settings):
    settings.VERIFY_RATE = "2/m"
    with time_machine.travel(clock.now(), tick=False):  # one rate window
        answers = [upload(client, signed).status_code for _ in range(3)]
        refused = upload(client, signed)
        form = client.get(URL)
        elsewhere = client.post(URL, {"file": SimpleUploadedFile("c.pdf", signed)}, REMOTE_ADDR="10.0.0.9")
    assert answers == [200, 200, 429]
    assert refused.status_code == 429
    assert "Too many checks from your address in the last minute." in refused.content.decode()
    assert "document-result" not in refused.content.decode()
    assert (form.status_code, elsewhere.status_code) == (200, 200)


@pytest.mark.django_db
def test_the_page_is_public_and_answers_at_its_own_address(client):
    assert resolve(URL).url_name == "verify_document" and reverse("verify_document") == URL
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page and 'accept=".pdf,application/pdf"' in page
    assert "<script>" not in page and "style=" not in page


# The key files


def test_signing_keys_create_writes_owner_only_files_and_never_replaces_them_silently(tmp_path):
    call_command("signing_keys_create", "--dir", str(tmp_path), stdout=io.StringIO())
    key, cert = (tmp_path / "key.pem").read_bytes(), (tmp_path / "cert.pem").read_bytes()
    for name in ("key.pem", "cert.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    with pytest.raises(CommandError, match="already exist; pass --force"):
        call_command("signing_keys_create", "--dir", str(tmp_path), stdout=io.StringIO())
    assert ((tmp_path / "key.pem").read_bytes(), (tmp_path / "cert.pem").read_bytes()) == (key, cert)
    call_command("signing_keys_create", "--dir", str(tmp_path), "--force", stdout=io.StringIO())
    assert (tmp_path / "key.pem").read_bytes() != key
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600


def test_the_public_jwk_is_the_signing_keys_public_half():
    jwk = signing.signing_public_jwk()
    numbers = signing.signing_key().public_key().public_numbers()
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")

    def number(b64: str) -> int:
        import base64
        return int.from_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), "big")

    assert (number(jwk["x"]), number(jwk["y"])) == (numbers.x, numbers.y)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", jwk["kid"])


@pytest.mark.django_db
def test_signing_and_checking_work_where_an_event_loop_is_running(unsigned):
    """pyHanko runs a loop of its own; under an ASGI server (or a browser driver) this thread already runs one."""

    async def in_a_loop():
        data = signing.pdf_sign(unsigned)
        return signing.pdf_signature_check(data)

    assert off_this_thread(asyncio.run, in_a_loop()).valid is True
