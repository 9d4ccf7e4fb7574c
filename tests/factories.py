import datetime
from decimal import Decimal

import factory
import factory.random

from accounts.models import User
from acsm_portal import clock
from tests.dates import cycle_around


class UserFactory(factory.django.DjangoModelFactory):
    """A certificant; ``time_zone=`` (an IANA name) puts their deadlines in that zone, blank is the portal's."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"certificant{n}@example.com")
    first_name = "Jordan"
    last_name = factory.Sequence(lambda n: f"Lee{n}")
    member_id = factory.Sequence(lambda n: f"{200000 + n}")
    password = factory.django.Password("correct-horse-battery")


def certification_type(code: str):
    """The seeded certification types (GEI, CPT, EP, CEP) come from a data migration."""
    from certifications.models import CertificationType

    return CertificationType.objects.get(code=code)


def default_cycle() -> tuple[datetime.date, datetime.date]:
    """The cycle a certification gets unless a test names one: around today (January 1 last year to
    December 31 next year, like the ``open_cycle`` fixture)."""
    return cycle_around(clock.today())


def certification_with_cycle(user, code="CPT", start=None, end=None):
    """A certification of ``code`` for ``user`` with one open cycle (default: ``default_cycle()``)."""
    from certifications.models import Certification, Cycle

    default_start, default_end = default_cycle()
    start, end = start or default_start, end or default_end
    certification = Certification.objects.create(
        user=user, certification_type=certification_type(code), first_certified_on=datetime.date(start.year - 6, 6, 1)
    )
    Cycle.objects.create(certification=certification, start=start, end=end)
    return certification


class CECEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cecs.CECEntry"

    user = factory.SubFactory(UserFactory)
    date_reported = factory.LazyAttribute(lambda o: o.date_earned)
    units = Decimal("2")
    credit_type = "cec"
    cecs = factory.LazyAttribute(lambda o: o.units)
    course_name = factory.Sequence(lambda n: f"Course {n}")
    provider = "ACSM"
    format = "live"
    source = "self"

    @factory.lazy_attribute
    def date_earned(self):
        """A day of the default cycle up to today (the person's today: never in their future)."""
        start, _ = default_cycle()
        today = min(clock.today(), clock.today_for(self.user))
        return start + datetime.timedelta(days=factory.random.randgen.randint(0, (today - start).days))


def renewable_certification(user, code="CPT", start=None, end=None, cpr_state="approved", cpr_expires=None):
    """A certification whose credits are full and whose CPR card is submitted: its tile shows RENEW."""
    from certifications.models import CprUpload

    certification = certification_with_cycle(user, code, start, end)
    cycle = certification.cycles.get(state="open")
    required = certification.certification_type.required_cecs
    CECEntryFactory(user=user, date_earned=cycle.start, units=Decimal(required), cecs=Decimal(required),
                    course_name=f"{code} full credits", format="live")
    CprUpload.objects.create(
        certification=certification, cycle=cycle, state=cpr_state, card_type="cpr_aed",
        issuing_organization="American Red Cross", skills_check_confirmed=True,
        expires_on=cpr_expires or clock.today_for(user) + datetime.timedelta(days=365),
        submitted_at=clock.now(), rejection_reason="Unreadable" if cpr_state == "rejected" else "",
    )
    return certification
