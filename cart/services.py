"""State changes for the cart: add or remove a renewal, and re-check it against the rules."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError
from certifications.models import Certification
from certifications.selectors import tiles_for

from .models import Cart, CartLine


class CartError(ServiceError):
    """A refused cart change, with a message fit for the person."""


class CertificationNotFound(CartError):
    """The certification is not the person's (views answer 404)."""


@dataclass
class Recheck:
    lines: list[CartLine]
    messages: list[str] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.total_price for line in self.lines), Decimal("0.00"))


def _locked_cart(*, user) -> Cart:
    cart, _ = Cart.objects.get_or_create(user=user)
    return Cart.objects.select_for_update().get(pk=cart.pk)


def _tile(*, user, certification_id: int, today: date):
    for tile in tiles_for(user=user, today=today):
        if tile.certification_id == certification_id:
            return tile
    return None


def cart_add_renewal(*, user, certification_id: int, today: date) -> CartLine:
    """Put a certification's renewal (and its late fee in the grace period) in the cart. Idempotent."""
    if not Certification.objects.filter(pk=certification_id, user=user).exists():
        raise CertificationNotFound("No such certification.")
    tile = _tile(user=user, certification_id=certification_id, today=today)
    if tile is None or not tile.eligibility.can_renew:
        reasons = " ".join(tile.eligibility.blockers) if tile else "This certification has no open cycle."
        raise CartError(f"This certification cannot be renewed yet. {reasons}")
    with transaction.atomic():
        cart = _locked_cart(user=user)
        line, _ = CartLine.objects.get_or_create(
            cart=cart, certification_id=certification_id, kind=CartLine.Kind.RENEWAL,
            defaults={"unit_price": tile.renewal_fee},
        )
        if tile.eligibility.late:
            CartLine.objects.get_or_create(
                cart=cart, certification_id=certification_id, kind=CartLine.Kind.LATE_FEE,
                defaults={"unit_price": tile.late_fee},
            )
        cart.save(update_fields=["updated_at"])
    return line


def cart_remove_renewal(*, user, certification_id: int) -> int:
    """Take a certification's renewal and its late fee out of the cart. Removing twice is harmless."""
    if not Certification.objects.filter(pk=certification_id, user=user).exists():
        raise CertificationNotFound("No such certification.")
    deleted, _ = CartLine.objects.filter(cart__user=user, certification_id=certification_id).delete()
    return deleted


def cart_recheck(*, user, today: date) -> Recheck:
    """Bring the cart in line with the rules now: drop lines that are no longer eligible,
    add or drop late fees as the grace period begins or the renewal is no longer late,
    and take up price changes. Each change is explained in ``messages``."""
    messages: list[str] = []
    tiles = {tile.certification_id: tile for tile in tiles_for(user=user, today=today)}
    with transaction.atomic():
        cart = _locked_cart(user=user)
        lines = list(cart.lines.select_related("certification__certification_type"))
        renewals = {line.certification_id for line in lines if line.kind == CartLine.Kind.RENEWAL}
        keep: list[CartLine] = []
        for line in lines:
            tile = tiles.get(line.certification_id)
            if line.kind == CartLine.Kind.RENEWAL:
                if tile is None or not tile.eligibility.can_renew:
                    why = " ".join(tile.eligibility.blockers) if tile else "It has no open cycle."
                    messages.append(f"{line.description} was removed from your cart: {why}")
                    line.delete()
                    continue
                price = tile.renewal_fee
            else:
                if line.certification_id not in renewals or tile is None or not tile.eligibility.can_renew:
                    line.delete()
                    continue
                if not tile.eligibility.late:
                    messages.append(f"{line.description} was removed: the renewal is no longer late.")
                    line.delete()
                    continue
                price = tile.late_fee
            if line.unit_price != price:
                messages.append(f"The price of {line.description} changed from ${line.unit_price} to ${price}.")
                line.unit_price = price
                line.save(update_fields=["unit_price"])
            keep.append(line)
        for line in list(keep):
            tile = tiles[line.certification_id]
            has_fee = any(x.certification_id == line.certification_id and x.kind == CartLine.Kind.LATE_FEE
                          for x in keep)
            if line.kind == CartLine.Kind.RENEWAL and tile.eligibility.late and not has_fee:
                fee = CartLine.objects.create(cart=cart, certification_id=line.certification_id,
                                              kind=CartLine.Kind.LATE_FEE, unit_price=tile.late_fee)
                fee.certification = line.certification
                keep.append(fee)
                messages.append(f"A ${tile.late_fee} late fee was added for {line.certification.certification_type.code}:"
                                f" its cycle ended {clock.deadline_text(tile.cycle_end, user)}.")
    keep.sort(key=lambda x: (x.certification.certification_type.display_order, x.certification_id, x.kind != "renewal"))
    return Recheck(lines=keep, messages=messages)
