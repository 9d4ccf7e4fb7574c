"""Undoing a renewal: the renewed cycle opens again, the cycle it opened is kept as undone, its certificate is void,
the credits and CPR card count for the open cycle again; once, logged, refused when renewed again since."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connections
from django.urls import reverse

from acsm_portal import clock, jobs
from acsm_portal.formats import format_range
from certifications.certificates import certificates_unrendered_requeue
from certifications.models import Certificate, CprUpload, Cycle, CycleLog
from certifications.renewals import RenewalError, certification_renew, certification_renewal, \
    certification_renewal_undo
from certifications.selectors import tiles_for
from tests.factories import renewable_certification


def renewed(user, code="EP"):
    """A certification renewed in its cycle around today: (the renewed cycle, the cycle it opened)."""
    certification = renewable_certification(user, code)
    cycle = certification.cycles.get()
    return cycle, certification_renew(cycle_id=cycle.pk, actor="test")


@pytest.mark.django_db
class TestUndo:
    def test_the_cycle_opens_again_its_certificate_is_void_and_its_credits_count(self, user, today):
        cycle, opened = renewed(user)
        certificate = opened.certificate
        [before] = tiles_for(user=user, today=today)
        assert (before.cycle_start, before.meter.shown, before.certificate_number) == (
            opened.start, Decimal("0"), certificate.number)
        moment = clock.now().replace(microsecond=0)
        with time_machine.travel(moment, tick=False):
            result = certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk,
                                                actor="staff:7", reason="Refunded (order R1).")
        assert (result.state, result.undone) == ("undone", (
            f"EP renewal undone: cycle {format_range(cycle.start, cycle.end)} is open again; "
            f"certificate {certificate.number} voided."))
        cycle.refresh_from_db()
        opened.refresh_from_db()
        certificate.refresh_from_db()
        assert (cycle.state, cycle.renewed_at) == ("open", None)
        assert (opened.state, opened.undone_at) == ("undone", moment)
        assert (certificate.voided_at, certificate.void_reason) == (moment, "Refunded (order R1).")
        [tile] = tiles_for(user=user, today=today)
        assert (tile.cycle_start, tile.cycle_end, tile.meter.shown, tile.certificate_number) == (
            cycle.start, cycle.end, Decimal("60"), "")
        assert tile.eligibility.can_renew
        assert list(CycleLog.objects.filter(cycle__certification=cycle.certification).order_by("id")
                    .values_list("cycle_id", "from_state", "to_state", "actor", "note")) == [
            (cycle.pk, "open", "renewed", "test", f"Renewed; the next cycle is {format_range(opened.start, opened.end)}."),
            (opened.pk, "", "open", "test", f"Opened by the renewal of {format_range(cycle.start, cycle.end)}."),
            (opened.pk, "open", "undone", "staff:7", "Refunded (order R1)."),
            (cycle.pk, "renewed", "open", "staff:7", "Refunded (order R1)."),
        ]

    def test_undoing_twice_is_a_no_op(self, user):
        cycle, opened = renewed(user)
        first = certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
        voided_at = Certificate.objects.get(cycle=opened).voided_at
        again = certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:8", reason="Again.")
        assert (first.acted, again.acted) == (True, False)
        assert replace(again, acted=True) == first
        assert again.already_undone == "The EP renewal was already undone."
        assert CycleLog.objects.filter(actor="staff:8").count() == 0
        assert Certificate.objects.get(cycle=opened).voided_at == voided_at

    def test_a_cpr_card_uploaded_into_the_undone_cycle_moves_back(self, user):
        cycle, opened = renewed(user)
        card = CprUpload.objects.create(certification=cycle.certification, cycle=opened, state="pending",
                                        card_type="cpr_aed", issuing_organization="Red Cross",
                                        expires_on=clock.today() + timedelta(days=700), submitted_at=clock.now())
        certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
        card.refresh_from_db()
        assert card.cycle_id == cycle.pk
        assert CprUpload.objects.filter(cycle=opened).count() == 0

    def test_refused_when_the_cycle_it_opened_was_renewed_again(self, user):
        cycle, opened = renewed(user)
        third = certification_renew(cycle_id=opened.pk)
        with pytest.raises(RenewalError) as exc:
            certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
        assert exc.value.message == (f"The EP renewal cannot be undone: the cycle it opened "
                                     f"({format_range(opened.start, opened.end)}) has been renewed since.")
        assert [(c.pk, c.state) for c in Cycle.objects.filter(certification=cycle.certification).order_by("start")] == [
            (cycle.pk, "renewed"), (opened.pk, "renewed"), (third.pk, "open")]
        assert Certificate.objects.filter(voided_at__isnull=False).count() == 0

    def test_refused_for_a_cycle_never_renewed(self, user):
        cycle = renewable_certification(user, "CPT").cycles.get()
        with pytest.raises(RenewalError, match="was not renewed; there is nothing to undo"):
            certification_renewal_undo(cycle_id=cycle.pk, opened_id=cycle.pk, actor="staff:7", reason="Refunded.")

    def test_renewing_again_after_an_undo_opens_a_new_cycle_with_a_new_certificate(self, user):
        cycle, opened = renewed(user)
        certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
        again = certification_renew(cycle_id=cycle.pk)
        assert again.pk != opened.pk
        assert (again.start, again.end, again.state) == (opened.start, opened.end, "open")
        assert again.certificate.number != opened.certificate.number and again.certificate.voided_at is None
        assert certification_renew(cycle_id=cycle.pk).pk == again.pk  # a repeat finds the standing one
        assert certification_renewal(cycle_id=cycle.pk, opened_id=again.pk).state == "renewed"
        assert certification_renewal(cycle_id=cycle.pk, opened_id=opened.pk).state == "undone"

    def test_an_undone_renewal_undone_again_never_undoes_the_later_renewal_of_its_cycle(self, user):
        cycle, opened = renewed(user)
        certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
        again = certification_renew(cycle_id=cycle.pk)
        with pytest.raises(RenewalError) as exc:
            certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:8", reason="Refunded.")
        label = format_range(opened.start, opened.end)
        assert exc.value.message == (f"The EP renewal that opened cycle {label} was already undone; the cycle {label} "
                                     "there now was opened by a later renewal, which is not undone here.")
        assert [(c.pk, c.state) for c in Cycle.objects.filter(certification=cycle.certification).order_by("pk")] == [
            (cycle.pk, "renewed"), (opened.pk, "undone"), (again.pk, "open")]
        assert Certificate.objects.get(cycle=again).voided_at is None
        assert CycleLog.objects.filter(actor="staff:8").count() == 0

    def test_a_cycle_that_is_not_the_one_the_renewal_opened_is_refused(self, user):
        cycle, opened = renewed(user)
        other_cycle, other_opened = renewed(user, "CPT")
        with pytest.raises(RenewalError, match=f"Cycle {other_opened.pk} is not a cycle of this certification"):
            certification_renewal_undo(cycle_id=cycle.pk, opened_id=other_opened.pk, actor="staff:7", reason="x")
        assert [c.state for c in Cycle.objects.filter(pk__in=[cycle.pk, opened.pk]).order_by("pk")] == [
            "renewed", "open"]


@pytest.mark.django_db(transaction=True)
def test_an_undo_and_a_renewal_of_the_opened_cycle_at_once_do_not_both_happen(user):
    cycle, opened = renewed(user)

    def undo():
        try:
            return certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk,
                                              actor="staff:7", reason="Refunded.").state
        except RenewalError:
            return "refused"
        finally:
            connections.close_all()

    def renew():
        try:
            certification_renew(cycle_id=opened.pk)
            return "renewed"
        except RenewalError:  # the cycle was undone first
            return "refused"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(f.result() for f in [pool.submit(undo), pool.submit(renew)])
    states = sorted(Cycle.objects.filter(certification=cycle.certification).values_list("state", flat=True))
    assert states.count("open") == 1
    assert outcomes == ["refused", "renewed"] or outcomes == ["refused", "undone"]


@pytest.mark.django_db
class TestVoidCertificate:
    def test_its_download_says_it_is_void(self, user_client, user):
        cycle, opened = renewed(user)
        number = opened.certificate.number
        assert user_client.get(reverse("certificate_download", args=[number])).status_code == 200
        with time_machine.travel(clock.now(), tick=False):
            certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7",
                                       reason="Its renewal was refunded (order R00-3FA9C1, refund 4).")
            voided_at = clock.moment_text(clock.now(), user)
        response = user_client.get(reverse("certificate_download", args=[number]))
        assert response.status_code == 410
        assert response["Content-Type"].startswith("text/html")
        html = response.content.decode()
        assert f"Certificate {number} is void" in html
        assert (f"was voided on {voided_at} and is no longer valid. Why: Its renewal was refunded (order "
                "R00-3FA9C1, refund 4).") in html

    def test_the_dashboard_offers_no_void_certificate(self, user_client, user):
        cycle, opened = renewed(user)
        number = opened.certificate.number
        assert number in user_client.get(reverse("dashboard")).content.decode()
        certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
        html = user_client.get(reverse("dashboard")).content.decode()
        assert number not in html
        assert format_range(cycle.start, cycle.end) in html


@pytest.mark.django_db
def test_the_sweeper_renders_no_void_certificate(user):
    cycle, opened = renewed(user)
    _, kept = renewed(user, "CPT")
    certification_renewal_undo(cycle_id=cycle.pk, opened_id=opened.pk, actor="staff:7", reason="Refunded.")
    assert Certificate.objects.filter(rendered_at__isnull=True).count() == 2  # neither render job ran here
    with time_machine.travel(clock.now() + jobs.LOST_AFTER + timedelta(seconds=1)):
        assert certificates_unrendered_requeue(after=jobs.LOST_AFTER) == [kept.certificate.pk]
