"""Checks on uploaded documents (CPR/AED cards, and any proof a certificant sends), by their bytes.

The file's name and the browser's content type are never trusted: the kind is
read from the leading bytes, then the whole file must parse as that kind (pypdf
for PDFs, a full Pillow decode for images). No Django, no database: the
functions here take bytes and a name and either return a ``CheckedFile`` or
raise ``UploadRefused`` with a message fit for the person.
"""

import hashlib
import io
import threading
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath

from PIL import Image, ImageFile
from pypdf import PdfReader

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 4
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 10
MAX_NAME_LENGTH = 150

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
KIND_LABELS = {PDF: "a PDF", JPEG: "a JPEG image", PNG: "a PNG image"}
NAME_SUFFIXES = {".pdf": PDF, ".jpg": JPEG, ".jpeg": JPEG, ".png": PNG}
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class UploadRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckedFile:
    name: str  # the cleaned original name, kept as data only
    content_type: str  # detected from the bytes
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


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


def sniff(data: bytes) -> str | None:
    """The kind the leading bytes announce (``PDF``, ``JPEG`` or ``PNG``), or None for anything else."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def check_file(*, name: str, data: bytes) -> CheckedFile:
    """Accept a real PDF, JPEG or PNG of at most 10 MB whose name does not claim another kind."""
    shown = clean_name(name)
    if not data:
        raise UploadRefused(f"“{shown}” is empty.")
    if len(data) > MAX_FILE_BYTES:
        raise UploadRefused(f"“{shown}” is larger than 10 MB ({MAX_FILE_BYTES:,} bytes), the most a file may be.")
    kind = sniff(data)
    if kind is None:
        raise UploadRefused(f"“{shown}” is not a PDF, JPEG or PNG file.")
    suffix = PurePosixPath(shown).suffix.lower()
    if suffix and NAME_SUFFIXES.get(suffix) != kind:
        raise UploadRefused(
            f"“{shown}” is {KIND_LABELS[kind]}, but its name ends in {suffix}. "
            f"Rename it to end in {EXTENSIONS[kind]} and upload it again."
        )
    if kind == PDF:
        _check_pdf(shown, data)
    else:
        _check_image(shown, data, kind)
    return CheckedFile(name=shown, content_type=kind, data=data, sha256=hashlib.sha256(data).hexdigest())


def _check_pdf(shown: str, data: bytes) -> None:
    unreadable = UploadRefused(f"“{shown}” could not be read as a PDF (it may be damaged or incomplete).")
    if b"%%EOF" not in data[-1024:]:
        raise unreadable
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        pages = None if encrypted else len(reader.pages)
    except Exception:  # pypdf raises many types on malformed input
        raise unreadable from None
    if encrypted:
        raise UploadRefused(
            f"“{shown}” is encrypted or password-protected. Save or print it as a new PDF without a password, "
            "or upload a photo of the card."
        )
    if not pages:
        raise UploadRefused(f"“{shown}” has no pages.")
    if pages > MAX_PDF_PAGES:
        raise UploadRefused(f"“{shown}” has {pages} pages; an upload may have at most {MAX_PDF_PAGES}.")


def _check_image(shown: str, data: bytes, kind: str) -> None:
    label = "JPEG" if kind == JPEG else "PNG"
    unreadable = UploadRefused(f"“{shown}” could not be read as a {label} image (it may be damaged or incomplete).")
    too_big = f"images may have at most {MAX_PIXELS // 1_000_000} million pixels. Upload a smaller photo or scan."
    with _strict_decoding(), warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[label]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise UploadRefused(f"“{shown}” is {width:,} × {height:,} pixels; {too_big}")
                image.load()
        except UploadRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            size = _png_size(data) if kind == PNG else None
            pixels = f"is {size[0]:,} × {size[1]:,} pixels" if size else "has too many pixels"
            raise UploadRefused(f"“{shown}” {pixels}; {too_big}") from None
        except Exception:  # Pillow raises OSError, SyntaxError, ValueError … on damaged input
            raise unreadable from None


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
