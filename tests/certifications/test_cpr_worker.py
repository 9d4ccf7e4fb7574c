"""Decision emails are sent by a real Celery worker through Redis, once per decision."""

import time

import pytest

from certifications.models import CprUpload
from certifications.cpr.services import cpr_upload_approve, cpr_upload_reject
from certifications.tasks import send_cpr_decision_email
from tests.factories import UserFactory, certification_with_cycle

from .cpr_helpers import reviewer, submitted


def body(message) -> str:
    return message.get_payload(decode=True).decode()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_approval_and_rejection_emails_come_from_the_worker(worker_mail):
    ana = UserFactory(email="ana@example.com", first_name="Ana")
    ben = UserFactory(email="ben@example.com", first_name="Ben")
    staff = reviewer()
    approved = submitted(certification_with_cycle(ana, "CPT"))
    rejected = submitted(certification_with_cycle(ben, "EP"))

    assert cpr_upload_approve(upload=approved, reviewer=staff)[1] is True
    assert cpr_upload_approve(upload=approved, reviewer=staff)[1] is False  # a repeat queues nothing
    assert cpr_upload_reject(upload=rejected, reviewer=staff, reason="The photo is cut off at the expiry date.")[1]

    messages = {m["To"]: m for m in worker_mail.wait_for(2)}
    assert set(messages) == {"ana@example.com", "ben@example.com"}
    yes, no = messages["ana@example.com"], messages["ben@example.com"]
    assert yes["Subject"] == "Your CPR/AED card for CPT is approved"
    expires = approved.expires_on
    assert "Hello Ana," in body(yes)
    assert "Your CPR/AED card for your Certified Personal Trainer certification (CPT) is approved." in body(yes)
    assert f"The card is valid through {expires.month}/{expires.day}/{expires.year}." in body(yes)
    assert "/dashboard/" in body(yes)
    assert no["Subject"] == "Your CPR/AED card for EP was not accepted"
    assert "Reason: The photo is cut off at the expiry date." in body(no)
    assert f"/certifications/{rejected.certification_id}/maintenance/" in body(no)

    # The worker recorded each email; running the task again sends nothing more.
    for card in (approved, rejected):
        assert CprUpload.objects.get(pk=card.pk).decision_emailed_at is not None
        assert send_cpr_decision_email.apply(args=[card.pk]).get() == "already sent"
    time.sleep(1)
    assert len(worker_mail.messages()) == 2


@pytest.mark.django_db
def test_the_task_skips_undecided_and_missing_cards(user):
    card = submitted(certification_with_cycle(user, "CPT"))
    assert send_cpr_decision_email.apply(args=[card.pk]).get() == "not decided (pending)"
    assert send_cpr_decision_email.apply(args=[987654]).get() == "no such upload"
