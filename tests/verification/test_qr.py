"""The certificate PDF's QR code, read back from the rendered page as a phone would (poppler draws the page,
zbar decodes it): it is the certificate's verify page, printed in words under it, on the one page, whatever the
names; and the holder's download (the stored, signed file) carries it too."""

import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse

from acsm_portal import clock
from acsm_portal.signing import pdf_signature_check
from certifications.certificates import certificate_pdf, certificate_verify_url
from certifications.models import Certificate
from tests.documents.pdfcheck import page_text, words
from tests.documents.test_long_fields import LETTER_LANDSCAPE, SHAPES, longest
from tests.factories import certification_with_cycle

BASE = "https://certify.example.org"


def qr_codes(data: bytes, *, dpi: int = 150) -> list[str]:
    """Every QR code zbar finds on page 1 of the PDF ``data`` drawn at ``dpi`` (``zbarimg --raw``), in its order."""
    with tempfile.TemporaryDirectory() as tmp:
        pdf, png = Path(tmp) / "doc.pdf", Path(tmp) / "page"
        pdf.write_bytes(data)
        subprocess.run(["pdftoppm", "-png", "-gray", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(png)], check=True, timeout=60)
        found = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f"{png}.png"],
                               capture_output=True, text=True, timeout=60)
    assert found.returncode in (0, 4), found.stderr  # 4: nothing found
    return found.stdout.splitlines()


def a_certificate(**fields) -> Certificate:
    """An unsaved certificate issued today (rendering reads only its fields), with its own verify code."""
    today = clock.today()
    return Certificate(**{"number": f"EP-{today.year + 1}-483920", "holder_name": "Casey Morgan",
                          "certification_name": "Certified Exercise Physiologist", "issued_on": today,
                          "valid_through": date(today.year + 3, 12, 31), **fields})


def squeezed(text: str) -> str:
    return "".join(text.split())


def test_the_qr_code_is_the_verify_page_and_its_address_is_printed_under_it(settings):
    settings.PORTAL_BASE_URL = BASE
    certificate = a_certificate(verify_code="Zq3_x-9KpLm2Rt7W")

    data = certificate_pdf(certificate=certificate)

    assert certificate_verify_url(certificate) == f"{BASE}/verify/Zq3_x-9KpLm2Rt7W/"
    assert qr_codes(data) == [f"{BASE}/verify/Zq3_x-9KpLm2Rt7W/"]
    [(_, _, placed)] = words(data)
    address = [w for w in placed if w.text == f"{BASE}/verify/Zq3_x-9KpLm2Rt7W/"]
    assert len(address) == 1  # on one line, in words
    label = next(w for w in placed if w.text == "ONLINE")
    assert label.y1 < address[0].y0  # the label above, the code between, the address under it
    assert address[0].y1 - address[0].y0 < 9  # small type (6.5 pt, and the font's ascent and descent)


def test_a_base_address_with_a_trailing_slash_makes_one_slash(settings):
    settings.PORTAL_BASE_URL = BASE + "/"
    certificate = a_certificate(verify_code="AAAABBBBCCCCDDDD")
    assert qr_codes(certificate_pdf(certificate=certificate)) == [f"{BASE}/verify/AAAABBBBCCCCDDDD/"]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_qr_code_stays_on_the_page_with_every_field_at_its_longest(settings, shape):
    settings.PORTAL_BASE_URL = BASE
    certificate = a_certificate(holder_name=longest(Certificate, "holder_name", shape),
                                certification_name=longest(Certificate, "certification_name", shape),
                                number=longest(Certificate, "number", "unbroken"))
    data = certificate_pdf(certificate=certificate)
    [(width, height, _)] = words(data)
    assert (width, height) == LETTER_LANDSCAPE
    assert qr_codes(data) == [certificate_verify_url(certificate)]
    text = squeezed(page_text(data))
    assert certificate_verify_url(certificate) in text
    assert f"December31,{clock.today().year + 3}" in text


def test_a_suspended_copy_keeps_its_qr_code(settings):
    settings.PORTAL_BASE_URL = BASE
    certificate = a_certificate()
    data = certificate_pdf(certificate=certificate, suspended_on=clock.today())
    assert "Suspendedsince" in squeezed(page_text(data))
    assert qr_codes(data) == [certificate_verify_url(certificate)]
    assert pdf_signature_check(data).valid


@pytest.mark.django_db
def test_the_holders_download_is_the_stored_signed_pdf_with_its_qr_code(settings, user_client, user, today):
    settings.PORTAL_BASE_URL = BASE
    cpt = certification_with_cycle(user, "CPT", date(today.year, 1, 1), date(today.year + 1, 12, 31))
    certificate = Certificate.objects.create(
        certification=cpt, cycle=cpt.cycles.get(), number=f"CPT-{today.year}-483920", holder_name="Casey Morgan",
        certification_name="Certified Personal Trainer", issued_on=today, valid_through=date(today.year + 1, 12, 31))

    response = user_client.get(reverse("certificate_download", args=[certificate.number]))

    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    certificate.refresh_from_db()
    with certificate.pdf.open("rb") as stored:
        assert stored.read() == data
    check = pdf_signature_check(data)
    assert (check.valid, check.intact, check.ours, check.whole_document) == (True, True, True, True)
    assert qr_codes(data) == [f"{BASE}/verify/{certificate.verify_code}/"]
