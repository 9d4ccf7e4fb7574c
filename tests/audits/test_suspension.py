"""A suspended certification (a failed audit): logged and repeat-safe, its tile says Suspended and offers no RENEW,
the cart refuses its renewal, and its certificate downloads marked SUSPENDED; reinstatement undoes all of it."""

import io
import subprocess
from datetime import date

import pytest
from django.urls import reverse
from pypdf import PdfReader

from acsm_portal import clock
from cart.services import CartError, cart_add_renewal
from certifications.certificates import certificate_render
from certifications.models import Certificate, Certification, CertificationLog
from certifications.renewals import certification_renew
from certifications.selectors import tiles_for
from certifications.suspensions import SuspensionError, certification_reinstate, certification_suspend
from tests.factories import certification_with_cycle, renewable_certification

SUSPENDED_BLOCKER = "This certification is suspended after a failed audit; please contact the certification department."


def pdf_text(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-raw", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(done.stdout.decode().split())


@pytest.mark.django_db
class TestSuspension:
    def test_suspend_and_reinstate_once_each_logged(self, user):
        cert = certification_with_cycle(user, "CPT")
        first = certification_suspend(certification_id=cert.pk, actor="staff:3", reason=" Audit  7 failed. ")
        again = certification_suspend(certification_id=cert.pk, actor="staff:4", reason="Again.")
        assert (first.acted, again.acted, again.suspended) == (True, False, True)
        cert.refresh_from_db()
        assert cert.is_suspended and cert.suspended_reason == "Audit 7 failed."
        assert certification_reinstate(certification_id=cert.pk, actor="staff:3", reason="Resolved.").acted
        assert not certification_reinstate(certification_id=cert.pk, actor="staff:3", reason="Resolved.").acted
        cert.refresh_from_db()
        assert (cert.suspended_at, cert.suspended_reason) == (None, "")
        assert list(CertificationLog.objects.values_list("action", "actor", "note")) == [
            ("suspended", "staff:3", "Audit 7 failed."), ("reinstated", "staff:3", "Resolved.")]

    def test_a_reason_is_required(self, user):
        cert = certification_with_cycle(user, "CPT")
        with pytest.raises(SuspensionError, match="Give the reason"):
            certification_suspend(certification_id=cert.pk, actor="staff:3", reason="   ")
        assert not Certification.objects.get(pk=cert.pk).is_suspended

    def test_the_tile_says_suspended_and_offers_no_renew(self, user, today):
        cert = renewable_certification(user, "CPT")
        [tile] = tiles_for(user=user, today=today)
        assert tile.eligibility.can_renew and tile.status_label == "Recertification in Process"
        certification_suspend(certification_id=cert.pk, actor="staff:3", reason="Audit failed.")
        [tile] = tiles_for(user=user, today=today)
        assert (tile.suspended, tile.status_label, tile.eligibility.can_renew) == (True, "Suspended", False)
        assert tile.eligibility.blockers == (SUSPENDED_BLOCKER,)
        with pytest.raises(CartError, match="suspended after a failed audit"):
            cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        certification_reinstate(certification_id=cert.pk, actor="staff:3", reason="Resolved.")
        [tile] = tiles_for(user=user, today=today)
        assert tile.eligibility.can_renew and not tile.suspended
        cart_add_renewal(user=user, certification_id=cert.pk, today=today)

    def test_the_dashboard_shows_suspended_without_renew(self, user_client, user):
        cert = renewable_certification(user, "CPT")
        assert "btn-renew" in user_client.get(reverse("dashboard")).content.decode()
        certification_suspend(certification_id=cert.pk, actor="staff:3", reason="Audit failed.")
        html = user_client.get(reverse("dashboard")).content.decode()
        assert ">Suspended<" in html
        assert "btn-renew" not in html
        assert "This certification is suspended after a failed audit." in html
        assert "The Renew button will appear" not in html
        assert "Renew by" not in html

    def test_a_renewed_then_suspended_tile_offers_its_certificate_marked_suspended(self, user_client, user, today):
        cert = certification_with_cycle(user, "EP", date(today.year - 2, 1, 1), date(today.year, 12, 31))
        certification_renew(cycle_id=cert.cycles.get().pk)
        certification_suspend(certification_id=cert.pk, actor="staff:3", reason="Audit failed.")
        html = user_client.get(reverse("dashboard")).content.decode()
        assert "Thank you for renewing" not in html
        assert "Download your certificate (marked suspended)" in html


@pytest.mark.django_db
class TestCertificate:
    def test_downloaded_marked_suspended_and_plain_again_once_reinstated(self, user_client, user, today):
        cert = certification_with_cycle(user, "EP", date(today.year - 2, 1, 1), date(today.year, 12, 31))
        certificate = Certificate.objects.get(cycle=certification_renew(cycle_id=cert.cycles.get().pk))
        stored = certificate_render(certificate_id=certificate.pk).pdf.open("rb").read()
        certification_suspend(certification_id=cert.pk, actor="staff:3", reason="Audit failed.")
        url = reverse("certificate_download", args=[certificate.number])

        response = user_client.get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"] == (
            f'attachment; filename="certificate-{certificate.number}-suspended.pdf"')
        data = b"".join(response.streaming_content)
        assert len(PdfReader(io.BytesIO(data)).pages) == 1
        text = pdf_text(data)
        on = clock.today_for(user)
        assert "SUSPENDED" in text
        assert f"Suspended since {on:%B} {on.day}, {on.year} · not valid while suspended" in text
        assert certificate.number in text
        # The stored certificate is left as it was, for a reinstatement.
        assert Certificate.objects.get(pk=certificate.pk).pdf.open("rb").read() == stored

        certification_reinstate(certification_id=cert.pk, actor="staff:3", reason="Resolved.")
        response = user_client.get(url)
        assert response["Content-Disposition"] == f'attachment; filename="certificate-{certificate.number}.pdf"'
        data = b"".join(response.streaming_content)
        assert data == stored
        assert "SUSPENDED" not in pdf_text(data)
