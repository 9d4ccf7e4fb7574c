"""Renewing a certification once its order is paid: the next cycle, and a new certificate."""

from datetime import timedelta

from django.db import transaction

from acsm_portal import clock

from . import rules
from .certificates import certificate_issue
from .models import Cycle


def certification_renew(*, cycle_id: int) -> Cycle:
    """Close ``cycle_id`` as renewed, open the next one and issue its certificate; returns the cycle it opened.
    Renewing the same cycle twice is a no-op: the cycle already moved on, and its successor is returned.
    Raises ``Cycle.DoesNotExist``."""
    with transaction.atomic():
        cycle = (Cycle.objects.select_for_update(of=("self",))
                 .select_related("certification__certification_type", "certification__user").get(pk=cycle_id))
        if cycle.state == Cycle.State.RENEWED:
            return Cycle.objects.get(certification_id=cycle.certification_id, start=cycle.end + timedelta(days=1))
        cycle.state, cycle.renewed_at = Cycle.State.RENEWED, clock.now()
        cycle.save(update_fields=["state", "renewed_at"])
        start, end = rules.next_cycle(end=cycle.end, years=cycle.certification.certification_type.cycle_years)
        new = Cycle.objects.create(certification_id=cycle.certification_id, start=start, end=end)
        certificate_issue(cycle=new, today=clock.today_for(cycle.certification.user))
        return new
