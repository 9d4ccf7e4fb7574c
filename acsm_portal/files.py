"""Serving stored private documents (CPR/AED card files, certificates, proof) without letting a browser run them."""

from django.http import FileResponse

from .uploads import served_name

# Served files must never run as a page: no scripts, no styles, no frames, a unique origin.
FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


def file_response(found, *, as_attachment: bool, content=None, content_type: str = "",
                  filename: str = "") -> FileResponse:
    """A stored document (or its preview) with headers that keep a browser from running or sniffing it.

    ``found`` has ``file``, ``original_name`` and ``content_type`` (a ``CprUploadFile``); ``content`` (a file
    object or bytes iterator) replaces the stored file, e.g. for a rendered preview or a certificate, and then
    ``found`` may be None when ``content_type`` and ``filename`` are given. A stored file is named as sent, with the
    ending of what it is (``uploads.served_name``): a PDF sent as ``card.html`` downloads as ``card.html.pdf``.
    """
    response = FileResponse(
        content if content is not None else found.file.open("rb"),
        as_attachment=as_attachment,
        filename=filename or served_name(found.original_name, found.content_type),
        content_type=content_type or found.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
