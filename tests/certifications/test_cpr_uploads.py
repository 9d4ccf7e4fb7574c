"""Content checks on uploaded card files: no database, files made in code."""

import hashlib

import pytest
from PIL import ImageFile

from acsm_portal import uploads
from acsm_portal.uploads import MAX_FILE_BYTES, UploadRefused, check_file, clean_name, format_size

from .cpr_helpers import jpeg_bytes, pdf_bytes, png_bomb, png_bytes, png_of_size


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("front.pdf", pdf_bytes, "application/pdf"),
        ("front.PDF", pdf_bytes, "application/pdf"),
        ("front.jpg", jpeg_bytes, "image/jpeg"),
        ("front.jpeg", jpeg_bytes, "image/jpeg"),
        ("back.png", png_bytes, "image/png"),
        ("scan", png_bytes, "image/png"),  # no extension: the content decides
    ],
)
def test_real_files_are_accepted_by_their_content(name, make, kind):
    data = make()
    checked = check_file(name=name, data=data)
    assert checked.content_type == kind
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.name == name


def test_a_file_of_exactly_10_mb_is_accepted():
    data = png_of_size(MAX_FILE_BYTES)
    assert len(data) == 10 * 1024 * 1024
    assert check_file(name="card.png", data=data).size == MAX_FILE_BYTES


def _truncated_jpeg() -> bytes:
    data = jpeg_bytes(200, 120)
    return data[: len(data) // 2]


def _truncated_pdf() -> bytes:
    data = pdf_bytes()
    return data[: len(data) // 2]


REFUSED = [
    ("empty", "card.pdf", lambda: b"", "“card.pdf” is empty."),
    ("10 MB + 1 byte", "card.png", lambda: png_of_size(MAX_FILE_BYTES + 1),
     "“card.png” is larger than 10 MB (10,485,760 bytes), the most a file may be."),
    ("PNG renamed .pdf", "card.pdf", png_bytes,
     "“card.pdf” is a PNG image, but its name ends in .pdf. Rename it to end in .png and upload it again."),
    ("JPEG renamed .png", "card.png", jpeg_bytes,
     "“card.png” is a JPEG image, but its name ends in .png. Rename it to end in .jpg and upload it again."),
    ("PDF renamed .html", "card.html", pdf_bytes,
     "“card.html” is a PDF, but its name ends in .html. Rename it to end in .pdf and upload it again."),
    ("HTML renamed .pdf", "card.pdf", lambda: b"<!doctype html><html><script>alert(document.cookie)</script></html>",
     "“card.pdf” is not a PDF, JPEG or PNG file."),
    ("JavaScript renamed .pdf", "card.pdf", lambda: b"fetch('/staff/').then(r => r.text())",
     "“card.pdf” is not a PDF, JPEG or PNG file."),
    ("text renamed .jpg", "card.jpg", lambda: b"just some words",
     "“card.jpg” is not a PDF, JPEG or PNG file."),
    ("truncated JPEG", "front.jpg", _truncated_jpeg,
     "“front.jpg” could not be read as a JPEG image (it may be damaged or incomplete)."),
    ("JPEG header only", "front.jpg", lambda: b"\xff\xd8\xff\xe0" + b"\0" * 60,
     "“front.jpg” could not be read as a JPEG image (it may be damaged or incomplete)."),
    ("truncated PNG", "back.png", lambda: png_bytes(64, 64)[:300],
     "“back.png” could not be read as a PNG image (it may be damaged or incomplete)."),
    ("truncated PDF", "card.pdf", _truncated_pdf,
     "“card.pdf” could not be read as a PDF (it may be damaged or incomplete)."),
    ("PDF header only", "card.pdf", lambda: b"%PDF-1.7\n%%EOF\n",
     "“card.pdf” could not be read as a PDF (it may be damaged or incomplete)."),
    ("encrypted PDF", "card.pdf", lambda: pdf_bytes(password="s3cret"),
     "“card.pdf” is encrypted or password-protected. Save or print it as a new PDF without a password, "
     "or upload a photo of the card."),
    ("PDF of 11 pages", "card.pdf", lambda: pdf_bytes(pages=11),
     "“card.pdf” has 11 pages; an upload may have at most 10."),
    ("huge-dimension PNG (decompression bomb)", "card.png", png_bomb,
     "“card.png” is 30,000 × 30,000 pixels; images may have at most 40 million pixels. "
     "Upload a smaller photo or scan."),
    ("PNG just over the pixel limit", "card.png", lambda: png_bomb(8000, 5001),
     "“card.png” is 8,000 × 5,001 pixels; images may have at most 40 million pixels. "
     "Upload a smaller photo or scan."),
]


@pytest.mark.parametrize(("case", "name", "make", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_files_say_why(case, name, make, message):
    with pytest.raises(UploadRefused) as refused:
        check_file(name=name, data=make())
    assert refused.value.message == message


@pytest.mark.parametrize(("name", "make", "label"), [("front.jpg", _truncated_jpeg, "JPEG"),
                                                     ("back.png", lambda: png_bytes(64, 64)[:300], "PNG")])
def test_truncated_images_are_refused_even_after_weasyprint_loosened_pillow(monkeypatch, name, make, label):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what importing weasyprint does
    with pytest.raises(UploadRefused) as refused:
        check_file(name=name, data=make())
    assert refused.value.message == f"“{name}” could not be read as a {label} image (it may be damaged or incomplete)."
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # put back as it was


def test_the_pixel_limit_itself_is_allowed():
    assert check_file(name="card.png", data=png_bomb(8000, 5000)).content_type == "image/png"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../../etc/passwd.png", "passwd.png"),
        ("..\\..\\windows\\system32\\card.jpg", "card.jpg"),
        ("/var/lib/acsm/private/cpr/x.pdf", "x.pdf"),
        ("..", "upload"),
        ("", "upload"),
        ("card\x00.png", "card.png"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),  # a right-to-left override cannot disguise the name
        ("Tarjeta RCP – Señora Núñez 🫀.jpg", "Tarjeta RCP – Señora Núñez 🫀.jpg"),
        ("Cafe\u0301.png", "Café.png"),  # NFC
        ("  spaced   out .png ", "spaced out .png"),
    ],
)
def test_names_are_reduced_to_a_plain_last_component(given, kept):
    assert clean_name(given) == kept


def test_long_names_keep_their_extension():
    name = clean_name("a" * 300 + ".jpeg")
    assert len(name) == uploads.MAX_NAME_LENGTH
    assert name.endswith("…" + ".jpeg")


def test_a_path_traversal_name_is_checked_as_its_last_component():
    checked = check_file(name="../../../../etc/cron.d/card.png", data=png_bytes())
    assert checked.name == "card.png"
    with pytest.raises(UploadRefused) as refused:
        check_file(name="../../card.pdf/../evil.html", data=png_bytes())
    assert refused.value.message.startswith("“evil.html” is a PNG image, but its name ends in .html.")


@pytest.mark.parametrize(
    ("size", "label"),
    [(0, "0 bytes"), (1, "1 byte"), (812, "812 bytes"), (1024, "1.0 KB"), (15565, "15.2 KB"),
     (10 * 1024 * 1024, "10.0 MB"), (2_500_000, "2.4 MB")],
)
def test_format_size(size, label):
    assert format_size(size) == label
