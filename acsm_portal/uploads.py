"""Checks on uploaded documents (CPR/AED cards, and any proof a certificant sends), by their bytes.

The file's name and the browser's content type are never trusted and never refuse a file: the kind is read
from the leading bytes, then the whole file must parse as that kind (pypdf for PDFs, a full Pillow decode for
images). An iPhone's HEIC photo is decoded (pillow-heif) and kept as a JPEG. A PDF that can do anything besides
show its pages (JavaScript, actions run on opening, launching programs or opening other files, sending form data,
attached files) is refused. No Django, no database: the functions here take bytes and a name and either return a
``CheckedFile`` or raise ``UploadRefused`` with a message fit for the person that says what to do instead.
"""

import hashlib
import io
import threading
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

import pillow_heif
from PIL import Image, ImageFile, ImageOps
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

pillow_heif.register_heif_opener()

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 4
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 10
MAX_NAME_LENGTH = 150
# A PDF's object graph is walked for active content; past this many objects it is refused as too complex.
MAX_PDF_OBJECTS = 200_000
CONVERTED_JPEG_QUALITY = 90

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
HEIF = "image/heif"  # accepted, and stored as a JPEG

EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
KIND_LABELS = {PDF: "a PDF", JPEG: "a JPEG image", PNG: "a PNG image"}
# The endings each kind's files go by. They never decide the kind; they only name the file when it is served.
SUFFIXES = {
    PDF: (".pdf",),
    JPEG: (".jpg", ".jpeg", ".jpe", ".jfif", ".jif", ".pjpeg", ".pjp"),
    PNG: (".png",),
    HEIF: (".heic", ".heif", ".hif"),
}
ACCEPT = ",".join([*(s for kind in SUFFIXES.values() for s in kind),
                   PDF, JPEG, PNG, "image/heic", "image/heif"])

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
AVIF_BRANDS = {b"avif", b"avis"}

PRINT_AGAIN = ("Print it to a new PDF (in the Print dialog choose “Save as PDF”), or scan or photograph the card, "
               "and upload that.")
AS_JPEG = "Save or export it as JPEG or PNG (or take a screenshot of it) and upload that."
IPHONE_AS_JPEG = ("Send it as a JPEG instead: on an iPhone, set Settings > Camera > Formats to “Most Compatible” "
                  "and take the photo again, or take a screenshot of the photo and upload that.")
WHAT_TO_SEND = "Upload the card as a PDF, or a photo or scan of it (JPEG, PNG, or an iPhone’s HEIC)."


class UploadRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckedFile:
    name: str  # the cleaned original name, kept as data only
    content_type: str  # detected from the bytes: PDF, JPEG or PNG (a HEIC photo arrives here as JPEG)
    data: bytes  # what is stored: the file as sent, or a HEIC photo converted to JPEG
    sha256: str
    converted_from: str = ""  # "HEIC" when ``data`` is a conversion of what was sent

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class PdfFacts:
    pages: int
    active_content: str  # what the PDF can do besides show its pages, in plain words, or ""


def format_size(size: int) -> str:
    """``15565`` -> ``15.2 KB``; the same wording as static/js/cpr-upload.js."""
    if size < 1024:
        return f"{size} bytes" if size != 1 else "1 byte"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def clean_name(name: str) -> str:
    """The last path component of ``name``, without control or bidi-override characters, NFC, at most 150 chars."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = " ".join(name.split()).strip(". ")
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix[:10]
        name = name[: MAX_NAME_LENGTH - len(suffix) - 1] + "…" + suffix
    return name or "upload"


def served_name(name: str, content_type: str) -> str:
    """The name a stored file is downloaded under: its original name, ending as its content is.

    ``("card.jfif", JPEG)`` -> ``card.jfif``; ``("IMG_0001.HEIC", JPEG)`` (a converted photo) -> ``IMG_0001.jpg``;
    ``("card.pdf", PNG)`` -> ``card.png``; ``("card.html", PDF)`` -> ``card.html.pdf``; ``("scan", PNG)`` ->
    ``scan.png``. So a saved download always opens in the program for what it is.
    """
    extension = EXTENSIONS.get(content_type)
    if extension is None:
        return name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in SUFFIXES[content_type]:
        return name
    if any(suffix in endings for endings in SUFFIXES.values()):
        return name[: -len(suffix)] + extension
    return name + extension


def _iso_brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO media file's leading ``ftyp`` box (HEIF, AVIF, MP4 …)."""
    if data[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(data[:4], "big"), 256, len(data))
    return {data[8:12]} | {data[i:i + 4] for i in range(16, size - 3, 4)}


