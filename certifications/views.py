"""Certificates for their holders."""

from django.http import Http404
from django.views.decorators.http import require_GET

from acsm_portal.files import file_response

from .certificates import certificate_render
from .selectors import certificate_for


@require_GET
def certificate_download(request, number: str):
    """The certificate PDF, for its holder (and staff); rendered now if the worker has not done it yet."""
    certificate = certificate_for(user=request.user, number=number)
    if certificate is None:
        raise Http404("No such certificate.")
    certificate = certificate_render(certificate_id=certificate.pk)
    return file_response(None, as_attachment=True, content=certificate.pdf.open("rb"),
                         content_type="application/pdf", filename=f"certificate-{certificate.number}.pdf")
