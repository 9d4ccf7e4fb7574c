"""Open Badges 3.0 credentials for certificates: built, signed as a VC-JWT, checked; and the issuer's published key.

A certificate's credential is an ``OpenBadgeCredential`` in the W3C Verifiable Credentials data model 2.0, as Open
Badges 3.0 (context 3.0.3) specifies it, secured as a JOSE compact JWS (VC-JOSE-COSE): the header is ``alg`` ES256
(RS256 for a body's RSA key), ``kid`` (a DID URL of the key) and ``typ`` "vc+jwt"; the payload is the credential
itself, with the JWT claims OB 3.0 asks for beside it (``iss`` = ``issuer.id``, ``jti`` = ``id``, ``nbf`` =
``validFrom``, ``exp`` = ``validUntil``, seconds since the epoch). The holder downloads it from their tile at
``/certificates/<number>/badge.jwt`` (``application/vc+jwt``), the JWS itself rather than JSON around it: it is what
wallets and the check at ``/verify/credential/`` take.

- The issuer is the portal's ``did:web`` (``did:web:<host of PORTAL_BASE_URL>``, a port's colon written ``%3A``),
  whose DID document at ``/.well-known/did.json`` holds the public key (``JsonWebKey2020``, ``assertionMethod``);
  the same key is at ``/.well-known/jwks.json``, its ``kid`` being the DID URL the JWS header names
  (``<did>#<RFC 7638 thumbprint>``). The key itself is ``acsm_portal.signing``'s.
- The credential's ``id`` is the certificate's public verify page (``/verify/<code>/``). The subject has no ``id``
  (a holder has no DID here), so the JWT has no ``sub``: the holder is named by an OB 3.0 ``identifier``, their name
  as the certificate prints it (``identityType`` "name", not hashed); never their email or member ID.
- ``credentialStatus`` is of type ``1EdTechRevocationList`` at ``/verify/<code>/status.json``: a revocation list of
  this one certificate's credential (``revokedCredentials`` names it while the certificate is suspended or revoked),
  which also says the certificate's live status in words (``status``, ``statusLabel``).
- ``validFrom`` is the start of the issue day and ``validUntil`` the last second of the valid-through day, both on
  the holder's clock (their time zone), written with that zone's offset.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve, reverse
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from acsm_portal import clock
from acsm_portal.formats import format_date
from acsm_portal.signing import signing_key, signing_public_jwk
from certifications.certificate_status import DATED, certificate_dated_status
from certifications.models import Certificate

CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
JWT_TYPE = "vc+jwt"
MEDIA_TYPE = "application/vc+jwt"
STATUS_TYPE = "1EdTechRevocationList"
# A certificate in one of these is valid within its dates; one renewed stays so, its certification carried on.
GOOD_STANDING = frozenset({Certificate.Status.ACTIVE, Certificate.Status.RENEWED})
# The statuses a revocation list names the credential under: no longer valid whatever its dates say.
REVOKED = frozenset({Certificate.Status.SUSPENDED, Certificate.Status.REVOKED})
# A pasted or uploaded credential longer than this is refused unread (a certificate's is about 2 KB).
MAX_TOKEN_CHARS = 64 * 1024


# The issuer and its key -------------------------------------------------------------------------------------------

def _base_url() -> str:
    return settings.PORTAL_BASE_URL.rstrip("/")


def issuer_did() -> str:
    """The portal's ``did:web`` identifier: ``did:web:certify.example.org`` (``did:web:127.0.0.1%3A8000`` with a
    port), from ``settings.PORTAL_BASE_URL``'s host."""
    return "did:web:" + urlsplit(settings.PORTAL_BASE_URL).netloc.replace(":", "%3A")


# The members of a public JWK, by key type (RFC 7638's, the ones its thumbprint is made of).
PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "RSA": ("kty", "n", "e")}


def _public_jwk() -> dict:
    """The signing key's public JWK, its RFC 7638 members only (never ``d``)."""
    jwk = signing_public_jwk()
    return {name: jwk[name] for name in PUBLIC_MEMBERS[jwk["kty"]]}


def signing_algorithm() -> str:
    """The JWS algorithm of the signing key: "ES256" for the EC P-256 key the portal makes, "RS256" for an RSA
    key of the body's own."""
    return signing_public_jwk()["alg"]


