from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from acsm_portal import clock
from cart.models import CartLine
from cart.services import CartError, CertificationNotFound, cart_add_renewal, cart_recheck, cart_remove_renewal
from cecs.models import CECEntry
from certifications.models import CertificationType, CprUpload
from tests.factories import UserFactory, certification_with_cycle, renewable_certification


def lines(user):
    return [(x.description, x.unit_price) for x in CartLine.objects.filter(cart__user=user).order_by("id")]


@pytest.mark.django_db
class TestAddRemove:
    def test_add_is_idempotent_and_priced_on_the_server(self, user, open_cycle, today):
        cpt = renewable_certification(user, "CPT", *open_cycle)
        ep = renewable_certification(user, "EP", *open_cycle)
        cart_add_renewal(user=user, certification_id=cpt.pk, today=today)
        cart_add_renewal(user=user, certification_id=cpt.pk, today=today)
        cart_add_renewal(user=user, certification_id=ep.pk, today=today)
        assert lines(user) == [("CPT Recertification", Decimal("60.00")), ("EP Recertification", Decimal("70.00"))]
        assert cart_recheck(user=user, today=today).total == Decimal("130.00")

    def test_remove_takes_out_renewal_and_is_harmless_twice(self, user, open_cycle, today):
        cpt = renewable_certification(user, "CPT", *open_cycle)
        cart_add_renewal(user=user, certification_id=cpt.pk, today=today)
        assert cart_remove_renewal(user=user, certification_id=cpt.pk) == 1
        assert cart_remove_renewal(user=user, certification_id=cpt.pk) == 0
        assert lines(user) == []

    @pytest.mark.parametrize(("setup", "message"), [
        ("no_credits", "This certification cannot be renewed yet. 45 more CECs are needed."),
        ("no_cpr", "This certification cannot be renewed yet. Upload your current CPR/AED certificate."),
        ("rejected_cpr", "This certification cannot be renewed yet. Upload your current CPR/AED certificate."),
    ])
    def test_ineligible_cannot_be_added(self, user, open_cycle, today, setup, message):
        if setup == "no_credits":
            cert = certification_with_cycle(user, "CPT", *open_cycle)
            CprUpload.objects.create(certification=cert, cycle=cert.cycles.get(), state="approved",
                                     submitted_at=clock.now(), expires_on=today + timedelta(days=30))
        elif setup == "no_cpr":
            cert = renewable_certification(user, "CPT", *open_cycle)
            CprUpload.objects.filter(certification=cert).delete()
        else:
            cert = renewable_certification(user, "CPT", *open_cycle, cpr_state="rejected")
        with pytest.raises(CartError) as exc:
            cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        assert str(exc.value) == message
        assert lines(user) == []

    def test_expired_cpr_card_cannot_be_added(self, user, open_cycle, today):
        yesterday = today - timedelta(days=1)
        cert = renewable_certification(user, "CPT", *open_cycle, cpr_expires=yesterday)
        with pytest.raises(CartError) as exc:
            cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        assert str(exc.value) == (f"This certification cannot be renewed yet. Your CPR/AED card expired on "
                                  f"{yesterday.month}/{yesterday.day}/{yesterday.year}; upload a current one.")
        assert lines(user) == []

    def test_another_persons_certification(self, user, other_user, open_cycle, today):
        theirs = renewable_certification(other_user, "CPT", *open_cycle)
        with pytest.raises(CertificationNotFound):
            cart_add_renewal(user=user, certification_id=theirs.pk, today=today)
        with pytest.raises(CertificationNotFound):
            cart_remove_renewal(user=user, certification_id=theirs.pk)
        assert CartLine.objects.count() == 0


@pytest.mark.django_db
class TestLateFee:
    @pytest.mark.parametrize(("days_after_end", "late"), [(0, False), (1, True)])
    def test_late_fee_starts_the_day_after_the_cycle_end(self, user, today, days_after_end, late):
        end = today - timedelta(days=days_after_end)
        cert = renewable_certification(user, "EP", end - timedelta(days=3 * 365), end)
        cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        expected = [("EP Recertification", Decimal("70.00"))] + ([("EP Late fee", Decimal("80.00"))] if late else [])
        assert lines(user) == expected
        assert cart_recheck(user=user, today=today).total == sum((p for _, p in expected), Decimal("0"))

    def test_last_day_of_grace_and_the_day_after(self, user, today):
        end = date(today.year, 12, 31)
        cert = renewable_certification(user, "CPT", date(today.year - 2, 1, 1), end,
                                       cpr_expires=date(today.year + 2, 1, 1))
        last_day_of_grace, first_day_lapsed = date(today.year + 1, 6, 30), date(today.year + 1, 7, 1)
        cart_add_renewal(user=user, certification_id=cert.pk, today=last_day_of_grace)
        assert lines(user) == [("CPT Recertification", Decimal("60.00")), ("CPT Late fee", Decimal("80.00"))]
        result = cart_recheck(user=user, today=first_day_lapsed)
        assert result.lines == []
        assert result.messages == ["CPT Recertification was removed from your cart: This certification has lapsed; "
                                   "contact us about reinstatement."]
        with pytest.raises(CartError) as exc:
            cart_add_renewal(user=user, certification_id=cert.pk, today=first_day_lapsed)
        assert str(exc.value) == ("This certification cannot be renewed yet. "
                                  "This certification has lapsed; contact us about reinstatement.")

    @pytest.mark.parametrize(("time_zone", "label"), [("", "Eastern time"), ("America/Los_Angeles", "Pacific time")])
    def test_recheck_adds_the_late_fee_when_grace_begins(self, today, time_zone, label):
        user = UserFactory(time_zone=time_zone)
        end = date(today.year, 12, 31)
        cert = renewable_certification(user, "CPT", date(today.year - 2, 1, 1), end,
                                       cpr_expires=date(today.year + 2, 1, 1))
        cart_add_renewal(user=user, certification_id=cert.pk, today=end)
        assert lines(user) == [("CPT Recertification", Decimal("60.00"))]
        result = cart_recheck(user=user, today=end + timedelta(days=1))
        assert [(x.description, x.unit_price) for x in result.lines] == [
            ("CPT Recertification", Decimal("60.00")), ("CPT Late fee", Decimal("80.00"))]
        assert result.total == Decimal("140.00")
        assert result.messages == [f"A $80.00 late fee was added for CPT: its cycle ended 12/31/{end.year} at 11:59 PM "
                                   f"{label}."]


