"""State changes for the cart: add or remove a renewal, and re-check it against the rules."""

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError
from certifications.models import Certification
from certifications.selectors import tiles_for

from .models import Cart, CartLine
from .selectors import Line, cart_lines


class CartError(ServiceError):
    """A refused cart change, with a message fit for the person."""


class CertificationNotFound(CartError):
    """The certification is not the person's (views answer 404)."""


@dataclass
class Recheck:
    lines: list[Line]
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
    and take up price changes. Each change is explained in ``messages``.

    Showing the cart reads it without a lock (the common case: nothing to change); only a cart that must
    change is locked, read again and changed, so two requests never change it from stale lines."""
    tiles = {tile.certification_id: tile for tile in tiles_for(user=user, today=today)}
    plan = _recheck_plan(lines=cart_lines(user=user), tiles=tiles, user=user)
    if plan.changes:
        with transaction.atomic():
            cart = _locked_cart(user=user)
            plan = _recheck_plan(lines=cart_lines(user=user), tiles=tiles, user=user)
            CartLine.objects.filter(pk__in=[line.id for line in plan.drop]).delete()
            for line in plan.repriced:
                CartLine.objects.filter(pk=line.id).update(unit_price=line.unit_price)
            for renewal in plan.late_fee_for:
                fee = CartLine.objects.create(cart=cart, certification_id=renewal.certification_id,
                                              kind=CartLine.Kind.LATE_FEE,
                                              unit_price=tiles[renewal.certification_id].late_fee)
                plan.keep.append(replace(renewal, id=fee.pk, kind=fee.kind, unit_price=fee.unit_price))
    plan.keep.sort(key=lambda x: (x.display_order, x.certification_id, x.kind != CartLine.Kind.RENEWAL))
    return Recheck(lines=plan.keep, messages=plan.messages)


@dataclass
class _Plan:
    """What ``cart_recheck`` keeps (repriced lines with their new price), drops and adds, and why."""

    keep: list[Line] = field(default_factory=list)
    drop: list[Line] = field(default_factory=list)
    repriced: list[Line] = field(default_factory=list)
    late_fee_for: list[Line] = field(default_factory=list)  # renewals whose late fee is missing
    messages: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.drop or self.repriced or self.late_fee_for)


def _recheck_plan(*, lines: list[Line], tiles: dict, user) -> _Plan:
    """The changes the rules ask of ``lines`` given the ``tiles`` of the person's open cycles (by certification
    id); reads and writes nothing."""
    plan = _Plan()
    renewals = {line.certification_id for line in lines if line.kind == CartLine.Kind.RENEWAL}
    for line in lines:
        tile = tiles.get(line.certification_id)
        if line.kind == CartLine.Kind.RENEWAL:
            if tile is None or not tile.eligibility.can_renew:
                why = " ".join(tile.eligibility.blockers) if tile else "It has no open cycle."
                plan.messages.append(f"{line.description} was removed from your cart: {why}")
                plan.drop.append(line)
                continue
            price = tile.renewal_fee
        else:
            if line.certification_id not in renewals or tile is None or not tile.eligibility.can_renew:
                plan.drop.append(line)
                continue
            if not tile.eligibility.late:
                plan.messages.append(f"{line.description} was removed: the renewal is no longer late.")
                plan.drop.append(line)
                continue
            price = tile.late_fee
        if line.unit_price != price:
            plan.messages.append(f"The price of {line.description} changed from ${line.unit_price} to ${price}.")
            line = replace(line, unit_price=price)
            plan.repriced.append(line)
        plan.keep.append(line)
    fees = {line.certification_id for line in plan.keep if line.kind == CartLine.Kind.LATE_FEE}
    for line in plan.keep:
        tile = tiles[line.certification_id]
        if line.kind == CartLine.Kind.RENEWAL and tile.eligibility.late and line.certification_id not in fees:
            plan.late_fee_for.append(line)
            plan.messages.append(f"A ${tile.late_fee} late fee was added for {line.code}: its cycle ended "
                                 f"{clock.deadline_text(tile.cycle_end, user)}.")
    return plan
