"""Renewing a certification once its order is paid (the next cycle, and a new certificate), and undoing a renewal
when staff refund it.

Both moves lock the certification's cycles, log each cycle's move in ``CycleLog`` and treat a repeat as a no-op.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError

from . import rules
from .certificates import certificate_issue
from .models import Certificate, CprUpload, Cycle, CycleLog

log = logging.getLogger(__name__)


class RenewalError(ServiceError):
    """A renewal that cannot be undone, with a message fit for staff."""


def certification_renew(*, cycle_id: int, actor: str = "payment") -> Cycle:
    """Close ``cycle_id`` as renewed, open the next one and issue its certificate; returns the cycle it opened.
    ``actor`` (who or what renewed it) is logged in ``CycleLog`` for both cycles.
    Renewing the same cycle twice is a no-op: the cycle already moved on, and its successor is returned.
    Raises ``RenewalError`` for a cycle whose own renewal was undone (it is history), ``Cycle.DoesNotExist``."""
    with transaction.atomic():
        cycle = (Cycle.objects.select_for_update(of=("self",))
                 .select_related("certification__certification_type", "certification__user").get(pk=cycle_id))
        if cycle.state == Cycle.State.RENEWED:
            return _successors(cycle).exclude(state=Cycle.State.UNDONE).get()
        if cycle.state == Cycle.State.UNDONE:
            raise RenewalError(f"The cycle {rules.format_cycle(cycle.start, cycle.end)} cannot be renewed: the "
                               "renewal that opened it was undone.")
        cycle.state, cycle.renewed_at = Cycle.State.RENEWED, clock.now()
        cycle.save(update_fields=["state", "renewed_at"])
        start, end = rules.next_cycle(end=cycle.end, years=cycle.certification.certification_type.cycle_years)
        new = Cycle.objects.create(certification_id=cycle.certification_id, start=start, end=end)
        CycleLog.objects.bulk_create([
            CycleLog(cycle=cycle, from_state=Cycle.State.OPEN, to_state=Cycle.State.RENEWED, actor=actor[:100],
                     note=f"Renewed; the next cycle is {rules.format_cycle(start, end)}."),
            CycleLog(cycle=new, from_state="", to_state=Cycle.State.OPEN, actor=actor[:100],
                     note=f"Opened by the renewal of {rules.format_cycle(cycle.start, cycle.end)}."),
        ])
        certificate_issue(cycle=new, today=clock.today_for(cycle.certification.user))
        return new


def _successors(cycle: Cycle):
    """The cycles a renewal of ``cycle`` opened: at most one standing, any number undone."""
    return Cycle.objects.filter(certification_id=cycle.certification_id, start=cycle.end + timedelta(days=1))


# ---------------------------------------------------------------- undoing a renewal

RENEWED, UNDONE, RENEWED_AGAIN, NOT_RENEWED = "renewed", "undone", "renewed again", "not renewed"


@dataclass(frozen=True)
class Renewal:
    """Where the renewal of one cycle stands, in the words staff and the certificant read.

    ``state`` is ``"renewed"`` (it stands and may be undone), ``"undone"``, ``"renewed again"`` (the cycle it
    opened was itself renewed since: it cannot be undone) or ``"not renewed"``. ``cycle_label`` is the renewed
    cycle (``"1/1/Y - 12/31/Y"``), ``opened_label`` the cycle the renewal opened, ``certificate_number`` that
    cycle's certificate (``""`` if none).
    """

    code: str
    state: str
    cycle_label: str
    opened_label: str = ""
    certificate_number: str = ""

    @property
    def refusal(self) -> str:
        """Why this renewal cannot be undone now, or ``""`` when it can (or already was)."""
        if self.state == RENEWED_AGAIN:
            return (f"The {self.code} renewal cannot be undone: the cycle it opened ({self.opened_label}) "
                    "has been renewed since.")
        if self.state == NOT_RENEWED:
            return f"The {self.code} cycle {self.cycle_label} was not renewed; there is nothing to undo."
        return ""

    @property
    def if_undone(self) -> str:
        """What undoing it does, said before it is done."""
        said = f"{self.code} renewal will be undone: cycle {self.cycle_label} opens again"
        return said + (f"; certificate {self.certificate_number} will be voided." if self.certificate_number
                       else ".")

    @property
    def if_kept(self) -> str:
        """What keeping it means, said before the refund."""
        said = f"{self.code} renewal stays: cycle {self.cycle_label} stays renewed"
        return said + (f"; certificate {self.certificate_number} stays valid." if self.certificate_number else ".")

    @property
    def undone(self) -> str:
        """What undoing it did, said after."""
        said = f"{self.code} renewal undone: cycle {self.cycle_label} is open again"
        return said + (f"; certificate {self.certificate_number} voided." if self.certificate_number else ".")

    @property
    def kept(self) -> str:
        """What keeping it means, said after the refund."""
        said = f"{self.code} renewal kept: cycle {self.cycle_label} stays renewed"
        return said + (f"; certificate {self.certificate_number} stays valid." if self.certificate_number else ".")


def _renewal(cycle: Cycle, cycles: list[Cycle]) -> Renewal:
    """The renewal of ``cycle``, among its certification's ``cycles``."""
    code = cycle.certification.certification_type.code
    label = rules.format_cycle(cycle.start, cycle.end)
    after = cycle.end + timedelta(days=1)
    opened = [c for c in cycles if c.start == after]
    standing = next((c for c in opened if c.state != Cycle.State.UNDONE), None)
    undone = max((c for c in opened if c.state == Cycle.State.UNDONE), key=lambda c: c.undone_at, default=None)
    if cycle.state == Cycle.State.RENEWED and standing is not None:
        state = RENEWED_AGAIN if standing.state == Cycle.State.RENEWED else RENEWED
        shown = standing
    elif cycle.state == Cycle.State.OPEN and undone is not None:
        state, shown = UNDONE, undone
    else:
        return Renewal(code=code, state=NOT_RENEWED, cycle_label=label)
    certificate = Certificate.objects.filter(cycle=shown).values_list("number", flat=True).first()
    return Renewal(code=code, state=state, cycle_label=label, opened_label=rules.format_cycle(shown.start, shown.end),
                   certificate_number=certificate or "")


