"""Refunds line by line through the local Stripe emulator: each renewal refunded is kept or undone as staff chose,
once, logged; a form sent twice or two staff at once make one refund."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from acsm_portal.formats import format_range
from certifications.models import Certificate, Cycle, CycleLog
from certifications.renewals import certification_renew
from certifications.selectors import tiles_for
from payments import rules
from payments.models import Order, OrderLog, Payment, PaymentLog, Refund, RefundLine
from acsm_portal import clock
from cart.services import cart_add_renewal
from payments.refunds import LineRefund, payment_refund, refund_lines_state, refund_plan, refund_retry
from payments.services import (
    PaymentError, order_place, order_transition, payment_charge, payment_confirm, payment_start, payment_transition,
)
from payments.stripe_gateway import client as stripe_client
from tests.factories import UserFactory
from tests.payments.helpers import BILLING, card, placed_order
from tests.payments.refund_helpers import closed_port, line_of, paid

pytestmark = pytest.mark.usefixtures("localstripe")


def stripe_refunds(payment: Payment) -> list[int]:
    """The refunds the emulator made on ``payment``'s PaymentIntent, in cents, smallest first."""
    found = stripe_client().v1.refunds.list(params={"limit": 100}).data
    return sorted(r.amount for r in found if r.payment_intent == payment.stripe_payment_intent)


def pending(payment: Payment, settings, *asked: LineRefund) -> Refund:
    """A refund of ``asked`` on ``payment`` sent while Stripe did not answer: pending, nothing made at Stripe."""
    emulator, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, f"http://127.0.0.1:{closed_port()}"
    try:
        with pytest.raises(PaymentError, match="Stripe did not answer, so the refund is still pending"):
            payment_refund(payment_id=payment.pk, lines=list(asked), by=UserFactory(is_staff=True))
    finally:
        settings.STRIPE_API_BASE = emulator
    refund = Refund.objects.filter(payment=payment).latest("pk")
    assert (refund.state, refund.stripe_refund) == ("pending", "")
    return refund


def made_at_stripe(refund: Refund, status: str = "succeeded"):
    """The refund Stripe made for ``refund`` from a request whose answer never came back (sent as the portal sends
    it, with the refund's id in its metadata), as Stripe has it now: ``status``."""
    made = stripe_client().v1.refunds.create(params={
        "payment_intent": refund.payment.stripe_payment_intent, "amount": rules.to_cents(refund.amount),
        "metadata": {"order": refund.payment.order.number, "refund": str(refund.pk)}})
    if status != made.status:
        made = stripe_client().v1.refunds.update(made.id, params={"status": status})
    assert made.status == status
    return made


def paid_again(user, line, *, total: str) -> Payment:
    """A second order renewing ``line``'s certification again (its first renewal undone), charged at the
    emulator."""
    today = clock.today_for(user)
    cart_add_renewal(user=user, certification_id=line.certification_id, today=today)
    order = order_place(user=user, billing=BILLING, expected_total=Decimal(total), today=today)
    payment, _ = payment_start(order=order)
    payment_charge(payment_id=payment.pk, user=user, payment_method=card())
    payment = Payment.objects.select_related("order").get(pk=payment.pk)
    assert (payment.state, payment.order.state) == ("succeeded", Order.State.PAID)
    return payment


