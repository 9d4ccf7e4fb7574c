"""Reference data every install starts with; staff edit it afterwards in admin.

Functions take the model class so data migrations can pass their historical model.
"""

from decimal import Decimal

CERTIFICATION_TYPES = [
    # code, name, required CECs, renewal fee, display order
    ("GEI", "Certified Group Exercise Instructor", 45, Decimal("60.00"), 1),
    ("CPT", "Certified Personal Trainer", 45, Decimal("60.00"), 2),
    ("EP", "Certified Exercise Physiologist", 60, Decimal("70.00"), 3),
    ("CEP", "Certified Clinical Exercise Physiologist", 60, Decimal("70.00"), 4),
]


def certification_types_ensure(model) -> None:
    for code, name, required, fee, order in CERTIFICATION_TYPES:
        model.objects.get_or_create(
            code=code,
            defaults={"name": name, "required_cecs": required, "renewal_fee": fee, "late_fee": Decimal("80.00"),
                      "cycle_years": 3, "display_order": order},
        )
