"""HTML to PDF with WeasyPrint. Nothing is fetched from the network while rendering:
only data: URLs are allowed (images are embedded by the templates).

Any name a person can type must print as letters, not as empty boxes, so every PDF gets the font stacks below
as the CSS variables ``--serif`` and ``--sans`` (templates write ``font-family: var(--serif)``). DejaVu comes
first (Latin, Greek, Cyrillic, Vietnamese), then a Noto family for each script in use, so that a whole word of
one script is set in one font: left to fontconfig's own fallback a mark can come from another font than its
letter (a Tamil virama from Noto Sans Grantha prints as a dotted circle). The fonts are Debian's
``fonts-dejavu-core``, ``fonts-noto-core`` and ``fonts-noto-cjk``, installed by ``scripts/ensure-system.sh``
and the ``Dockerfile``; ``tests/documents/`` fails when one of these families is not installed.
"""

from collections.abc import Iterable

from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

_FETCHER = URLFetcher(allowed_protocols={"data"})

# Scripts whose Noto family has no serif design take the sans one in the serif stack too.
_SCRIPTS_SERIF = [
    "Noto Serif", "Noto Serif CJK SC", "Noto Naskh Arabic", "Noto Serif Hebrew", "Noto Serif Armenian",
    "Noto Serif Georgian", "Noto Serif Ethiopic", "Noto Serif Devanagari", "Noto Serif Bengali",
    "Noto Serif Gurmukhi", "Noto Serif Gujarati", "Noto Sans Oriya", "Noto Serif Tamil", "Noto Serif Telugu",
    "Noto Serif Kannada", "Noto Serif Malayalam", "Noto Serif Sinhala", "Noto Serif Thai", "Noto Serif Lao",
    "Noto Serif Khmer", "Noto Serif Myanmar", "Noto Serif Tibetan",
]
_SCRIPTS_SANS = [
    "Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic", "Noto Sans Hebrew", "Noto Sans Armenian",
    "Noto Sans Georgian", "Noto Sans Ethiopic", "Noto Sans Devanagari", "Noto Sans Bengali",
    "Noto Sans Gurmukhi", "Noto Sans Gujarati", "Noto Sans Oriya", "Noto Sans Tamil", "Noto Sans Telugu",
    "Noto Sans Kannada", "Noto Sans Malayalam", "Noto Sans Sinhala", "Noto Sans Thai", "Noto Sans Lao",
    "Noto Sans Khmer", "Noto Sans Myanmar",
]
_SCRIPTS_BOTH = [
    "Noto Sans Syriac", "Noto Sans Thaana", "Noto Sans Mongolian", "Noto Sans Cherokee",
    "Noto Sans Canadian Aboriginal", "Noto Sans Yi", "Noto Sans NKo", "Noto Sans Tifinagh", "Noto Sans Ol Chiki",
    "Noto Sans Adlam", "Noto Sans Vai",
]
SERIF_FAMILIES = ["DejaVu Serif", *_SCRIPTS_SERIF, *_SCRIPTS_BOTH]
SANS_FAMILIES = ["DejaVu Sans", *_SCRIPTS_SANS, *_SCRIPTS_BOTH]


def _stack(families: list[str], generic: str) -> str:
    return ", ".join([*(f'"{family}"' for family in families), generic])


_FONTS = CSS(string=f":root {{ --serif: {_stack(SERIF_FAMILIES, 'serif')}; "
                    f"--sans: {_stack(SANS_FAMILIES, 'sans-serif')}; }} html {{ font-family: var(--sans); }}")


def _document(html: str):
    return HTML(string=html, url_fetcher=_FETCHER).render(stylesheets=[_FONTS])


def pdf_from_html(html: str) -> bytes:
    """The PDF of ``html`` (a whole HTML document whose CSS may use ``var(--serif)`` and ``var(--sans)``)."""
    return _document(html).write_pdf()


def pdf_fitted(htmls: Iterable[str], *, pages: int = 1) -> bytes:
    """The PDF of the first of ``htmls`` whose layout takes at most ``pages`` pages, or of the last one when none
    does. ``htmls`` is the same document from its most generous layout to its most compact (smaller type for long
    names), produced lazily: a document that fits at once is laid out once. Raises ``ValueError`` when empty."""
    document = None
    for html in htmls:
        document = _document(html)
        if len(document.pages) <= pages:
            break
    if document is None:
        raise ValueError("No document to render.")
    return document.write_pdf()
