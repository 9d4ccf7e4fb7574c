"""Every field of every PDF fits its box at the longest the model allows: long text is set smaller or wrapped,
never cut or pushed off the page. Checked on the rendered page (poppler's word boxes), at each field's
``max_length`` read from the model, in the shapes that take the most room."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from acsm_portal import clock
from accounts.models import User
from certifications.certificates import certificate_pdf
from certifications.models import Certificate
from payments.models import Order, OrderLine, Payment, Refund, RefundLine
from payments.pdf import receipt_pdf
from tests.documents.pdfcheck import text_runs, words
from tests.payments.helpers import paid_order_without_stripe

# What a field holds, repeated to its length: words to wrap between, one word with no place to break in the
# widest Latin letter, full-width CJK (each character as wide as it is tall), and scripts of every direction.
SHAPES = {
    "words": "Maximilian Alexander von Hohenzollern-Sigmaringen ",
    "unbroken": "W",
    "wide": "鑫",
    "scripts": "Nguyễn 王秀英 محمد अर्जुन Σωκράτης ",
}
READS_IN_ORDER = ["words", "unbroken", "wide"]  # left to right: their text is drawn in the order it is stored

LETTER_LANDSCAPE = (792.0, 612.0)
CERTIFICATE_FRAME = 0.45 * 72 + 6 + 4 + 1.5  # page edge to the inside of the gold frame, in points
RECEIPT_MARGIN = 2 / 2.54 * 72  # 2 cm


def longest(model, field: str, shape: str) -> str:
    """``shape`` repeated to ``field``'s ``max_length`` exactly, ending in a letter."""
    length = model._meta.get_field(field).max_length
    text = (SHAPES[shape] * length)[:length]
    return text[:-1] + SHAPES[shape].strip()[0] if text.endswith(" ") else text


def largest(model, field: str) -> Decimal:
    """The largest amount ``field`` holds (all nines to its ``max_digits``)."""
    f = model._meta.get_field(field)
    return Decimal("9" * (f.max_digits - f.decimal_places) + "." + "9" * f.decimal_places)


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def drawn(data: bytes, page: int | None = None) -> str:
    """The text the PDF draws (all pages, or page ``page`` from 1), in drawing order, with no white space."""
    pages = text_runs(data)
    chosen = pages if page is None else [pages[page - 1]]
    return squeezed("".join(run.text for runs in chosen for run in runs))


SLACK = 3  # points: poppler's word boxes reach a font's whole ascent and descent, a little past its line box


def assert_fits(data: bytes, *, size: tuple[float, float], inset: float) -> None:
    """Every word of every page lies on a page of ``size`` points, ``inset`` points or more from its edges, and
    no two words of one line overlap (text run out of its box runs into its neighbour's; lines of tall scripts
    may touch by their fonts' ascent and descent, so words overlap only when they share half their height)."""
    for number, (width, height, placed) in enumerate(words(data), start=1):
        assert (width, height) == size
        low, high = inset - SLACK, (width - inset + SLACK, height - inset + SLACK)
        outside = [w for w in placed if min(w.x0, w.y0) < low or w.x1 > high[0] or w.y1 > high[1]]
        assert outside == [], f"page {number}: {outside[:3]}"
        overlaps = [(a, b) for i, a in enumerate(placed) for b in placed[i + 1:]
                    if min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5
                    and min(a.y1, b.y1) - max(a.y0, b.y0) > min(a.y1 - a.y0, b.y1 - b.y0) / 2]
        assert overlaps == [], f"page {number}: {overlaps[:2]}"


@pytest.mark.parametrize("shape", SHAPES)
def test_a_certificate_fits_every_field_at_its_longest_on_one_page(shape):
    today = clock.today()
    certificate = Certificate(
        number=longest(Certificate, "number", shape),
        holder_name=longest(Certificate, "holder_name", shape),
        certification_name=longest(Certificate, "certification_name", shape),
        issued_on=date(today.year, 9, 30), valid_through=date(today.year + 3, 9, 30),  # the longest month
    )
    data = certificate_pdf(certificate=certificate)
    assert len(words(data)) == 1
    assert_fits(data, size=LETTER_LANDSCAPE, inset=CERTIFICATE_FRAME)
    text = drawn(data, page=1)
    expected = [f"September30,{today.year}", f"September30,{today.year + 3}"]
    if shape in READS_IN_ORDER:
        expected += [certificate.number, certificate.holder_name, certificate.certification_name]
    for field in expected:
        assert squeezed(field) in text


