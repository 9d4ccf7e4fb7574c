from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from acsm_portal import clock



class CreditType(models.TextChoices):
    """The unit a credit was earned in; converted to CECs by ``rules.to_cecs``."""

    CEC = "cec", "CEC"
    CEU = "ceu", "CEU"
    CME = "cme", "CME"
    COLLEGE = "college", "College credit hour"


class CreditFormat(models.TextChoices):
    LIVE = "live", "Live course"
    ONLINE = "online", "Online course"
    HOME_STUDY = "home_study", "Home study"
    CONFERENCE = "conference", "Conference"
    COLLEGE = "college", "College course"
    TEACHING = "teaching", "Teaching"
    VOLUNTEERING = "volunteering", "Volunteering"
    CPR = "cpr_aed", "CPR/AED/First Aid"
    OTHER = "other", "Other"


class CECEntry(models.Model):
    """One reported continuing-education credit."""

    class Source(models.TextChoices):
        SELF = "self", "Self-reported"
        PROVIDER = "provider", "Provider"
        STAFF = "staff", "Staff"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cec_entries")
    date_earned = models.DateField()
    date_reported = models.DateField(help_text="Set by the server when the credit is reported.")
    units = models.DecimalField(
        "credits earned", max_digits=6, decimal_places=2, help_text="In the unit of the credit type."
    )
    credit_type = models.CharField(max_length=10, choices=CreditType.choices, default=CreditType.CEC)
    cecs = models.DecimalField("CECs earned", max_digits=6, decimal_places=2)
    course_name = models.CharField(max_length=200)
    provider = models.CharField(max_length=200, blank=True)
    format = models.CharField(max_length=20, choices=CreditFormat.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SELF)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CEC entry"
        verbose_name_plural = "CEC entries"
        ordering = ["-date_earned", "-id"]
        indexes = [models.Index(fields=["user", "date_earned"], name="cec_user_date")]
        constraints = [
            models.CheckConstraint(condition=models.Q(cecs__gt=0), name="cec_positive"),
            models.CheckConstraint(condition=models.Q(units__gt=0), name="cec_units_positive"),
        ]

    def __str__(self):
        return f"{self.cecs} CECs · {self.course_name} ({self.date_earned})"


class YearlyCap(models.Model):
    """At most ``max_cecs`` CECs of one format count in a calendar year. Staff-editable."""

    format = models.CharField(max_length=20, choices=CreditFormat.choices, unique=True)
    max_cecs = models.DecimalField("max CECs a year", max_digits=6, decimal_places=2,
                                   validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["format"]

    def __str__(self):
        return f"{self.get_format_display()}: {self.max_cecs} a year"
