"""Refunds: staff give money back line by line, and say for each renewal refunded whether it stands.

A refund is recorded ``pending`` (its amount held on ``Payment.refunded_amount``) under a lock on the payment,
Stripe is called with no transaction open (the idempotency key ``refund-<refund id>``, the metadata
``{"refund": "<refund id>"}``), and Stripe's answer is recorded under the lock again, as Stripe's refund says:
``succeeded`` (each renewal undone or kept as staff chose, the payment and order refunded when the succeeded
refunds add up to all of the payment, the person emailed once), ``pending`` at Stripe (left pending, its Stripe id
kept) or ``failed`` (the amount let go). Before asking Stripe again for a refund still pending, the refund Stripe
may already have made for it is looked up (by its Stripe id, or by its metadata among the payment's refunds), so
the money goes back once even where an idempotency key has expired or is ignored. The refund form carries a key of
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

# How long a request asking Stripe for a refund keeps another away. It makes two calls (the lookup, then the
# refund), and the Stripe client in production waits up to 80 s a try over 3 tries with up to 5 s between them:
# 250 s a call, 8 min 20 s in all at worst, under this claim. Past it the request is taken for lost, and asking
# again looks the refund up at Stripe, then asks for it under the same idempotency key.
STRIPE_CLAIM = timedelta(minutes=10)


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
            return f"{money} {renewal.already_undone}"
        return money


@dataclass(frozen=True)
class RefundPlan:
    """A refund as it will be made: its lines, its ``total``, what will be ``left_after`` it to refund on the
    payment, and how much of the payment other refunds still ``pending`` hold. It is ``full`` when nothing is left
    and nothing else is pending: the payment and its paid order are then marked refunded once it succeeds (with
    another refund pending, that happens when the last of them succeeds)."""

    payment: Payment
    lines: list[PlannedLine]
    total: Decimal
    left_after: Decimal
    pending: Decimal = Decimal("0.00")

    @property
    def full(self) -> bool:
        return self.left_after == 0 and self.pending == 0


def refund_lines_state(*, payment: Payment, besides_key: uuid.UUID | None = None) -> list[LineState]:
    """Each line of ``payment``'s order with what is left to refund on it (refunds pending or succeeded count as
    given, except the one made from the refund form ``besides_key``: the form as it was when it was sent) and, for
    a renewal its order renewed, where that renewal stands. A few queries per renewal line."""
    given = ~Q(refund_lines__refund__state=Refund.State.FAILED)
    if besides_key is not None:
        given &= Q(refund_lines__refund__key__isnull=True) | ~Q(refund_lines__refund__key=besides_key)
    lines = list(
        OrderLine.objects.filter(order_id=payment.order_id)
        .annotate(refunded=Sum("refund_lines__amount", filter=given, default=Decimal("0.00")))
        .select_related("certification__certification_type")
    )
    return [
        LineState(line=line, refunded=line.refunded, renewal=_line_renewal(line))
        for line in lines
    ]


def _line_renewal(line: OrderLine) -> Renewal | None:
    """Where the renewal ``line``'s order made stands (the cycle it closed and the exact cycle it opened), or
    ``None`` for a line that renewed nothing."""
    if not line.renewed_cycle_id:
        return None
    return certification_renewal(cycle_id=line.cycle_id, opened_id=line.renewed_cycle_id)


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
    pending = Refund.objects.filter(payment=payment, state=Refund.State.PENDING).aggregate(
        held=Sum("amount", default=Decimal("0.00")))["held"]
    return RefundPlan(payment=payment, lines=planned, total=total,
                      left_after=payment.amount - payment.refunded_amount - total, pending=pending)


def payment_refund(*, payment_id: int, lines: Sequence[LineRefund], by, reason: str = "",
                   key: uuid.UUID | None = None, seen_refunded: Decimal | None = None) -> Refund:
    """Refund ``lines`` of payment ``payment_id`` through Stripe, as staff member ``by`` asked, for ``reason``.

    ``key`` is the refund form's own key: a second call with the same key and the same lines (a double click, a
    reload, a retry after Stripe did not answer) makes no new refund; it returns that refund, asking Stripe again
    only if it is still pending and nobody is asking now (``refund_send``). ``seen_refunded``: see
    ``refund_plan``.

    Returns the refund: ``succeeded`` with ``stripe_refund`` set and each line's ``outcome`` (what happened to its
    renewal), or ``pending`` while another request is asking Stripe or Stripe is still making it. Raises
    ``PaymentError`` for what ``refund_plan`` and ``refund_of_form`` refuse, when Stripe refuses or fails the
    refund (the refund is then ``failed`` and its amount let go; the same key sent again is refused the same way),
    and when Stripe did not answer (the refund stays ``pending``; asking again looks it up at Stripe first, then
    asks under the same idempotency key, so the money goes back once).
    """
    key = key or uuid.uuid4()
    refund = refund_of_form(key=key, payment_id=payment_id, lines=lines)
    if refund is None:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            # The same form, sent while we waited for the lock.
            refund = refund_of_form(key=key, payment_id=payment_id, lines=lines)
            if refund is None:
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
    return refund_send(refund_id=refund.pk, actor=f"staff:{by.pk}")


def refund_of_form(*, key: uuid.UUID, payment_id: int, lines: Sequence[LineRefund]) -> Refund | None:
    """The refund already made from the refund form ``key`` for payment ``payment_id``, or ``None``.

    Raises ``PaymentError`` when that refund is another payment's, when it failed (the form is to be reviewed and
    sent as a new refund), and when it was made for other lines, amounts or renewal choices than ``lines`` (a form
    edited after it was sent: what went to Stripe cannot change, so new amounts are never sent under it)."""
    refund = Refund.objects.filter(key=key).first()
    if refund is None:
        return None
    if refund.payment_id != payment_id:
        raise PaymentError("This form belongs to another payment's refund.")
    if refund.state == Refund.State.FAILED:
        raise PaymentError(f"{refund.failure_message} Nothing was refunded; review the refund and send it again.")
    made = list(refund.lines.select_related("order_line"))
    if not _asks_the_same(made, lines):
        was = "; ".join(f"{line.order_line.description} ${line.amount}"
                        + (f", {line.get_renewal_display().lower()}" if line.renewal else "") for line in made)
        if refund.state == Refund.State.PENDING:
            raise PaymentError(
                f"Refund #{refund.pk} of ${refund.amount} from this form ({was}) is still pending at Stripe, and "
                "it cannot be changed: nothing new was sent. Ask Stripe again for it as it is; once it has "
                "succeeded, refund anything more on a fresh refund page."
            )
        raise PaymentError(f"Refund #{refund.pk} of ${refund.amount} ({was}) was already made from this form; "
                           "nothing new was sent. Open the refund page again to refund more.")
    return refund


def _asks_the_same(made: Sequence[RefundLine], lines: Sequence[LineRefund]) -> bool:
    """Whether ``lines`` ask what refund lines ``made`` were made for: the same amount on the same lines ($0 lines
    left out) and no other keep-or-undo choice than the one made."""
    asked = [a for a in lines if not (a.amount.is_finite() and a.amount == 0)]
    if not all(a.amount.is_finite() for a in asked) or len({a.line_id for a in asked}) != len(asked):
        return False
    if {(a.line_id, a.amount) for a in asked} != {(m.order_line_id, m.amount) for m in made}:
        return False
    chosen = {a.line_id: a.renewal for a in asked}  # no choice sent (a renewal undone since asks none): as made
    return all(chosen[m.order_line_id] in ("", m.renewal) for m in made if m.renewal)


def refund_send(*, refund_id: int, actor: str) -> Refund:
    """Ask Stripe for pending refund ``refund_id`` and record its answer; a refund no longer pending, or one
    another request began asking for less than ``STRIPE_CLAIM`` ago, is returned as it is.

    No transaction is open while Stripe is asked. The refund Stripe may have made already (an earlier request whose
    answer was lost) is looked up first: by ``stripe_refund`` when known, else among the payment intent's refunds
    by its metadata ``refund``; only when there is none is Stripe asked to make it (idempotency key
    ``refund-<id>``, metadata ``{"refund": "<id>"}``). Stripe's refund's ``status`` decides: ``succeeded`` settles
    it (``_refund_settle``), ``pending`` or ``requires_action`` leaves it pending with its Stripe id (asking again
    later looks it up), ``failed`` or ``canceled`` fails it and lets its amount go. ``actor`` (``"staff:3"``) is
    logged. Raises ``PaymentError`` as ``payment_refund`` says."""
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
    gateway = stripe_client()
    try:
        result = _stripe_refund_made(gateway, refund)
        if result is None:
            result = gateway.v1.refunds.create(
                params={"payment_intent": payment.stripe_payment_intent, "amount": rules.to_cents(refund.amount),
                        "metadata": {"order": payment.order.number, "refund": str(refund.pk)}},
                options={"idempotency_key": f"refund-{refund.pk}"},
            )
    except (stripe.APIConnectionError, stripe.APIError) as exc:
        # The refund may or may not have been made: keep it pending; asking again looks it up first.
        Refund.objects.filter(pk=refund.pk, stripe_claimed_at=claimed_at).update(stripe_claimed_at=None)
        log.warning("Stripe did not answer for refund %s: %s", refund.pk, exc)
        raise PaymentError("Stripe did not answer, so the refund is still pending. Ask Stripe again for it; the "
                           "money will not be refunded twice.") from exc
    except stripe.StripeError as exc:
        message = f"Stripe refused the refund: {exc.user_message or exc}"
        _refund_fail(refund_id=refund.pk, message=message, actor=actor)
        raise PaymentError(message) from exc
    status = result.status
    if status == "succeeded":
        return _refund_settle(refund_id=refund.pk, stripe_refund=result.id, actor=actor)
    if status in ("failed", "canceled"):
        why = getattr(result, "failure_reason", None)
        message = f"Stripe could not make the refund ({status}{': ' + why.replace('_', ' ') if why else ''})."
        _refund_fail(refund_id=refund.pk, message=message, actor=actor, stripe_refund=result.id)
        raise PaymentError(message)
    with transaction.atomic():  # pending or requires_action at Stripe: it stays pending here
        refund = Refund.objects.select_for_update().select_related("payment__order").get(pk=refund.pk)
        if refund.state == Refund.State.PENDING:
            refund.stripe_refund = result.id
            if refund.stripe_claimed_at == claimed_at:
                refund.stripe_claimed_at = None
            refund.save(update_fields=["stripe_refund", "stripe_claimed_at"])
            log.info("%s: refund %s is %s at Stripe (%s)", actor, refund.pk, status, result.id)
    return refund


def _stripe_refund_made(gateway: stripe.StripeClient, refund: Refund):
    """The refund Stripe already made for ``refund`` (a Stripe ``Refund``), or ``None``."""
    if refund.stripe_refund:
        return gateway.v1.refunds.retrieve(refund.stripe_refund)
    made = gateway.v1.refunds.list(params={"payment_intent": refund.payment.stripe_payment_intent, "limit": 100})
    for found in made.auto_paging_iter():
        if (found.to_dict().get("metadata") or {}).get("refund") == str(refund.pk):
            return found
    return None


def _refund_move(refund: Refund, *, to: str, **fields) -> None:
    """The one writer of ``Refund.state``: a pending refund, locked by the caller, becomes ``to`` (succeeded or
    failed) with the other ``fields`` in the same save. Raises ``PaymentError`` for any other move."""
    if refund.state != Refund.State.PENDING or to not in (Refund.State.SUCCEEDED, Refund.State.FAILED):
        raise PaymentError(f"A refund cannot go from {refund.state} to {to}.")
    refund.state = to
    for name, value in fields.items():
        setattr(refund, name, value)
    refund.save(update_fields=["state", *fields])


def _refund_fail(*, refund_id: int, message: str, actor: str, stripe_refund: str = "") -> None:
    """Stripe refused or failed the refund: it is failed and its amount no longer held on the payment."""
    with transaction.atomic():
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.state != Refund.State.PENDING:
            return
        _refund_move(refund, to=Refund.State.FAILED, failure_message=message[:500], settled_at=clock.now(),
                     **({"stripe_refund": stripe_refund} if stripe_refund else {}))
        payment.refunded_amount -= refund.amount
        payment.save(update_fields=["refunded_amount"])
        log.warning("%s: refund %s of payment %s failed: %s", actor, refund.pk, payment.pk, message)


def _refund_settle(*, refund_id: int, stripe_refund: str, actor: str) -> Refund:
    """Stripe made the refund: record it, undo or keep each renewal as staff chose (saying on each line what
    happened), log it on the order, mark the payment and its paid order refunded when the succeeded refunds add up
    to all of the payment (one still pending holds money that may yet come back: it is not counted until it
    succeeds, and the last to succeed marks them), and queue the email. Once: a refund already settled is returned
    as it is."""
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
        succeeded = Refund.objects.filter(payment=payment, state=Refund.State.SUCCEEDED).aggregate(
            total=Sum("amount", default=Decimal("0.00")))["total"]
        if succeeded == payment.amount and payment.state == rules.SUCCEEDED:
            payment_transition(payment_id=payment.pk, to=rules.REFUNDED, actor=actor, note=refund.reason)
            if order.state == Order.State.PAID:
                # A charge that came in for a canceled order is refunded; that order stays canceled.
                order_transition(order_id=order.pk, to=Order.State.REFUNDED, actor=actor, note=refund.reason)
        jobs.queue_after_commit(refund_email, refund.pk)
        log.info("%s: refund %s of payment %s succeeded (%s)", actor, refund.pk, payment.pk, stripe_refund)
        return refund


def _renewal_outcome(line: RefundLine, *, order: Order, refund: Refund, actor: str) -> str:
    """Undo or keep the renewal of a refunded line as staff chose; returns what happened, in words. Only the
    renewal this line's order made is ever undone (the cycle it opened, ``OrderLine.renewed_cycle``)."""
    order_line = line.order_line
    if line.renewal == UNDO:
        try:
            with transaction.atomic():
                renewal = certification_renewal_undo(
                    cycle_id=order_line.cycle_id, opened_id=order_line.renewed_cycle_id, actor=actor,
                    reason=f"Its renewal was refunded (order {order.number}, refund {refund.pk}).",
                )
            return renewal.undone if renewal.acted else renewal.already_undone
        except RenewalError as exc:  # renewed again between the page and Stripe's answer: the money went back
            log.error("Refund %s: the renewal of order line %s was not undone: %s", refund.pk, order_line.pk,
                      exc.message)
            return f"{RefundLine.NOT_UNDONE}{exc.message}"[:300]
    renewal = _line_renewal(order_line)
    if renewal is not None and renewal.state == UNDONE:  # by another refund, whatever this one chose
        return renewal.already_undone
    if line.renewal == KEEP:
        return renewal.kept
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
    lost = list(jobs.unsent(Refund.objects.filter(state=Refund.State.SUCCEEDED, emailed_at__isnull=True),
                            called_at="settled_at", claimed_at="email_claimed_at", after=after)
                .values_list("pk", flat=True))
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
