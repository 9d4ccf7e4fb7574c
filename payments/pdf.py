"""The receipt as a PDF (WeasyPrint), for download and as the email attachment."""

from django.template.loader import render_to_string

from acsm_portal import clock
from acsm_portal.pdf import pdf_from_html

from . import rules
from .models import Order
from .selectors import receipt_refunds


def receipt_pdf(*, order: Order) -> bytes:
    """The receipt of a paid (or refunded) order as PDF bytes, its time in the holder's own zone, with the refunds
    made on it."""
    payment = order.payments.filter(state__in=[rules.SUCCEEDED, rules.REFUNDED]).first()
    html = render_to_string("payments/receipt_pdf.html", {
        "order": order, "payment": payment, "lines": list(order.lines.all()),
        "paid_at": clock.moment_text(order.paid_at, order), **receipt_refunds(order=order),
    })
    return pdf_from_html(html)
