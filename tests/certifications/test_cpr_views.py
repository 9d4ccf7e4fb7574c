"""The Certification Maintenance page, the upload endpoint, Remove All and file downloads."""

import io
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from acsm_portal import clock
from certifications.cpr import views as cert_views
from certifications.models import CprUpload, CprUploadFile
from certifications.cpr.services import cpr_upload_add_file
from acsm_portal.files import _CappedUploadHandler
from acsm_portal.uploads import MAX_FILE_BYTES, format_size
from tests.factories import UserFactory, certification_with_cycle
from tests.pages import text

from .cpr_helpers import (
    heic_bytes,
    jpeg_bytes,
    pdf_bytes,
    pdf_with_attachment,
    pdf_with_script,
    png_bytes,
    png_of_size,
    reviewer,
    submitted,
    upload,
)

PRINT_AGAIN = ("Print it to a new PDF (in the Print dialog choose “Save as PDF”), or scan or photograph the card, "
               "and upload that.")
TOO_BIG = "is larger than 10 MB (10,485,760 bytes), the most a file may be. Upload a smaller photo or scan of the card."


def maintenance(certification) -> str:
    return reverse("cpr_maintenance", args=[certification.pk])


def card_fields(**override) -> dict:
    expires = clock.today() + timedelta(days=300)
    return {"card_type": "cpr_aed", "issuing_organization": "American Red Cross",
            "expires_on": expires.isoformat(), "skills_check_confirmed": "on", **override}


@pytest.fixture
def cpt(user):
    return certification_with_cycle(user, "CPT")


@pytest.mark.django_db
class TestMaintenancePage:
    def test_the_page_has_the_seed_labels(self, user_client, cpt):
        response = user_client.get(maintenance(cpt))
        assert response.status_code == 200
        html = response.content.decode()
        assert "<h1 class=\"h3 mb-1\">Certification Maintenance</h1>" in html
        assert "Please upload your certificate to verify your certification status" in html
        assert '<label for="id_files" class="cpr-choose-label form-label">Choose File</label>' in html
        assert re.search(r'<input type="file" id="id_files" name="files" multiple accept="[^"]+"', html)
        assert 'enctype="multipart/form-data"' in html
        for button in ("Upload", "Remove All", "Submit"):
            assert re.search(rf"<button [^>]*>{button}</button>", html), button
        assert f'<a class="btn btn-outline-secondary" href="{reverse("dashboard")}">Back</a>' in html
        page = text(html)
        assert "Certified Personal Trainer (CPT)" in page
        assert "Current CPR Certificate: Not Uploaded" in page
        assert "No files uploaded yet." in page
        for label in ("Card type", "Issuing organization", "Expiry date",
                      "The course included a hands-on skills check (not online-only)."):
            assert label in page
        assert "CPR/AED" in page and "BLS" in page and "ACLS" in page
        assert "static/js/cpr-upload.js" in html
        assert response["Cache-Control"].startswith("max-age=0")

    def test_another_persons_certification_is_404(self, client, cpt, other_user):
        client.force_login(other_user)
        assert client.get(maintenance(cpt)).status_code == 404
        post = client.post(maintenance(cpt), {"action": "upload", "files": [upload("a.png", png_bytes())]})
        assert post.status_code == 404
        assert client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                           {"file": upload("a.png", png_bytes())}).status_code == 404
        assert client.post(reverse("cpr_draft_discard", args=[cpt.pk])).status_code == 404
        assert not CprUpload.objects.exists()

    def test_a_missing_certification_is_404(self, user_client):
        assert user_client.get(reverse("cpr_maintenance", args=[987654])).status_code == 404

    def test_logged_out_visitors_are_sent_to_log_in(self, client, cpt):
        response = client.get(maintenance(cpt))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
