from decimal import Decimal

from django import template

from cecs.rules import format_cecs

register = template.Library()


@register.filter(name="cecs")
def cecs_filter(value) -> str:
    """45 → '45', 60.50 → '60.5', 44.25 → '44.25'."""
    if value in (None, ""):
        return ""
    return format_cecs(Decimal(value))
