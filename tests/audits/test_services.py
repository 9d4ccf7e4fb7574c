"""Audit services against the real database: selection and the recorded draw, proof per credit, submit, review,
pass, fail (suspension), more time with replacement credits, reinstatement; repeats, illegal moves, two staff at
once, another person's audit."""

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connections

from acsm_portal import clock
from audits import services
from audits.models import Audit, AuditCredit, AuditDraw, AuditEmail, AuditLog, AuditPolicy, AuditProof
from audits.services import (
    AuditError, AuditNotFound, IllegalTransition, audit_cancel, audit_credit_review, audit_draw, audit_extend,
    audit_fail, audit_pass, audit_policy_update, audit_proof_add, audit_proof_remove, audit_reinstate,
    audit_replacement_add, audit_replacement_remove, audit_select_by_staff, audit_submit, audit_transition,
)
from certifications.models import Certification, CertificationLog
from payments.models import Order, OrderLine
from tests.certifications.cpr_helpers import pdf_bytes, pdf_with_script, png_bytes
from tests.factories import CECEntryFactory, UserFactory

from .helpers import CREDITS, audited, paid_renewal, reviewer

PRIVATE_ROOT = Path(settings.STORAGES["default"]["OPTIONS"]["location"])


class Fixed(random.Random):
    """A random source whose every ``randrange`` answers ``value``: a known roll (``value`` / 1,000,000)."""

    def __init__(self, value: int):
        super().__init__(0)
        self.value = value

    def randrange(self, *args):
        return self.value


def proof_files() -> list[Path]:
    return sorted((PRIVATE_ROOT / "audit-proof").glob("*"))


def documented(audit: Audit, user) -> Audit:
    """Proof uploaded for every credit that needs it."""
    for credit in audit.credits.filter(state="needed"):
        audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name=f"{credit.course_name}.png",
                        data=png_bytes(seed=credit.pk))
    return Audit.objects.get(pk=audit.pk)


def submitted_audit(user, **kwargs) -> Audit:
    audit = documented(audited(user, **kwargs), user)
    return audit_submit(audit_id=audit.pk, user=user, note="All certificates attached.")


def credit_named(audit: Audit, name: str) -> AuditCredit:
    return audit.credits.get(course_name=name)


@pytest.fixture
def staff(db):
    return reviewer()


# ---------------------------------------------------------------- selection

