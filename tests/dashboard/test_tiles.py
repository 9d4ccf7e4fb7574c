"""What a tile says in each state the other dashboard tests do not reach: renewed early, in the cart but no longer
renewable, late, with a certificate, with an expired card, and with text that must be escaped."""

from datetime import timedelta

import pytest
from django.urls import reverse

from acsm_portal import clock
from cart.services import cart_add_renewal
from cecs.models import CECEntry
from certifications.models import Certificate, CprUpload
from tests.factories import certification_with_cycle, renewable_certification
from tests.pages import text, tile

pytestmark = pytest.mark.django_db
CPT = "Certified Personal Trainer"


def shown(client) -> str:
    return tile(client.get(reverse("dashboard")).content.decode(), CPT)


def test_a_cycle_renewed_early_thanks_and_asks_nothing(user_client, user, today):
    start = today + timedelta(days=10)
    certification_with_cycle(user, "CPT", start, start + timedelta(days=3 * 365))
    t = text(shown(user_client))
    assert "Recertified" in t
    assert (f"Thank you for renewing. Your next cycle starts {start.month}/{start.day}/{start.year}; CECs earned "
            "from then on count toward it.") in t
    assert "The Renew button will appear" not in t
    assert "RENEW" not in t


def test_a_renewal_in_the_cart_that_can_no_longer_be_renewed_says_why(user_client, user, open_cycle, today):
    cpt = renewable_certification(user, "CPT", *open_cycle)
    cart_add_renewal(user=user, certification_id=cpt.pk, today=today)
    CECEntry.objects.filter(user=user).delete()
    html = shown(user_client)
    assert '<span class="badge text-bg-warning tile-in-cart">In cart, cannot be renewed</span>' in html
    assert ('<p class="small tile-cart-stale mt-2 mb-0">45 more CECs are needed. It will be taken out of your '
            'cart.</p>') in html
    assert f'action="{reverse("cart_remove", args=[cpt.pk])}"' in html
    assert '<span class="small">A $' not in html


def test_in_the_grace_period_renew_and_the_cart_name_the_late_fee(user_client, user, today):
    end = today - timedelta(days=1)
    cpt = renewable_certification(user, "CPT", end - timedelta(days=3 * 365), end)
    html = shown(user_client)
    assert f'action="{reverse("cart_renew", args=[cpt.pk])}"' in html
    assert '<span class="small ms-2">A $80.00 late fee applies.</span>' in html
    cart_add_renewal(user=user, certification_id=cpt.pk, today=today)
    html = shown(user_client)
    assert '<span class="badge text-bg-success tile-in-cart">In cart</span>' in html
    assert '<span class="small">A $80.00 late fee applies.</span>' in html


def test_the_newest_certificate_not_voided_can_be_downloaded(user_client, user, open_cycle):
    cpt = certification_with_cycle(user, "CPT", *open_cycle)
    cycle = cpt.cycles.get()
    valid = open_cycle[1]
    Certificate.objects.create(certification=cpt, cycle=cycle, number="CPT-0042", holder_name="Jordan Lee",
                               certification_name=CPT, issued_on=open_cycle[0], valid_through=valid)
    html = shown(user_client)
    assert f'href="{reverse("certificate_download", args=["CPT-0042"])}"' in html
    assert f"No. CPT-0042 · valid through {valid.month}/{valid.day}/{valid.year}" in text(html)
    Certificate.objects.filter(number="CPT-0042").update(voided_at=clock.now(), void_reason="Issued in error")
    assert "Download your certificate" not in shown(user_client)


def test_an_expired_card_says_so(user_client, user, open_cycle, today):
    expired = today - timedelta(days=3)
    renewable_certification(user, "CPT", *open_cycle, cpr_expires=expired)
    t = text(shown(user_client))
    assert f"CPR Certificate Approved Card expired {expired.month}/{expired.day}/{expired.year}" in t
    assert "The Renew button will appear" in t


def test_texts_from_staff_are_escaped(user_client, user, open_cycle):
    cpt = renewable_certification(user, "CPT", *open_cycle, cpr_state="rejected")
    CprUpload.objects.filter(certification=cpt).update(rejection_reason='<b>Blurry</b> & "cut off"')
    html = shown(user_client)
    assert "CPR Certificate Rejected: &lt;b&gt;Blurry&lt;/b&gt; &amp; &quot;cut off&quot;" in html
    assert "<b>Blurry</b>" not in html
