"""Where private documents are kept: the default storage, either the local file system (one machine, the demo) or
a private S3-compatible bucket that every web node and worker share (settings ``S3_*``, docs/deploy.md).

The rest of the portal reads and writes through Django's storage API (``FieldFile.save``/``open``,
``default_storage``), the same for both. What differs lives here: reading an object as a stream, and the short-lived
presigned URL a download may be redirected to, and copying a local folder of documents into the bucket.
"""

import base64
import hashlib
import string
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

_PUBLIC_CLIENTS: dict[tuple, object] = {}
_PUBLIC_CLIENTS_LOCK = threading.Lock()


def is_bucket(storage) -> bool:
    """Whether ``storage`` (a storage instance, e.g. ``FieldFile.storage``) is an S3 bucket."""
    return isinstance(storage, S3Storage)


def object_key(storage: S3Storage, name: str) -> str:
    """The bucket key of the stored name ``name`` (``cpr/<hex>.pdf``): the name under the storage's ``location``
    prefix, if it has one. Raises ``SuspiciousOperation`` for a name that climbs out of it."""
    return storage._normalize_name(clean_name(name))


def bucket_stream(*, storage: S3Storage, name: str) -> tuple[BinaryIO, int]:
    """The stored object ``name`` as ``(stream, size in bytes)``: a file-like object whose ``read(n)`` takes the
    next bytes from the open S3 response as they come (nothing is spooled to memory or disk first); close it when
    done. Raises ``FileNotFoundError`` when the bucket has no such object, ``botocore`` errors otherwise."""
    try:
        got = storage.bucket.Object(object_key(storage, name)).get()
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise FileNotFoundError(f"No stored file {name!r} in bucket {storage.bucket_name!r}.") from None
        raise
    return got["Body"], got["ContentLength"]


_SAFE_IN_NAME = frozenset(string.ascii_letters + string.digits + "._()+,- ")


def _ascii_name(filename: str) -> str:
    """``filename`` in printable ASCII for a quoted header parameter: accents dropped (``Núñez`` -> ``Nunez``),
    any other character outside letters, digits, ``._()+,-`` and space as ``_`` (``卡.png`` -> ``_.png``), spaces
    and dots trimmed from the ends; never empty."""
    kept = (ch if ch in _SAFE_IN_NAME else "_"
            for ch in unicodedata.normalize("NFKD", filename) if not unicodedata.combining(ch))
    return "".join(kept).strip(" .") or "download"


def attachment_disposition(filename: str) -> str:
    """A ``Content-Disposition`` value that saves the file as ``filename`` and never shows it in the browser.

    ``card.pdf`` -> ``attachment; filename="card.pdf"``; a name with other characters gets an ASCII stand-in in
    ``filename`` and the name itself, UTF-8 and percent-encoded, in ``filename*`` (RFC 6266), which browsers
    prefer: ``Tarjeta "Núñez".pdf`` -> ``attachment; filename="Tarjeta _Nunez_.pdf";
    filename*=UTF-8''Tarjeta%20%22N%C3%BA%C3%B1ez%22.pdf``.
    """
    fallback = _ascii_name(filename)
    if fallback == filename:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _public_client(storage: S3Storage, endpoint_url: str):
    """A boto3 S3 client on ``endpoint_url`` with ``storage``'s keys, region and options, made once per process."""
    key = (endpoint_url, storage.access_key, storage.region_name, storage.session_profile)
    with _PUBLIC_CLIENTS_LOCK:
        if key not in _PUBLIC_CLIENTS:
            session = (boto3.Session(profile_name=storage.session_profile) if storage.session_profile
                       else boto3.Session(aws_access_key_id=storage.access_key,
                                          aws_secret_access_key=storage.secret_key,
                                          aws_session_token=storage.security_token))
            _PUBLIC_CLIENTS[key] = session.client("s3", endpoint_url=endpoint_url, region_name=storage.region_name,
                                                  config=storage.client_config, verify=storage.verify)
        return _PUBLIC_CLIENTS[key]


