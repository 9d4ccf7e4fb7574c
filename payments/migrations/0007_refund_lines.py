import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F


def earlier_refunds_settled(apps, schema_editor):
    """Refunds made before refunds had states were all settled at Stripe (a refused one was deleted), and nobody
    was promised an email about them."""
    Refund = apps.get_model("payments", "Refund")
    Refund.objects.all().update(state="succeeded", settled_at=F("created_at"), emailed_at=F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0006_backfill_renewed_cycle'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='refund',
            options={'ordering': ['created_at', 'id']},
        ),
        migrations.AddField(
            model_name='refund',
            name='email_claimed_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When a worker took on the refund email; another leaves it alone for a while, then takes it over.', null=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='emailed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='failure_message',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='refund',
            name='key',
            field=models.UUIDField(blank=True, editable=False, help_text="The refund form's own key: the same form sent twice finds this refund instead of making another.", null=True, unique=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='settled_at',
            field=models.DateTimeField(blank=True, help_text="When Stripe's answer was recorded.", null=True),
        ),
        migrations.AddField(
            model_name='refund',
            name='state',
            field=models.CharField(choices=[('pending', 'Pending'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='pending', max_length=10),
        ),
        migrations.AddField(
            model_name='refund',
            name='stripe_claimed_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When a request began asking Stripe for this refund; another leaves it alone for a while.', null=True),
        ),
        migrations.CreateModel(
            name='RefundLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('amount', models.DecimalField(decimal_places=2, max_digits=10)),
                ('renewal', models.CharField(blank=True, choices=[('keep', 'Keep the renewal'), ('undo', 'Undo the renewal')], max_length=4)),
                ('outcome', models.CharField(blank=True, max_length=300)),
                ('order_line', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='refund_lines', to='payments.orderline')),
                ('refund', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='payments.refund')),
            ],
            options={
                'ordering': ['order_line_id', 'id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='refund_line_positive'), models.UniqueConstraint(fields=('refund', 'order_line'), name='refund_line_once')],
            },
        ),
        migrations.RunPython(earlier_refunds_settled, migrations.RunPython.noop),
    ]
