"""A real Celery worker through Redis: the scheduler's draw selects a paid renewal and the worker sends the
selection email once, however often the draw and the email job run."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission

from audits.models import Audit, AuditDraw, AuditEmail
from audits.services import audit_policy_update, audit_select_by_staff
from audits.tasks import audit_draws_pending_task, audit_email_task
from tests.factories import UserFactory
from tests.waits import wait_until

from .helpers import paid_renewal, reviewer

SUBJECT = "Your CPT recertification was selected for audit"


def body(message) -> str:
    return message.get_payload(decode=True).decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_scheduled_draw_selects_and_the_worker_emails_once(worker_mail):
    staff = reviewer()
    staff.user_permissions.add(Permission.objects.get(codename="change_auditpolicy"))
    staff = type(staff).objects.get(pk=staff.pk)
    audit_policy_update(by=staff, rate=Decimal("1"), days_to_answer=30, extension_days=30)  # every renewal
    dana = UserFactory(email="dana@example.com", first_name="Dana", time_zone="America/Chicago")
    line = paid_renewal(dana)
    worker_mail.wait_for(1)  # the receipt
    worker_mail.clear()

    audit_draws_pending_task.delay()  # as the scheduler does every minute
    [message] = worker_mail.wait_for(1)
    audit = Audit.objects.get(order_line=line)
    due = audit.due_on
    assert message["To"] == "dana@example.com"
    assert message["Subject"] == SUBJECT
    text = body(message)
    assert "Hello Dana," in text
    assert f"Due: {due.month}/{due.day}/{due.year} at 11:59 PM Central time" in text
    assert f"{settings.PORTAL_BASE_URL}/audits/{audit.pk}/" in text
    draw = AuditDraw.objects.get(order_line=line)
    assert (draw.rate, draw.selected) == (Decimal("1.0000"), True)

    email = AuditEmail.objects.get(audit=audit)
    wait_until(lambda: AuditEmail.objects.get(pk=email.pk).emailed_at, what="the worker to record the email")
    # Again: the draw, a staff selection of the same renewal and the email job itself change nothing more.
    audit_draws_pending_task.delay()
    assert audit_select_by_staff(order_line_id=line.pk, by=staff) == (audit, False)
    audit_email_task.delay(email.pk)
    assert audit_email_task.apply(args=[email.pk]).get() == "already sent"
    # A marker after them: the worker takes jobs in turn, so once its email is out the repeats have run.
    lee = UserFactory(email="lee@example.com")
    marker = paid_renewal(lee)
    audit_draws_pending_task.delay()
    wait_until(lambda: any(m["To"] == "lee@example.com" and m["Subject"] == SUBJECT
                           for m in worker_mail.messages()), what="the marker's selection email")
    # The mailbox's files are not in sending order: compare as a sorted list (one each, none twice).
    assert sorted(m["To"] for m in worker_mail.messages() if m["Subject"] == SUBJECT) == [
        "dana@example.com", "lee@example.com"]
    assert AuditDraw.objects.count() == 2
    assert AuditEmail.objects.filter(audit=audit).count() == 1
    assert Audit.objects.get(order_line=marker).how == "draw"
