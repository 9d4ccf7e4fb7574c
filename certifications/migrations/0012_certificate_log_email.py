from django.db import migrations, models


class Migration(migrations.Migration):
    """Each staff move of a certificate's status keeps whether its holder email is wanted, claimed and sent, so a
    lost email job is found again by the sweeper and a repeated one sends nothing. Moves logged before this call for
    no email (``email_wanted`` false): they were queued the old way."""

    dependencies = [
        ("certifications", "0011_certificate_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificatelog",
            name="email_wanted",
            field=models.BooleanField(default=False, editable=False,
                                      help_text="Whether the move calls for an email to the holder (staff's moves)."),
        ),
        migrations.AddField(
            model_name="certificatelog",
            name="email_claimed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True,
                help_text="When a worker took on the email; another leaves it alone for a while, then takes it over.",
            ),
        ),
        migrations.AddField(
            model_name="certificatelog",
            name="emailed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="certificatelog",
            index=models.Index(condition=models.Q(("email_wanted", True), ("emailed_at__isnull", True)),
                               fields=["at"], name="certificate_log_email_unsent"),
        ),
    ]
