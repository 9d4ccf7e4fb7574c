from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
import pytest
from django.db import connections

from acsm_portal import clock
from cart.models import CartLine
from certifications.models import Cycle
from certifications.renewals import certification_renew
from payments import rules
from payments.models import Order, Payment, PaymentLog
from payments.services import (
    IllegalTransition, PaymentError, order_place, payment_charge, payment_confirm, payment_refresh, payment_refund,
    payment_start, payment_transition,
)
from payments.stripe_gateway import client as stripe_client
from tests.dates import next_leap_year
from tests.factories import UserFactory, certification_with_cycle
from tests.payments.helpers import BILLING, CARD_3DS, CARD_DECLINED, authenticate_3ds, card, cart_with, placed_order

pytestmark = pytest.mark.usefixtures("localstripe")


@pytest.mark.django_db
class TestOrderPlace:
    def test_lines_and_prices_are_copied(self, user):
        order = placed_order(user, "CPT", "EP", total="130.00")
        assert order.state == Order.State.PENDING
        assert order.total == Decimal("130.00")
        assert [(x.description, x.quantity, x.unit_price, x.total_price) for x in order.lines.order_by("id")] == [
            ("CPT Recertification", 1, Decimal("60.00"), Decimal("60.00")),
            ("EP Recertification", 1, Decimal("70.00"), Decimal("70.00")),
        ]
        assert (order.billing_name, order.billing_city, order.billing_country) == ("Jordan Lee", "Indianapolis", "US")

    def test_placing_the_same_cart_again_returns_the_same_order(self, user):
        first = placed_order(user, "CPT", total="60.00")
        again = order_place(user=user, billing=BILLING, expected_total=Decimal("60.00"), today=clock.today_for(user))
        assert again.pk == first.pk
        assert Order.objects.count() == 1

    def test_a_changed_cart_replaces_the_pending_order(self, user):
        first = placed_order(user, "CPT", total="60.00")
        cart_with(user, "EP")
        second = order_place(user=user, billing=BILLING, expected_total=Decimal("130.00"), today=clock.today_for(user))
        first.refresh_from_db()
        assert first.state == Order.State.CANCELED
        assert second.total == Decimal("130.00")

    def test_tampered_total_changes_nothing(self, user):
        cart_with(user, "CPT")
        with pytest.raises(PaymentError) as exc:
            order_place(user=user, billing=BILLING, expected_total=Decimal("0.01"), today=clock.today_for(user))
        assert str(exc.value) == ("The total changed from $0.01 to $60.00. Please review your cart and pay again.")
        assert Order.objects.count() == 0

    def test_empty_cart(self, user):
        with pytest.raises(PaymentError, match="Your cart is empty."):
            order_place(user=user, billing=BILLING, expected_total=Decimal("0"), today=clock.today_for(user))