def issuer_key_id() -> str:
    """The DID URL naming the signing key: ``<issuer_did()>#<RFC 7638 thumbprint of its public JWK>``. It changes
    when the key does, so credentials signed with an old key are told apart."""
    return f"{issuer_did()}#{JWKRegistry.import_key(_public_jwk()).thumbprint()}"


def did_document() -> dict:
    """The DID document served at ``/.well-known/did.json``: the portal's did:web with its public key as the one
    ``JsonWebKey2020`` verification method, for ``assertionMethod`` (signing credentials) only."""
    did, key_id = issuer_did(), issuer_key_id()
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "verificationMethod": [{"id": key_id, "type": "JsonWebKey2020", "controller": did,
                                "publicKeyJwk": _public_jwk()}],
        "assertionMethod": [key_id],
    }


def issuer_jwks() -> dict:
    """The JWK set served at ``/.well-known/jwks.json``: the public signing key with ``kid`` (the DID URL the
    credentials' JWS header names), ``alg`` (``signing_algorithm()``) and ``use`` "sig"."""
    return {"keys": [{**_public_jwk(), "kid": issuer_key_id(), "alg": signing_algorithm(), "use": "sig"}]}


def issuer_profile() -> dict:
    """The OB 3.0 ``Profile`` of the issuer: its DID, the portal's name and address."""
    return {"id": issuer_did(), "type": ["Profile"], "name": settings.PORTAL_NAME, "url": _base_url() + "/"}


# Building and signing ---------------------------------------------------------------------------------------------

def credential_id(code: str) -> str:
    """A credential's ``id``: the absolute address of its certificate's public verify page, ``/verify/<code>/``."""
    return f"{_base_url()}/verify/{code}/"


def status_url(code: str) -> str:
    """The absolute address answering the live status of the certificate with verify code ``code``."""
    return _base_url() + reverse("credential_status", args=[code])


def _validity(certificate: Certificate) -> tuple[datetime, datetime]:
    """The start of the issue day and the last second of the valid-through day, on the holder's clock; the start
    is never later than the certificate's creation (an issue day ahead of the holder's own date)."""
    zone = clock.zone_for(certificate.certification.user)
    start = datetime.combine(certificate.issued_on, time(0), tzinfo=zone)
    start = min(start, certificate.created_at.astimezone(zone).replace(microsecond=0))
    return start, datetime.combine(certificate.valid_through, time(23, 59, 59), tzinfo=zone)


def badge_credential(certificate: Certificate) -> dict:
    """The OB 3.0 ``OpenBadgeCredential`` (a dict ready for JSON) stating ``certificate``: issuer profile,
    ``validFrom``/``validUntil`` (ISO 8601 with the holder's zone offset), the subject named as the certificate names
    them, the achievement (the certification, ``achievementType`` "Certificate") and its ``credentialStatus``.
    Reads the certification and its holder (two queries unless selected with the certificate)."""
    certification = certificate.certification
    ctype = certification.certification_type
    valid_from, valid_until = _validity(certificate)
    code = certificate.verify_code
    return {
        "@context": list(CONTEXT),
        "id": credential_id(code),
        "type": list(TYPES),
        "name": certificate.certification_name,
        "description": (f"{certificate.certification_name} certificate No. {certificate.number}, valid from "
                        f"{format_date(certificate.issued_on)} through {format_date(certificate.valid_through)}."),
        "issuer": issuer_profile(),
        "validFrom": valid_from.isoformat(timespec="seconds"),
        "validUntil": valid_until.isoformat(timespec="seconds"),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{"type": "IdentityObject", "identityHash": certificate.holder_name,
                            "identityType": "name", "hashed": False}],
            "achievement": {
                "id": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{_base_url()}/achievements/{ctype.code}")),
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": certificate.certification_name,
                "description": (f"Holds the {certificate.certification_name} certification of "
                                f"{settings.PORTAL_NAME} for the cycle the certificate names."),
                "criteria": {"narrative": (
                    f"Certified as {certificate.certification_name}, then recertified: {ctype.required_cecs} "
                    "continuing education credits (CECs) earned and reported in the cycle, a current adult CPR/AED "
                    "card on file, and the renewal completed.")},
            },
        },
        "credentialStatus": {"id": status_url(code), "type": STATUS_TYPE},
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def badge_sign(*, certificate: Certificate) -> str:
    """``certificate``'s OB 3.0 credential signed with the portal's key: a JOSE compact JWS (ASCII, three
    base64url parts), header ``{"alg": "ES256", "kid": issuer_key_id(), "typ": "vc+jwt"}`` (RS256 for an RSA key),
    payload the credential
    with ``iss``, ``jti``, ``nbf`` and ``exp`` (whole seconds since the epoch). Raises what
    ``acsm_portal.signing.signing_key`` raises when the key cannot be read."""
    credential = badge_credential(certificate)
    payload = {
        **credential,
        "iss": credential["issuer"]["id"],
        "jti": credential["id"],
        "nbf": int(datetime.fromisoformat(credential["validFrom"]).timestamp()),
        "exp": int(datetime.fromisoformat(credential["validUntil"]).timestamp()),
    }
    algorithm = signing_algorithm()
    header = {"alg": algorithm, "kid": issuer_key_id(), "typ": JWT_TYPE}
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    private = signing_key()
    key = ECKey.import_key(private) if algorithm == "ES256" else RSAKey.import_key(private)
    return jws.serialize_compact(header, body, key, algorithms=[algorithm])


