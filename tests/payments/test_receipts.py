"""The receipt email: claimed in a short transaction, sent with no row lock held, marked sent; once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, connections, transaction

from acsm_portal import clock, jobs
from payments.models import Order
from payments.services import order_receipt_send
from tests.payments.helpers import paid_order_without_stripe, placed_order


@pytest.mark.django_db
class TestReceiptSend:
    def test_sent_once_with_its_pdf(self, user):
        order = paid_order_without_stripe(user, "CPT", "EP", total="130.00")
        moment = clock.now().replace(microsecond=0)
        with time_machine.travel(moment, tick=False):
            assert order_receipt_send(order_id=order.pk) == "sent"
        assert order_receipt_send(order_id=order.pk) == "already sent"
        [message] = mail.outbox
        assert (message.subject, message.to) == (f"Your MyACSM receipt {order.number}", [user.email])
        assert [(name, kind) for name, _, kind in message.attachments] == [
            (f"receipt-{order.number}.pdf", "application/pdf")]
        assert message.attachments[0][1].startswith(b"%PDF-")
        assert "Paid with: Visa ending in 4242" in message.body
        order.refresh_from_db()
        assert (order.receipt_claimed_at, order.receipt_emailed_at) == (moment, moment)

    def test_an_unpaid_order_gets_none(self, user):
        order = placed_order(user, "CPT", total="60.00")
        assert order_receipt_send(order_id=order.pk) == "not paid"
        assert mail.outbox == []
        order.refresh_from_db()
        assert (order.receipt_claimed_at, order.receipt_emailed_at) == (None, None)

    def test_a_fresh_claim_of_another_worker_is_left_alone_and_a_stale_one_taken_over(self, user):
        order = paid_order_without_stripe(user, "CPT", total="60.00")
        claimed = clock.now() - jobs.CLAIM + timedelta(seconds=5)
        Order.objects.filter(pk=order.pk).update(receipt_claimed_at=claimed)  # a worker took it on just now
        assert order_receipt_send(order_id=order.pk) == "claimed"
        assert mail.outbox == []
        assert Order.objects.get(pk=order.pk).receipt_claimed_at == claimed
        with time_machine.travel(clock.now() + timedelta(seconds=10)):  # that worker has been gone too long
            assert order_receipt_send(order_id=order.pk) == "sent"
        assert len(mail.outbox) == 1
        assert Order.objects.get(pk=order.pk).receipt_emailed_at is not None

    def test_a_failed_send_lets_the_claim_go_so_a_retry_sends(self, user, monkeypatch):
        order = paid_order_without_stripe(user, "CPT", total="60.00")
        send = EmailMultiAlternatives.send

        def refused(message, fail_silently=False):
            raise ConnectionRefusedError("SMTP server down")

        monkeypatch.setattr(EmailMultiAlternatives, "send", refused)
        with pytest.raises(ConnectionRefusedError):
            order_receipt_send(order_id=order.pk)
        order.refresh_from_db()
        assert (order.receipt_claimed_at, order.receipt_emailed_at) == (None, None)
        monkeypatch.setattr(EmailMultiAlternatives, "send", send)
        assert order_receipt_send(order_id=order.pk) == "sent"
        assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_no_row_lock_is_held_while_the_email_is_sent(user, monkeypatch):
    order = paid_order_without_stripe(user, "CPT", total="60.00")
    send, seen = EmailMultiAlternatives.send, []

    def lock_from_elsewhere(_):
        try:
            with transaction.atomic():
                row = Order.objects.select_for_update(nowait=True).get(pk=order.pk)
            return ("free", row.receipt_claimed_at is not None, row.receipt_emailed_at)
        except DatabaseError:
            return ("locked", None, None)
        finally:
            connections.close_all()

    def sending(message, fail_silently=False):
        with ThreadPoolExecutor(max_workers=1) as pool:
            seen.extend(pool.map(lock_from_elsewhere, [1]))
        return send(message, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", sending)
    assert order_receipt_send(order_id=order.pk) == "sent"
    assert seen == [("free", True, None)]  # claimed and committed, not yet marked sent, and not locked
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_sweeper_leaves_receipts_older_than_its_window_to_staff(user, other_user, monkeypatch):
    from payments import services

    queued = []
    monkeypatch.setattr(services.order_receipt_email, "apply_async", lambda args, **options: queued.extend(args))
    recent = paid_order_without_stripe(user, "CPT", total="60.00")
    Order.objects.filter(pk=recent.pk).update(paid_at=clock.now() - timedelta(hours=1))
    old = paid_order_without_stripe(other_user, "EP", total="70.00")
    Order.objects.filter(pk=old.pk).update(paid_at=clock.now() - jobs.SWEEP_WINDOW - timedelta(hours=1))
    assert services.order_receipts_unsent_requeue(after=jobs.LOST_AFTER) == [recent.pk]
    assert queued == [recent.pk]
