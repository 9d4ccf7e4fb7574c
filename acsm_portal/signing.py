"""The certifying body's signing key and certificate, and the signatures made and checked with them.

The key and its X.509 certificate are PEM files named by ``settings.SIGNING_KEY_FILE`` and
``settings.SIGNING_CERT_FILE``. In production they are the body's own; development and the tests make a self-signed
pair with ``manage.py signing_keys_create``. They are read when something is first signed or checked (and again
when a file changes), not when the portal starts: a missing file raises ``ImproperlyConfigured`` then, saying what
to do.

Certificate PDFs are signed here (``pdf_sign``: PAdES baseline B-B, a certifying signature that permits no change)
and uploaded PDFs checked against our certificate as the only trust root (``pdf_signature_check``). Open Badges
credentials are signed elsewhere with ``signing_key()`` and published with ``signing_public_jwk()``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from urllib.parse import urlsplit

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from acsm_portal import clock

log = logging.getLogger(__name__)

SIGNER_NAME = "MyACSM Certification"
SIGNATURE_REASON = "Certificate of the certifying body"
SIGNATURE_FIELD = "MyACSMCertification"
CREATE_COMMAND = "manage.py signing_keys_create"
SIGNATURE_ROOM = 4096  # bytes for a signature's CMS besides the certificate in it

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _file(setting: str) -> Path:
    """The path ``settings.<setting>`` names, checked to be a file."""
    path = Path(getattr(settings, setting))
    if not path.is_file():
        raise ImproperlyConfigured(
            f"The signing {'key' if setting == 'SIGNING_KEY_FILE' else 'certificate'} file {path} "
            f"({setting}) does not exist. For development and the demo, run `{CREATE_COMMAND}`; in production set "
            "SIGNING_KEY_FILE and SIGNING_CERT_FILE to the certifying body's key and certificate (PEM)."
        )
    return path


def _stamp(setting: str) -> tuple[str, int]:
    path = _file(setting)
    return str(path), path.stat().st_mtime_ns


@lru_cache(maxsize=4)
def _key_at(path: str, _mtime_ns: int) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"The signing key file {path} is not an unencrypted PEM private key: {exc}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ImproperlyConfigured(f"The signing key in {path} is on {key.curve.name}; it must be P-256.")
    elif isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 3072:
            raise ImproperlyConfigured(f"The signing key in {path} is RSA {key.key_size}; it must be 3072 bits or more.")
    else:
        raise ImproperlyConfigured(f"The signing key in {path} must be EC P-256 or RSA (3072 bits or more).")
    return key


@lru_cache(maxsize=4)
def _certificate_at(path: str, _mtime_ns: int) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except ValueError as exc:
        raise ImproperlyConfigured(f"The signing certificate file {path} is not a PEM certificate: {exc}") from None


def signing_key() -> SigningKey:
    """The certifying body's private key (a ``cryptography`` EC P-256 key, or RSA of 3072 bits or more), read from
    ``settings.SIGNING_KEY_FILE``. Raises ``ImproperlyConfigured`` when the file is missing or holds another kind
    of key, or when the key is not the one ``signing_certificate()`` certifies."""
    key = _key_at(*_stamp("SIGNING_KEY_FILE"))
    certificate = signing_certificate()
    if key.public_key().public_numbers() != certificate.public_key().public_numbers():
        raise ImproperlyConfigured(f"The signing key ({settings.SIGNING_KEY_FILE}) is not the key of the signing "
                                   f"certificate ({settings.SIGNING_CERT_FILE}).")
    return key


def signing_certificate() -> x509.Certificate:
    """The certifying body's X.509 certificate (``cryptography``), read from ``settings.SIGNING_CERT_FILE``.
    Raises ``ImproperlyConfigured`` when the file is missing or is not a PEM certificate."""
    return _certificate_at(*_stamp("SIGNING_CERT_FILE"))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signing_public_jwk() -> dict[str, str]:
    """The public half of ``signing_key()`` as a JSON Web Key (RFC 7517), to publish for checking signatures.

    EC P-256: ``{"kty": "EC", "crv": "P-256", "x": …, "y": …, "kid": …, "alg": "ES256", "use": "sig"}`` (``x`` and
    ``y`` base64url, 32 bytes each); RSA: ``kty`` "RSA", ``n``, ``e``, ``alg`` "RS256". ``kid`` is the key's RFC 7638
    thumbprint (SHA-256, base64url), so it changes exactly when the key does. Raises ``ImproperlyConfigured`` as
    ``signing_key()`` does."""
    numbers = signing_key().public_key().public_numbers()
    if isinstance(numbers, ec.EllipticCurvePublicNumbers):
        required = {"crv": "P-256", "kty": "EC", "x": _b64url(numbers.x.to_bytes(32, "big")),
                    "y": _b64url(numbers.y.to_bytes(32, "big"))}
        alg = "ES256"
    else:
        required = {"e": _b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")), "kty": "RSA",
                    "n": _b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big"))}
        alg = "RS256"
    thumbprint = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest()
    return {**required, "kid": _b64url(thumbprint), "alg": alg, "use": "sig"}


def _outside_event_loop(function, *args):
    """``function(*args)``, which runs an event loop of its own (pyHanko's synchronous calls use ``asyncio.run``):
    in this thread, or in a thread of its own when this one is already running a loop (an ASGI server's, or a
    browser driver's in the tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@lru_cache(maxsize=4)
def _signer_for(key_stamp: tuple[str, int], certificate_stamp: tuple[str, int]):
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = signing_key()
    certificate = _asn1_certificate(signing_certificate())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return signers.SimpleSigner(signing_cert=certificate, signing_key=asn1_keys.PrivateKeyInfo.load(der),
                                cert_registry=SimpleCertificateStore.from_certs([certificate]))


def pdf_sign(data: bytes) -> bytes:
    """``data`` (a whole PDF) signed by the certifying body: the same document with one incremental update holding
    an invisible certifying signature (PAdES baseline B-B: ``ETSI.CAdES.detached``, SHA-256, the signing
    certificate embedded) that permits no later change, reason ``SIGNATURE_REASON``, signer ``SIGNER_NAME``,
    location the portal's host. Any byte changed in the signed document breaks it in a PDF reader.

    Raises ``ImproperlyConfigured`` when the key or certificate is missing (run ``manage.py signing_keys_create``
    for development), and pyHanko's ``PdfReadError`` when ``data`` is not a PDF."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.fields import MDPPerm

    signer = _signer_for(_stamp("SIGNING_KEY_FILE"), _stamp("SIGNING_CERT_FILE"))
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        certify=True, docmdp_permissions=MDPPerm.NO_CHANGES, reason=SIGNATURE_REASON, name=SIGNER_NAME,
        location=urlsplit(settings.PORTAL_BASE_URL).hostname or SIGNER_NAME,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    pdf_signer = signers.PdfSigner(meta, signer=signer, new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD))
    # Room for the signature set aside at once, rather than found by signing twice (a dry run costs half the time):
    # the CMS holds our one certificate, the signed attributes and the signature itself (512 bytes at most); the
    # placeholder is hexadecimal, two digits a byte.
    reserved = 2 * (SIGNATURE_ROOM + len(signer.signing_cert.dump()))
    return _outside_event_loop(partial(pdf_signer.sign_pdf, writer, bytes_reserved=reserved)).getvalue()


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What ``pdf_signature_check`` found in a PDF.

    ``signed``: the PDF holds a signature at all; ``intact``: the bytes it signs are unchanged since; ``ours``: it
    was made with the certifying body's key (our certificate is the one trust root); ``whole_document``: it
    signs the file as uploaded, nothing added after it (a later revision could change what the pages show);
    ``unchanged``: the document permits no change and none was made. ``signer`` is the signing certificate's
    subject ("" when unsigned), ``signed_at`` the time the signer gave (aware, or None), ``revision_info`` the
    document information dictionary of the signed revision (``{"/Subject": "…", …}``, strings)."""

    signed: bool
    intact: bool = False
    ours: bool = False
    whole_document: bool = False
    unchanged: bool = False
    signer: str = ""
    signed_at: datetime | None = None
    revision_info: dict[str, str] | None = None

    @property
    def valid(self) -> bool:
        """Signed by us, intact, covering the whole file: the document is exactly what we signed."""
        return self.signed and self.intact and self.ours and self.whole_document and self.unchanged


class NotAPdf(ValueError):
    """The bytes are not a PDF that can be read."""


def pdf_signature_check(data: bytes) -> PdfSignatureCheck:
    """Check the first signature of the PDF ``data`` (the certifying one) against ``signing_certificate()`` as the
    only trust root, at ``clock.now()``; nothing is fetched from the network.

    Returns a ``PdfSignatureCheck``. Raises ``NotAPdf`` when ``data`` cannot be read as a PDF (or is encrypted),
    and ``ImproperlyConfigured`` when our certificate is missing."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    ours = _asn1_certificate(signing_certificate())
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise NotAPdf("encrypted")
        embedded = reader.embedded_regular_signatures
    except Exception as exc:  # pyHanko raises many types on malformed input
        raise NotAPdf(str(exc)) from exc
    if not embedded:
        return PdfSignatureCheck(signed=False)
    signature = embedded[0]
    context = ValidationContext(trust_roots=[ours], moment=clock.now(), allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = _outside_event_loop(validate_pdf_signature, signature, context)
    except Exception as exc:  # a malformed signature or revision: nothing in it can be relied on
        log.info("A PDF's signature could not be validated: %r", exc)
        return PdfSignatureCheck(signed=True)
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return PdfSignatureCheck(
        signed=True,
        intact=bool(status.intact),
        ours=bool(status.intact and status.valid and status.trusted),
        whole_document=whole,
        unchanged=whole and status.docmdp_ok is not False,
        signer=status.signing_cert.subject.human_friendly,
        signed_at=status.signer_reported_dt,
        revision_info=_revision_info(reader, signature) if status.intact else None,
    )


def _revision_info(reader, signature) -> dict[str, str]:
    """The document information dictionary as of the revision ``signature`` signed."""
    try:
        historical = reader.get_historical_resolver(signature.signed_revision)
        info = historical.trailer_view.get("/Info")
        info = info.get_object() if info is not None else {}
        return {str(k): str(v) for k, v in info.items() if isinstance(v, str)}  # text strings
    except Exception:  # a malformed info dictionary only means there is nothing to match
        log.info("The signed revision's document information could not be read", exc_info=True)
        return {}