class TestUploadWithoutJavaScript:
    def test_upload_adds_the_files_to_the_draft_and_lists_them_at_100_percent(self, user_client, cpt):
        front, back = jpeg_bytes(), pdf_bytes()
        response = user_client.post(maintenance(cpt), {
            "action": "upload",
            "files": [upload("front.jpg", front, "image/jpeg"), upload("back.pdf", back, "application/pdf")],
        })
        assert response.status_code == 200
        page = text(response.content.decode())
        assert "Uploaded “front.jpg”, “back.pdf”. Press Submit when all files of your card are uploaded." in page
        for name, data in (("front.jpg", front), ("back.pdf", back)):
            size = format_size(len(data))
            assert f"{name} {size} 100% {size} of {size}" in page
        draft = CprUpload.objects.get()
        assert draft.state == CprUpload.State.DRAFT
        assert sorted(draft.files.values_list("original_name", flat=True)) == ["back.pdf", "front.jpg"]

    def test_a_refused_file_says_why_and_keeps_the_rest_of_the_form(self, user_client, cpt):
        response = user_client.post(maintenance(cpt), {
            "action": "upload",
            "files": [upload("card.pdf", pdf_with_script(), "application/pdf"), upload("good.png", png_bytes(seed=3))],
            **card_fields(issuing_organization="Heart & Stroke <Canada>"),
        })
        assert response.status_code == 400
        html = response.content.decode()
        assert (f"“card.pdf” contains JavaScript or other code that runs in a PDF reader, so it cannot be accepted. "
                f"{PRINT_AGAIN}" in text(html))
        assert 'role="alert"' in html
        assert 'value="Heart &amp; Stroke &lt;Canada&gt;"' in html  # kept, and escaped
        assert list(CprUploadFile.objects.values_list("original_name", flat=True)) == ["good.png"]

    def test_upload_with_no_file_chosen(self, user_client, cpt):
        response = user_client.post(maintenance(cpt), {"action": "upload"})
        assert response.status_code == 400
        assert "Choose one or more files to upload." in text(response.content.decode())

    def test_more_than_four_files_at_once_are_refused(self, user_client, cpt):
        files = [upload(f"{n}.png", png_bytes(seed=n)) for n in range(5)]
        response = user_client.post(maintenance(cpt), {"action": "upload", "files": files})
        assert response.status_code == 400
        assert "Choose at most 4 files (you chose 5)." in text(response.content.decode())
        assert not CprUploadFile.objects.exists()

    def test_a_file_over_10_mb_is_refused_without_being_stored(self, user_client, cpt):
        response = user_client.post(maintenance(cpt), {
            "action": "upload", "files": [upload("big.png", png_of_size(MAX_FILE_BYTES + 1))],
        })
        assert response.status_code == 400
        assert f"“big.png” {TOO_BIG}" in text(response.content.decode())
        assert not CprUploadFile.objects.exists()

    def test_submit_uploads_chosen_files_and_submits_the_card(self, user_client, cpt):
        response = user_client.post(maintenance(cpt), {
            "action": "submit", "files": [upload("front.png", png_bytes())], **card_fields(),
        })
        assert response.status_code == 302
        assert response["Location"] == reverse("dashboard")
        upload_ = CprUpload.objects.get()
        assert upload_.state == CprUpload.State.PENDING
        assert upload_.files.count() == 1
        dashboard = user_client.get(reverse("dashboard")).content.decode()
        assert "Your CPR/AED card for CPT was submitted for review." in dashboard
        assert "CPR Certificate Submitted – pending review" in text(dashboard)

    def test_submit_after_upload(self, user_client, cpt):
        user_client.post(maintenance(cpt), {"action": "upload", "files": [upload("front.png", png_bytes())]})
        response = user_client.post(maintenance(cpt), {"action": "submit", **card_fields()})
        assert response.status_code == 302
        assert CprUpload.objects.get().state == CprUpload.State.PENDING

    def test_an_expired_card_is_refused_with_its_date_and_everything_kept(self, user_client, cpt, today):
        user_client.post(maintenance(cpt), {"action": "upload", "files": [upload("front.png", png_bytes())]})
        yesterday = today - timedelta(days=1)
        response = user_client.post(maintenance(cpt), {
            "action": "submit", **card_fields(expires_on=yesterday.isoformat(), issuing_organization="AHA"),
        })
        assert response.status_code == 400
        html = response.content.decode()
        assert (f"This card expired on {yesterday.month}/{yesterday.day}/{yesterday.year}; upload a current CPR/AED "
                f"card (today is {today.month}/{today.day}/{today.year}, Eastern time)." in text(html))
        assert 'value="AHA"' in html
        assert f'value="{yesterday.isoformat()}"' in html
        assert "front.png" in text(html)
        assert CprUpload.objects.get().state == CprUpload.State.DRAFT

    def test_submit_without_a_skills_check_or_any_file(self, user_client, cpt):
        response = user_client.post(maintenance(cpt), {"action": "submit", **card_fields()})
        assert response.status_code == 400
        assert ("Upload at least one file of your card (front, and back if it has one) before you submit."
                in text(response.content.decode()))
        user_client.post(maintenance(cpt), {"action": "upload", "files": [upload("front.png", png_bytes())]})
        fields = card_fields()
        del fields["skills_check_confirmed"]
        response = user_client.post(maintenance(cpt), {"action": "submit", **fields})
        assert response.status_code == 400
        assert ("Only courses with a hands-on skills check are accepted; confirm that yours had one."
                in text(response.content.decode()))

    def test_missing_details_are_named(self, user_client, cpt, today):
        user_client.post(maintenance(cpt), {"action": "upload", "files": [upload("front.png", png_bytes())]})
        response = user_client.post(maintenance(cpt), {"action": "submit", "card_type": "",
                                                       "expires_on": f"31/31/{today.year}"})
        assert response.status_code == 400
        page = text(response.content.decode())
        assert page.count("This field is required.") == 2  # card type, organization
        assert "Enter a valid date." in page

    def test_remove_all_discards_the_draft(self, user_client, cpt):
        user_client.post(maintenance(cpt), {"action": "upload", "files": [upload("front.png", png_bytes())]})
        response = user_client.post(reverse("cpr_draft_discard", args=[cpt.pk]), follow=True)
        assert response.redirect_chain == [(maintenance(cpt), 302)]
        page = text(response.content.decode())
        assert "Removed 1 uploaded file." in page
        assert "No files uploaded yet." in page
        assert not CprUpload.objects.exists()