@pytest.mark.django_db
class TestDraw:
    def test_a_roll_below_the_rate_selects_and_is_recorded(self, user):
        line = paid_renewal(user)
        draw = audit_draw(order_line_id=line.pk, rng=Fixed(49_999))
        assert (draw.rate, draw.roll, draw.selected) == (Decimal("0.0500"), Decimal("0.049999"), True)
        audit = Audit.objects.get(order_line=line)
        assert (audit.how, audit.state, audit.user, audit.certification_id) == ("draw", "selected", user,
                                                                                line.certification_id)
        assert audit.cycle_id == line.cycle_id  # the cycle the renewal closed
        assert audit.required_cecs == 45
        assert audit.due_on == clock.today_for(user) + timedelta(days=30)
        assert [(c.course_name, c.cecs, c.format, c.source, c.state, c.replacement) for c in audit.credits.all()] == [
            (name, Decimal(cecs), fmt, source, "verified" if source == "provider" else "needed", False)
            for name, cecs, fmt, source in CREDITS
        ]
        assert list(audit.log.values_list("from_state", "to_state", "actor", "note")) == [
            ("", "selected", "draw", "Selected by random draw: roll 0.049999 is below the rate 0.0500.")]
        assert list(audit.emails.values_list("kind", "key", "due_on")) == [("selected", "selected", audit.due_on)]

    def test_a_roll_at_the_rate_does_not_select_but_is_recorded(self, user):
        line = paid_renewal(user)
        draw = audit_draw(order_line_id=line.pk, rng=Fixed(50_000))
        assert (draw.roll, draw.selected) == (Decimal("0.050000"), False)
        assert not Audit.objects.exists()

    def test_a_renewal_is_drawn_once(self, user):
        line = paid_renewal(user)
        first = audit_draw(order_line_id=line.pk, rng=Fixed(900_000))
        again = audit_draw(order_line_id=line.pk, rng=Fixed(0))
        assert again.pk == first.pk and not again.selected
        assert AuditDraw.objects.count() == 1 and not Audit.objects.exists()

    def test_the_draw_uses_the_rate_in_force(self, user, staff):
        staff.user_permissions.add(Permission.objects.get(codename="change_auditpolicy"))
        staff = type(staff).objects.get(pk=staff.pk)
        audit_policy_update(by=staff, rate=Decimal("0.25"), days_to_answer=45, extension_days=20)
        line = paid_renewal(user)
        draw = audit_draw(order_line_id=line.pk, rng=Fixed(249_999))
        assert (draw.rate, draw.selected) == (Decimal("0.2500"), True)
        assert Audit.objects.get().due_on == clock.today_for(user) + timedelta(days=45)
        assert AuditPolicy.objects.get().updated_by == staff

    def test_only_a_paid_renewal_standing_is_drawn(self, user):
        line = paid_renewal(user)
        from certifications.renewals import certification_renewal_undo

        certification_renewal_undo(cycle_id=line.cycle_id, opened_id=line.renewed_cycle_id, actor="staff:1",
                                   reason="Refunded.")
        with pytest.raises(AuditError, match="was undone; there is nothing to audit"):
            audit_draw(order_line_id=line.pk, rng=Fixed(0))
        assert not AuditDraw.objects.exists()

    def test_credits_outside_the_cycle_or_capped_to_nothing_are_not_audited(self, user):
        credits = [*CREDITS, ("Teaching a workshop", "5", "teaching", "self"),
                   ("Teaching again", "3", "teaching", "self")]  # over the 5-a-year cap: counts for nothing
        line = paid_renewal(user, credits=credits)
        CECEntryFactory(user=user, date_earned=line.cycle.start - timedelta(days=1), course_name="Before the cycle")
        audit_draw(order_line_id=line.pk, rng=Fixed(0))
        names = list(Audit.objects.get().credits.values_list("course_name", flat=True))
        assert names == [name for name, *_ in CREDITS] + ["Teaching a workshop"]


@pytest.mark.django_db
class TestStaffSelection:
    def test_staff_select_by_hand_once(self, user, staff):
        line = paid_renewal(user)
        audit, selected = audit_select_by_staff(order_line_id=line.pk, by=staff)
        assert selected and (audit.how, audit.selected_by) == ("staff", staff)
        again, selected_again = audit_select_by_staff(order_line_id=line.pk, by=reviewer())
        assert again.pk == audit.pk and not selected_again
        # A draw afterwards is recorded, and selects no second audit.
        draw = audit_draw(order_line_id=line.pk, rng=Fixed(0))
        assert draw.selected and Audit.objects.count() == 1
        assert AuditLog.objects.filter(to_state="selected").count() == 1

    def test_without_the_permission_nothing_is_selected(self, user):
        line = paid_renewal(user)
        for who in (UserFactory(is_staff=True), user):
            with pytest.raises(AuditError, match="You need the “Can review audits” permission"):
                audit_select_by_staff(order_line_id=line.pk, by=who)
        assert not Audit.objects.exists()

    def test_a_canceled_audit_stays_the_one_audit(self, user, staff):
        audit = audited(user, by=staff)
        audit_cancel(audit_id=audit.pk, by=staff, reason="Selected by mistake.")
        again, selected = audit_select_by_staff(order_line_id=audit.order_line_id, by=staff)
        assert (again.pk, again.state, selected) == (audit.pk, "canceled", False)

    def test_cancel_needs_a_reason_and_is_repeat_safe(self, user, staff):
        audit = audited(user, by=staff)
        with pytest.raises(AuditError, match="Give the reason"):
            audit_cancel(audit_id=audit.pk, by=staff, reason="  ")
        audit_cancel(audit_id=audit.pk, by=staff, reason="Selected by mistake.")
        audit_cancel(audit_id=audit.pk, by=reviewer(), reason="Again.")
        audit.refresh_from_db()
        assert (audit.state, audit.reason, audit.decided_by) == ("canceled", "Selected by mistake.", staff)
        assert list(audit.emails.values_list("kind", flat=True)) == ["selected", "canceled"]
        assert AuditLog.objects.filter(audit=audit, to_state="canceled").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "local_hour"), [
    # Late on Jan 30 (of a leap year) in the person's zone: due 30 days after *their* date, on Feb 29.
    ("America/Los_Angeles", 23),  # 11:30 PM there: already Jan 31 in the portal's zone
    ("America/New_York", 23),
    ("Pacific/Honolulu", 23),
    ("Pacific/Auckland", 0),  # 12:30 AM there: still Jan 29 in the portal's zone
    ("UTC", 23),
])
def test_the_due_date_counts_from_the_persons_own_date(zone, local_hour):
    from datetime import date
    from zoneinfo import ZoneInfo

    from tests.dates import at, next_leap_year

    leap = next_leap_year(clock.today().year)
    with time_machine.travel(at(date(leap, 1, 30), local_hour, 30, ZoneInfo(zone)), tick=False):
        user = UserFactory(time_zone=zone)
        audit = audited(user)
        assert clock.today_for(user) == date(leap, 1, 30)
        assert audit.due_on == date(leap, 2, 29)
        assert AuditEmail.objects.get(audit=audit).due_on == date(leap, 2, 29)


