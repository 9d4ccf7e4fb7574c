"""What the scheduler does for audits: draws for paid renewals, fails overdue audits at each person's own
midnight, queues reminders once; and the audit emails, sent once and swept when lost."""

import random
import smtplib
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core import mail

from acsm_portal import clock, jobs
from audits import rules
from audits.models import Audit, AuditDraw, AuditEmail
from audits.services import (
    DRAW_WINDOW, audit_draws_pending, audit_email_send, audit_emails_unsent_requeue, audit_extend,
    audit_policy_update, audit_reminders_queue, audit_submit, audits_overdue_fail,
)
from certifications.models import Certification
from certifications.renewals import certification_renewal_undo
from payments.models import Order
from tests.dates import at
from tests.factories import UserFactory
from tests.payments.helpers import placed_order

from .helpers import audited, paid_renewal, reviewer
from .test_services import documented

ZONES = ["America/Los_Angeles", "America/New_York", "Pacific/Honolulu", "Pacific/Auckland"]


def selected_on_day(zone: str) -> tuple[Audit, date]:
    """An audit selected at noon today in ``zone`` (the person's), and its due date."""
    noon = at(clock.today(ZoneInfo(zone)), 12, 0, ZoneInfo(zone))
    with time_machine.travel(noon, tick=False):
        audit = audited(UserFactory(time_zone=zone))
    return audit, audit.due_on


@pytest.mark.django_db
class TestDraws:
    def test_every_paid_renewal_is_drawn_once_as_the_seeded_rolls_say(self, staff_policy):
        lines = [paid_renewal(UserFactory()) for _ in range(6)]
        undone = paid_renewal(UserFactory())
        certification_renewal_undo(cycle_id=undone.cycle_id, opened_id=undone.renewed_cycle_id, actor="staff:1",
                                   reason="Refunded.")
        old = paid_renewal(UserFactory())
        Order.objects.filter(pk=old.order_id).update(paid_at=clock.now() - DRAW_WINDOW - timedelta(minutes=1))
        placed_order(UserFactory(), "CPT", total="60.00")  # placed, never paid

        drawn = audit_draws_pending(rng=random.Random(11))
        expected = random.Random(11)
        rolls = [rules.roll(expected) for _ in lines]
        draws = [AuditDraw.objects.get(order_line=line) for line in lines]
        assert drawn == [d.pk for d in draws]
        assert [(d.roll, d.rate, d.selected) for d in draws] == [
            (roll, Decimal("0.5000"), roll < Decimal("0.5")) for roll in rolls]
        assert sorted(Audit.objects.values_list("order_line_id", flat=True)) == [
            line.pk for line, roll in zip(lines, rolls) if roll < Decimal("0.5")]
        assert not AuditDraw.objects.filter(order_line__in=[undone, old]).exists()
        assert audit_draws_pending(rng=random.Random(12)) == []  # a second run draws nothing more

    def test_a_run_draws_at_most_its_limit_oldest_payment_first(self, staff_policy):
        lines = [paid_renewal(UserFactory()) for _ in range(3)]
        assert audit_draws_pending(rng=random.Random(1), limit=2) == list(
            AuditDraw.objects.order_by("pk").values_list("pk", flat=True))
        assert set(AuditDraw.objects.values_list("order_line_id", flat=True)) == {lines[0].pk, lines[1].pk}
        audit_draws_pending(rng=random.Random(1))
        assert AuditDraw.objects.count() == 3


@pytest.fixture
def staff_policy(db):
    """The audit rate set to 50 %, by staff who may change the policy."""
    staff = reviewer()
    staff.user_permissions.add(Permission.objects.get(codename="change_auditpolicy"))
    staff = type(staff).objects.get(pk=staff.pk)
    return audit_policy_update(by=staff, rate=Decimal("0.5"), days_to_answer=30, extension_days=30)


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ZONES)
def test_an_audit_fails_just_after_1159_pm_on_its_due_date_in_the_persons_zone(zone):
    audit, due = selected_on_day(zone)
    tz = ZoneInfo(zone)
    with time_machine.travel(at(due, 23, 58, tz), tick=False):
        assert audits_overdue_fail() == []
    with time_machine.travel(at(due + timedelta(days=1), 0, 1, tz), tick=False):
        assert audits_overdue_fail() == [audit.pk]
        assert audits_overdue_fail() == []  # a second run changes nothing
    audit.refresh_from_db()
    label = clock.zone_label(zone)
    assert (audit.state, audit.overdue, audit.decided_by) == ("failed", True, None)
    assert audit.reason == f"Nothing was submitted by the due date, {due.month}/{due.day}/{due.year} at 11:59 PM {label}."
    assert audit.log.last().actor == "scheduler"
    assert Certification.objects.get(pk=audit.certification_id).is_suspended
    assert list(audit.emails.values_list("kind", flat=True)) == ["selected", "failed"]


