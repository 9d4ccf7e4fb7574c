"""With the cache's Redis down, the portal is slower but loses nothing: logging in, the dashboard, reporting a CEC,
submitting a CPR card and a webhook confirming a payment all work (the broker is another matter)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from acsm_portal import clock
from cecs.models import CECEntry
from certifications.models import CprUpload
from payments.models import Order
from tests.certifications.cpr_helpers import png_bytes, upload
from tests.factories import certification_with_cycle
from tests.payments.helpers import intent_event, post, requires_action_payment

PASSWORD = "correct-horse-battery"


@pytest.fixture
def cache_down(settings):
    """The cache pointed at a port where nothing listens, as when Redis has stopped."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/14"}}
    assert cache.get("anything") is None  # answers (a miss), does not raise
    cache.set("anything", 1)  # skipped, does not raise
    yield


@pytest.mark.django_db
def test_log_in_dashboard_report_a_cec_and_submit_a_card(cache_down, client, user):
    certification = certification_with_cycle(user, "CPT")
    response = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200

    earned = clock.today() - timedelta(days=2)
    response = client.post(reverse("cec_report"), {
        "date_earned": earned.isoformat(), "units": "2.5", "credit_type": "cec", "course_name": "Balance training",
        "provider": "", "format": "live"})
    assert response.status_code == 302
    entry = CECEntry.objects.get(user=user)
    assert (entry.date_earned, entry.cecs, entry.course_name) == (earned, Decimal("2.50"), "Balance training")

    response = client.post(reverse("cpr_maintenance", args=[certification.pk]), {
        "action": "submit", "files": [upload("front.png", png_bytes())], "card_type": "cpr_aed",
        "issuing_organization": "American Red Cross", "skills_check_confirmed": "on",
        "expires_on": (clock.today() + timedelta(days=300)).isoformat()})
    assert response.status_code == 302
    card = CprUpload.objects.get(certification=certification)
    assert (card.state, card.files.count()) == (CprUpload.State.PENDING, 1)
    html = client.get(reverse("dashboard")).content.decode()
    assert "CPR Certificate Submitted – pending review" in html
    assert "2.5 of 45" in html


@pytest.mark.django_db
@pytest.mark.usefixtures("localstripe")
def test_a_webhook_confirms_a_payment(cache_down, client, user):
    order, payment, intent = requires_action_payment(user)
    response = post(client, intent_event(intent))
    assert (response.status_code, response.content.decode()) == (200, f"payment {payment.pk}: succeeded")
    order.refresh_from_db()
    assert order.state == Order.State.PAID


@pytest.mark.django_db
def test_a_log_out_while_the_cache_is_down_stays_a_log_out(cache_down, client, user, settings):
    assert client.post(reverse("login"), {"username": user.email, "password": PASSWORD}).status_code == 302
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie  # the old cookie, replayed
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
