"""Receiving uploaded documents without keeping more than the size cap of them, and serving stored private documents
(CPR/AED card files, certificates, audit proof) without letting a browser run them, from the local file system or
an S3 bucket (``acsm_portal.storage``)."""

from functools import wraps

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from . import storage as stores
from .uploads import MAX_FILE_BYTES, served_name

# Served files must never run as a page: no scripts, no styles, no frames, a unique origin.
FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
STREAM_BLOCK_BYTES = 64 * 1024  # read from the store and written to the client this much at a time


def file_response(found, *, as_attachment: bool, content=None, content_type: str = "",
                  filename: str = ""):
    """A stored document (or its preview) with headers that keep a browser from running or sniffing it: a
    ``FileResponse``, or, for a download from a bucket when ``settings.S3_REDIRECT_DOWNLOADS`` is on, a redirect
    (302) to a presigned URL valid for 5 minutes that forces the attachment (``storage.download_url``).

    ``found`` has ``file``, ``original_name`` and ``content_type`` (a ``CprUploadFile``); ``content`` (a file
    object or bytes iterator) replaces the stored file, e.g. for a rendered preview or a certificate, and then
    ``found`` may be None when ``content_type`` and ``filename`` are given. A stored file (``found.file``, or a
    ``FieldFile`` given as ``content``) is streamed from its store, a bucket's object read as it arrives. A stored
    file is named as sent, with the ending of what it is (``uploads.served_name``): a PDF sent as ``card.html``
    downloads as ``card.html.pdf``. The caller has checked who may have it. Raises ``FileNotFoundError`` when the
    stored file is missing (streamed downloads only: a presigned URL is made without asking the store).
    """
    filename = filename or served_name(found.original_name, found.content_type)
    content_type = content_type or found.content_type
    stored = content if isinstance(content, FieldFile) else found.file if content is None else None
    if stored is not None and stores.is_bucket(stored.storage):
        stored.close()  # a FieldFile the caller opened: read again below, as a stream or by the browser
        if as_attachment and settings.S3_REDIRECT_DOWNLOADS:
            response = HttpResponseRedirect(stores.download_url(
                storage=stored.storage, name=stored.name, filename=filename, content_type=content_type))
            response["Cache-Control"] = "private, no-store"
            response["Referrer-Policy"] = "no-referrer"
            return response
        body, size = stores.bucket_stream(storage=stored.storage, name=stored.name)
    else:
        body, size = (stored.open("rb") if stored is not None else content), None
    response = FileResponse(body, as_attachment=as_attachment, filename=filename, content_type=content_type)
    response.block_size = STREAM_BLOCK_BYTES
    if size is not None:
        response["Content-Length"] = str(size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


class _CappedUploadHandler(FileUploadHandler):
    """Keeps at most 10 MB + 1 byte of each uploaded file: enough to refuse it as too big, without storing it all.

    It passes each chunk, cut at the cap, on to Django's own handlers: a file up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``
    (2.5 MB) is held in memory, a larger one in a temporary file under ``FILE_UPLOAD_TEMP_DIR`` (the system's
    temp folder) that holds at most the cap and is deleted when the request is closed, or at once if the upload
    breaks off. The view then checks the bytes (``uploads.check_file``) and only an accepted file is saved to the
    store (a bucket receives it from memory, never from a path on this node).
    """

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