def cycles(line):
    """(the cycle the renewal closed, the cycle it opened), as they are now."""
    return Cycle.objects.get(pk=line.cycle_id), Cycle.objects.get(pk=line.renewed_cycle_id)


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.mark.django_db
class TestFullRefund:
    def test_undo_opens_the_cycle_again_voids_the_certificate_and_counts_its_credits(self, user, staff, today):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        renewed, opened = cycles(line)
        number = opened.certificate.number
        refund = payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "undo")],
                                by=staff, reason="Paid twice")
        said = (f"EP renewal undone: cycle {format_range(renewed.start, renewed.end)} is open again; "
                f"certificate {number} voided.")
        assert (refund.state, refund.amount, refund.stripe_refund.startswith("re_")) == (
            "succeeded", Decimal("70.00"), True)
        assert list(refund.lines.values_list("order_line_id", "amount", "renewal", "outcome")) == [
            (line.pk, Decimal("70.00"), "undo", said)]
        renewed, opened = cycles(line)
        assert (renewed.state, renewed.renewed_at, opened.state) == ("open", None, "undone")
        certificate = Certificate.objects.get(number=number)
        assert certificate.voided_at is not None
        assert certificate.void_reason == f"Its renewal was refunded (order {payment.order.number}, refund {refund.pk})."
        [tile] = tiles_for(user=user, today=today)
        assert (tile.cycle_start, tile.meter.shown, tile.meter.required, tile.certificate_number) == (
            renewed.start, Decimal("60"), 60, "")
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount, payment.order.state) == ("refunded", Decimal("70.00"),
                                                                                 "refunded")
        assert list(OrderLog.objects.filter(order=payment.order).values_list("from_state", "to_state", "actor",
                                                                             "note")) == [
            ("pending", "paid", "stripe", f"Payment {payment.pk} succeeded."),
            ("paid", "paid", f"staff:{staff.pk}", f"Refund {refund.pk} of $70.00: EP Recertification $70.00 – {said}"),
            ("paid", "refunded", f"staff:{staff.pk}", "Paid twice"),
        ]
        assert PaymentLog.objects.filter(payment=payment).last().to_state == "refunded"
        assert list(CycleLog.objects.filter(cycle__in=[renewed, opened], actor=f"staff:{staff.pk}")
                    .values_list("cycle_id", "to_state")) == [(opened.pk, "undone"), (renewed.pk, "open")]
        assert stripe_refunds(payment) == [7000]

    def test_keep_leaves_the_renewal_and_its_certificate(self, user, staff):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        renewed, opened = cycles(line)
        refund = payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "keep")],
                                by=staff, reason="Goodwill")
        assert refund.lines.get().outcome == (f"EP renewal kept: cycle {format_range(renewed.start, renewed.end)} "
                                              f"stays renewed; certificate {opened.certificate.number} stays valid.")
        assert [c.state for c in cycles(line)] == ["renewed", "open"]
        assert Certificate.objects.get(cycle=opened).voided_at is None
        assert Order.objects.get(pk=payment.order_id).state == "refunded"
        assert stripe_refunds(payment) == [7000]

    def test_a_renewal_that_stands_needs_a_choice(self, user, staff):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        with pytest.raises(PaymentError) as exc:
            payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"))], by=staff)
        assert (exc.value.message, exc.value.field) == ("Choose whether the EP renewal is kept or undone.",
                                                        f"renewal_{line.pk}")
        assert (Refund.objects.count(), Payment.objects.get(pk=payment.pk).refunded_amount) == (0, Decimal("0.00"))
        assert stripe_refunds(payment) == []

    def test_undo_is_refused_when_the_cycle_it_opened_was_renewed_again(self, user, staff):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        renewed, opened = cycles(line)
        certification_renew(cycle_id=opened.pk)
        plan = refund_plan(payment=payment, lines=[LineRefund(line.pk, Decimal("70.00"), "keep")])
        assert plan.lines[0].said == (f"EP Recertification: refund $70.00 of $70.00. EP renewal stays: cycle "
                                      f"{format_range(renewed.start, renewed.end)} stays renewed; certificate "
                                      f"{opened.certificate.number} stays valid.")
        with pytest.raises(PaymentError) as exc:
            payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "undo")], by=staff)
        assert (exc.value.message, exc.value.field) == (
            f"The EP renewal cannot be undone: the cycle it opened ({format_range(opened.start, opened.end)}) has "
            "been renewed since.", f"renewal_{line.pk}")
        assert Refund.objects.count() == 0
        assert stripe_refunds(payment) == []
        assert Cycle.objects.get(pk=renewed.pk).state == "renewed"

    def test_a_charge_for_a_canceled_order_is_refunded_and_the_order_stays_canceled(self, user, staff):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        intent = stripe_client().v1.payment_intents.create(params={
            "amount": 6000, "currency": "usd", "payment_method": card(), "confirm": True})
        payment_transition(payment_id=payment.pk, to=rules.PROCESSING, actor="test", stripe_payment_intent=intent.id)
        payment_transition(payment_id=payment.pk, to=rules.FAILED, actor="test")
        order_transition(order_id=order.pk, to=Order.State.CANCELED, actor="test")
        payment_confirm(payment_id=payment.pk, amount_cents=6000, actor="webhook")
        line = order.lines.get()
        refund = payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("60.00"))], by=staff,
                                reason="Charged after cancel")
        payment.refresh_from_db()
        order.refresh_from_db()
        assert (refund.amount, refund.stripe_refund.startswith("re_"), refund.lines.get().outcome) == (
            Decimal("60.00"), True, "")
        assert (payment.state, payment.refunded_amount, order.state) == ("refunded", Decimal("60.00"), "canceled")


