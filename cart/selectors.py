"""Reads of the cart for pages."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from .models import CartLine, describe


@dataclass(frozen=True)
class Line:
    """A cart line as pages and the order read it: plain values, with its certification type's ``code`` and
    ``display_order`` (the cart's order)."""

    id: int
    certification_id: int
    kind: str
    unit_price: Decimal
    code: str
    display_order: int

    quantity = CartLine.QUANTITY

    @property
    def description(self) -> str:
        return describe(code=self.code, kind=self.kind)

    @property
    def total_price(self) -> Decimal:
        return self.unit_price * self.quantity


# Written out rather than composed by the ORM: the cart is read on every cart and checkout page, and composing
# and compiling the query (three tables) cost more than the rest of reading the cart.
LINES_SQL = """
SELECT l.id, l.certification_id, l.kind, l.unit_price, t.code, t.display_order
FROM cart_cartline l
JOIN cart_cart k ON k.id = l.cart_id
JOIN certifications_certification c ON c.id = l.certification_id
JOIN certifications_certificationtype t ON t.id = c.certification_type_id
WHERE k.user_id = %s
ORDER BY t.display_order, l.certification_id, l.kind
"""
CENT = Decimal("0.01")


def cart_lines(*, user) -> list[Line]:
    """The lines in ``user``'s cart (none when they have no cart) in the order of the certification types: one
    query."""
    with connection.cursor() as cursor:
        cursor.execute(LINES_SQL, [user.pk])
        rows = cursor.fetchall()
    # PostgreSQL hands back decimals; SQLite (development) numbers.
    return [Line(id=row[0], certification_id=row[1], kind=row[2], unit_price=Decimal(str(row[3])).quantize(CENT),
                 code=row[4], display_order=row[5]) for row in rows]
