"""Suspending a certification (a failed audit) and reinstating it.

A suspended certification's tile says "Suspended" and offers no RENEW, and its certificate is marked suspended: its
current certificate's status is Suspended too, and reinstating the certification reinstates it
(``certificate_status.certification_certificate_move``). Both moves lock the certification, log in
``CertificationLog`` and treat a repeat as a no-op.
"""

from dataclasses import dataclass

from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError

from .certificate_status import REINSTATE, certification_certificate_move
from .models import Certificate, Certification, CertificationLog

MAX_REASON_LENGTH = 500


class SuspensionError(ServiceError):
    """A refused suspension or reinstatement, with a message fit for staff."""


@dataclass(frozen=True)
class Suspension:
    """Where a certification stands after a suspend or reinstate call: ``suspended``, and ``acted`` when the call
    changed it (a repeat does not)."""

    certification: Certification
    suspended: bool
    acted: bool


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise SuspensionError("Give the reason; it is logged and the certificant reads it.", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise SuspensionError(f"Keep the reason under {MAX_REASON_LENGTH} characters (it has {len(reason)}).",
                              field="reason")
    return reason


def certification_suspend(*, certification_id: int, actor: str, reason: str) -> Suspension:
    """Suspend certification ``certification_id`` for ``reason`` (a failed audit), logged with ``actor``
    (``"staff:3"``, ``"scheduler"``). Suspending a suspended certification changes nothing (``acted`` false; its
    first reason stays). Raises ``SuspensionError`` for a blank or over-long reason, ``Certification.DoesNotExist``.
    """
    reason = _reason(reason)
    with transaction.atomic():
        certification = Certification.objects.select_for_update().get(pk=certification_id)
        if certification.suspended_at is not None:
            return Suspension(certification, suspended=True, acted=False)
        certification.suspended_at, certification.suspended_reason = clock.now(), reason
        certification.save(update_fields=["suspended_at", "suspended_reason"])
        CertificationLog.objects.create(certification=certification, action=CertificationLog.Action.SUSPENDED,
                                        actor=actor[:100], note=reason, at=certification.suspended_at)
        certification_certificate_move(certification_id=certification.pk, to=Certificate.Status.SUSPENDED,
                                       actor=actor, reason=reason)
    return Suspension(certification, suspended=True, acted=True)


def certification_reinstate(*, certification_id: int, actor: str, reason: str) -> Suspension:
    """Lift the suspension of certification ``certification_id`` (staff, after the audit was resolved), logged with
    ``actor`` and ``reason``. Reinstating a certification that is not suspended changes nothing (``acted`` false).
    Raises ``SuspensionError`` for a blank or over-long reason, ``Certification.DoesNotExist``."""
    reason = _reason(reason)
    with transaction.atomic():
        certification = Certification.objects.select_for_update().get(pk=certification_id)
        if certification.suspended_at is None:
            return Suspension(certification, suspended=False, acted=False)
        certification.suspended_at, certification.suspended_reason = None, ""
        certification.save(update_fields=["suspended_at", "suspended_reason"])
        CertificationLog.objects.create(certification=certification, action=CertificationLog.Action.REINSTATED,
                                        actor=actor[:100], note=reason)
        certification_certificate_move(certification_id=certification.pk, to=REINSTATE, actor=actor, reason=reason)
    return Suspension(certification, suspended=False, acted=True)