def test_the_reported_162_character_name_keeps_the_number_and_dates_on_the_page():
    today = clock.today()
    certificate = Certificate(number=f"EP-{today.year + 1}-483920", holder_name=("Maximilian Alexander " * 9)[:162],
                              certification_name="Certified Exercise Physiologist",
                              issued_on=today, valid_through=date(today.year + 3, 12, 31))
    data = certificate_pdf(certificate=certificate)
    assert len(words(data)) == 1
    assert_fits(data, size=LETTER_LANDSCAPE, inset=CERTIFICATE_FRAME)
    text = drawn(data, page=1)
    for field in (certificate.holder_name, certificate.number, f"December31,{today.year + 3}"):
        assert squeezed(field) in text


@pytest.mark.django_db
@pytest.mark.parametrize("shape", SHAPES)
def test_a_receipt_fits_every_field_at_its_longest(user, shape):
    User.objects.filter(pk=user.pk).update(first_name=longest(User, "first_name", shape),
                                           last_name=longest(User, "last_name", shape))
    order = paid_order_without_stripe(user, "CPT", "EP", total="130.00")
    billing = {f"billing_{part}": longest(Order, f"billing_{part}", shape)
               for part in ("name", "line1", "line2", "city", "state", "postal_code", "country")}
    Order.objects.filter(pk=order.pk).update(number=longest(Order, "number", shape), total=largest(Order, "total"),
                                             **billing)
    _, most = connection.ops.integer_field_range(OrderLine._meta.get_field("quantity").get_internal_type())
    OrderLine.objects.filter(order=order).update(
        description=longest(OrderLine, "description", shape), quantity=most,
        unit_price=largest(OrderLine, "unit_price"), total_price=largest(OrderLine, "total_price"))
    Payment.objects.filter(order=order).update(card_brand=longest(Payment, "card_brand", shape))
    order = Order.objects.get(pk=order.pk)
    user.refresh_from_db()

    data = receipt_pdf(order=order)
    assert_fits(data, size=(612.0, 792.0), inset=RECEIPT_MARGIN)
    text = drawn(data)
    assert f"${largest(Order, 'total')}" in text and str(most) in text
    if shape in READS_IN_ORDER:
        payment = order.payments.get()
        for field in (order.number, user.first_name, user.last_name, *billing.values(), payment.card_brand.title(),
                      *order.lines.values_list("description", flat=True)):
            assert squeezed(field) in text


@pytest.mark.django_db
@pytest.mark.parametrize("shape", SHAPES)
def test_a_receipts_refunds_fit_every_field_at_its_longest(user, shape):
    order = paid_order_without_stripe(user, "CPT", "EP", total="130.00")
    most = largest(Order, "total")
    OrderLine.objects.filter(order=order).update(description=longest(OrderLine, "description", shape),
                                                 total_price=largest(OrderLine, "total_price"))
    Order.objects.filter(pk=order.pk).update(total=most)
    Payment.objects.filter(order=order).update(amount=most, refunded_amount=most)
    payment = order.payments.get()
    first, second = order.lines.all()
    # All of the largest payment refunded in two refunds, three lines, each saying at the longest what happened.
    for amount, lines in ((most - Decimal("0.01"), [(first, most - Decimal("0.02")), (second, Decimal("0.01"))]),
                          (Decimal("0.01"), [(first, Decimal("0.01"))])):
        refund = Refund.objects.create(payment=payment, amount=amount, state=Refund.State.SUCCEEDED,
                                       created_by=user, settled_at=clock.now(), stripe_refund="re_test")
        RefundLine.objects.bulk_create([
            RefundLine(refund=refund, order_line=line, amount=part, renewal="undo",
                       outcome=longest(RefundLine, "outcome", shape))
            for line, part in lines
        ])
    order = Order.objects.get(pk=order.pk)

    data = receipt_pdf(order=order)
    assert_fits(data, size=(612.0, 792.0), inset=RECEIPT_MARGIN)
    text = drawn(data)
    assert f"${most - Decimal('0.02')}" in text  # the largest line refunded
    assert text.endswith(f"Refundedinall${most}Netpaid$0.00")
    if shape in READS_IN_ORDER:
        assert text.count(squeezed(longest(RefundLine, "outcome", shape))) == 3
