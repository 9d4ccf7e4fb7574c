"""How pages and messages write dates: as the how-to does, month/day/year without leading zeros."""

from datetime import date


def format_date(day: date) -> str:
    """``day`` as month/day/year without leading zeros: July 19 of year Y is "7/19/Y"."""
    return f"{day.month}/{day.day}/{day.year}"


def format_range(start: date, end: date) -> str:
    """A cycle or any date range, both ends inclusive: "1/1/Y - 12/31/Y" (with the two ends' years)."""
    return f"{format_date(start)} - {format_date(end)}"
