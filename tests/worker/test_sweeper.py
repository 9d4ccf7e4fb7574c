"""The sweeper queues again what went missing (receipts, certificate renders, CPR decision and set-password
emails not done three minutes on),
and a real worker then sends and renders each once, however often the sweeper or the jobs run.

A worker takes the queue's jobs one at a time, first in first out, so a set-password email queued last (the
"marker") arriving means every job queued before it has run. (The mailbox's files are not in sending order.)
"""

import time
from datetime import timedelta

import pytest

from accounts.services import certificant_create
from acsm_portal import clock
from certifications.models import Certificate, Cycle
from payments.models import Order
from acsm_portal.jobs import CLAIM, LOST_AFTER
from acsm_portal.tasks import lost_jobs_requeue, lost_jobs_requeue_task
from accounts.models import User
from certifications.models import CprUpload
from payments.tasks import order_receipt_email
from tests.certifications.cpr_helpers import submitted
from tests.factories import UserFactory, certification_with_cycle
from tests.payments.helpers import paid_order_without_stripe

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"the worker did not {what} within {timeout}s"
        time.sleep(0.1)
    return found


def after_marker(mailbox, n: int) -> list[str]:
    """Queue a set-password email behind everything queued so far; when it arrives, the subjects of all the
    worker's emails, sorted."""
    certificant_create(email=f"marker{n}@example.com", first_name="Mark", last_name="Er")
    wait_until(lambda: any(m["To"] == f"marker{n}@example.com" for m in mailbox.messages()), "send the marker")
    return sorted(m["Subject"] for m in mailbox.messages())


def paid(minutes_ago: int, *, claimed_minutes_ago: int | None = None, emailed: bool = False) -> Order:
    """A paid order of a new certificant whose receipt job never ran (nothing was queued for it)."""
    order = paid_order_without_stripe(UserFactory(), "CPT", total="60.00")
    now = clock.now()
    Order.objects.filter(pk=order.pk).update(  # test set-up: when it was paid, claimed and emailed
        paid_at=now - timedelta(minutes=minutes_ago),
        receipt_claimed_at=None if claimed_minutes_ago is None else now - timedelta(minutes=claimed_minutes_ago),
        receipt_emailed_at=now - timedelta(minutes=minutes_ago - 1) if emailed else None,
    )
    return Order.objects.get(pk=order.pk)


def issued(minutes_ago: int) -> Certificate:
    """A certificate issued ``minutes_ago`` whose render job never ran."""
    user = UserFactory()
    cycle = certification_with_cycle(user, "EP").cycles.get(state=Cycle.State.OPEN)
    return Certificate.objects.create(
        certification=cycle.certification, cycle=cycle, number=f"EP-{cycle.start:%Y}-{100000 + user.pk}",
        holder_name=user.get_full_name(), certification_name="Certified Exercise Physiologist",
        issued_on=clock.today(), valid_through=cycle.end, created_at=clock.now() - timedelta(minutes=minutes_ago),
    )


def decided(*, minutes_ago: int, emailed: bool = False) -> CprUpload:
    """A CPR/AED card rejected ``minutes_ago`` whose decision email job never ran (or ran, when ``emailed``)."""
    upload = submitted(certification_with_cycle(UserFactory(), "CPT"), state="pending")
    when = clock.now() - timedelta(minutes=minutes_ago)
    CprUpload.objects.filter(pk=upload.pk).update(  # test set-up: rejected then, and its email job never queued
        state=CprUpload.State.REJECTED, rejection_reason="Blurry photo", reviewed_at=when,
        decision_emailed_at=when if emailed else None)
    return CprUpload.objects.get(pk=upload.pk)


def invited(*, minutes_ago: int) -> User:
    """A certificant created ``minutes_ago`` with no password, whose set-password email job never ran."""
    user = UserFactory(password=None)
    user.set_unusable_password()
    user.save()
    User.objects.filter(pk=user.pk).update(date_joined=clock.now() - timedelta(minutes=minutes_ago))
    return User.objects.get(pk=user.pk)


