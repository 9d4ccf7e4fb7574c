import re
import subprocess
from datetime import date

import pytest
from django.db import IntegrityError
from django.urls import reverse
from pypdf import PdfReader

from certifications.certificates import certificate_render
from certifications.models import Certificate, Cycle
from certifications.renewals import certification_renew
from tests.factories import UserFactory, certification_with_cycle


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def renewed(user, today):
    """An EP certificate from renewing the cycle that ends this December 31 (the next runs three years more)."""
    user.first_name, user.last_name = "Zoë", "O'Neil <Admin>"
    user.save()
    cert = certification_with_cycle(user, "EP", date(today.year - 2, 1, 1), date(today.year, 12, 31))
    new_cycle = certification_renew(cycle_id=cert.cycles.get().pk)
    return Certificate.objects.get(cycle=new_cycle)


@pytest.mark.django_db
class TestCertificate:
    def test_issued_once_with_number_and_dates(self, renewed, today):
        assert renewed.valid_through == date(today.year + 3, 12, 31)
        assert renewed.issued_on == today
        assert re.fullmatch(rf"EP-{today.year + 1}-[1-9][0-9]{{5}}", renewed.number), renewed.number
        assert (renewed.holder_name, renewed.certification_name) == ("Zoë O'Neil <Admin>",
                                                                     "Certified Exercise Physiologist")
        certification_renew(cycle_id=renewed.certification.cycles.get(state="renewed").pk)
        assert Certificate.objects.count() == 1

    def test_a_taken_number_is_drawn_again(self, user, other_user, today, monkeypatch):
        draws = iter([383920, 383920, 17])  # 483920 twice, then 100017
        monkeypatch.setattr("certifications.certificates.secrets.randbelow", lambda n: next(draws))
        span = (date(today.year - 2, 1, 1), date(today.year, 12, 31))
        first = certification_renew(cycle_id=certification_with_cycle(other_user, "EP", *span).cycles.get().pk)
        second = certification_renew(cycle_id=certification_with_cycle(user, "EP", *span).cycles.get().pk)
        assert (first.certificate.number, second.certificate.number) == (f"EP-{today.year + 1}-483920",
                                                                         f"EP-{today.year + 1}-100017")
        assert second.certificate.certification.user == user

    def test_when_every_draw_is_taken_nothing_is_issued(self, user, other_user, today, monkeypatch):
        monkeypatch.setattr("certifications.certificates.secrets.randbelow", lambda n: 383920)
        span = (date(today.year - 2, 1, 1), date(today.year, 12, 31))
        certification_renew(cycle_id=certification_with_cycle(other_user, "EP", *span).cycles.get().pk)
        cycle = certification_with_cycle(user, "EP", *span).cycles.get()
        with pytest.raises(IntegrityError):
            certification_renew(cycle_id=cycle.pk)
        assert Certificate.objects.filter(certification__user=user).count() == 0
        assert Cycle.objects.get(pk=cycle.pk).state == Cycle.State.OPEN

    def test_pdf_text_and_landscape_letter(self, renewed, today, tmp_path):
        rendered = certificate_render(certificate_id=renewed.pk)
        data = rendered.pdf.open("rb").read()
        reader = PdfReader(rendered.pdf.open("rb"))
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert (float(box.width), float(box.height)) == (792.0, 612.0)
        text = " ".join(pdf_text(data, tmp_path).split())
        for expected in ("Certificate of Recertification", "Zoë O'Neil <Admin>", "Certified Exercise Physiologist",
                         renewed.number, f"{renewed.issued_on:%B} {renewed.issued_on.day}, {renewed.issued_on.year}",
                         f"December 31, {today.year + 3}"):
            assert expected in text

    def test_render_is_idempotent_and_writes_one_file(self, renewed):
        first = certificate_render(certificate_id=renewed.pk)
        second = certificate_render(certificate_id=renewed.pk)
        assert first.pdf.name == second.pdf.name == f"certificates/{renewed.number}.pdf"
        assert first.rendered_at == second.rendered_at


@pytest.mark.django_db
class TestDownload:
    def test_holder_downloads_even_before_the_worker_rendered_it(self, client, user, renewed):
        assert not renewed.pdf
        client.force_login(user)
        response = client.get(reverse("certificate_download", args=[renewed.number]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == f'attachment; filename="certificate-{renewed.number}.pdf"'
        assert b"".join(response.streaming_content).startswith(b"%PDF-")
        renewed.refresh_from_db()
        assert renewed.pdf

    def test_tile_links_to_the_certificate(self, client, user, renewed, today):
        client.force_login(user)
        html = client.get(reverse("dashboard")).content.decode()
        assert f'href="/certificates/{renewed.number}.pdf"' in html
        assert f"No. {renewed.number} · valid through 12/31/{today.year + 3}" in html

    def test_another_person_gets_404(self, client, renewed):
        client.force_login(UserFactory())
        assert client.get(reverse("certificate_download", args=[renewed.number])).status_code == 404

    def test_staff_with_permission(self, client, renewed):
        from django.contrib.auth.models import Permission

        staff = UserFactory(is_staff=True)
        client.force_login(staff)
        assert client.get(reverse("certificate_download", args=[renewed.number])).status_code == 404
        staff.user_permissions.add(Permission.objects.get(codename="view_certificate"))
        client.force_login(UserFactory._meta.model.objects.get(pk=staff.pk))
        assert client.get(reverse("certificate_download", args=[renewed.number])).status_code == 200


@pytest.mark.django_db
class TestAdmin:
    def test_the_list_shows_when_each_was_issued_and_rendered(self, client, renewed, today):
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        url = reverse("admin:certifications_certificate_changelist")
        html = client.get(url).content.decode()
        headers = [re.sub(r"<[^>]+>", "", h).strip()
                   for h in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html.split('id="result_list"')[1], re.S)]
        assert headers == ["Number", "Holder name", "Certification name", "Issued on", "Valid through", "Status",
                           "Created at", "Rendered at"]
        assert renewed.number in html
        assert client.get(url + "?rendered_at__isnull=True").content.decode().count(renewed.number) == 1
        certificate_render(certificate_id=renewed.pk)
        assert renewed.number not in client.get(url + "?rendered_at__isnull=True").content.decode()
        page = client.get(reverse("admin:certifications_certificate_change", args=[renewed.pk])).content.decode()
        assert f'href="/certificates/{renewed.number}.pdf"' in page
        assert "Save" not in page  # nobody edits a certificate here