def sniff(data: bytes) -> str | None:
    """The kind the leading bytes announce (``PDF``, ``JPEG``, ``PNG`` or ``HEIF``), or None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    brands = _iso_brands(data)
    if brands and (data[8:12] in HEIF_BRANDS or (data[8:12] in (b"mif1", b"msf1") and brands & HEIF_BRANDS)):
        return HEIF
    return None


def _other_kind(data: bytes) -> tuple[str, str] | None:
    """What a file the portal does not take is, and what to do instead, for the kinds people send by mistake."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF image", AS_JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image", AS_JPEG
    if data[:4] in (b"II*\0", b"MM\0*"):
        return "a TIFF image", AS_JPEG
    if data[:2] == b"BM" and len(data) >= 26 and int.from_bytes(data[2:6], "little") == len(data):
        return "a BMP image", AS_JPEG
    if _iso_brands(data) & AVIF_BRANDS:
        return "an AVIF image", AS_JPEG
    if data.startswith(b"PK\x03\x04"):
        if b"word/" in data[:65536]:
            return "a Word document", "Save it as PDF (File > Save As, then choose PDF) and upload that."
        return "a ZIP archive", "Unzip it and upload the card’s own PDF or photos."
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "a Microsoft Office document", "Save it as PDF (File > Save As, then choose PDF) and upload that."
    return None


def check_file(*, name: str, data: bytes) -> CheckedFile:
    """Accept a real PDF, JPEG, PNG or HEIC photo of at most 10 MB, whatever its name; a HEIC becomes a JPEG.

    The kind comes from the bytes only: a JPEG named ``card.jfif``, ``card.JPG`` or ``scan`` is a JPEG. Raises
    ``UploadRefused`` with a message saying what is wrong and what to send instead.
    """
    shown = clean_name(name)
    if not data:
        raise UploadRefused(f"“{shown}” is empty. Choose the file again, or save or scan the card again "
                            "and upload the new file.")
    if len(data) > MAX_FILE_BYTES:
        raise UploadRefused(f"“{shown}” is larger than 10 MB ({MAX_FILE_BYTES:,} bytes), the most a file may be. "
                            "Upload a smaller photo or scan of the card.")
    kind = sniff(data)
    if kind is None:
        other = _other_kind(data)
        if other:
            raise UploadRefused(f"“{shown}” is {other[0]}, which the portal cannot take. {other[1]}")
        raise UploadRefused(f"“{shown}” is not a PDF, JPEG or PNG file. {WHAT_TO_SEND}")
    converted_from = ""
    if kind == PDF:
        _check_pdf(shown, data)
    elif kind == HEIF:
        data, kind, converted_from = _heif_to_jpeg(shown, data), JPEG, "HEIC"
    else:
        _check_image(shown, data, kind)
    return CheckedFile(name=shown, content_type=kind, data=data, sha256=hashlib.sha256(data).hexdigest(),
                       converted_from=converted_from)


def pdf_facts(data: bytes) -> PdfFacts:
    """How many pages a stored PDF has and what it can do besides show them (for the staff preview).

    Raises ``ValueError`` when the PDF cannot be read.
    """
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        return PdfFacts(pages=len(reader.pages), active_content=_active_content(reader))
    except Exception as exc:  # pypdf raises many types on malformed input
        raise ValueError("unreadable PDF") from exc


