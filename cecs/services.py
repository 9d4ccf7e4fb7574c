"""State changes for the CEC ledger."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import FieldError
from certifications import rules as cert_rules
from certifications.selectors import open_cycles

from . import rules
from .models import CECEntry, CreditFormat, CreditType


class CECError(FieldError):
    """A refused CEC change."""


@dataclass(frozen=True)
class CECInput:
    date_earned: date
    units: Decimal
    credit_type: str
    course_name: str
    provider: str
    format: str


def _reportable_cycles(*, user, today: date) -> list[tuple[date, date]]:
    """Cycles a credit may be reported into: open, and not lapsed."""
    return [
        (c.start, c.end)
        for c in open_cycles(user=user)
        if cert_rules.cycle_status(start=c.start, end=c.end, today=today)
        in (cert_rules.Status.IN_PROCESS, cert_rules.Status.GRACE)
    ]


def _checked(*, user, data: CECInput, today: date) -> Decimal:
    """Validate ``data`` against the rules; return its value in CECs."""
    if data.credit_type not in CreditType.values:
        raise CECError("Choose a credit type from the list.", field="credit_type")
    if data.format not in CreditFormat.values:
        raise CECError("Choose a format from the list.", field="format")
    if data.date_earned > today:
        raise CECError(f"Date Earned cannot be in the future (today is {today:%-m/%-d/%Y}, "
                       f"{clock.zone_label_for(user)}).", field="date_earned")
    cycles = _reportable_cycles(user=user, today=today)
    if not cycles:
        raise CECError("You have no open certification cycle to report CECs into.", field="date_earned")
    if not cert_rules.date_in_cycles(data.date_earned, cycles):
        names = " or ".join(cert_rules.format_cycle(s, e) for s, e in sorted(set(cycles)))
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


def cec_report(*, user, data: CECInput, today: date) -> CECEntry:
    cecs = _checked(user=user, data=data, today=today)
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


def _editable(*, entry: CECEntry, today: date) -> None:
    if entry.source != CECEntry.Source.SELF:
        raise CECError("Only credits you reported yourself can be changed; contact us about this one.")
    if not cert_rules.date_in_cycles(entry.date_earned, _reportable_cycles(user=entry.user, today=today)):
        raise CECError("This credit belongs to a closed cycle and can no longer be changed.")


def cec_update(*, entry: CECEntry, data: CECInput, today: date) -> CECEntry:
    _editable(entry=entry, today=today)
    cecs = _checked(user=entry.user, data=data, today=today)
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


def cec_delete(*, entry: CECEntry, today: date) -> None:
    _editable(entry=entry, today=today)
    CECEntry.objects.filter(pk=entry.pk).delete()
