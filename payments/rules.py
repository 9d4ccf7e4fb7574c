"""Order and payment rules with no I/O: the two state machines and money in cents."""

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

# Orders: placed pending; paid once Stripe says so, or canceled when a changed cart replaces them; a paid order is
# refunded when all of its payment is. A move to the state an order is already in is a no-op, not an error.
ORDER_PENDING, ORDER_PAID, ORDER_CANCELED, ORDER_REFUNDED = "pending", "paid", "canceled", "refunded"
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    ORDER_PENDING: frozenset({ORDER_PAID, ORDER_CANCELED}),
    ORDER_PAID: frozenset({ORDER_REFUNDED}),
    ORDER_CANCELED: frozenset(),
    ORDER_REFUNDED: frozenset(),
}


def can_move(current: str, target: str) -> bool:
    """Whether a payment in state ``current`` may move to ``target`` (both ``Payment.State`` values)."""
    return target in TRANSITIONS[current]


def order_can_move(current: str, target: str) -> bool:
    """Whether an order in state ``current`` may move to ``target`` (both ``Order.State`` values)."""
    return target in ORDER_TRANSITIONS[current]


def to_cents(amount: Decimal) -> int:
    """Dollars to Stripe's integer cents, exactly; refuses fractions of a cent."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)
