"""Certificates for their holders."""

import io

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from acsm_portal import clock
from acsm_portal.files import file_response

from .certificates import certificate_pdf, certificate_render
from .models import Certificate
from .selectors import certificate_for


@require_GET
def certificate_download(request, number: str):
    """The certificate PDF, for its holder (and staff); rendered now if the worker has not done it yet. A voided
    certificate (its renewal was undone) or a revoked one is not offered: the page says so, since when and why (410).
    While the certification is suspended (a failed audit) or staff suspended the certificate, the PDF is marked
    SUSPENDED."""
    certificate = certificate_for(user=request.user, number=number)
    if certificate is None:
        raise Http404("No such certificate.")
    zone_of = certificate.certification.user
    if certificate.is_void:
        return render(request, "certifications/certificate_void.html", {
            "certificate": certificate, "voided_at": clock.moment_text(certificate.voided_at, zone_of),
            "reason": certificate.void_reason,
        }, status=410)
    if certificate.status == Certificate.Status.REVOKED:
        # A revoked certificate is no longer handed out: a signed copy would pass any offline check.
        return render(request, "certifications/certificate_void.html", {
            "certificate": certificate, "revoked": True, "reason": certificate.status_reason,
            "voided_at": clock.moment_text(certificate.status_changed_at or clock.now(), zone_of),
        }, status=410)
    certification = certificate.certification
    suspended_at = certification.suspended_at or (
        certificate.status_changed_at if certificate.status == Certificate.Status.SUSPENDED else None)
    if suspended_at is not None:
        # Suspended by a failed audit or by staff: marked as suspended, made on demand and never stored (the stored
        # PDF stays for a reinstatement).
        suspended_on = suspended_at.astimezone(clock.zone_for(certification.user)).date()
        return file_response(None, as_attachment=True,
                             content=io.BytesIO(certificate_pdf(certificate=certificate, suspended_on=suspended_on)),
                             content_type="application/pdf", filename=f"certificate-{certificate.number}-suspended.pdf")
    certificate = certificate_render(certificate_id=certificate.pk)
    return file_response(None, as_attachment=True, content=certificate.pdf.open("rb"),
                         content_type="application/pdf", filename=f"certificate-{certificate.number}.pdf")
