"""Demo data: the certificant from the how-to, a second one on the West Coast, a third whose last renewal is under
audit, a staff reviewer, and the provider "ACSM Online Learning" with its courses, its user and one completion it
reported for the first certificant.

Everything is placed relative to the clock (``acsm_portal.clock``), so the demo shows the same
picture on any day, and on the day ``PORTAL_TODAY`` names.
"""

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageDraw

from accounts.models import BillingAddress, User
from acsm_portal import clock
from audits.models import Audit, AuditEmail
from audits.services import audit_proof_add, audit_select_by_staff
from cart.services import cart_add_renewal
from cecs.models import CECEntry, YearlyCap
from cecs.reference import yearly_caps_ensure
from cecs.rules import to_cecs
from certifications.cpr.services import CardDetails, cpr_upload_add_file, cpr_upload_approve, cpr_upload_submit
from certifications.models import Certificate, Certification, CertificationType, CprUploadFile, Cycle
from certifications.reference import certification_types_ensure
from payments import rules as payment_rules
from payments.models import Order, OrderLine, Payment
from payments.services import BillingInput, order_place, payment_confirm, payment_transition
from providers.models import Completion, Course, Provider, ProviderMember
from providers.services import CompletionIn, completions_post

DEMO_CERTIFICANT = {"email": "casey@example.com", "password": "recert-demo-2025"}
DEMO_WEST = {"email": "riley@example.com", "password": "recert-demo-2025"}
DEMO_AUDITED = {"email": "jordan@example.com", "password": "audit-demo-2025"}
DEMO_STAFF = {"email": "staff@example.com", "password": "staff-demo-2025"}
DEMO_PROVIDER_USER = {"email": "provider@example.com", "password": "provider-demo-2025"}
# Jordan's renewal was selected for audit this many days ago, so it is due in AUDIT_DAYS_LEFT days (of the default 30).
AUDIT_DAYS_AGO, AUDIT_DAYS_LEFT = 10, 20


@dataclass(frozen=True)
class DemoCredit:
    share: Decimal  # where in the cycle's elapsed days it was earned: 0 = the cycle's first day, 1 = yesterday
    units: str
    credit_type: str
    course_name: str
    provider: str
    format: str
    source: str = CECEntry.Source.SELF


# The how-to's picture: CPT and EP in the cycle that contains today, 65 CECs reported of which 63 count
# (a Volunteering entry crosses its yearly cap of 8), so CPT shows 45 of 45 and EP 60 of 60. Two of the 65 are
# the provider's (CASEY_COMPLETION, posted by ACSM Online Learning), the rest Casey's own.
CASEY_CREDITS = [
    DemoCredit(Decimal("0.04"), "8", "cec", "Resistance Training for Older Adults", "ACSM", "live"),
    DemoCredit(Decimal("0.16"), "1.5", "ceu", "Exercise Is Medicine: Chronic Disease Management", "ACSM Online",
               "online"),
    DemoCredit(Decimal("0.30"), "12", "cec", "ACSM Health & Fitness Summit", "ACSM", "conference"),
    DemoCredit(Decimal("0.45"), "10", "cec", "Community 5K health screening", "City Parks Dept.", "volunteering"),
    DemoCredit(Decimal("0.58"), "4", "cec", "Adult CPR/AED renewal course", "American Red Cross", "cpr_aed"),
    DemoCredit(Decimal("0.72"), "4", "cec", "Guest lecture: Kinesiology 101", "State University", "teaching"),
    DemoCredit(Decimal("0.88"), "1", "college", "KIN 410 Exercise Physiology Lab", "State University", "college"),
]
# Riley's CPT credits: 45 in all, earned inside Riley's cycle.
RILEY_CREDITS = [
    DemoCredit(Decimal("0.10"), "20", "cec", "Functional Training Certificate Course", "ACSM", "live"),
    DemoCredit(Decimal("0.40"), "1.5", "ceu", "Nutrition for Active Adults", "ACSM Online", "online"),
    DemoCredit(Decimal("0.75"), "10", "cec", "Strength and Conditioning Conference", "NSCA", "conference"),
]
# Jordan's CPT credits, 48 CECs in five courses, all counting: one reported by its provider (no proof needed), one
# documented by the seed, three still waiting for proof.
JORDAN_CREDITS = [
    DemoCredit(Decimal("0.08"), "12", "cec", "Functional Movement Screening Workshop", "ACSM", "live",
               CECEntry.Source.PROVIDER),
    DemoCredit(Decimal("0.25"), "10", "cec", "Program Design for Older Adults", "ACSM Online", "online"),
    DemoCredit(Decimal("0.45"), "8", "cec", "Sports Nutrition Essentials", "Fitness Learning Co.", "home_study"),
    DemoCredit(Decimal("0.65"), "10", "cec", "Regional Strength and Conditioning Clinic", "NSCA", "conference"),
    DemoCredit(Decimal("0.85"), "8", "cec", "Injury Prevention Seminar", "Sports Medicine Institute", "live"),
]
JORDAN_DOCUMENTED = "Program Design for Older Adults"


