"""HTML to PDF with WeasyPrint. Nothing is fetched from the network while rendering:
only data: URLs are allowed (images are embedded by the templates)."""

from weasyprint import HTML
from weasyprint.urls import URLFetcher

_FETCHER = URLFetcher(allowed_protocols={"data"})


def pdf_from_html(html: str) -> bytes:
    return HTML(string=html, url_fetcher=_FETCHER).write_pdf()
