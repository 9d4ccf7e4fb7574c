"""The holder's email for a staff move of a certificate's status: one per move, claimed in a short transaction, sent
with no row lock held, stamped; a second run sends nothing, a job the broker lost is queued again by the sweeper,
a failed send leaves the email unsent and unclaimed for the next try."""

import smtplib
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
import time_machine
from celery.exceptions import Retry
from django.core import mail
from django.db import DatabaseError, connections, transaction

from acsm_portal import clock, jobs
from acsm_portal.tasks import lost_jobs_requeue
from certifications.certificate_status import (
    REINSTATE,
    certificate_status_email_send,
    certificate_status_emails_unsent_requeue,
    certificate_transition,
    certificates_status_refresh,
)
from certifications.models import Certificate, CertificateLog
from certifications.suspensions import certification_suspend
from certifications.tasks import certificate_status_email_task
from tests.dates import at
from tests.verification.certificates import certificate

S = Certificate.Status
NOTHING_LOST = {"receipts": [], "certificates": [], "cpr_decisions": [], "set_password": [], "refund_emails": [],
                "audit_emails": [], "reminders": [], "certificate_status_emails": []}


@pytest.fixture
def mid_march(today):
    """Noon on March 15 this year in the portal's zone, frozen: far from any Dec 31 or June 30."""
    moment = at(date(today.year, 3, 15), 12)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def queued(monkeypatch):
    """The ``CertificateLog`` ids sent to the broker for the status email, in order (the broker keeps them; no
    worker runs them unless the test does, with ``work``)."""
    ids = []
    monkeypatch.setattr(certificate_status_email_task, "apply_async", lambda args, **options: ids.extend(args))
    return ids


def work(ids: list[int]) -> list[str]:
    """Run the status email job for each of ``ids`` in this process, as a worker would; their outcomes."""
    return [certificate_status_email_task.apply(args=(log_id,)).get() for log_id in ids]


def email_state(entry: CertificateLog) -> tuple:
    """``(email_wanted, email_claimed_at, emailed_at)`` of log row ``entry``, as stored."""
    return CertificateLog.objects.values_list("email_wanted", "email_claimed_at", "emailed_at").get(pk=entry.pk)


@pytest.fixture
def cert(user, today):
    return certificate(user, valid_through=date(today.year + 1, 12, 31))


