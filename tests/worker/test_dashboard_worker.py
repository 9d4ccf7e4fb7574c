"""A change the worker makes drops the dashboard the web process stored: one cache, shared through Redis."""

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certifications.dashboard_cache import PERSON_KEY
from certifications.models import Certificate, Cycle
from certifications.tasks import certificate_render_task
from tests.factories import certification_with_cycle


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_rendering_a_certificate_drops_the_stored_dashboard(celery_worker, user_client, user, today,
                                                                      open_cycle):
    certification = certification_with_cycle(user, "CPT", *open_cycle)
    cycle = certification.cycles.get(state=Cycle.State.OPEN)
    number = f"CPT-{cycle.start.year}-424242"
    # Issued without queueing its render, so that the page below is stored before the worker runs.
    certificate = Certificate.objects.create(
        certification=certification, cycle=cycle, number=number, holder_name=user.get_full_name(),
        certification_name="Certified Personal Trainer", issued_on=today, valid_through=cycle.end,
    )
    user_client.get(reverse("dashboard"))
    stored_under = cache.get(PERSON_KEY.format(user.pk))
    with CaptureQueriesContext(connection) as ctx:
        html = user_client.get(reverse("dashboard")).content.decode()
    assert f"No. {number} · valid through 12/31/{cycle.end.year}" in html
    assert ctx.captured_queries == []  # the stored page

    certificate_render_task.delay(certificate.pk)
    deadline = time.monotonic() + 30
    while Certificate.objects.get(pk=certificate.pk).rendered_at is None:
        assert time.monotonic() < deadline, "the worker did not render the certificate"
        time.sleep(0.1)

    assert cache.get(PERSON_KEY.format(user.pk)) != stored_under  # dropped by the worker's save
    with CaptureQueriesContext(connection) as ctx:
        html = user_client.get(reverse("dashboard")).content.decode()
    assert f"No. {number} · valid through 12/31/{cycle.end.year}" in html
    assert len(ctx.captured_queries) == 2  # rendered again: the open cycles and the credits
