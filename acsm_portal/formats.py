"""How pages and messages write dates: as the how-to does, 7/19/2025."""

from datetime import date


def format_date(day: date) -> str:
    """``day`` as month/day/year without leading zeros: "7/19/2025"."""
    return f"{day.month}/{day.day}/{day.year}"


def format_range(start: date, end: date) -> str:
    """A cycle or any date range, both ends inclusive: "1/1/2024 - 12/31/2026"."""
    return f"{format_date(start)} - {format_date(end)}"
