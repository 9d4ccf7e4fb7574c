"""Demo data: the certificant from the how-to and a staff reviewer."""

from datetime import date
from decimal import Decimal

from django.db import transaction

from .models import BillingAddress, User

DEMO_CERTIFICANT = {"email": "casey@example.com", "password": "recert-demo-2025"}
DEMO_STAFF = {"email": "staff@example.com", "password": "staff-demo-2025"}


@transaction.atomic
def demo_seed() -> list[str]:
    casey, created = User.objects.get_or_create(
        email=DEMO_CERTIFICANT["email"],
        defaults={"first_name": "Casey", "last_name": "Morgan", "member_id": "482913"},
    )
    casey.set_password(DEMO_CERTIFICANT["password"])
    casey.save(update_fields=["password"])
    BillingAddress.objects.get_or_create(
        user=casey,
        defaults={"line1": "401 W Michigan St", "city": "Indianapolis", "state": "IN", "postal_code": "46202"},
    )
    staff, staff_created = User.objects.get_or_create(
        email=DEMO_STAFF["email"],
        defaults={"first_name": "Sam", "last_name": "Reviewer", "member_id": "100001", "is_staff": True,
                  "is_superuser": True},
    )
    staff.set_password(DEMO_STAFF["password"])
    staff.is_staff = staff.is_superuser = True
    staff.save(update_fields=["password", "is_staff", "is_superuser"])
    _seed_certifications(casey)
    return [
        f"{'created' if created else 'kept'} certificant {casey.email} / {DEMO_CERTIFICANT['password']}",
        f"{'created' if staff_created else 'kept'} staff {staff.email} / {DEMO_STAFF['password']}",
    ]


# The how-to's picture: CPT and EP, both 1/1/2024 - 12/31/2026, 65 CECs reported
# of which 63 count (a Volunteering entry crosses its yearly cap of 8).
DEMO_CREDITS = [
    (date(2024, 2, 10), "10", "cec", "Resistance Training for Older Adults", "ACSM", "live"),
    (date(2024, 6, 15), "1.5", "ceu", "Exercise Is Medicine: Chronic Disease Management", "ACSM Online", "online"),
    (date(2024, 9, 20), "12", "cec", "ACSM Health & Fitness Summit", "ACSM", "conference"),
    (date(2025, 3, 8), "10", "cec", "Community 5K health screening", "City Parks Dept.", "volunteering"),
    (date(2025, 5, 1), "4", "cec", "Adult CPR/AED renewal course", "American Red Cross", "cpr_aed"),
    (date(2025, 7, 19), "4", "cec", "Guest lecture: Kinesiology 101", "State University", "teaching"),
    (date(2026, 2, 3), "1", "college", "KIN 410 Exercise Physiology Lab", "State University", "college"),
]


def _seed_certifications(user: User) -> None:
    from cecs.models import CECEntry
    from cecs.rules import to_cecs
    from cecs.models import YearlyCap
    from cecs.reference import yearly_caps_ensure
    from certifications.models import Certification, CertificationType, Cycle
    from certifications.reference import certification_types_ensure

    certification_types_ensure(CertificationType)
    yearly_caps_ensure(YearlyCap)
    for code in ("CPT", "EP"):
        certification, _ = Certification.objects.get_or_create(
            user=user, certification_type=CertificationType.objects.get(code=code),
            defaults={"first_certified_on": date(2018, 5, 14)},
        )
        if not certification.cycles.exists():
            Cycle.objects.create(certification=certification, start=date(2021, 1, 1), end=date(2023, 12, 31),
                                 state=Cycle.State.RENEWED)
            Cycle.objects.create(certification=certification, start=date(2024, 1, 1), end=date(2026, 12, 31))
    for earned, units, credit_type, course, provider, fmt in DEMO_CREDITS:
        CECEntry.objects.get_or_create(
            user=user, course_name=course, date_earned=earned,
            defaults={"units": Decimal(units), "credit_type": credit_type,
                      "cecs": to_cecs(Decimal(units), credit_type), "provider": provider, "format": fmt,
                      "date_reported": earned, "source": CECEntry.Source.SELF},
        )
