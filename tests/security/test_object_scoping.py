"""Another person's objects answer 404 and stay as they were.

Every URL that names an object (by id, number or key) is in ``scoped.SCOPED``: its URL
name maps to a builder that makes the object for its owner, and the probes to send. A new
URL with a parameter fails ``test_every_object_url_is_probed`` until it gets a builder.
"""

import os
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse

from tests.factories import CECEntryFactory
from tests.security.scoped import SCOPED, cpr_draft
from tests.security.urlconf import PUBLIC, endpoints


def snapshot() -> dict:
    """Every row of every table (but sessions) and every stored file."""
    rows = {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.label != "sessions.Session"
    }
    root = settings.STORAGES["default"]["OPTIONS"]["location"]
    files = sorted(
        (os.path.relpath(os.path.join(folder, name), root), os.stat(os.path.join(folder, name)).st_size)
        for folder, _, names in os.walk(root) for name in names
    )
    return {"rows": rows, "files": files}


def test_every_object_url_is_probed():
    """Admin URLs are staff-only (test_login_required); public ones carry no personal object."""
    with_parameters = {e.name for e in endpoints() if e.parameters and not e.is_admin and e.name not in PUBLIC}
    assert with_parameters == set(SCOPED)


CASES = [
    pytest.param(name, index, id=f"{name}-{index}-{probe.label}")
    for name, scoped in SCOPED.items() for index, probe in enumerate(scoped.probes)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index"), CASES)
def test_another_persons_object_is_404_and_untouched(client, user, other_user, name, index):
    scoped = SCOPED[name]
    target = scoped.build(user)
    url = reverse(name, kwargs=scoped.kwargs(target))
    probe = scoped.probes[index]

    client.force_login(other_user)
    before = snapshot()
    response = probe.send(client, url, target)
    assert response.status_code == 404
    assert snapshot() == before

    client.force_login(user)
    assert probe.send(client, url, target).status_code == probe.owner_status


@pytest.mark.django_db
def test_the_snapshot_sees_a_change(user):
    """The comparison above would notice a write: a row, a field, a file."""
    before = snapshot()
    CECEntryFactory(user=user, cecs=Decimal("1"))
    assert snapshot() != before
    before = snapshot()
    cpr_draft(user)
    after = snapshot()
    assert len(after["files"]) == len(before["files"]) + 1
