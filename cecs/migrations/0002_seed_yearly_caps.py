from decimal import Decimal

from django.db import migrations

CAPS = {"teaching": Decimal("5"), "volunteering": Decimal("8"), "cpr_aed": Decimal("5")}


def seed(apps, schema_editor):
    YearlyCap = apps.get_model("cecs", "YearlyCap")
    for fmt, max_cecs in CAPS.items():
        YearlyCap.objects.get_or_create(format=fmt, defaults={"max_cecs": max_cecs})


class Migration(migrations.Migration):
    dependencies = [("cecs", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
