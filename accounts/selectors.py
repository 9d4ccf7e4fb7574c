"""Reads about people for pages."""

from django.db import connection

ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


def billing_address(*, user) -> dict[str, str] | None:
    """``user``'s saved billing address, ``{"line1": "9 Elm St", "line2": "", "city": ..., "state": ...,
    "postal_code": ..., "country": "US"}``, or None when they saved none: one query, written out (checkout reads it
    on every display, and composing it through the ORM cost more than the rest of reading it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(ADDRESS_FIELDS)} FROM accounts_billingaddress WHERE user_id = %s",
                       [user.pk])
        row = cursor.fetchone()
    return dict(zip(ADDRESS_FIELDS, row)) if row else None
