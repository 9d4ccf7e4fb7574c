from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import BillingAddress
from payments.models import Order, Payment
from payments.services import payment_charge, payment_start
from tests.factories import UserFactory
from tests.payments.helpers import CARD_DECLINED, card, cart_with, placed_order
from tests.payments.refund_helpers import refund_form

pytestmark = pytest.mark.usefixtures("localstripe")

BILLING = {"name": "Jordan Lee", "line1": "1 Main St", "line2": "", "city": "Springfield", "state": "IL",
           "postal_code": "62701", "country": "us", "save_to_profile": "on"}


def start(client, **overrides):
    return client.post(reverse("checkout"), {**BILLING, **overrides}, headers={"Accept": "application/json"})


@pytest.mark.django_db
class TestCheckout:
    def test_page_shows_lines_total_and_prefilled_billing(self, user_client, user):
        BillingAddress.objects.create(user=user, line1="9 Elm St", city="Dayton", state="OH", postal_code="45402")
        cart_with(user, "CPT", "EP")
        html = user_client.get(reverse("checkout")).content.decode()
        assert '<td class="text-end fw-bold order-total">$130.00</td>' in html
        assert 'value="9 Elm St"' in html and 'value="Dayton"' in html
        assert 'name="expected_total" value="130.00"' in html
        assert f'src="{settings.STRIPE_API_BASE}/js.stripe.com/v3/"' in html
        assert "Process Payment" in html

    def test_empty_cart_goes_back_to_the_cart(self, user_client):
        response = user_client.get(reverse("checkout"))
        assert response.status_code == 302 and response["Location"] == reverse("cart")

    def test_start_places_order_saves_address_and_returns_setup_secret(self, user_client, user):
        cart_with(user, "CPT")
        response = start(user_client, expected_total="60.00")
        assert response.status_code == 200
        body = response.json()
        assert body["client_secret"].startswith("seti_") and body["state"] == "created"
        order = Order.objects.get(user=user)
        assert body["receipt_url"] == reverse("receipt", args=[order.number])
        assert (order.total, order.billing_city, order.billing_country) == (Decimal("60.00"), "Springfield", "US")
        assert BillingAddress.objects.get(user=user).city == "Springfield"

    def test_bad_billing_gets_field_errors_and_nothing_saved(self, user_client, user):
        cart_with(user, "CPT")
        response = start(user_client, expected_total="60.00", city="", country="1X")
        assert response.status_code == 400
        errors = response.json()["errors"]
        assert errors["city"] == [{"message": "This field is required.", "code": "required"}]
        assert errors["country"] == [{"message": "Use the two-letter country code, e.g. US.", "code": ""}]
        assert Order.objects.count() == 0
        assert not BillingAddress.objects.filter(user=user).exists()

    def test_tampered_total_is_refused(self, user_client, user):
        cart_with(user, "CPT")
        response = start(user_client, expected_total="1.00")
        assert response.status_code == 409
        assert response.json()["error"] == ("The total changed from $1.00 to $60.00. "
                                            "Please review your cart and pay again.")
        assert Order.objects.count() == 0

    def test_without_javascript_the_form_says_so(self, user_client, user):
        cart_with(user, "CPT")
        response = user_client.post(reverse("checkout"), {**BILLING, "expected_total": "60.00"}, follow=True)
        assert "Card payment needs JavaScript; please enable it and try again." in response.content.decode()

    def test_charge_decline_is_402_with_reason(self, user_client, user):
        cart_with(user, "CPT")
        body = start(user_client, expected_total="60.00").json()
        response = user_client.post(body["charge_url"], {"payment_method": card(CARD_DECLINED)})
        assert response.status_code == 402
        assert response.json() == {"state": "failed", "message": "Your card was declined."}

    def test_charge_success_gives_the_receipt(self, user_client, user):
        cart_with(user, "CPT")
        body = start(user_client, expected_total="60.00").json()
        response = user_client.post(body["charge_url"], {"payment_method": card()})
        assert response.json() == {"state": "succeeded", "message": "Payment received.",
                                   "receipt_url": body["receipt_url"]}
        again = user_client.post(body["charge_url"], {"payment_method": card()})
        assert again.json()["state"] == "succeeded"
        assert Payment.objects.count() == 1

    def test_charge_needs_a_payment_method(self, user_client, user):
        cart_with(user, "CPT")
        body = start(user_client, expected_total="60.00").json()
        response = user_client.post(body["charge_url"], {"payment_method": "<script>"})
        assert response.status_code == 400
        assert Payment.objects.get().state == "created"


