"""The certificant's side of an audit: the dashboard tile in each state, the audit page, Upload proof (taken, and
refused with the reason and nothing kept), Remove, Submit for review (refused, then taken), replacement credits in a
second window, and another person's audit and proof answering 404."""

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from acsm_portal import clock
from audits.models import Audit, AuditCredit, AuditLog, AuditProof
from audits.services import (
    audit_credit_review, audit_extend, audit_fail, audit_pass, audit_proof_add, audit_submit,
)
from tests.certifications.cpr_helpers import pdf_bytes, pdf_with_script, png_bytes, png_of_size, upload
from tests.factories import CECEntryFactory, UserFactory
from tests.pages import text, tile

from .helpers import audited, reviewer

PRIVATE_ROOT = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
CPT = "Certified Personal Trainer"


def proof_files() -> list[Path]:
    return sorted((PRIVATE_ROOT / "audit-proof").glob("*"))


def page(client, audit: Audit) -> str:
    response = client.get(reverse("audit", args=[audit.pk]))
    assert response.status_code == 200
    return response.content.decode()


def credit(audit: Audit, name: str) -> AuditCredit:
    return audit.credits.get(course_name=name)


def credit_card(html: str, item: AuditCredit) -> str:
    """The HTML of one credit on the audit page."""
    match = re.search(rf'<li class="audit-credit [^"]*" id="credit-{item.pk}">(.*?)\n    </li>', html, re.S)
    assert match, f"no credit {item.pk} on the page"
    return match.group(1)


def upload_proof(client, audit: Audit, item: AuditCredit, name: str, data: bytes, **extra):
    return client.post(reverse("audit_proof_upload", args=[audit.pk, item.pk]), {"file": upload(name, data)}, **extra)


def documented(audit: Audit, user) -> None:
    for n, item in enumerate(audit.credits.filter(state="needed")):
        audit_proof_add(audit_id=audit.pk, credit_id=item.pk, user=user, name=f"proof-{n}.png",
                        data=png_bytes(seed=item.pk))


@pytest.fixture
def staff(db):
    return reviewer()


@pytest.fixture
def audit(user, staff):
    """``user``'s CPT renewal under audit: four credits (45 CECs), one reported by its provider."""
    return audited(user, by=staff)


# ---------------------------------------------------------------- the tile

@pytest.mark.django_db
class TestTile:
    def dashboard_tile(self, client) -> str:
        return tile(client.get(reverse("dashboard")).content.decode(), CPT)

    def test_selected_shows_the_due_date_in_the_persons_zone_progress_and_the_link(self, client, staff):
        user = UserFactory(time_zone="America/Los_Angeles")
        client.force_login(user)
        audit = audited(user, by=staff)
        html = self.dashboard_tile(client)
        due = audit.due_on
        assert due == clock.today_for(user) + timedelta(days=30)
        assert (f"Your recertification was selected for audit Due {due.month}/{due.day}/{due.year} at 11:59 PM "
                "Pacific time 1 of 4 credits documented Submit audit documents") in text(html)
        assert f'href="{reverse("audit", args=[audit.pk])}"' in html

    def test_progress_follows_the_proof(self, user_client, user, audit):
        item = credit(audit, "Exercise and diabetes")
        audit_proof_add(audit_id=audit.pk, credit_id=item.pk, user=user, name="certificate.pdf", data=pdf_bytes())
        assert "2 of 4 credits documented" in text(self.dashboard_tile(user_client))

    def test_submitted_passed_extended_and_failed(self, user_client, user, audit, staff):
        documented(audit, user)
        audit_submit(audit_id=audit.pk, user=user)
        t = text(self.dashboard_tile(user_client))
        assert "Audit documents submitted – under review" in t
        assert "Submit audit documents" not in t and "Due " not in t

        for item in audit.credits.filter(state="documented"):
            audit_credit_review(credit_id=item.pk, by=staff, accept=True)
        audit_pass(audit_id=audit.pk, by=staff)
        t = text(self.dashboard_tile(user_client))
        assert "Audit passed" in t and "under review" not in t

    def test_a_second_window_shows_its_own_due_date(self, user_client, user, audit, staff):
        documented(audit, user)
        audit_submit(audit_id=audit.pk, user=user)
        audit_credit_review(credit_id=credit(audit, "Nutrition basics").pk, by=staff, accept=False,
                            reason="The certificate is for another person.")
        extended = audit_extend(audit_id=audit.pk, by=staff, days=12)
        due = extended.extended_due_on
        assert due == clock.today_for(user) + timedelta(days=12) != audit.due_on
        html = self.dashboard_tile(user_client)
        assert (f"Your audit has more time: report replacement credits Due {due.month}/{due.day}/{due.year} at "
                "11:59 PM Eastern time 3 of 3 credits documented Submit audit documents") in text(html)

    def test_failed_suspends_the_tile(self, user_client, user, audit, staff):
        documented(audit, user)
        audit_submit(audit_id=audit.pk, user=user)
        audit_fail(audit_id=audit.pk, by=staff, reason="The certificates are not genuine.")
        html = self.dashboard_tile(user_client)
        assert 'status-renewed">Suspended</dd>' in html
        t = text(html)
        assert "Your recertification audit failed: this certification is suspended" in t
        assert "RENEW" not in t and "Submit audit documents" not in t

    def test_no_audit_no_audit_line(self, user_client, user, staff):
        from .helpers import paid_renewal

        paid_renewal(user)
        t = text(self.dashboard_tile(user_client))
        assert "audit" not in t.lower()


