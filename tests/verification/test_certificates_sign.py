"""``manage.py certificates_sign``: certificate PDFs stored before signing are rendered again, signed, once."""

import io
from datetime import date

import pytest
from django.core.management import call_command

from acsm_portal import clock
from certifications.certificates import certificate_render, is_signed_pdf
from certifications.models import Certificate
from tests.factories import certification_with_cycle

pytestmark = pytest.mark.django_db


def stored(certificate: Certificate) -> bytes:
    certificate.refresh_from_db()
    with certificate.pdf.open("rb") as f:
        return f.read()


@pytest.fixture
def old_and_void(user, monkeypatch):
    """Two certificates rendered as before signing (no signature), the second voided since."""
    today = clock.today()
    made = []
    for code in ("CPT", "EP"):
        certification = certification_with_cycle(user, code, date(today.year, 1, 1), date(today.year + 2, 12, 31))
        made.append(Certificate.objects.create(
            certification=certification, cycle=certification.cycles.get(), number=f"{code}-{today.year}-700001",
            holder_name="Casey Morgan", certification_name=certification.certification_type.name, issued_on=today,
            valid_through=date(today.year + 2, 12, 31)))
    with monkeypatch.context() as m:
        m.setattr("certifications.certificates.pdf_sign", lambda data: data)
        for certificate in made:
            certificate_render(certificate_id=certificate.pk)
    Certificate.objects.filter(pk=made[1].pk).update(voided_at=clock.now(), void_reason="Refunded")
    return made


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command("certificates_sign", *args, stdout=out)
    return out.getvalue().splitlines()


def test_an_unsigned_pdf_is_rendered_again_signed_and_a_void_one_is_left(old_and_void):
    old, void = old_and_void
    assert not is_signed_pdf(stored(old)) and not is_signed_pdf(stored(void))
    assert run("--dry-run") == [f"unsigned: certificate {old.pk}", "1 certificate(s) to render again."]
    assert not is_signed_pdf(stored(old))  # a dry run changes nothing
    assert run() == [f"signed: {old.number}", "1 certificate(s) rendered again, signed."]
    assert is_signed_pdf(stored(old)) and not is_signed_pdf(stored(void))
    assert run() == ["0 certificate(s) rendered again, signed."]
