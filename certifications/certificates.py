"""Certificates: issue one when a cycle is renewed, render it as a PDF once.

The render is queued after commit (``certificate_render_task``, which calls ``certificate_render``); a render
lost on the way is queued again by the sweeper (``certificates_unrendered_requeue``).
"""

import logging
import secrets
from datetime import date, datetime, timedelta

import segno
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from acsm_portal import clock, jobs
from acsm_portal.pdf import pdf_fitted
from acsm_portal.signing import pdf_sign

from .certificate_status import certificate_transition, certification_certificates_refresh
from .models import Certificate, Cycle, certificate_file_name
from .tasks import certificate_render_task

log = logging.getLogger(__name__)


NUMBER_ATTEMPTS = 5


def certificate_issue(*, cycle: Cycle, today: date) -> Certificate:
    """The certificate for ``cycle`` (the cycle a renewal opened), issued on ``today`` and numbered at random,
    drawn again (up to ``NUMBER_ATTEMPTS`` times) when the number is taken; its PDF is queued after commit.
    Issuing twice returns the first one. Raises ``IntegrityError`` when every draw was taken."""
    existing = Certificate.objects.filter(cycle=cycle).first()
    if existing:
        return existing
    certification = cycle.certification
    ctype = certification.certification_type
    certificate = Certificate(
        certification=certification,
        cycle=cycle,
        holder_name=certification.user.get_full_name(),
        certification_name=ctype.name,
        issued_on=today,
        valid_through=cycle.end,
    )
    for attempt in range(NUMBER_ATTEMPTS):
        certificate.number = _new_certificate_number(cycle)
        try:
            with transaction.atomic():
                certificate.save(force_insert=True)
            break
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1 or not Certificate.objects.filter(number=certificate.number).exists():
                raise
            log.warning("Certificate number %s was taken; drawing another", certificate.number)
    certification_certificates_refresh(certification_id=certification.pk, actor="renewal")  # the one it replaces
    jobs.queue_after_commit(certificate_render_task, certificate.pk)
    return certificate


def certificate_void(*, cycle: Cycle, actor: str, reason: str, at: datetime) -> list[int]:
    """Void the certificate of ``cycle`` (the renewal that opened the cycle was undone: a refund), at ``at`` for
    ``reason`` (kept as ``void_reason``, at most 300 characters): no longer offered for download, and Revoked for
    anyone verifying it, with that reason, logged with ``actor``; the certificate it had replaced returns to the
    status its dates give. The holder is not emailed here (the refund's email says it). Voiding twice is a no-op.
    Returns the ids of the certificates voided now (none or one)."""
    reason = (reason or "Renewal undone")[:300]
    voided = list(Certificate.objects.filter(cycle=cycle, voided_at__isnull=True).values_list("pk", flat=True))
    Certificate.objects.filter(pk__in=voided).update(voided_at=at, void_reason=reason)
    for certificate_id in voided:
        certificate_transition(certificate_id=certificate_id, to=Certificate.Status.REVOKED, actor=actor,
                               reason=reason, email_holder=False)
    if voided:
        certification_certificates_refresh(certification_id=cycle.certification_id, actor=actor)
    return voided


def _new_certificate_number(cycle: Cycle) -> str:
    """The type's code, the year the cycle starts and six random digits: "EP-2027-483920"."""
    return f"{cycle.certification.certification_type.code}-{cycle.start:%Y}-{secrets.randbelow(900_000) + 100_000}"


# The template's type sizes, from the largest (fit-0) to the one that fits every field at its longest.
CERTIFICATE_FITS = range(5)


def certificate_verify_url(certificate: Certificate) -> str:
    """The absolute address of the certificate's public verify page: ``PORTAL_BASE_URL`` + ``/verify/<code>/``
    (its unguessable ``verify_code``, never its number)."""
    return "".join(_verify_address(certificate))


def _verify_address(certificate: Certificate) -> tuple[str, str]:
    return settings.PORTAL_BASE_URL.rstrip("/"), f"/verify/{certificate.verify_code}/"