# Status -----------------------------------------------------------------------------------------------------------

def certificate_for_code(code: str) -> Certificate | None:
    """The certificate whose verify code is ``code``, with its certification and holder; None for an unknown code or
    a void certificate (its renewal was undone: it was never valid)."""
    return (Certificate.objects.select_related("certification__user", "certification__certification_type")
            .filter(verify_code=code, voided_at__isnull=True).first())


def certificate_live_status(certificate: Certificate) -> Certificate.Status:
    """``certificate``'s status at this moment, as its public verify page says it: a status set by staff (Suspended,
    Revoked) as stored; a status by the dates as its dates give it on the holder's date now (the hourly refresh
    stores it within the hour after the holder's midnight). May read whether a newer certificate replaced it."""
    if certificate.status in DATED:
        return Certificate.Status(certificate_dated_status(certificate))
    return Certificate.Status(certificate.status)


def credential_status(*, certificate: Certificate) -> dict:
    """What ``/verify/<code>/status.json`` answers for ``certificate``: the 1EdTech revocation list of its
    credential (``id``, ``issuer``, ``revokedCredentials`` naming the credential with the status in words while it
    is suspended or revoked, else empty) and its live ``status`` (``certificate_live_status``) (a ``Certificate.Status`` value), ``statusLabel``
    ("Active", "Expired (grace period)" …), ``validThrough`` (ISO date) and ``checkedAt`` (ISO instant, UTC)."""
    status = certificate_live_status(certificate)
    revoked = ([{"id": credential_id(certificate.verify_code), "revocationReason": status.label}]
               if status in REVOKED else [])
    return {
        "id": status_url(certificate.verify_code),
        "issuer": issuer_did(),
        "revokedCredentials": revoked,
        "status": status.value,
        "statusLabel": status.label,
        "validThrough": certificate.valid_through.isoformat(),
        "checkedAt": clock.now().astimezone(clock.zone_named("UTC")).isoformat(timespec="seconds"),
    }


# Checking a credential ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """One check on a check page (a credential's, a PDF's): its name ("Signature", "Dates", "Status", "Whole
    document"), whether it passed, and what was found, in words."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CredentialCheck:
    """What checking a credential found: the three outcomes, and (once the signature holds) what the credential
    states: holder's name, certification, and the dates it is valid from and through (the holder's dates)."""

    signature: Outcome
    dates: Outcome
    status: Outcome
    holder_name: str = ""
    certification_name: str = ""
    valid_from: date | None = None
    valid_until: date | None = None

    @property
    def valid(self) -> bool:
        """True when the signature, the dates and the live status all pass."""
        return self.signature.passed and self.dates.passed and self.status.passed

    @property
    def outcomes(self) -> tuple[Outcome, Outcome, Outcome]:
        return self.signature, self.dates, self.status


NOT_CHECKED = "Not checked: the signature is not valid, so nothing the credential says can be trusted."


