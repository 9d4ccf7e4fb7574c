import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from acsm_portal import clock


class CertificationType(models.Model):
    """A certification the program offers (GEI, CPT, EP, CEP), with its rules and fees."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=120)
    required_cecs = models.PositiveSmallIntegerField("required CECs", validators=[MinValueValidator(1)])
    renewal_fee = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    late_fee = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("80.00"), validators=[MinValueValidator(Decimal("0"))],
        help_text="Added to the cart when the renewal is paid in the grace period.",
    )
    cycle_years = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "code"]

    def __str__(self):
        return f"{self.code} – {self.name}"


class Certification(models.Model):
    """One certificant's certification of one type."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certifications")
    certification_type = models.ForeignKey(CertificationType, on_delete=models.PROTECT, related_name="+")
    first_certified_on = models.DateField()
    suspended_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Set while the certification is suspended (a failed audit); cleared when staff reinstate it. "
                  "Changed only through suspensions.certification_suspend / certification_reinstate.",
    )
    suspended_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["certification_type__display_order", "certification_type__code"]
        constraints = [
            models.UniqueConstraint(fields=["user", "certification_type"], name="one_certification_per_type"),
            models.CheckConstraint(condition=Q(suspended_at__isnull=True) | ~Q(suspended_reason=""),
                                   name="certification_suspended_has_reason"),
        ]

    def __str__(self):
        return f"{self.certification_type.code} for {self.user.email}"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class CertificationLog(models.Model):
    """Who suspended or reinstated a certification, when and why."""

    class Action(models.TextChoices):
        SUSPENDED = "suspended", "Suspended"
        REINSTATED = "reinstated", "Reinstated"

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="log")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["at", "id"]


class Cycle(models.Model):
    """A recertification cycle. Exactly one cycle per certification is open; renewed ones are history, and so is a
    cycle whose renewal was undone (refunded): it is kept, ``undone``, beside the cycle that opened again. State
    changes go through ``renewals.certification_renew`` and ``renewals.certification_renewal_undo``, logged in
    ``CycleLog``."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RENEWED = "renewed", "Renewed"
        UNDONE = "undone", "Renewal undone"

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="cycles")
    start = models.DateField()
    end = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    renewed_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(
        null=True, blank=True, help_text="When the renewal that opened this cycle was undone.",
    )

    class Meta:
        ordering = ["certification", "-start"]
        constraints = [
            models.UniqueConstraint(
                fields=["certification"], condition=Q(state="open"), name="one_open_cycle_per_certification"
            ),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="cycle_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.start:%-m/%-d/%Y} - {self.end:%-m/%-d/%Y}"


class CycleLog(models.Model):
    """Who moved a cycle from which state to which (renewed it, undid its renewal), when and why."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="log")
    from_state = models.CharField(max_length=10, blank=True, help_text="Empty when the move created the cycle.")
    to_state = models.CharField(max_length=10)
    actor = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["at", "id"]


def cpr_file_name(instance: "CprUploadFile", filename: str) -> str:
    """A random storage name; the uploaded file's own name is kept as data only, never as a path."""
    from acsm_portal.uploads import EXTENSIONS

    return f"cpr/{instance.key.hex}{EXTENSIONS[instance.content_type]}"


