"""State changes for the CEC ledger."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError
from acsm_portal.formats import format_date, format_range

from . import rules
from .models import CECEntry, CreditFormat, CreditType


class CECError(ServiceError):
    """A refused CEC change."""


@dataclass(frozen=True)
class CECInput:
    date_earned: date
    units: Decimal
    credit_type: str
    course_name: str
    provider: str
    format: str


Cycles = list[tuple[date, date]]


def _in_cycles(day: date, cycles: Cycles) -> bool:
    return any(start <= day <= end for start, end in cycles)


def _checked(*, user, data: CECInput, today: date, cycles: Cycles) -> Decimal:
    """Validate ``data`` against the rules and the ``(start, end)`` cycles a credit may be reported into; return its
    value in CECs. Raises ``CECError`` naming the field."""
    if data.credit_type not in CreditType.values:
        raise CECError("Choose a credit type from the list.", field="credit_type")
    if data.format not in CreditFormat.values:
        raise CECError("Choose a format from the list.", field="format")
    if data.date_earned > today:
        raise CECError(f"Date Earned cannot be in the future (today is {format_date(today)}, "
                       f"{clock.zone_label_for(user)}).", field="date_earned")
    if not cycles:
        raise CECError("You have no open certification cycle to report CECs into.", field="date_earned")
    if not _in_cycles(data.date_earned, cycles):
        names = " or ".join(format_range(s, e) for s, e in sorted(set(cycles)))
        raise CECError(f"Date Earned must fall inside your current certification cycle ({names}).",
                       field="date_earned")
    if data.units <= 0:
        raise CECError("Credits earned must be more than 0.", field="units")
    cecs = rules.to_cecs(data.units, data.credit_type)
    if cecs > rules.MAX_CECS_PER_ENTRY:
        raise CECError(
            f"One entry can hold at most {rules.format_cecs(rules.MAX_CECS_PER_ENTRY)} CECs "
            f"(this is {rules.format_cecs(cecs)}); report a longer course as several entries.",
            field="units",
        )
    if not rules.is_quarter_step(cecs):
        steps = "CECs are reported in quarter steps (0.25, 0.5, 0.75 …)"
        if data.credit_type == CreditType.CEC:
            raise CECError(f"{steps}; {rules.format_cecs(cecs)} is not one.", field="units")
        label = CreditType(data.credit_type).label
        raise CECError(f"{steps}; {data.units} {label} makes {rules.format_cecs(cecs)} CECs, which is not one.",
                       field="units")
    return cecs


def cec_report(*, user, data: CECInput, today: date, cycles: Cycles) -> CECEntry:
    """Record a credit ``user`` reports on ``today`` (their date), earned inside one of ``cycles`` (the ``(start,
    end)`` of each cycle a credit may be reported into, from ``certifications.selectors.reportable_cycles``).
    Raises ``CECError``."""
    cecs = _checked(user=user, data=data, today=today, cycles=cycles)
    with transaction.atomic():
        return CECEntry.objects.create(
            user=user,
            date_earned=data.date_earned,
            date_reported=today,
            units=data.units,
            credit_type=data.credit_type,
            cecs=cecs,
            course_name=data.course_name,
            provider=data.provider,
            format=data.format,
            source=CECEntry.Source.SELF,
        )


def _editable(*, entry: CECEntry, cycles: Cycles) -> None:
    if entry.source != CECEntry.Source.SELF:
        raise CECError("Only credits you reported yourself can be changed; contact us about this one.")
    if not _in_cycles(entry.date_earned, cycles):
        raise CECError("This credit belongs to a closed cycle and can no longer be changed.")


def cec_update(*, entry: CECEntry, data: CECInput, today: date, cycles: Cycles) -> CECEntry:
    """Change a self-reported credit of a cycle still open for reporting (``cycles`` as for ``cec_report``).
    Raises ``CECError``."""
    _editable(entry=entry, cycles=cycles)
    cecs = _checked(user=entry.user, data=data, today=today, cycles=cycles)
    with transaction.atomic():
        entry = CECEntry.objects.select_for_update().get(pk=entry.pk)
        entry.date_earned = data.date_earned
        entry.units = data.units
        entry.credit_type = data.credit_type
        entry.cecs = cecs
        entry.course_name = data.course_name
        entry.provider = data.provider
        entry.format = data.format
        entry.save()
    return entry


def cec_delete(*, entry: CECEntry, cycles: Cycles) -> None:
    """Delete a self-reported credit of a cycle still open for reporting. Raises ``CECError``."""
    _editable(entry=entry, cycles=cycles)
    CECEntry.objects.filter(pk=entry.pk).delete()


def cec_save_by_staff(*, entry: CECEntry, adding: bool, today: date) -> CECEntry:
    """Save a credit staff added or corrected in the admin. A credit staff add is ``staff``-sourced, reported on
    ``today`` (the certificant's date), and the certificant can neither change nor delete it; its CECs are converted
    from its units (``rules.to_cecs``) either way. Raises ``CECError`` for units that make no CECs."""
    if entry.units is None or entry.units <= 0:
        raise CECError("Credits earned must be more than 0.", field="units")
    entry.cecs = rules.to_cecs(entry.units, entry.credit_type)
    if entry.cecs <= 0:
        raise CECError("These units make less than 0.01 CECs.", field="units")
    if adding:
        entry.source = CECEntry.Source.STAFF
        entry.date_reported = today
    with transaction.atomic():
        entry.save()
    return entry
