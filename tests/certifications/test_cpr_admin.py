"""Staff review of CPR cards in Django admin: the queue, previews, and the Approve / Reject actions."""

import re
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from acsm_portal import clock
from certifications.models import CertificationType, CprUpload
from certifications.cpr.services import cpr_upload_add_file
from tests.factories import UserFactory, certification_with_cycle
from tests.pages import text

from .cpr_helpers import pdf_bytes, pdf_with_script, png_bytes, reviewer, submitted, text_pdf

CHANGELIST = reverse("admin:certifications_cprupload_changelist")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def staff_client(client):
    client.force_login(reviewer(email="reviewer@example.org"))
    return client


@pytest.fixture
def queue(db):
    """Three certificants' cards, submitted one after another, plus a draft and a decided card."""
    people = [UserFactory(member_id=f"31000{n}", email=f"person{n}@example.com") for n in range(4)]
    cards = []
    for n, (person, code) in enumerate(zip(people[:3], ("CPT", "EP", "CPT"), strict=True)):
        card = submitted(certification_with_cycle(person, code))
        CprUpload.objects.filter(pk=card.pk).update(submitted_at=clock.now() - timedelta(days=10 - n))
        cards.append(card)
    decided = submitted(certification_with_cycle(people[3], "GEI"), state="approved")
    draft_owner = certification_with_cycle(UserFactory(member_id="319999"), "CPT")
    cpr_upload_add_file(certification=draft_owner, user=draft_owner.user, name="draft.png", data=png_bytes())
    return cards, decided


def member_ids(response) -> list[str]:
    return [row["member_id"] for row in response.context["cl"].result_list]


@pytest.mark.django_db
class TestQueue:
    def test_the_queue_shows_pending_cards_oldest_first_without_drafts(self, staff_client, queue):
        response = staff_client.get(CHANGELIST)
        assert response.status_code == 200
        assert member_ids(response) == ["310000", "310001", "310002"]
        page = text(response.content.decode())
        assert "Submitted – pending review" in page
        assert "319999" not in page

    def test_filter_by_status_and_certification_type(self, staff_client, queue):
        approved = staff_client.get(CHANGELIST, {"status": "approved"})
        assert member_ids(approved) == ["310003"]
        everyone = staff_client.get(CHANGELIST, {"status": "all"})
        assert member_ids(everyone) == ["310000", "310001", "310002", "310003"]
        ep = CertificationType.objects.get(code="EP")
        assert member_ids(staff_client.get(CHANGELIST, {"certification__certification_type__id__exact": ep.pk})) == [
            "310001"]

    def test_search_by_member_id_or_email(self, staff_client, queue):
        assert member_ids(staff_client.get(CHANGELIST, {"q": "310002"})) == ["310002"]
        assert member_ids(staff_client.get(CHANGELIST, {"q": "person1@example.com"})) == ["310001"]

    def test_staff_without_the_permission_see_nothing(self, client, queue):
        cards, _ = queue
        client.force_login(UserFactory(is_staff=True))
        assert client.get(CHANGELIST).status_code == 403
        assert client.get(reverse("admin:certifications_cprupload_change", args=[cards[0].pk])).status_code == 403
        key = cards[0].files.get().key
        assert client.get(reverse("admin:certifications_cprupload_preview", args=[key])).status_code == 403
        assert client.post(reverse("admin:certifications_cprupload_approve", args=[cards[0].pk])).status_code == 403
        index = client.get(reverse("admin:index")).content.decode()
        assert "CPR card uploads" not in index
        cards[0].refresh_from_db()
        assert cards[0].state == CprUpload.State.PENDING

    def test_nobody_adds_or_deletes_cards_in_admin(self, staff_client, queue):
        cards, _ = queue
        assert staff_client.get(reverse("admin:certifications_cprupload_add")).status_code == 403
        assert staff_client.get(reverse("admin:certifications_cprupload_delete", args=[cards[0].pk])).status_code == 403


