"""The CPR decision email: claimed in a short transaction, sent with no row lock held, marked sent; once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import DatabaseError, connections, transaction

from acsm_portal import clock, jobs
from certifications.cpr.services import cpr_decision_email_send, cpr_upload_approve
from certifications.models import CprUpload
from certifications.tasks import send_cpr_decision_email
from tests.factories import certification_with_cycle

from .cpr_helpers import reviewer, submitted


@pytest.fixture
def approved(user):
    """A card approved a moment ago (its email queued after commit, which a test's transaction never reaches)."""
    card = submitted(certification_with_cycle(user, "CPT"))
    cpr_upload_approve(upload=card, reviewer=reviewer())
    return CprUpload.objects.get(pk=card.pk)


def emailed(card) -> tuple:
    card = CprUpload.objects.get(pk=card.pk)
    return card.decision_email_claimed_at, card.decision_emailed_at


@pytest.mark.django_db
class TestDecisionEmail:
    def test_the_task_sends_it_once(self, approved, user):
        moment = clock.now().replace(microsecond=0)
        with time_machine.travel(moment, tick=False):
            assert send_cpr_decision_email.apply(args=(approved.pk,)).get() == "sent"
        assert send_cpr_decision_email.apply(args=(approved.pk,)).get() == "already sent"
        [message] = mail.outbox
        assert (message.subject, message.to) == ("Your CPR/AED card for CPT is approved", [user.email])
        assert emailed(approved) == (moment, moment)

    def test_a_fresh_claim_of_another_worker_is_left_alone_and_a_stale_one_taken_over(self, approved):
        claimed = clock.now() - jobs.CLAIM + timedelta(seconds=5)
        CprUpload.objects.filter(pk=approved.pk).update(decision_email_claimed_at=claimed)
        assert cpr_decision_email_send(upload_id=approved.pk) == "claimed"
        assert mail.outbox == []
        assert emailed(approved) == (claimed, None)
        with time_machine.travel(clock.now() + timedelta(seconds=10)):
            assert cpr_decision_email_send(upload_id=approved.pk) == "sent"
        assert len(mail.outbox) == 1

    def test_a_failed_send_lets_the_claim_go_so_a_retry_sends(self, approved, monkeypatch):
        def refused(*args, **kwargs):
            raise ConnectionRefusedError("SMTP server down")

        monkeypatch.setattr("certifications.cpr.services.send_mail", refused)
        with pytest.raises(ConnectionRefusedError):
            cpr_decision_email_send(upload_id=approved.pk)
        assert emailed(approved) == (None, None)
        monkeypatch.undo()
        assert cpr_decision_email_send(upload_id=approved.pk) == "sent"
        assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_email_is_sent(user, monkeypatch):
    card = submitted(certification_with_cycle(user, "CPT"))
    CprUpload.objects.filter(pk=card.pk).update(state=CprUpload.State.APPROVED)  # decided, nothing queued
    seen = []

    def lock_from_elsewhere(_):
        try:
            with transaction.atomic():
                row = CprUpload.objects.select_for_update(nowait=True).get(pk=card.pk)
            return "free", row.decision_email_claimed_at is not None, row.decision_emailed_at
        except DatabaseError:
            return "locked", None, None
        finally:
            connections.close_all()

    def sending(*args, **kwargs):
        with ThreadPoolExecutor(max_workers=1) as pool:
            seen.extend(pool.map(lock_from_elsewhere, [1]))
        return 1

    monkeypatch.setattr("certifications.cpr.services.send_mail", sending)
    assert cpr_decision_email_send(upload_id=card.pk) == "sent"
    assert seen == [("free", True, None)]
    assert emailed(card)[1] is not None
