"""A certificate's status: the one transition (legal and illegal moves, repeats, two staff at once), what audits and
refunds bring along, the dates moving it on each holder's own date (several zones, through the clock), the holder's
email, and the staff's Suspend, Reinstate and Revoke in the admin."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection, connections, transaction
from django.urls import reverse

from acsm_portal import clock
from certifications import certificate_status as cs
from certifications.certificate_status import (
    REINSTATE,
    CertificateStatusError,
    certificate_status_email_send,
    certificate_transition,
    certificates_status_refresh,
    status_by_dates,
)
from certifications.certificates import certificate_void
from certifications.models import Certificate, CertificateLog
from certifications.renewals import certification_renew, certification_renewal_undo
from certifications.suspensions import certification_reinstate, certification_suspend
from certifications.tasks import certificate_status_email_task, certificates_status_refresh_task
from tests.dates import at
from tests.factories import UserFactory
from tests.verification.certificates import certificate, moves, status_of
from tests.waits import wait_until

S = Certificate.Status
YEAR = clock.today().year  # the years below are counted from the clock's, never written
NOTHING_MOVED = {"active": [], "grace": [], "lapsed": [], "renewed": [], "revoked": []}


def moved(**ids) -> dict[str, list[int]]:
    return {**NOTHING_MOVED, **ids}


@pytest.fixture
def mid_march(today):
    """Noon on March 15 this year in the portal's zone: far from any Dec 31 or June 30."""
    moment = at(date(today.year, 3, 15), 12)
    with time_machine.travel(moment, tick=False):
        yield moment


@pytest.fixture
def status_emails(monkeypatch):
    """The holder emails queued for the worker (``CertificateLog`` ids), once their transactions commit."""
    queued = []
    monkeypatch.setattr(certificate_status_email_task, "apply_async", lambda args, **options: queued.extend(args))
    return queued


# ---------------------------------------------------------------- the dates (no database)


@pytest.mark.parametrize(("valid_through", "today", "expected"), [
    (date(YEAR, 12, 31), date(YEAR, 1, 1), "active"),
    (date(YEAR, 12, 31), date(YEAR, 12, 31), "active"),
    (date(YEAR, 12, 31), date(YEAR + 1, 1, 1), "grace"),
    (date(YEAR, 12, 31), date(YEAR + 1, 6, 30), "grace"),
    (date(YEAR, 12, 31), date(YEAR + 1, 7, 1), "lapsed"),
    # A certificate valid through a June 30 has a whole year of grace: to the next June 30.
    (date(YEAR, 6, 30), date(YEAR, 7, 1), "grace"),
    (date(YEAR, 6, 30), date(YEAR + 1, 6, 30), "grace"),
    (date(YEAR, 6, 30), date(YEAR + 1, 7, 1), "lapsed"),
    # Valid through the last day of February: grace to June 30 of that year.
    (date(YEAR, 3, 1) - timedelta(days=1), date(YEAR, 6, 30), "grace"),
    (date(YEAR, 3, 1) - timedelta(days=1), date(YEAR, 7, 1), "lapsed"),
])
def test_the_dates_give_active_then_grace_then_lapsed(valid_through, today, expected):
    assert status_by_dates(valid_through=valid_through, today=today, replaced=False) == expected


@pytest.mark.parametrize("today", [date(YEAR, 1, 1), date(YEAR + 1, 1, 1), date(YEAR + 3, 1, 1)])
def test_a_replaced_certificate_is_renewed_whatever_the_date(today):
    assert status_by_dates(valid_through=date(YEAR, 12, 31), today=today, replaced=True) == "renewed"


# ---------------------------------------------------------------- the transition