@pytest.mark.django_db
class TestPartialRefund:
    def test_part_of_one_line_of_two_undoes_only_that_renewal(self, user, staff):
        payment = paid(user, "CPT", "EP", total="130.00")
        cpt, ep = line_of(payment, "CPT"), line_of(payment, "EP")
        refund = payment_refund(payment_id=payment.pk, lines=[LineRefund(cpt.pk, Decimal("0")),
                                                              LineRefund(ep.pk, Decimal("30.00"), "undo")],
                                by=staff, reason="Course fee only")
        assert list(refund.lines.values_list("order_line_id", "amount", "renewal")) == [
            (ep.pk, Decimal("30.00"), "undo")]
        assert [c.state for c in cycles(ep)] == ["open", "undone"]
        assert [c.state for c in cycles(cpt)] == ["renewed", "open"]
        assert Certificate.objects.get(cycle_id=cpt.renewed_cycle_id).voided_at is None
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount, payment.order.state) == ("succeeded", Decimal("30.00"),
                                                                                 "paid")
        # What is left: $40 of EP (its renewal already undone: nothing to choose) and all of CPT.
        with pytest.raises(PaymentError) as exc:
            payment_refund(payment_id=payment.pk, lines=[LineRefund(ep.pk, Decimal("40.01"))], by=staff)
        assert (exc.value.message, exc.value.field) == (
            "A refund of $40.01 is more than the $40.00 left to refund on EP Recertification.", f"amount_{ep.pk}")
        rest = payment_refund(payment_id=payment.pk, lines=[LineRefund(ep.pk, Decimal("40.00")),
                                                            LineRefund(cpt.pk, Decimal("60.00"), "keep")], by=staff)
        assert list(rest.lines.values_list("order_line_id", "renewal", "outcome")) == [
            (cpt.pk, "keep", rest.lines.get(order_line=cpt).outcome),
            (ep.pk, "", "The EP renewal was already undone."),
        ]
        assert rest.lines.get(order_line=cpt).outcome.startswith("CPT renewal kept: ")
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount, payment.order.state) == ("refunded", Decimal("130.00"),
                                                                                 "refunded")
        with pytest.raises(PaymentError, match="Only a succeeded payment can be refunded"):
            payment_refund(payment_id=payment.pk, lines=[LineRefund(ep.pk, Decimal("1.00"))], by=staff)
        assert stripe_refunds(payment) == [3000, 10000]

    def test_nothing_asked_is_refused(self, user, staff):
        payment = paid(user, "CPT", total="60.00")
        with pytest.raises(PaymentError, match=r"Enter an amount to refund on at least one line."):
            payment_refund(payment_id=payment.pk, lines=[LineRefund(line_of(payment, "CPT").pk, Decimal("0"))],
                           by=staff)

    def test_a_line_of_another_order_is_refused(self, user, other_user, staff):
        payment = paid(user, "CPT", total="60.00")
        other = paid(other_user, "CPT", total="60.00")
        with pytest.raises(PaymentError, match="A line of another order"):
            payment_refund(payment_id=payment.pk, by=staff,
                           lines=[LineRefund(line_of(other, "CPT").pk, Decimal("60.00"), "keep")])
        assert Refund.objects.count() == 0