# ---------------------------------------------------------------- the page

@pytest.mark.django_db
class TestPage:
    def test_lists_every_credit_with_its_facts_and_what_it_needs(self, user_client, audit):
        html = page(user_client, audit)
        due = audit.due_on
        t = text(html)
        assert "Your recertification was selected for audit" in t
        assert f"Due {due.month}/{due.day}/{due.year} at 11:59 PM Eastern time (30 days left)" in t
        assert "1 of 4 credits documented" in t
        start = audit.cycle.start
        expected = [
            ("Strength training for older adults", start, "15", "Live course", "—", "Proof needed"),
            ("Exercise and diabetes", start + timedelta(days=1), "10", "Online course", "—", "Proof needed"),
            ("Annual conference", start + timedelta(days=2), "12", "Conference", "ACSM", "Verified"),
            ("Nutrition basics", start + timedelta(days=3), "8", "Home study", "—", "Proof needed"),
        ]
        for name, earned, cecs, fmt, provider, status in expected:
            card = text(credit_card(html, credit(audit, name)))
            assert card.startswith(f"{name} {status} Date earned {earned.month}/{earned.day}/{earned.year} CECs "
                                   f"{cecs} Format {fmt} Provider {provider}"), card
            assert ("Upload proof" in card) == (status == "Proof needed")
        conference = text(credit_card(html, credit(audit, "Annual conference")))
        assert "Reported by its provider; no proof needed." in conference
        assert "Upload proof for the 3 credits marked Proof needed to submit." in t
        assert re.search(r'<button type="submit" class="btn btn-success" id="audit-submit" disabled', html)

    def test_is_private_and_never_cached(self, user_client, audit):
        response = user_client.get(reverse("audit", args=[audit.pk]))
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]

    def test_upload_keeps_the_file_and_shows_it(self, user_client, user, audit):
        item = credit(audit, "Exercise and diabetes")
        response = upload_proof(user_client, audit, item, "diabetes-course.pdf", pdf_bytes())
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('audit', args=[audit.pk])}#credit-{item.pk}"
        proof = AuditProof.objects.get()
        assert (proof.credit_id, proof.original_name, proof.content_type) == (item.pk, "diabetes-course.pdf",
                                                                             "application/pdf")
        item.refresh_from_db()
        assert item.state == "documented"
        html = user_client.get(response["Location"]).content.decode()
        card = credit_card(html, item)
        assert f'href="{reverse("audit_proof_download", args=[proof.key])}">diabetes-course.pdf</a>' in card
        assert proof.size_label in text(card) and "Remove" in text(card) and "Proof uploaded" in text(card)
        assert "Uploaded “diabetes-course.pdf” for “Exercise and diabetes”." in text(html)
        assert "2 of 4 credits documented" in text(html)
        download = user_client.get(reverse("audit_proof_download", args=[proof.key]))
        assert download.status_code == 200
        assert download["Content-Disposition"] == 'attachment; filename="diabetes-course.pdf"'
        assert b"".join(download.streaming_content) == pdf_bytes()

    def test_the_pages_script_gets_json(self, user_client, audit):
        item = credit(audit, "Nutrition basics")
        ok = upload_proof(user_client, audit, item, "n.png", png_bytes(), HTTP_ACCEPT="application/json")
        assert (ok.status_code, ok.json()) == (201, {"redirect": f"/audits/{audit.pk}/#credit-{item.pk}"})
        refused = upload_proof(user_client, audit, item, "n.png", png_bytes(), HTTP_ACCEPT="application/json")
        assert refused.status_code == 400
        assert refused.json() == {"error": "“n.png” is already uploaded for this credit (as “n.png”)."}

    @pytest.mark.parametrize(("name", "data", "reason"), [
        ("certificate.pdf", pdf_with_script(), "JavaScript"),
        ("notes.txt", b"I went to the course, honestly.\n", "is not a PDF, JPEG or PNG file"),
        ("empty.png", b"", "“empty.png” is empty."),
        ("huge.png", png_of_size(10 * 1024 * 1024 + 10), "is larger than 10 MB"),
    ])
    def test_a_bad_file_is_refused_with_the_reason_and_nothing_kept(self, user_client, audit, name, data, reason):
        item = credit(audit, "Strength training for older adults")
        before = proof_files()  # files of earlier tests stay on disk
        response = upload_proof(user_client, audit, item, name, data)
        assert response.status_code == 400
        html = response.content.decode()
        error = re.search(rf'<div class="audit-upload-error small" id="proof-{item.pk}-error" role="alert">(.*?)</div>',
                          html, re.S)
        assert error and reason in error.group(1)
        assert f'id="proof-{item.pk}" accept=' in html and 'aria-invalid="true"' in html
        item.refresh_from_db()
        assert item.state == "needed"
        assert not AuditProof.objects.exists() and proof_files() == before
        assert not AuditLog.objects.filter(audit=audit, note__startswith="Proof").exists()

    def test_no_file_chosen(self, user_client, audit):
        item = credit(audit, "Strength training for older adults")
        response = user_client.post(reverse("audit_proof_upload", args=[audit.pk, item.pk]), {})
        assert response.status_code == 400
        assert "Choose a file of proof (a certificate of completion or a transcript) first." in text(
            credit_card(response.content.decode(), item))

    def test_remove_takes_the_file_away(self, user_client, user, audit, django_capture_on_commit_callbacks):
        item = credit(audit, "Nutrition basics")
        before = proof_files()
        proof = audit_proof_add(audit_id=audit.pk, credit_id=item.pk, user=user, name="n.png", data=png_bytes())
        assert len(proof_files()) == len(before) + 1
        with django_capture_on_commit_callbacks(execute=True):  # the stored file goes once the removal commits
            response = user_client.post(reverse("audit_proof_remove", args=[audit.pk, proof.pk]))
        assert response.status_code == 302
        item.refresh_from_db()
        assert item.state == "needed" and not AuditProof.objects.exists() and proof_files() == before
        html = user_client.get(response["Location"]).content.decode()
        assert "Removed the file from “Nutrition basics”." in text(html)
        assert "n.png" not in credit_card(html, item)

    def test_submit_is_refused_until_every_credit_has_proof(self, user_client, user, audit):
        first = credit(audit, "Strength training for older adults")
        audit_proof_add(audit_id=audit.pk, credit_id=first.pk, user=user, name="s.png", data=png_bytes())
        response = user_client.post(reverse("audit_submit", args=[audit.pk]), {"note": "Two more to come."})
        assert response.status_code == 400
        html = response.content.decode()
        assert ("Upload proof for every credit before you submit: 2 credits still need proof (“Exercise and "
                "diabetes”; “Nutrition basics”).") in text(html)
        assert "Two more to come.</textarea>" in html
        audit.refresh_from_db()
        assert (audit.state, audit.note, audit.submitted_at) == ("selected", "", None)

        documented(audit, user)
        response = user_client.post(reverse("audit_submit", args=[audit.pk]), {"note": "All attached."})
        assert response.status_code == 302 and response["Location"] == reverse("dashboard")
        audit.refresh_from_db()
        assert (audit.state, audit.note) == ("submitted", "All attached.")
        again = user_client.post(reverse("audit_submit", args=[audit.pk]), {"note": "Twice."})  # a double click
        assert again.status_code == 302
        audit.refresh_from_db()
        assert audit.note == "All attached." and audit.log.filter(to_state="submitted").count() == 1
        html = page(user_client, audit)
        t = text(html)
        assert "Audit documents submitted – under review" in t and "4 of 4 credits documented" in t
        assert "Upload proof" not in t and "Remove" not in t and 'id="audit-submit"' not in html
        assert "Your note: All attached." in t

    def test_a_note_too_long_is_refused_and_kept(self, user_client, user, audit):
        documented(audit, user)
        response = user_client.post(reverse("audit_submit", args=[audit.pk]), {"note": "x" * 2001})
        assert response.status_code == 400
        assert "Keep the note under 2000 characters." in text(response.content.decode())
        audit.refresh_from_db()
        assert audit.state == "selected"

    def test_after_the_due_date_nothing_can_be_changed(self, user_client, user, audit):
        Audit.objects.filter(pk=audit.pk).update(due_on=clock.today_for(user) - timedelta(days=1))
        html = page(user_client, audit)
        assert "has passed; the documents can no longer be changed" in text(html)
        assert "Upload proof" not in text(html) and 'id="audit-submit"' not in html
        item = credit(audit, "Nutrition basics")
        response = upload_proof(user_client, audit, item, "n.png", png_bytes())
        assert response.status_code == 400 and "it can no longer be changed" in text(response.content.decode())
        assert not AuditProof.objects.exists()


