"""The receipt as a PDF (WeasyPrint), for download and as the email attachment."""

from django.template.loader import render_to_string

from acsm_portal.pdf import pdf_from_html

from . import rules
from .models import Order


def receipt_pdf(*, order: Order) -> bytes:
    payment = order.payments.filter(state__in=[rules.SUCCEEDED, rules.REFUNDED]).first()
    html = render_to_string("payments/receipt_pdf.html", {"order": order, "payment": payment,
                                                          "lines": list(order.lines.all())})
    return pdf_from_html(html)