@pytest.mark.django_db
class TestOnce:
    def test_the_same_form_sent_twice_makes_one_refund(self, user, staff):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        key = uuid.uuid4()
        asked = [LineRefund(line.pk, Decimal("70.00"), "undo")]
        first = payment_refund(payment_id=payment.pk, lines=asked, by=staff, key=key, seen_refunded=Decimal("0.00"))
        again = payment_refund(payment_id=payment.pk, lines=asked, by=staff, key=key, seen_refunded=Decimal("0.00"))
        assert again.pk == first.pk
        assert (Refund.objects.count(), RefundLine.objects.count()) == (1, 1)
        assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("70.00")
        assert CycleLog.objects.filter(actor=f"staff:{staff.pk}").count() == 2
        assert stripe_refunds(payment) == [7000]

    def test_a_page_opened_before_another_refund_is_refused(self, user, staff):
        payment = paid(user, "CPT", "EP", total="130.00")
        cpt, ep = line_of(payment, "CPT"), line_of(payment, "EP")
        payment_refund(payment_id=payment.pk, lines=[LineRefund(cpt.pk, Decimal("10.00"), "keep")], by=staff,
                       seen_refunded=Decimal("0.00"))
        with pytest.raises(PaymentError) as exc:
            payment_refund(payment_id=payment.pk, lines=[LineRefund(ep.pk, Decimal("10.00"), "keep")], by=staff,
                           seen_refunded=Decimal("0.00"))
        assert exc.value.message == ("Another refund of this payment was made since this page was opened: $10.00 is "
                                     "refunded now, not $0.00. Review what is left before refunding more.")
        assert stripe_refunds(payment) == [1000]

    def test_a_refund_stripe_refuses_fails_and_lets_its_amount_go(self, user, staff):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        Payment.objects.filter(pk=payment.pk).update(stripe_payment_intent="pi_unknown")
        with pytest.raises(PaymentError, match="Stripe refused the refund"):
            payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "undo")], by=staff)
        refund = Refund.objects.get()
        assert (refund.state, refund.failure_message.startswith("Stripe refused the refund")) == ("failed", True)
        assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("0.00")
        assert [c.state for c in cycles(line)] == ["renewed", "open"]
        assert refund_plan(payment=Payment.objects.get(pk=payment.pk),
                           lines=[LineRefund(line.pk, Decimal("70.00"), "keep")]).total == Decimal("70.00")
        with pytest.raises(PaymentError, match="Nothing was refunded; review the refund and send it again."):
            payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "undo")], by=staff,
                           key=refund.key)
        assert Refund.objects.count() == 1

    def test_when_stripe_does_not_answer_the_refund_stays_pending_and_the_same_form_asks_again(
            self, user, staff, settings):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        key = uuid.uuid4()
        asked = [LineRefund(line.pk, Decimal("70.00"), "undo")]
        emulator, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, f"http://127.0.0.1:{closed_port()}"
        with pytest.raises(PaymentError, match="Stripe did not answer, so the refund is still pending"):
            payment_refund(payment_id=payment.pk, lines=asked, by=staff, key=key)
        refund = Refund.objects.get()
        assert (refund.state, refund.stripe_claimed_at, Payment.objects.get(pk=payment.pk).refunded_amount) == (
            "pending", None, Decimal("70.00"))
        assert [c.state for c in cycles(line)] == ["renewed", "open"]
        settings.STRIPE_API_BASE = emulator
        again = payment_refund(payment_id=payment.pk, lines=asked, by=staff, key=key)
        assert (again.pk, again.state) == (refund.pk, "succeeded")
        assert [c.state for c in cycles(line)] == ["open", "undone"]
        assert stripe_refunds(payment) == [7000]


@pytest.mark.django_db(transaction=True)
def test_two_staff_refunding_at_once_make_one_refund(user):
    payment = paid(user, "CPT", "EP", total="130.00")
    line = line_of(payment, "EP")
    staff = [UserFactory(is_staff=True), UserFactory(is_staff=True)]

    def refund(by):
        try:
            return payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "undo")],
                                  by=by, key=uuid.uuid4(), seen_refunded=Decimal("0.00")).state
        except PaymentError as exc:
            return exc.message.split(":")[0]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(refund, staff))
    assert outcomes == ["Another refund of this payment was made since this page was opened", "succeeded"]
    assert Refund.objects.get().state == "succeeded"
    assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("70.00")
    assert stripe_refunds(payment) == [7000]


@pytest.mark.django_db(transaction=True)
def test_a_form_sent_twice_at_once_makes_one_refund(user):
    payment = paid(user, "EP", total="70.00")
    line = line_of(payment, "EP")
    staff = UserFactory(is_staff=True)
    key = uuid.uuid4()

    def send(_):
        try:
            return payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("70.00"), "undo")],
                                  by=staff, key=key, seen_refunded=Decimal("0.00")).pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = list(pool.map(send, range(2)))
    refund = Refund.objects.get()
    assert ids == [refund.pk, refund.pk]
    assert refund.state == "succeeded"
    assert [c.state for c in cycles(line)] == ["open", "undone"]
    assert stripe_refunds(payment) == [7000]


