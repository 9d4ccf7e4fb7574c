"""Paid orders to refund (charged at the local Stripe emulator, renewed as a real payment renews) and the refund
form as the admin page posts it."""

import socket
import uuid
from decimal import Decimal

from payments.models import Order, Payment
from payments.services import payment_charge, payment_start
from tests.payments.helpers import card, placed_order


def paid(user, *codes: str, total: str) -> Payment:
    """A payment of an order for ``codes`` (renewable around today), charged at the emulator: the order is paid,
    each renewal renewed (its next cycle and certificate issued)."""
    order = placed_order(user, *codes, total=total)
    payment, _ = payment_start(order=order)
    payment_charge(payment_id=payment.pk, user=user, payment_method=card())
    payment = Payment.objects.select_related("order").get(pk=payment.pk)
    assert (payment.state, payment.order.state) == ("succeeded", Order.State.PAID)
    return payment


def line_of(payment: Payment, code: str, kind: str = "renewal"):
    """The order line of ``payment`` for certification type ``code``."""
    return payment.order.lines.get(certification__certification_type__code=code, kind=kind)


def refund_form(payment: Payment, *, amounts: dict, renewals: dict | None = None, reason: str = "Asked by member",
                key: str | None = None, seen: str = "0.00", step: str = "confirm") -> dict:
    """The POST of the admin refund page: ``amounts`` and ``renewals`` ("keep"/"undo") by certification code (a
    late fee line as "<code> late fee"), every other line at $0; ``step`` is the button pressed ("review",
    "confirm" or "edit")."""
    renewals = renewals or {}
    data = {"reason": reason, "key": key or str(uuid.uuid4()), "seen_refunded": seen, step: "1"}
    for line in payment.order.lines.select_related("certification__certification_type"):
        code = line.certification.certification_type.code + (" late fee" if line.kind == "late_fee" else "")
        data[f"amount_{line.pk}"] = str(amounts.get(code, Decimal("0")))
        if code in renewals:
            data[f"renewal_{line.pk}"] = renewals[code]
    return data


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
