"""Paid renewals to audit, made through the real services (cart, order, payment confirmed as Stripe's answer
would confirm it), and staff who may review audits."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Permission

from acsm_portal import clock
from audits.models import Audit
from audits.services import audit_select_by_staff
from cart.services import cart_add_renewal
from certifications.models import CprUpload
from payments import rules as payment_rules
from payments.models import OrderLine, Payment
from payments.services import order_place, payment_confirm, payment_transition
from tests.dates import cycle_around
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle
from tests.payments.helpers import BILLING

# (course name, CECs, format, source): 45 CECs, enough for CPT or GEI; one provider-reported.
CREDITS = [
    ("Strength training for older adults", "15", "live", "self"),
    ("Exercise and diabetes", "10", "online", "self"),
    ("Annual conference", "12", "conference", "provider"),
    ("Nutrition basics", "8", "home_study", "self"),
]


def reviewer(**extra):
    """Active staff holding ``audits.review_audit``."""
    staff = UserFactory(is_staff=True, **extra)
    staff.user_permissions.add(Permission.objects.get(codename="review_audit", content_type__app_label="audits"))
    return type(staff).objects.get(pk=staff.pk)  # a fresh instance: no stale permission cache


def paid_renewal(user, code: str = "CPT", credits=CREDITS, cycle=None) -> OrderLine:
    """A renewal of ``code`` for ``user`` (cycle around their today unless ``cycle``), its credits ``credits``
    (earned a day apart from the cycle start), paid: the order paid and the cycle renewed. Returns its line."""
    today = clock.today_for(user)
    start, end = cycle or cycle_around(today)
    certification = certification_with_cycle(user, code, start, end)
    open_cycle = certification.cycles.get()
    for n, (name, cecs, fmt, source) in enumerate(credits):
        CECEntryFactory(user=user, date_earned=start + timedelta(days=n), units=Decimal(cecs), cecs=Decimal(cecs),
                        course_name=name, format=fmt, source=source, provider="ACSM" if source == "provider" else "")
    CprUpload.objects.create(
        certification=certification, cycle=open_cycle, state="approved", card_type="cpr_aed",
        issuing_organization="American Red Cross", skills_check_confirmed=True,
        expires_on=today + timedelta(days=365), submitted_at=clock.now(),
    )
    cart_add_renewal(user=user, certification_id=certification.pk, today=today)
    order = order_place(user=user, billing=BILLING, expected_total=certification.certification_type.renewal_fee,
                        today=today)
    payment = Payment.objects.create(order=order, amount=order.total, card_brand="visa", card_last4="4242")
    payment_transition(payment_id=payment.pk, to=payment_rules.PROCESSING, actor="test")
    payment_confirm(payment_id=payment.pk, amount_cents=payment_rules.to_cents(order.total), actor="test")
    return OrderLine.objects.select_related("order", "cycle", "renewed_cycle").get(order=order, kind="renewal")


def audited(user, code: str = "CPT", credits=CREDITS, cycle=None, by=None) -> Audit:
    """A paid renewal selected for audit by staff (``by``, or a new reviewer)."""
    line = paid_renewal(user, code, credits, cycle)
    audit, _ = audit_select_by_staff(order_line_id=line.pk, by=by or reviewer())
    return audit
