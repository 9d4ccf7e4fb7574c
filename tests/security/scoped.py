"""The objects behind every URL that names one, and the requests to send them.

``SCOPED`` maps a URL name to a builder that makes the object for its owner, how the
URL names it, and the probes to send (``test_object_scoping``); ``pages`` opens the same
objects to render every page.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from acsm_portal import clock
from audits.services import audit_proof_add
from cart.services import cart_add_renewal
from certifications.models import Certificate
from certifications.renewals import certification_renew
from certifications.cpr.services import cpr_upload_add_file
from payments.models import Order, Payment
from providers.models import Course, Provider, ProviderMember
from providers.services import CompletionIn, completions_post
from tests.audits.helpers import audited
from tests.certifications.cpr_helpers import png_bytes, upload
from tests.dates import cycle_around
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle, renewable_certification
from tests.payments.helpers import placed_order


def current_cycle() -> tuple[date, date]:
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
    certification_with_cycle(owner, "CPT", *current_cycle())
    return CECEntryFactory(user=owner, date_earned=clock.today_for(owner) - timedelta(days=3), source="self")


def cec_form(_target) -> dict:
    return {"date_earned": (clock.today() - timedelta(days=2)).isoformat(), "units": "3", "credit_type": "cec",
            "course_name": "Changed by someone else", "provider": "ACSM", "format": "live"}


def cpr_draft(owner):
    """A certification with one card file uploaded into its draft."""
    certification = certification_with_cycle(owner, "CPT", *current_cycle())
    cpr_upload_add_file(certification=certification, user=owner, name="front.png", data=png_bytes(seed=7))
    return certification


def cpr_draft_file(owner):
    return cpr_draft(owner).cpr_uploads.get().files.get()


def card_details(_target) -> dict:
    return {"action": "submit", "card_type": "cpr_aed", "issuing_organization": "American Red Cross",
            "expires_on": (clock.today() + timedelta(days=300)).isoformat(), "skills_check_confirmed": "on"}


def certificate(owner):
    certification = certification_with_cycle(owner, "EP", *current_cycle())
    return Certificate.objects.get(cycle=certification_renew(cycle_id=certification.cycles.get().pk))


def renewable(owner):
    return renewable_certification(owner, "CPT", *current_cycle())


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


def audit_credit(owner):
    """A credit still needing proof in the owner's renewal under audit."""
    return audited(owner).credits.filter(state="needed").first()


def audit_proof(owner):
    credit = audit_credit(owner)
    return audit_proof_add(audit_id=credit.audit_id, credit_id=credit.pk, user=owner, name="proof.png",
                           data=png_bytes(seed=11))


def audit_documented(owner):
    """The owner's audit with proof for every credit that needs it: ready to submit."""
    audit = audited(owner)
    for credit in audit.credits.filter(state="needed"):
        audit_proof_add(audit_id=audit.pk, credit_id=credit.pk, user=owner, name=f"{credit.pk}.png",
                        data=png_bytes(seed=credit.pk))
    return audit


def provider_completion(owner):
    """A completion posted by the provider the owner works for (the owner is its provider user)."""
    provider = Provider.objects.create(name="Scoped Fitness Education", number=f"P-S{owner.pk}")
    ProviderMember.objects.create(user=owner, provider=provider)
    start, end = current_cycle()
    course = Course.objects.create(provider=provider, number="SFE-1", title="Scoped course", format="online",
                                   cecs=2, valid_from=start, valid_to=end)
    person = UserFactory()
    [result] = completions_post(provider_id=provider.pk, via="api", posted_by="scoped", items=[CompletionIn(
        member_id=person.member_id, last_name=person.last_name, course_number=course.number,
        completed_on=clock.today() - timedelta(days=2), external_id="SCOPED-1")])
    return result.completion


def certification_id(certification) -> dict:
    return {"certification_id": certification.pk}


def audit_credit_ids(credit) -> dict:
    return {"audit_id": credit.audit_id, "credit_id": credit.pk}


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
    "badge_download": Scoped(certificate, lambda c: {"number": c.number}, [Probe("get", 200)]),
    "cart_renew": Scoped(renewable, certification_id, [Probe("post", 302)]),
    "cart_remove": Scoped(renewal_in_cart, certification_id, [Probe("post", 302)]),
    # An empty payment method: the owner is told so (400) without a call to Stripe.
    "payment_charge": Scoped(open_payment, lambda p: {"payment_id": p.pk},
                             [Probe("post", 400, lambda _: {"payment_method": ""})]),
    "payment_refresh": Scoped(open_payment, lambda p: {"payment_id": p.pk}, [Probe("post", 200)]),
    "receipt": Scoped(paid_order, lambda o: {"number": o.number}, [Probe("get", 200)]),
    "receipt_pdf": Scoped(paid_order, lambda o: {"number": o.number}, [Probe("get", 200)]),
    "audit": Scoped(audited, lambda a: {"audit_id": a.pk}, [Probe("get", 200)]),
    "audit_proof_upload": Scoped(audit_credit, audit_credit_ids, [
        Probe("post", 302, lambda _: {"file": upload("certificate.png", png_bytes(seed=12), "image/png")}),
    ]),
    "audit_proof_remove": Scoped(audit_proof, lambda p: {"audit_id": p.credit.audit_id, "proof_id": p.pk},
                                 [Probe("post", 302)]),
    "audit_proof_download": Scoped(audit_proof, lambda p: {"key": p.key}, [Probe("get", 200)]),
    "audit_submit": Scoped(audit_documented, lambda a: {"audit_id": a.pk}, [Probe("post", 302)]),
    # Outside a second window the owner is told replacements cannot be added or taken out yet (400).
    "audit_replacement_add": Scoped(audit_credit, lambda c: {"audit_id": c.audit_id},
                                    [Probe("post", 400, lambda c: {"cec_entry": c.cec_entry_id})]),
    "audit_replacement_remove": Scoped(audit_credit, audit_credit_ids, [Probe("post", 400)]),
    "provider_completion_retract": Scoped(provider_completion, lambda c: {"pk": c.pk}, [
        Probe("get", 200), Probe("post", 302, lambda _: {"reason": "Posted for the wrong member."}),
    ]),
}