@pytest.mark.django_db
class TestOnePerMove:
    def test_a_staff_move_sends_exactly_one_email_and_a_second_run_nothing(self, user, cert, mid_march, queued,
                                                                           django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
        entry = cert.log.get()
        assert queued == [entry.pk]
        assert email_state(entry) == (True, None, None)
        assert work(queued) == ["sent"]
        assert [(m.subject, m.to) for m in mail.outbox] == [
            (f"Your CPT certificate {cert.number} is suspended", [user.email])]
        assert email_state(entry) == (True, mid_march, mid_march)
        # The broker delivers the job again (a worker killed before its ack), then the sweeper looks: nothing more.
        assert work(queued) == ["already sent"]
        assert certificate_status_email_send(log_id=entry.pk) == "already sent"
        with time_machine.travel(mid_march + jobs.LOST_AFTER + timedelta(minutes=1), tick=False):
            assert lost_jobs_requeue() == NOTHING_LOST
        assert queued == [entry.pk]
        assert len(mail.outbox) == 1
        assert email_state(entry) == (True, mid_march, mid_march)

    def test_each_of_three_moves_has_its_own_email(self, user, cert, mid_march, queued,
                                                   django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
            certificate_transition(certificate_id=cert.pk, to=REINSTATE, actor="staff:3", reason="Cleared.")
            certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor="staff:3", reason="Forged papers.")
        assert queued == list(cert.log.order_by("at", "id").values_list("pk", flat=True))
        assert work(queued + queued) == ["sent"] * 3 + ["already sent"] * 3
        assert [m.subject for m in mail.outbox] == [f"Your CPT certificate {cert.number} is suspended",
                                                    f"Your CPT certificate {cert.number} is reinstated",
                                                    f"Your CPT certificate {cert.number} is revoked"]

    def test_moves_that_call_for_no_email_are_never_swept(self, user, today, mid_march, queued,
                                                          django_capture_on_commit_callbacks):
        by_dates = certificate(user, valid_through=date(today.year - 1, 12, 31))
        by_audit = certificate(user, valid_through=date(today.year + 1, 12, 31), code="EP")
        with django_capture_on_commit_callbacks(execute=True):
            certificates_status_refresh()
            certification_suspend(certification_id=by_audit.certification_id, reason="Failed audit.",
                                  actor="audit 12")
        dated, audited = by_dates.log.get(), by_audit.log.get()
        assert (dated.to_status, audited.to_status) == (S.GRACE, S.SUSPENDED)
        assert queued == []
        assert (email_state(dated), email_state(audited)) == ((False, None, None), (False, None, None))
        with time_machine.travel(mid_march + jobs.LOST_AFTER + timedelta(minutes=1), tick=False):
            assert certificate_status_emails_unsent_requeue(after=jobs.LOST_AFTER) == []
        assert certificate_status_email_send(log_id=dated.pk) == "not a staff move"
        assert certificate_status_email_send(log_id=audited.pk) == "not wanted"
        assert certificate_status_email_send(log_id=audited.pk + dated.pk + 1000) == "no such move"
        assert queued == [] and mail.outbox == []


@pytest.mark.django_db
class TestLostAndFailed:
    def test_a_job_the_broker_never_got_is_sent_once_by_the_sweeper_after_lost_after(self, user, cert, mid_march,
                                                                                      queued):
        # The move commits but its job never reaches the broker (the test's transaction never commits: no queue).
        certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor="staff:3", reason="Forged papers.")
        entry = cert.log.get()
        assert queued == [] and email_state(entry) == (True, None, None)
        with time_machine.travel(mid_march + jobs.LOST_AFTER - timedelta(seconds=1), tick=False):
            assert lost_jobs_requeue() == NOTHING_LOST  # maybe only slow: not yet
        assert queued == []
        sweep = mid_march + jobs.LOST_AFTER + timedelta(seconds=1)
        with time_machine.travel(sweep, tick=False):
            assert lost_jobs_requeue() == {**NOTHING_LOST, "certificate_status_emails": [entry.pk]}
            assert queued == [entry.pk]
            assert work(queued) == ["sent"]
            assert lost_jobs_requeue() == NOTHING_LOST
        assert [(m.subject, m.to) for m in mail.outbox] == [
            (f"Your CPT certificate {cert.number} is revoked", [user.email])]
        assert email_state(entry) == (True, sweep, sweep)
        with time_machine.travel(sweep + timedelta(minutes=10), tick=False):
            assert lost_jobs_requeue() == NOTHING_LOST
            assert work([entry.pk]) == ["already sent"]
        assert len(mail.outbox) == 1

    def test_a_failed_send_leaves_it_unsent_and_unclaimed_for_the_sweeper(self, user, cert, mid_march, queued,
                                                                           monkeypatch):
        certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
        entry = cert.log.get()
        tries = []

        def smtp_down(**kwargs):
            tries.append(kwargs["to"])
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

        monkeypatch.setattr("certifications.certificate_status.mail_send", smtp_down)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            certificate_status_email_send(log_id=entry.pk)
        assert email_state(entry) == (True, None, None)
        # The task asks the broker to run it again later, the claim let go meanwhile.
        with pytest.raises(Retry) as retry:
            work([entry.pk])
        assert isinstance(retry.value.exc, smtplib.SMTPServerDisconnected)
        assert certificate_status_email_task.autoretry_for == (OSError, smtplib.SMTPException)
        assert tries == [user.email, user.email]
        assert email_state(entry) == (True, None, None)
        assert mail.outbox == []
        monkeypatch.undo()
        monkeypatch.setattr(certificate_status_email_task, "apply_async", lambda args, **options: queued.extend(args))
        sweep = mid_march + jobs.LOST_AFTER + timedelta(seconds=1)
        with time_machine.travel(sweep, tick=False):
            assert certificate_status_emails_unsent_requeue(after=jobs.LOST_AFTER) == [entry.pk]
            assert work(queued) == ["sent"]
        assert [m.subject for m in mail.outbox] == [f"Your CPT certificate {cert.number} is suspended"]
        assert email_state(entry) == (True, sweep, sweep)

    def test_a_fresh_claim_of_another_worker_is_left_alone_and_a_stale_one_taken_over(self, cert, mid_march,
                                                                                        queued):
        certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
        entry = cert.log.get()
        claimed = mid_march + jobs.LOST_AFTER
        CertificateLog.objects.filter(pk=entry.pk).update(email_claimed_at=claimed)
        fresh = claimed + jobs.CLAIM - timedelta(seconds=1)
        with time_machine.travel(fresh, tick=False):
            assert certificate_status_email_send(log_id=entry.pk) == "claimed"
            assert certificate_status_emails_unsent_requeue(after=jobs.LOST_AFTER) == []
        assert mail.outbox == [] and queued == []
        assert email_state(entry) == (True, claimed, None)
        stale = claimed + jobs.CLAIM
        with time_machine.travel(stale, tick=False):
            assert certificate_status_emails_unsent_requeue(after=jobs.LOST_AFTER) == [entry.pk]
            assert work(queued) == ["sent"]
        assert len(mail.outbox) == 1
        assert email_state(entry) == (True, stale, stale)

    def test_a_move_older_than_the_sweep_window_is_left_to_staff(self, cert, mid_march, queued):
        certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
        entry = cert.log.get()
        with time_machine.travel(mid_march + jobs.SWEEP_WINDOW, tick=False):
            assert certificate_status_emails_unsent_requeue(after=jobs.LOST_AFTER) == [entry.pk]
        with time_machine.travel(mid_march + jobs.SWEEP_WINDOW + timedelta(seconds=1), tick=False):
            assert certificate_status_emails_unsent_requeue(after=jobs.LOST_AFTER) == []
        assert queued == [entry.pk]
        assert email_state(entry) == (True, None, None)


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_email_is_sent(user, today, monkeypatch):
    cert = certificate(user, valid_through=date(today.year + 1, 12, 31))
    monkeypatch.setattr(certificate_status_email_task, "apply_async", lambda args, **options: None)
    certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
    entry = cert.log.get()
    seen = []

    def lock_from_elsewhere(_):
        try:
            with transaction.atomic():
                row = CertificateLog.objects.select_for_update(nowait=True).get(pk=entry.pk)
            return "free", row.email_claimed_at is not None, row.emailed_at
        except DatabaseError:
            return "locked", None, None
        finally:
            connections.close_all()

    def sending(**kwargs):
        with ThreadPoolExecutor(max_workers=1) as pool:
            seen.extend(pool.map(lock_from_elsewhere, [1]))

    monkeypatch.setattr("certifications.certificate_status.mail_send", sending)
    assert certificate_status_email_send(log_id=entry.pk) == "sent"
    assert seen == [("free", True, None)]
    assert email_state(entry)[2] is not None
    assert clock.now() - email_state(entry)[2] < timedelta(minutes=1)