@pytest.mark.django_db
class TestTransition:
    def test_suspend_reinstate_and_revoke_each_logged_with_who_when_and_why(self, user, mid_march):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        suspended, acted = certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3",
                                                  reason="  Under   investigation. ")
        assert acted is True
        assert (suspended.status, suspended.status_changed_at, suspended.status_reason) == (
            "suspended", mid_march, "Under investigation.")
        reinstated, acted = certificate_transition(certificate_id=cert.pk, to=REINSTATE, actor="staff:4",
                                                   reason="Cleared.")
        assert (acted, reinstated.status, reinstated.status_reason) == (True, "active", "Cleared.")
        revoked, acted = certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor="staff:3",
                                                reason="Obtained by fraud.")
        assert (acted, revoked.status) == (True, "revoked")
        assert moves(cert) == [("active", "suspended", "staff:3", "Under investigation."),
                               ("suspended", "active", "staff:4", "Cleared."),
                               ("active", "revoked", "staff:3", "Obtained by fraud.")]
        assert set(CertificateLog.objects.values_list("at", flat=True)) == {mid_march}

    def test_suspended_can_be_revoked(self, user):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31), status=S.SUSPENDED)
        certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor="staff:3", reason="Confirmed.")
        assert moves(cert) == [("suspended", "revoked", "staff:3", "Confirmed.")]

    @pytest.mark.parametrize(("to", "reason"), [(S.SUSPENDED, "Again."), (S.REVOKED, "Again."),
                                                (REINSTATE, "Again.")])
    def test_a_repeat_is_a_no_op(self, user, to, reason):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        if to == REINSTATE:
            certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
        first, acted_first = certificate_transition(certificate_id=cert.pk, to=to, actor="staff:3", reason="First.")
        before = moves(cert)
        again, acted_again = certificate_transition(certificate_id=cert.pk, to=to, actor="staff:4", reason=reason)
        assert (acted_first, acted_again) == (True, False)
        assert (again.status, again.status_reason) == (first.status, "First.")
        assert moves(cert) == before

    @pytest.mark.parametrize(("start", "to", "message"), [
        (S.REVOKED, S.SUSPENDED, "is revoked; a revoked certificate stays revoked"),
        (S.REVOKED, REINSTATE, "is Revoked, not suspended; only a suspended certificate can be reinstated"),
        (S.ACTIVE, REINSTATE, "is Active, not suspended; only a suspended certificate can be reinstated"),
        (S.SUSPENDED, S.ACTIVE, "is suspended; reinstate it to return it to the status its dates give"),
        (S.ACTIVE, S.GRACE, "is Active by its dates, not Expired (grace period)"),
        (S.ACTIVE, S.RENEWED, "is Active by its dates, not Renewed (replaced by a newer certificate)"),
        (S.ACTIVE, "expired", "“expired” is not a certificate status"),
    ])
    def test_an_illegal_move_is_refused_and_changes_nothing(self, user, start, to, message):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31), status=start)
        with pytest.raises(CertificateStatusError) as refused:
            certificate_transition(certificate_id=cert.pk, to=to, actor="staff:3", reason="Because.")
        assert message in refused.value.message
        assert (status_of(cert), moves(cert)) == (start, [])

    @pytest.mark.parametrize("to", [S.SUSPENDED, S.REVOKED, REINSTATE])
    def test_staff_moves_need_a_reason(self, user, to):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31), status=S.SUSPENDED if to == REINSTATE
                           else S.ACTIVE)
        with pytest.raises(CertificateStatusError) as refused:
            certificate_transition(certificate_id=cert.pk, to=to, actor="staff:3", reason="  \n ")
        assert (refused.value.message, refused.value.field) == (
            "Give the reason; it is logged and the holder reads it.", "reason")
        with pytest.raises(CertificateStatusError, match="Keep the reason under 500 characters"):
            certificate_transition(certificate_id=cert.pk, to=to, actor="staff:3", reason="x" * 501)
        assert moves(cert) == []

    def test_reinstating_returns_to_the_status_the_dates_give(self, user, mid_march):
        cert = certificate(user, valid_through=date(YEAR - 1, 12, 31))  # its grace period runs to June 30
        certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
        certificate_transition(certificate_id=cert.pk, to=REINSTATE, actor="staff:3", reason="Cleared.")
        assert moves(cert)[-1] == ("suspended", "grace", "staff:3", "Cleared.")

    def test_a_failed_audit_suspends_the_newest_certificate_and_reinstating_it_reinstates(self, user, mid_march,
                                                                                        status_emails):
        old = certificate(user, valid_through=date(YEAR, 12, 31), status=S.RENEWED)
        new = certificate(user, valid_through=date(YEAR + 3, 12, 31), certification=old.certification)
        certification_suspend(certification_id=old.certification_id, actor="audit 7", reason="Audit 7 failed.")
        assert (status_of(old), status_of(new)) == ("renewed", "suspended")
        with pytest.raises(CertificateStatusError, match="The certification itself is suspended"):
            certificate_transition(certificate_id=new.pk, to=REINSTATE, actor="staff:3", reason="Early.")
        certification_reinstate(certification_id=old.certification_id, actor="staff:3", reason="Resolved.")
        assert moves(new) == [("active", "suspended", "audit 7", "Audit 7 failed."),
                              ("suspended", "active", "staff:3", "Resolved.")]
        assert moves(old) == []
        assert status_emails == []  # the audit's own emails tell the holder

    def test_a_revoked_certificate_stays_revoked_when_its_certification_is_suspended(self, user):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31), status=S.REVOKED)
        certification_suspend(certification_id=cert.certification_id, actor="audit 7", reason="Audit 7 failed.")
        certification_reinstate(certification_id=cert.certification_id, actor="staff:3", reason="Resolved.")
        assert (status_of(cert), moves(cert)) == ("revoked", [])

    def test_a_new_certificate_renews_the_old_and_undoing_it_revokes_it_with_the_reason(self, user, mid_march,
                                                                                      status_emails):
        old = certificate(user, valid_through=date(YEAR, 12, 31))
        new_cycle = certification_renew(cycle_id=old.cycle_id)
        new = Certificate.objects.get(cycle=new_cycle)
        assert (status_of(old), status_of(new)) == ("renewed", "active")
        assert moves(old) == [("active", "renewed", "renewal",
                               "A newer certificate of the same certification was issued.")]
        certification_renewal_undo(cycle_id=old.cycle_id, opened_id=new_cycle.pk, actor="staff:9",
                                   reason="Refunded: paid twice.")
        new.refresh_from_db()
        assert (new.status, new.status_reason, new.void_reason, new.voided_at) == (
            "revoked", "Refunded: paid twice.", "Refunded: paid twice.", mid_march)
        assert moves(new) == [("active", "revoked", "staff:9", "Refunded: paid twice.")]
        assert moves(old)[-1] == ("renewed", "active", "staff:9", "Valid by its dates.")
        assert status_emails == []  # the refund's own email says the certificate was voided

    def test_voiding_twice_is_a_no_op(self, user, mid_march):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        assert certificate_void(cycle=cert.cycle, actor="staff:9", reason="Refunded.", at=mid_march) == [cert.pk]
        assert certificate_void(cycle=cert.cycle, actor="staff:9", reason="Again.", at=mid_march) == []
        assert moves(cert) == [("active", "revoked", "staff:9", "Refunded.")]


