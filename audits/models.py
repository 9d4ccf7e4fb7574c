"""Audits of paid renewals: the policy staff set, the recorded draw for each paid renewal, the audit of a selected
renewal with a snapshot of each credit it counted, the certificant's proof per credit, the log of every move, and
the emails an audit sends.

States move only through ``services.audit_transition`` (the audit) and the services that review credits; the
allowed moves are ``rules.TRANSITIONS``.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from acsm_portal import clock
from payments.models import OrderLine

from . import rules


class AuditPolicy(models.Model):
    """The one row of audit settings staff edit (``selectors.audit_policy`` reads it, creating it with the
    defaults when missing). A draw uses the rate in force when it is made, and copies it onto ``AuditDraw``."""

    ONLY = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ONLY, editable=False)
    rate = models.DecimalField(
        "audit rate", max_digits=5, decimal_places=4, default=Decimal("0.0500"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="The share of paid renewals drawn for audit, from 0 to 1 (0.05 is 5 %).",
    )
    days_to_answer = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days from selection to the due date; it ends at 11:59 PM on that day in the person's time zone.",
    )
    extension_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days a second window gives (to report replacement credits) unless staff give another number.",
    )
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = "audit policy"
        verbose_name_plural = "audit policy"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="audit_policy_one_row"),
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lte=1), name="audit_policy_rate_0_to_1"),
            models.CheckConstraint(condition=Q(days_to_answer__gte=1) & Q(extension_days__gte=1),
                                   name="audit_policy_days_positive"),
        ]

    def __str__(self):
        return f"Audit {self.rate * 100:.2f} % of renewals, {self.days_to_answer} days to answer"


class AuditDraw(models.Model):
    """The draw for one paid renewal: ``roll`` (uniform in [0, 1), six decimal places) below ``rate`` (the
    policy's when drawn) selects it. Kept whether or not it selected, so the draws can be shown to be fair."""

    order_line = models.OneToOneField("payments.OrderLine", on_delete=models.PROTECT, related_name="audit_draw")
    rate = models.DecimalField(max_digits=5, decimal_places=4)
    roll = models.DecimalField(max_digits=7, decimal_places=6)
    selected = models.BooleanField()
    drawn_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["-drawn_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(roll__gte=0) & Q(roll__lt=1), name="audit_draw_roll_0_to_1"),
            models.CheckConstraint(
                condition=(Q(selected=True) & Q(roll__lt=models.F("rate")))
                | (Q(selected=False) & Q(roll__gte=models.F("rate"))),
                name="audit_draw_selected_iff_roll_below_rate",
            ),
        ]

    def __str__(self):
        return f"Draw {self.roll} against {self.rate}: {'selected' if self.selected else 'not selected'}"


class Audit(models.Model):
    """The audit of one paid renewal (at most one per renewal, whatever its outcome): the certificant documents each
    credit counted toward the renewed cycle (``cycle``: the one the renewal closed), staff review, and it passes or
    fails. A failed audit suspends the certification until staff reinstate it."""

    class State(models.TextChoices):
        SELECTED = rules.SELECTED, "Selected – waiting for documents"
        SUBMITTED = rules.SUBMITTED, "Submitted – waiting for review"
        EXTENDED = rules.EXTENDED, "More time – replacement credits"
        PASSED = rules.PASSED, "Passed"
        FAILED = rules.FAILED, "Failed"
        CANCELED = rules.CANCELED, "Canceled"
        REINSTATED = rules.REINSTATED, "Reinstated after failing"

    class How(models.TextChoices):
        DRAW = "draw", "Random draw"
        STAFF = "staff", "Staff selection"

    order_line = models.OneToOneField("payments.OrderLine", on_delete=models.PROTECT, related_name="audit")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audits")
    certification = models.ForeignKey("certifications.Certification", on_delete=models.PROTECT, related_name="audits")
    cycle = models.ForeignKey("certifications.Cycle", on_delete=models.PROTECT, related_name="audits",
                              help_text="The audited cycle: the one the renewal closed.")
    required_cecs = models.PositiveSmallIntegerField(
        "required CECs", help_text="The certification type's requirement when the audit began.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.SELECTED)
    how = models.CharField("selected by", max_length=5, choices=How.choices)
    selected_at = models.DateTimeField(default=clock.now)
    selected_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    due_on = models.DateField(help_text="Documents are due by 11:59 PM on this day in the person's time zone.")
    extended_due_on = models.DateField(
        null=True, blank=True, help_text="The end of the second window staff gave, 11:59 PM the person's time.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    overdue = models.BooleanField(default=False, help_text="Failed because nothing was submitted by the due date.")
    reason = models.TextField(blank=True, help_text="Why it failed, was canceled or reinstated; the person reads it.")
    note = models.TextField("certificant's note", blank=True, max_length=rules.MAX_NOTE_LENGTH)

    class Meta:
        ordering = ["due_on", "id"]
        permissions = [("review_audit", "Can review audits")]
        indexes = [models.Index(fields=["state", "due_on"], name="audit_by_state_due")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state__in=[rules.FAILED, rules.CANCELED, rules.REINSTATED]) | ~Q(reason=""),
                name="audit_outcome_has_reason",
            ),
            models.CheckConstraint(condition=~Q(state=rules.SUBMITTED) | Q(submitted_at__isnull=False),
                                   name="audit_submitted_has_time"),
            models.CheckConstraint(condition=~Q(state=rules.EXTENDED) | Q(extended_due_on__isnull=False),
                                   name="audit_extended_has_due_date"),
        ]

    def __str__(self):
        return f"Audit of {self.order_line} ({self.get_state_display()})"

    @property
    def deadline(self):
        """The day documents are due now: the second window's end once staff gave one, else ``due_on``."""
        return self.extended_due_on or self.due_on

    @property
    def is_open(self) -> bool:
        return self.state in rules.OPEN_STATES


def audit_proof_file_name(instance: "AuditProof", filename: str) -> str:
    """A random storage name; the uploaded file's own name is kept as data only, never as a path."""
    from acsm_portal.uploads import EXTENSIONS

    return f"audit-proof/{instance.key.hex}{EXTENSIONS[instance.content_type]}"


class AuditCredit(models.Model):
    """One credit the audit covers: those counted toward the audited cycle when it began, and replacements the
    certificant added in a second window. A snapshot of the credit as it was (``cec_entry`` may later change or go)."""

    class State(models.TextChoices):
        NEEDED = rules.NEEDED, "Proof needed"
        DOCUMENTED = rules.DOCUMENTED, "Proof uploaded"
        VERIFIED = rules.VERIFIED, "Verified (no proof needed)"
        ACCEPTED = rules.ACCEPTED, "Accepted"
        REJECTED = rules.REJECTED, "Rejected"

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="credits")
    cec_entry = models.ForeignKey("cecs.CECEntry", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    date_earned = models.DateField()
    course_name = models.CharField(max_length=200)
    cecs = models.DecimalField("CECs", max_digits=6, decimal_places=2)
    format = models.CharField(max_length=20)
    provider = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEEDED)
    replacement = models.BooleanField(default=False, help_text="Added in a second window to replace rejected CECs.")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    reason = models.TextField(blank=True, help_text="Why it was rejected; the person reads it.")
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        verbose_name = "audited credit"
        ordering = ["audit", "replacement", "date_earned", "id"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "cec_entry"], name="audit_credit_once"),
            models.CheckConstraint(condition=~Q(state=rules.REJECTED) | ~Q(reason=""),
                                   name="audit_credit_rejected_has_reason"),
            models.CheckConstraint(condition=Q(cecs__gt=0), name="audit_credit_positive"),
        ]

    def __str__(self):
        return f"{self.cecs} CECs · {self.course_name} ({self.date_earned})"


