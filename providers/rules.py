"""Provider rules with no I/O: how a posted name is compared, and what a completion may grant."""

import unicodedata
from datetime import date
from decimal import Decimal

# How long after posting a provider may retract a completion.
RETRACT_DAYS = 30
# The most completions one request (or one CSV roster) may carry.
BATCH_LIMIT = 1_000
CSV_ROW_LIMIT = 10_000


def name_key(name: str) -> str:
    """``name`` as completions are matched on: accents dropped (NFKD, combining marks removed), case folded and all
    white space removed, so "  De la Cruz ", "DELACRUZ" and "de la Crúz" compare equal."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(bare.casefold().split())


def grant_error(*, cecs: Decimal, approved: Decimal) -> str:
    """Why ``cecs`` may not be granted for a course approved for ``approved`` CECs, or "" when it may."""
    if not cecs.is_finite() or cecs <= 0:
        return "CECs must be a positive number."
    if cecs > approved:
        return f"At most {approved} CECs are approved for this course."
    if cecs.as_tuple().exponent < -2:
        return "CECs have at most two decimal places."
    return ""


def date_error(*, completed_on: date, valid_from: date, valid_to: date, latest: date) -> str:
    """Why a completion on ``completed_on`` is refused for a course approved from ``valid_from`` through
    ``valid_to``, when no date after ``latest`` (today, wherever on earth it is latest) may be given; "" when
    it is fine."""
    if completed_on > latest:
        return "The completion date is in the future."
    if not valid_from <= completed_on <= valid_to:
        return (f"The course is approved for completions from {valid_from:%-m/%-d/%Y} through "
                f"{valid_to:%-m/%-d/%Y}.")
    return ""
