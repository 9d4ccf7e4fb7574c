"""Reads of the CEC ledger for pages."""

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from django.db import connection


class LedgerEntry(NamedTuple):
    """One credit as pages read it (plain values: a ledger may be long, and model instances cost ten times
    more to build)."""

    id: int
    date_earned: date
    date_reported: date
    cecs: Decimal
    course_name: str
    provider: str
    format: str
    credit_type: str
    source: str


# Written out rather than composed by the ORM: building and compiling the query cost more than reading the rows.
# The index ``cec_user_date`` answers it.
LEDGER_SQL = """
SELECT id, date_earned, date_reported, cecs, course_name, provider, format, credit_type, source
FROM cecs_cecentry WHERE user_id = %s AND date_earned >= %s ORDER BY date_earned DESC, id DESC
"""
CENT = Decimal("0.01")


def ledger(*, user, since: date) -> list[LedgerEntry]:
    """``user``'s credits earned on or after ``since``, newest first (``date_earned``, then the latest reported
    first): one query."""
    with connection.cursor() as cursor:
        cursor.execute(LEDGER_SQL, [user.pk, since])
        rows = cursor.fetchall()
    if rows and not isinstance(rows[0][3], Decimal):  # SQLite (development) hands back numbers, not decimals
        return [LedgerEntry(*row[:3], Decimal(str(row[3])).quantize(CENT), *row[4:]) for row in rows]
    return list(map(LedgerEntry._make, rows))