def certification_renewal(*, cycle_id: int) -> Renewal:
    """Where the renewal of cycle ``cycle_id`` (the cycle a renewal closed: ``OrderLine.cycle``) stands, and so
    what undoing it would do. Three queries; no lock. Raises ``Cycle.DoesNotExist``."""
    cycle = Cycle.objects.select_related("certification__certification_type").get(pk=cycle_id)
    return _renewal(cycle, list(Cycle.objects.filter(certification_id=cycle.certification_id)))


def certification_renewal_undo(*, cycle_id: int, actor: str, reason: str) -> Renewal:
    """Undo the renewal of cycle ``cycle_id`` (the cycle it closed: ``OrderLine.cycle``), as when staff refund it.

    Under a lock on all of the certification's cycles: the cycle the renewal opened becomes ``undone`` (kept, with
    ``undone_at``, as history; ``OrderLine.renewed_cycle`` still points at it); its certificate is voided
    (``voided_at``, ``void_reason``: no longer offered for download, no longer on the dashboard); any CPR/AED card
    uploaded into it moves back to ``cycle_id``; and ``cycle_id`` is open again (``renewed_at`` cleared). Both moves
    are logged in ``CycleLog`` with ``actor`` (``"staff:3"``) and ``reason``. Credits belong to cycles by the date
    they were earned (``cecs``), not by a key: those earned in the reopened cycle count for it again as soon as it
    is open; any earned after its end (in the undone cycle, when it was renewed in its grace period) keep their
    dates and count for the next cycle once the certification is renewed again.

    Undoing twice is a no-op. Returns the ``Renewal`` as it now stands (``state == "undone"``). Raises
    ``RenewalError`` when the cycle the renewal opened has itself been renewed since, or the cycle was never
    renewed; ``Cycle.DoesNotExist``.
    """
    with transaction.atomic():
        certification_id = Cycle.objects.values_list("certification_id", flat=True).get(pk=cycle_id)
        cycles = list(Cycle.objects.select_for_update(of=("self",))
                      .select_related("certification__certification_type")
                      .filter(certification_id=certification_id).order_by("start", "pk"))
        cycle = next(c for c in cycles if c.pk == cycle_id)
        renewal = _renewal(cycle, cycles)
        if renewal.state == UNDONE:
            return renewal
        if renewal.refusal:
            raise RenewalError(renewal.refusal)
        opened = next(c for c in cycles if c.start == cycle.end + timedelta(days=1) and c.state == Cycle.State.OPEN)
        now = clock.now()
        note = reason[:500]
        # The cycle the renewal opened stops being open before the renewed one opens again (one open cycle each).
        opened.state, opened.undone_at = Cycle.State.UNDONE, now
        opened.save(update_fields=["state", "undone_at"])
        cycle.state, cycle.renewed_at = Cycle.State.OPEN, None
        cycle.save(update_fields=["state", "renewed_at"])
        CycleLog.objects.bulk_create([
            CycleLog(cycle=opened, from_state=Cycle.State.OPEN, to_state=Cycle.State.UNDONE, actor=actor[:100],
                     note=note, at=now),
            CycleLog(cycle=cycle, from_state=Cycle.State.RENEWED, to_state=Cycle.State.OPEN, actor=actor[:100],
                     note=note, at=now),
        ])
        moved = CprUpload.objects.filter(cycle=opened).update(cycle=cycle)
        Certificate.objects.filter(cycle=opened, voided_at__isnull=True).update(
            voided_at=now, void_reason=(reason or "Renewal undone")[:300])
        log.info("%s undid the renewal of cycle %s (certification %s): cycle %s undone, certificate %s voided, "
                 "%s CPR card(s) moved back", actor, cycle.pk, certification_id, opened.pk,
                 renewal.certificate_number or "none", moved)
        return Renewal(code=renewal.code, state=UNDONE, cycle_label=renewal.cycle_label,
                       opened_label=renewal.opened_label, certificate_number=renewal.certificate_number)