# ---------------------------------------------------------------- two staff at once


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is otherwise frozen
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
class TestTwoStaffAtOnce:
    def test_two_revokes_at_once_make_one_move_and_one_email(self, status_emails):
        cert = certificate(UserFactory(), valid_through=date(YEAR + 1, 12, 31))

        def revoke(n):
            try:
                return certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor=f"staff:{n}",
                                              reason=f"Revoked by {n}.")[1]
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert sorted(pool.map(revoke, [1, 2])) == [False, True]
        assert [(f, t) for f, t, *_ in moves(cert)] == [("active", "revoked")]
        assert status_emails == [CertificateLog.objects.get().pk]

    def test_a_revoke_waits_for_a_suspend_in_progress_then_moves_on_from_it(self, status_emails):
        cert = certificate(UserFactory(), valid_through=date(YEAR + 1, 12, 31))
        results = []

        def revoke():
            try:
                results.append(certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor="staff:2",
                                                      reason="Forged.")[1])
            finally:
                connections.close_all()

        second = threading.Thread(target=revoke)
        with transaction.atomic():
            certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:1", reason="Check.")
            second.start()
            wait_until(_waiting_for_a_lock, what="the revoke to wait for the certificate's row lock")
            assert results == []
        second.join()
        assert results == [True]
        assert moves(cert) == [("active", "suspended", "staff:1", "Check."),
                               ("suspended", "revoked", "staff:2", "Forged.")]
        assert len(status_emails) == 2


# ---------------------------------------------------------------- the dates, each holder's own


def _person(zone: str):
    return UserFactory(time_zone=zone)


