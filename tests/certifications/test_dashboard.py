from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import CECEntryFactory, certification_with_cycle, renewable_certification
from tests.pages import text, tile


@pytest.mark.django_db
class TestTiles:
    def test_partial_speedometer_and_quarter_credits(self, user_client, user, today):
        certification_with_cycle(user, "EP")  # the default cycle: around today
        CECEntryFactory(user=user, date_earned=date(today.year - 1, 1, 5), units=Decimal("44.25"),
                        cecs=Decimal("44.25"))
        t = text(tile(user_client.get(reverse("dashboard")).content.decode(), "Certified Exercise Physiologist"))
        assert "73% 44.25 of 60" in t
        assert "Total CECs 44.25" in t

    def test_in_process_tile_says_when_the_late_fee_starts(self, user_client, user, open_cycle):
        certification_with_cycle(user, "CPT", *open_cycle)
        html = user_client.get(reverse("dashboard")).content.decode()
        end = open_cycle[1]
        assert 'status-in_process">Recertification in Process</dd>' in html
        assert (f'<dd class="small tile-deadline">Renew by 12/31/{end.year} at 11:59 PM Eastern time; after that a '
                f'$80.00 late fee applies.</dd>') in tile(html, "Certified Personal Trainer")

    def test_grace_period_tile(self, user_client, user, today):
        end = today - timedelta(days=1)  # the cycle ended yesterday
        start = end - timedelta(days=3 * 365)
        certification_with_cycle(user, "CPT", start, end)
        html = user_client.get(reverse("dashboard")).content.decode()
        t = text(tile(html, "Certified Personal Trainer"))
        grace = date(end.year + 1, 6, 30) if end >= date(end.year, 6, 30) else date(end.year, 6, 30)
        assert "Expired (grace period)" in t
        assert (f"Your cycle ended {end.month}/{end.day}/{end.year}. You can still renew until 6/30/{grace.year} "
                f"at 11:59 PM Eastern time, with a $80.00 late fee.") in t

    def test_lapsed_tile_points_to_reinstatement(self, user_client, user, today):
        certification_with_cycle(user, "CPT", date(today.year - 5, 1, 1), date(today.year - 2, 12, 31))
        t = text(tile(user_client.get(reverse("dashboard")).content.decode(), "Certified Personal Trainer"))
        assert "Lapsed" in t
        assert (f"This certification lapsed after the grace period ended on 6/30/{today.year - 1} at 11:59 PM "
                "Eastern time. Please contact the certification department about reinstatement.") in t
        assert "The Renew button will appear" not in t

    def test_other_peoples_credits_never_show(self, user_client, user, other_user, today):
        certification_with_cycle(user, "CPT")
        CECEntryFactory(user=other_user, date_earned=date(today.year - 1, 2, 2), course_name="Someone else's course")
        html = user_client.get(reverse("dashboard")).content.decode()
        assert "Someone else" not in html
        assert "0% 0 of 45" in text(tile(html, "Certified Personal Trainer"))

    def test_no_certifications(self, user_client):
        html = user_client.get(reverse("dashboard")).content.decode()
        assert "You hold no certifications yet." in html


@pytest.mark.django_db
class TestRenewOnTile:
    def test_renew_shows_when_eligible_and_in_cart_after(self, user_client, user, open_cycle):
        cert = renewable_certification(user, "CPT", *open_cycle)
        html = user_client.get(reverse("dashboard")).content.decode()
        t = tile(html, "Certified Personal Trainer")
        assert f'action="{reverse("cart_renew", args=[cert.pk])}"' in t
        assert "RENEW" in text(t)
        assert "The Renew button will appear" not in t
        user_client.post(reverse("cart_renew", args=[cert.pk]))
        html = user_client.get(reverse("dashboard")).content.decode()
        t = tile(html, "Certified Personal Trainer")
        assert "In cart" in text(t)
        assert f'action="{reverse("cart_remove", args=[cert.pk])}"' in t
        assert 'aria-label="Remove CPT renewal from cart"' in t
        assert "1 renewal in your cart" in html

    def test_no_renew_without_cpr(self, user_client, user, today):
        certification_with_cycle(user, "CPT")
        CECEntryFactory(user=user, date_earned=date(today.year - 1, 1, 5), units=Decimal("45"), cecs=Decimal("45"))
        t = tile(user_client.get(reverse("dashboard")).content.decode(), "Certified Personal Trainer")
        assert "RENEW" not in text(t)
        assert "The Renew button will appear" in text(t)
