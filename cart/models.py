from decimal import Decimal

from django.conf import settings
from django.db import models

from acsm_portal import clock


class Cart(models.Model):
    """One cart per person, kept in the database so it survives logout and a new browser."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Cart of {self.user.email}"


class CartLine(models.Model):
    """A certification's renewal, or its late fee. The price is the one the person was last shown;
    it is checked against the certification type every time the cart is shown and at checkout."""

    class Kind(models.TextChoices):
        RENEWAL = "renewal", "Recertification"
        LATE_FEE = "late_fee", "Late fee"

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    certification = models.ForeignKey("certifications.Certification", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    added_at = models.DateTimeField(default=clock.now, editable=False)

    QUANTITY = 1  # a renewal is bought once

    class Meta:
        ordering = ["certification__certification_type__display_order", "certification_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "certification", "kind"], name="one_line_per_kind"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="cart_price_not_negative"),
        ]

    def __str__(self):
        return self.description

    @property
    def description(self) -> str:
        return describe(code=self.certification.certification_type.code, kind=self.kind)

    @property
    def quantity(self) -> int:
        return self.QUANTITY

    @property
    def total_price(self) -> Decimal:
        return self.unit_price * self.QUANTITY


def describe(*, code: str, kind: str) -> str:
    """A line as the cart, checkout and receipt name it: "CPT Recertification", "CPT Late fee"."""
    return f"{code} Recertification" if kind == CartLine.Kind.RENEWAL else f"{code} Late fee"
