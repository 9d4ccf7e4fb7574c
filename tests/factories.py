import datetime
from decimal import Decimal

import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
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


def certification_with_cycle(user, code="CPT", start=None, end=None):
    """A certification of ``code`` for ``user`` with one open cycle (default 1/1/2024 - 12/31/2026)."""
    from certifications.models import Certification, Cycle

    certification = Certification.objects.create(
        user=user, certification_type=certification_type(code), first_certified_on=datetime.date(2020, 6, 1)
    )
    Cycle.objects.create(
        certification=certification, start=start or datetime.date(2024, 1, 1), end=end or datetime.date(2026, 12, 31)
    )
    return certification


class CECEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cecs.CECEntry"

    user = factory.SubFactory(UserFactory)
    date_earned = factory.Faker("date_between_dates", date_start=datetime.date(2024, 1, 1),
                                date_end=datetime.date(2026, 6, 30))
    date_reported = factory.LazyAttribute(lambda o: o.date_earned)
    units = Decimal("2")
    credit_type = "cec"
    cecs = factory.LazyAttribute(lambda o: o.units)
    course_name = factory.Sequence(lambda n: f"Course {n}")
    provider = "ACSM"
    format = "live"
    source = "self"


def renewable_certification(user, code="CPT", start=None, end=None, cpr_state="approved", cpr_expires=None):
    """A certification whose credits are full and whose CPR card is submitted: its tile shows RENEW."""
    from django.utils import timezone

    from certifications.models import CprUpload

    certification = certification_with_cycle(user, code, start, end)
    cycle = certification.cycles.get(state="open")
    required = certification.certification_type.required_cecs
    CECEntryFactory(user=user, date_earned=cycle.start, units=Decimal(required), cecs=Decimal(required),
                    course_name=f"{code} full credits", format="live")
    CprUpload.objects.create(
        certification=certification, cycle=cycle, state=cpr_state, card_type="cpr_aed",
        issuing_organization="American Red Cross", skills_check_confirmed=True,
        expires_on=cpr_expires or timezone.localdate() + datetime.timedelta(days=365),
        submitted_at=timezone.now(), rejection_reason="Unreadable" if cpr_state == "rejected" else "",
    )
    return certification