def download_url(*, storage: S3Storage, name: str, filename: str, content_type: str,
                 expire: int | None = None) -> str:
    """A presigned GET URL of the stored object ``name``, valid for ``expire`` seconds (default
    ``settings.S3_URL_EXPIRE``, 300), whose answer carries ``Content-Disposition: attachment`` with ``filename``
    (``attachment_disposition``), ``Content-Type: content_type`` and ``Cache-Control: private, no-store``.

    Signed for ``settings.S3_PUBLIC_ENDPOINT_URL`` when set (the address browsers reach), else for the storage's
    own endpoint. Makes no request to the store: a missing object answers the browser 404 there.
    """
    expire = settings.S3_URL_EXPIRE if expire is None else expire
    parameters = {
        "ResponseContentDisposition": attachment_disposition(filename),
        "ResponseContentType": content_type,
        "ResponseCacheControl": "private, no-store",
    }
    if not settings.S3_PUBLIC_ENDPOINT_URL:
        return storage.url(name, parameters=parameters, expire=expire)
    client = _public_client(storage, settings.S3_PUBLIC_ENDPOINT_URL)
    return client.generate_presigned_url(
        "get_object", Params={**parameters, "Bucket": storage.bucket_name, "Key": object_key(storage, name)},
        ExpiresIn=expire,
    )


@dataclass
class CopyReport:
    """What ``documents_copy`` did (or, dry, would do) with the files of a folder."""

    found: int = 0  # files in the folder
    copied: int = 0  # new in the bucket
    replaced: int = 0  # the bucket held a different object under the name (another size or hash)
    present: int = 0  # the bucket held the same bytes already: skipped
    copied_bytes: int = 0  # of the copied and replaced files
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, what went wrong)


def _local_hashes(path: Path) -> tuple[str, str]:
    """``(md5 hex, sha256 hex)`` of the file at ``path``, read 1 MB at a time."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def _same_object(head: dict, *, size: int, md5: str, sha256: str) -> bool:
    """Whether a HEAD answer describes these bytes: the same size, and the SHA-256 this copy records in the
    object's metadata, or (an object the portal saved itself in one part) an ETag that is the MD5."""
    if head["ContentLength"] != size:
        return False
    return head.get("Metadata", {}).get("sha256") == sha256 or head.get("ETag", "").strip('"') == md5


def documents_copy(*, source: Path, storage: S3Storage, dry_run: bool = False,
                   on_file: Callable[[str, str], None] | None = None) -> CopyReport:
    """Copy every file under the folder ``source`` into the bucket of ``storage`` under the same name (its path
    relative to ``source``, with ``/``), skipping those the bucket holds already with the same size and hash.

    Safe to run again and to stop at any point: each file is one ``PutObject`` (an object appears whole or not at
    all), and a second run copies only what is missing or different. Each object records its SHA-256 in its
    metadata (``x-amz-meta-sha256``) and is sent with its MD5 for the store to check. ``dry_run`` looks without
    copying. ``on_file(name, outcome)`` is told each file's outcome: ``"copied"``, ``"replaced"``, ``"present"``
    or ``"failed: <reason>"``. A file that cannot be read or sent is counted in ``failed`` and the rest go on.
    """
    report = CopyReport()
    client = storage.connection.meta.client
    files = {path.relative_to(source).as_posix(): path
             for path in source.rglob("*") if path.is_file() and not path.is_symlink()}
    for name, path in sorted(files.items()):  # in the bucket's own order of keys
        report.found += 1
        try:
            key = object_key(storage, name)
            size = path.stat().st_size
            md5, sha256 = _local_hashes(path)
            try:
                head = client.head_object(Bucket=storage.bucket_name, Key=key)
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                    raise
                head = None
            if head is not None and _same_object(head, size=size, md5=md5, sha256=sha256):
                outcome = "present"
            else:
                outcome = "copied" if head is None else "replaced"
                if not dry_run:
                    parameters = storage._get_write_parameters(key)  # type, ACL and object parameters, as a save
                    with path.open("rb") as body:
                        client.put_object(
                            Bucket=storage.bucket_name, Key=key, Body=body, ContentLength=size,
                            ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"),
                            Metadata={**parameters.pop("Metadata", {}), "sha256": sha256}, **parameters,
                        )
                report.copied_bytes += size
        except (OSError, ClientError, BotoCoreError, SuspiciousOperation) as exc:
            report.failed.append((name, str(exc) or exc.__class__.__name__))
            outcome = f"failed: {report.failed[-1][1]}"
        else:
            setattr(report, outcome, getattr(report, outcome) + 1)
        if on_file is not None:
            on_file(name, outcome)
    return report
