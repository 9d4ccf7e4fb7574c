"""Approved continuing-education providers, their approved courses, the people and API tokens that post
completions for them, and each completion posted."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

from acsm_portal import clock
from cecs.models import CECEntry, CreditFormat


class Provider(models.Model):
    """An approved provider (staff-managed). Only an active provider may post completions."""

    name = models.CharField(max_length=200)
    number = models.CharField("provider number", max_length=20, unique=True, help_text="Such as P-0001.")
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.number})"


class Course(models.Model):
    """A course approved for ``cecs`` CECs from ``valid_from`` through ``valid_to`` (completions dated in that
    window only)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="courses")
    number = models.CharField("course number", max_length=40)
    title = models.CharField(max_length=200)
    format = models.CharField(max_length=20, choices=CreditFormat.choices)
    cecs = models.DecimalField("CECs approved", max_digits=6, decimal_places=2,
                               validators=[MinValueValidator(0.01)])
    valid_from = models.DateField()
    valid_to = models.DateField()

    class Meta:
        ordering = ["provider", "number"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "number"], name="course_number_once_per_provider"),
            models.CheckConstraint(condition=Q(cecs__gt=0), name="course_cecs_positive"),
            models.CheckConstraint(condition=Q(valid_to__gte=models.F("valid_from")), name="course_valid_window"),
        ]

    def __str__(self):
        return f"{self.number} {self.title} ({self.cecs} CECs)"


class ProviderMember(models.Model):
    """A person who works for a provider: they log in to the provider area only, never to certificant pages."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_member")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="members")

    class Meta:
        verbose_name = "provider user"

    def __str__(self):
        return f"{self.user.email} for {self.provider}"


class ProviderToken(AbstractAPIKey):
    """An API token of one provider, sent as ``Authorization: Bearer <token>``; kept hashed (the library's
    hasher), shown once when created, revocable (``revoked``)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="tokens")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "provider API token"
        verbose_name_plural = "provider API tokens"


class Completion(models.Model):
    """One course completion a provider posted for a certificant, and the credit it put on their ledger.

    Idempotent by ``(provider, external_id)``: posting the same again returns this one and changes nothing.
    Retracted within ``services.RETRACT_DAYS`` days: the credit leaves the ledger and the totals; this row stays,
    with the reason, so the certificant's dashboard can say what happened."""

    class State(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        RETRACTED = "retracted", "Retracted"

    class Via(models.TextChoices):
        API = "api", "API"
        CSV = "csv", "CSV roster"
        FORM = "form", "Form"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="completions")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="completions")
    external_id = models.CharField("external ID", max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_completions")
    completed_on = models.DateField()
    cecs = models.DecimalField("CECs granted", max_digits=6, decimal_places=2)
    cec_entry = models.OneToOneField(CECEntry, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="provider_completion")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACCEPTED)
    via = models.CharField(max_length=5, choices=Via.choices)
    posted_by = models.CharField(max_length=200, help_text="The provider user or API token that posted it.")
    created_at = models.DateTimeField(default=clock.now, editable=False)
    retracted_at = models.DateTimeField(null=True, blank=True)
    retracted_by = models.CharField(max_length=200, blank=True)
    retraction_reason = models.CharField(max_length=500, blank=True)
    digest_sent_at = models.DateTimeField(null=True, blank=True,
                                          help_text="When the certificant's daily digest named it.")
    digest_claimed_at = models.DateTimeField(null=True, blank=True,
                                             help_text="When a digest run took it to send (cleared once sent).")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_id"], name="completion_once_per_external_id"),
            models.CheckConstraint(condition=Q(cecs__gt=0), name="completion_cecs_positive"),
            models.CheckConstraint(condition=Q(state="accepted") | (Q(retracted_at__isnull=False)
                                                                     & ~Q(retraction_reason="")),
                                   name="completion_retracted_has_reason"),
        ]
        indexes = [
            models.Index(fields=["provider", "completed_on"], name="completion_by_provider_date"),
            models.Index(fields=["created_at"], condition=Q(digest_sent_at__isnull=True, state="accepted"),
                         name="completion_digest_due"),
        ]

    def __str__(self):
        return f"{self.external_id}: {self.course.number} for {self.user_id}"
