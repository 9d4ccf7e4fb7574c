"""CPR card services: the draft, Submit, and the review transitions."""

from datetime import date, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.files.storage import default_storage

from acsm_portal import clock
from certifications.models import CprUpload, CprUploadFile
from certifications.cpr.services import (
    CprError,
    cpr_upload_add_file,
    cpr_upload_approve,
    cpr_upload_discard,
    cpr_upload_reject,
    cpr_upload_submit,
)
from tests.factories import UserFactory, certification_with_cycle

from .cpr_helpers import details, jpeg_bytes, pdf_bytes, pdf_with_script, png_bytes, reviewer, submitted

Y = clock.today().year
TODAY = date(Y, 3, 10)  # the services are handed ``today``: a day inside the default cycle (around the clock's today)
PRIVATE_ROOT = Path(settings.STORAGES["default"]["OPTIONS"]["location"])


@pytest.fixture
def cpt(user):
    return certification_with_cycle(user, "CPT")


def add(certification, name="front.png", data=None):
    return cpr_upload_add_file(certification=certification, user=certification.user, name=name,
                               data=data if data is not None else png_bytes())


@pytest.mark.django_db
class TestDraft:
    def test_a_file_is_stored_under_a_random_name_with_its_name_size_and_checksum_as_data(self, cpt):
        data = jpeg_bytes()
        stored = add(cpt, "Front of card.jpg", data)
        assert stored.file.name == f"cpr/{stored.key.hex}.jpg"
        assert stored.original_name == "Front of card.jpg"
        assert stored.content_type == "image/jpeg"
        assert stored.size == len(data)
        assert len(stored.sha256) == 64
        assert (PRIVATE_ROOT / stored.file.name).read_bytes() == data
        draft = stored.upload
        assert draft.state == CprUpload.State.DRAFT
        assert draft.cycle == cpt.cycles.get()
        assert draft.submitted_at is None

    def test_files_collect_in_one_draft_per_certification(self, cpt, user):
        ep = certification_with_cycle(user, "EP")
        a, b = add(cpt, "front.png", png_bytes(seed=1)), add(cpt, "back.pdf", pdf_bytes())
        c = add(ep, "ep.png", png_bytes(seed=1))  # the same bytes may go to another certification
        assert a.upload_id == b.upload_id != c.upload_id
        assert CprUpload.objects.filter(state=CprUpload.State.DRAFT).count() == 2

    def test_a_path_traversal_name_never_becomes_a_path(self, cpt):
        target = PRIVATE_ROOT.parent / "escaped.png"
        stored = add(cpt, "../../escaped.png")
        assert stored.original_name == "escaped.png"
        assert stored.file.name == f"cpr/{stored.key.hex}.png"
        assert (PRIVATE_ROOT / "cpr" / f"{stored.key.hex}.png").is_file()
        assert not target.exists()

    def test_a_unicode_name_is_kept_as_data(self, cpt):
        stored = add(cpt, "Tarjeta RCP – Núñez 🫀.png")
        assert CprUploadFile.objects.get(pk=stored.pk).original_name == "Tarjeta RCP – Núñez 🫀.png"
        assert stored.file.name.isascii()

    def test_a_refused_file_saves_nothing(self, cpt):
        before = sorted((PRIVATE_ROOT / "cpr").glob("*"))
        with pytest.raises(CprError) as refused:
            add(cpt, "card.pdf", pdf_with_script())
        assert refused.value.field == "files"
        assert refused.value.message.startswith("“card.pdf” contains JavaScript")
        assert not CprUpload.objects.exists()
        assert not CprUploadFile.objects.exists()
        assert sorted((PRIVATE_ROOT / "cpr").glob("*")) == before

    def test_the_same_file_twice_is_refused(self, cpt):
        add(cpt, "front.png")
        with pytest.raises(CprError) as refused:
            add(cpt, "front (1).png")
        assert refused.value.message == "“front (1).png” is already uploaded (as “front.png”)."

    def test_at_most_four_files(self, cpt):
        for n in range(4):
            add(cpt, f"page-{n}.png", png_bytes(seed=n))
        with pytest.raises(CprError) as refused:
            add(cpt, "page-5.png", png_bytes(seed=5))
        assert refused.value.message == (
            "A CPR card upload holds at most 4 files; “page-5.png” was not added. Use Remove All to start again."
        )
        assert CprUploadFile.objects.count() == 4

    def test_another_persons_certification_is_refused(self, cpt, other_user):
        with pytest.raises(CprError) as refused:
            cpr_upload_add_file(certification=cpt, user=other_user, name="x.png", data=png_bytes())
        assert refused.value.message == "This certification belongs to someone else."
        with pytest.raises(CprError):
            cpr_upload_discard(certification=cpt, user=other_user)
        with pytest.raises(CprError):
            cpr_upload_submit(certification=cpt, user=other_user, details=details(), today=TODAY)

    def test_remove_all_deletes_the_draft_and_its_stored_files(self, cpt, django_capture_on_commit_callbacks):
        names = [add(cpt, f"{n}.png", png_bytes(seed=n)).file.name for n in range(2)]
        with django_capture_on_commit_callbacks(execute=True):
            assert cpr_upload_discard(certification=cpt, user=cpt.user) == 2
        assert not CprUpload.objects.exists()
        assert not any(default_storage.exists(n) for n in names)
        assert cpr_upload_discard(certification=cpt, user=cpt.user) == 0

    def test_remove_all_leaves_submitted_cards_alone(self, cpt):
        upload = submitted(cpt, today=TODAY)
        add(cpt, "new.png", png_bytes(seed=9))
        assert cpr_upload_discard(certification=cpt, user=cpt.user) == 1
        assert CprUpload.objects.get().pk == upload.pk
        assert upload.files.count() == 1


