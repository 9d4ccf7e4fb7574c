"""The refund email: what was refunded and what happened to each certification, claimed, sent once; queued after
the refund commits and sent by a real worker."""

import time
from datetime import timedelta
from pathlib import Path
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from accounts.models import User
from accounts.services import set_password_email_send
from acsm_portal import clock, jobs
from acsm_portal.formats import format_range
from certifications.models import Cycle
from payments.models import Refund
from payments.refunds import LineRefund, payment_refund, refund_email_send, refund_emails_unsent_requeue
from payments.services import order_receipt_send
from tests.factories import UserFactory
from tests.payments.helpers import paid_order_without_stripe
from tests.payments.refund_helpers import line_of, paid

pytestmark = pytest.mark.usefixtures("localstripe")


def refunded(user, **renewals):
    """A CPT and EP order, paid, then refunded in full with ``renewals`` ("keep"/"undo" by code)."""
    payment = paid(user, "CPT", "EP", total="130.00")
    lines = [LineRefund(line_of(payment, code).pk, amount, renewals[code])
             for code, amount in (("CPT", Decimal("60.00")), ("EP", Decimal("70.00")))]
    return payment, payment_refund(payment_id=payment.pk, lines=lines, by=UserFactory(is_staff=True),
                                   reason="Asked by member")


@pytest.mark.django_db
class TestRefundEmail:
    def test_says_what_was_refunded_and_what_happened_once(self, user):
        payment, refund = refunded(user, CPT="keep", EP="undo")
        ep = line_of(payment, "EP")
        cycle = Cycle.objects.get(pk=ep.cycle_id)
        number = Cycle.objects.get(pk=ep.renewed_cycle_id).certificate.number
        moment = clock.now().replace(microsecond=0)
        with time_machine.travel(moment, tick=False):
            assert refund_email_send(refund_id=refund.pk) == "sent"
        assert refund_email_send(refund_id=refund.pk) == "already sent"
        [message] = mail.outbox
        order = payment.order
        assert (message.subject, message.to) == (f"Your MyACSM refund for order {order.number}", [user.email])
        body = message.body
        assert f"We refunded $130.00 of your order {order.number} to your Visa ending in 4242 on " in body
        assert "  CPT Recertification: $60.00 refunded of $60.00\n    CPT renewal kept: " in body
        assert (f"  EP Recertification: $70.00 refunded of $70.00\n    EP renewal undone: cycle "
                f"{format_range(cycle.start, cycle.end)} is open again; certificate {number} voided.") in body
        assert "open again on your CEC Dashboard, with its credits counting toward it" in body
        assert f"/orders/{order.number}/receipt/" in body
        html = message.alternatives[0][0]
        assert f"certificate {number} voided." in html
        refund.refresh_from_db()
        assert (refund.email_claimed_at, refund.emailed_at) == (moment, moment)

    def test_a_kept_renewal_says_nothing_of_a_dashboard_to_renew_from(self, user):
        _, refund = refunded(user, CPT="keep", EP="keep")
        assert refund_email_send(refund_id=refund.pk) == "sent"
        assert "open again on your CEC Dashboard" not in mail.outbox[0].body

    def test_a_refund_not_made_is_not_emailed(self, user):
        payment, refund = refunded(user, CPT="keep", EP="keep")
        Refund.objects.filter(pk=refund.pk).update(state=Refund.State.FAILED)
        assert refund_email_send(refund_id=refund.pk) == "not refunded"
        assert mail.outbox == []

    def test_a_fresh_claim_is_left_alone_and_a_failed_send_lets_it_go(self, user, settings):
        _, refund = refunded(user, CPT="keep", EP="keep")
        claimed = clock.now() - jobs.CLAIM + timedelta(seconds=5)
        Refund.objects.filter(pk=refund.pk).update(email_claimed_at=claimed)
        assert refund_email_send(refund_id=refund.pk) == "claimed"
        with time_machine.travel(clock.now() + timedelta(seconds=10)):
            settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
            settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: refused
            with pytest.raises(OSError):
                refund_email_send(refund_id=refund.pk)
        refund.refresh_from_db()
        assert (refund.email_claimed_at, refund.emailed_at) == (None, None)

    def test_the_sweeper_queues_a_lost_email_again(self, user):
        _, refund = refunded(user, CPT="keep", EP="keep")
        assert refund_emails_unsent_requeue(after=jobs.LOST_AFTER) == []
        with time_machine.travel(clock.now() + jobs.LOST_AFTER + timedelta(seconds=1)):
            assert refund_emails_unsent_requeue(after=jobs.LOST_AFTER) == [refund.pk]
        Refund.objects.filter(pk=refund.pk).update(emailed_at=clock.now())
        with time_machine.travel(clock.now() + jobs.LOST_AFTER + timedelta(seconds=1)):
            assert refund_emails_unsent_requeue(after=jobs.LOST_AFTER) == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_emails_the_refund_once(worker_mail, user):
    payment, refund = refunded(user, CPT="keep", EP="undo")
    subject = f"Your MyACSM refund for order {payment.order.number}"
    deadline = time.monotonic() + 30
    while Refund.objects.get(pk=refund.pk).emailed_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refund_email_send(refund_id=refund.pk) == "already sent"
    # The receipt of the payment may come too (unless the worker saw the order refunded first): count the refund's.
    sent = [m for m in worker_mail.messages() if m["Subject"] == subject]
    assert len(sent) == 1 and sent[0]["To"] == user.email


@pytest.mark.django_db
class TestPlainTextEmails:
    """Plain-text emails say a name as it was typed: no HTML entities (``O&#x27;Brien``) in a text body."""

    def test_the_refund_email(self, user):
        User.objects.filter(pk=user.pk).update(first_name="Siobhán O'Brien")
        _, refund = refunded(user, CPT="keep", EP="keep")
        assert refund_email_send(refund_id=refund.pk) == "sent"
        [message] = mail.outbox
        assert message.body.startswith("Hello Siobhán O'Brien,\n")
        assert "&#x27;" not in message.body and "&amp;" not in message.body
        assert "Your refund, Siobhán O&#x27;Brien</h1>" in message.alternatives[0][0]  # HTML escapes it, as it must

    def test_the_receipt_email(self, user):
        User.objects.filter(pk=user.pk).update(first_name="Siobhán O'Brien")
        order = paid_order_without_stripe(user, "CPT", total="60.00")
        assert order_receipt_send(order_id=order.pk) == "sent"
        [message] = mail.outbox
        assert message.body.startswith("Hello Siobhán O'Brien,\n")
        assert "&#x27;" not in message.body

    def test_the_set_password_email(self):
        invited = UserFactory(first_name="Siobhán O'Brien")
        invited.set_unusable_password()
        invited.save()
        assert set_password_email_send(user_id=invited.pk) == "sent"
        [message] = mail.outbox
        assert message.body.startswith("Hello Siobhán O'Brien,\n")
        assert "&#x27;" not in message.body


@pytest.mark.parametrize("path", sorted((Path(settings.BASE_DIR) / "templates" / "emails").glob("*.txt")),
                         ids=lambda p: p.name)
def test_every_plain_text_email_template_turns_html_escaping_off(path):
    text = path.read_text()
    assert text.startswith("{% autoescape off %}") and text.rstrip().endswith("{% endautoescape %}")
