from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction

from acsm_portal import clock
from cart.models import CartLine
from certifications.models import Cycle
from certifications.renewals import certification_renew
from payments import rules
from payments.models import Order, OrderLog, Payment, PaymentLog
from payments.services import (
    IllegalTransition, PaymentError, order_place, order_transition, payment_charge, payment_confirm, payment_refresh,
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
        payment, _ = payment_start(order=first)
        cart_with(user, "EP")
        moment = clock.now()
        second = order_place(user=user, billing=BILLING, expected_total=Decimal("130.00"), today=clock.today_for(user))
        first.refresh_from_db()
        payment.refresh_from_db()
        assert first.state == Order.State.CANCELED
        assert first.canceled_at >= moment
        assert second.total == Decimal("130.00")
        assert (payment.state, payment.state_changed_by) == ("canceled", f"user:{user.pk}")
        assert list(OrderLog.objects.filter(order=first).values_list("from_state", "to_state", "actor", "note")) == [
            ("pending", "canceled", f"user:{user.pk}", "Replaced by a changed cart."),
        ]
        assert list(PaymentLog.objects.filter(payment=payment).values_list("from_state", "to_state", "note")) == [
            ("created", "canceled", "Its order was replaced by a changed cart."),
        ]
        assert OrderLog.objects.filter(order=second).count() == 0

    def test_a_taken_order_number_is_drawn_again(self, user, other_user, monkeypatch):
        draws = iter(["a1b2c3", "a1b2c3", "d4e5f6"])
        monkeypatch.setattr("payments.services.secrets.token_hex", lambda n: next(draws))
        first = placed_order(other_user, "CPT", total="60.00")
        second = placed_order(user, "CPT", total="60.00")
        year = f"{clock.today_for(user):%y}"
        assert (first.number, second.number) == (f"R{year}-A1B2C3", f"R{year}-D4E5F6")
        assert Order.objects.get(pk=second.pk).lines.count() == 1

    def test_when_every_draw_is_taken_nothing_is_placed(self, user, other_user, monkeypatch):
        monkeypatch.setattr("payments.services.secrets.token_hex", lambda n: "a1b2c3")
        placed_order(other_user, "CPT", total="60.00")
        cart_with(user, "CPT")
        with pytest.raises(IntegrityError), transaction.atomic():
            order_place(user=user, billing=BILLING, expected_total=Decimal("60.00"), today=clock.today_for(user))
        assert Order.objects.filter(user=user).count() == 0

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
            line = order.lines.get(certification=cert)
            assert (line.cycle_id, line.renewed_cycle_id) == (old.pk, new.pk)
        assert CartLine.objects.filter(cart__user=user).count() == 0
        assert list(PaymentLog.objects.filter(payment=payment).values_list("from_state", "to_state")) == [
            ("created", "processing"), ("processing", "succeeded")]

    def test_the_setup_intent_key_comes_from_the_payment(self, user, monkeypatch):
        from stripe._setup_intent_service import SetupIntentService

        keys = []
        create = SetupIntentService.create

        def spy(service, params=None, options=None):
            keys.append(options["idempotency_key"])
            return create(service, params, options)

        monkeypatch.setattr(SetupIntentService, "create", spy)
        order = placed_order(user, "CPT", total="60.00")
        payment, first_secret = payment_start(order=order)
        first = Payment.objects.get(pk=payment.pk).stripe_setup_intent
        again, second_secret = payment_start(order=order)  # the page started again (a reload)
        second = Payment.objects.get(pk=payment.pk).stripe_setup_intent
        assert again.pk == payment.pk
        assert keys == [f"seti-{payment.pk}", f"seti-{payment.pk}-after-{first}"]
        assert first.startswith("seti_") and second.startswith("seti_") and first != second
        assert (first_secret.split("_secret_")[0], second_secret.split("_secret_")[0]) == (first, second)

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

    def test_paying_logs_the_order_move_once(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        payment_charge(payment_id=payment.pk, user=user, payment_method=card())
        payment_confirm(payment_id=payment.pk, amount_cents=6000, actor="webhook")  # a late webhook: a no-op
        assert list(OrderLog.objects.filter(order=order).values_list("from_state", "to_state", "actor", "note")) == [
            ("pending", "paid", "stripe", f"Payment {payment.pk} succeeded."),
        ]

    def test_a_charge_for_a_replaced_order_is_recorded_but_renews_nothing(self, user, caplog):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        payment_transition(payment_id=payment.pk, to=rules.PROCESSING, actor="test")
        payment_transition(payment_id=payment.pk, to=rules.FAILED, actor="test")
        order_transition(order_id=order.pk, to=Order.State.CANCELED, actor="test")
        cycle = Cycle.objects.get(pk=order.lines.get().cycle_id)
        payment_confirm(payment_id=payment.pk, amount_cents=6000, actor="webhook")
        payment.refresh_from_db()
        order.refresh_from_db()
        cycle.refresh_from_db()
        assert (payment.state, order.state, order.paid_at, cycle.state) == ("succeeded", "canceled", None, "open")
        assert f"Order {order.number} is canceled but payment {payment.pk} succeeded; refund it" in caplog.text

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

    def test_a_refused_move_is_a_service_error_with_its_message(self, user):
        from acsm_portal.errors import ServiceError

        order = placed_order(user, "CPT", total="60.00")
        with pytest.raises(ServiceError) as exc:
            order_transition(order_id=order.pk, to=Order.State.REFUNDED, actor="test")
        assert type(exc.value) is IllegalTransition
        assert exc.value.message == "An order cannot go from pending to refunded."

    def test_a_state_among_the_fields_is_refused(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment = Payment.objects.create(order=order, amount=order.total)
        with pytest.raises(TypeError):
            payment_transition(payment_id=payment.pk, to="processing", actor="a", state="succeeded")
        with pytest.raises(TypeError):
            order_transition(order_id=order.pk, to="canceled", actor="a", state="paid")
        assert (Payment.objects.get(pk=payment.pk).state, Order.objects.get(pk=order.pk).state) == ("created",
                                                                                                   "pending")

    @pytest.mark.parametrize(("amount", "cents"), [("60.00", 6000), ("0.01", 1), ("130.10", 13010),
                                                   ("99999999.99", 9999999999)])
    def test_cents(self, amount, cents):
        assert rules.to_cents(Decimal(amount)) == cents

    def test_fraction_of_a_cent_refused(self):
        with pytest.raises(ValueError):
            rules.to_cents(Decimal("1.005"))


@pytest.mark.django_db
class TestOrderStateMachine:
    @pytest.mark.parametrize(("start", "target"), [
        (a, b) for a in rules.ORDER_TRANSITIONS for b in rules.ORDER_TRANSITIONS if a != b
    ])
    def test_every_move(self, user, start, target):
        order = placed_order(user, "CPT", total="60.00")
        Order.objects.filter(pk=order.pk).update(state=start)  # test set-up: the order as it stands
        if (start, target) in {("pending", "paid"), ("pending", "canceled"), ("paid", "refunded")}:
            moved = order_transition(order_id=order.pk, to=target, actor="staff:7", note="why")
            assert moved.state == target
            assert Order.objects.get(pk=order.pk).state == target
            assert list(OrderLog.objects.filter(order=order).values_list("from_state", "to_state", "actor",
                                                                         "note")) == [(start, target, "staff:7", "why")]
        else:
            with pytest.raises(IllegalTransition, match=f"An order cannot go from {start} to {target}."):
                order_transition(order_id=order.pk, to=target, actor="test")
            assert Order.objects.get(pk=order.pk).state == start
            assert OrderLog.objects.filter(order=order).count() == 0

    def test_fields_are_saved_with_the_move_and_a_repeat_is_a_no_op(self, user):
        order = placed_order(user, "CPT", total="60.00")
        first, second = clock.now(), clock.now() + timedelta(minutes=1)
        order_transition(order_id=order.pk, to=Order.State.PAID, actor="a", paid_at=first)
        again = order_transition(order_id=order.pk, to=Order.State.PAID, actor="b", paid_at=second)
        assert again.paid_at == first
        assert Order.objects.get(pk=order.pk).paid_at == first
        assert list(OrderLog.objects.filter(order=order).values_list("actor", flat=True)) == ["a"]



@pytest.mark.django_db(transaction=True)
def test_an_order_transition_holds_the_row_lock_until_its_transaction_ends(user):
    order = placed_order(user, "CPT", total="60.00")

    def try_lock(_):
        try:
            with transaction.atomic():
                Order.objects.select_for_update(nowait=True).get(pk=order.pk)
            return "locked it"
        except DatabaseError:
            return "busy"
        finally:
            connections.close_all()

    with transaction.atomic():
        order_transition(order_id=order.pk, to=Order.State.CANCELED, actor="first")
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert list(pool.map(try_lock, [1])) == ["busy"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert list(pool.map(try_lock, [1])) == ["locked it"]


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
