"""Stored uploads as staff look at them inline: an image as itself, a PDF page by page as PNG images rendered by
poppler's ``pdftoppm`` (CPR/AED card files, audit proof).

``stored`` is any stored upload with ``file``, ``key`` (a UUID), ``content_type`` and ``is_image``
(``CprUploadFile``, ``AuditProof``).
"""

import resource
import subprocess
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from . import uploads

PREVIEW_WIDTH = 900  # pixels of a rendered PDF page


def render_pdf_page(data: bytes, page: int) -> bytes | None:
    """Page ``page`` (from 1) of a PDF as PNG, ``PREVIEW_WIDTH`` wide, by ``pdftoppm`` in a time- and
    memory-limited child process. None when the page does not exist or the PDF cannot be rendered."""
    def limits():
        resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
        resource.setrlimit(resource.RLIMIT_AS, (1024 * 1024 * 1024, 1024 * 1024 * 1024))

    with tempfile.TemporaryDirectory(prefix="preview-") as tmp:
        source = Path(tmp) / "file.pdf"
        source.write_bytes(data)
        try:
            subprocess.run(
                ["pdftoppm", "-png", "-f", str(page), "-l", str(page), "-singlefile", "-scale-to", str(PREVIEW_WIDTH),
                 str(source), str(Path(tmp) / "page")],
                check=True, timeout=30, capture_output=True, preexec_fn=limits,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        rendered = Path(tmp) / "page.png"
        return rendered.read_bytes() if rendered.exists() else None


def stored_preview(*, stored, page: int, folder: str) -> tuple[bytes, str] | None:
    """An image of ``stored`` staff can look at inline: ``(bytes, content type)`` of the image itself (page 1
    only), or of page ``page`` (from 1) of a PDF, rendered once and kept in private storage as
    ``<folder>/<key>-page<n>.png``. None when there is no such page or it cannot be rendered."""
    if stored.is_image:
        if page != 1:
            return None
        with stored.file.open("rb") as fh:
            return fh.read(), stored.content_type
    if not 1 <= page <= uploads.MAX_PDF_PAGES:
        return None
    name = f"{folder}/{stored.key.hex}-page{page}.png"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return fh.read(), "image/png"
    with stored.file.open("rb") as fh:
        png = render_pdf_page(fh.read(), page)
    if png is None:
        return None
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(png))
    return png, "image/png"


def stored_facts(*, stored) -> uploads.PdfFacts:
    """What staff need to show ``stored`` whole: its page count (1 for an image) and, for a PDF kept from before
    such PDFs were refused, what it can do besides show its pages (``active_content``, plain words, or "").

    A PDF that can no longer be read counts one page (its preview then says it cannot be rendered).
    """
    if stored.is_image:
        return uploads.PdfFacts(pages=1, active_content="")
    with stored.file.open("rb") as fh:
        data = fh.read()
    try:
        return uploads.pdf_facts(data)
    except ValueError:
        return uploads.PdfFacts(pages=1, active_content="")
