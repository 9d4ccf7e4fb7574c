import acsm_portal.clock
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('certifications', '0009_cpr_queue_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CertificationLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('suspended', 'Suspended'), ('reinstated', 'Reinstated')], max_length=10)),
                ('actor', models.CharField(max_length=100)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.AddField(
            model_name='certification',
            name='suspended_at',
            field=models.DateTimeField(blank=True, help_text='Set while the certification is suspended (a failed audit); cleared when staff reinstate it. Changed only through suspensions.certification_suspend / certification_reinstate.', null=True),
        ),
        migrations.AddField(
            model_name='certification',
            name='suspended_reason',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddConstraint(
            model_name='certification',
            constraint=models.CheckConstraint(condition=models.Q(('suspended_at__isnull', True), models.Q(('suspended_reason', ''), _negated=True), _connector='OR'), name='certification_suspended_has_reason'),
        ),
        migrations.AddField(
            model_name='certificationlog',
            name='certification',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='log', to='certifications.certification'),
        ),
    ]
