"""An order placed before a deadline keeps its prices when the bank confirms after midnight.

The person places the order at 11:58 PM on the deadline (their time) with a card that asks for 3-D
Secure; the bank's confirmation arrives at 12:03 AM the next day. The renewal is charged at the prices
of the order (no late fee added at the cycle end; no refusal at the grace period's end) and renews the
cycle that was paid for. Both deadlines are those of the coming season, in an Eastern and a Pacific
certificant's zone.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from acsm_portal import clock
from cart.models import CartLine
from cart.services import cart_add_renewal, cart_recheck
from certifications.models import Certificate, Cycle
from payments import rules
from payments.models import Order
from payments.services import order_place, payment_charge, payment_refresh, payment_start
from tests.factories import UserFactory, renewable_certification
from tests.payments.helpers import BILLING, CARD_3DS, authenticate_3ds, card

pytestmark = [pytest.mark.deadlines, pytest.mark.django_db, pytest.mark.usefixtures("localstripe")]

YEAR = clock.today().year
CYCLE = (date(YEAR - 2, 1, 1), date(YEAR, 12, 31))
DEADLINES = {
    # deadline day -> what the order holds
    "cycle-end": (date(YEAR, 12, 31), [("CPT Recertification", Decimal("60.00"))], Decimal("60.00")),
    "grace-end": (date(YEAR + 1, 6, 30), [("CPT Recertification", Decimal("60.00")),
                                          ("CPT Late fee", Decimal("80.00"))], Decimal("140.00")),
}


@pytest.mark.parametrize("zone", ["America/New_York", "America/Los_Angeles"])
@pytest.mark.parametrize("deadline", list(DEADLINES))
def test_an_order_placed_before_midnight_and_confirmed_after_keeps_its_prices(deadline, zone, settings):
    settings.TIME_ZONE = "America/New_York"
    day, lines, total = DEADLINES[deadline]
    local = ZoneInfo(zone)
    with time_machine.travel(datetime.combine(day, datetime.min.time(), local).replace(hour=23, minute=58),
                             tick=True) as traveller:
        person = UserFactory(time_zone=zone)
        certification = renewable_certification(person, "CPT", *CYCLE, cpr_expires=day + timedelta(days=500))
        paid_cycle = certification.cycles.get(state=Cycle.State.OPEN)
        assert clock.today_for(person) == day
        cart_add_renewal(user=person, certification_id=certification.pk, today=clock.today_for(person))
        order = order_place(user=person, billing=BILLING, expected_total=total, today=clock.today_for(person))
        payment, _ = payment_start(order=order)
        outcome = payment_charge(payment_id=payment.pk, user=person, payment_method=card(CARD_3DS))
        assert outcome.state == rules.REQUIRES_ACTION

        traveller.move_to(datetime.combine(day + timedelta(days=1), datetime.min.time(), local).replace(minute=3))
        after = clock.today_for(person)
        assert after == day + timedelta(days=1)
        authenticate_3ds(outcome.client_secret)
        assert payment_refresh(payment_id=payment.pk, user=person).state == rules.SUCCEEDED

        order.refresh_from_db()
        assert (order.state, order.total) == (Order.State.PAID, total)
        assert [(x.description, x.unit_price) for x in order.lines.order_by("id")] == lines
        assert list(CartLine.objects.filter(cart__user=person)) == []
        assert cart_recheck(user=person, today=after).lines == []
        paid_cycle.refresh_from_db()
        assert paid_cycle.state == Cycle.State.RENEWED
        opened = certification.cycles.get(state=Cycle.State.OPEN)
        assert (opened.start, opened.end) == (date(YEAR + 1, 1, 1), date(YEAR + 3, 12, 31))
        late_fee = [("late_fee", paid_cycle.pk, None)] if deadline == "grace-end" else []
        assert [(x.kind, x.cycle_id, x.renewed_cycle_id) for x in order.lines.order_by("id")] == [
            ("renewal", paid_cycle.pk, opened.pk), *late_fee]
        certificate = Certificate.objects.get(cycle=opened)
        assert (certificate.issued_on, certificate.valid_through) == (after, date(YEAR + 3, 12, 31))
