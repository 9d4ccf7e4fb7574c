"""Payment rules with no I/O: the state machine and money in cents."""

from decimal import Decimal

CREATED, PROCESSING, REQUIRES_ACTION = "created", "processing", "requires_action"
SUCCEEDED, FAILED, CANCELED, REFUNDED = "succeeded", "failed", "canceled", "refunded"

# Which state may follow which. A move to the state a payment is already in is a no-op, not an error.
TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({PROCESSING, CANCELED, FAILED}),
    PROCESSING: frozenset({REQUIRES_ACTION, SUCCEEDED, FAILED, CANCELED}),
    REQUIRES_ACTION: frozenset({PROCESSING, SUCCEEDED, FAILED, CANCELED}),
    # Stripe is the source of truth: a charge it reports as succeeded is honoured even after we saw a failure.
    FAILED: frozenset({SUCCEEDED}),
    CANCELED: frozenset({SUCCEEDED}),
    SUCCEEDED: frozenset({REFUNDED}),
    REFUNDED: frozenset(),
}
OPEN_STATES = frozenset({CREATED, PROCESSING, REQUIRES_ACTION})


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS[current]


def to_cents(amount: Decimal) -> int:
    """Dollars to Stripe's integer cents, exactly; refuses fractions of a cent."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
