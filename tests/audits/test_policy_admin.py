"""The audit policy in the staff admin: one row, changed through ``audit_policy_update``, never added or deleted."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from audits.models import AuditPolicy
from audits.selectors import audit_policy
from tests.factories import UserFactory

CHANGE = reverse("admin:audits_auditpolicy_change", args=[1])


@pytest.fixture
def policy_staff(db):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_auditpolicy", "change_auditpolicy"]))
    return staff


@pytest.mark.django_db
def test_the_defaults_are_five_percent_and_thirty_days():
    policy = audit_policy()
    assert (policy.pk, policy.rate, policy.days_to_answer, policy.extension_days) == (1, Decimal("0.0500"), 30, 30)
    assert audit_policy().pk == 1 and AuditPolicy.objects.count() == 1


@pytest.mark.django_db
def test_staff_change_the_policy_and_the_list_is_the_one_row(client, policy_staff):
    client.force_login(policy_staff)
    assert client.get(reverse("admin:audits_auditpolicy_changelist")).url == CHANGE
    response = client.post(CHANGE, {"rate": "0.1", "days_to_answer": "45", "extension_days": "20"})
    assert response.status_code == 302
    policy = AuditPolicy.objects.get()
    assert (policy.rate, policy.days_to_answer, policy.extension_days, policy.updated_by) == (
        Decimal("0.1000"), 45, 20, policy_staff)
    assert client.get(reverse("admin:audits_auditpolicy_add")).status_code == 403
    assert client.post(reverse("admin:audits_auditpolicy_delete", args=[1])).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(("rate", "days", "error"), [
    ("1.5", "30", "Ensure this value is less than or equal to 1."),
    ("-0.1", "30", "Ensure this value is greater than or equal to 0."),
    ("0.05", "0", "Ensure this value is greater than or equal to 1."),
    ("0.12345", "30", "Ensure that there are no more than 4 decimal places."),
    ("5e-2", "30", "Enter a number such as 12.5."),
])
def test_bad_values_are_refused_with_the_form_kept(client, policy_staff, rate, days, error):
    client.force_login(policy_staff)
    response = client.post(CHANGE, {"rate": rate, "days_to_answer": days, "extension_days": "30"})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert f'value="{rate}"' in response.content.decode()
    assert audit_policy().rate == Decimal("0.0500")