@pytest.mark.django_db
class TestUploadEndpoint:
    def test_one_file_answers_json(self, user_client, cpt):
        data = png_bytes()
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]), {"file": upload("front.png", data)})
        assert response.status_code == 201
        stored = CprUploadFile.objects.get()
        assert response.json() == {"file": {
            "key": str(stored.key), "name": "front.png", "size": len(data), "size_label": format_size(len(data)),
            "url": reverse("cpr_file_download", args=[stored.key]),
        }}

    def test_a_refusal_answers_json_with_the_reason(self, user_client, cpt):
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                    {"file": upload("card.pdf", b"<html><script>alert(1)</script>")})
        assert response.status_code == 400
        assert response.json() == {"error": "“card.pdf” is not a PDF, JPEG or PNG file. Upload the card as a PDF, "
                                            "or a photo or scan of it (JPEG, PNG, or an iPhone’s HEIC)."}

    @pytest.mark.parametrize("name", ["front.jfif", "front.jpe", "FRONT.JPG", "front"])
    def test_a_jpeg_is_taken_whatever_its_name(self, user_client, cpt, name):
        data = jpeg_bytes()
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                    {"file": upload(name, data, "application/octet-stream")})
        assert response.status_code == 201
        assert response.json()["file"]["name"] == name
        stored = CprUploadFile.objects.get()
        assert (stored.original_name, stored.content_type, stored.size) == (name, "image/jpeg", len(data))
        assert stored.file.name == f"cpr/{stored.key.hex}.jpg"

    def test_an_iphone_photo_is_taken_as_a_jpeg(self, user_client, cpt):
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                    {"file": upload("IMG_4821.HEIC", heic_bytes(), "image/heic")})
        assert response.status_code == 201
        stored = CprUploadFile.objects.get()
        assert (stored.original_name, stored.content_type) == ("IMG_4821.HEIC", "image/jpeg")
        assert response.json()["file"]["name"] == "IMG_4821.HEIC"
        assert response.json()["file"]["size"] == stored.size


@pytest.mark.django_db
class TestActivePdfsOnEveryPath:
    """A PDF that could run something in staff's PDF reader is refused, however it arrives."""

    SCRIPT = ("“card.pdf” contains JavaScript or other code that runs in a PDF reader, so it cannot be accepted. "
              f"{PRINT_AGAIN}")
    ATTACHED = ("“card.pdf” has other files attached inside it (staff review only what is on its pages), so it cannot "
                f"be accepted. {PRINT_AGAIN}")

    @pytest.mark.parametrize(("make", "message"), [(pdf_with_script, SCRIPT), (pdf_with_attachment, ATTACHED)])
    def test_the_upload_endpoint(self, user_client, cpt, make, message):
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                    {"file": upload("card.pdf", make(), "application/pdf")})
        assert response.status_code == 400
        assert response.json() == {"error": message}
        assert not CprUploadFile.objects.exists()

    @pytest.mark.parametrize("action", ["upload", "submit"])
    def test_the_form_without_javascript(self, user_client, cpt, action):
        response = user_client.post(maintenance(cpt), {
            "action": action, "files": [upload("card.pdf", pdf_with_script(), "application/pdf")], **card_fields(),
        })
        assert response.status_code == 400
        assert self.SCRIPT in text(response.content.decode())
        assert not CprUploadFile.objects.exists()
        assert not CprUpload.objects.exclude(state=CprUpload.State.DRAFT).exists()

    def test_it_checks_the_csrf_token(self, user, cpt):
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(user)
        response = strict.post(reverse("cpr_file_upload", args=[cpt.pk]), {"file": upload("a.png", png_bytes())})
        assert response.status_code == 403
        response = strict.post(maintenance(cpt), {"action": "upload", "files": [upload("a.png", png_bytes())]})
        assert response.status_code == 403
        assert not CprUploadFile.objects.exists()

    def test_get_is_not_allowed(self, user_client, cpt):
        assert user_client.get(reverse("cpr_file_upload", args=[cpt.pk])).status_code == 405


