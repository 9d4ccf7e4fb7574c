"""The set-password email: claimed in a short transaction, sent with no row lock held, marked sent; once."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from accounts.models import User
from accounts.services import certificant_create, set_password_email_send
from accounts.tasks import send_set_password_email
from acsm_portal import clock, jobs


@pytest.fixture
def invited(db):
    """A certificant just created (its email queued after commit, which a test's transaction never reaches)."""
    return certificant_create(email="nia@example.com", first_name="Nia", last_name="Park")


@pytest.mark.django_db
class TestSetPasswordEmail:
    def test_the_task_sends_it_once(self, invited):
        moment = clock.now().replace(microsecond=0)
        with time_machine.travel(moment, tick=False):
            assert send_set_password_email.apply(args=(invited.pk,)).get() == "sent"
        assert send_set_password_email.apply(args=(invited.pk,)).get() == "already sent"
        [message] = mail.outbox
        assert (message.subject, message.to) == ("Set your MyACSM password", ["nia@example.com"])
        assert f"member ID {invited.member_id}" in message.body
        assert "http://127.0.0.1:8000/accounts/reset/" in message.body
        invited.refresh_from_db()
        assert (invited.set_password_claimed_at, invited.set_password_emailed_at) == (moment, moment)

    def test_not_sent_to_someone_with_a_password_or_no_longer_active(self, invited, user):
        assert set_password_email_send(user_id=user.pk) == "password already set"
        User.objects.filter(pk=invited.pk).update(is_active=False)
        assert set_password_email_send(user_id=invited.pk) == "no such user"
        assert mail.outbox == []
        assert User.objects.filter(set_password_claimed_at__isnull=False).count() == 0

    def test_a_fresh_claim_of_another_worker_is_left_alone_and_a_stale_one_taken_over(self, invited):
        claimed = clock.now() - jobs.CLAIM + timedelta(seconds=5)
        User.objects.filter(pk=invited.pk).update(set_password_claimed_at=claimed)
        assert set_password_email_send(user_id=invited.pk) == "claimed"
        assert mail.outbox == []
        with time_machine.travel(clock.now() + timedelta(seconds=10)):
            assert set_password_email_send(user_id=invited.pk) == "sent"
        assert len(mail.outbox) == 1

    def test_a_failed_send_lets_the_claim_go_so_a_retry_sends(self, invited, monkeypatch):
        def refused(*args, **kwargs):
            raise ConnectionRefusedError("SMTP server down")

        monkeypatch.setattr("accounts.services.send_mail", refused)
        with pytest.raises(ConnectionRefusedError):
            set_password_email_send(user_id=invited.pk)
        invited.refresh_from_db()
        assert (invited.set_password_claimed_at, invited.set_password_emailed_at) == (None, None)
        monkeypatch.undo()
        assert set_password_email_send(user_id=invited.pk) == "sent"
        assert len(mail.outbox) == 1