@pytest.mark.django_db
class TestSubmit:
    def test_submit_moves_the_draft_to_pending_with_the_card_details(self, cpt):
        add(cpt)
        upload = cpr_upload_submit(
            certification=cpt, user=cpt.user, today=TODAY,
            details=details(expires_on=date(Y + 1, 5, 31), card_type="bls",
                            organization="  American   Heart Association "),
        )
        upload.refresh_from_db()
        assert upload.state == CprUpload.State.PENDING
        assert upload.card_type == "bls"
        assert upload.issuing_organization == "American Heart Association"
        assert upload.expires_on == date(Y + 1, 5, 31)
        assert upload.skills_check_confirmed is True
        assert upload.submitted_at is not None
        assert upload.reviewed_by is None and upload.reviewed_at is None

    def test_submit_without_files_is_refused(self, cpt):
        with pytest.raises(CprError) as refused:
            cpr_upload_submit(certification=cpt, user=cpt.user, details=details(), today=TODAY)
        assert refused.value.message == (
            "Upload at least one file of your card (front, and back if it has one) before you submit."
        )

    @pytest.mark.parametrize(
        ("kwargs", "field", "message"),
        [
            pytest.param({"expires_on": date(Y, 3, 9)}, "expires_on",
                         f"This card expired on 3/9/{Y}; upload a current CPR/AED card "
                         f"(today is 3/10/{Y}, Eastern time).",
                         id="expired-yesterday"),
            pytest.param({"expires_on": date(Y - 2, 12, 31)}, "expires_on",
                         f"This card expired on 12/31/{Y - 2}; upload a current CPR/AED card "
                         f"(today is 3/10/{Y}, Eastern time).",
                         id="expired-long-ago"),
            pytest.param({"expires_on": date(Y + 6, 1, 1)}, "expires_on",
                         f"CPR/AED cards are valid for a few years at most; check the expiry date (1/1/{Y + 6}).",
                         id="too-far-ahead"),
            pytest.param({"skills": False}, "skills_check_confirmed",
                         "Only courses with a hands-on skills check are accepted; confirm that yours had one.",
                         id="no-skills-check"),
            pytest.param({"card_type": "first_aid"}, "card_type", "Choose the card type from the list.",
                         id="unknown-card-type"),
            pytest.param({"organization": "   "}, "issuing_organization",
                         "Enter the organization that issued the card.", id="blank-organization"),
        ],
    )
    def test_bad_details_are_refused_and_the_draft_kept(self, cpt, kwargs, field, message):
        add(cpt)
        with pytest.raises(CprError) as refused:
            cpr_upload_submit(certification=cpt, user=cpt.user, details=details(**kwargs), today=TODAY)
        assert (refused.value.field, refused.value.message) == (field, message)
        assert CprUpload.objects.get().state == CprUpload.State.DRAFT
        assert CprUploadFile.objects.count() == 1

    def test_a_card_expiring_today_is_still_valid(self, cpt):
        add(cpt)
        upload = cpr_upload_submit(certification=cpt, user=cpt.user, details=details(expires_on=TODAY), today=TODAY)
        assert upload.state == CprUpload.State.PENDING

    def test_a_new_draft_can_follow_a_submitted_card(self, cpt):
        first = submitted(cpt, today=TODAY)
        second = add(cpt, "newer.png", png_bytes(seed=42)).upload
        assert second.pk != first.pk
        assert second.state == CprUpload.State.DRAFT