@pytest.mark.django_db
class TestRefresh:
    def test_active_turns_grace_after_midnight_on_each_holders_own_clock(self, today):
        last_day = date(today.year - 1, 12, 31)
        people = {zone: _person(zone) for zone in ("Pacific/Auckland", "America/New_York", "America/Los_Angeles")}
        certs = {zone: certificate(person, valid_through=last_day) for zone, person in people.items()}
        new_year = date(today.year, 1, 1)
        with time_machine.travel(at(last_day, 23, 59, ZoneInfo("Pacific/Auckland")), tick=False):
            assert certificates_status_refresh() == NOTHING_MOVED
        with time_machine.travel(at(new_year, 0, 30, ZoneInfo("Pacific/Auckland")), tick=False):
            assert certificates_status_refresh() == moved(grace=[certs["Pacific/Auckland"].pk])
        with time_machine.travel(at(new_year, 0, 30, ZoneInfo("America/New_York")), tick=False):
            assert certificates_status_refresh() == moved(grace=[certs["America/New_York"].pk])
            assert status_of(certs["America/Los_Angeles"]) == "active"  # 9:30 PM on Dec 31 there
        with time_machine.travel(at(new_year, 0, 30, ZoneInfo("America/Los_Angeles")), tick=False):
            assert certificates_status_refresh() == moved(grace=[certs["America/Los_Angeles"].pk])
            assert certificates_status_refresh() == NOTHING_MOVED
        assert moves(certs["America/New_York"]) == [
            ("active", "grace", "scheduler", "Its valid-through date has passed; the grace period runs.")]

    def test_grace_turns_lapsed_after_june_30_on_each_holders_own_clock(self, today):
        last_day = date(today.year - 1, 12, 31)
        tokyo, chicago = _person("Asia/Tokyo"), _person("America/Chicago")
        in_tokyo = certificate(tokyo, valid_through=last_day, status=S.GRACE)
        in_chicago = certificate(chicago, valid_through=last_day, status=S.GRACE)
        july_1 = date(today.year, 7, 1)
        with time_machine.travel(at(july_1, 0, 30, ZoneInfo("Asia/Tokyo")), tick=False):
            assert certificates_status_refresh() == moved(lapsed=[in_tokyo.pk])
        with time_machine.travel(at(july_1, 0, 30, ZoneInfo("America/Chicago")), tick=False):
            assert certificates_status_refresh() == moved(lapsed=[in_chicago.pk])
        assert moves(in_chicago) == [("grace", "lapsed", "scheduler", "The grace period has ended.")]

    def test_a_long_missed_run_goes_straight_to_lapsed(self, user, mid_march):
        cert = certificate(user, valid_through=date(YEAR - 2, 12, 31))
        assert certificates_status_refresh() == moved(lapsed=[cert.pk])

    def test_a_newer_certificate_renews_and_a_void_one_no_longer_does(self, user, mid_march):
        old = certificate(user, valid_through=date(YEAR, 12, 31))
        new = certificate(user, valid_through=date(YEAR + 3, 12, 31), certification=old.certification)
        assert certificates_status_refresh() == moved(renewed=[old.pk])
        # Voided before statuses existed (no transition then): revoked, and the old one is current again.
        Certificate.objects.filter(pk=new.pk).update(voided_at=mid_march, void_reason="Renewal undone")
        assert certificates_status_refresh() == moved(active=[old.pk], revoked=[new.pk])
        assert moves(new) == [("active", "revoked", "scheduler", "Renewal undone")]

    def test_suspended_and_revoked_certificates_are_left_as_staff_put_them(self, user, mid_march):
        suspended = certificate(user, valid_through=date(YEAR - 2, 12, 31), status=S.SUSPENDED)
        revoked = certificate(UserFactory(), valid_through=date(YEAR - 2, 12, 31), status=S.REVOKED)
        assert certificates_status_refresh() == NOTHING_MOVED
        certificate_transition(certificate_id=suspended.pk, to=REINSTATE, actor="staff:3", reason="Cleared.")
        assert (status_of(suspended), status_of(revoked)) == ("lapsed", "revoked")

    def test_every_batch_is_read_and_a_second_run_moves_nothing(self, mid_march):
        certs = [certificate(UserFactory(), valid_through=date(YEAR - 1, 12, 31)) for _ in range(5)]
        current = certificate(UserFactory(), valid_through=date(YEAR + 1, 12, 31))
        assert certificates_status_refresh(batch=2) == moved(grace=[c.pk for c in certs])
        assert certificates_status_refresh(batch=2) == NOTHING_MOVED
        assert status_of(current) == "active"

    def test_a_certificate_staff_suspended_meanwhile_is_left_alone(self, user, mid_march, monkeypatch):
        cert = certificate(user, valid_through=date(YEAR - 1, 12, 31))
        real = cs.certificate_transition

        def staff_first(**kwargs):
            Certificate.objects.filter(pk=cert.pk).update(status=S.SUSPENDED)  # staff got there between read and lock
            return real(**kwargs)

        monkeypatch.setattr(cs, "certificate_transition", staff_first)
        assert certificates_status_refresh() == NOTHING_MOVED
        assert status_of(cert) == "suspended"

    def test_the_hourly_task_runs_it(self, user, mid_march):
        cert = certificate(user, valid_through=date(YEAR - 1, 12, 31))
        entry = settings.CELERY_BEAT_SCHEDULE["refresh-certificate-statuses"]
        assert entry["task"] == certificates_status_refresh_task.name
        assert (entry["schedule"].minute, entry["schedule"].hour) == ({12}, set(range(24)))
        assert certificates_status_refresh_task() == moved(grace=[cert.pk])


