"""Reads about orders for pages: what a receipt says of the refunds made on an order."""

from dataclasses import dataclass
from decimal import Decimal

from acsm_portal import clock

from .models import Order, Refund, RefundLine


@dataclass(frozen=True)
class ShownRefund:
    amount: Decimal
    when: str  # when it was made, on the holder's clock: "3/2/Y 4:05 PM Eastern time"
    lines: list[RefundLine]  # each with its order line, ``outcome`` saying what happened to the renewal


def receipt_refunds(*, order: Order) -> dict:
    """What a receipt (page and PDF) says of ``order``'s refunds: ``refunds`` (the succeeded ones, oldest first,
    as ``ShownRefund``), ``refunded_total`` and ``net_paid`` (the order total less what was refunded), in dollars.
    Two queries."""
    refunds = list(Refund.objects.filter(payment__order=order, state=Refund.State.SUCCEEDED)
                   .prefetch_related("lines__order_line").order_by("settled_at", "pk"))
    total = sum((r.amount for r in refunds), Decimal("0.00"))
    return {
        "refunds": [ShownRefund(amount=r.amount, when=clock.moment_text(r.settled_at, order),
                                lines=list(r.lines.all())) for r in refunds],
        "refunded_total": total,
        "net_paid": order.total - total,
    }