@dataclass(frozen=True)
class DemoCourse:
    number: str
    title: str
    cecs: str


DEMO_PROVIDER = {"number": "P-0001", "name": "ACSM Online Learning", "contact_name": "Continuing Education Office",
                 "contact_email": "online-learning@example.com", "contact_phone": "317-555-0142"}
# Approved online courses, valid from 1/1 two years back through 12/31 next year (demo_course_window).
DEMO_COURSES = [
    DemoCourse("AOL-101", "Behavior Change Coaching for Exercise Professionals", "2.0"),
    DemoCourse("AOL-102", "Exercise Programming for Clients with Hypertension", "3.5"),
    DemoCourse("AOL-103", "Balance and Fall Prevention for Older Adults", "5.0"),
]


@dataclass(frozen=True)
class DemoCompletion:
    share: Decimal  # where in the cycle's elapsed days it was completed, as DemoCredit.share
    course_number: str
    external_id: str


# The credit ACSM Online Learning reports on Casey's ledger: an online course (no yearly cap), her most recent.
CASEY_COMPLETION = DemoCompletion(Decimal("0.93"), "AOL-101", "AOL-DEMO-0001")


def demo_casey_cycle(today: date) -> tuple[date, date]:
    """The seed's cycle for ``today``: 1/1 two years back to 12/31 of this year, so it contains today."""
    return date(today.year - 2, 1, 1), date(today.year, 12, 31)


def demo_riley_cycle(today: date) -> tuple[date, date]:
    """Riley's cycle for ``today``: in January to June, the cycle that ended last 12/31 (now in its grace
    period, so RENEW carries the $80 late fee); from July, when no Dec 31 cycle can be in its grace period,
    the cycle ending this 12/31 (the tile then says when the late fee starts, in Riley's time)."""
    last = today.year - 1 if today.month <= 6 else today.year
    return date(last - 2, 1, 1), date(last, 12, 31)


def demo_course_window(today: date) -> tuple[date, date]:
    """When the demo provider's courses are approved for ``today``: 1/1 two years back through 12/31 next year."""
    return date(today.year - 2, 1, 1), date(today.year + 1, 12, 31)


def demo_earned_on(cycle: tuple[date, date], share: Decimal, *, today: date) -> date:
    """The day ``share`` of the way through ``cycle``'s elapsed days (0: its first day, 1: yesterday, or its last
    day once it has ended), as the demo dates its credits."""
    start, end = cycle
    last = min(end, today - timedelta(days=1))
    return start + timedelta(days=int((last - start).days * share))


