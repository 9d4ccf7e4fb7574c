"""Changing one's own zone after a deadline never brings the deadline back, and a receipt keeps the zone the
order was placed in."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts.services import person_time_zone_set
from acsm_portal import clock
from cart.models import CartLine
from cart.services import cart_recheck
from payments.models import Order
from tests.factories import UserFactory, renewable_certification
from tests.payments.helpers import BILLING, card

pytestmark = [pytest.mark.deadlines, pytest.mark.django_db]
YEAR = clock.today().year
EASTERN = ZoneInfo("America/New_York")


@pytest.fixture
def in_grace(settings):
    """Casey in New York at 12:30 AM on Jan 1, her CPT renewal and its $80.00 late fee in the cart."""
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(datetime(YEAR + 1, 1, 1, 0, 30, tzinfo=EASTERN), tick=False) as traveller:
        person = UserFactory(time_zone="America/New_York")
        certification = renewable_certification(person, "CPT", date(YEAR - 2, 1, 1), date(YEAR, 12, 31),
                                                cpr_expires=date(YEAR + 2, 1, 1))
        yield person, certification, traveller


def test_moving_west_after_the_deadline_keeps_the_late_fee(in_grace, client):
    person, certification, traveller = in_grace
    client.force_login(person)
    client.post(reverse("cart_renew", args=[certification.pk]))
    client.post(reverse("profile"), {"time_zone": "Pacific/Pago_Pago"})  # still Dec 31 there
    person.refresh_from_db()
    assert (person.time_zone, person.previous_time_zone) == ("Pacific/Pago_Pago", "America/New_York")
    assert clock.today_for(person) == date(YEAR + 1, 1, 1)
    result = cart_recheck(user=person, today=clock.today_for(person))
    assert [(x.kind, x.unit_price) for x in result.lines] == [("renewal", Decimal("60.00")),
                                                               ("late_fee", Decimal("80.00"))]
    assert result.total == Decimal("140.00")
    html = client.get(reverse("dashboard")).content.decode()
    assert "Expired (grace period)" in html
    # Two days on, the new zone alone decides (every zone is past the deadline by then).
    traveller.move_to(datetime(YEAR + 1, 1, 3, 1, 0, tzinfo=EASTERN))
    assert clock.today_for(person) == date(YEAR + 1, 1, 2)


def test_moving_east_takes_effect_at_once(in_grace):
    person, _, _ = in_grace
    person_time_zone_set(user=person, name="Pacific/Auckland")
    assert clock.today_for(person) == date(YEAR + 1, 1, 1)  # 6:30 PM on Jan 1 in Auckland


def test_setting_the_same_zone_again_changes_nothing(in_grace):
    person, _, _ = in_grace
    person_time_zone_set(user=person, name="America/New_York")
    person.refresh_from_db()
    assert (person.previous_time_zone, person.time_zone_changed_at) == ("", None)


@pytest.mark.usefixtures("localstripe")
def test_the_receipt_keeps_the_zone_the_order_was_placed_in(settings, client):
    from payments.services import order_place, payment_charge, payment_start
    from cart.services import cart_add_renewal

    settings.TIME_ZONE = "America/New_York"
    pacific = ZoneInfo("America/Los_Angeles")
    with time_machine.travel(datetime(YEAR, 12, 31, 21, 30, tzinfo=pacific), tick=True):
        person = UserFactory(time_zone="America/Los_Angeles")
        certification = renewable_certification(person, "CPT", date(YEAR - 2, 1, 1), date(YEAR, 12, 31),
                                                cpr_expires=date(YEAR + 2, 1, 1))
        cart_add_renewal(user=person, certification_id=certification.pk, today=clock.today_for(person))
        order = order_place(user=person, billing=BILLING, expected_total=Decimal("60.00"),
                            today=clock.today_for(person))
        payment, _ = payment_start(order=order)
        payment_charge(payment_id=payment.pk, user=person, payment_method=card())
        order.refresh_from_db()
        assert (order.state, order.time_zone, order.total) == (Order.State.PAID, "America/Los_Angeles",
                                                               Decimal("60.00"))
        person_time_zone_set(user=person, name="America/New_York")
        client.force_login(person)
        html = client.get(reverse("receipt", args=[order.number])).content.decode()
    assert f"12/31/{YEAR} 9:30 PM Pacific time" in html
    assert list(CartLine.objects.filter(cart__user=person)) == []
