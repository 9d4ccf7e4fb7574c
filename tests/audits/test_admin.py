"""The staff side of audits in Django admin: the Audits queue, the review page (each credit with its proof previewed,
Accept / Reject, Pass / Fail / Give more time / Cancel / Reinstate), paid renewals selected by hand, and who may
see any of it."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from acsm_portal import clock
from audits.models import Audit, AuditCredit, AuditEmail, AuditLog
from audits.services import (
    audit_credit_review, audit_fail, audit_pass, audit_proof_add, audit_submit,
)
from certifications.models import Certification
from tests.certifications.cpr_helpers import png_bytes, text_pdf
from tests.dates import at
from tests.factories import UserFactory
from tests.pages import text

from .helpers import audited, paid_renewal, reviewer

QUEUE = reverse("admin:audits_audit_changelist")
RENEWALS = reverse("admin:audits_renewalforaudit_changelist")


def review_url(audit) -> str:
    return reverse("admin:audits_audit_change", args=[audit.pk])


def decide_url(audit, action: str) -> str:
    return reverse("admin:audits_audit_decide", args=[audit.pk, action])


def credit_url(credit, action: str) -> str:
    return reverse("admin:audits_audit_credit", args=[credit.audit_id, credit.pk, action])


def decisions(html: str) -> list[str]:
    """The decisions a review page offers, in page order."""
    return re.findall(r'action="[^"]*/audits/audit/\d+/decide/(\w+)/"', html)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_messages(client, response) -> list[str]:
    """The messages a redirect leaves for the next page."""
    assert response.status_code == 302, response.status_code
    return messages_of(client.get(response.url))


def documented(audit: Audit, *, pdf_for: str = "") -> Audit:
    """Proof uploaded for every credit that needs it: a PNG each, or a three-page PDF for the course ``pdf_for``."""
    for credit in audit.credits.filter(state="needed"):
        if credit.course_name == pdf_for:
            name, data = "certificate.pdf", text_pdf("Certificate", "Agenda", "Attendance")
        else:
            name, data = f"{credit.course_name}.png", png_bytes(seed=credit.pk)
        audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=audit.user, name=name, data=data)
    return Audit.objects.get(pk=audit.pk)


def submitted(user, **kwargs) -> Audit:
    pdf_for = kwargs.pop("pdf_for", "")
    audit = documented(audited(user, **kwargs), pdf_for=pdf_for)
    return audit_submit(audit_id=audit.pk, user=user, note="All certificates attached; the conference is on file.")


def accept_all(audit: Audit, by) -> None:
    for credit in audit.credits.filter(state="documented"):
        audit_credit_review(credit_id=credit.pk, by=by, accept=True)


def row_text(html: str, member_id: str) -> str:
    """The words of the queue row of ``member_id``."""
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    found = [r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S) if member_id in r]
    assert len(found) == 1, member_id
    return text(found[0])


def rows(response) -> list[str]:
    """Each queue row's member ID, in order."""
    return [a.user.member_id for a in response.context["cl"].result_list]


@pytest.fixture
def staff(db):
    return reviewer(first_name="Pat", last_name="Reviewer", email="pat.reviewer@example.org")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def person(n: int, **extra):
    return UserFactory(member_id=f"52000{n}", email=f"person{n}@example.com", first_name=f"Ana{n}",
                       last_name=f"Silva{n}", **extra)


# ---------------------------------------------------------------- the queue

