"""Private documents in an S3 bucket (a real SeaweedFS, tests/storage/conftest.py): the settings that choose it, CPR
card uploads through the real views landing in the bucket and coming back byte for byte, refused files leaving
nothing, no temporary file left behind, downloads streamed or redirected to a presigned URL that forces an
attachment and expires, certificates and previews kept in the bucket."""

import io
import urllib.error
import urllib.request
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from acsm_portal import storage as stores
from acsm_portal.files import FILE_CSP
from certifications.cpr import views as cert_views
from certifications.cpr.services import cpr_file_preview, cpr_upload_add_file
from certifications.models import Certificate, CprUploadFile
from certifications.renewals import certification_renew
from tests.certifications.cpr_helpers import pdf_bytes, png_bytes, upload
from tests.factories import certification_with_cycle
from tests.waits import wait_until

from .conftest import settings_from_env

HTML_AS_PDF = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
NOT_A_CARD = ("“card.pdf” is not a PDF, JPEG or PNG file. Upload the card as a PDF, or a photo or scan of it "
              "(JPEG, PNG, or an iPhone’s HEIC).")


def fetch(url: str) -> tuple[int, dict, bytes]:
    """A plain GET (no keys, no session), as a browser following the redirect: status, headers, body."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def cpt(user):
    return certification_with_cycle(user, "CPT")


class TestSettings:
    def test_a_bucket_makes_the_default_storage_private_s3(self, monkeypatch):
        made = settings_from_env(monkeypatch, S3_BUCKET="acsm-documents", S3_ENDPOINT_URL="http://s3.internal:8333",
                                 S3_REGION="eu-central-1", S3_ACCESS_KEY_ID="AKIDEXAMPLE",
                                 S3_SECRET_ACCESS_KEY="wJalrXUtnFEMI")
        default = made["STORAGES"]["default"]
        config = default["OPTIONS"].pop("client_config")
        assert default == {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": "acsm-documents", "endpoint_url": "http://s3.internal:8333", "region_name": "eu-central-1",
            "access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI", "default_acl": None,
            "querystring_auth": True, "querystring_expire": 300, "file_overwrite": True, "max_memory_size": 2_621_440,
        }}
        assert (config.signature_version, config.s3, config.connect_timeout, config.read_timeout, config.retries) == (
            "s3v4", {"addressing_style": "path"}, 5, 30, {"mode": "standard", "max_attempts": 3})
        assert (made["S3_REDIRECT_DOWNLOADS"], made["S3_URL_EXPIRE"]) == (False, 300)

    def test_aws_itself_needs_no_endpoint_and_may_take_keys_from_its_role(self, monkeypatch):
        made = settings_from_env(monkeypatch, S3_BUCKET="acsm-documents", S3_REDIRECT_DOWNLOADS="true")
        options = made["STORAGES"]["default"]["OPTIONS"]
        assert (options["endpoint_url"], options["region_name"], options["access_key"], options["secret_key"]) == (
            None, "us-east-1", None, None)
        assert options["client_config"].s3 == {"addressing_style": "auto"}
        assert made["S3_REDIRECT_DOWNLOADS"] is True

    def test_without_a_bucket_documents_stay_on_the_local_disk(self, monkeypatch, tmp_path):
        made = settings_from_env(monkeypatch, PRIVATE_MEDIA_ROOT=str(tmp_path))
        assert made["STORAGES"]["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                               "OPTIONS": {"location": str(tmp_path)}}

    def test_redirecting_downloads_without_a_bucket_is_refused(self, monkeypatch):
        with pytest.raises(ImproperlyConfigured, match="^S3_REDIRECT_DOWNLOADS needs S3_BUCKET: it redirects "
                                                       "downloads to the bucket.$"):
            settings_from_env(monkeypatch, S3_REDIRECT_DOWNLOADS="true")

    def test_attachment_names(self):
        assert stores.attachment_disposition("card.pdf") == 'attachment; filename="card.pdf"'
        assert stores.attachment_disposition('Tarjeta "Núñez".pdf') == (
            "attachment; filename=\"Tarjeta _Nunez_.pdf\"; filename*=UTF-8''Tarjeta%20%22N%C3%BA%C3%B1ez%22.pdf")
        assert stores.attachment_disposition("卡.png") == (
            "attachment; filename=\"_.png\"; filename*=UTF-8''%E5%8D%A1.png")
        assert stores.attachment_disposition("..\\x/y;\r\n.jpg") == (
            "attachment; filename=\"_x_y___.jpg\"; filename*=UTF-8''..%5Cx%2Fy%3B%0D%0A.jpg")


@pytest.mark.django_db
class TestUploadsLandInTheBucket:
    def test_a_card_uploaded_through_the_page_is_in_the_bucket_and_downloads_byte_for_byte(
            self, s3_documents, user_client, cpt):
        data = pdf_bytes(pages=2)
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                    {"file": upload("Front.pdf", data, "application/pdf")})
        assert response.status_code == 201
        stored = CprUploadFile.objects.get()
        assert stored.file.name == f"cpr/{stored.key.hex}.pdf"
        assert s3_documents.keys() == [stored.file.name]
        head = s3_documents.client.head_object(Bucket=s3_documents.bucket, Key=stored.file.name)
        assert (head["ContentLength"], head["ContentType"]) == (len(data), "application/pdf")
        assert s3_documents.read(stored.file.name) == data

        download = user_client.get(reverse("cpr_file_download", args=[stored.key]))
        assert download.status_code == 200
        assert download.streaming
        assert b"".join(download.streaming_content) == data
        assert download["Content-Length"] == str(len(data))
        assert download["Content-Type"] == "application/pdf"
        assert download["Content-Disposition"] == 'attachment; filename="Front.pdf"'
        assert (download["X-Content-Type-Options"], download["Content-Security-Policy"],
                download["Cache-Control"]) == ("nosniff", FILE_CSP, "private, no-store")

    def test_a_refused_file_leaves_nothing_in_the_bucket(self, s3_documents, user_client, cpt):
        response = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                    {"file": upload("card.pdf", HTML_AS_PDF, "application/pdf")})
        assert response.status_code == 400
        assert response.json() == {"error": NOT_A_CARD}
        assert CprUploadFile.objects.count() == 0
        assert s3_documents.keys() == []

    def test_no_temporary_file_is_left_behind(self, s3_documents, user_client, cpt, settings, tmp_path,
                                              monkeypatch):
        """A file over FILE_UPLOAD_MAX_MEMORY_SIZE waits in a temporary file while it is checked; that file is
        gone once the request is answered, whether the card was kept or refused."""
        temp = tmp_path / "uploads"
        temp.mkdir()
        settings.FILE_UPLOAD_TEMP_DIR = str(temp)
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
        seen_while_checking = []

        def add_file(**kwargs):
            seen_while_checking.append(sorted(p.suffix for p in temp.iterdir()))
            return cpr_upload_add_file(**kwargs)

        monkeypatch.setattr(cert_views, "cpr_upload_add_file", add_file)
        photo = png_bytes(200, 150)
        assert len(photo) > 1024
        kept = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]), {"file": upload("front.png", photo)})
        refused = user_client.post(reverse("cpr_file_upload", args=[cpt.pk]),
                                   {"file": upload("card.pdf", HTML_AS_PDF * 40, "application/pdf")})
        assert (kept.status_code, refused.status_code) == (201, 400)
        assert seen_while_checking == [[".png"], [".pdf"]]  # Django's ".upload<ending>" temporary files
        assert list(temp.iterdir()) == []
        assert s3_documents.keys() == [CprUploadFile.objects.get().file.name]


@pytest.mark.django_db
class TestRedirectedDownloads:
    def test_the_download_redirects_to_a_presigned_url_that_forces_an_attachment(
            self, s3_documents, settings, user_client, cpt, user):
        settings.S3_REDIRECT_DOWNLOADS = True
        data = pdf_bytes()
        stored = cpr_upload_add_file(certification=cpt, user=user, name='Tarjeta "Núñez".pdf', data=data)
        response = user_client.get(reverse("cpr_file_download", args=[stored.key]))
        assert response.status_code == 302
        assert (response["Cache-Control"], response["Referrer-Policy"]) == ("private, no-store", "no-referrer")
        location = response["Location"]
        url = urlsplit(location)
        assert f"{url.scheme}://{url.netloc}{url.path}" == (
            f"{s3_documents.server.endpoint_url}/{s3_documents.bucket}/{stored.file.name}")
        query = parse_qs(url.query)
        assert query["X-Amz-Expires"] == ["300"]
        assert query["response-content-disposition"] == [
            "attachment; filename=\"Tarjeta _Nunez_.pdf\"; filename*=UTF-8''Tarjeta%20%22N%C3%BA%C3%B1ez%22.pdf"]

        status, headers, body = fetch(location)
        assert status == 200
        assert body == data
        assert headers["Content-Disposition"] == (
            "attachment; filename=\"Tarjeta _Nunez_.pdf\"; filename*=UTF-8''Tarjeta%20%22N%C3%BA%C3%B1ez%22.pdf")
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Cache-Control"] == "private, no-store"
        # The object itself is private: without the signature the store refuses it.
        assert fetch(location.split("?")[0])[0] == 403

    def test_others_get_404_and_no_url(self, s3_documents, settings, client, cpt, user, other_user):
        settings.S3_REDIRECT_DOWNLOADS = True
        stored = cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        client.force_login(other_user)
        response = client.get(reverse("cpr_file_download", args=[stored.key]))
        assert response.status_code == 404
        assert "Location" not in response
        assert s3_documents.server.endpoint_url not in response.content.decode()

    def test_a_presigned_url_stops_working_when_it_expires(self, s3_documents, cpt, user):
        stored = cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        url = stores.download_url(storage=default_storage, name=stored.file.name, filename="front.png",
                                  content_type="image/png", expire=3)
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["3"]
        status, headers, body = fetch(url)
        assert (status, headers["Content-Disposition"], body) == (200, 'attachment; filename="front.png"',
                                                                   png_bytes())

        def refused_as_expired():
            status, _, body = fetch(url)
            return status == 403 and b"<Message>Request has expired</Message>" in body

        wait_until(refused_as_expired, what="the presigned URL to expire", timeout=30)

    def test_urls_are_signed_for_the_address_browsers_reach(self, s3_documents, settings, cpt, user):
        public = s3_documents.server.endpoint_url.replace("127.0.0.1", "localhost")
        settings.S3_PUBLIC_ENDPOINT_URL = public
        data = png_bytes(seed=4)
        stored = cpr_upload_add_file(certification=cpt, user=user, name="back.png", data=data)
        url = stores.download_url(storage=default_storage, name=stored.file.name, filename="back.png",
                                  content_type="image/png")
        assert url.startswith(f"{public}/{s3_documents.bucket}/{stored.file.name}?")
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]
        status, headers, body = fetch(url)
        assert (status, headers["Content-Disposition"], body) == (200, 'attachment; filename="back.png"', data)


@pytest.fixture
def renewed(user, today):
    cert = certification_with_cycle(user, "EP", date(today.year - 2, 1, 1), date(today.year, 12, 31))
    return Certificate.objects.get(cycle=certification_renew(cycle_id=cert.cycles.get().pk))


@pytest.mark.django_db
class TestCertificatesAndPreviews:
    def test_a_certificate_is_rendered_into_the_bucket_and_downloaded_from_it(self, s3_documents, user_client,
                                                                              renewed):
        name = f"certificates/{renewed.number}.pdf"
        # What a failed earlier attempt may have left under the fixed name is replaced, not kept beside it.
        s3_documents.client.put_object(Bucket=s3_documents.bucket, Key=name, Body=b"half a PDF")
        response = user_client.get(reverse("certificate_download", args=[renewed.number]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        assert body.startswith(b"%PDF-")
        assert response["Content-Length"] == str(len(body))
        assert response["Content-Disposition"] == f'attachment; filename="certificate-{renewed.number}.pdf"'
        assert s3_documents.keys() == [name]
        assert s3_documents.read(name) == body
        assert Certificate.objects.get(pk=renewed.pk).pdf.name == name

    def test_a_certificate_download_may_redirect_too(self, s3_documents, settings, user_client, renewed):
        settings.S3_REDIRECT_DOWNLOADS = True
        response = user_client.get(reverse("certificate_download", args=[renewed.number]))
        assert response.status_code == 302
        status, headers, body = fetch(response["Location"])
        assert status == 200
        assert headers["Content-Disposition"] == f'attachment; filename="certificate-{renewed.number}.pdf"'
        assert body == s3_documents.read(f"certificates/{renewed.number}.pdf")

    def test_a_save_under_a_taken_name_overwrites(self, s3_documents):
        assert default_storage.save("certificates/EP-1.pdf", ContentFile(b"one")) == "certificates/EP-1.pdf"
        assert default_storage.save("certificates/EP-1.pdf", ContentFile(b"two")) == "certificates/EP-1.pdf"
        assert (s3_documents.keys(), s3_documents.read("certificates/EP-1.pdf")) == (["certificates/EP-1.pdf"],
                                                                                     b"two")

    def test_a_pdf_preview_is_rendered_once_and_kept_in_the_bucket(self, s3_documents, cpt, user):
        stored = cpr_upload_add_file(certification=cpt, user=user, name="card.pdf", data=pdf_bytes())
        png, content_type = cpr_file_preview(stored=stored, page=1)
        assert content_type == "image/png"
        with Image.open(io.BytesIO(png)) as image:
            assert (image.format, image.width) == ("PNG", 900)
        preview = f"cpr-previews/{stored.key.hex}-page1.png"
        assert s3_documents.keys() == sorted([stored.file.name, preview])
        assert s3_documents.read(preview) == png
        assert cpr_file_preview(stored=stored, page=1) == (png, "image/png")

    def test_a_missing_object_is_a_missing_file(self, s3_documents, cpt, user):
        stored = cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        s3_documents.client.delete_object(Bucket=s3_documents.bucket, Key=stored.file.name)
        with pytest.raises(FileNotFoundError, match=f"No stored file '{stored.file.name}' in bucket "
                                                    f"'{s3_documents.bucket}'."):
            stores.bucket_stream(storage=default_storage, name=stored.file.name)