def _refused(detail: str) -> CredentialCheck:
    return CredentialCheck(signature=Outcome("Signature", False, detail), dates=Outcome("Dates", False, NOT_CHECKED),
                           status=Outcome("Status", False, NOT_CHECKED))


def _header(token: str) -> dict | None:
    """The JOSE header of a compact JWS, or None when ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error):
        return None
    return header if isinstance(header, dict) else None


def _code_of(status_id: object) -> str | None:
    """The verify code in a credential status address of this portal, or None for any other address."""
    if not isinstance(status_id, str) or not status_id.startswith(_base_url() + "/"):
        return None
    try:
        match = resolve(urlsplit(status_id).path)
    except Resolver404:
        return None
    return match.kwargs.get("code") if match.url_name == "credential_status" else None


def _instant(value: object) -> datetime | None:
    try:
        found = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return found if found is not None and found.tzinfo is not None else None


def credential_check(*, token: str) -> CredentialCheck:
    """Check a credential as pasted or uploaded (a compact JWS; surrounding white space ignored): its signature
    against the portal's published key (and that its ``iss``/``jti``/``nbf``/``exp`` agree with the credential), its
    ``validFrom``/``validUntil`` against the clock's now, and its certificate's live status (found by the verify
    code in ``credentialStatus``; Active or Renewed passes). When the signature fails, the other two are not
    checked and fail. Never raises for bad input."""
    token = token.strip()
    header = _header(token)
    if header is None:
        return _refused("This is not a signed credential: paste the whole .jwt file, three parts joined by dots.")
    algorithm = signing_algorithm()
    if header.get("alg") != algorithm or header.get("kid") != issuer_key_id():
        return _refused(f"Not signed with {settings.PORTAL_NAME}'s published key.")
    public_key = JWKRegistry.import_key(_public_jwk())
    try:
        payload = json.loads(jws.deserialize_compact(token, public_key, algorithms=[algorithm]).payload)
    except (JoseError, ValueError):
        return _refused("The signature does not match: the credential was changed after it was issued.")
    if not isinstance(payload, dict):
        return _refused("The signed content is not a credential.")
    issuer = payload.get("issuer")
    valid_from, valid_until = _instant(payload.get("validFrom")), _instant(payload.get("validUntil"))
    if (not set(TYPES) <= set(payload.get("type") or [])
            or not isinstance(issuer, dict) or issuer.get("id") != issuer_did() or payload.get("iss") != issuer_did()
            or payload.get("jti") != payload.get("id") or valid_from is None or valid_until is None
            or payload.get("nbf") != int(valid_from.timestamp()) or payload.get("exp") != int(valid_until.timestamp())):
        return _refused("Signed here, but its contents are not a credential this portal issues.")
    subject = payload.get("credentialSubject") or {}
    names = [i.get("identityHash", "") for i in subject.get("identifier", []) if i.get("identityType") == "name"]
    stated = {
        "holder_name": names[0] if names else "",
        "certification_name": (subject.get("achievement") or {}).get("name", ""),
        "valid_from": valid_from.date(),
        "valid_until": valid_until.date(),
    }
    signature = Outcome("Signature", True, f"Signed by {settings.PORTAL_NAME} with its published key, unchanged.")

    now = clock.now()
    if now < valid_from:
        dates = Outcome("Dates", False, f"Not valid yet: valid from {format_date(valid_from.date())}.")
    elif now > valid_until:
        dates = Outcome("Dates", False, f"Expired: it was valid through {format_date(valid_until.date())}.")
    else:
        dates = Outcome("Dates", True, f"Within its dates: valid from {format_date(valid_from.date())} through "
                                       f"{format_date(valid_until.date())}.")

    code = _code_of((payload.get("credentialStatus") or {}).get("id"))
    certificate = certificate_for_code(code) if code else None
    if certificate is None:
        status = Outcome("Status", False, "No current certificate matches this credential.")
    else:
        live = certificate_live_status(certificate)
        label, passed = live.label, live in GOOD_STANDING
        status = Outcome("Status", passed, f"The certificate is {label}." if passed
                         else f"The certificate is {label}: it is not in good standing.")
    return CredentialCheck(signature=signature, dates=dates, status=status, **stated)
