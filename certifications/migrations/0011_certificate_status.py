import django.db.models.deletion
from django.db import migrations, models

import acsm_portal.clock
import certifications.models

STATUSES = [("active", "Active"), ("grace", "Expired (grace period)"), ("lapsed", "Lapsed"),
            ("suspended", "Suspended"), ("revoked", "Revoked"), ("renewed", "Renewed (replaced by a newer certificate)")]


def give_codes(apps, schema_editor):
    """Each existing certificate gets its own unguessable verify code."""
    Certificate = apps.get_model("certifications", "Certificate")
    for certificate in Certificate.objects.filter(verify_code__isnull=True).only("pk").iterator():
        Certificate.objects.filter(pk=certificate.pk).update(verify_code=certifications.models.new_verify_code())


class Migration(migrations.Migration):

    dependencies = [
        ("certifications", "0010_certification_suspension"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificate",
            name="verify_code",
            field=models.CharField(editable=False, max_length=32, null=True),
        ),
        migrations.RunPython(give_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="certificate",
            name="verify_code",
            field=models.CharField(default=certifications.models.new_verify_code, editable=False,
                                   help_text="The code of its public verify page (/verify/<code>/).", max_length=32,
                                   unique=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="status",
            field=models.CharField(choices=STATUSES, default="active", max_length=10),
        ),
        migrations.AddField(
            model_name="certificate",
            name="status_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="certificate",
            name="status_reason",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(fields=["status", "valid_through"], name="certificate_by_status"),
        ),
        migrations.CreateModel(
            name="CertificateLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("from_status", models.CharField(choices=STATUSES, max_length=10)),
                ("to_status", models.CharField(choices=STATUSES, max_length=10)),
                ("actor", models.CharField(max_length=100)),
                ("reason", models.CharField(blank=True, max_length=500)),
                ("at", models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
                ("certificate", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="log",
                                                  to="certifications.certificate")),
            ],
            options={"ordering": ["at", "id"]},
        ),
    ]