# ---------------------------------------------------------------- the certificant's side

@pytest.mark.django_db
class TestProof:
    def test_proof_documents_a_credit(self, user):
        audit = audited(user)
        credit = credit_named(audit, "Exercise and diabetes")
        proof = audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="../../certificate.pdf",
                                data=pdf_bytes())
        assert (proof.original_name, proof.content_type) == ("certificate.pdf", "application/pdf")
        assert proof.file.name == f"audit-proof/{proof.key.hex}.pdf"
        assert (PRIVATE_ROOT / proof.file.name).is_file()
        assert AuditCredit.objects.get(pk=credit.pk).state == "documented"
        assert AuditLog.objects.filter(audit=audit).last().note == \
            "Proof “certificate.pdf” added for “Exercise and diabetes”."

    @pytest.mark.parametrize(("name", "data", "message"), [
        ("empty.pdf", lambda: b"", "“empty.pdf” is empty."),
        ("notes.txt", lambda: b"just some words", "“notes.txt” is not a PDF, JPEG or PNG file."),
        ("certificate.pdf", pdf_with_script, "“certificate.pdf” contains JavaScript"),
        ("locked.pdf", lambda: pdf_bytes(password="s3cret"), "“locked.pdf” is encrypted or password-protected."),
        ("huge.png", lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024), "“huge.png” is larger than 10 MB"),
    ])
    def test_a_refused_file_saves_nothing(self, user, name, data, message):
        audit = audited(user)
        credit = credit_named(audit, "Exercise and diabetes")
        before, logged = proof_files(), AuditLog.objects.count()
        with pytest.raises(AuditError) as refused:
            audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name=name, data=data())
        assert refused.value.field == "file"
        assert refused.value.message.startswith(message)
        assert not AuditProof.objects.exists()
        assert AuditCredit.objects.get(pk=credit.pk).state == "needed"
        assert proof_files() == before and AuditLog.objects.count() == logged

    def test_a_failure_after_the_file_was_stored_leaves_no_file(self, user, monkeypatch):
        audit = audited(user)
        credit = credit_named(audit, "Exercise and diabetes")
        before = proof_files()

        def broken(*args, **kwargs):
            raise RuntimeError("the database went away")

        monkeypatch.setattr(services, "_note", broken)
        with pytest.raises(RuntimeError):
            audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="c.png", data=png_bytes())
        assert not AuditProof.objects.exists()
        assert AuditCredit.objects.get(pk=credit.pk).state == "needed"
        assert proof_files() == before

    def test_the_same_file_twice_and_a_fifth_file_are_refused(self, user):
        audit = audited(user)
        credit = credit_named(audit, "Exercise and diabetes")
        add = lambda name, seed: audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name=name,  # noqa
                                                 data=png_bytes(seed=seed))
        add("page-1.png", 1)
        with pytest.raises(AuditError) as refused:
            add("copy.png", 1)
        assert refused.value.message == "“copy.png” is already uploaded for this credit (as “page-1.png”)."
        for n in range(2, 5):
            add(f"page-{n}.png", n)
        with pytest.raises(AuditError) as refused:
            add("page-5.png", 5)
        assert refused.value.message == ("A credit holds at most 4 files of proof; “page-5.png” was not added. "
                                         "Remove one first.")
        assert AuditProof.objects.count() == 4

    def test_a_verified_credit_takes_no_proof(self, user):
        audit = audited(user)
        credit = credit_named(audit, "Annual conference")
        with pytest.raises(AuditError) as refused:
            audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="c.png", data=png_bytes())
        assert refused.value.message == ("“Annual conference” was reported by its provider or by staff; it needs no "
                                         "proof.")

    def test_another_persons_audit_credit_and_proof_are_not_found(self, user, other_user):
        audit = audited(user)
        mine = audited(other_user)
        credit = credit_named(audit, "Exercise and diabetes")
        proof = audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="c.png", data=png_bytes())
        attempts = [
            lambda: audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=other_user, name="c.png",
                                    data=png_bytes(seed=2)),
            # their own audit, with someone else's credit
            lambda: audit_proof_add(audit_id=mine.pk, credit_id=credit.pk, user=other_user, name="c.png",
                                    data=png_bytes(seed=2)),
            lambda: audit_proof_remove(audit_id=audit.pk, proof_id=proof.pk, user=other_user),
            lambda: audit_proof_remove(audit_id=mine.pk, proof_id=proof.pk, user=other_user),
            lambda: audit_submit(audit_id=audit.pk, user=other_user),
            lambda: audit_replacement_add(audit_id=audit.pk, user=other_user,
                                          cec_entry_id=credit.cec_entry_id),
        ]
        for attempt in attempts:
            with pytest.raises(AuditNotFound):
                attempt()
        assert AuditProof.objects.count() == 1 and Audit.objects.get(pk=audit.pk).state == "selected"

    def test_removing_the_last_proof_needs_proof_again(self, user, django_capture_on_commit_callbacks):
        audit = audited(user)
        credit = credit_named(audit, "Exercise and diabetes")
        first = audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="a.png", data=png_bytes())
        second = audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="b.png",
                                 data=png_bytes(seed=2))
        with django_capture_on_commit_callbacks(execute=True):
            assert audit_proof_remove(audit_id=audit.pk, proof_id=first.pk, user=user).state == "documented"
        assert not (PRIVATE_ROOT / first.file.name).exists()
        with django_capture_on_commit_callbacks(execute=True):
            assert audit_proof_remove(audit_id=audit.pk, proof_id=second.pk, user=user).state == "needed"
        with pytest.raises(AuditNotFound):
            audit_proof_remove(audit_id=audit.pk, proof_id=second.pk, user=user)  # a repeat: it is gone