class CprUpload(models.Model):
    """A CPR/AED card for one certification's open cycle: a draft holding files until it is submitted, then reviewed."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Submitted – pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class CardType(models.TextChoices):
        CPR_AED = "cpr_aed", "CPR/AED"
        BLS = "bls", "BLS"
        ACLS = "acls", "ACLS"

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="cpr_uploads")
    cycle = models.ForeignKey(Cycle, on_delete=models.RESTRICT, related_name="cpr_uploads")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    card_type = models.CharField(max_length=10, choices=CardType.choices, blank=True)
    issuing_organization = models.CharField(max_length=200, blank=True)
    expires_on = models.DateField("card expires on", null=True, blank=True)
    skills_check_confirmed = models.BooleanField("hands-on skills check confirmed", default=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rejection_reason = models.TextField(blank=True)
    decision_email_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the decision email; another leaves it alone for a while.",
    )
    decision_emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CPR card upload"
        ordering = ["submitted_at", "id"]
        permissions = [("can_review_cpr", "Can review CPR cards")]
        indexes = [
            # The staff queue in its order: one state's cards (the pending queue, the approved ones) and their count,
            # and every submitted card (the "All" view).
            models.Index(fields=["state", "submitted_at", "id"], name="cpr_upload_by_state"),
            models.Index(fields=["submitted_at", "id"], condition=~Q(state="draft"), name="cpr_upload_submitted"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["certification"], condition=Q(state="draft"), name="one_cpr_draft_per_certification"
            ),
            models.CheckConstraint(
                condition=Q(state="draft") | Q(submitted_at__isnull=False), name="cpr_submitted_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(state="rejected") | ~Q(rejection_reason=""), name="cpr_rejected_has_reason"
            ),
        ]

    def __str__(self):
        return f"CPR card for {self.certification} ({self.get_state_display()})"


class CprUploadFile(models.Model):
    """One file of a CPR/AED card (a wallet card may need its front and back)."""

    upload = models.ForeignKey(CprUpload, on_delete=models.CASCADE, related_name="files")
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=cpr_file_name, max_length=120)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        verbose_name = "CPR card file"
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["upload", "sha256"], name="cpr_file_once_per_upload")]

    def __str__(self):
        return self.original_name

    @property
    def size_label(self) -> str:
        from acsm_portal.uploads import format_size

        return format_size(self.size)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def certificate_file_name(instance, filename: str) -> str:
    """A fixed name per certificate, so rendering twice writes the same file."""
    return f"certificates/{instance.number}.pdf"


def new_verify_code() -> str:
    """An unguessable code for a certificate's public verify page: 16 URL-safe characters (96 random bits), unlike
    the certificate number, which is sequential."""
    return secrets.token_urlsafe(12)


class Certificate(models.Model):
    """The certificate issued when a certification is renewed, for the cycle it opens. Voided (never deleted) when
    that renewal is undone: a void certificate is no longer offered for download.

    ``status`` is what anyone verifying it is told; it moves only through ``certificate_status.certificate_transition``
    (locked, logged in ``CertificateLog``): by the clock (Active, then Expired in the grace period, then Lapsed, or
    Renewed once a newer certificate carries the certification on), and by staff (Suspended, Reinstated, Revoked)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        GRACE = "grace", "Expired (grace period)"
        LAPSED = "lapsed", "Lapsed"
        SUSPENDED = "suspended", "Suspended"
        REVOKED = "revoked", "Revoked"
        RENEWED = "renewed", "Renewed (replaced by a newer certificate)"

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="certificates")
    cycle = models.OneToOneField(Cycle, on_delete=models.PROTECT, related_name="certificate")
    number = models.CharField(max_length=30, unique=True)
    holder_name = models.CharField(max_length=300)
    certification_name = models.CharField(max_length=120)
    issued_on = models.DateField()
    valid_through = models.DateField()
    pdf = models.FileField(upload_to=certificate_file_name, blank=True, max_length=120)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    rendered_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    verify_code = models.CharField(max_length=32, unique=True, default=new_verify_code, editable=False,
                                   help_text="The code of its public verify page (/verify/<code>/).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-issued_on", "-id"]
        indexes = [models.Index(fields=["status", "valid_through"], name="certificate_by_status")]
        constraints = [
            models.CheckConstraint(condition=Q(voided_at__isnull=True) | ~Q(void_reason=""),
                                   name="certificate_void_has_reason"),
        ]

    def __str__(self):
        return f"Certificate {self.number}"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None


class CertificateLog(models.Model):
    """One move of a certificate's status: from, to, who ("staff:3", "scheduler", "audit"), why, and when.

    A staff move also calls for an email to the holder (``email_wanted``), sent once by the worker
    (``certificate_status.certificate_status_email_send``): claimed in a short transaction (``email_claimed_at``),
    then sent, then ``emailed_at`` set; the sweeper queues again what is wanted and not sent."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="log")
    from_status = models.CharField(max_length=10, choices=Certificate.Status.choices)
    to_status = models.CharField(max_length=10, choices=Certificate.Status.choices)
    actor = models.CharField(max_length=100)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=clock.now, editable=False)
    email_wanted = models.BooleanField(
        default=False, editable=False, help_text="Whether the move calls for an email to the holder (staff's moves).",
    )
    email_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the email; another leaves it alone for a while, then takes it over.",
    )
    emailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["at"], condition=Q(email_wanted=True, emailed_at__isnull=True),
                                name="certificate_log_email_unsent")]

    def __str__(self):
        return f"{self.certificate.number}: {self.from_status} → {self.to_status}"