@pytest.mark.django_db
class TestAnotherOrdersRenewal:
    """Order 1 renews EP; part of it is refunded and its renewal undone; order 2 renews EP again and is paid: order
    1's line refers to the cycle it closed, which order 2 renewed too, but only ever to order 1's own renewal."""

    def test_refunding_the_old_order_again_leaves_the_later_orders_renewal_alone(self, user, staff):
        first = paid(user, "EP", total="70.00")
        line = line_of(first, "EP")
        payment_refund(payment_id=first.pk, lines=[LineRefund(line.pk, Decimal("30.00"), "undo")], by=staff)
        second = paid_again(user, line, total="70.00")
        again = line_of(second, "EP")
        assert (again.cycle_id, again.renewed_cycle_id != line.renewed_cycle_id) == (line.cycle_id, True)
        number = Cycle.objects.get(pk=again.renewed_cycle_id).certificate.number
        [state] = refund_lines_state(payment=Payment.objects.get(pk=first.pk))
        assert (state.left, state.renewal.state, state.asks_renewal) == (Decimal("40.00"), "undone", False)
        plan = refund_plan(payment=Payment.objects.get(pk=first.pk),
                           lines=[LineRefund(line.pk, Decimal("5.00"), "undo")])
        assert [(p.renewal, p.said) for p in plan.lines] == [
            ("", "EP Recertification: refund $5.00 of $70.00. The EP renewal was already undone.")]
        refund = payment_refund(payment_id=first.pk, lines=[LineRefund(line.pk, Decimal("5.00"), "undo")], by=staff)
        assert list(refund.lines.values_list("renewal", "outcome")) == [("", "The EP renewal was already undone.")]
        assert (Cycle.objects.get(pk=line.cycle_id).state, Cycle.objects.get(pk=again.renewed_cycle_id).state) == (
            "renewed", "open")
        assert Certificate.objects.get(number=number).voided_at is None
        assert stripe_refunds(first) == [500, 3000]

    def test_an_undo_settled_after_the_later_order_renewed_is_refused_and_says_so(self, user, staff, settings):
        first = paid(user, "EP", total="70.00")
        line = line_of(first, "EP")
        waiting = pending(first, settings, LineRefund(line.pk, Decimal("30.00"), "undo"))
        payment_refund(payment_id=first.pk, lines=[LineRefund(line.pk, Decimal("40.00"), "undo")], by=staff)
        second = paid_again(user, line, total="70.00")
        again = line_of(second, "EP")
        number = Cycle.objects.get(pk=again.renewed_cycle_id).certificate.number
        opened = Cycle.objects.get(pk=line.renewed_cycle_id)
        label = format_range(opened.start, opened.end)
        refund = refund_retry(refund_id=waiting.pk, by=staff)
        assert (refund.state, refund.lines.get().outcome) == ("succeeded", (
            f"Not undone: The EP renewal that opened cycle {label} was already undone; the cycle {label} there now "
            "was opened by a later renewal, which is not undone here."))
        assert Cycle.objects.get(pk=again.renewed_cycle_id).state == "open"
        assert Certificate.objects.get(number=number).voided_at is None
        assert Order.objects.get(pk=first.order_id).state == "refunded"