@pytest.mark.django_db
class TestSubmit:
    def test_refused_while_credits_need_proof_naming_them(self, user):
        audit = audited(user)
        with pytest.raises(AuditError) as refused:
            audit_submit(audit_id=audit.pk, user=user)
        assert refused.value.field == "credits"
        assert refused.value.message == (
            "Upload proof for every credit before you submit: 3 credits still need proof (“Strength training for "
            "older adults”; “Exercise and diabetes”; “Nutrition basics”).")
        assert Audit.objects.get(pk=audit.pk).state == "selected"

    def test_submit_once_with_the_note(self, user):
        audit = documented(audited(user), user)
        first = audit_submit(audit_id=audit.pk, user=user, note="  Certificates attached; <b>thanks</b>  ")
        again = audit_submit(audit_id=audit.pk, user=user, note="A second click.")
        assert first.state == again.state == "submitted"
        audit.refresh_from_db()
        assert audit.note == "Certificates attached; <b>thanks</b>"
        assert audit.submitted_at is not None
        assert AuditLog.objects.filter(audit=audit, to_state="submitted").count() == 1

    def test_a_note_too_long_is_refused(self, user):
        audit = documented(audited(user), user)
        with pytest.raises(AuditError) as refused:
            audit_submit(audit_id=audit.pk, user=user, note="x" * 2001)
        assert (refused.value.field, refused.value.message) == (
            "note", "Keep the note under 2000 characters (it has 2001).")

    def test_nothing_changes_after_submitting(self, user):
        audit = submitted_audit(user)
        credit = credit_named(audit, "Exercise and diabetes")
        with pytest.raises(AuditError, match="Your audit documents are submitted; they can no longer be changed."):
            audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=user, name="late.png",
                            data=png_bytes(seed=99))
        with pytest.raises(AuditError, match="can no longer be changed"):
            audit_proof_remove(audit_id=audit.pk, proof_id=credit.proofs.get().pk, user=user)

    def test_past_the_deadline_nothing_is_taken(self, user):
        audit = audited(user)
        with time_machine.travel(clock.now() + timedelta(days=32)):
            with pytest.raises(AuditError, match="The audit was due .* at 11:59 PM Eastern time; it can no longer"):
                audit_submit(audit_id=audit.pk, user=user)

    @pytest.mark.django_db(transaction=True)
    def test_two_submits_at_once_submit_once(self, user):
        audit = documented(audited(user), user)

        def submit(_):
            try:
                return audit_submit(audit_id=audit.pk, user=user, note="Sent.").state
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(submit, range(4))) == ["submitted"] * 4
        assert AuditLog.objects.filter(audit=audit, to_state="submitted").count() == 1


