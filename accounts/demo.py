"""Demo data: the certificant from the how-to and a staff reviewer."""

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
    return [
        f"{'created' if created else 'kept'} certificant {casey.email} / {DEMO_CERTIFICANT['password']}",
        f"{'created' if staff_created else 'kept'} staff {staff.email} / {DEMO_STAFF['password']}",
    ]
