import acsm_portal.clock
import audits.models
import django.core.validators
import django.db.models.deletion
import uuid
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('cecs', '0003_timestamps_from_the_clock'),
        ('certifications', '0010_certification_suspension'),
        ('payments', '0007_refund_lines'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Audit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('required_cecs', models.PositiveSmallIntegerField(help_text="The certification type's requirement when the audit began.", verbose_name='required CECs')),
                ('state', models.CharField(choices=[('selected', 'Selected – waiting for documents'), ('submitted', 'Submitted – waiting for review'), ('extended', 'More time – replacement credits'), ('passed', 'Passed'), ('failed', 'Failed'), ('canceled', 'Canceled'), ('reinstated', 'Reinstated after failing')], default='selected', max_length=10)),
                ('how', models.CharField(choices=[('draw', 'Random draw'), ('staff', 'Staff selection')], max_length=5, verbose_name='selected by')),
                ('selected_at', models.DateTimeField(default=acsm_portal.clock.now)),
                ('due_on', models.DateField(help_text="Documents are due by 11:59 PM on this day in the person's time zone.")),
                ('extended_due_on', models.DateField(blank=True, help_text="The end of the second window staff gave, 11:59 PM the person's time.", null=True)),
                ('submitted_at', models.DateTimeField(blank=True, null=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('overdue', models.BooleanField(default=False, help_text='Failed because nothing was submitted by the due date.')),
                ('reason', models.TextField(blank=True, help_text='Why it failed, was canceled or reinstated; the person reads it.')),
                ('note', models.TextField(blank=True, max_length=2000, verbose_name="certificant's note")),
                ('certification', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='audits', to='certifications.certification')),
                ('cycle', models.ForeignKey(help_text='The audited cycle: the one the renewal closed.', on_delete=django.db.models.deletion.PROTECT, related_name='audits', to='certifications.cycle')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('order_line', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='audit', to='payments.orderline')),
                ('selected_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='audits', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['due_on', 'id'],
                'permissions': [('review_audit', 'Can review audits')],
            },
        ),
        migrations.CreateModel(
            name='AuditCredit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date_earned', models.DateField()),
                ('course_name', models.CharField(max_length=200)),
                ('cecs', models.DecimalField(decimal_places=2, max_digits=6, verbose_name='CECs')),
                ('format', models.CharField(max_length=20)),
                ('provider', models.CharField(blank=True, max_length=200)),
                ('source', models.CharField(max_length=10)),
                ('state', models.CharField(choices=[('needed', 'Proof needed'), ('documented', 'Proof uploaded'), ('verified', 'Verified (no proof needed)'), ('accepted', 'Accepted'), ('rejected', 'Rejected')], default='needed', max_length=10)),
                ('replacement', models.BooleanField(default=False, help_text='Added in a second window to replace rejected CECs.')),
                ('reviewed_at', models.DateTimeField(blank=True, null=True)),
                ('reason', models.TextField(blank=True, help_text='Why it was rejected; the person reads it.')),
                ('created_at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
                ('audit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='credits', to='audits.audit')),
                ('cec_entry', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='cecs.cecentry')),
                ('reviewed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'audited credit',
                'ordering': ['audit', 'replacement', 'date_earned', 'id'],
            },
        ),
        migrations.CreateModel(
            name='AuditDraw',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rate', models.DecimalField(decimal_places=4, max_digits=5)),
                ('roll', models.DecimalField(decimal_places=6, max_digits=7)),
                ('selected', models.BooleanField()),
                ('drawn_at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
                ('order_line', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='audit_draw', to='payments.orderline')),
            ],
            options={
                'ordering': ['-drawn_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='AuditEmail',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('selected', 'Selected for audit'), ('reminder', 'Reminder'), ('extended', 'More time given'), ('passed', 'Passed'), ('failed', 'Failed – suspended'), ('canceled', 'Canceled'), ('reinstated', 'Reinstated')], max_length=10)),
                ('key', models.CharField(max_length=40)),
                ('days_before', models.PositiveSmallIntegerField(blank=True, help_text='For a reminder.', null=True)),
                ('due_on', models.DateField(blank=True, help_text='The due date the email states, if any.', null=True)),
                ('created_at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
                ('claimed_at', models.DateTimeField(blank=True, editable=False, help_text='When a worker took on the email; another leaves it alone for a while, then takes it over.', null=True)),
                ('emailed_at', models.DateTimeField(blank=True, null=True)),
                ('audit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='emails', to='audits.audit')),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='AuditLog',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_state', models.CharField(blank=True, max_length=10)),
                ('to_state', models.CharField(max_length=10)),
                ('actor', models.CharField(max_length=100)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
                ('audit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='log', to='audits.audit')),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='AuditPolicy',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, editable=False, primary_key=True, serialize=False)),
                ('rate', models.DecimalField(decimal_places=4, default=Decimal('0.0500'), help_text='The share of paid renewals drawn for audit, from 0 to 1 (0.05 is 5 %).', max_digits=5, validators=[django.core.validators.MinValueValidator(Decimal('0')), django.core.validators.MaxValueValidator(Decimal('1'))], verbose_name='audit rate')),
                ('days_to_answer', models.PositiveSmallIntegerField(default=30, help_text="Days from selection to the due date; it ends at 11:59 PM on that day in the person's time zone.", validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(365)])),
                ('extension_days', models.PositiveSmallIntegerField(default=30, help_text='Days a second window gives (to report replacement credits) unless staff give another number.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(365)])),
                ('updated_at', models.DateTimeField(default=acsm_portal.clock.now)),
                ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'audit policy',
                'verbose_name_plural': 'audit policy',
            },
        ),
        migrations.CreateModel(
            name='AuditProof',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('file', models.FileField(max_length=120, upload_to=audits.models.audit_proof_file_name)),
                ('original_name', models.CharField(max_length=255)),
                ('content_type', models.CharField(max_length=30)),
                ('size', models.PositiveIntegerField()),
                ('sha256', models.CharField(max_length=64, verbose_name='SHA-256')),
                ('created_at', models.DateTimeField(default=acsm_portal.clock.now, editable=False)),
                ('credit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='proofs', to='audits.auditcredit')),
            ],
            options={
                'verbose_name': 'audit proof file',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.AddIndex(
            model_name='audit',
            index=models.Index(fields=['state', 'due_on'], name='audit_by_state_due'),
        ),
        migrations.AddConstraint(
            model_name='audit',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state__in', ['failed', 'canceled', 'reinstated']), _negated=True), models.Q(('reason', ''), _negated=True), _connector='OR'), name='audit_outcome_has_reason'),
        ),
        migrations.AddConstraint(
            model_name='audit',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'submitted'), _negated=True), ('submitted_at__isnull', False), _connector='OR'), name='audit_submitted_has_time'),
        ),
        migrations.AddConstraint(
            model_name='audit',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'extended'), _negated=True), ('extended_due_on__isnull', False), _connector='OR'), name='audit_extended_has_due_date'),
        ),
        migrations.AddConstraint(
            model_name='auditcredit',
            constraint=models.UniqueConstraint(fields=('audit', 'cec_entry'), name='audit_credit_once'),
        ),
        migrations.AddConstraint(
            model_name='auditcredit',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'rejected'), _negated=True), models.Q(('reason', ''), _negated=True), _connector='OR'), name='audit_credit_rejected_has_reason'),
        ),
        migrations.AddConstraint(
            model_name='auditcredit',
            constraint=models.CheckConstraint(condition=models.Q(('cecs__gt', 0)), name='audit_credit_positive'),
        ),
        migrations.AddConstraint(
            model_name='auditdraw',
            constraint=models.CheckConstraint(condition=models.Q(('roll__gte', 0), ('roll__lt', 1)), name='audit_draw_roll_0_to_1'),
        ),
        migrations.AddConstraint(
            model_name='auditdraw',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('selected', True), ('roll__lt', models.F('rate'))), models.Q(('selected', False), ('roll__gte', models.F('rate'))), _connector='OR'), name='audit_draw_selected_iff_roll_below_rate'),
        ),
        migrations.AddIndex(
            model_name='auditemail',
            index=models.Index(condition=models.Q(('emailed_at__isnull', True)), fields=['created_at'], name='audit_email_unsent'),
        ),
        migrations.AddConstraint(
            model_name='auditemail',
            constraint=models.UniqueConstraint(fields=('audit', 'key'), name='audit_email_once'),
        ),
        migrations.AddConstraint(
            model_name='auditpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('id', 1)), name='audit_policy_one_row'),
        ),
        migrations.AddConstraint(
            model_name='auditpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('rate__gte', 0), ('rate__lte', 1)), name='audit_policy_rate_0_to_1'),
        ),
        migrations.AddConstraint(
            model_name='auditpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('days_to_answer__gte', 1), ('extension_days__gte', 1)), name='audit_policy_days_positive'),
        ),
        migrations.AddConstraint(
            model_name='auditproof',
            constraint=models.UniqueConstraint(fields=('credit', 'sha256'), name='audit_proof_once_per_credit'),
        ),
    ]