# ---------------------------------------------------------------- a second window

@pytest.mark.django_db
def test_replacement_credits_in_a_second_window(user_client, user, audit, staff):
    documented(audit, user)
    audit_submit(audit_id=audit.pk, user=user)
    audit_credit_review(credit_id=credit(audit, "Strength training for older adults").pk, by=staff, accept=False,
                        reason="The certificate has no date.")
    for name in ("Exercise and diabetes", "Nutrition basics"):
        audit_credit_review(credit_id=credit(audit, name).pk, by=staff, accept=True)
    audit_extend(audit_id=audit.pk, by=staff, days=30)
    earned = audit.cycle.start + timedelta(days=40)
    extra = CECEntryFactory(user=user, date_earned=earned, course_name="Kettlebell workshop", cecs=Decimal("16"),
                            units=Decimal("16"), format="live", provider="Gym Co")
    CECEntryFactory(user=user, date_earned=audit.cycle.end + timedelta(days=3), course_name="After the cycle")

    html = page(user_client, audit)
    t = text(html)
    assert "You have more time to replace rejected credits" in t
    assert "Reason: The certificate has no date." in text(credit_card(html, credit(audit, "Strength training for "
                                                                                          "older adults")))
    assert "30 of 45 CECs accepted; 15 more CECs are needed." in t
    assert (f"Kettlebell workshop {earned.month}/{earned.day}/{earned.year} · 16 CECs · Live course · Gym Co "
            "Add Kettlebell workshop") in t
    assert "After the cycle" not in t
    assert "Add replacement credits worth at least 15 more CECs before you submit, or the audit cannot pass." in t

    response = user_client.post(reverse("audit_replacement_add", args=[audit.pk]), {"cec_entry": extra.pk})
    assert response.status_code == 302
    added = AuditCredit.objects.get(audit=audit, cec_entry=extra)
    assert (added.replacement, added.state, added.cecs) == (True, "needed", Decimal("16"))
    html = user_client.get(response["Location"]).content.decode()
    card = text(credit_card(html, added))
    assert "Added as a replacement credit." in card and "Upload proof" in card and "Remove from audit" in card
    assert "Added “Kettlebell workshop” to your audit. Upload proof for it below." in text(html)
    assert "Add Kettlebell workshop" not in text(html)
    assert "Add replacement credits worth" not in text(html)  # the 16 CECs added cover the 15 short

    response = user_client.post(reverse("audit_replacement_remove", args=[audit.pk, added.pk]))
    assert response.status_code == 302 and not AuditCredit.objects.filter(pk=added.pk).exists()

    before_the_cycle = CECEntryFactory(user=user, date_earned=audit.cycle.start - timedelta(days=1),
                                       course_name="Too early")
    response = user_client.post(reverse("audit_replacement_add", args=[audit.pk]), {"cec_entry": before_the_cycle.pk})
    assert response.status_code == 400
    assert "outside the audited cycle" in text(response.content.decode())