# ---------------------------------------------------------------- the staff side

@pytest.mark.django_db
class TestReview:
    def test_credits_are_reviewed_once_submitted(self, user, staff):
        audit = audited(user)
        credit = credit_named(audit, "Exercise and diabetes")
        with pytest.raises(AuditError, match="credits are reviewed while it is submitted"):
            audit_credit_review(credit_id=credit.pk, by=staff, accept=True)

    def test_reject_needs_a_reason_then_accept_and_reject_are_logged(self, user, staff):
        audit = submitted_audit(user)
        credit = credit_named(audit, "Exercise and diabetes")
        with pytest.raises(AuditError) as refused:
            audit_credit_review(credit_id=credit.pk, by=staff, accept=False, reason="")
        assert refused.value.message == "Give the reason for rejecting it; it is logged and the certificant reads it."
        rejected = audit_credit_review(credit_id=credit.pk, by=staff, accept=False, reason="The certificate is "
                                       "for another person.")
        assert (rejected.state, rejected.reviewed_by, rejected.reason) == (
            "rejected", staff, "The certificate is for another person.")
        again = audit_credit_review(credit_id=credit.pk, by=reviewer(), accept=False, reason="Other words.")
        assert (again.reason, again.reviewed_by) == ("The certificate is for another person.", staff)
        accepted = audit_credit_review(credit_id=credit.pk, by=staff, accept=True)
        assert (accepted.state, accepted.reason) == ("accepted", "")
        notes = list(AuditLog.objects.filter(audit=audit, from_state="submitted", to_state="submitted")
                     .values_list("note", flat=True))
        day = credit.date_earned
        assert notes == [
            f"“Exercise and diabetes” (10 CECs, {day.month}/{day.day}/{day.year}) rejected: The certificate is for "
            "another person.",
            f"“Exercise and diabetes” (10 CECs, {day.month}/{day.day}/{day.year}) accepted.",
        ]

    def test_without_the_permission_nothing_is_reviewed(self, user):
        audit = submitted_audit(user)
        credit = credit_named(audit, "Exercise and diabetes")
        for who in (user, UserFactory(is_staff=True), reviewer(is_active=False)):
            with pytest.raises(AuditError, match="permission"):
                audit_credit_review(credit_id=credit.pk, by=who, accept=True)
            with pytest.raises(AuditError, match="permission"):
                audit_pass(audit_id=audit.pk, by=who)
        assert AuditCredit.objects.get(pk=credit.pk).state == "documented"

    def test_pass_only_when_accepted_and_verified_credits_meet_the_requirement(self, user, staff):
        audit = submitted_audit(user)
        for name in ("Strength training for older adults", "Nutrition basics"):
            audit_credit_review(credit_id=credit_named(audit, name).pk, by=staff, accept=True)
        with pytest.raises(AuditError) as refused:
            audit_pass(audit_id=audit.pk, by=staff)
        # 15 + 8 accepted and 12 verified: 35 of 45; the 10 documented but not reviewed do not count yet.
        assert refused.value.message == (
            "The audit cannot pass: 35 of 45 CECs accepted; 10 more are needed. Accept more credits, or give the "
            "certificant more time to report replacement credits.")
        audit_credit_review(credit_id=credit_named(audit, "Exercise and diabetes").pk, by=staff, accept=True)
        passed = audit_pass(audit_id=audit.pk, by=staff)
        assert (passed.state, passed.decided_by) == ("passed", staff)
        assert audit_pass(audit_id=audit.pk, by=reviewer()).decided_by == staff  # a repeat changes nothing
        assert list(passed.emails.values_list("kind", flat=True)) == ["selected", "passed"]
        assert AuditLog.objects.get(audit=audit, to_state="passed").note == "Passed: 45 of 45 CECs accepted."
        assert not Certification.objects.get(pk=audit.certification_id).is_suspended

    def test_illegal_moves_are_refused(self, user, staff):
        audit = audited(user)
        with pytest.raises(IllegalTransition, match="This audit is selected – waiting for documents; it cannot be "
                                                    "passed now."):
            audit_pass(audit_id=audit.pk, by=staff)
        with pytest.raises(IllegalTransition, match="it cannot be reinstated now"):
            audit_reinstate(audit_id=audit.pk, by=staff, reason="No.")
        audit_cancel(audit_id=audit.pk, by=staff, reason="Selected by mistake.")
        for move in (lambda: audit_extend(audit_id=audit.pk, by=staff),
                     lambda: audit_fail(audit_id=audit.pk, by=staff, reason="Late."),
                     lambda: audit_transition(audit_id=audit.pk, to="submitted", actor="test")):
            with pytest.raises(IllegalTransition, match="This audit is canceled; it cannot be"):
                move()
        assert Audit.objects.get(pk=audit.pk).state == "canceled"
        with pytest.raises(TypeError):
            audit_transition(audit_id=audit.pk, to="passed", actor="test", state="passed")

    @pytest.mark.django_db(transaction=True)
    def test_two_reviewers_at_once(self, user):
        audit = submitted_audit(user)
        one, two = reviewer(), reviewer()
        credits = list(audit.credits.filter(state="documented"))

        def review(who):
            try:
                for credit in credits:
                    audit_credit_review(credit_id=credit.pk, by=who, accept=True)
                return audit_pass(audit_id=audit.pk, by=who).state
            except AuditError as exc:  # the other reviewer passed it first
                return exc.message
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(review, [one, two]))
        assert "passed" in outcomes
        assert set(outcomes) <= {"passed", "This audit is passed; credits are reviewed while it is submitted."}
        audit.refresh_from_db()
        assert audit.state == "passed" and audit.decided_by in (one, two)
        assert AuditLog.objects.filter(audit=audit, to_state="passed").count() == 1
        assert AuditEmail.objects.filter(audit=audit, kind="passed").count() == 1
        # Each credit was decided once: the second reviewer's same decision changed nothing.
        assert AuditLog.objects.filter(audit=audit, to_state="submitted", from_state="submitted",
                                       note__endswith="accepted.").count() == len(credits)

    @pytest.mark.django_db(transaction=True)
    def test_pass_and_fail_at_once_one_wins(self, user):
        audit = submitted_audit(user)
        one, two = reviewer(), reviewer()
        for credit in audit.credits.filter(state="documented"):
            audit_credit_review(credit_id=credit.pk, by=one, accept=True)

        def decide(which):
            try:
                if which == "pass":
                    return audit_pass(audit_id=audit.pk, by=one).state
                return audit_fail(audit_id=audit.pk, by=two, reason="Proof looked altered.").state
            except IllegalTransition:
                return "refused"
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = sorted(pool.map(decide, ["pass", "fail"]))
        assert outcomes in (["passed", "refused"], ["failed", "refused"])
        audit.refresh_from_db()
        assert AuditLog.objects.filter(audit=audit, to_state__in=["passed", "failed"]).count() == 1
        assert Certification.objects.get(pk=audit.certification_id).is_suspended is (audit.state == "failed")


