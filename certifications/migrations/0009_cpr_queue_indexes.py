from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('certifications', '0008_renewal_undo'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='cprupload',
            name='cpr_upload_queue',
        ),
        migrations.AddIndex(
            model_name='cprupload',
            index=models.Index(fields=['state', 'submitted_at', 'id'], name='cpr_upload_by_state'),
        ),
        migrations.AddIndex(
            model_name='cprupload',
            index=models.Index(condition=models.Q(('state', 'draft'), _negated=True), fields=['submitted_at', 'id'], name='cpr_upload_submitted'),
        ),
    ]