@pytest.mark.django_db
class TestQueue:
    def test_open_audits_due_soonest_first_with_every_column(self, staff_client, staff):
        today = clock.today()
        people = [person(n) for n in range(4)]
        audits = [audited(p, by=staff) for p in people]
        for audit, days in zip(audits, (20, 5, 12, 1), strict=True):
            Audit.objects.filter(pk=audit.pk).update(due_on=today + timedelta(days=days))
        Audit.objects.filter(pk=audits[3].pk).update(state="canceled", reason="Refunded.")
        documented(audits[2])  # 3 of 4 documented (one provider credit is verified from the start)
        Audit.objects.filter(pk=audits[0].pk).update(extended_due_on=today + timedelta(days=2), state="extended")

        response = staff_client.get(QUEUE)
        assert response.status_code == 200
        assert rows(response) == ["520000", "520001", "520002"]  # due in 2 (second window), 5, 12; canceled left out
        html = response.content.decode()
        head = re.search(r'<table id="result_list">.*?</thead>', html, re.S).group(0)
        headers = re.findall(r'<div class="text">(?:<a [^>]*>|<span>)([^<]+)<', head)
        assert headers == ["Member", "Certification, cycle", "State", "Due", "Progress", "Selected by"]
        row = row_text(html, "520002")
        due = today + timedelta(days=12)
        assert row == (f"Ana2 Silva2 520002 · person2@example.com CPT {audits[2].cycle} Waiting for documents "
                       f"{due.month}/{due.day}/{due.year} 4 of 4 documented Staff")
        assert "1 of 4 documented" in row_text(html, "520001")
        assert f'href="{review_url(audits[2])}' in html
        extended = today + timedelta(days=2)
        assert row_text(html, "520000").endswith(
            f"More time {extended.month}/{extended.day}/{extended.year} more time 1 of 4 documented Staff")
        assert 'href="' + RENEWALS + '"' in html and "Select a renewal for audit" in html

    def test_filter_by_state(self, staff_client, staff):
        people = [person(n) for n in range(3)]
        waiting = audited(people[0], by=staff)
        review = submitted(people[1])
        passed = submitted(people[2])
        accept_all(passed, staff)
        audit_pass(audit_id=passed.pk, by=staff)
        assert sorted(rows(staff_client.get(QUEUE))) == ["520000", "520001"]
        assert rows(staff_client.get(QUEUE, {"status": "submitted"})) == ["520001"]
        assert rows(staff_client.get(QUEUE, {"status": "answering"})) == ["520000"]
        assert rows(staff_client.get(QUEUE, {"status": "passed"})) == ["520002"]
        assert sorted(rows(staff_client.get(QUEUE, {"status": "all"}))) == ["520000", "520001", "520002"]
        assert {waiting.pk, review.pk, passed.pk} == set(Audit.objects.values_list("pk", flat=True))

    @pytest.mark.parametrize(("term", "found"), [
        ("520001", ["520001"]),
        ("5200", ["520000", "520001", "520002"]),
        ("PERSON2@example.com", ["520002"]),
        ("silva0", ["520000"]),
        ("Ana1 Silva1", ["520001"]),
        ("nobody", []),
    ])
    def test_search_by_member_id_email_or_name(self, staff_client, staff, term, found):
        for n in range(3):
            audited(person(n), by=staff)
        assert sorted(rows(staff_client.get(QUEUE, {"q": term}))) == found

    def test_search_by_order_number(self, staff_client, staff):
        audit = audited(person(0), by=staff)
        audited(person(1), by=staff)
        number = audit.order_line.order.number
        assert rows(staff_client.get(QUEUE, {"q": number.lower()})) == ["520000"]

    def test_overdue_is_marked_by_each_persons_own_date(self, staff_client, staff):
        """Just after midnight in New York on the day after the due date, Honolulu is still on the due date."""
        east = person(0, time_zone="America/New_York")
        hawaii = person(1, time_zone="Pacific/Honolulu")
        done = person(2, time_zone="America/New_York")
        for who in (east, hawaii):
            audited(who, by=staff)
        submitted(done)
        due = clock.today() + timedelta(days=3)
        Audit.objects.update(due_on=due)
        with time_machine.travel(at(due + timedelta(days=1), 0, 30), tick=False):
            html = staff_client.get(QUEUE).content.decode()
        marked = {m: "Overdue" in row_text(html, m) for m in ("520000", "520001", "520002")}
        assert marked == {"520000": True, "520001": False, "520002": False}  # a submitted audit is never overdue
        assert html.count('class="audit-overdue"') == 1

    def test_a_page_of_twenty_audits_takes_the_queries_of_a_page_of_one(self, staff_client, staff,
                                                                         django_assert_num_queries):
        audited(person(0), by=staff)
        staff_client.get(QUEUE)  # sessions, permissions and the policy row settled
        with CaptureQueriesContext(connection) as one:
            assert len(rows(staff_client.get(QUEUE))) == 1
        for n in range(1, 20):
            audited(UserFactory(member_id=f"5300{n:02}"), by=staff)
        with django_assert_num_queries(len(one.captured_queries)):
            response = staff_client.get(QUEUE)
        assert len(rows(response)) == 20
        assert response.content.decode().count(" documented</td>") == 20


