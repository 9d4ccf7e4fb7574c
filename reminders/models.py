"""Reminders: each one a person is sent, recorded before it is sent, once."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from acsm_portal import clock
from certifications.models import Certification, Cycle

from . import rules


class Reminder(models.Model):
    """One reminder for one certification's cycle, made by ``services.reminders_queue`` before anything is sent.
    The unique key (person, kind, certification, cycle, offset, the day it speaks of) makes each reminder once,
    whatever the scheduler does (two runs at once, a run killed half-way, a missed day). Reminders of one person
    made in one run with the same kind, offset and day are sent together as one email
    (``services.reminders_send``): claimed (``claimed_at``), sent, then ``sent_at`` set; or skipped with the
    reason when, at sending, it no longer applies (renewed meanwhile, reminders turned off)."""

    class Kind(models.TextChoices):
        CYCLE_ENDING = rules.CYCLE_ENDING, "Cycle ending"
        CPR_EXPIRING = rules.CPR_EXPIRING, "CPR/AED card expiring"
        GRACE_STARTED = rules.GRACE_STARTED, "Grace period started"
        GRACE_ENDING = rules.GRACE_ENDING, "Grace period ending"
        LAPSED = rules.LAPSED, "Lapsed"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="reminders")
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="reminders")
    offset = models.PositiveSmallIntegerField(help_text="Days before the day it speaks of; 0 for a notice after it.")
    about = models.DateField(help_text="The day it speaks of: the cycle end, the grace period's end, the card's expiry.")
    for_day = models.DateField(help_text="The person's date (in their zone) on which it was due.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    queued_at = models.DateTimeField(default=clock.now, editable=False,
                                     help_text="When it was last put in line to be sent: made, or resent by staff.")
    claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the email; another leaves it alone for a while, then takes it over.",
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When it was last sent.")
    sends = models.PositiveSmallIntegerField(default=0, help_text="Times sent: more than once only when staff resent it.")
    skip_reason = models.CharField(max_length=200, blank=True)
    resend_by = models.CharField(max_length=100, blank=True, help_text="The staff member who last asked to resend it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("resend_reminder", "Can send a reminder again")]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "certification", "cycle", "offset", "about"],
                                    name="reminder_once"),
            models.CheckConstraint(condition=~Q(state="sent") | Q(sent_at__isnull=False), name="reminder_sent_has_time"),
            models.CheckConstraint(condition=~Q(state="skipped") | ~Q(skip_reason=""),
                                   name="reminder_skipped_has_reason"),
        ]
        indexes = [
            # The sweeper's and the sender's look-up: reminders waiting to go out.
            models.Index(fields=["queued_at"], condition=Q(state="queued"), name="reminder_queued"),
            models.Index(fields=["user", "-created_at"], name="reminder_by_user"),
        ]

    def __str__(self):
        when = f"{self.offset} days before" if self.offset else "after"
        return f"{self.get_kind_display()}, {when} {self.about:%-m/%-d/%Y}"

    @property
    def message_key(self) -> tuple:
        """Reminders with the same key are sent together as one email."""
        return (self.user_id, self.kind, self.offset, self.about, self.for_day)
