"""``manage.py documents_to_bucket``: a node's local documents copied into the S3 bucket (a real SeaweedFS) under the
same names, once, resumable after a failure or an interruption, with counts; --dry-run copies nothing."""

import hashlib
import io

import pytest
from botocore.exceptions import EndpointConnectionError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.core.management import CommandError, call_command

from acsm_portal.uploads import format_size
from tests.certifications.cpr_helpers import jpeg_bytes, pdf_bytes, png_bytes

# What a node's PRIVATE_MEDIA_ROOT holds: card files, audit proof, a certificate, a staff preview.
FILES = {
    "audit-proof/5b0c8f04e1a94d0e9d1f2c3b4a5d6e7f.pdf": pdf_bytes(pages=2),
    "certificates/EP-2-483920.pdf": pdf_bytes(pages=1) + b"% certificate\n",
    "cpr-previews/0d9b6c1e2f3a4b5c6d7e8f9a0b1c2d3e-page1.png": png_bytes(90, 60, seed=7),
    "cpr/0d9b6c1e2f3a4b5c6d7e8f9a0b1c2d3e.pdf": pdf_bytes(pages=3),
    "cpr/8f7e6d5c4b3a29181716151413121110.jpg": jpeg_bytes(seed=5),
}
TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg"}
TOTAL = sum(len(data) for data in FILES.values())


