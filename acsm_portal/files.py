"""Receiving uploaded documents without keeping more than the size cap of them, and serving stored private documents
(CPR/AED card files, certificates, audit proof) without letting a browser run them."""

from functools import wraps

from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .uploads import MAX_FILE_BYTES, served_name

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


class _CappedUploadHandler(FileUploadHandler):
    """Keeps at most 10 MB + 1 byte of each uploaded file: enough to refuse it as too big, without storing it all."""

    def receive_data_chunk(self, raw_data, start):
        room = MAX_FILE_BYTES + 1 - start
        return raw_data[:room] if room > 0 else None

    def file_complete(self, file_size):
        return None


def capped_uploads(view):
    """A view whose uploaded files are cut at ``uploads.MAX_FILE_BYTES`` + 1 byte as they arrive (so
    ``uploads.check_file`` refuses a bigger one as too big): the cap is installed before the body is parsed, and
    CSRF is then checked inside, as Django documents."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.upload_handlers.insert(0, _CappedUploadHandler(request))
        return protected(request, *args, **kwargs)

    return wrapper
