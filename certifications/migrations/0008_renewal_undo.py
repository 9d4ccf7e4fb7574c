import acsm_portal.clock
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('certifications', '0007_cpr_decision_email_claim'),
    ]

    operations = [
        migrations.CreateModel(
            name='CycleLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_state', models.CharField(blank=True, help_text='Empty when the move created the cycle.', max_length=10)),
                ('to_state', models.CharField(max_length=10)),
                ('actor', models.CharField(max_length=100)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.AddField(
            model_name='certificate',
            name='void_reason',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='certificate',
            name='voided_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='cycle',
            name='undone_at',
            field=models.DateTimeField(blank=True, help_text='When the renewal that opened this cycle was undone.', null=True),
        ),
        migrations.AlterField(
            model_name='cycle',
            name='state',
            field=models.CharField(choices=[('open', 'Open'), ('renewed', 'Renewed'), ('undone', 'Renewal undone')], default='open', max_length=10),
        ),
        migrations.AddConstraint(
            model_name='certificate',
            constraint=models.CheckConstraint(condition=models.Q(('voided_at__isnull', True), models.Q(('void_reason', ''), _negated=True), _connector='OR'), name='certificate_void_has_reason'),
        ),
        migrations.AddField(
            model_name='cyclelog',
            name='cycle',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='log', to='certifications.cycle'),
        ),
    ]