@pytest.mark.django_db
class TestPendingRefunds:
    def test_the_payment_is_refunded_only_when_its_succeeded_refunds_add_up_to_all_of_it(self, user, staff,
                                                                                         settings):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        a = pending(payment, settings, LineRefund(line.pk, Decimal("30.00"), "keep"))
        plan = refund_plan(payment=Payment.objects.get(pk=payment.pk),
                           lines=[LineRefund(line.pk, Decimal("40.00"), "keep")])
        b = payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("40.00"), "keep")], by=staff)
        assert b.state == "succeeded"
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount, payment.order.state) == ("succeeded", Decimal("70.00"),
                                                                                 "paid")
        # The page said so before: nothing left to refund, but not all of it refunded while A is pending.
        assert (plan.left_after, plan.pending, plan.full) == (Decimal("0.00"), Decimal("30.00"), False)
        made = made_at_stripe(a, "failed")
        with pytest.raises(PaymentError) as exc:
            refund_retry(refund_id=a.pk, by=staff)
        assert exc.value.message == "Stripe could not make the refund (failed)."
        a.refresh_from_db()
        assert (a.state, a.stripe_refund, a.failure_message) == ("failed", made.id,
                                                                 "Stripe could not make the refund (failed).")
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount, payment.order.state) == ("succeeded", Decimal("40.00"),
                                                                                 "paid")
        rest = payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("30.00"), "keep")], by=staff)
        assert rest.state == "succeeded"
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount, payment.order.state) == ("refunded", Decimal("70.00"),
                                                                                 "refunded")

    def test_the_last_pending_refund_to_succeed_marks_the_payment_refunded(self, user, staff, settings):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        a = pending(payment, settings, LineRefund(line.pk, Decimal("30.00"), "keep"))
        payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("40.00"), "keep")], by=staff)
        assert Payment.objects.get(pk=payment.pk).state == "succeeded"
        assert refund_retry(refund_id=a.pk, by=staff).state == "succeeded"
        payment.refresh_from_db()
        assert (payment.state, payment.order.state) == ("refunded", "refunded")
        assert stripe_refunds(payment) == [3000, 4000]

    def test_a_refund_stripe_made_whose_answer_was_lost_is_not_made_again(self, user, staff, settings):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        a = pending(payment, settings, LineRefund(line.pk, Decimal("70.00"), "undo"))
        made = made_at_stripe(a)
        refund = refund_retry(refund_id=a.pk, by=staff)
        assert (refund.state, refund.stripe_refund) == ("succeeded", made.id)
        assert [c.state for c in cycles(line)] == ["open", "undone"]
        assert stripe_refunds(payment) == [7000]

    def test_a_refund_pending_at_stripe_stays_pending_until_stripe_says_it_succeeded(self, user, staff, settings):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        a = pending(payment, settings, LineRefund(line.pk, Decimal("70.00"), "undo"))
        made = made_at_stripe(a, "pending")
        for _ in range(2):  # asked again while Stripe is still at it: looked up, not made again
            refund = refund_retry(refund_id=a.pk, by=staff)
            assert (refund.state, refund.stripe_refund, refund.stripe_claimed_at) == ("pending", made.id, None)
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount) == ("succeeded", Decimal("70.00"))
        assert [c.state for c in cycles(line)] == ["renewed", "open"]
        stripe_client().v1.refunds.update(made.id, params={"status": "succeeded"})
        refund = refund_retry(refund_id=a.pk, by=staff)
        assert (refund.state, refund.stripe_refund) == ("succeeded", made.id)
        assert [c.state for c in cycles(line)] == ["open", "undone"]
        assert Payment.objects.get(pk=payment.pk).state == "refunded"
        assert stripe_refunds(payment) == [7000]

    def test_a_refund_stripe_canceled_lets_its_amount_go(self, user, staff, settings):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        a = pending(payment, settings, LineRefund(line.pk, Decimal("70.00"), "undo"))
        made_at_stripe(a, "canceled")
        with pytest.raises(PaymentError, match=r"^Stripe could not make the refund \(canceled\)\.$"):
            refund_retry(refund_id=a.pk, by=staff)
        assert Refund.objects.get(pk=a.pk).state == "failed"
        assert Payment.objects.get(pk=payment.pk).refunded_amount == Decimal("0.00")
        assert [c.state for c in cycles(line)] == ["renewed", "open"]

    def test_the_refund_asked_of_stripe_carries_its_id(self, user, staff):
        payment = paid(user, "CPT", total="60.00")
        refund = payment_refund(payment_id=payment.pk, lines=[LineRefund(line_of(payment, "CPT").pk,
                                                                         Decimal("60.00"), "keep")], by=staff)
        made = stripe_client().v1.refunds.retrieve(refund.stripe_refund)
        assert (made.metadata["refund"], made.metadata["order"]) == (str(refund.pk), payment.order.number)

    @pytest.mark.parametrize("first", ["undo", "keep"])
    def test_a_renewal_undone_by_another_refund_first_is_said_to_be_already_undone(self, user, staff, settings,
                                                                                   first):
        payment = paid(user, "EP", total="70.00")
        line = line_of(payment, "EP")
        renewed, _ = cycles(line)
        a = pending(payment, settings, LineRefund(line.pk, Decimal("30.00"), first))
        b = payment_refund(payment_id=payment.pk, lines=[LineRefund(line.pk, Decimal("40.00"), "undo")], by=staff)
        assert b.lines.get().outcome.startswith("EP renewal undone: ")
        logged = CycleLog.objects.count()
        a = refund_retry(refund_id=a.pk, by=staff)
        [said] = a.lines.all()
        assert (said.renewal, said.outcome, said.undid_renewal) == (first, "The EP renewal was already undone.",
                                                                    False)
        assert (b.lines.get().undid_renewal, CycleLog.objects.count()) == (True, logged)
        assert Cycle.objects.get(pk=renewed.pk).state == "open"