@pytest.mark.django_db
class TestReviewPage:
    def test_the_review_page_shows_details_previews_and_the_decision(self, staff_client, user):
        certification = certification_with_cycle(user, "CPT")
        cpr_upload_add_file(certification=certification, user=user, name="front <1>.png", data=png_bytes())
        cpr_upload_add_file(certification=certification, user=user, name="back.pdf", data=pdf_bytes())
        card = submitted(certification, files=0)
        response = staff_client.get(reverse("admin:certifications_cprupload_change", args=[card.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        for f in card.files.all():
            assert f'src="{reverse("admin:certifications_cprupload_preview", args=[f.key])}?page=1"' in html
            assert f'href="{reverse("cpr_file_download", args=[f.key])}"' in html
        assert 'alt="Preview of front &lt;1&gt;.png"' in html
        page = text(html)
        assert "American Red Cross" in page
        assert "CPR/AED" in page
        assert f"{user.get_full_name()} &lt;{user.email}&gt;" in page
        assert user.member_id in page
        assert 'id="cpr-decision"' in html
        assert re.search(r'<input type="submit" value="Approve"', html)
        assert re.search(r'<textarea name="reason"', html)
        assert " style=" not in html.split('id="cpr-decision"')[1]

    def test_image_preview_is_the_image_and_pdf_preview_is_its_first_page(self, staff_client, user):
        certification = certification_with_cycle(user, "CPT")
        image = png_bytes()
        cpr_upload_add_file(certification=certification, user=user, name="front.png", data=image)
        cpr_upload_add_file(certification=certification, user=user, name="back.pdf", data=pdf_bytes())
        card = submitted(certification, files=0)
        png_file, pdf_file = card.files.order_by("original_name").reverse()
        response = staff_client.get(reverse("admin:certifications_cprupload_preview", args=[png_file.key]))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == image
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("inline;")
        assert response["X-Content-Type-Options"] == "nosniff"

        response = staff_client.get(reverse("admin:certifications_cprupload_preview", args=[pdf_file.key]))
        assert response.status_code == 200
        rendered = b"".join(response.streaming_content)
        assert rendered.startswith(b"\x89PNG\r\n\x1a\n")
        assert response["Content-Type"] == "image/png"
        assert default_storage.exists(f"cpr-previews/{pdf_file.key.hex}-page1.png")

    def test_every_page_of_a_pdf_is_shown_to_staff(self, staff_client, user):
        certification = certification_with_cycle(user, "CPT")
        cpr_upload_add_file(certification=certification, user=user, name="card.pdf",
                            data=text_pdf("Front of the card", "Back of the card", "Skills check sheet"))
        card = submitted(certification, files=0)
        stored = card.files.get()
        preview = reverse("admin:certifications_cprupload_preview", args=[stored.key])
        html = staff_client.get(reverse("admin:certifications_cprupload_change", args=[card.pk])).content.decode()
        for n in (1, 2, 3):
            assert f'<img src="{preview}?page={n}" width="360" alt="Page {n} of 3 of card.pdf"' in html
            assert f"<figcaption>Page {n} of 3</figcaption>" in html
        assert f"{preview}?page=4" not in html
        assert "card.pdf · PDF, 3 pages · " in text(html)

        pages = []
        for n in (1, 2, 3):
            response = staff_client.get(preview, {"page": n})
            assert response.status_code == 200
            assert response["Content-Type"] == "image/png"
            pages.append(b"".join(response.streaming_content))
            assert pages[-1].startswith(b"\x89PNG\r\n\x1a\n")
            assert default_storage.exists(f"cpr-previews/{stored.key.hex}-page{n}.png")
        assert len(set(pages)) == 3  # three different pages, not page 1 three times
        for missing in ("4", "0", "-1", "two"):
            assert staff_client.get(preview, {"page": missing}).status_code == 404

    def test_an_image_has_one_page(self, staff_client, user):
        certification = certification_with_cycle(user, "CPT")
        card = submitted(certification)
        preview = reverse("admin:certifications_cprupload_preview", args=[card.files.get().key])
        assert staff_client.get(preview, {"page": 1}).status_code == 200
        assert staff_client.get(preview, {"page": 2}).status_code == 404

    def test_a_pdf_kept_from_before_active_pdfs_were_refused_is_flagged(self, staff_client, user):
        certification = certification_with_cycle(user, "CPT")
        stored = cpr_upload_add_file(certification=certification, user=user, name="card.pdf", data=pdf_bytes())
        with default_storage.open(stored.file.name, "wb") as fh:  # as it was stored before the check existed
            fh.write(pdf_with_script())
        card = submitted(certification, files=0)
        page = text(staff_client.get(reverse("admin:certifications_cprupload_change", args=[card.pk])).content.decode())
        assert ("This PDF contains JavaScript or other code that runs in a PDF reader (it was uploaded before such "
                "PDFs were refused). Review it from the page images below and do not open the download in a PDF "
                "reader") in page

    def test_drafts_have_no_preview(self, staff_client, user):
        certification = certification_with_cycle(user, "CPT")
        stored = cpr_upload_add_file(certification=certification, user=user, name="front.png", data=png_bytes())
        assert staff_client.get(reverse("admin:certifications_cprupload_preview", args=[stored.key])).status_code == 404
        response = staff_client.get(reverse("admin:certifications_cprupload_change", args=[stored.upload_id]))
        assert response.status_code == 302  # admin's "does not exist" redirect to the index


@pytest.mark.django_db
class TestActions:
    def test_bulk_approve_then_again(self, staff_client, queue, django_capture_on_commit_callbacks, decision_emails):
        cards, _ = queue
        ids = [cards[0].pk, cards[1].pk]
        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(CHANGELIST, {"action": "approve_selected", "_selected_action": ids},
                                         follow=True)
        assert messages_of(response) == ["Approved 2 CPR cards; the certificant is emailed."]
        assert sorted(decision_emails) == sorted(ids)
        for card in CprUpload.objects.filter(pk__in=ids):
            assert card.state == CprUpload.State.APPROVED
            assert card.reviewed_by.email == "reviewer@example.org"
            assert card.reviewed_at is not None
        assert CprUpload.objects.get(pk=cards[2].pk).state == CprUpload.State.PENDING

        with django_capture_on_commit_callbacks(execute=True):
            response = staff_client.post(CHANGELIST + "?status=all",
                                         {"action": "approve_selected", "_selected_action": ids}, follow=True)
        assert messages_of(response) == ["2 CPR cards were already approved; nothing changed."]
        assert sorted(decision_emails) == sorted(ids)  # none more

    def test_bulk_reject_asks_for_a_reason_first(self, staff_client, queue):
        cards, _ = queue
        ids = [cards[1].pk, cards[2].pk]
        page = staff_client.post(CHANGELIST, {"action": "reject_selected", "_selected_action": ids})
        assert page.status_code == 200
        html = page.content.decode()
        assert "Reject these 2 CPR cards?" in text(html)
        assert '<textarea name="reason"' in html
        assert CprUpload.objects.filter(state=CprUpload.State.REJECTED).count() == 0

        empty = staff_client.post(CHANGELIST, {"action": "reject_selected", "_selected_action": ids, "apply": "yes",
                                               "reason": " "})
        assert empty.status_code == 200
        assert "This field is required." in text(empty.content.decode())
        assert CprUpload.objects.filter(state=CprUpload.State.REJECTED).count() == 0

        done = staff_client.post(CHANGELIST, {"action": "reject_selected", "_selected_action": ids, "apply": "yes",
                                              "reason": "The card does not show an expiry date."}, follow=True)
        assert messages_of(done) == ["Rejected 2 CPR cards; the certificant is emailed."]
        for card in CprUpload.objects.filter(pk__in=ids):
            assert card.state == CprUpload.State.REJECTED
            assert card.rejection_reason == "The card does not show an expiry date."

    def test_a_decided_card_in_a_bulk_action_is_reported(self, staff_client, queue):
        cards, decided = queue
        response = staff_client.post(
            CHANGELIST + "?status=all",
            {"action": "reject_selected", "_selected_action": [cards[0].pk, decided.pk], "apply": "yes",
             "reason": "Unreadable"},
            follow=True,
        )
        owner = decided.certification.user
        assert messages_of(response) == [
            f"{owner.get_full_name()} ({owner.member_id}, GEI): This CPR card is approved; it cannot be rejected now.",
            "Rejected 1 CPR card; the certificant is emailed.",
        ]

    def test_single_approve_and_reject_from_the_review_page(self, staff_client, queue):
        cards, _ = queue
        approve = reverse("admin:certifications_cprupload_approve", args=[cards[0].pk])
        assert staff_client.get(approve).status_code == 405
        response = staff_client.post(approve, follow=True)
        assert response.redirect_chain[-1][0] == CHANGELIST
        assert messages_of(response) == ["Approved 1 CPR card; the certificant is emailed."]
        assert CprUpload.objects.get(pk=cards[0].pk).state == CprUpload.State.APPROVED
        assert messages_of(staff_client.post(approve, follow=True)) == [
            "1 CPR card was already approved; nothing changed."]

        reject = reverse("admin:certifications_cprupload_reject", args=[cards[1].pk])
        form = staff_client.get(reject)
        assert "Reject this CPR card?" in text(form.content.decode())
        response = staff_client.post(reject, {"reason": "Name on the card does not match."}, follow=True)
        assert messages_of(response) == ["Rejected 1 CPR card; the certificant is emailed."]
        card = CprUpload.objects.get(pk=cards[1].pk)
        assert (card.state, card.rejection_reason) == (CprUpload.State.REJECTED, "Name on the card does not match.")

    def test_the_decision_panel_is_gone_once_decided(self, staff_client, queue):
        _, decided = queue
        html = staff_client.get(reverse("admin:certifications_cprupload_change", args=[decided.pk])).content.decode()
        assert 'id="cpr-decision"' not in html