class AuditProof(models.Model):
    """One file of proof for one credit (a certificate of completion, a transcript), checked and stored like a
    CPR/AED card file: private storage, a random name, served only to its owner and staff."""

    credit = models.ForeignKey(AuditCredit, on_delete=models.CASCADE, related_name="proofs")
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=audit_proof_file_name, max_length=120)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        verbose_name = "audit proof file"
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["credit", "sha256"], name="audit_proof_once_per_credit")]

    def __str__(self):
        return self.original_name

    @property
    def size_label(self) -> str:
        from acsm_portal.uploads import format_size

        return format_size(self.size)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class AuditLog(models.Model):
    """Who moved an audit from which state to which, when and why. A step that leaves the audit's state as it was
    (a credit accepted or rejected, a proof added, a replacement credit) is logged with the same state on both
    sides; the creation with an empty ``from_state``."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="log")
    from_state = models.CharField(max_length=10, blank=True)
    to_state = models.CharField(max_length=10)
    actor = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["at", "id"]


class AuditEmail(models.Model):
    """One email an audit calls for, sent once by the worker (``services.audit_email_send``): claimed in a short
    transaction (``claimed_at``), then sent, then ``emailed_at`` set; ``key`` makes each one once per audit
    (``"selected"``, ``"reminder-7-<due date>"``, ``"extended-<due date>"``, ``"passed"``, …)."""

    class Kind(models.TextChoices):
        SELECTED = "selected", "Selected for audit"
        REMINDER = "reminder", "Reminder"
        EXTENDED = "extended", "More time given"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed – suspended"
        CANCELED = "canceled", "Canceled"
        REINSTATED = "reinstated", "Reinstated"

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="emails")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=40)
    days_before = models.PositiveSmallIntegerField(null=True, blank=True, help_text="For a reminder.")
    due_on = models.DateField(null=True, blank=True, help_text="The due date the email states, if any.")
    created_at = models.DateTimeField(default=clock.now, editable=False)
    claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the email; another leaves it alone for a while, then takes it over.",
    )
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["audit", "key"], name="audit_email_once")]
        indexes = [models.Index(fields=["created_at"], condition=Q(emailed_at__isnull=True),
                                name="audit_email_unsent")]

    def __str__(self):
        return f"{self.get_kind_display()} email for audit {self.audit_id}"


class RenewalForAudit(OrderLine):
    """A paid renewal as staff pick it for audit in the admin (**Select for audit**): a proxy of
    ``payments.OrderLine`` with no table of its own, so payments knows nothing of audits."""

    class Meta:
        proxy = True
        verbose_name = "paid renewal"
        verbose_name_plural = "paid renewals (select for audit)"
