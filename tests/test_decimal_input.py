"""Every decimal a person, a client or staff can send refuses NaN, sNaN, ±Infinity, exponents, hex and over-long
input with a message (never a 500), keeps the rest of what was typed, and saves or charges nothing."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.urls import reverse

from acsm_portal.fields import FiniteDecimalField
from cecs.models import CECEntry
from certifications.models import CertificationType
from payments.models import Order, Payment, Refund
from tests.factories import UserFactory, certification_with_cycle
from tests.payments.helpers import cart_with
from tests.payments.refund_helpers import paid, refund_form

INVALID = "Enter a number such as 12.5."
TOO_LONG = "Enter a number of at most 20 characters, such as 12.5."
BAD = [
    ("NaN", INVALID), ("sNaN", INVALID), ("-sNaN", INVALID), ("Infinity", INVALID), ("-Inf", INVALID),
    ("1e3", INVALID), ("1E-2", INVALID), ("0x10", INVALID), ("1" * 40, TOO_LONG),
]
BAD_VALUES = [value for value, _ in BAD]
PAGE_INCOMPLETE = "The page was incomplete; please reload it."


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


# Report CECs ------------------------------------------------------------------------------------------------


def cec_form(today, units):
    return {"date_earned": today.isoformat(), "units": units, "credit_type": "cec",
            "course_name": "Kettlebell Fundamentals", "provider": "ACSM", "format": "live"}


@pytest.mark.django_db
class TestReportCECs:
    @pytest.mark.parametrize(("units", "message"), BAD)
    def test_refused_with_message_and_kept(self, user_client, user, open_cycle, today, units, message):
        certification_with_cycle(user, "CPT", *open_cycle)
        response = user_client.post(reverse("cec_report"), cec_form(today, units))
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert 'value="Kettlebell Fundamentals"' in html and f'value="{today.isoformat()}"' in html
        assert CECEntry.objects.count() == 0

    def test_padded_number_is_taken(self, user_client, user, open_cycle, today):
        certification_with_cycle(user, "CPT", *open_cycle)
        response = user_client.post(reverse("cec_report"), cec_form(today, " 12.5 "))
        assert response.status_code == 302
        entry = CECEntry.objects.get(user=user)
        assert (entry.units, entry.cecs) == (Decimal("12.50"), Decimal("12.50"))


# Checkout ---------------------------------------------------------------------------------------------------

BILLING = {"name": "Jordan Lee", "line1": "1 Main St", "line2": "", "city": "Springfield", "state": "IL",
           "postal_code": "62701", "country": "us", "save_to_profile": "on"}


@pytest.mark.django_db
@pytest.mark.usefixtures("localstripe")
class TestCheckout:
    @pytest.mark.parametrize("total", BAD_VALUES + ["", "12.345"])
    def test_json_client_gets_400(self, user_client, user, total):
        cart_with(user, "CPT")
        response = user_client.post(reverse("checkout"), {**BILLING, "expected_total": total},
                                    headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.json() == {"errors": {"expected_total": [
            {"message": PAGE_INCOMPLETE, "code": response.json()["errors"]["expected_total"][0]["code"]}]}}
        assert Order.objects.count() == 0 and Payment.objects.count() == 0

    @pytest.mark.parametrize("total", BAD_VALUES)
    def test_form_post_rerenders_with_message_and_billing_kept(self, user_client, user, total):
        cart_with(user, "CPT")
        response = user_client.post(reverse("checkout"), {**BILLING, "expected_total": total})
        assert response.status_code == 200
        html = response.content.decode()
        assert PAGE_INCOMPLETE in html
        assert "$NaN" not in html
        assert 'value="Springfield"' in html and 'value="1 Main St"' in html
        assert Order.objects.count() == 0 and Payment.objects.count() == 0

    def test_padded_total_is_taken(self, user_client, user):
        cart_with(user, "CPT")
        response = user_client.post(reverse("checkout"), {**BILLING, "expected_total": " 60 "},
                                    headers={"Accept": "application/json"})
        assert response.status_code == 200
        assert Order.objects.get(user=user).total == Decimal("60.00")


# Admin: refund ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("localstripe")
class TestAdminRefund:
    @pytest.mark.parametrize(("amount", "message"), BAD)
    def test_refused_with_message_and_nothing_refunded(self, staff_client, user, amount, message):
        payment = paid(user, "CPT", "EP", total="130.00")
        response = staff_client.post(reverse("admin:payments_payment_refund", args=[payment.pk]), refund_form(
            payment, amounts={"CPT": amount}, renewals={"CPT": "keep"}, reason="Goodwill gesture"))
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert "Goodwill gesture" in html
        assert Refund.objects.count() == 0
        payment.refresh_from_db()
        assert (payment.state, payment.refunded_amount) == ("succeeded", Decimal("0.00"))

    def test_padded_amount_is_refunded(self, staff_client, user):
        payment = paid(user, "CPT", "EP", total="130.00")
        response = staff_client.post(reverse("admin:payments_payment_refund", args=[payment.pk]), refund_form(
            payment, amounts={"CPT": " 12.5 "}, renewals={"CPT": "keep"}, reason="Goodwill gesture"))
        assert response.status_code == 302
        assert Refund.objects.get().amount == Decimal("12.50")
        payment.refresh_from_db()
        assert payment.refunded_amount == Decimal("12.50")


# Admin: fees and other decimal columns ----------------------------------------------------------------------


def type_change_data(cert_type, **overrides):
    data = {"code": cert_type.code, "name": cert_type.name, "required_cecs": cert_type.required_cecs,
            "renewal_fee": cert_type.renewal_fee, "late_fee": cert_type.late_fee,
            "cycle_years": cert_type.cycle_years, "display_order": cert_type.display_order}
    data.update(overrides)
    return data


def changelist_data(types, pk, **overrides):
    data = {"form-TOTAL_FORMS": str(len(types)), "form-INITIAL_FORMS": str(len(types)), "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000", "_save": "Save"}
    for i, t in enumerate(types):
        row = {"id": t.pk, "required_cecs": t.required_cecs, "renewal_fee": t.renewal_fee, "late_fee": t.late_fee}
        if t.pk == pk:
            row.update(overrides)
        data.update({f"form-{i}-{k}": v for k, v in row.items()})
    return data


@pytest.mark.django_db
class TestAdminFee:
    @pytest.mark.parametrize(("fee", "message"), BAD)
    def test_change_form_refuses(self, staff_client, fee, message):
        cpt = CertificationType.objects.get(code="CPT")
        response = staff_client.post(reverse("admin:certifications_certificationtype_change", args=[cpt.pk]),
                                     type_change_data(cpt, renewal_fee=fee, name="Renamed trainer"))
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert 'value="Renamed trainer"' in html
        cpt.refresh_from_db()
        assert (cpt.renewal_fee, cpt.name) == (Decimal("60.00"), "Certified Personal Trainer")

    @pytest.mark.parametrize(("fee", "message"), BAD)
    def test_changelist_refuses(self, staff_client, fee, message):
        types = list(CertificationType.objects.order_by("display_order", "code"))
        cpt = next(t for t in types if t.code == "CPT")
        response = staff_client.post(reverse("admin:certifications_certificationtype_changelist"),
                                     changelist_data(types, cpt.pk, renewal_fee=fee, late_fee="81.00"))
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert 'value="81.00"' in html
        assert CertificationType.objects.get(pk=cpt.pk).renewal_fee == Decimal("60.00")
        assert not CertificationType.objects.filter(late_fee=Decimal("81.00")).exists()

    def test_padded_fee_is_taken(self, staff_client):
        cpt = CertificationType.objects.get(code="CPT")
        response = staff_client.post(reverse("admin:certifications_certificationtype_change", args=[cpt.pk]),
                                     type_change_data(cpt, renewal_fee=" 12.5 "))
        assert response.status_code == 302
        cpt.refresh_from_db()
        assert cpt.renewal_fee == Decimal("12.50")

    @pytest.mark.parametrize(("max_cecs", "message"), BAD)
    def test_yearly_cap_changelist_refuses(self, staff_client, max_cecs, message):
        from cecs.models import YearlyCap

        caps = list(YearlyCap.objects.order_by("format"))
        data = {"form-TOTAL_FORMS": str(len(caps)), "form-INITIAL_FORMS": str(len(caps)), "form-MIN_NUM_FORMS": "0",
                "form-MAX_NUM_FORMS": "1000", "_save": "Save"}
        for i, cap in enumerate(caps):
            data.update({f"form-{i}-id": cap.pk, f"form-{i}-max_cecs": max_cecs if i == 0 else cap.max_cecs})
        response = staff_client.post(reverse("admin:cecs_yearlycap_changelist"), data)
        assert response.status_code == 200
        assert message in response.content.decode()
        assert [c.max_cecs for c in YearlyCap.objects.order_by("format")] == [c.max_cecs for c in caps]


@pytest.mark.django_db
def test_every_editable_decimal_in_the_admin_is_finite(rf):
    """The kind: any ModelAdmin or inline that lets staff edit a decimal column gives it ``FiniteDecimalField``."""
    request = rf.get("/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    checked = []
    for model, model_admin in admin.site._registry.items():
        editors = [model_admin, *model_admin.get_inline_instances(request)]
        for editor in editors:
            inline = isinstance(editor, InlineModelAdmin)
            adds = editor.has_add_permission(request, None) if inline else editor.has_add_permission(request)
            if not editor.has_change_permission(request) and not adds:
                continue
            for field in editor.model._meta.get_fields():
                if getattr(field, "get_internal_type", lambda: "")() != "DecimalField" or not field.editable:
                    continue
                formfield = editor.formfield_for_dbfield(field, request)
                assert isinstance(formfield, FiniteDecimalField), f"{editor.__class__.__name__}.{field.name}"
                checked.append(f"{editor.model.__name__}.{field.name}")
    assert {"CertificationType.renewal_fee", "CertificationType.late_fee", "YearlyCap.max_cecs",
            "CECEntry.units"} <= set(checked)