# ---------------------------------------------------------------- the review page

@pytest.mark.django_db
class TestReviewPage:
    def test_every_credit_with_its_details_and_proof(self, staff_client, user):
        audit = submitted(user, pdf_for="Strength training for older adults")
        response = staff_client.get(review_url(audit))
        assert response.status_code == 200
        html = response.content.decode()
        page = text(html)
        for credit in audit.credits.all():
            block = text(re.search(rf'<article [^>]*id="credit-{credit.pk}"(.*?)</article>', html, re.S).group(1))
            day = credit.date_earned
            assert credit.course_name in block
            assert f"Date earned {day.month}/{day.day}/{day.year}" in block
        strength = text(re.search(r'<article [^>]*id="credit-\d+"[^>]*>(.*?Strength training.*?)</article>', html,
                                  re.S).group(1))
        assert "CECs 15 Format Live course Provider - Source Self-reported" in strength
        assert "certificate.pdf · PDF, 3 pages ·" in strength
        conference = text(re.search(r'<article [^>]*>(.*?Annual conference.*?)</article>', html, re.S).group(1))
        assert "Provider ACSM Source Provider" in conference
        assert "Reported by its provider: no proof needed." in conference
        assert "All certificates attached; the conference is on file." in page
        assert "4 of 4 credits documented" in page
        # The log: who, when, why.
        assert "Opened: Selected – waiting for documents" in page
        assert f"{user.get_full_name()} (certificant)" in page
        assert "Submitted for review." in page

    def test_a_three_page_pdf_shows_three_pages_and_an_image_shows_itself(self, staff_client, user):
        audit = submitted(user, pdf_for="Strength training for older adults")
        pdf = AuditCredit.objects.get(audit=audit, course_name="Strength training for older adults").proofs.get()
        image = AuditCredit.objects.get(audit=audit, course_name="Nutrition basics").proofs.get()
        html = staff_client.get(review_url(audit)).content.decode()
        preview = reverse("admin:audits_audit_proof_preview", args=[pdf.key])
        for n in (1, 2, 3):
            assert f'<img src="{preview}?page={n}" width="400" alt="Page {n} of 3 of certificate.pdf"' in html
        assert f"{preview}?page=4" not in html
        pages = []
        for n in (1, 2, 3):
            response = staff_client.get(preview, {"page": n})
            assert (response.status_code, response["Content-Type"]) == (200, "image/png")
            assert response["Content-Security-Policy"].startswith("default-src 'none'")
            pages.append(b"".join(response.streaming_content))
        assert len(set(pages)) == 3 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pages)
        for missing in ("4", "0", "two"):
            assert staff_client.get(preview, {"page": missing}).status_code == 404

        shown = reverse("admin:audits_audit_proof_preview", args=[image.key])
        assert f'<img src="{shown}?page=1" width="400" alt="Preview of Nutrition basics.png"' in html
        with image.file.open("rb") as fh:
            assert b"".join(staff_client.get(shown).streaming_content) == fh.read()
        download = staff_client.get(reverse("admin:audits_audit_proof_download", args=[image.key]))
        assert download["Content-Disposition"].startswith("attachment;")

    def test_pass_is_disabled_with_the_reason_while_short(self, staff_client, staff, user):
        audit = submitted(user)
        html = staff_client.get(review_url(audit)).content.decode()
        assert re.search(r'<button type="submit" class="button default" disabled aria-describedby="pass-why">'
                         r"Pass audit</button>", html)
        assert "Cannot pass yet: 12 of 45 CECs accepted; 33 more are needed. 3 credits still to review." in text(html)
        accept_all(audit, staff)
        html = staff_client.get(review_url(audit)).content.decode()
        assert re.search(r'<button type="submit" class="button default">Pass audit</button>', html)
        assert "45 of 45 CECs accepted: the audited cycle is met." in text(html)

    def test_only_the_decisions_a_state_allows_are_offered(self, staff_client, staff, user):
        audit = audited(user, by=staff)
        html = staff_client.get(review_url(audit)).content.decode()
        forms = decisions(html)
        assert forms == ["extend", "fail", "cancel"]
        assert "to submit; fail the audit after that, or cancel it." in text(html)
        assert re.search(r'<button type="submit" class="button audit-grave" disabled aria-describedby="fail-why">'
                         r"Fail audit", html)
        assert "/accept/" not in html and "/reject/" not in html  # credits are reviewed once submitted

    def test_a_missing_audit_is_404(self, staff_client):
        assert staff_client.get(reverse("admin:audits_audit_change", args=[999999])).status_code == 404
        assert staff_client.get(reverse("admin:audits_audit_change", args=["nine"])).status_code == 404
        assert staff_client.get(f"{QUEUE}nine/", follow=True).status_code == 404