@transaction.atomic
def demo_seed() -> list[str]:
    """Create the demo people, or bring them back to the picture for today. Safe to run again.

    Returns one line per person for the command to print.
    """

    certification_types_ensure(CertificationType)
    yearly_caps_ensure(YearlyCap)
    staff, staff_created = _person(DEMO_STAFF, first_name="Sam", last_name="Reviewer", member_id="100001",
                                   time_zone="America/New_York", staff=True)
    casey, created = _person(DEMO_CERTIFICANT, first_name="Casey", last_name="Morgan", member_id="482913",
                             time_zone="America/Indiana/Indianapolis")
    BillingAddress.objects.get_or_create(
        user=casey,
        defaults={"line1": "401 W Michigan St", "city": "Indianapolis", "state": "IN", "postal_code": "46202"},
    )
    riley, riley_created = _person(DEMO_WEST, first_name="Riley", last_name="Chen", member_id="573104",
                                   time_zone="America/Los_Angeles")
    BillingAddress.objects.get_or_create(
        user=riley,
        defaults={"line1": "1200 Getty Center Dr", "city": "Los Angeles", "state": "CA", "postal_code": "90049"},
    )
    casey_today = clock.today_for(casey)
    casey_cycle = demo_casey_cycle(casey_today)
    casey_rebuilt = _certifications(casey, ("CPT", "EP"), casey_cycle, CASEY_CREDITS, today=casey_today)
    riley_today = clock.today_for(riley)
    riley_cycle = demo_riley_cycle(riley_today)
    if _certifications(riley, ("CPT",), riley_cycle, RILEY_CREDITS, today=riley_today):
        _approved_card(riley, staff, today=riley_today)
    jordan, jordan_created = _person(DEMO_AUDITED, first_name="Jordan", last_name="Avery", member_id="615207",
                                     time_zone="America/Los_Angeles")
    BillingAddress.objects.get_or_create(
        user=jordan,
        defaults={"line1": "500 Pine St", "city": "Seattle", "state": "WA", "postal_code": "98101"},
    )
    jordan_today = clock.today_for(jordan)
    if _certifications(jordan, ("CPT",), demo_casey_cycle(jordan_today), JORDAN_CREDITS, today=jordan_today):
        _approved_card(jordan, staff, today=jordan_today)
        _renewal_under_audit(jordan, staff, today=jordan_today)
    provider = _provider()
    provider_user, provider_user_created = _person(DEMO_PROVIDER_USER, first_name="Pat", last_name="Okafor",
                                                   member_id="100002", time_zone="America/Indiana/Indianapolis")
    _kept(ProviderMember, {"user": provider_user}, {"provider": provider})
    _provider_credit(provider, casey, casey_cycle, rebuilt=casey_rebuilt, today=casey_today)
    return [
        f"{'created' if created else 'kept'} certificant {casey.email} / {DEMO_CERTIFICANT['password']}"
        f" (Eastern time)",
        f"{'created' if riley_created else 'kept'} certificant {riley.email} / {DEMO_WEST['password']}"
        f" (Pacific time; cycle {riley_cycle[0]:%-m/%-d/%Y} - {riley_cycle[1]:%-m/%-d/%Y})",
        f"{'created' if jordan_created else 'kept'} certificant {jordan.email} / {DEMO_AUDITED['password']}"
        f" (Pacific time; last renewal under audit)",
        f"{'created' if staff_created else 'kept'} staff {staff.email} / {DEMO_STAFF['password']}",
        f"{'created' if provider_user_created else 'kept'} provider user {provider_user.email} / "
        f"{DEMO_PROVIDER_USER['password']} ({provider.name}, {provider.number}; provider area /provider/)",
    ]


def _kept(model, lookup: dict, values: dict):
    """The ``model`` row matching ``lookup``: created with ``values``, or brought back to them (saved only when
    one of them differs)."""
    row, _created = model.objects.get_or_create(**lookup, defaults=values)
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    if changed:
        row.save(update_fields=changed)
    return row


