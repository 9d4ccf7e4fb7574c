"""A revoked or suspended certificate is not handed out again as a clean signed document: a signed copy would pass
any check that looks only at the signature."""

from datetime import date

import pytest
from django.urls import reverse

from acsm_portal import clock
from certifications.certificate_status import certificate_transition
from certifications.models import Certificate
from tests.verification.certificates import certificate as make_certificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(user):
    return make_certificate(user, valid_through=date(clock.today().year + 2, 12, 31))


def test_a_revoked_certificate_downloads_as_a_page_saying_so(user_client, held):
    certificate_transition(certificate_id=held.pk, to=Certificate.Status.REVOKED, actor="staff:1",
                           reason="Certificate issued in error", email_holder=False)
    response = user_client.get(reverse("certificate_download", args=[held.number]))
    assert response.status_code == 410
    page = response.content.decode()
    assert f"Certificate {held.number} is revoked" in page
    assert "Why: Certificate issued in error" in page
    assert user_client.get(reverse("badge_download", args=[held.number])).status_code == 404


def test_a_certificate_suspended_by_staff_downloads_marked_and_gives_no_badge(user_client, held, monkeypatch):
    marked = []
    monkeypatch.setattr("certifications.views.certificate_pdf",
                        lambda *, certificate, suspended_on=None: marked.append(suspended_on) or b"%PDF-1.7 marked")
    certificate_transition(certificate_id=held.pk, to=Certificate.Status.SUSPENDED, actor="staff:1",
                           reason="Under review", email_holder=False)
    response = user_client.get(reverse("certificate_download", args=[held.number]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="certificate-{held.number}-suspended.pdf"'
    assert marked == [clock.today_for(held.certification.user)]
    assert user_client.get(reverse("badge_download", args=[held.number])).status_code == 404