# ---------------------------------------------------------------- credits

@pytest.mark.django_db
class TestCredits:
    def test_accept_then_on_to_the_next_credit(self, staff_client, staff, user):
        audit = submitted(user)
        first, second = audit.credits.filter(state="documented").order_by("date_earned")[:2]
        response = staff_client.post(credit_url(first, "accept"))
        assert response.url == f"{review_url(audit)}#credit-{second.pk}"
        assert follow_messages(staff_client, response) == [
            "Accepted “Strength training for older adults” (15 CECs)."]
        first.refresh_from_db()
        assert (first.state, first.reviewed_by) == ("accepted", staff)
        assert AuditLog.objects.filter(audit=audit, note__contains="accepted.").count() == 1

    def test_a_double_post_is_one_log_entry(self, staff_client, user):
        audit = submitted(user)
        credit = audit.credits.filter(state="documented").first()
        assert follow_messages(staff_client, staff_client.post(credit_url(credit, "accept")))[0].startswith("Accepted")
        again = staff_client.post(credit_url(credit, "accept"))
        assert follow_messages(staff_client, again) == [
            f"“{credit.course_name}” ({credit.cecs.normalize():f} CECs) was already accepted by Pat Reviewer; "
            "nothing changed."]
        assert AuditLog.objects.filter(audit=audit, note__contains="accepted.").count() == 1

    def test_reject_needs_a_reason_and_keeps_nothing_without_one(self, staff_client, user):
        audit = submitted(user)
        credit = audit.credits.get(course_name="Exercise and diabetes")
        logged = AuditLog.objects.filter(audit=audit).count()
        response = staff_client.post(credit_url(credit, "reject"), {"reason": "   "})
        assert response.status_code == 200
        assert messages_of(response) == [
            "“Exercise and diabetes”: Give the reason for rejecting it; it is logged and the certificant reads it."]
        assert re.search(rf'id="reject-{credit.pk}"[^>]*required value="   " autofocus aria-invalid="true"',
                         response.content.decode())
        credit.refresh_from_db()
        assert credit.state == "documented" and AuditLog.objects.filter(audit=audit).count() == logged

        response = staff_client.post(credit_url(credit, "reject"), {"reason": "The certificate names someone else."})
        assert follow_messages(staff_client, response) == [
            "Rejected “Exercise and diabetes” (10 CECs): The certificate names someone else."]
        credit.refresh_from_db()
        assert (credit.state, credit.reason) == ("rejected", "The certificate names someone else.")
        html = staff_client.get(review_url(audit)).content.decode()
        assert "Rejected by Pat Reviewer" in text(html)
        assert "3 of 3 credits documented" in text(html)  # a rejected credit no longer counts

    def test_credits_are_reviewed_only_while_submitted(self, staff_client, staff, user):
        audit = documented(audited(user, by=staff))
        credit = audit.credits.filter(state="documented").first()
        response = staff_client.post(credit_url(credit, "accept"))
        assert response.status_code == 200
        assert messages_of(response) == [f"“{credit.course_name}”: This audit is selected – waiting for documents; "
                                         "credits are reviewed while it is submitted."]
        credit.refresh_from_db()
        assert credit.state == "documented"

    def test_a_credit_of_another_audit_is_404(self, staff_client, staff, user, other_user):
        audit = submitted(user)
        other = submitted(other_user)
        credit = other.credits.filter(state="documented").first()
        url = reverse("admin:audits_audit_credit", args=[audit.pk, credit.pk, "accept"])
        assert staff_client.post(url).status_code == 404
        assert staff_client.get(credit_url(credit, "accept")).status_code == 405


