"""With the broker (and the cache) down while a person pays, the payment still commits, the person sees their paid
receipt, and no job is lost: once the broker is back the sweeper queues the receipt and the certificate render,
and a real worker sends and renders each once."""

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from accounts.models import User
from accounts.services import certificant_create
from acsm_portal import clock, jobs
from acsm_portal.celery import app
from acsm_portal.tasks import lost_jobs_requeue
from certifications.models import Certificate, Cycle
from payments.models import Order
from tests.waits import wait_until
from tests.payments.helpers import card, cart_with

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("localstripe")]

BILLING = {"name": "Jordan Lee", "line1": "1 Main St", "line2": "", "city": "Springfield", "state": "IL",
           "postal_code": "62701", "country": "us", "expected_total": "60.00"}


def _reset_connections() -> None:
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker_down():
    """The Celery app pointed at a port where nothing listens, as when the broker's Redis has stopped."""
    saved = app.conf.get("broker_write_url")
    app.conf.broker_write_url = "redis://127.0.0.1:9/15"
    _reset_connections()
    try:
        yield
    finally:
        app.conf.broker_write_url = saved
        _reset_connections()


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/14"}}
    assert cache.get("anything") is None
    yield




def test_a_payment_while_the_broker_is_down_is_paid_shown_and_its_jobs_follow(worker_mail, user_client, user,
                                                                               cache_down):
    cart_with(user, "CPT")
    renewed = Cycle.objects.get(certification__user=user, state=Cycle.State.OPEN)
    with broker_down():
        body = user_client.post(reverse("checkout"), BILLING, headers={"Accept": "application/json"}).json()
        response = user_client.post(body["charge_url"], {"payment_method": card()})
        assert (response.status_code, response.json()) == (
            200, {"state": "succeeded", "message": "Payment received.", "receipt_url": body["receipt_url"]})
        receipt = user_client.get(body["receipt_url"])
        order = Order.objects.get(user=user)
        assert receipt.status_code == 200
        assert f"Receipt {order.number}" in receipt.content.decode()
        # A certificant created meanwhile is kept too; their invitation waits for the broker like the receipt.
        invited = certificant_create(email="new.member@example.com", first_name="Ana", last_name="Ruiz")

    assert order.state == Order.State.PAID and order.receipt_emailed_at is None
    assert Cycle.objects.get(pk=renewed.pk).state == Cycle.State.RENEWED
    certificate = Certificate.objects.get(certification__user=user)
    assert certificate.rendered_at is None
    assert worker_mail.messages() == []

    assert lost_jobs_requeue() == {"receipts": [], "certificates": [], "cpr_decisions": [], "set_password": [],
                                   "refund_emails": [], "audit_emails": [], "reminders": [],
                                   "certificate_status_emails": []}
    with time_machine.travel(clock.now() + jobs.LOST_AFTER + timedelta(seconds=1)):
        assert lost_jobs_requeue() == {"receipts": [order.pk], "certificates": [certificate.pk],
                                       "cpr_decisions": [], "set_password": [invited.pk],
                                       "refund_emails": [], "audit_emails": [], "reminders": [],
                                       "certificate_status_emails": []}
    wait_until(lambda: len(worker_mail.messages()) == 2,
               what="the worker to send the receipt and the invitation")
    assert sorted(m["Subject"] for m in worker_mail.messages()) == [
        "Set your MyACSM password", f"Your MyACSM receipt {order.number}"]
    wait_until(lambda: Certificate.objects.get(pk=certificate.pk).rendered_at,
               what="the worker to render the certificate")
    assert Order.objects.get(pk=order.pk).receipt_emailed_at is not None
    assert User.objects.get(pk=invited.pk).set_password_emailed_at is not None


def test_queueing_with_the_broker_down_does_not_raise_and_says_so_in_the_log(caplog):
    from payments.tasks import order_receipt_email

    with broker_down():
        assert jobs.queue(order_receipt_email, 1) is False
    assert "Could not queue payments.tasks.order_receipt_email(1,)" in caplog.text