@pytest.mark.django_db
class TestDownload:
    def test_the_owner_downloads_with_safe_headers(self, user_client, cpt, user):
        data = pdf_bytes()
        stored = cpr_upload_add_file(certification=cpt, user=user, name="Tarjeta – Núñez.pdf", data=data)
        response = user_client.get(reverse("cpr_file_download", args=[stored.key]))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == data
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == (
            f"attachment; filename*=utf-8''{quote('Tarjeta – Núñez.pdf')}"
        )
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'; sandbox"
        assert response["Cache-Control"] == "private, no-store"

    def test_an_iphone_photo_downloads_as_the_jpeg_it_became(self, user_client, cpt):
        user_client.post(maintenance(cpt), {"action": "upload", "files": [upload("IMG_4821.HEIC", heic_bytes())]})
        stored = CprUploadFile.objects.get()
        assert stored.original_name == "IMG_4821.HEIC"
        page = text(user_client.get(maintenance(cpt)).content.decode())
        assert f"IMG_4821.HEIC {stored.size_label} 100%" in page
        response = user_client.get(reverse("cpr_file_download", args=[stored.key]))
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"] == 'attachment; filename="IMG_4821.jpg"'
        with Image.open(io.BytesIO(b"".join(response.streaming_content))) as image:
            assert (image.format, image.size) == ("JPEG", (80, 40))

    def test_a_file_named_as_another_kind_downloads_under_the_ending_of_what_it_is(self, user_client, cpt, user):
        stored = cpr_upload_add_file(certification=cpt, user=user, name="card.pdf", data=png_bytes())
        response = user_client.get(reverse("cpr_file_download", args=[stored.key]))
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == 'attachment; filename="card.png"'

    def test_the_type_served_is_the_detected_one_not_the_browsers(self, user_client, cpt, user):
        stored = cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        client_claimed = user_client.get(reverse("cpr_file_download", args=[stored.key]))
        assert client_claimed["Content-Type"] == "image/png"
        assert client_claimed["Content-Disposition"] == 'attachment; filename="front.png"'

    def test_others_get_404(self, client, cpt, user, other_user):
        draft_file = cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        url = reverse("cpr_file_download", args=[draft_file.key])
        client.force_login(other_user)
        assert client.get(url).status_code == 404
        client.force_login(UserFactory(is_staff=True))  # staff without the review permission
        assert client.get(url).status_code == 404
        client.force_login(reviewer())  # a reviewer does not see drafts
        assert client.get(url).status_code == 404
        assert client.get(reverse("cpr_file_download", args=["6f1c1b9e-0000-4000-8000-000000000000"])
                          ).status_code == 404

    def test_a_reviewer_downloads_submitted_files(self, client, cpt):
        stored = submitted(cpt).files.get()
        client.force_login(reviewer())
        response = client.get(reverse("cpr_file_download", args=[stored.key]))
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="card-0.png"'

    def test_files_have_no_public_url(self, client, cpt, user):
        stored = cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        client.force_login(user)
        for guess in (f"/media/{stored.file.name}", f"/static/{stored.file.name}", f"/{stored.file.name}"):
            assert client.get(guess).status_code == 404


def test_the_upload_handler_keeps_no_more_than_10_mb_and_a_byte():
    handler = _CappedUploadHandler()
    assert handler.receive_data_chunk(b"a" * 64, MAX_FILE_BYTES - 64) == b"a" * 64
    assert handler.receive_data_chunk(b"b" * 64, MAX_FILE_BYTES - 8) == b"b" * 9
    assert handler.receive_data_chunk(b"c" * 64, MAX_FILE_BYTES + 1) is None
    assert handler.receive_data_chunk(b"d" * 64, 50 * 1024 * 1024) is None


@pytest.mark.django_db
def test_a_much_larger_file_is_cut_off_while_it_arrives(user_client, cpt, monkeypatch):
    received = []

    def add_file(**kwargs):
        received.append(len(kwargs["data"]))
        return cpr_upload_add_file(**kwargs)

    monkeypatch.setattr(cert_views, "cpr_upload_add_file", add_file)
    big = png_of_size(12 * 1024 * 1024)
    response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]), {"file": upload("scan.png", big)})
    assert received == [MAX_FILE_BYTES + 1]
    assert response.status_code == 400
    assert response.json() == {"error": f"“scan.png” {TOO_BIG}"}
