from django.db import migrations

from certifications.reference import certification_types_ensure


def seed(apps, schema_editor):
    certification_types_ensure(apps.get_model("certifications", "CertificationType"))


class Migration(migrations.Migration):
    dependencies = [("certifications", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