@pytest.mark.django_db
def test_a_submitted_or_extended_audit_is_not_failed_before_its_own_deadline():
    submitted, due = selected_on_day("America/New_York")
    documented(submitted, submitted.user)
    audit_submit(audit_id=submitted.pk, user=submitted.user)
    extended, _ = selected_on_day("America/New_York")
    later = audit_extend(audit_id=extended.pk, by=reviewer(), days=45).extended_due_on
    with time_machine.travel(at(due + timedelta(days=2), 12), tick=False):
        assert audits_overdue_fail() == []
    with time_machine.travel(at(later + timedelta(days=1), 0, 1), tick=False):
        assert audits_overdue_fail() == [extended.pk]
    assert Audit.objects.get(pk=submitted.pk).state == "submitted"


@pytest.mark.django_db
class TestReminders:
    def test_14_7_and_1_days_before_each_once(self):
        audit, due = selected_on_day("America/Los_Angeles")
        tz = ZoneInfo("America/Los_Angeles")

        def run(days_before: int, hour: int = 12) -> list[str]:
            with time_machine.travel(at(due - timedelta(days=days_before), hour, 0, tz), tick=False):
                made = audit_reminders_queue()
            return list(AuditEmail.objects.filter(pk__in=made).values_list("key", flat=True))

        assert run(20) == []
        assert run(15, hour=23) == []  # 11 PM Pacific, already the 14-day mark in the portal's zone
        assert run(14, hour=0) == [f"reminder-14-{due}"]
        assert run(14, hour=22) == []
        assert run(10) == []
        assert run(7) == [f"reminder-7-{due}"]
        assert run(2) == []
        assert run(1) == [f"reminder-1-{due}"]
        assert run(0) == []
        assert run(-1) == []
        assert list(AuditEmail.objects.filter(audit=audit, kind="reminder").values_list("days_before", flat=True)) \
            == [14, 7, 1]

    def test_none_once_submitted_and_a_second_window_brings_its_own(self):
        audit, due = selected_on_day("America/New_York")
        documented(audit, audit.user)
        audit_submit(audit_id=audit.pk, user=audit.user)
        with time_machine.travel(at(due - timedelta(days=7)), tick=False):
            assert audit_reminders_queue() == []
            extended = audit_extend(audit_id=audit.pk, by=reviewer(), days=10)
            made = audit_reminders_queue()
        assert list(AuditEmail.objects.filter(pk__in=made).values_list("key", "days_before")) == [
            (f"reminder-14-{extended.extended_due_on}", 14)]