# ---------------------------------------------------------------- another person's

@pytest.mark.django_db
def test_another_persons_audit_and_proof_answer_404(client, user, audit):
    item = credit(audit, "Nutrition basics")
    proof = audit_proof_add(audit_id=audit.pk, credit_id=item.pk, user=user, name="n.png", data=png_bytes())
    client.force_login(UserFactory())
    mine = CECEntryFactory()
    answers = [
        client.get(reverse("audit", args=[audit.pk])),
        client.get(reverse("audit", args=[audit.pk + 1000])),
        client.get(reverse("audit_proof_download", args=[proof.key])),
        upload_proof(client, audit, item, "x.png", png_bytes(seed=9)),
        upload_proof(client, audit, item, "x.txt", b"not a file"),  # refused files too
        upload_proof(client, audit, item, "x.png", png_bytes(seed=9), HTTP_ACCEPT="application/json"),
        client.post(reverse("audit_proof_remove", args=[audit.pk, proof.pk])),
        client.post(reverse("audit_submit", args=[audit.pk]), {"note": ""}),
        client.post(reverse("audit_replacement_add", args=[audit.pk]), {"cec_entry": mine.pk}),
        client.post(reverse("audit_replacement_remove", args=[audit.pk, item.pk])),
    ]
    assert [r.status_code for r in answers] == [404] * len(answers)
    assert list(AuditProof.objects.values_list("pk", flat=True)) == [proof.pk]
    audit.refresh_from_db()
    assert audit.state == "selected"


@pytest.mark.django_db
def test_a_reviewer_may_download_proof(client, user, audit, staff):
    item = credit(audit, "Nutrition basics")
    proof = audit_proof_add(audit_id=audit.pk, credit_id=item.pk, user=user, name="n.png", data=png_bytes())
    client.force_login(staff)
    assert client.get(reverse("audit_proof_download", args=[proof.key])).status_code == 200
    client.force_login(UserFactory(is_staff=True))  # staff without the permission
    assert client.get(reverse("audit_proof_download", args=[proof.key])).status_code == 404