def receipt_state(order: Order) -> tuple:
    order = Order.objects.get(pk=order.pk)
    return order.receipt_claimed_at, order.receipt_emailed_at


def test_the_sweeper_requeues_what_was_lost_and_running_it_again_sends_nothing_twice(worker_mail):
    assert (LOST_AFTER, CLAIM) == (timedelta(minutes=3), timedelta(seconds=100))
    never_sent = paid(5)
    worker_died = paid(4, claimed_minutes_ago=4)
    being_sent = paid(4, claimed_minutes_ago=1)
    just_paid = paid(2)
    sent = paid(30, emailed=True)
    lost_render = issued(4)
    just_issued = issued(2)
    lost_decision = decided(minutes_ago=4)
    sent_decision = decided(minutes_ago=4, emailed=True)
    lost_invite = invited(minutes_ago=5)
    with_password = UserFactory()
    User.objects.filter(pk=with_password.pk).update(date_joined=clock.now() - timedelta(minutes=5))
    untouched = {o.pk: receipt_state(o) for o in (being_sent, just_paid, sent)}

    assert lost_jobs_requeue() == {"receipts": [never_sent.pk, worker_died.pk], "certificates": [lost_render.pk],
                                   "cpr_decisions": [lost_decision.pk], "set_password": [lost_invite.pk],
                                   "refund_emails": [], "audit_emails": [], "reminders": [],
                                   "certificate_status_emails": []}

    receipts = sorted(f"Your MyACSM receipt {o.number}" for o in (never_sent, worker_died))
    expected = sorted(["Set your MyACSM password", "Set your MyACSM password",
                       "Your CPR/AED card for CPT was not accepted", *receipts])
    assert after_marker(worker_mail, 1) == expected
    after_first = {o.pk: receipt_state(o) for o in (never_sent, worker_died)}
    for claimed_at, emailed_at in after_first.values():
        assert claimed_at is not None and emailed_at is not None and claimed_at <= emailed_at
    assert {o.pk: receipt_state(o) for o in (being_sent, just_paid, sent)} == untouched
    rendered = Certificate.objects.get(pk=lost_render.pk)
    assert rendered.pdf.name == f"certificates/{lost_render.number}.pdf"
    assert rendered.rendered_at is not None
    assert rendered.pdf.open("rb").read(5) == b"%PDF-"
    assert Certificate.objects.get(pk=just_issued.pk).rendered_at is None
    assert CprUpload.objects.get(pk=lost_decision.pk).decision_emailed_at is not None
    assert User.objects.get(pk=lost_invite.pk).set_password_emailed_at is not None
    invite = next(m for m in worker_mail.messages() if m["To"] == lost_invite.email)
    assert "Set your MyACSM password" == invite["Subject"]

    # Again, here and as the worker's periodic task: nothing is lost any more, nothing is sent or rendered again.
    assert lost_jobs_requeue() == {"receipts": [], "certificates": [], "cpr_decisions": [], "set_password": [],
                                   "refund_emails": [], "audit_emails": [], "reminders": [],
                                   "certificate_status_emails": []}
    lost_jobs_requeue_task.delay()
    assert after_marker(worker_mail, 2) == sorted([*expected, "Set your MyACSM password"])
    assert {o.pk: receipt_state(o) for o in (never_sent, worker_died)} == after_first
    assert Certificate.objects.get(pk=lost_render.pk).rendered_at == rendered.rendered_at
    assert {o.pk: receipt_state(o) for o in (being_sent, just_paid, sent)} == untouched


def test_a_receipt_queued_three_times_is_sent_once(worker_mail):
    order = paid(5)
    for _ in range(3):  # the payment's own job, the sweeper's, and a retry
        order_receipt_email.delay(order.pk)
    assert after_marker(worker_mail, 3) == ["Set your MyACSM password", f"Your MyACSM receipt {order.number}"]
    claimed_at, emailed_at = receipt_state(order)
    assert claimed_at is not None and emailed_at is not None