@pytest.fixture
def media(tmp_path):
    """A local document folder holding ``FILES``."""
    root = tmp_path / "private"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def run(*args: str, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("documents_to_bucket", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_every_file_is_copied_under_its_name_then_found_there(s3_documents, media):
    out, err = run("--source", str(media))
    assert out == (f"5 files in {media}: 5 copied and 0 replaced ({format_size(TOTAL)}), 0 already in bucket "
                   f"{s3_documents.bucket}, 0 failed.\n")
    assert err == ""
    assert s3_documents.keys() == sorted(FILES)
    for name, data in FILES.items():
        assert s3_documents.read(name) == data
        head = s3_documents.client.head_object(Bucket=s3_documents.bucket, Key=name)
        assert (head["ContentLength"], head["ContentType"], head["Metadata"]) == (
            len(data), TYPES[name[name.rindex("."):]], {"sha256": hashlib.sha256(data).hexdigest()})
        with default_storage.open(name) as stored:  # the portal reads them where it wrote them before
            assert stored.read() == data
        assert (media / name).read_bytes() == data  # the local copy is left as it was

    again, _ = run("--source", str(media))
    assert again == (f"5 files in {media}: 0 copied and 0 replaced (0 bytes), 5 already in bucket "
                     f"{s3_documents.bucket}, 0 failed.\n")


def test_a_file_that_fails_is_counted_and_copied_by_the_next_run(s3_documents, media, monkeypatch):
    client = storages["default"].connection.meta.client
    put_object = client.put_object
    failing = "certificates/EP-2-483920.pdf"

    def flaky_put(**kwargs):
        if kwargs["Key"] == failing:
            raise EndpointConnectionError(endpoint_url=s3_documents.server.endpoint_url)
        return put_object(**kwargs)

    monkeypatch.setattr(client, "put_object", flaky_put)
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"^1 file was not copied \(listed above\); run the command again to "
                                           r"copy what is missing\.$"):
        call_command("documents_to_bucket", "--source", str(media), stdout=out, stderr=err)
    copied = sum(len(data) for name, data in FILES.items() if name != failing)
    assert out.getvalue() == (f"5 files in {media}: 4 copied and 0 replaced ({format_size(copied)}), 0 already in "
                              f"bucket {s3_documents.bucket}, 1 failed.\n")
    assert err.getvalue() == (f'{failing}: failed: Could not connect to the endpoint URL: '
                              f'"{s3_documents.server.endpoint_url}"\n')
    assert s3_documents.keys() == sorted(set(FILES) - {failing})

    monkeypatch.setattr(client, "put_object", put_object)
    out, _ = run("--source", str(media))
    assert out == (f"5 files in {media}: 1 copied and 0 replaced ({format_size(len(FILES[failing]))}), 4 already in "
                   f"bucket {s3_documents.bucket}, 0 failed.\n")
    assert s3_documents.read(failing) == FILES[failing]


def test_an_interrupted_run_is_taken_up_where_it_stopped(s3_documents, media, monkeypatch):
    client = storages["default"].connection.meta.client
    put_object = client.put_object
    sent = []

    def interrupted_after_two(**kwargs):
        if len(sent) == 2:
            raise KeyboardInterrupt
        sent.append(kwargs["Key"])
        return put_object(**kwargs)

    monkeypatch.setattr(client, "put_object", interrupted_after_two)
    with pytest.raises(KeyboardInterrupt):
        run("--source", str(media))
    assert s3_documents.keys() == sorted(FILES)[:2] == sent

    monkeypatch.setattr(client, "put_object", put_object)
    out, _ = run("--source", str(media))
    rest = sum(len(FILES[name]) for name in sorted(FILES)[2:])
    assert out == (f"5 files in {media}: 3 copied and 0 replaced ({format_size(rest)}), 2 already in bucket "
                   f"{s3_documents.bucket}, 0 failed.\n")
    assert [s3_documents.read(name) for name in sorted(FILES)] == [FILES[name] for name in sorted(FILES)]


def test_same_name_other_bytes_is_replaced_same_bytes_saved_by_the_portal_is_kept(s3_documents, media):
    differs, same = "cpr/0d9b6c1e2f3a4b5c6d7e8f9a0b1c2d3e.pdf", "cpr/8f7e6d5c4b3a29181716151413121110.jpg"
    s3_documents.client.put_object(Bucket=s3_documents.bucket, Key=differs, Body=b"%PDF-1.4 an older copy")
    default_storage.save(same, ContentFile(FILES[same]))  # written by the portal: no SHA-256 in its metadata
    out, _ = run("--source", str(media), verbosity=2)
    assert out.splitlines() == [
        "audit-proof/5b0c8f04e1a94d0e9d1f2c3b4a5d6e7f.pdf: copied",
        "certificates/EP-2-483920.pdf: copied",
        "cpr-previews/0d9b6c1e2f3a4b5c6d7e8f9a0b1c2d3e-page1.png: copied",
        f"{differs}: replaced (the bucket's differed)",
        f"{same}: already in the bucket",
        f"5 files in {media}: 3 copied and 1 replaced ({format_size(TOTAL - len(FILES[same]))}), 1 already in "
        f"bucket {s3_documents.bucket}, 0 failed.",
    ]
    assert s3_documents.read(differs) == FILES[differs]
    assert s3_documents.client.head_object(Bucket=s3_documents.bucket, Key=same)["Metadata"] == {}


def test_a_dry_run_counts_and_copies_nothing(s3_documents, media):
    differs = "cpr/0d9b6c1e2f3a4b5c6d7e8f9a0b1c2d3e.pdf"
    s3_documents.client.put_object(Bucket=s3_documents.bucket, Key=differs, Body=b"%PDF-1.4 an older copy")
    out, _ = run("--source", str(media), "--dry-run", verbosity=2)
    assert out.splitlines()[3:] == [
        f"{differs}: to replace (the bucket's differs)",
        "cpr/8f7e6d5c4b3a29181716151413121110.jpg: to copy",
        f"Dry run, nothing copied. 5 files in {media}: 4 to copy and 1 to replace ({format_size(TOTAL)}), "
        f"0 already in bucket {s3_documents.bucket}, 0 failed.",
    ]
    assert s3_documents.keys() == [differs]
    assert s3_documents.read(differs) == b"%PDF-1.4 an older copy"


def test_the_default_folder_is_private_media_root(s3_documents, media, settings):
    settings.PRIVATE_MEDIA_ROOT = media
    out, _ = run()
    assert out.startswith(f"5 files in {media}: 5 copied and 0 replaced")


def test_it_refuses_without_a_bucket_or_a_folder(s3_documents, settings, tmp_path):
    with pytest.raises(CommandError, match=r"^No folder .*/missing to copy from\.$"):
        run("--source", str(tmp_path / "missing"))
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    with pytest.raises(CommandError, match=r"^The default storage is not an S3 bucket: set S3_BUCKET \(and "
                                           r"S3_ENDPOINT_URL, S3_REGION and the keys as needed\) to the bucket to "
                                           r"copy into\.$"):
        run("--source", str(tmp_path))