@pytest.mark.django_db
class TestOutcomes:
    def test_fail_suspends_and_reinstate_lifts_it(self, user, staff):
        audit = submitted_audit(user)
        failed = audit_fail(audit_id=audit.pk, by=staff, reason="The certificates could not be verified.")
        assert (failed.state, failed.overdue, failed.reason) == ("failed", False,
                                                                 "The certificates could not be verified.")
        certification = Certification.objects.get(pk=audit.certification_id)
        assert certification.is_suspended
        assert certification.suspended_reason == f"Audit {audit.pk} failed: The certificates could not be verified."
        assert audit_fail(audit_id=audit.pk, by=reviewer(), reason="Again.").reason == failed.reason
        reinstated = audit_reinstate(audit_id=audit.pk, by=staff, reason="Originals seen by phone.")
        assert reinstated.state == "reinstated"
        assert not Certification.objects.get(pk=audit.certification_id).is_suspended
        assert list(CertificationLog.objects.filter(certification_id=audit.certification_id)
                    .values_list("action", "actor")) == [("suspended", f"staff:{staff.pk}"),
                                                         ("reinstated", f"staff:{staff.pk}")]
        assert list(audit.emails.values_list("kind", flat=True)) == ["selected", "failed", "reinstated"]
        assert list(audit.log.exclude(from_state="selected", to_state="selected")
                    .values_list("from_state", "to_state")) == [
            ("", "selected"), ("selected", "submitted"), ("submitted", "failed"), ("failed", "reinstated")]

    def test_staff_fail_an_unanswered_audit_only_after_its_deadline(self, user, staff):
        audit = audited(user)
        with pytest.raises(AuditError, match="The certificant has until .* at 11:59 PM Eastern time to submit"):
            audit_fail(audit_id=audit.pk, by=staff, reason="Nothing sent.")
        with time_machine.travel(clock.now() + timedelta(days=31)):
            failed = audit_fail(audit_id=audit.pk, by=staff, reason="Nothing sent.")
        assert (failed.state, failed.overdue) == ("failed", True)

    def test_more_time_for_replacement_credits_then_pass(self, user, staff):
        audit = submitted_audit(user)
        for credit in audit.credits.filter(state="documented"):
            audit_credit_review(credit_id=credit.pk, by=staff, accept=credit.course_name != "Exercise and diabetes",
                                reason="The date on the certificate is after the cycle.")
        extended = audit_extend(audit_id=audit.pk, by=staff, reason="Asked by phone.")
        assert extended.state == "extended"
        assert extended.extended_due_on == clock.today_for(user) + timedelta(days=30)
        assert extended.deadline == extended.extended_due_on
        assert audit_extend(audit_id=audit.pk, by=staff, days=5).extended_due_on == extended.extended_due_on
        assert list(audit.emails.values_list("key", flat=True)) == [
            "selected", f"extended-{extended.extended_due_on.isoformat()}"]

        cycle = audit.cycle
        outside = CECEntryFactory(user=user, date_earned=cycle.end + timedelta(days=1), course_name="Too late")
        inside = CECEntryFactory(user=user, date_earned=cycle.start + timedelta(days=40), units=Decimal("10"),
                                 cecs=Decimal("10"), course_name="Replacement course")
        with pytest.raises(AuditError) as refused:
            audit_replacement_add(audit_id=audit.pk, user=user, cec_entry_id=outside.pk)
        assert refused.value.message.startswith("“Too late” was earned on ")
        assert refused.value.message.endswith("only credits earned in that cycle can replace rejected ones.")
        already = credit_named(audit, "Nutrition basics").cec_entry_id
        with pytest.raises(AuditError, match="“Nutrition basics” is already part of this audit."):
            audit_replacement_add(audit_id=audit.pk, user=user, cec_entry_id=already)
        with pytest.raises(AuditNotFound):
            audit_replacement_add(audit_id=audit.pk, user=user,
                                  cec_entry_id=CECEntryFactory(user=UserFactory(), date_earned=cycle.start).pk)
        replacement = audit_replacement_add(audit_id=audit.pk, user=user, cec_entry_id=inside.pk)
        assert (replacement.replacement, replacement.state, replacement.cecs) == (True, "needed", Decimal("10"))
        with pytest.raises(AuditError, match="1 credit still needs proof \\(“Replacement course”\\)"):
            audit_submit(audit_id=audit.pk, user=user)
        audit_proof_add(audit_id=audit.pk, credit_id=replacement.pk, user=user, name="new.png",
                        data=png_bytes(seed=77))
        assert audit_submit(audit_id=audit.pk, user=user, note="Replacement sent.").state == "submitted"
        audit_credit_review(credit_id=replacement.pk, by=staff, accept=True)
        assert audit_pass(audit_id=audit.pk, by=staff).state == "passed"

    def test_replacements_only_in_a_second_window(self, user, staff):
        audit = audited(user)
        entry = CECEntryFactory(user=user, date_earned=audit.cycle.start + timedelta(days=50))
        with pytest.raises(AuditError, match="only when staff give more time"):
            audit_replacement_add(audit_id=audit.pk, user=user, cec_entry_id=entry.pk)
        audit_extend(audit_id=audit.pk, by=staff, days=10)
        credit = audit_replacement_add(audit_id=audit.pk, user=user, cec_entry_id=entry.pk)
        with pytest.raises(AuditError, match="cannot be taken out"):
            audit_replacement_remove(audit_id=audit.pk, credit_id=credit_named(audit, "Nutrition basics").pk,
                                     user=user)
        audit_replacement_remove(audit_id=audit.pk, credit_id=credit.pk, user=user)
        assert not AuditCredit.objects.filter(pk=credit.pk).exists()

    def test_a_second_failed_audit_keeps_the_suspension(self, user, staff):
        first = submitted_audit(user)
        # Another renewal of the same certification (its next cycle), audited and failed too.
        line = first.order_line
        order = Order.objects.create(
            user=user, number="A-SECOND", state="paid", total=Decimal("60.00"), paid_at=clock.now(),
            billing_name="Jordan Lee", billing_line1="1 Main St", billing_city="Indianapolis",
            billing_postal_code="46202", billing_country="US")
        second_line = OrderLine.objects.create(
            order=order, kind="renewal", certification=line.certification, cycle=line.renewed_cycle,
            renewed_cycle=line.renewed_cycle, description="CPT Recertification", unit_price=Decimal("60.00"),
            total_price=Decimal("60.00"))
        second = Audit.objects.create(order_line=second_line, user=user, certification=line.certification,
                                      cycle=line.renewed_cycle, required_cecs=45, how="staff", due_on=first.due_on,
                                      state="failed", reason="Nothing sent.")
        audit_fail(audit_id=first.pk, by=staff, reason="Altered certificate.")
        audit_reinstate(audit_id=first.pk, by=staff, reason="Resolved.")
        assert Certification.objects.get(pk=first.certification_id).is_suspended
        audit_reinstate(audit_id=second.pk, by=staff, reason="Resolved too.")
        assert not Certification.objects.get(pk=first.certification_id).is_suspended