# ---------------------------------------------------------------- the holder's email


@pytest.mark.django_db
class TestHolderEmail:
    def test_one_email_per_staff_move_after_commit(self, user, mid_march, status_emails,
                                                   django_capture_on_commit_callbacks):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        with django_capture_on_commit_callbacks(execute=True):
            certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
            assert status_emails == []  # not before the commit
        with django_capture_on_commit_callbacks(execute=True):
            certificate_transition(certificate_id=cert.pk, to=S.SUSPENDED, actor="staff:3", reason="Check.")
            certificate_transition(certificate_id=cert.pk, to=REINSTATE, actor="staff:3", reason="Cleared.")
            certificate_transition(certificate_id=cert.pk, to=S.REVOKED, actor="staff:3", reason="Forged papers.")
        assert status_emails == list(cert.log.order_by("at", "id").values_list("pk", flat=True))
        assert [certificate_status_email_send(log_id=pk) for pk in status_emails] == ["sent"] * 3
        subjects = [(m.subject, m.to) for m in mail.outbox]
        assert subjects == [(f"Your CPT certificate {cert.number} is suspended", [user.email]),
                            (f"Your CPT certificate {cert.number} is reinstated", [user.email]),
                            (f"Your CPT certificate {cert.number} is revoked", [user.email])]
        revoked = mail.outbox[2]
        page = f"{settings.PORTAL_BASE_URL.rstrip('/')}/verify/{cert.verify_code}/"
        assert (f"Your certificate {cert.number} (Certified Personal Trainer) was revoked on "
                f"{clock.moment_text(mid_march, user)}.") in revoked.body
        assert "Reason: Forged papers." in revoked.body and page in revoked.body
        assert "Its status is now: Active." in mail.outbox[1].body
        html = revoked.alternatives[0][0]
        assert "<strong>revoked</strong>" in html and f'href="{page}"' in html

    def test_moves_by_the_dates_send_nothing(self, user, mid_march, status_emails,
                                             django_capture_on_commit_callbacks):
        cert = certificate(user, valid_through=date(YEAR - 1, 12, 31))
        with django_capture_on_commit_callbacks(execute=True):
            certificates_status_refresh()
        assert status_emails == []
        assert certificate_status_email_send(log_id=cert.log.get().pk) == "not a staff move"
        assert mail.outbox == []


# ---------------------------------------------------------------- the admin


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


