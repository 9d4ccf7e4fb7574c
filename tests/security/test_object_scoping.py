"""Another person's objects answer 404 and stay as they were.

Every URL that names an object (by id, number or key) is here: ``SCOPED`` maps its URL
name to a builder that makes the object for its owner, and the probes to send. A new
URL with a parameter fails ``test_every_object_url_is_probed`` until it gets a builder.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse

from acsm_portal import clock
from cart.services import cart_add_renewal
from certifications.models import Certificate
from certifications.renewals import certification_renew
from certifications.cpr.services import cpr_upload_add_file
from payments.models import Order, Payment
from tests.certifications.cpr_helpers import png_bytes, upload
from tests.dates import cycle_around
from tests.factories import CECEntryFactory, certification_with_cycle, renewable_certification
from tests.payments.helpers import placed_order
from tests.security.urlconf import PUBLIC, endpoints


def _cycle() -> tuple[date, date]:
    return cycle_around(clock.today())


@dataclass(frozen=True)
class Probe:
    method: str
    owner_status: int  # what the owner gets for the same request: proof that the URL reaches the object
    data: Callable[[object], dict] = lambda target: {}

    def send(self, client, url, target):
        return getattr(client, self.method)(url, self.data(target))

    @property
    def label(self) -> str:
        return self.method


@dataclass(frozen=True)
class Scoped:
    build: Callable  # owner -> the object
    kwargs: Callable  # object -> URL kwargs
    probes: list[Probe] = field(default_factory=list)


# Builders ---------------------------------------------------------------------

def cec_entry(owner):
    certification_with_cycle(owner, "CPT", *_cycle())
    return CECEntryFactory(user=owner, date_earned=clock.today_for(owner) - timedelta(days=3), source="self")


def cec_form(_target) -> dict:
    return {"date_earned": (clock.today() - timedelta(days=2)).isoformat(), "units": "3", "credit_type": "cec",
            "course_name": "Changed by someone else", "provider": "ACSM", "format": "live"}


def cpr_draft(owner):
    """A certification with one card file uploaded into its draft."""
    certification = certification_with_cycle(owner, "CPT", *_cycle())
    cpr_upload_add_file(certification=certification, user=owner, name="front.png", data=png_bytes(seed=7))
    return certification


def cpr_draft_file(owner):
    return cpr_draft(owner).cpr_uploads.get().files.get()


def card_details(_target) -> dict:
    return {"action": "submit", "card_type": "cpr_aed", "issuing_organization": "American Red Cross",
            "expires_on": (clock.today() + timedelta(days=300)).isoformat(), "skills_check_confirmed": "on"}


def certificate(owner):
    certification = certification_with_cycle(owner, "EP", *_cycle())
    return Certificate.objects.get(cycle=certification_renew(cycle_id=certification.cycles.get().pk))


def renewable(owner):
    return renewable_certification(owner, "CPT", *_cycle())


def renewal_in_cart(owner):
    certification = renewable(owner)
    cart_add_renewal(user=owner, certification_id=certification.pk, today=clock.today_for(owner))
    return certification


def open_payment(owner):
    order = placed_order(owner, "CPT", total="60.00")
    return Payment.objects.create(order=order, amount=order.total)


def paid_order(owner):
    payment = open_payment(owner)
    Payment.objects.filter(pk=payment.pk).update(state=Payment.State.SUCCEEDED, card_brand="visa", card_last4="4242")
    Order.objects.filter(pk=payment.order_id).update(state=Order.State.PAID, paid_at=clock.now())
    return payment.order


def certification_id(certification) -> dict:
    return {"certification_id": certification.pk}


SCOPED: dict[str, Scoped] = {
    "cec_edit": Scoped(cec_entry, lambda e: {"pk": e.pk}, [Probe("get", 200), Probe("post", 302, cec_form)]),
    "cec_delete": Scoped(cec_entry, lambda e: {"pk": e.pk}, [Probe("get", 200), Probe("post", 302)]),
    "cpr_maintenance": Scoped(cpr_draft, certification_id, [
        Probe("get", 200),
        Probe("post", 200, lambda _: {"files": upload("back.png", png_bytes(seed=8), "image/png")}),
        Probe("post", 302, card_details),  # Submit
    ]),
    "cpr_file_upload": Scoped(cpr_draft, certification_id, [
        Probe("post", 201, lambda _: {"file": upload("back.png", png_bytes(seed=9), "image/png")}),
    ]),
    "cpr_draft_discard": Scoped(cpr_draft, certification_id, [Probe("post", 302)]),
    "cpr_file_download": Scoped(cpr_draft_file, lambda f: {"key": f.key}, [Probe("get", 200)]),
    "certificate_download": Scoped(certificate, lambda c: {"number": c.number}, [Probe("get", 200)]),
    "cart_renew": Scoped(renewable, certification_id, [Probe("post", 302)]),
    "cart_remove": Scoped(renewal_in_cart, certification_id, [Probe("post", 302)]),
    # An empty payment method: the owner is told so (400) without a call to Stripe.
    "payment_charge": Scoped(open_payment, lambda p: {"payment_id": p.pk},
                             [Probe("post", 400, lambda _: {"payment_method": ""})]),
    "payment_refresh": Scoped(open_payment, lambda p: {"payment_id": p.pk}, [Probe("post", 200)]),
    "receipt": Scoped(paid_order, lambda o: {"number": o.number}, [Probe("get", 200)]),
    "receipt_pdf": Scoped(paid_order, lambda o: {"number": o.number}, [Probe("get", 200)]),
}


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
