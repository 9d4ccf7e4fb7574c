"""Certificates for their holders."""

import io

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from acsm_portal import clock
from acsm_portal.files import file_response

from .certificates import certificate_pdf, certificate_render
from .selectors import certificate_for


@require_GET
def certificate_download(request, number: str):
    """The certificate PDF, for its holder (and staff); rendered now if the worker has not done it yet. A voided
    certificate (its renewal was undone) is not offered: the page says it is void, since when and why (410). While
    the certification is suspended (a failed audit) the PDF is marked SUSPENDED."""
    certificate = certificate_for(user=request.user, number=number)
    if certificate is None:
        raise Http404("No such certificate.")
    if certificate.is_void:
        zone_of = certificate.certification.user
        return render(request, "certifications/certificate_void.html", {
            "certificate": certificate, "voided_at": clock.moment_text(certificate.voided_at, zone_of),
        }, status=410)
    certification = certificate.certification
    if certification.is_suspended:
        # Marked as suspended, made on demand and never stored: the stored PDF stays for a reinstatement.
        suspended_on = certification.suspended_at.astimezone(clock.zone_for(certification.user)).date()
        return file_response(None, as_attachment=True,
                             content=io.BytesIO(certificate_pdf(certificate=certificate, suspended_on=suspended_on)),
                             content_type="application/pdf", filename=f"certificate-{certificate.number}-suspended.pdf")
    certificate = certificate_render(certificate_id=certificate.pk)
    return file_response(None, as_attachment=True, content=certificate.pdf.open("rb"),
                         content_type="application/pdf", filename=f"certificate-{certificate.number}.pdf")