# ---------------------------------------------------------------- decisions

@pytest.mark.django_db
class TestDecisions:
    def test_pass_is_refused_while_short_with_nothing_changed(self, staff_client, staff, user):
        audit = submitted(user)
        accept_all(audit, staff)
        audit_credit_review(credit_id=audit.credits.get(course_name="Exercise and diabetes").pk, by=staff,
                            accept=False, reason="Not a fitness course.")
        response = staff_client.post(decide_url(audit, "pass"))
        assert response.status_code == 200
        assert messages_of(response) == [
            "The audit cannot pass: 35 of 45 CECs accepted; 10 more are needed. Accept more credits, or give the "
            "certificant more time to report replacement credits."]
        audit.refresh_from_db()
        assert audit.state == "submitted"
        assert not AuditEmail.objects.filter(audit=audit, kind="passed").exists()

    def test_pass_and_a_second_click_says_already_passed(self, staff_client, staff, user):
        audit = submitted(user)
        accept_all(audit, staff)
        response = staff_client.post(decide_url(audit, "pass"))
        assert response.url == review_url(audit)
        assert follow_messages(staff_client, response) == [
            f"Passed the audit of {user.get_full_name()} ({user.member_id}, CPT); the certificant is emailed."]
        audit.refresh_from_db()
        assert (audit.state, audit.decided_by) == ("passed", staff)
        again = follow_messages(staff_client, staff_client.post(decide_url(audit, "pass")))
        assert len(again) == 1 and again[0].startswith("This audit was already passed by Pat Reviewer on ")
        assert again[0].endswith("; nothing changed.")
        assert AuditLog.objects.filter(audit=audit, to_state="passed").count() == 1
        assert AuditEmail.objects.filter(audit=audit, kind="passed").count() == 1

    def test_after_a_decision_the_next_audit_waiting_is_one_click_away(self, staff_client, staff, user, other_user):
        audit = submitted(user)
        waiting = submitted(other_user)
        Audit.objects.filter(pk=waiting.pk).update(due_on=audit.due_on + timedelta(days=1))
        accept_all(audit, staff)
        staff_client.post(decide_url(audit, "pass"))
        html = staff_client.get(review_url(audit)).content.decode()
        outcome = re.search(r'<p class="audit-outcome" id="next">(.*?)</p>', html, re.S).group(1)
        assert f'<a href="{review_url(waiting)}" class="button default" autofocus>' in outcome
        assert "This audit passed." in text(outcome)

    def test_fail_needs_a_reason_then_suspends_the_certification(self, staff_client, user):
        audit = submitted(user)
        response = staff_client.post(decide_url(audit, "fail"), {"reason": ""})
        assert response.status_code == 200
        assert messages_of(response) == ["Give the reason; it is logged and the certificant reads it."]
        assert Audit.objects.get(pk=audit.pk).state == "submitted"

        response = staff_client.post(decide_url(audit, "fail"), {"reason": "The certificates were altered."})
        assert follow_messages(staff_client, response) == [
            f"Failed the audit of {user.get_full_name()} ({user.member_id}, CPT): the certification is suspended "
            "and the certificant emailed."]
        audit.refresh_from_db()
        assert (audit.state, audit.reason, audit.overdue) == ("failed", "The certificates were altered.", False)
        certification = Certification.objects.get(pk=audit.certification_id)
        assert certification.is_suspended
        assert AuditEmail.objects.filter(audit=audit, kind="failed").count() == 1

    def test_a_refused_reason_is_kept_in_the_form(self, staff_client, user):
        audit = submitted(user)
        long = "x" * 1001
        response = staff_client.post(decide_url(audit, "cancel"), {"reason": long})
        assert response.status_code == 200
        assert messages_of(response) == ["Keep the reason under 1000 characters (it has 1001)."]
        assert f">{long}</textarea>" in response.content.decode()

    def test_fail_before_the_due_date_is_refused(self, staff_client, staff, user):
        audit = audited(user, by=staff)
        response = staff_client.post(decide_url(audit, "fail"), {"reason": "Nothing sent."})
        assert messages_of(response) == [
            f"The certificant has until {clock.deadline_text(audit.due_on, user)} to submit; fail the audit after "
            "that, or cancel it."]
        assert Audit.objects.get(pk=audit.pk).state == "selected"

    def test_give_more_time_defaults_to_the_policys_days(self, staff_client, staff, user):
        audit = submitted(user)
        html = staff_client.get(review_url(audit)).content.decode()
        assert re.search(r'<input type="number" name="days" id="extend-days" min="1" max="365" value="30"', html)
        response = staff_client.post(decide_url(audit, "extend"), {"days": "30", "reason": ""})
        audit.refresh_from_db()
        assert audit.state == "extended"
        assert audit.extended_due_on == clock.today_for(user) + timedelta(days=30)
        assert follow_messages(staff_client, response) == [
            f"Gave {user.get_full_name()} ({user.member_id}, CPT) until "
            f"{clock.deadline_text(audit.extended_due_on, user)} to report replacement credits; the certificant is "
            "emailed."]
        again = follow_messages(staff_client, staff_client.post(decide_url(audit, "extend"), {"days": "30"}))
        assert again == ["This audit was already given more time; nothing changed."]
        assert AuditLog.objects.filter(audit=audit, to_state="extended").count() == 1

    @pytest.mark.parametrize(("days", "message"), [
        ("ten", "Give the number of days as a whole number from 1 to 365 (not “ten”)."),
        ("0", "Give between 1 and 365 days."),
        ("400", "Give between 1 and 365 days."),
    ])
    def test_bad_days_are_refused_and_kept(self, staff_client, user, days, message):
        audit = submitted(user)
        response = staff_client.post(decide_url(audit, "extend"), {"days": days})
        assert messages_of(response) == [message]
        assert f'value="{days}" required' in response.content.decode()
        assert Audit.objects.get(pk=audit.pk).state == "submitted"

    def test_cancel_with_a_reason(self, staff_client, user):
        audit = submitted(user)
        response = staff_client.post(decide_url(audit, "cancel"), {"reason": "Selected by mistake."})
        assert follow_messages(staff_client, response) == [
            f"Canceled the audit of {user.get_full_name()} ({user.member_id}, CPT); the certificant is emailed."]
        audit.refresh_from_db()
        assert (audit.state, audit.reason) == ("canceled", "Selected by mistake.")
        html = staff_client.get(review_url(audit)).content.decode()
        assert "decide/" not in html and "This audit is canceled; nothing more to decide." in text(html)

    def test_reinstate_after_a_failure_lifts_the_suspension(self, staff_client, staff, user):
        audit = submitted(user)
        audit_fail(audit_id=audit.pk, by=staff, reason="No proof of the online course.")
        html = staff_client.get(review_url(audit)).content.decode()
        assert decisions(html) == ["reinstate"]
        response = staff_client.post(decide_url(audit, "reinstate"), {"reason": "Proof received by mail."})
        assert follow_messages(staff_client, response) == [
            f"Reinstated {user.get_full_name()} ({user.member_id}, CPT): the suspension is lifted; the certificant "
            "is emailed."]
        audit.refresh_from_db()
        assert (audit.state, audit.reason) == ("reinstated", "Proof received by mail.")
        assert not Certification.objects.get(pk=audit.certification_id).is_suspended

    def test_an_illegal_move_is_refused(self, staff_client, staff, user):
        audit = submitted(user)
        response = staff_client.post(decide_url(audit, "reinstate"), {"reason": "Why not."})
        assert messages_of(response) == ["This audit is submitted – waiting for review; it cannot be reinstated now."]
        assert Audit.objects.get(pk=audit.pk).state == "submitted"
        assert staff_client.post(decide_url(audit, "approve")).status_code == 404
        assert staff_client.get(decide_url(audit, "pass")).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_pass_at_once_one_passes(user):
    audit = submitted(user)
    one, two = reviewer(first_name="One"), reviewer(first_name="Two")
    accept_all(audit, one)

    def decide(who):
        client = Client()
        client.force_login(who)
        try:
            response = client.post(decide_url(audit, "pass"))
            page = client.get(response.url).content.decode()  # the page, not response.context: another thread's
            return text(re.search(r'<ul class="messagelist">(.*?)</ul>', page, re.S).group(1))  # renders land there
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        said = list(pool.map(decide, [one, two]))
    assert sorted(s.split(" ", 1)[0] for s in said) == ["Passed", "This"], said  # "This audit was already passed"
    assert AuditLog.objects.filter(audit=audit, to_state="passed").count() == 1
    assert AuditEmail.objects.filter(audit=audit, kind="passed").count() == 1