def _provider() -> Provider:
    """The demo provider, active, with its approved courses valid around today."""
    provider = _kept(Provider, {"number": DEMO_PROVIDER["number"]},
                     {**{k: v for k, v in DEMO_PROVIDER.items() if k != "number"}, "active": True})
    valid_from, valid_to = demo_course_window(clock.today())
    for course in DEMO_COURSES:
        _kept(Course, {"provider": provider, "number": course.number},
              {"title": course.title, "format": "online", "cecs": Decimal(course.cecs), "valid_from": valid_from,
               "valid_to": valid_to})
    return provider


def _provider_credit(provider: Provider, person: User, cycle: tuple[date, date], *, rebuilt: bool,
                     today: date) -> Completion:
    """``CASEY_COMPLETION`` posted for ``person`` through the provider API's service, once: a second seed finds it
    a duplicate and changes nothing. When ``person``'s ledger was rebuilt (their credits deleted, the completion's
    with them), the old completion goes too and the credit is posted again, dated in the new ``cycle``."""
    if rebuilt:
        Completion.objects.filter(provider=provider, external_id=CASEY_COMPLETION.external_id).delete()
    [result] = completions_post(provider_id=provider.pk, via=Completion.Via.API, posted_by="demo", items=[
        CompletionIn(member_id=person.member_id, last_name=person.last_name,
                     course_number=CASEY_COMPLETION.course_number,
                     completed_on=demo_earned_on(cycle, CASEY_COMPLETION.share, today=today),
                     external_id=CASEY_COMPLETION.external_id)])
    if result.status == "rejected":
        raise RuntimeError(f"The demo's provider credit was refused: {result.errors}")
    return result.completion


def _person(login: dict, *, first_name: str, last_name: str, member_id: str, time_zone: str,
            staff: bool = False) -> tuple[User, bool]:
    person, created = User.objects.get_or_create(
        email=login["email"],
        defaults={"first_name": first_name, "last_name": last_name, "member_id": member_id,
                  "time_zone": time_zone, "is_staff": staff, "is_superuser": staff},
    )
    person.set_password(login["password"])
    person.is_staff = person.is_superuser = staff
    person.save(update_fields=["password", "is_staff", "is_superuser"])
    return person, created


def _certifications(user: User, codes: tuple[str, ...], cycle: tuple[date, date], credits: list[DemoCredit], *,
                    today: date) -> bool:
    """Give ``user`` the certifications ``codes``, each in ``cycle`` with ``credits`` spread over its elapsed
    days. A demo person whose open cycles are not ``cycle`` (seeded on another day) is rebuilt with their
    unpaid orders and stored files, unless they have paid for something, which is kept as it is. Returns
    whether anything was (re)built."""
    start, end = cycle
    wanted = {(code, start, end) for code in codes}
    have = set(Cycle.objects.filter(certification__user=user, state=Cycle.State.OPEN)
               .values_list("certification__certification_type__code", "start", "end"))
    if have == wanted or Order.objects.filter(user=user, state__in=[Order.State.PAID, Order.State.REFUNDED]).exists():
        return False
    files = [name for name in [
        *CprUploadFile.objects.filter(upload__certification__user=user).values_list("file", flat=True),
        *Certificate.objects.filter(certification__user=user).values_list("pdf", flat=True),
    ] if name]
    Payment.objects.filter(order__user=user).delete()
    Order.objects.filter(user=user).delete()
    Certificate.objects.filter(certification__user=user).delete()
    Certification.objects.filter(user=user).delete()
    CECEntry.objects.filter(user=user).delete()
    transaction.on_commit(lambda: [default_storage.delete(name) for name in files])
    years = end.year - start.year + 1
    for code in codes:
        certification = Certification.objects.create(
            user=user, certification_type=CertificationType.objects.get(code=code),
            first_certified_on=date(start.year - 2 * years, 5, 14),
        )
        Cycle.objects.create(certification=certification, start=date(start.year - years, 1, 1),
                             end=start - timedelta(days=1), state=Cycle.State.RENEWED)
        Cycle.objects.create(certification=certification, start=start, end=end)
    for credit in credits:
        earned = demo_earned_on(cycle, credit.share, today=today)
        CECEntry.objects.create(
            user=user, course_name=credit.course_name, date_earned=earned,
            date_reported=min(earned + timedelta(days=3), today), units=Decimal(credit.units),
            credit_type=credit.credit_type, cecs=to_cecs(Decimal(credit.units), credit.credit_type),
            provider=credit.provider, format=credit.format, source=credit.source,
        )
    return True


