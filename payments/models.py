from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from acsm_portal import clock


class Order(models.Model):
    """What a person buys: renewals (and late fees), with names and prices copied at placement.
    State changes go through ``services.order_transition``."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending payment"
        PAID = "paid", "Paid"
        CANCELED = "canceled", "Canceled"
        REFUNDED = "refunded", "Refunded"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=20, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    total = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="usd")
    time_zone = models.CharField(
        max_length=64, blank=True, default="",
        help_text="The person's time zone when the order was placed; the receipt states its times in it.",
    )
    # Billing address as given at checkout (kept even if the profile changes later).
    billing_name = models.CharField(max_length=300)
    billing_line1 = models.CharField(max_length=200)
    billing_line2 = models.CharField(max_length=200, blank=True)
    billing_city = models.CharField(max_length=100)
    billing_state = models.CharField(max_length=100, blank=True)
    billing_postal_code = models.CharField(max_length=20)
    billing_country = models.CharField(max_length=2)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    receipt_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the receipt email; another leaves it alone for a while, then takes it over.",
    )
    receipt_emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "state"], name="order_user_state")]
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative")]

    def __str__(self):
        return f"Order {self.number}"

    @property
    def billing_lines(self) -> list[str]:
        city = " ".join(filter(None, [self.billing_city + ("," if self.billing_state else ""), self.billing_state,
                                      self.billing_postal_code]))
        return [x for x in [self.billing_name, self.billing_line1, self.billing_line2, city, self.billing_country] if x]


class OrderLine(models.Model):
    class Kind(models.TextChoices):
        RENEWAL = "renewal", "Recertification"
        LATE_FEE = "late_fee", "Late fee"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    certification = models.ForeignKey("certifications.Certification", on_delete=models.PROTECT, related_name="+")
    cycle = models.ForeignKey("certifications.Cycle", on_delete=models.PROTECT, related_name="+",
                              help_text="The cycle this renewal closes.")
    renewed_cycle = models.ForeignKey(
        "certifications.Cycle", on_delete=models.PROTECT, related_name="+", null=True, blank=True,
        help_text="The cycle this renewal opened, once the order was paid.",
    )
    description = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveSmallIntegerField(default=1)
    total_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "certification", "kind"], name="order_line_once")]

    def __str__(self):
        return self.description


class Payment(models.Model):
    """One attempt to pay an order through Stripe. State changes go through ``services.payment_transition``."""

    class State(models.TextChoices):
        CREATED = "created", "Created"
        PROCESSING = "processing", "Processing"
        REQUIRES_ACTION = "requires_action", "Needs authentication"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"
        REFUNDED = "refunded", "Refunded"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    state = models.CharField(max_length=20, choices=State.choices, default=State.CREATED)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    stripe_setup_intent = models.CharField(max_length=255, blank=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    refunded_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_by = models.CharField(max_length=100, blank=True, help_text="Who or what made the last change.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["stripe_payment_intent"], condition=~Q(stripe_payment_intent=""), name="one_payment_per_intent"
            ),
            # At most one attempt in flight per order, and at most one success.
            models.UniqueConstraint(
                fields=["order"], condition=Q(state__in=["created", "processing", "requires_action"]),
                name="one_open_payment_per_order",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(state__in=["succeeded", "refunded"]), name="one_success_per_order"
            ),
            models.CheckConstraint(condition=Q(refunded_amount__lte=models.F("amount")), name="refund_within_amount"),
        ]

    def __str__(self):
        return f"Payment {self.pk} for {self.order.number} ({self.state})"


class OrderLog(models.Model):
    """Who moved an order from which state to which, when and why; a refund that leaves the order's state as it
    was is logged with the same state on both sides."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="log")
    from_state = models.CharField(max_length=10)
    to_state = models.CharField(max_length=10)
    actor = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["at", "id"]


class PaymentLog(models.Model):
    """Who moved a payment from which state to which, and when."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="log")
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    actor = models.CharField(max_length=100)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["at", "id"]


class Refund(models.Model):
    """Money given back on a payment, line by line (``RefundLine``), through Stripe. Made by
    ``refunds.payment_refund``: recorded ``pending`` (its amount held on ``Payment.refunded_amount``) before Stripe
    is called with the idempotency key ``refund-<id>``, then ``succeeded`` (the renewals undone or kept as staff
    chose, the person emailed once) or ``failed`` (the amount let go)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    key = models.UUIDField(
        null=True, blank=True, unique=True, editable=False,
        help_text="The refund form's own key: the same form sent twice finds this refund instead of making another.",
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    stripe_refund = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=clock.now, editable=False)
    stripe_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a request began asking Stripe for this refund; another leaves it alone for a while.",
    )
    settled_at = models.DateTimeField(null=True, blank=True, help_text="When Stripe's answer was recorded.")
    email_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the refund email; another leaves it alone for a while, then takes it over.",
    )
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]

    def __str__(self):
        return f"Refund {self.pk} of ${self.amount} ({self.state})"


class RefundLine(models.Model):
    """How much of one order line a refund gives back, and, for a renewal, what staff chose for the renewal
    (``renewal``: keep it or undo it; blank where there was nothing to choose) and what came of it (``outcome``,
    as the refund page and the email say it)."""

    class Renewal(models.TextChoices):
        KEEP = "keep", "Keep the renewal"
        UNDO = "undo", "Undo the renewal"

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    renewal = models.CharField(max_length=4, choices=Renewal.choices, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["order_line_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_line_positive"),
            models.UniqueConstraint(fields=["refund", "order_line"], name="refund_line_once"),
        ]

    def __str__(self):
        return f"${self.amount} of {self.order_line}"

    NOT_UNDONE = "Not undone: "  # how ``outcome`` begins when an undo staff chose was refused at settlement
    # How ``outcome`` ends when the renewal had been undone before this refund settled (by another refund):
    # ``certifications.renewals.Renewal.already_undone``.
    ALREADY_UNDONE = "renewal was already undone."

    @property
    def undid_renewal(self) -> bool:
        """Whether this line's refund undid its renewal (not one undone before it, not one it could not undo)."""
        return (self.renewal == self.Renewal.UNDO and bool(self.outcome)
                and not self.outcome.startswith(self.NOT_UNDONE) and not self.outcome.endswith(self.ALREADY_UNDONE))


class WebhookEvent(models.Model):
    """Each Stripe event id is handled once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=clock.now, editable=False)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
