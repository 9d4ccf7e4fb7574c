"""Certificates for their holders."""

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from .certificates import certificate_render
from .selectors import certificate_for


@require_GET
def certificate_download(request, number: str):
    """The certificate PDF, for its holder (and staff); rendered now if the worker has not done it yet."""
    certificate = certificate_for(user=request.user, number=number)
    if certificate is None:
        raise Http404("No such certificate.")
    certificate = certificate_render(certificate_id=certificate.pk)
    response = FileResponse(certificate.pdf.open("rb"), content_type="application/pdf", as_attachment=True,
                            filename=f"certificate-{certificate.number}.pdf")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