def _renewal_under_audit(user: User, staff: User, *, today: date) -> Audit:
    """Renew each of ``user``'s certifications and pay, then have ``staff`` select the renewal for audit and
    document one credit, through the same services as the site, the webhook and the admin. The audit is then placed
    as selected ``AUDIT_DAYS_AGO`` days ago, so it is due in ``AUDIT_DAYS_LEFT`` days."""
    address = user.billing_address
    certifications = list(Certification.objects.filter(user=user).select_related("certification_type"))
    for certification in certifications:
        cart_add_renewal(user=user, certification_id=certification.pk, today=today)
    billing = BillingInput(name=user.get_full_name(), line1=address.line1, line2=address.line2, city=address.city,
                           state=address.state, postal_code=address.postal_code, country=address.country)
    order = order_place(user=user, billing=billing, today=today, expected_total=sum(
        (c.certification_type.renewal_fee for c in certifications), Decimal("0")))
    payment = Payment.objects.create(order=order, amount=order.total, card_brand="visa", card_last4="4242")
    payment_transition(payment_id=payment.pk, to=payment_rules.PROCESSING, actor="demo")
    payment_confirm(payment_id=payment.pk, amount_cents=payment_rules.to_cents(order.total), actor="demo")
    line = OrderLine.objects.get(order=order, kind=OrderLine.Kind.RENEWAL)
    audit, _ = audit_select_by_staff(order_line_id=line.pk, by=staff)
    documented = audit.credits.get(course_name=JORDAN_DOCUMENTED)
    audit_proof_add(audit_id=audit.pk, credit_id=documented.pk, user=user, name="program-design-certificate.png",
                    data=_completion_png(user, JORDAN_DOCUMENTED))
    due = today + timedelta(days=AUDIT_DAYS_LEFT)
    Audit.objects.filter(pk=audit.pk).update(selected_at=clock.now() - timedelta(days=AUDIT_DAYS_AGO), due_on=due)
    AuditEmail.objects.filter(audit=audit, kind=AuditEmail.Kind.SELECTED).update(due_on=due)
    return audit


def _approved_card(user: User, reviewer: User, *, today: date) -> None:
    """A CPR/AED card for each of ``user``'s certifications, uploaded, submitted and approved through the same
    services as the site and the admin, valid for two more years."""
    for certification in Certification.objects.filter(user=user).select_related("certification_type"):
        cpr_upload_add_file(certification=certification, user=user, name="cpr-card-front.png", data=_card_png(user))
        upload = cpr_upload_submit(
            certification=certification, user=user, today=today,
            details=CardDetails(card_type="cpr_aed", issuing_organization="American Heart Association",
                                expires_on=today + timedelta(days=730), skills_check_confirmed=True),
        )
        cpr_upload_approve(upload=upload, reviewer=reviewer)


def _completion_png(user: User, course: str) -> bytes:
    """A small picture of a certificate of completion, as a phone camera would send it."""
    image = Image.new("RGB", (800, 560), "#fbf8ef")
    draw = ImageDraw.Draw(image)
    draw.rectangle((16, 16, 784, 544), outline="#0b2e59", width=6)
    draw.text((60, 80), "Certificate of Completion", fill="#0b2e59")
    draw.text((60, 200), f"{user.get_full_name()} completed {course}.", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _card_png(user: User) -> bytes:
    """A small picture of a wallet card, as a phone camera would send it."""
    image = Image.new("RGB", (640, 400), "#f4f1ea")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 640, 70), fill="#b3261e")
    draw.text((24, 24), "Heartsaver CPR AED", fill="white")
    draw.text((24, 120), f"{user.get_full_name()} has completed the course.", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