def certificate_pdf(*, certificate: Certificate, suspended_on: date | None = None) -> bytes:
    """The certificate as PDF bytes, signed by the certifying body (``acsm_portal.signing.pdf_sign``): one
    landscape US Letter page, its type as large as lets the names fit, with a QR code of its verify page's address
    (``certificate_verify_url``) and that address printed under it. A long holder or certification name is set
    smaller and wrapped, never cut (see the template). With ``suspended_on`` (the certification is suspended since
    that day), every page is marked SUSPENDED. Raises ``ImproperlyConfigured`` when the signing key is missing."""
    base, path = _verify_address(certificate)
    verify_url = base + path
    qr = segno.make(verify_url, error="m").svg_data_uri(border=4, omitsize=True, svgclass=None, lineclass=None)
    context = {"c": certificate, "suspended_on": suspended_on, "verify_url": verify_url, "verify_base": base,
               "verify_path": path, "qr": qr}
    return pdf_sign(pdf_fitted(render_to_string("certifications/certificate_pdf.html", {**context, "fit": fit})
                               for fit in CERTIFICATE_FITS))


def certificate_render(*, certificate_id: int) -> Certificate:
    """Render certificate ``certificate_id``'s PDF (signed: ``certificate_pdf``) and store it at its fixed name
    (``certificates/<number>.pdf``) unless it is there already; returns the certificate. The download serves
    that stored, signed file.

    The PDF is rendered with no lock held; only storing it and setting ``rendered_at`` happen under the row lock,
    so the worker and a holder's download may render at once and one stored file, one ``rendered_at``, results.
    Raises ``Certificate.DoesNotExist``, and ``OSError`` when the file cannot be written.
    """
    certificate = Certificate.objects.get(pk=certificate_id)
    if certificate.pdf:
        return certificate
    return _store(certificate_id, certificate_pdf(certificate=certificate), replace=False)


def _store(certificate_id: int, content: bytes, *, replace: bool) -> Certificate:
    """Store ``content`` as the certificate's PDF at its fixed name, under the row lock, and stamp ``rendered_at``;
    without ``replace``, only when no PDF is stored yet (another render may have stored one meanwhile)."""
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate_id)
        if replace or not certificate.pdf:
            storage = certificate.pdf.storage
            name = certificate_file_name(certificate, "")
            if storage.exists(name):
                storage.delete(name)
            certificate.pdf.save(name, ContentFile(content), save=False)
            certificate.rendered_at = clock.now()
            certificate.save(update_fields=["pdf", "rendered_at"])
    return certificate


def certificate_rerender(*, certificate_id: int) -> Certificate:
    """Render certificate ``certificate_id``'s PDF again and store it in place of the one stored (same fixed name),
    for a PDF made before certificates were signed and carried their QR code. A void certificate is left as it is.
    Returns the certificate. Raises ``Certificate.DoesNotExist``, and ``OSError`` when the file cannot be written."""
    certificate = Certificate.objects.get(pk=certificate_id)
    if certificate.is_void:
        return certificate
    return _store(certificate_id, certificate_pdf(certificate=certificate), replace=True)


def is_signed_pdf(data: bytes) -> bool:
    """Whether ``data`` (a stored certificate PDF) carries a signature: a signed PDF's signature dictionary has a
    ``/ByteRange`` (ISO 32000-1, 12.8.1); one rendered before signing has none."""
    return b"/ByteRange" in data


def certificates_unsigned(*, batch: int = 200):
    """The ids of stored, not void certificates whose PDF carries no signature, read in batches of ``batch`` (each
    file read once). Yields ids, ascending."""
    last = 0
    while True:
        found = list(Certificate.objects.filter(pk__gt=last, voided_at__isnull=True).exclude(pdf="")
                     .order_by("pk").only("pk", "pdf")[:batch])
        if not found:
            return
        last = found[-1].pk
        for certificate in found:
            try:
                with certificate.pdf.open("rb") as stored:
                    data = stored.read()
            except FileNotFoundError:
                continue  # the file is gone: certificate_render makes it when it is next asked for
            if not is_signed_pdf(data):
                yield certificate.pk


def certificates_unrendered_requeue(*, after: timedelta) -> list[int]:
    """Queue the render of every certificate issued more than ``after`` ago (and within ``jobs.SWEEP_WINDOW``),
    not rendered yet (its job was lost: a worker died, the broker was down, every retry failed) and not void (its
    renewal was undone: nobody may download it). Returns their ids, oldest first."""
    lost = list(
        Certificate.objects.filter(rendered_at__isnull=True, voided_at__isnull=True,
                                   created_at__lte=clock.now() - after, created_at__gte=clock.now() - jobs.SWEEP_WINDOW)
        .order_by("created_at", "pk").values_list("pk", flat=True)
    )
    for certificate_id in lost:
        jobs.queue(certificate_render_task, certificate_id)
    return lost
