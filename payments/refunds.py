"""Refunds: staff give money back line by line, and say for each renewal refunded whether it stands.

A refund is recorded ``pending`` (its amount held on ``Payment.refunded_amount``) under a lock on the payment,
Stripe is called with no transaction open and the idempotency key ``refund-<refund id>``, and Stripe's answer is
recorded under the lock again: ``succeeded`` (each renewal undone or kept as staff chose, the order refunded when
all of the payment is, the person emailed once) or ``failed`` (the amount let go). The refund form carries a key of
its own (``Refund.key``) and the amount refunded when staff opened it, so a form sent twice makes one refund and
two staff refunding at once make one refund: the second is told what changed.

Policy: staff decide refunds (SPEC, "staff … refund payments"); a refunded renewal is undone only when staff
choose so (issue 14): the choice is required for every renewal that stands, never a silent default.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import stripe
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse

from acsm_portal import clock, jobs
from certifications.renewals import (
    RENEWED, RENEWED_AGAIN, UNDONE, Renewal, RenewalError, certification_renewal, certification_renewal_undo,
)

from . import rules
from .models import Order, OrderLine, OrderLog, Payment, Refund, RefundLine
from .services import PaymentError, order_transition, payment_transition
from .stripe_gateway import client as stripe_client
from .tasks import refund_email

log = logging.getLogger(__name__)

KEEP, UNDO = RefundLine.Renewal.KEEP, RefundLine.Renewal.UNDO

# How long a request asking Stripe for a refund keeps another away (longer than the Stripe client's timeout
# with its retries); past it the request is taken for lost, and sending the form again asks Stripe again under
# the same idempotency key.
STRIPE_CLAIM = timedelta(minutes=3)


@dataclass(frozen=True)
class LineRefund:
    """What staff ask for one order line: ``amount`` in dollars (0 leaves the line alone), and for a renewal that
    stands, ``renewal``: ``"keep"`` or ``"undo"``."""

    line_id: int
    amount: Decimal
    renewal: str = ""


@dataclass(frozen=True)
class LineState:
    """One order line as the refund page shows it: what is ``left`` to refund on it and, for a renewal line of a
    paid order, where its renewal stands (``renewal``, from ``certifications``)."""

    line: OrderLine
    refunded: Decimal
    renewal: Renewal | None

    @property
    def left(self) -> Decimal:
        return self.line.total_price - self.refunded

    @property
    def asks_renewal(self) -> bool:
        """Whether refunding this line asks staff to keep or undo its renewal (the renewal stands)."""
        return self.renewal is not None and self.renewal.state in (RENEWED, RENEWED_AGAIN)


@dataclass(frozen=True)
class PlannedLine:
    state: LineState
    amount: Decimal
    renewal: str  # KEEP, UNDO, or "" when there is nothing to choose

    @property
    def said(self) -> str:
        """What refunding this line will do, in one sentence for the page."""
        money = f"{self.state.line.description}: refund ${self.amount} of ${self.state.line.total_price}."
        renewal = self.state.renewal
        if self.renewal == UNDO:
            return f"{money} {renewal.if_undone}"
        if self.renewal == KEEP:
            return f"{money} {renewal.if_kept}"
        if renewal is not None and renewal.state == UNDONE:
            return f"{money} The {renewal.code} renewal was already undone."
        return money


@dataclass(frozen=True)
class RefundPlan:
    """A refund as it will be made: its lines, its ``total``, and what will be ``left_after`` it to refund on the
    payment (none: it is ``full``, and the payment and its paid order are then marked refunded)."""

    payment: Payment
    lines: list[PlannedLine]
    total: Decimal
    left_after: Decimal

    @property
    def full(self) -> bool:
        return self.left_after == 0


def refund_lines_state(*, payment: Payment) -> list[LineState]:
    """Each line of ``payment``'s order with what is left to refund on it (refunds pending or succeeded count as
    given) and, for a renewal its order renewed, where that renewal stands. A few queries per renewal line."""
    lines = list(
        OrderLine.objects.filter(order_id=payment.order_id)
        .annotate(refunded=Sum("refund_lines__amount",
                               filter=~Q(refund_lines__refund__state=Refund.State.FAILED), default=Decimal("0.00")))
        .select_related("certification__certification_type")
    )
    return [
        LineState(line=line, refunded=line.refunded,
                  renewal=certification_renewal(cycle_id=line.cycle_id) if line.renewed_cycle_id else None)
        for line in lines
    ]


def refund_plan(*, payment: Payment, lines: Sequence[LineRefund], seen_refunded: Decimal | None = None
                ) -> RefundPlan:
    """Check what staff ask (``lines``) against ``payment`` as it is now, and say what the refund will do.

    ``seen_refunded`` is ``payment.refunded_amount`` as the page showed it; when given and no longer true, the
    refund is refused (another refund was made meanwhile). Lines asking $0 are left out. Raises ``PaymentError``
    (its ``field`` is ``amount_<line id>`` or ``renewal_<line id>`` where it belongs to one line) when the payment
    is not a succeeded one, nothing is asked, an amount is not whole cents or more than is left on its line, a
    renewal that stands has no choice, or its undo is refused (``certifications.renewals.Renewal.refusal``).
    """
    if payment.state != rules.SUCCEEDED:
        raise PaymentError(f"Only a succeeded payment can be refunded (this one is {payment.state}).")
    if seen_refunded is not None and seen_refunded != payment.refunded_amount:
        raise PaymentError(
            f"Another refund of this payment was made since this page was opened: ${payment.refunded_amount} is "
            f"refunded now, not ${seen_refunded}. Review what is left before refunding more."
        )
    states = {s.line.pk: s for s in refund_lines_state(payment=payment)}
    planned, seen = [], set()
    for asked in lines:
        state = states.get(asked.line_id)
        if state is None or asked.line_id in seen:
            raise PaymentError("A line of another order (or the same line twice) was asked for.")
        seen.add(asked.line_id)
        field = f"amount_{asked.line_id}"
        if not asked.amount.is_finite() or asked.amount < 0:
            raise PaymentError("Enter an amount of $0.00 or more.", field=field)
        if asked.amount == 0:
            continue
        try:
            rules.to_cents(asked.amount)
        except ValueError:
            raise PaymentError(f"${asked.amount} is not a whole number of cents.", field=field) from None
        if asked.amount > state.left:
            raise PaymentError(f"A refund of ${asked.amount} is more than the ${state.left} left to refund on "
                               f"{state.line.description}.", field=field)
        choice = ""
        if state.asks_renewal:
            field = f"renewal_{asked.line_id}"
            if asked.renewal not in (KEEP, UNDO):
                raise PaymentError(f"Choose whether the {state.renewal.code} renewal is kept or undone.", field=field)
            if asked.renewal == UNDO and state.renewal.refusal:
                raise PaymentError(state.renewal.refusal, field=field)
            choice = asked.renewal
        planned.append(PlannedLine(state=state, amount=asked.amount, renewal=choice))
    if not planned:
        raise PaymentError("Enter an amount to refund on at least one line.")
    total = sum((p.amount for p in planned), Decimal("0.00"))
    if total > payment.amount - payment.refunded_amount:  # lines of a payment that paid less than its order
        raise PaymentError(f"A refund of ${total} is more than the ${payment.amount - payment.refunded_amount} "
                           "left to refund.")
    return RefundPlan(payment=payment, lines=planned, total=total,
                      left_after=payment.amount - payment.refunded_amount - total)


def payment_refund(*, payment_id: int, lines: Sequence[LineRefund], by, reason: str = "",
                   key: uuid.UUID | None = None, seen_refunded: Decimal | None = None) -> Refund:
    """Refund ``lines`` of payment ``payment_id`` through Stripe, as staff member ``by`` asked, for ``reason``.

    ``key`` is the refund form's own key: a second call with the same key (a double click, a reload, a retry after
    Stripe did not answer) makes no new refund; it returns that refund, asking Stripe again only if it is still
    pending and nobody is asking now. ``seen_refunded``: see ``refund_plan``.

    Returns the refund: ``succeeded`` with ``stripe_refund`` set and each line's ``outcome`` (what happened to its
    renewal), or ``pending`` while another request is asking Stripe. Raises ``PaymentError`` for what
    ``refund_plan`` refuses, when Stripe refuses (the refund is then ``failed`` and its amount let go; the same key
    sent again is refused the same way), and when
    Stripe did not answer (the refund stays ``pending``; sending the same form again asks again, under the same
    idempotency key, so the money goes back once).
    """
    key = key or uuid.uuid4()
    existing = Refund.objects.filter(key=key).first()
    if existing is None:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            existing = Refund.objects.filter(key=key).first()  # the same form, sent while we waited for the lock
            if existing is None:
                plan = refund_plan(payment=payment, lines=lines, seen_refunded=seen_refunded)
                refund = Refund.objects.create(payment=payment, key=key, amount=plan.total, reason=reason[:300],
                                               created_by=by)
                RefundLine.objects.bulk_create([
                    RefundLine(refund=refund, order_line=p.state.line, amount=p.amount, renewal=p.renewal)
                    for p in plan.lines
                ])
                payment.refunded_amount += plan.total
                payment.save(update_fields=["refunded_amount"])
                log.info("staff:%s asked for refund %s of $%s on payment %s", by.pk, refund.pk, plan.total,
                         payment.pk)
    if existing is not None:
        if existing.payment_id != payment_id:
            raise PaymentError("This form belongs to another payment's refund.")
        if existing.state == Refund.State.FAILED:
            raise PaymentError(f"{existing.failure_message} Nothing was refunded; review the refund and send it "
                               "again.")
        refund = existing
    return refund_send(refund_id=refund.pk, actor=f"staff:{by.pk}")


def refund_send(*, refund_id: int, actor: str) -> Refund:
    """Ask Stripe for pending refund ``refund_id`` (no transaction open, idempotency key ``refund-<id>``) and
    record its answer; a refund no longer pending, or one another request began asking for less than
    ``STRIPE_CLAIM`` ago, is returned as it is. ``actor`` (``"staff:3"``) is logged. Raises ``PaymentError`` as
    ``payment_refund`` says."""
    claimed_at = clock.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment__order").get(pk=refund_id)
        if refund.state != Refund.State.PENDING:
            return refund
        if refund.stripe_claimed_at is not None and claimed_at - refund.stripe_claimed_at < STRIPE_CLAIM:
            return refund
        refund.stripe_claimed_at = claimed_at
        refund.save(update_fields=["stripe_claimed_at"])
    payment = refund.payment
    try:
        result = stripe_client().v1.refunds.create(
            params={"payment_intent": payment.stripe_payment_intent, "amount": rules.to_cents(refund.amount),
                    "metadata": {"order": payment.order.number, "refund": str(refund.pk)}},
            options={"idempotency_key": f"refund-{refund.pk}"},
        )
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        # The refund may or may not have been made: keep it pending; asking again with the same key is safe.
        Refund.objects.filter(pk=refund.pk, stripe_claimed_at=claimed_at).update(stripe_claimed_at=None)
        log.warning("Stripe did not answer for refund %s: %s", refund.pk, exc)
        raise PaymentError("Stripe did not answer, so the refund is still pending. Send the same form again to "
                           "ask again; the money will not be refunded twice.") from exc
    except stripe.StripeError as exc:
        message = f"Stripe refused the refund: {exc.user_message or exc}"
        _refund_fail(refund_id=refund.pk, message=message, actor=actor)
        raise PaymentError(message) from exc
    return _refund_settle(refund_id=refund.pk, stripe_refund=result.id, actor=actor)


def _refund_move(refund: Refund, *, to: str, **fields) -> None:
    """The one writer of ``Refund.state``: a pending refund, locked by the caller, becomes ``to`` (succeeded or
    failed) with the other ``fields`` in the same save. Raises ``PaymentError`` for any other move."""
    if refund.state != Refund.State.PENDING or to not in (Refund.State.SUCCEEDED, Refund.State.FAILED):
        raise PaymentError(f"A refund cannot go from {refund.state} to {to}.")
    refund.state = to
    for name, value in fields.items():
        setattr(refund, name, value)
    refund.save(update_fields=["state", *fields])


def _refund_fail(*, refund_id: int, message: str, actor: str) -> None:
    """Stripe refused: the refund is failed and its amount no longer held on the payment."""
    with transaction.atomic():
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.state != Refund.State.PENDING:
            return
        _refund_move(refund, to=Refund.State.FAILED, failure_message=message[:500], settled_at=clock.now())
        payment.refunded_amount -= refund.amount
        payment.save(update_fields=["refunded_amount"])
        log.warning("%s: refund %s of payment %s failed: %s", actor, refund.pk, payment.pk, message)


def _refund_settle(*, refund_id: int, stripe_refund: str, actor: str) -> Refund:
    """Stripe made the refund: record it, undo or keep each renewal as staff chose (saying on each line what
    happened), mark the payment and its paid order refunded when all of the payment is, log it on the order and
    queue the email. Once: a refund already settled is returned as it is."""
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().select_related("order").get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.state != Refund.State.PENDING:
            return refund
        order = payment.order
        _refund_move(refund, to=Refund.State.SUCCEEDED, stripe_refund=stripe_refund, settled_at=clock.now())
        said = []
        for line in refund.lines.select_related("order_line"):
            line.outcome = _renewal_outcome(line, order=order, refund=refund, actor=actor)
            line.save(update_fields=["outcome"])
            said.append(f"{line.order_line.description} ${line.amount}" + (f" – {line.outcome}" if line.outcome
                                                                              else ""))
        OrderLog.objects.create(order=order, from_state=order.state, to_state=order.state, actor=actor[:100],
                                note=f"Refund {refund.pk} of ${refund.amount}: {'; '.join(said)}"[:500])
        if payment.refunded_amount == payment.amount:
            payment_transition(payment_id=payment.pk, to=rules.REFUNDED, actor=actor, note=refund.reason)
            if order.state == Order.State.PAID:
                # A charge that came in for a canceled order is refunded; that order stays canceled.
                order_transition(order_id=order.pk, to=Order.State.REFUNDED, actor=actor, note=refund.reason)
        jobs.queue_after_commit(refund_email, refund.pk)
        log.info("%s: refund %s of payment %s succeeded (%s)", actor, refund.pk, payment.pk, stripe_refund)
        return refund


def _renewal_outcome(line: RefundLine, *, order: Order, refund: Refund, actor: str) -> str:
    """Undo or keep the renewal of a refunded line as staff chose; returns what happened, in words."""
    order_line = line.order_line
    if line.renewal == UNDO:
        try:
            with transaction.atomic():
                return certification_renewal_undo(
                    cycle_id=order_line.cycle_id, actor=actor,
                    reason=f"Its renewal was refunded (order {order.number}, refund {refund.pk}).",
                ).undone
        except RenewalError as exc:  # renewed again between the page and Stripe's answer: the money went back
            log.error("Refund %s: the renewal of order line %s was not undone: %s", refund.pk, order_line.pk,
                      exc.message)
            return f"{RefundLine.NOT_UNDONE}{exc.message}"[:300]
    if line.renewal == KEEP:
        return certification_renewal(cycle_id=order_line.cycle_id).kept
    if order_line.renewed_cycle_id:
        renewal = certification_renewal(cycle_id=order_line.cycle_id)
        if renewal.state == UNDONE:
            return f"The {renewal.code} renewal was already undone."
    return ""


def refund_retry(*, refund_id: int, by) -> Refund:
    """Ask Stripe again for a refund left pending (Stripe did not answer); see ``refund_send``."""
    return refund_send(refund_id=refund_id, actor=f"staff:{by.pk}")


# ---------------------------------------------------------------- what the person is told

def refund_email_send(*, refund_id: int) -> str:
    """Email the holder what refund ``refund_id`` gave back, line by line, and what happened to each renewal;
    once.

    Claimed in a short transaction (``email_claimed_at``), sent with no row lock held, then ``emailed_at`` set.
    Returns ``"sent"``, ``"not refunded"`` (not succeeded), ``"already sent"``, or ``"claimed"`` when another
    worker took it on less than ``jobs.CLAIM`` ago. When sending fails the claim is let go and the error
    (``OSError``, ``SMTPException``) raised, for a retry or the sweeper (``refund_emails_unsent_requeue``).
    Raises ``Refund.DoesNotExist``.
    """
    claimed_at = clock.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.state != Refund.State.SUCCEEDED:
            return "not refunded"
        if refund.emailed_at is not None:
            return "already sent"
        if refund.email_claimed_at is not None and claimed_at - refund.email_claimed_at < jobs.CLAIM:
            return "claimed"
        refund.email_claimed_at = claimed_at
        refund.save(update_fields=["email_claimed_at"])
    try:
        _refund_message(refund_id).send()
    except Exception:
        Refund.objects.filter(pk=refund_id, email_claimed_at=claimed_at).update(email_claimed_at=None)
        raise
    Refund.objects.filter(pk=refund_id).update(emailed_at=clock.now())
    return "sent"


def refund_emails_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again the email of every refund settled more than ``after`` ago (and within ``jobs.SWEEP_WINDOW``) and
    not emailed, unless a worker took it on less than ``jobs.CLAIM`` ago. Returns the refund ids, oldest first."""
    now = clock.now()
    lost = list(
        Refund.objects.filter(state=Refund.State.SUCCEEDED, emailed_at__isnull=True, settled_at__lte=now - after,
                              settled_at__gte=now - jobs.SWEEP_WINDOW)
        .filter(Q(email_claimed_at__isnull=True) | Q(email_claimed_at__lte=now - jobs.CLAIM))
        .order_by("settled_at", "pk").values_list("pk", flat=True)
    )
    for refund_id in lost:
        jobs.queue(refund_email, refund_id)
    return lost


def _refund_message(refund_id: int) -> EmailMultiAlternatives:
    refund = (Refund.objects.select_related("payment__order__user").prefetch_related("lines__order_line")
              .get(pk=refund_id))
    order = refund.payment.order
    lines = list(refund.lines.all())
    context = {"refund": refund, "order": order, "payment": refund.payment, "lines": lines,
               "undone": any(line.undid_renewal for line in lines), "base_url": settings.PORTAL_BASE_URL,
               "receipt_url": settings.PORTAL_BASE_URL + reverse("receipt", args=[order.number]),
               "refunded_at": clock.moment_text(refund.settled_at, order)}
    message = EmailMultiAlternatives(
        subject=f"Your MyACSM refund for order {order.number}",
        body=render_to_string("emails/refund.txt", context),
        to=[order.user.email],
    )
    message.attach_alternative(render_to_string("emails/refund.html", context), "text/html")
    return message