@pytest.mark.django_db
class TestReceipt:
    def paid_order(self, user):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        payment_charge(payment_id=payment.pk, user=user, payment_method=card())
        return Order.objects.get(pk=order.pk)

    def test_owner_sees_receipt_and_pdf(self, user_client, user):
        order = self.paid_order(user)
        html = user_client.get(reverse("receipt", args=[order.number])).content.decode()
        assert order.number in html and "Visa ending in 4242" in html and "$60.00" in html
        assert 'id="print-button"' in html
        pdf = user_client.get(reverse("receipt_pdf", args=[order.number]))
        assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")

    @pytest.mark.parametrize("name", ["receipt", "receipt_pdf"])
    def test_another_person_gets_404(self, client, user, name):
        order = self.paid_order(user)
        client.force_login(UserFactory())
        assert client.get(reverse(name, args=[order.number])).status_code == 404

    def test_unpaid_order_has_no_receipt(self, user_client, user):
        order = placed_order(user, "CPT", total="60.00")
        assert user_client.get(reverse("receipt", args=[order.number])).status_code == 404

    @pytest.mark.parametrize("name", ["payment_charge", "payment_refresh"])
    def test_another_persons_payment_is_404(self, client, user, name):
        order = placed_order(user, "CPT", total="60.00")
        payment, _ = payment_start(order=order)
        client.force_login(UserFactory())
        assert client.post(reverse(name, args=[payment.pk]), {"payment_method": card()}).status_code == 404
        assert Payment.objects.get(pk=payment.pk).state == "created"


@pytest.mark.django_db
class TestAdminRefund:
    def test_refund_through_admin_records_who_and_refuses_too_much(self, client, user):
        from django.contrib.auth.models import Permission

        order = TestReceipt().paid_order(user)
        payment = order.payments.get()
        staff = UserFactory(is_staff=True)
        staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "add_refund"]))
        client.force_login(staff)
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        page = client.get(url).content.decode()
        assert "$60.00 left to refund" in page
        too_much = client.post(url, refund_form(payment, amounts={"CPT": "60.01"}, renewals={"CPT": "keep"},
                                                reason="duplicate"))
        assert ("A refund of $60.01 is more than the $60.00 left to refund on CPT Recertification."
                in too_much.content.decode())
        response = client.post(url, refund_form(payment, amounts={"CPT": "60.00"}, renewals={"CPT": "keep"},
                                                reason="duplicate"))
        assert response.status_code == 302
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount) == ("refunded", Decimal("60.00"))
        refund = payment.refunds.get()
        assert (refund.created_by, refund.reason, refund.amount) == (staff, "duplicate", Decimal("60.00"))
        assert payment.log.last().actor == f"staff:{staff.pk}"

    def test_staff_without_permission_cannot_refund(self, client, user):
        order = TestReceipt().paid_order(user)
        client.force_login(UserFactory(is_staff=True))
        payment = order.payments.get()
        response = client.post(reverse("admin:payments_payment_refund", args=[payment.pk]),
                               refund_form(payment, amounts={"CPT": "1.00"}, renewals={"CPT": "keep"}, reason="x"))
        assert response.status_code == 403
        assert order.payments.get().refunded_amount == Decimal("0.00")
