"""A renewal left in the cart while a deadline passes: the tile says what changed before the cart is opened."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from acsm_portal import clock
from tests.factories import UserFactory, renewable_certification

pytestmark = [pytest.mark.deadlines, pytest.mark.django_db]
YEAR = clock.today().year


@pytest.mark.parametrize("zone", ["America/New_York", "America/Los_Angeles"])
def test_a_renewal_in_the_cart_when_the_grace_period_ends(zone, client, settings):
    settings.TIME_ZONE = "America/New_York"
    local = ZoneInfo(zone)
    with time_machine.travel(datetime(YEAR + 1, 6, 30, 23, 30, tzinfo=local), tick=False) as traveller:
        person = UserFactory(time_zone=zone)
        certification = renewable_certification(person, "CPT", date(YEAR - 2, 1, 1), date(YEAR, 12, 31),
                                                cpr_expires=date(YEAR + 2, 1, 1))
        client.force_login(person)
        client.post(reverse("cart_renew", args=[certification.pk]))
        html = client.get(reverse("dashboard")).content.decode()
        assert '<span class="badge text-bg-success tile-in-cart">In cart</span>' in html
        assert "A $80.00 late fee applies." in html
        assert "1 renewal in your cart" in html

        traveller.move_to(datetime(YEAR + 1, 7, 1, 0, 30, tzinfo=local))
        html = client.get(reverse("dashboard")).content.decode()
        assert '<span class="badge text-bg-warning tile-in-cart">In cart, cannot be renewed</span>' in html
        assert ("This certification has lapsed; contact us about reinstatement. It will be taken out of your cart."
                in html)
        assert "A $80.00 late fee applies." not in html
        assert "Press RENEW on a certification to add it to your cart." in html