def _check_pdf(shown: str, data: bytes) -> None:
    unreadable = UploadRefused(f"“{shown}” could not be read as a PDF (it may be damaged or incomplete). "
                               "Download or save it again and upload the new copy, or upload a photo or scan "
                               "of the card.")
    if b"%%EOF" not in data[-1024:]:
        raise unreadable
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        pages = None if encrypted else len(reader.pages)
        active = "" if encrypted else _active_content(reader)
    except _TooComplex:
        raise UploadRefused(f"“{shown}” is too complex a PDF to check. {PRINT_AGAIN}") from None
    except Exception:  # pypdf raises many types on malformed input
        raise unreadable from None
    if encrypted:
        raise UploadRefused(
            f"“{shown}” is encrypted or password-protected. Save or print it as a new PDF without a password, "
            "or upload a photo of the card."
        )
    if active:
        raise UploadRefused(f"“{shown}” {ACTIVE_CONTENT_REFUSALS[active]}, so it cannot be accepted. {PRINT_AGAIN}")
    if not pages:
        raise UploadRefused(f"“{shown}” has no pages. {WHAT_TO_SEND}")
    if pages > MAX_PDF_PAGES:
        raise UploadRefused(f"“{shown}” has {pages} pages; an upload may have at most {MAX_PDF_PAGES}. "
                            "Upload only the pages that show your card (print those pages to a new PDF).")


# What a PDF can do besides show its pages; a reader (Acrobat and others) may do these when staff open it.
SCRIPTS, LAUNCH, ATTACHED, ON_OPEN = "JavaScript", "launching programs", "attached files", "actions run on opening"
SENDS = "sending form data"
ACTIVE_CONTENT_REFUSALS = {
    SCRIPTS: "contains JavaScript or other code that runs in a PDF reader",
    LAUNCH: "tries to open programs or other files",
    ATTACHED: "has other files attached inside it (staff review only what is on its pages)",
    ON_OPEN: "is set to do something by itself when it is opened",
    SENDS: "tries to send what is typed into it somewhere else",
}
_SCRIPT_KEYS = {"/JS", "/JavaScript", "/XFA", "/RichMedia", "/RichMediaExecute"}
_ATTACHED_KEYS = {"/EmbeddedFiles", "/EmbeddedFile", "/EF", "/FileAttachment"}
# Actions refused wherever they are (on opening, on a link, on a form field): each reaches outside the document.
_ACTION_KINDS = {"/JavaScript": SCRIPTS, "/RichMediaExecute": SCRIPTS, "/Launch": LAUNCH,
                 "/ImportData": LAUNCH, "/GoToE": LAUNCH, "/GoToR": LAUNCH, "/SubmitForm": SENDS}
# A web-address action is a plain link, unless its address opens a file on the computer or on a network share
# (``file:``, or a Windows UNC path ``\\server\share``, which also hands the share the staff member's Windows
# login): ``_opens_a_file``.


class _TooComplex(Exception):
    pass


def _active_content(reader: PdfReader) -> str:
    """The first kind of active content (``SCRIPTS``, ``LAUNCH``, ``ATTACHED``, ``ON_OPEN``, ``SENDS``) found in the
    PDF, or "".

    Walks every object reachable from the trailer (so names hidden in compressed object streams or written with
    ``#`` escapes are seen, decoded). A link a person clicks (a page jump or a web address) is fine; an action
    run by itself (``/OpenAction``, ``/AA``) is refused unless it only moves within the document.
    """
    seen: set[tuple[int, int]] = set()
    stack: list = [reader.trailer]
    visited = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            obj = obj.get_object()
        visited += 1
        if visited > MAX_PDF_OBJECTS:
            raise _TooComplex
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if key in _SCRIPT_KEYS:
                    return SCRIPTS
                if key in _ATTACHED_KEYS:
                    return ATTACHED
                if key == "/OpenAction" and not _moves_only(value, action_only=False):
                    return _action_kind(value) or ON_OPEN
                if key == "/AA":
                    triggers = value.get_object()
                    for action in (triggers.values() if isinstance(triggers, DictionaryObject) else [triggers]):
                        if not _moves_only(action, action_only=True):
                            return _action_kind(action) or ON_OPEN
                stack.append(value)
            if _resolved(obj.get("/S")) == "/URI" and _opens_a_file(obj.get("/URI")):
                return LAUNCH
            for key in ("/S", "/Type", "/Subtype"):
                name = _resolved(obj.get(key))  # a kind written out of line (``/S 7 0 R``) is still that kind
                if isinstance(name, NameObject):
                    if name in _ACTION_KINDS:
                        return _ACTION_KINDS[name]
                    if name in _SCRIPT_KEYS:
                        return SCRIPTS
                    if name in _ATTACHED_KEYS:
                        return ATTACHED
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    return ""