# ---------------------------------------------------------------- who may

@pytest.mark.django_db
def test_staff_without_the_permission_see_nothing(client, staff, user):
    audit = submitted(user)
    proof = AuditCredit.objects.filter(audit=audit, state="documented").first().proofs.get()
    client.force_login(UserFactory(is_staff=True))
    for url in (QUEUE, RENEWALS, review_url(audit), reverse("admin:audits_audit_proof_preview", args=[proof.key]),
                reverse("admin:audits_audit_proof_download", args=[proof.key])):
        assert client.get(url).status_code == 403, url
    assert client.post(decide_url(audit, "cancel"), {"reason": "No."}).status_code == 403
    credit = audit.credits.filter(state="documented").first()
    assert client.post(credit_url(credit, "accept")).status_code == 403
    assert "Audits" not in text(client.get(reverse("admin:index")).content.decode())
    assert Audit.objects.get(pk=audit.pk).state == "submitted"
    assert AuditCredit.objects.get(pk=credit.pk).state == "documented"
    client.logout()
    assert client.get(review_url(audit)).status_code == 302  # to the log-in page


# ---------------------------------------------------------------- select for audit

@pytest.mark.django_db
class TestSelectForAudit:
    def test_select_a_paid_renewal_once(self, staff_client, staff, user, other_user):
        line = paid_renewal(user)
        paid_renewal(other_user)
        listed = staff_client.get(RENEWALS, {"q": user.member_id})
        assert [r.pk for r in listed.context["cl"].result_list] == [line.pk]
        assert "Not drawn yet" in text(listed.content.decode())

        response = staff_client.post(RENEWALS, {"action": "select_for_audit", "_selected_action": [line.pk]})
        audit = Audit.objects.get(order_line=line)
        assert (audit.how, audit.selected_by, audit.state) == ("staff", staff, "selected")
        label = f"{user.get_full_name()} ({user.member_id}, CPT, order {line.order.number})"
        assert follow_messages(staff_client, response) == [
            f"Selected {label} for audit: documents due {clock.deadline_text(audit.due_on, user)}; the certificant "
            f'is emailed. <a href="{review_url(audit)}">Open the audit</a>']
        assert AuditEmail.objects.filter(audit=audit, kind="selected").count() == 1

        again = staff_client.post(RENEWALS, {"action": "select_for_audit", "_selected_action": [line.pk]})
        assert follow_messages(staff_client, again) == [
            f'{label} was already audited (<a href="{review_url(audit)}">selected – waiting for documents</a>); a '
            "renewal is audited at most once."]
        assert Audit.objects.filter(order_line=line).count() == 1
        assert AuditEmail.objects.filter(audit=audit).count() == 1

        audited_only = staff_client.get(RENEWALS, {"audited": "yes"})
        assert [r.pk for r in audited_only.context["cl"].result_list] == [line.pk]
        assert f'<a href="{review_url(audit)}">Waiting for documents</a>' in audited_only.content.decode()

    def test_search_renewals_by_order_number(self, staff_client, user, other_user):
        line = paid_renewal(user)
        paid_renewal(other_user)
        listed = staff_client.get(RENEWALS, {"q": line.order.number})
        assert [r.pk for r in listed.context["cl"].result_list] == [line.pk]
