from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_user_last_name_upper'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='reminders_changed_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When the person last turned reminders on or off.', null=True),
        ),
        migrations.AddField(
            model_name='user',
            name='reminders_enabled',
            field=models.BooleanField(default=True, help_text='Reminders about the cycle end, CPR/AED card expiry, the grace period and a lapse. Receipts, decisions and audit notices are sent either way.', verbose_name='email reminders'),
        ),
    ]
