"""Renewing a certification once its order is paid (the next cycle, and a new certificate), and undoing a renewal
when staff refund it.

Both moves lock the certification's cycles, log each cycle's move in ``CycleLog`` and treat a repeat as a no-op.
"""

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError

from . import rules
from .certificates import certificate_issue, certificate_void
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
ALREADY_UNDONE = "renewal was already undone."  # how ``Renewal.already_undone`` ends


@dataclass(frozen=True)
class Renewal:
    """Where one renewal stands (the one that closed one cycle and opened one exact cycle: a cycle renewed, undone
    and renewed again has had two renewals), in the words staff and the certificant read.

    ``state`` is ``"renewed"`` (it stands and may be undone), ``"undone"``, ``"renewed again"`` (the cycle it
    opened was itself renewed since: it cannot be undone) or ``"not renewed"``. ``cycle_label`` is the renewed
    cycle (``"1/1/Y - 12/31/Y"``), ``opened_label`` the cycle the renewal opened, ``certificate_number`` that
    cycle's certificate (``""`` if none). ``acted``: whether the call that returned it undid the renewal (an undo
    that found it already undone returns ``False``).
    """

    code: str
    state: str
    cycle_label: str
    opened_label: str = ""
    certificate_number: str = ""
    acted: bool = False

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
    def already_undone(self) -> str:
        """What an undo that found it undone already says (``payments.models.RefundLine`` reads its ending)."""
        return f"The {self.code} {ALREADY_UNDONE}"

    @property
    def kept(self) -> str:
        """What keeping it means, said after the refund."""
        said = f"{self.code} renewal kept: cycle {self.cycle_label} stays renewed"
        return said + (f"; certificate {self.certificate_number} stays valid." if self.certificate_number else ".")


def _renewal(cycle: Cycle, opened: Cycle) -> Renewal:
    """The renewal that closed ``cycle`` and opened ``opened`` (both of one certification, with its type)."""
    code = cycle.certification.certification_type.code
    label = rules.format_cycle(cycle.start, cycle.end)
    if opened.certification_id != cycle.certification_id or opened.start != cycle.end + timedelta(days=1):
        return Renewal(code=code, state=NOT_RENEWED, cycle_label=label)
    if opened.state == Cycle.State.UNDONE:
        state = UNDONE
    elif opened.state == Cycle.State.RENEWED:
        state = RENEWED_AGAIN
    elif cycle.state == Cycle.State.RENEWED:
        state = RENEWED
    else:
        return Renewal(code=code, state=NOT_RENEWED, cycle_label=label)
    certificate = Certificate.objects.filter(cycle=opened).values_list("number", flat=True).first()
    return Renewal(code=code, state=state, cycle_label=label,
                   opened_label=rules.format_cycle(opened.start, opened.end), certificate_number=certificate or "")


def certification_renewal(*, cycle_id: int, opened_id: int) -> Renewal:
    """Where the renewal that closed cycle ``cycle_id`` and opened cycle ``opened_id`` stands
    (``OrderLine.cycle`` and ``OrderLine.renewed_cycle``), and so what undoing it would do. A later renewal of the
    same cycle (after this one was undone) is another renewal: this one stays ``"undone"``. Two queries; no lock.
    Raises ``Cycle.DoesNotExist``."""
    cycles = {c.pk: c for c in Cycle.objects.select_related("certification__certification_type")
              .filter(pk__in=[cycle_id, opened_id])}
    if cycle_id not in cycles or opened_id not in cycles:
        raise Cycle.DoesNotExist(f"Cycle {cycle_id} or {opened_id} does not exist.")
    return _renewal(cycles[cycle_id], cycles[opened_id])


def certification_renewal_undo(*, cycle_id: int, opened_id: int, actor: str, reason: str) -> Renewal:
    """Undo the renewal that closed cycle ``cycle_id`` and opened cycle ``opened_id`` (``OrderLine.cycle`` and
    ``OrderLine.renewed_cycle``), as when staff refund it.

    Under a lock on all of the certification's cycles: ``opened_id`` becomes ``undone`` (kept, with ``undone_at``,
    as history; ``OrderLine.renewed_cycle`` still points at it); its certificate is voided (``voided_at``,
    ``void_reason``: no longer offered for download, no longer on the dashboard); any CPR/AED card uploaded into
    it moves back to ``cycle_id``; and ``cycle_id`` is open again (``renewed_at`` cleared). Both moves are logged
    in ``CycleLog`` with ``actor`` (``"staff:3"``) and ``reason``. Credits belong to cycles by the date they were
    earned (``cecs``), not by a key: those earned in the reopened cycle count for it again as soon as it is open;
    any earned after its end (in the undone cycle, when it was renewed in its grace period) keep their dates and
    count for the next cycle once the certification is renewed again.

    Returns the ``Renewal`` as it now stands (``state == "undone"``), ``acted`` when this call undid it. Undoing
    twice is a no-op (``acted`` false). Raises ``RenewalError`` when ``opened_id`` has itself been renewed since,
    when it is not the cycle a renewal of ``cycle_id`` opened, and when this renewal was undone already and a
    later renewal of ``cycle_id`` (another order's) stands: that one is never undone in this one's name.
    ``Cycle.DoesNotExist``.
    """
    with transaction.atomic():
        certification_id = Cycle.objects.values_list("certification_id", flat=True).get(pk=cycle_id)
        cycles = list(Cycle.objects.select_for_update(of=("self",))
                      .select_related("certification__certification_type")
                      .filter(certification_id=certification_id).order_by("start", "pk"))
        cycle = next(c for c in cycles if c.pk == cycle_id)
        opened = next((c for c in cycles if c.pk == opened_id), None)
        if opened is None:
            raise RenewalError(f"Cycle {opened_id} is not a cycle of this certification; nothing was undone.")
        renewal = _renewal(cycle, opened)
        if renewal.state == UNDONE:
            standing = next((c for c in cycles if c.start == opened.start and c.state != Cycle.State.UNDONE), None)
            if standing is not None:
                raise RenewalError(
                    f"The {renewal.code} renewal that opened cycle {renewal.opened_label} was already undone; the "
                    f"cycle {rules.format_cycle(standing.start, standing.end)} there now was opened by a later "
                    "renewal, which is not undone here."
                )
            return renewal
        if renewal.refusal:
            raise RenewalError(renewal.refusal)
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
        certificate_void(cycle=opened, actor=actor, reason=reason, at=now)
        log.info("%s undid the renewal of cycle %s (certification %s): cycle %s undone, certificate %s voided, "
                 "%s CPR card(s) moved back", actor, cycle.pk, certification_id, opened.pk,
                 renewal.certificate_number or "none", moved)
        return replace(renewal, state=UNDONE, acted=True)
