"""Yearly caps every install starts with; staff edit them afterwards in admin."""

from decimal import Decimal

YEARLY_CAPS = {"teaching": Decimal("5"), "volunteering": Decimal("8"), "cpr_aed": Decimal("5")}


def yearly_caps_ensure(model) -> None:
    for fmt, max_cecs in YEARLY_CAPS.items():
        model.objects.get_or_create(format=fmt, defaults={"max_cecs": max_cecs})
