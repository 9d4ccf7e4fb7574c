from django.db import migrations

from cecs.reference import yearly_caps_ensure


def seed(apps, schema_editor):
    yearly_caps_ensure(apps.get_model("cecs", "YearlyCap"))


class Migration(migrations.Migration):
    dependencies = [("cecs", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
