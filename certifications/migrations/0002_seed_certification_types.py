from decimal import Decimal

from django.db import migrations

TYPES = [
    ("GEI", "Certified Group Exercise Instructor", 45, Decimal("60.00"), 1),
    ("CPT", "Certified Personal Trainer", 45, Decimal("60.00"), 2),
    ("EP", "Certified Exercise Physiologist", 60, Decimal("70.00"), 3),
    ("CEP", "Certified Clinical Exercise Physiologist", 60, Decimal("70.00"), 4),
]


def seed(apps, schema_editor):
    CertificationType = apps.get_model("certifications", "CertificationType")
    for code, name, required, fee, order in TYPES:
        CertificationType.objects.get_or_create(
            code=code,
            defaults={"name": name, "required_cecs": required, "renewal_fee": fee, "late_fee": Decimal("80.00"),
                      "cycle_years": 3, "display_order": order},
        )


class Migration(migrations.Migration):
    dependencies = [("certifications", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