def _resolved(value):
    """``value``, or the object it refers to when it is a reference."""
    return value.get_object() if isinstance(value, IndirectObject) else value


def _opens_a_file(uri) -> bool:
    """Whether a ``/URI`` action's address (a PDF string, maybe indirect) names a file rather than a web page:
    ``file:`` in any case, or two slashes of either kind (a UNC path), after any leading spaces."""
    uri = _resolved(uri)
    if not isinstance(uri, (bytes, str)):
        return False
    text = (uri.decode("latin-1") if isinstance(uri, bytes) else uri).strip().lower()
    return text.startswith("file:") or text[:2].replace("/", "\\") == "\\\\"


def _actions(action) -> list:
    """An action and every action chained after it by ``/Next``."""
    found, stack, seen = [], [action], set()
    while stack and len(found) < 1000:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            if (item.idnum, item.generation) in seen:
                continue
            seen.add((item.idnum, item.generation))
        item = item.get_object()
        if isinstance(item, ArrayObject):
            stack.extend(item)
        elif isinstance(item, DictionaryObject):
            found.append(item)
            if "/Next" in item:
                stack.append(item.raw_get("/Next"))
    return found


def _moves_only(value, *, action_only: bool) -> bool:
    """Whether an automatic action (or, for ``/OpenAction``, a destination array) only moves within the document."""
    resolved = value.get_object()
    if isinstance(resolved, ArrayObject) and not action_only:
        return True  # a destination: open at this page, this zoom
    actions = _actions(value)
    return bool(actions) and all(a.get("/S") == "/GoTo" for a in actions)


def _action_kind(value) -> str:
    for action in _actions(value):
        kind = action.get("/S")
        if isinstance(kind, NameObject) and kind in _ACTION_KINDS:
            return _ACTION_KINDS[kind]
    return ""


def _heif_to_jpeg(shown: str, data: bytes) -> bytes:
    """Decode an iPhone's HEIC photo (turned upright) and encode it as a JPEG without its metadata (no location)."""
    with _decoded(shown, data, "HEIF", label="HEIC", advice=IPHONE_AS_JPEG) as image:
        if getattr(image, "n_frames", 1) > 1:
            raise UploadRefused(f"“{shown}” holds {image.n_frames} pictures; upload each one as its own file. "
                                f"{IPHONE_AS_JPEG}")
        upright = ImageOps.exif_transpose(image).convert("RGB")
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=CONVERTED_JPEG_QUALITY)
    return out.getvalue()


def _check_image(shown: str, data: bytes, kind: str) -> None:
    label = "JPEG" if kind == JPEG else "PNG"
    with _decoded(shown, data, label, label=label, advice="Take or save the photo again and upload the new file."):
        pass


@contextmanager
def _decoded(shown: str, data: bytes, pillow_format: str, *, label: str, advice: str):
    """The image in ``data``, fully decoded as ``pillow_format`` within the pixel limit, or ``UploadRefused``."""
    unreadable = UploadRefused(f"“{shown}” could not be read as a {label} image (it may be damaged or incomplete). "
                               f"{advice}")
    too_big = f"images may have at most {MAX_PIXELS // 1_000_000} million pixels. Upload a smaller photo or scan."
    with _strict_decoding(), warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[pillow_format])
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UploadRefused(f"“{shown}” is {width:,} × {height:,} pixels; {too_big}")
            image.load()
        except UploadRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            size = _png_size(data) if pillow_format == "PNG" else None
            pixels = f"is {size[0]:,} × {size[1]:,} pixels" if size else "has too many pixels"
            raise UploadRefused(f"“{shown}” {pixels}; {too_big}") from None
        except Exception:  # Pillow raises OSError, SyntaxError, ValueError … on damaged input
            raise unreadable from None
    with image:
        yield image


_DECODING = threading.Lock()


@contextmanager
def _strict_decoding():
    """Decode with Pillow's truncated-image tolerance off.

    WeasyPrint turns ``ImageFile.LOAD_TRUNCATED_IMAGES`` on for the whole process
    when it is imported; a cut-off photo would then decode "successfully".
    """
    with _DECODING:
        tolerant = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = tolerant


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, read without decoding anything."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