@pytest.mark.django_db
class TestCharge:
    def test_success_renews_and_empties_the_cart(self, user):
        today = clock.today_for(user)
        cpt, ep = cart_with(user, "CPT", "EP")
        order = order_place(user=user, billing=BILLING, expected_total=Decimal("130.00"), today=today)
        payment, secret = payment_start(order=order)
        assert secret.startswith("seti_")
        outcome = payment_charge(payment_id=payment.pk, user=user, payment_method=card())
        assert outcome.state == rules.SUCCEEDED
        payment.refresh_from_db()
        order.refresh_from_db()
        assert (payment.state, payment.card_brand, payment.card_last4) == ("succeeded", "visa", "4242")
        assert payment.stripe_payment_intent.startswith("pi_")
        intent = stripe_client().v1.payment_intents.retrieve(payment.stripe_payment_intent)
        assert (intent.amount, intent.currency, intent.status) == (13000, "usd", "succeeded")
        assert order.state == Order.State.PAID and order.paid_at is not None
        for cert in (cpt, ep):
            old = cert.cycles.get(state=Cycle.State.RENEWED)
            new = cert.cycles.get(state=Cycle.State.OPEN)
            assert (new.start, new.end) == (date(today.year + 2, 1, 1), date(today.year + 4, 12, 31))
            assert old.end == date(today.year + 1, 12, 31)
        assert CartLine.objects.filter(cart__user=user).count() == 0
        assert list(PaymentLog.objects.filter(payment=payment).values_list("from_state", "to_state")) == [
            ("created", "processing"), ("processing", "succeeded")]

    def test_decline_keeps_order_and_cart_then_a_good_card_pays(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        outcome = payment_charge(payment_id=payment.pk, user=user, payment_method=card(CARD_DECLINED))
        assert outcome.state == rules.FAILED
        assert outcome.message == "Your card was declined."
        order.refresh_from_db()
        assert order.state == Order.State.PENDING
        assert CartLine.objects.filter(cart__user=user).count() == 1
        retry, _ = payment_start(order=order)
        assert retry.pk != payment.pk
        assert payment_charge(payment_id=retry.pk, user=user, payment_method=card()).state == rules.SUCCEEDED
        order.refresh_from_db()
        assert order.state == Order.State.PAID
        assert list(order.payments.order_by("id").values_list("state", flat=True)) == ["failed", "succeeded"]

    def test_three_d_secure_completed_in_the_page(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        outcome = payment_charge(payment_id=payment.pk, user=user, payment_method=card(CARD_3DS))
        assert outcome.state == rules.REQUIRES_ACTION
        assert outcome.client_secret.startswith("pi_")
        order.refresh_from_db()
        assert order.state == Order.State.PENDING
        # What Stripe.js does when the person completes authentication:
        authenticate_3ds(outcome.client_secret)
        assert payment_refresh(payment_id=payment.pk, user=user).state == rules.SUCCEEDED
        order.refresh_from_db()
        assert order.state == Order.State.PAID

    def test_a_second_submit_does_not_charge_again(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        method = card()
        assert payment_charge(payment_id=payment.pk, user=user, payment_method=method).state == rules.SUCCEEDED
        assert payment_charge(payment_id=payment.pk, user=user, payment_method=method).state == rules.SUCCEEDED
        with pytest.raises(PaymentError, match="This order is no longer awaiting payment."):
            payment_start(order=order)
        assert Payment.objects.filter(order=order).count() == 1

    def test_another_persons_payment(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        with pytest.raises(Payment.DoesNotExist):
            payment_charge(payment_id=payment.pk, user=UserFactory(), payment_method=card())
        payment.refresh_from_db()
        assert payment.state == rules.CREATED

    def test_amount_mismatch_is_not_paid(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        with pytest.raises(PaymentError, match="Amount mismatch"):
            payment_confirm(payment_id=payment.pk, amount_cents=5999, actor="webhook")
        order.refresh_from_db()
        payment.refresh_from_db()
        assert (order.state, payment.state) == ("pending", "created")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_attempts_on_one_cart_make_exactly_one_charge(user):
    order = placed_order(user, "CPT", total="60.00")
    payment, _ = payment_start(order=order)
    method = card()

    def attempt(_):
        try:
            return payment_charge(payment_id=payment.pk, user=user, payment_method=method).state
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        states = list(pool.map(attempt, range(20)))
    assert set(states) <= {"processing", "succeeded"}
    assert states.count("succeeded") >= 1
    payment.refresh_from_db()
    assert payment.state == rules.SUCCEEDED
    assert PaymentLog.objects.filter(payment=payment, to_state="processing").count() == 1
    intents = [pi for pi in stripe_client().v1.payment_intents.list(params={"limit": 100}).data
               if pi.metadata.to_dict().get("payment") == str(payment.pk)]
    assert len(intents) == 1
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID


@pytest.mark.django_db
class TestStateMachine:
    @pytest.mark.parametrize(("start", "target"), [
        (a, b) for a in rules.TRANSITIONS for b in rules.TRANSITIONS if a != b
    ])
    def test_every_move(self, user, start, target):
        order = placed_order(user, "CPT", total="60.00")
        payment = Payment.objects.create(order=order, amount=order.total, state=start)
        if rules.can_move(start, target):
            moved = payment_transition(payment_id=payment.pk, to=target, actor="test")
            assert moved.state == target
            assert PaymentLog.objects.get(payment=payment).actor == "test"
        else:
            with pytest.raises(IllegalTransition, match=f"A payment cannot go from {start} to {target}."):
                payment_transition(payment_id=payment.pk, to=target, actor="test")
            payment.refresh_from_db()
            assert payment.state == start

    def test_repeat_is_a_no_op(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment = Payment.objects.create(order=order, amount=order.total)
        payment_transition(payment_id=payment.pk, to="processing", actor="a")
        payment_transition(payment_id=payment.pk, to="processing", actor="b")
        assert PaymentLog.objects.filter(payment=payment).count() == 1

    @pytest.mark.parametrize(("amount", "cents"), [("60.00", 6000), ("0.01", 1), ("130.10", 13010),
                                                   ("99999999.99", 9999999999)])
    def test_cents(self, amount, cents):
        assert rules.to_cents(Decimal(amount)) == cents
        assert rules.from_cents(cents) == Decimal(amount)

    def test_fraction_of_a_cent_refused(self):
        with pytest.raises(ValueError):
            rules.to_cents(Decimal("1.005"))


@pytest.mark.django_db
class TestRefunds:
    def paid(self, user):
        order = placed_order(user, "CPT", "EP", total="130.00")
        payment, _ = payment_start(order=order)
        payment_charge(payment_id=payment.pk, user=user, payment_method=card())
        return Payment.objects.get(pk=payment.pk)

    def test_partial_then_rest_then_no_more(self, user):
        staff = UserFactory(is_staff=True)
        payment = self.paid(user)
        first = payment_refund(payment_id=payment.pk, amount=Decimal("30.00"), by=staff, reason="goodwill")
        assert first.stripe_refund.startswith("re_")
        with pytest.raises(PaymentError) as exc:
            payment_refund(payment_id=payment.pk, amount=Decimal("100.01"), by=staff)
        assert str(exc.value) == "A refund of $100.01 is more than the $100.00 left to refund."
        payment_refund(payment_id=payment.pk, amount=Decimal("100.00"), by=staff)
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount) == ("refunded", Decimal("130.00"))
        assert Order.objects.get(pk=payment.order_id).state == Order.State.REFUNDED
        with pytest.raises(PaymentError, match="Only a succeeded payment can be refunded"):
            payment_refund(payment_id=payment.pk, amount=Decimal("1.00"), by=staff)
        refunds = stripe_client().v1.refunds.list(params={"limit": 100}).data
        assert sorted(r.amount for r in refunds if r.payment_intent == payment.stripe_payment_intent) == [3000, 10000]

    def test_refund_must_be_positive(self, user):
        with pytest.raises(PaymentError, match=r"A refund must be more than \$0.00."):
            payment_refund(payment_id=self.paid(user).pk, amount=Decimal("0"), by=UserFactory(is_staff=True))


L = next_leap_year(clock.today().year)


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "end", "next_start", "next_end"), [
    pytest.param(date(L - 4, 1, 1), date(L - 2, 12, 31), date(L - 1, 1, 1), date(L + 1, 12, 31), id="dec-31"),
    pytest.param(date(L - 3, 3, 1), date(L, 2, 29), date(L, 3, 1), date(L + 3, 2, 28), id="feb-29-to-common-year"),
    pytest.param(date(L - 6, 3, 1), date(L - 3, 2, 28), date(L - 3, 3, 1), date(L, 2, 29),
                 id="feb-28-common-to-leap-year"),
    pytest.param(date(L - 3, 3, 1), date(L, 2, 28), date(L, 2, 29), date(L + 3, 2, 28),
                 id="feb-28-of-a-leap-year"),
])
def test_renewal_cycle_dates_and_idempotency(user, start, end, next_start, next_end):
    cert = certification_with_cycle(user, "CPT", start, end)
    cycle = cert.cycles.get()
    new = certification_renew(cycle_id=cycle.pk)
    assert (new.start, new.end, new.state) == (next_start, next_end, "open")
    assert certification_renew(cycle_id=cycle.pk).pk == new.pk
    assert cert.cycles.count() == 2