@pytest.mark.django_db
class TestAdmin:
    def test_the_page_offers_the_moves_its_status_allows(self, staff_client, user):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        page = staff_client.get(reverse("admin:certifications_certificate_change", args=[cert.pk])).content.decode()
        for name in ("suspend", "revoke"):
            assert reverse(f"admin:certifications_certificate_{name}", args=[cert.pk]) in page
        assert reverse("admin:certifications_certificate_reinstate", args=[cert.pk]) not in page
        assert f'href="/verify/{cert.verify_code}/"' in page
        Certificate.objects.filter(pk=cert.pk).update(status=S.SUSPENDED)
        page = staff_client.get(reverse("admin:certifications_certificate_change", args=[cert.pk])).content.decode()
        assert reverse("admin:certifications_certificate_reinstate", args=[cert.pk]) in page
        assert reverse("admin:certifications_certificate_suspend", args=[cert.pk]) not in page
        Certificate.objects.filter(pk=cert.pk).update(status=S.REVOKED)
        page = staff_client.get(reverse("admin:certifications_certificate_change", args=[cert.pk])).content.decode()
        assert "None: a revoked certificate stays revoked." in page

    def test_revoke_asks_for_a_reason_then_revokes_logs_and_emails(self, staff_client, user, mid_march,
                                                                   status_emails,
                                                                   django_capture_on_commit_callbacks):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        url = reverse("admin:certifications_certificate_revoke", args=[cert.pk])
        page = staff_client.get(url)
        assert page.status_code == 200
        assert "A revoked certificate stays revoked: this cannot be undone." in page.content.decode()
        blank = staff_client.post(url, {"reason": ""})
        assert blank.status_code == 200 and "This field is required." in blank.content.decode()
        assert status_of(cert) == "active"
        with django_capture_on_commit_callbacks(execute=True):
            done = staff_client.post(url, {"reason": "Forged papers."}, follow=True)
        assert done.redirect_chain == [(reverse("admin:certifications_certificate_change", args=[cert.pk]), 302)]
        assert _messages(done) == [f"Certificate {cert.number} is revoked: it is now Revoked. The holder is emailed."]
        staff = done.wsgi_request.user
        assert moves(cert) == [("active", "revoked", f"staff:{staff.pk}", "Forged papers.")]
        assert len(status_emails) == 1
        again = staff_client.post(url, {"reason": "Again."}, follow=True)
        assert _messages(again) == [f"Certificate {cert.number} was already revoked; nothing changed and nobody was "
                                    "emailed."]
        refused = staff_client.post(reverse("admin:certifications_certificate_suspend", args=[cert.pk]),
                                    {"reason": "Check."}, follow=True)
        assert _messages(refused) == [f"Certificate {cert.number} is revoked; a revoked certificate stays revoked."]
        assert len(status_emails) == 1

    def test_suspend_then_reinstate(self, staff_client, user):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        staff_client.post(reverse("admin:certifications_certificate_suspend", args=[cert.pk]), {"reason": "Check."})
        assert status_of(cert) == "suspended"
        staff_client.post(reverse("admin:certifications_certificate_reinstate", args=[cert.pk]),
                          {"reason": "Cleared."})
        assert [(f, t, r) for f, t, _, r in moves(cert)] == [("active", "suspended", "Check."),
                                                            ("suspended", "active", "Cleared.")]

    def test_staff_without_the_permission_are_refused(self, client, user):
        cert = certificate(user, valid_through=date(YEAR + 1, 12, 31))
        client.force_login(UserFactory(is_staff=True))
        url = reverse("admin:certifications_certificate_revoke", args=[cert.pk])
        assert client.get(url).status_code == 403
        assert client.post(url, {"reason": "Forged."}).status_code == 403
        assert status_of(cert) == "active"

    def test_an_unknown_certificate_is_404(self, staff_client):
        assert staff_client.get(reverse("admin:certifications_certificate_revoke", args=[987654])).status_code == 404

    def test_the_list_filters_by_status_and_finds_by_number_or_last_name(self, staff_client):
        active = certificate(UserFactory(last_name="Okafor"), valid_through=date(YEAR + 1, 12, 31))
        suspended = certificate(UserFactory(last_name="Lindqvist"), valid_through=date(YEAR + 1, 12, 31),
                                status=S.SUSPENDED)
        url = reverse("admin:certifications_certificate_changelist")

        def listed(**query) -> set[str]:
            return {c.number for c in staff_client.get(url, query).context["cl"].result_list}

        assert listed(status__exact="suspended") == {suspended.number}
        assert listed(q=active.number) == {active.number}
        assert listed(q="lindqvist") == {suspended.number}