@pytest.mark.django_db
class TestReview:
    def test_approve_records_who_and_when_and_queues_one_email(self, cpt, django_capture_on_commit_callbacks,
                                                               decision_emails):
        upload = submitted(cpt, today=TODAY)
        staff = reviewer()
        moment = clock.now()
        with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
            approved, changed = cpr_upload_approve(upload=upload, reviewer=staff)
        assert changed is True
        approved.refresh_from_db()
        assert approved.state == CprUpload.State.APPROVED
        assert approved.reviewed_by == staff
        assert approved.reviewed_at == moment
        assert decision_emails == [upload.pk]

    def test_approve_twice_is_a_no_op(self, cpt, django_capture_on_commit_callbacks, decision_emails):
        upload = submitted(cpt, state="approved", today=TODAY)
        first_time = upload.reviewed_at
        staff = reviewer()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            again, changed = cpr_upload_approve(upload=upload, reviewer=staff)
        assert changed is False
        assert again.reviewed_at == first_time
        assert callbacks == []  # nothing saved: not even the dashboard is forgotten
        assert decision_emails == []

    def test_reject_needs_a_reason_and_keeps_the_first_one_on_a_repeat(self, cpt, django_capture_on_commit_callbacks,
                                                                       decision_emails):
        upload = submitted(cpt, today=TODAY)
        staff = reviewer()
        with pytest.raises(CprError) as refused:
            cpr_upload_reject(upload=upload, reviewer=staff, reason="  ")
        assert refused.value.message == "Give the reason for the rejection; the certificant reads it."
        with pytest.raises(CprError) as refused:
            cpr_upload_reject(upload=upload, reviewer=staff, reason="x" * 501)
        assert refused.value.message == "Keep the reason under 500 characters (it has 501)."
        with django_capture_on_commit_callbacks(execute=True):
            _, changed = cpr_upload_reject(upload=upload, reviewer=staff, reason="The photo is too blurry to read.")
            _, changed_again = cpr_upload_reject(upload=upload, reviewer=staff, reason="Another reason")
        assert (changed, changed_again) == (True, False)
        upload.refresh_from_db()
        assert upload.state == CprUpload.State.REJECTED
        assert upload.rejection_reason == "The photo is too blurry to read."
        assert decision_emails == [upload.pk]

    @pytest.mark.parametrize(
        ("start", "act", "message"),
        [
            ("approved", "reject", "This CPR card is approved; it cannot be rejected now."),
            ("rejected", "approve", "This CPR card is rejected; it cannot be approved now."),
        ],
    )
    def test_a_decision_is_final(self, cpt, start, act, message):
        upload = submitted(cpt, state=start, today=TODAY)
        with pytest.raises(CprError) as refused:
            if act == "approve":
                cpr_upload_approve(upload=upload, reviewer=reviewer())
            else:
                cpr_upload_reject(upload=upload, reviewer=reviewer(), reason="Late change of mind")
        assert refused.value.message == message
        upload.refresh_from_db()
        assert upload.state == start

    def test_a_draft_cannot_be_reviewed(self, cpt):
        draft = add(cpt).upload
        with pytest.raises(CprError) as refused:
            cpr_upload_approve(upload=draft, reviewer=reviewer())
        assert refused.value.message == "This CPR card is draft; it cannot be approved now."
        draft.refresh_from_db()
        assert draft.state == CprUpload.State.DRAFT

    def test_review_needs_the_permission(self, cpt):
        upload = submitted(cpt, today=TODAY)
        plain_staff = UserFactory(is_staff=True)
        certificant = cpt.user
        for who in (plain_staff, certificant):
            with pytest.raises(CprError) as refused:
                cpr_upload_approve(upload=upload, reviewer=who)
            assert refused.value.message == "You need the “Can review CPR cards” permission to review CPR cards."
        superuser = UserFactory(is_staff=True, is_superuser=True)
        assert cpr_upload_approve(upload=upload, reviewer=superuser)[1] is True

    def test_the_card_belongs_to_the_open_cycle(self, cpt):
        upload = submitted(cpt, today=TODAY)
        assert upload.cycle == cpt.cycles.get(state="open")
        assert upload.expires_on == TODAY + timedelta(days=400)
