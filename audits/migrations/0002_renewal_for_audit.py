from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('audits', '0001_initial'),
        ('payments', '0007_refund_lines'),
    ]

    operations = [
        migrations.CreateModel(
            name='RenewalForAudit',
            fields=[
            ],
            options={
                'verbose_name': 'paid renewal',
                'verbose_name_plural': 'paid renewals (select for audit)',
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('payments.orderline',),
        ),
    ]
