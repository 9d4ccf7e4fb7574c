"""The worker's mail goes over SMTP to a real server process (aiosmtpd, ``tests/smtp.py``): what arrives is what a
person would get, one part or two and the attachment; and a job whose SMTP server refuses the connection is
retried a few times, then left, unsent and unclaimed, for the sweeper to send once the mail goes through again."""

from datetime import timedelta
from email.utils import parseaddr

import environ
import pytest
import time_machine
from django.conf import settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.services import certificant_create, set_password_emails_unsent_requeue
from accounts.tasks import send_set_password_email
from acsm_portal import clock, jobs
from payments.models import Order
from payments.tasks import order_receipt_email
from tests.conftest import worker_start, worker_stop
from tests.factories import UserFactory
from tests.payments.helpers import paid_order_without_stripe
from tests.smtp import free_port, smtp_answers
from tests.waits import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SENDER = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]  # the envelope's sender: the From address alone


def test_the_smtp_url_means_plain_smtp_to_that_port(smtp_server):
    config = environ.Env.email_url_config(smtp_server.url)
    assert config["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"]) == ("127.0.0.1", smtp_server.port)
    assert (config.get("EMAIL_USE_TLS", False), config.get("EMAIL_USE_SSL", False)) == (False, False)
    assert (config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]) == (None, None)
    assert smtp_answers(smtp_server.port) is True


def test_a_set_password_email_arrives_over_smtp_as_one_plain_text_part(worker_mail):
    user = certificant_create(email="Nia@Example.com", first_name="Nia", last_name="Park")

    [message] = worker_mail.wait_for(1)
    assert message["Subject"] == "Set your MyACSM password"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["To"] == "nia@example.com"
    # The envelope, as the SMTP server received it from a client on this machine.
    assert (message["X-MailFrom"], message["X-RcptTo"]) == (SENDER, "nia@example.com")
    assert message["X-Peer"].startswith("('127.0.0.1', ")
    assert not message.is_multipart()
    assert message.get_content_type() == "text/plain"
    body = message.get_payload(decode=True).decode()
    assert body.startswith("Hello Nia,\n\nA MyACSM account was created for you (member ID "
                           f"{user.member_id}).\nSet your password here")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    assert f"\n\n{settings.PORTAL_BASE_URL}/accounts/reset/{uid}/" in body
    wait_until(lambda: User.objects.get(pk=user.pk).set_password_emailed_at, what="the email to be marked sent")
    assert len(worker_mail.messages()) == 1


def test_a_receipt_arrives_over_smtp_with_its_text_and_html_parts_and_its_pdf(worker_mail):
    holder = UserFactory(email="casey@example.com", first_name="Casey")
    order = paid_order_without_stripe(holder, "CPT", total="60.00")
    assert jobs.queue(order_receipt_email, order.pk) is True

    [message] = worker_mail.wait_for(1)
    assert message["Subject"] == f"Your MyACSM receipt {order.number}"
    assert (message["To"], message["X-RcptTo"]) == ("casey@example.com", "casey@example.com")
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf"]
    _, _, text, html, pdf = message.walk()
    text, html = text.get_payload(decode=True).decode(), html.get_payload(decode=True).decode()
    assert text.startswith(f"Hello Casey,\n\nThank you for renewing. Your payment was received.\n\n"
                           f"Order number: {order.number}\n")
    assert "\nTotal: $60.00\nPaid with: Visa ending in 4242\n" in text
    assert f"Order number <strong>{order.number}</strong>" in html
    assert html.startswith("<!doctype html>")
    assert pdf.get_filename() == f"receipt-{order.number}.pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF-")
    wait_until(lambda: Order.objects.get(pk=order.pk).receipt_emailed_at, what="the receipt to be marked sent")
    assert len(worker_mail.messages()) == 1


def test_a_refused_connection_is_retried_then_left_to_the_sweeper_which_sends_it_once(worker_mail, tmp_path):
    """A second worker, on a queue of its own, sends to a port where nothing listens: the job is tried once and
    retried ``jobs.MAX_RETRIES`` times (a second or a few apart), then given up with the user neither claimed nor
    emailed. The sweeper, ``jobs.LOST_AFTER`` later, queues it again for the suite's worker, whose SMTP server
    takes it."""
    refused_port = free_port()
    assert smtp_answers(refused_port) is False
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-refused"
    log_path = tmp_path / "refused-worker.log"
    refused = worker_start(queue=queue, log_path=log_path, env={"EMAIL_URL": f"smtp://127.0.0.1:{refused_port}"})
    try:
        user = User.objects.create_user(email="omar@example.com", first_name="Omar", last_name="Diaz")
        send_set_password_email.apply_async(args=[user.pk], queue=queue)
        failed = wait_until(lambda: "raised unexpected: ConnectionRefusedError" in log_path.read_text(),
                            what="the job to fail its last retry")
    finally:
        worker_stop(refused)
    assert failed is True
    log = log_path.read_text()
    assert log.count("retry: Retry in") == jobs.MAX_RETRIES
    assert log.count("raised unexpected: ConnectionRefusedError") == 1
    user.refresh_from_db()
    assert (user.set_password_claimed_at, user.set_password_emailed_at) == (None, None)
    assert worker_mail.messages() == []

    with time_machine.travel(clock.now() + jobs.LOST_AFTER + timedelta(seconds=1)):
        # The sweeper's part for set-password emails (acsm_portal.tasks.lost_jobs_requeue), with its own delay.
        assert set_password_emails_unsent_requeue(after=jobs.LOST_AFTER) == [user.pk]

    [message] = worker_mail.wait_for(1)
    assert (message["Subject"], message["To"]) == ("Set your MyACSM password", "omar@example.com")
    wait_until(lambda: User.objects.get(pk=user.pk).set_password_emailed_at, what="the email to be marked sent")
    assert len(worker_mail.messages()) == 1
