from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


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

    class Meta:
        ordering = ["certification_type__display_order", "certification_type__code"]
        constraints = [
            models.UniqueConstraint(fields=["user", "certification_type"], name="one_certification_per_type"),
        ]

    def __str__(self):
        return f"{self.certification_type.code} for {self.user.email}"


class Cycle(models.Model):
    """A recertification cycle. Exactly one cycle per certification is open; renewed ones are history."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RENEWED = "renewed", "Renewed"

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="cycles")
    start = models.DateField()
    end = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    renewed_at = models.DateTimeField(null=True, blank=True)

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