@pytest.mark.django_db
class TestRecheck:
    def test_deleted_credits_remove_the_line_with_a_reason(self, user, open_cycle, today):
        cert = renewable_certification(user, "CPT", *open_cycle)
        cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        CECEntry.objects.filter(user=user).delete()
        result = cart_recheck(user=user, today=today)
        assert result.lines == []
        assert result.messages == ["CPT Recertification was removed from your cart: 45 more CECs are needed."]
        assert lines(user) == []

    def test_rejected_cpr_removes_the_line(self, user, open_cycle, today):
        cert = renewable_certification(user, "CPT", *open_cycle)
        cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        CprUpload.objects.filter(certification=cert).update(state="rejected", rejection_reason="Blurry")
        result = cart_recheck(user=user, today=today)
        assert result.messages == ["CPT Recertification was removed from your cart: "
                                   "Upload your current CPR/AED certificate."]

    def test_price_change_is_shown_and_taken_up(self, user, open_cycle, today):
        cert = renewable_certification(user, "CPT", *open_cycle)
        cart_add_renewal(user=user, certification_id=cert.pk, today=today)
        CertificationType.objects.filter(code="CPT").update(renewal_fee=Decimal("65.50"))
        result = cart_recheck(user=user, today=today)
        assert result.messages == ["The price of CPT Recertification changed from $60.00 to $65.50."]
        assert result.total == Decimal("65.50")
        assert cart_recheck(user=user, today=today).messages == []


@pytest.mark.django_db
class TestViews:
    def test_renew_and_remove_by_post_and_cart_page(self, user_client, user, open_cycle):
        cpt = renewable_certification(user, "CPT", *open_cycle)
        ep = renewable_certification(user, "EP", *open_cycle)
        assert user_client.get(reverse("cart_renew", args=[cpt.pk])).status_code == 405
        response = user_client.post(reverse("cart_renew", args=[cpt.pk]))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('dashboard')}#tile-{cpt.pk}"
        user_client.post(reverse("cart_renew", args=[ep.pk]))
        user_client.post(reverse("cart_renew", args=[ep.pk]))
        html = user_client.get(reverse("cart")).content.decode()
        assert html.count("<tr>") == 4  # header, two lines, total
        assert "CPT Recertification" in html and "EP Recertification" in html
        assert '<td class="text-end fw-bold cart-total">$130.00</td>' in html
        assert "Proceed to Checkout" in html
        user_client.post(reverse("cart_remove", args=[cpt.pk]), {"next": "cart"})
        html = user_client.get(reverse("cart")).content.decode()
        assert "CPT Recertification" not in html
        assert '<td class="text-end fw-bold cart-total">$70.00</td>' in html

    def test_crafted_requests(self, user_client, user, other_user, open_cycle):
        theirs = renewable_certification(other_user, "CPT", *open_cycle)
        assert user_client.post(reverse("cart_renew", args=[theirs.pk])).status_code == 404
        assert user_client.post(reverse("cart_remove", args=[theirs.pk])).status_code == 404
        mine = certification_with_cycle(user, "EP", *open_cycle)
        response = user_client.post(reverse("cart_renew", args=[mine.pk]), follow=True)
        assert "This certification cannot be renewed yet. 60 more CECs are needed." in response.content.decode()
        assert CartLine.objects.count() == 0

    def test_cart_survives_a_new_login(self, client, user, open_cycle):
        cpt = renewable_certification(user, "CPT", *open_cycle)
        client.force_login(user)
        client.post(reverse("cart_renew", args=[cpt.pk]))
        client.logout()
        client.force_login(user)
        assert "CPT Recertification" in client.get(reverse("cart")).content.decode()

    def test_empty_cart(self, user_client):
        assert "Your cart is empty." in user_client.get(reverse("cart")).content.decode()
