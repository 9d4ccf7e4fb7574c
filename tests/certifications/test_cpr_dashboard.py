"""The tile's CPR line and RENEW: a submitted, unexpired card unlocks it when credits are full; a rejection locks it."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from acsm_portal import clock
from certifications import rules
from certifications.models import Cycle
from acsm_portal.dashboard.selectors import dashboard_for
from certifications.selectors import tile_cycles
from certifications.cpr.services import cpr_upload_add_file, cpr_upload_approve, cpr_upload_reject
from tests.factories import CECEntryFactory, certification_with_cycle

from .cpr_helpers import png_bytes, reviewer, submitted

BLOCKER = "Upload your current CPR/AED certificate."


def tile_of(user, code, today):
    board = dashboard_for(user=user, today=today)
    return next(t for t in board.tiles if t.code == code)


def full_credits(user, cecs="45"):
    """``cecs`` earned on Feb 1 last year: inside the default cycle (January 1 last year to December 31 next year)."""
    CECEntryFactory(user=user, date_earned=date(clock.today().year - 1, 2, 1), units=Decimal(cecs),
                    cecs=Decimal(cecs), format="live", course_name="Annual conference")


@pytest.fixture
def cpt(user):
    certification = certification_with_cycle(user, "CPT")
    full_credits(user)
    return certification


@pytest.mark.django_db
class TestRenewEligibility:
    def test_no_card_keeps_renew_locked(self, user, cpt, today):
        tile = tile_of(user, "CPT", today)
        assert tile.meter.full
        assert tile.cpr == rules.Cpr()
        assert tile.eligibility.can_renew is False
        assert tile.eligibility.blockers == (BLOCKER,)

    def test_a_draft_does_not_count(self, user, cpt, today):
        cpr_upload_add_file(certification=cpt, user=user, name="front.png", data=png_bytes())
        assert tile_of(user, "CPT", today).eligibility.can_renew is False

    def test_a_pending_card_unlocks_renew(self, user, cpt, today):
        expires = date(today.year + 1, 4, 30)
        card = submitted(cpt, today=today, expires_on=expires)
        tile = tile_of(user, "CPT", today)
        assert tile.cpr == rules.Cpr(state=rules.CprState.PENDING, expires_on=expires, reason="")
        assert tile.eligibility.can_renew is True
        assert tile.eligibility.blockers == ()
        assert card.state == "pending"

    def test_approval_keeps_it_unlocked_and_rejection_locks_it(self, user, cpt, today):
        card = submitted(cpt, today=today)
        staff = reviewer()
        cpr_upload_approve(upload=card, reviewer=staff)
        assert tile_of(user, "CPT", today).cpr.state is rules.CprState.APPROVED
        assert tile_of(user, "CPT", today).eligibility.can_renew is True

        second = submitted(cpt, today=today)
        cpr_upload_reject(upload=second, reviewer=staff, reason="The card is not signed.")
        tile = tile_of(user, "CPT", today)
        assert tile.cpr == rules.Cpr(state=rules.CprState.REJECTED, expires_on=second.expires_on,
                                     reason="The card is not signed.")
        assert tile.eligibility.can_renew is False
        assert tile.eligibility.blockers == (BLOCKER,)

    def test_a_card_expired_by_the_renewal_date_locks_renew(self, user, cpt, today):
        expires = today + timedelta(days=22)  # still inside the cycle, which ends December 31 next year
        submitted(cpt, today=today, expires_on=expires)
        assert tile_of(user, "CPT", today=expires).eligibility.can_renew is True
        later = tile_of(user, "CPT", today=expires + timedelta(days=1))
        assert later.eligibility.can_renew is False
        assert later.eligibility.blockers == (
            f"Your CPR/AED card expired on {expires.month}/{expires.day}/{expires.year}; upload a current one.",)

    def test_credits_short_keep_it_locked_even_with_an_approved_card(self, user, today):
        ep = certification_with_cycle(user, "EP")  # 60 required, 45 reported
        full_credits(user)
        submitted(ep, state="approved", today=today)
        tile = tile_of(user, "EP", today)
        assert tile.eligibility.can_renew is False
        assert tile.eligibility.blockers == ("15 more CECs are needed.",)

    def test_each_certification_has_its_own_card(self, user, cpt, today):
        certification_with_cycle(user, "GEI")
        submitted(cpt, today=today)
        assert tile_of(user, "CPT", today).eligibility.can_renew is True
        gei = tile_of(user, "GEI", today)
        assert gei.cpr == rules.Cpr()
        assert gei.eligibility.can_renew is False

    def test_a_card_from_a_renewed_cycle_does_not_carry_over(self, user, cpt, today):
        submitted(cpt, state="approved", today=today)
        old = cpt.cycles.get()
        old.state = Cycle.State.RENEWED
        old.save()
        Cycle.objects.create(certification=cpt, start=old.end + timedelta(days=1), end=date(old.end.year + 3, 12, 31))
        assert tile_of(user, "CPT", today).cpr == rules.Cpr()

    def test_another_persons_cards_are_not_mine(self, user, other_user, cpt, today):
        theirs = certification_with_cycle(other_user, "CPT")
        submitted(theirs, today=today)
        assert tile_of(user, "CPT", today).cpr == rules.Cpr()
        assert tile_of(user, "CPT", today).eligibility.can_renew is False


@pytest.mark.django_db
def test_the_cards_of_all_tiles_take_one_query(user, today, django_assert_num_queries):
    certifications = [certification_with_cycle(user, code) for code in ("GEI", "CPT", "EP", "CEP")]
    for certification in certifications:
        submitted(certification, today=today, files=2)
        submitted(certification, state="rejected", today=today)
    with django_assert_num_queries(1):
        found = {cycle.certification_id: cycle.cpr_state for cycle in tile_cycles(user=user)}
    assert found == {c.pk: "rejected" for c in certifications}


def tile_text(html: str, name: str) -> str:
    match = re.search(rf'<h2[^>]*>{re.escape(name)}</h2>(.*?)</section>', html, re.S)
    assert match, name
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.mark.django_db
class TestTile:
    def test_the_cpr_line_in_each_state_and_the_upload_button(self, user_client, user, cpt, today):
        url = reverse("dashboard")
        html = user_client.get(url).content.decode()
        assert "CPR Certificate Not Uploaded" in tile_text(html, "Certified Personal Trainer")
        button = (f'<a class="btn btn-outline-primary btn-sm tile-cpr-upload" href="/certifications/{cpt.pk}/'
                  'maintenance/">Upload CPR Certificate<span class="visually-hidden"> for Certified Personal '
                  'Trainer</span></a>')
        assert button in html

        expires = today + timedelta(days=200)
        card = submitted(cpt, expires_on=expires)
        shown = f"{expires.month}/{expires.day}/{expires.year}"
        assert (f"CPR Certificate Submitted – pending review Card valid through {shown}"
                in tile_text(user_client.get(url).content.decode(), "Certified Personal Trainer"))

        staff = reviewer()
        cpr_upload_approve(upload=card, reviewer=staff)
        assert (f"CPR Certificate Approved Card valid through {shown}"
                in tile_text(user_client.get(url).content.decode(), "Certified Personal Trainer"))

        cpr_upload_reject(upload=submitted(cpt, expires_on=expires), reviewer=staff,
                          reason="Online-only course <no skills check>")
        html = user_client.get(url).content.decode()
        assert "CPR Certificate Rejected: Online-only course &lt;no skills check&gt;" in html
        assert "Upload CPR Certificate" in tile_text(html, "Certified Personal Trainer")

    def test_the_button_is_in_every_tile(self, user_client, user, cpt):
        ep = certification_with_cycle(user, "EP")
        html = user_client.get(reverse("dashboard")).content.decode()
        assert html.count("tile-cpr-upload") == 2
        assert f'href="/certifications/{ep.pk}/maintenance/"' in html