@pytest.mark.django_db
class TestEmails:
    def test_the_selection_email_says_the_due_date_in_the_persons_time_and_links_the_audit(self):
        audit, due = selected_on_day("America/Los_Angeles")
        email = audit.emails.get(kind="selected")
        assert audit_email_send(email_id=email.pk) == "sent"
        assert audit_email_send(email_id=email.pk) == "already sent"
        [message] = mail.outbox
        assert message.to == [audit.user.email]
        assert message.subject == "Your CPT recertification was selected for audit"
        assert f"Due: {due.month}/{due.day}/{due.year} at 11:59 PM Pacific time" in message.body
        assert f"{settings.PORTAL_BASE_URL}/audits/{audit.pk}/" in message.body
        assert "Your audit: 1 of 4 credits documented." in message.body
        assert f"for the cycle {audit.cycle}" in message.body
        assert AuditEmail.objects.get(pk=email.pk).emailed_at is not None

    @pytest.mark.parametrize(("days", "subject"), [
        (14, "Reminder: your CPT audit documents are due in 14 days"),
        (1, "Reminder: your CPT audit documents are due tomorrow"),
    ])
    def test_reminders(self, days, subject):
        audit, due = selected_on_day("America/New_York")
        with time_machine.travel(at(due - timedelta(days=days)), tick=False):
            [made] = audit_reminders_queue()
        assert audit_email_send(email_id=made) == "sent"
        assert mail.outbox[0].subject == subject
        assert f"are due {due.month}/{due.day}/{due.year} at 11:59 PM Eastern time." in mail.outbox[0].body

    def test_a_reminder_of_a_submitted_audit_is_not_sent_nor_swept(self):
        audit, due = selected_on_day("America/New_York")
        with time_machine.travel(at(due - timedelta(days=14)), tick=False):
            [made] = audit_reminders_queue()
        documented(audit, audit.user)
        audit_submit(audit_id=audit.pk, user=audit.user)
        assert audit_email_send(email_id=made) == "not needed (submitted)"
        assert mail.outbox == []
        with time_machine.travel(clock.now() + timedelta(days=1)):
            assert made not in audit_emails_unsent_requeue(after=jobs.LOST_AFTER)

    def test_a_claimed_email_is_left_and_a_failed_send_lets_go(self, monkeypatch):
        audit, _ = selected_on_day("America/New_York")
        email = audit.emails.get()
        AuditEmail.objects.filter(pk=email.pk).update(claimed_at=clock.now())
        assert audit_email_send(email_id=email.pk) == "claimed"
        AuditEmail.objects.filter(pk=email.pk).update(claimed_at=None)

        def down(*args, **kwargs):
            raise smtplib.SMTPServerDisconnected("gone")

        monkeypatch.setattr("audits.services.send_mail", down)
        with pytest.raises(smtplib.SMTPException):
            audit_email_send(email_id=email.pk)
        email.refresh_from_db()
        assert (email.claimed_at, email.emailed_at) == (None, None)
        assert audit_email_send(email_id=987654) == "no such email"

    def test_the_sweeper_finds_unsent_emails_after_three_minutes(self):
        email = audited(UserFactory()).emails.get()
        assert audit_emails_unsent_requeue(after=jobs.LOST_AFTER) == []
        with time_machine.travel(clock.now() + jobs.LOST_AFTER + timedelta(seconds=1)):
            assert audit_emails_unsent_requeue(after=jobs.LOST_AFTER) == [email.pk]
            audit_email_send(email_id=email.pk)
            assert audit_emails_unsent_requeue(after=jobs.LOST_AFTER) == []

    @pytest.mark.parametrize(("kind", "subject", "line"), [
        ("passed", "Your CPT recertification audit passed", "passed. Thank you for sending your documents"),
        ("failed", "Your CPT recertification audit failed: certification suspended", "Reason: Altered dates."),
        ("canceled", "Your CPT recertification audit was canceled", "Reason: Altered dates."),
        ("reinstated", "Your CPT certification is reinstated", "it is no longer suspended"),
    ])
    def test_outcome_emails(self, kind, subject, line):
        audit, _ = selected_on_day("America/New_York")
        Audit.objects.filter(pk=audit.pk).update(reason="Altered dates.")
        email = AuditEmail.objects.create(audit=audit, kind=kind, key=kind)
        assert audit_email_send(email_id=email.pk) == "sent"
        assert mail.outbox[0].subject == subject
        assert line in mail.outbox[0].body


@pytest.mark.django_db
def test_an_audit_of_a_renewal_undone_since_is_canceled_not_failed():
    audit, due = selected_on_day("America/New_York")
    line = audit.order_line
    certification_renewal_undo(cycle_id=line.cycle_id, opened_id=line.renewed_cycle_id, actor="staff:1",
                               reason="Refunded.")
    with time_machine.travel(at(due + timedelta(days=1), 12), tick=False):
        assert audits_overdue_fail() == []
    audit.refresh_from_db()
    assert (audit.state, audit.reason) == ("canceled", "The renewal was refunded and undone; there is nothing to audit.")
    assert not Certification.objects.get(pk=audit.certification_id).is_suspended
    assert list(audit.emails.values_list("kind", flat=True)) == ["selected", "canceled"]
