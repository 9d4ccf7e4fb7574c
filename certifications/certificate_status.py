"""A certificate's status: what anyone verifying it is told. It moves only through ``certificate_transition``, which
locks the certificate, treats a repeat as a no-op, refuses an illegal move and logs each move in ``CertificateLog``.

Two kinds of status:

- **By the dates** (``DATED``), in the holder's own zone (``clock.today_for``): Active through ``valid_through``,
  Expired (grace period) through ``rules.grace_ends(valid_through)``, then Lapsed; Renewed as soon as a newer
  certificate of the same certification, not void, exists (``status_by_dates``). The hourly
  ``certificates_status_refresh`` moves them; issuing and voiding a certificate move its certification's at once.
- **By staff**: Suspended (also when its certification is suspended after a failed audit) and Revoked (also when
  its renewal is undone: the void certificate). Reinstating a suspended certificate returns it to the status its
  dates give; nothing leaves Revoked.

Staff moves email the holder, once per move, after commit (``certificate_status_email_task``); a move made for an
audit or a refund leaves that to the audit's or the refund's own email. The move's log row says the email is wanted
and whether it was sent (``email_wanted``, ``email_claimed_at``, ``emailed_at``): the task claims it, sends, stamps
it, and the sweeper (``certificate_status_emails_unsent_requeue``) queues again what the broker lost.
"""

import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from acsm_portal import clock, jobs
from acsm_portal.errors import ServiceError
from acsm_portal.mail import mail_send

from .models import Certificate, CertificateLog
from .rules import grace_ends
from .tasks import certificate_status_email_task

log = logging.getLogger(__name__)

Status = Certificate.Status
# The statuses the calendar decides; the others (Suspended, Revoked) only staff, an audit or a refund.
DATED = frozenset({Status.ACTIVE, Status.GRACE, Status.LAPSED, Status.RENEWED})
# ``to`` for leaving Suspended: the certificate returns to the status its dates give.
REINSTATE = "reinstate"
# The moves staff make (and the holder is emailed about).
STAFF_MOVES = frozenset({Status.SUSPENDED, Status.REVOKED, REINSTATE})
MAX_REASON_LENGTH = 500
# Where the date is latest on earth (UTC+14): no holder's date is later than the date there.
EARLIEST_ZONE = ZoneInfo("Pacific/Kiritimati")
REFRESH_BATCH = 500
SCHEDULER = "scheduler"
EMAIL_TEMPLATE = "emails/certificate_status"


class CertificateStatusError(ServiceError):
    """A refused move of a certificate's status, with a message fit for staff."""


# ---------------------------------------------------------------- the dates


def status_by_dates(*, valid_through: date, today: date, replaced: bool) -> str:
    """The status a certificate valid through ``valid_through`` has on ``today`` (the holder's date) by the calendar:
    ``"renewed"`` when a newer certificate replaced it (``replaced``), else ``"active"`` through ``valid_through``,
    ``"grace"`` through ``rules.grace_ends(valid_through)`` (the first June 30 after it) and ``"lapsed"`` after.
    Each day ends at 11:59 PM the holder's time. Pure: no I/O."""
    if replaced:
        return Status.RENEWED
    if today <= valid_through:
        return Status.ACTIVE
    if today <= grace_ends(valid_through):
        return Status.GRACE
    return Status.LAPSED


def _newer() -> QuerySet:
    """A newer certificate of the same certification (a later cycle's), not void: for ``Exists`` over ``OuterRef``."""
    return Certificate.objects.filter(certification_id=OuterRef("certification_id"), voided_at__isnull=True,
                                      valid_through__gt=OuterRef("valid_through"))


def with_replaced(queryset: QuerySet) -> QuerySet:
    """``queryset`` of certificates, each annotated ``replaced``: whether a newer, non-void certificate of the same
    certification exists (it is then Renewed by its dates)."""
    return queryset.annotate(replaced=Exists(_newer()))


def certificate_dated_status(certificate: Certificate, *, today: date | None = None) -> str:
    """The status ``certificate``'s dates give now (see ``status_by_dates``), on ``today`` or the holder's date
    (``clock.today_for``; the certificate's ``certification.user`` is read). Reads ``replaced`` when the certificate
    was annotated with it (``with_replaced``), else asks the database (one query)."""
    replaced = getattr(certificate, "replaced", None)
    if replaced is None:
        replaced = Certificate.objects.filter(certification_id=certificate.certification_id, voided_at__isnull=True,
                                              valid_through__gt=certificate.valid_through).exists()
    if today is None:
        today = clock.today_for(certificate.certification.user)
    return status_by_dates(valid_through=certificate.valid_through, today=today, replaced=replaced)


# ---------------------------------------------------------------- the one transition


def _reason(reason: str, *, to: str) -> str:
    reason = " ".join((reason or "").split())
    if to in STAFF_MOVES and not reason:
        raise CertificateStatusError("Give the reason; it is logged and the holder reads it.", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise CertificateStatusError(f"Keep the reason under {MAX_REASON_LENGTH} characters (it has {len(reason)}).",
                                     field="reason")
    return reason


def _label(status: str) -> str:
    return Status(status).label


def certificate_transition(*, certificate_id: int, to: str, actor: str, reason: str = "",
                           email_holder: bool = True) -> tuple[Certificate, bool]:
    """Move certificate ``certificate_id`` to status ``to`` (a ``Certificate.Status`` value, or ``REINSTATE`` to
    leave Suspended for the status its dates give), logged in ``CertificateLog`` with ``actor`` ("staff:3",
    "scheduler", "audit 12") and ``reason``, and stamped ``status_changed_at``/``status_reason``.

    Returns ``(certificate, acted)``: ``acted`` false when the certificate already stood where the move leads (a
    repeat: nothing logged, nobody emailed; for ``REINSTATE``, a certificate whose last move was its
    reinstatement). Under the certificate's row lock, so two staff moving it at once make one move and one repeat.

    Legal moves: a dated status (Active, grace, Lapsed, Renewed) to the dated status its dates give now, to
    Suspended or to Revoked; Suspended to ``REINSTATE`` (refused while its certification is suspended after a failed
    audit) or to Revoked; nothing out of Revoked. Suspended, Revoked and ``REINSTATE`` need a reason (at most 500
    characters, white space collapsed). With ``email_holder`` (staff moves in the admin), the holder is emailed
    about a Suspend, Reinstate or Revoke after commit, once per move.

    Raises ``CertificateStatusError`` for an illegal or unknown move or a missing reason,
    ``Certificate.DoesNotExist``.
    """
    if to != REINSTATE and to not in Status.values:
        raise CertificateStatusError(f"“{to}” is not a certificate status.")
    reason = _reason(reason, to=to)
    with transaction.atomic():
        certificate = (Certificate.objects.select_for_update(of=("self",)).select_related("certification__user")
                       .get(pk=certificate_id))
        current = certificate.status
        if to == REINSTATE:
            target = _reinstated(certificate)
            if target is None:
                return certificate, False
        elif to == current:
            return certificate, False
        else:
            target = to
            _check_move(certificate, to)
        now = clock.now()
        email_wanted = email_holder and to in STAFF_MOVES
        entry = CertificateLog.objects.create(certificate=certificate, from_status=current, to_status=target,
                                              actor=actor[:100], reason=reason, at=now, email_wanted=email_wanted)
        certificate.status, certificate.status_changed_at, certificate.status_reason = target, now, reason
        certificate.save(update_fields=["status", "status_changed_at", "status_reason"])
        log.info("%s moved certificate %s from %s to %s", actor, certificate.number, current, target)
        if email_wanted:
            jobs.queue_after_commit(certificate_status_email_task, entry.pk)
    return certificate, True


def _check_move(certificate: Certificate, to: str) -> None:
    """Refuse moving ``certificate`` (locked) from its status to ``to`` (not ``REINSTATE``, not its status)."""
    current = certificate.status
    if current == Status.REVOKED:
        raise CertificateStatusError(f"Certificate {certificate.number} is revoked; a revoked certificate stays "
                                     "revoked.")
    if to in DATED:
        if current == Status.SUSPENDED:
            raise CertificateStatusError(f"Certificate {certificate.number} is suspended; reinstate it to return it "
                                         "to the status its dates give.")
        dated = certificate_dated_status(certificate)
        if to != dated:
            raise CertificateStatusError(f"Certificate {certificate.number} is {_label(dated)} by its dates, not "
                                         f"{_label(to)}.")


def _reinstated(certificate: Certificate) -> str | None:
    """Where reinstating ``certificate`` (locked) leads: the status its dates give; None for a repeat (its last move
    was its reinstatement). Raises ``CertificateStatusError`` unless it is suspended."""
    current = certificate.status
    if current != Status.SUSPENDED:
        last = certificate.log.order_by("-at", "-id").first()
        if current in DATED and last is not None and (last.from_status, last.to_status) == (Status.SUSPENDED,
                                                                                             current):
            return None
        raise CertificateStatusError(f"Certificate {certificate.number} is {_label(current)}, not suspended; only a "
                                     "suspended certificate can be reinstated.")
    certification = certificate.certification
    if certification.suspended_at is not None:
        raise CertificateStatusError(
            f"The certification itself is suspended ({certification.suspended_reason}); reinstate it (resolve the "
            "audit) and its certificate is reinstated with it.")
    return certificate_dated_status(certificate)


# ---------------------------------------------------------------- what other moves bring along


def certification_certificates_refresh(*, certification_id: int, actor: str = SCHEDULER) -> list[int]:
    """Move each certificate of certification ``certification_id`` that stands in a dated status to the one its
    dates give now (after a certificate was issued or voided: the one it replaced becomes, or stops being,
    Renewed). Returns the ids moved."""
    moved = []
    for certificate in with_replaced(Certificate.objects.filter(certification_id=certification_id,
                                                                status__in=DATED, voided_at__isnull=True)
                                     .select_related("certification__user").order_by("pk")):
        if _refresh_one(certificate, actor=actor):
            moved.append(certificate.pk)
    return moved


def certification_certificate_move(*, certification_id: int, to: str, actor: str, reason: str) -> int | None:
    """Suspend (``to`` Suspended) or reinstate (``to`` ``REINSTATE``) the current certificate of certification
    ``certification_id`` with it (a failed audit, its resolution): the newest one not void. Nobody is emailed here:
    the audit's own email tells the holder. Returns the certificate's id when it moved; None when there is none,
    when it is revoked (it stays so) or when it already stood there."""
    certificate = (Certificate.objects.filter(certification_id=certification_id, voided_at__isnull=True)
                   .order_by("-valid_through", "-issued_on", "-id").first())
    if certificate is None or certificate.status == Status.REVOKED:
        return None
    if to == REINSTATE and certificate.status != Status.SUSPENDED:
        return None
    _, acted = certificate_transition(certificate_id=certificate.pk, to=to, actor=actor, reason=reason,
                                      email_holder=False)
    return certificate.pk if acted else None


def _refresh_one(certificate: Certificate, *, actor: str) -> str | None:
    """Move ``certificate`` (annotated ``replaced``, its holder loaded) to the status its dates give when that is not
    its status; returns the new status, or None when it stays (or moved under another hand meanwhile)."""
    to = certificate_dated_status(certificate)
    if to == certificate.status:
        return None
    try:
        _, acted = certificate_transition(certificate_id=certificate.pk, to=to, actor=actor,
                                          reason=_DATED_REASONS[to])
    except CertificateStatusError as exc:  # staff suspended or revoked it, or its dates moved, since it was read
        log.info("Certificate %s left as it is: %s", certificate.number, exc.message)
        return None
    return to if acted else None


_DATED_REASONS = {
    Status.ACTIVE: "Valid by its dates.",
    Status.GRACE: "Its valid-through date has passed; the grace period runs.",
    Status.LAPSED: "The grace period has ended.",
    Status.RENEWED: "A newer certificate of the same certification was issued.",
}


# ---------------------------------------------------------------- the hourly run


def _last_june_30_before(day: date) -> date:
    june_30 = date(day.year, 6, 30)
    return june_30 if june_30 < day else date(day.year - 1, 6, 30)


def certificates_status_candidates() -> QuerySet:
    """The certificates whose dated status may be out of date now, annotated ``replaced``: Active past its
    valid-through date, grace past its grace period, any dated status replaced by a newer certificate, Renewed no
    longer replaced (the newer one was voided), somewhere on earth (the holder's own date decides)."""
    latest = clock.today(EARLIEST_ZONE)
    return with_replaced(Certificate.objects.filter(status__in=DATED, voided_at__isnull=True)).filter(
        Q(status=Status.ACTIVE, valid_through__lt=latest)
        | Q(status=Status.GRACE, valid_through__lt=_last_june_30_before(latest))
        | Q(replaced=True, status__in=[Status.ACTIVE, Status.GRACE, Status.LAPSED])
        | Q(replaced=False, status=Status.RENEWED)
    )


def certificates_status_refresh(*, batch: int = REFRESH_BATCH) -> dict[str, list[int]]:
    """Hourly (``CELERY_BEAT_SCHEDULE``): move every certificate whose dates call for it to its dated status on its
    holder's date in their own zone (Active → grace after ``valid_through``, grace → Lapsed after the grace period,
    → Renewed once a newer certificate exists), ``batch`` certificates read at a time, each moved under its own
    lock; and revoke a void certificate that is not Revoked yet (voided before statuses existed).
    A certificate whose holder's date has not reached the change yet is left for a later run. Safe to run twice
    and beside staff: a certificate they moved meanwhile is left as they put it.

    Returns the ids moved by new status, ascending: ``{"active": [...], "grace": [...], "lapsed": [...],
    "renewed": [...], "revoked": [...]}``.
    """
    moved: dict[str, list[int]] = {str(status): [] for status in (*sorted(DATED), Status.REVOKED)}
    candidates = certificates_status_candidates().select_related("certification__user")
    after = 0
    while rows := list(candidates.filter(pk__gt=after).order_by("pk")[:batch]):
        after = rows[-1].pk
        for certificate in rows:
            if to := _refresh_one(certificate, actor=SCHEDULER):
                moved[to].append(certificate.pk)
    void = Certificate.objects.filter(voided_at__isnull=False).exclude(status=Status.REVOKED).order_by("pk")
    for certificate_id, void_reason in void.values_list("pk", "void_reason"):
        try:
            _, acted = certificate_transition(certificate_id=certificate_id, to=Status.REVOKED, actor=SCHEDULER,
                                              reason=void_reason or "Void.", email_holder=False)
        except CertificateStatusError:
            continue
        if acted:
            moved[Status.REVOKED].append(certificate_id)
    if any(moved.values()):
        log.info("Certificate statuses moved by their dates: %s", {k: len(v) for k, v in moved.items() if v})
    return moved


# ---------------------------------------------------------------- the holder's email


_SUBJECTS = {
    Status.SUSPENDED: "Your {code} certificate {number} is suspended",
    Status.REVOKED: "Your {code} certificate {number} is revoked",
    REINSTATE: "Your {code} certificate {number} is reinstated",
}


def certificate_status_email_send(*, log_id: int) -> str:
    """Email the holder about the staff move ``log_id`` (a ``CertificateLog``: suspended, reinstated, revoked),
    once: the certificate, its new status in words, when (their time), the reason and its public verify page.

    The email is claimed in a short transaction (``email_claimed_at``), sent with no row lock held, then
    ``emailed_at`` set. Returns what happened: ``"sent"``, ``"no such move"``, ``"not a staff move"`` for a move by
    the dates, ``"not wanted"`` for a move whose email is left to an audit's or a refund's own, ``"already sent"``,
    or ``"claimed"`` when another worker took it on less than ``jobs.CLAIM`` ago. When sending fails the claim is
    let go and the error (``OSError``, ``SMTPException``) raised, for the task to retry.
    """
    claimed_at = clock.now()
    with transaction.atomic():
        entry = (CertificateLog.objects.select_for_update(of=("self",))
                 .select_related("certificate__certification__user",
                                 "certificate__certification__certification_type")
                 .filter(pk=log_id).first())
        if entry is None:
            return "no such move"
        kind = REINSTATE if entry.from_status == Status.SUSPENDED and entry.to_status in DATED else entry.to_status
        if kind not in _SUBJECTS:
            return "not a staff move"
        if not entry.email_wanted:
            return "not wanted"
        if entry.emailed_at is not None:
            return "already sent"
        if entry.email_claimed_at is not None and claimed_at - entry.email_claimed_at < jobs.CLAIM:
            return "claimed"
        entry.email_claimed_at = claimed_at
        entry.save(update_fields=["email_claimed_at"])
    certificate = entry.certificate
    certification = certificate.certification
    user = certification.user
    try:
        mail_send(
            to=user.email,
            subject=_SUBJECTS[kind].format(code=certification.certification_type.code, number=certificate.number),
            template=EMAIL_TEMPLATE,
            context={
                "user": user,
                "kind": kind,
                "certificate": certificate,
                "status_label": _label(entry.to_status),
                "at": clock.moment_text(entry.at, user),
                "reason": entry.reason,
                "verify_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("verify",
                                                                             args=[certificate.verify_code]),
                "contact_email": settings.CERTIFICATION_CONTACT_EMAIL,
            },
        )
    except Exception:
        CertificateLog.objects.filter(pk=log_id, email_claimed_at=claimed_at).update(email_claimed_at=None)
        raise
    CertificateLog.objects.filter(pk=log_id).update(emailed_at=clock.now())
    return "sent"


def certificate_status_emails_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again every holder email of a staff move (``CertificateLog.email_wanted``) made more than ``after`` ago
    (and within ``jobs.SWEEP_WINDOW``) and not sent, unless a worker took it on less than ``jobs.CLAIM`` ago.
    Returns the ``CertificateLog`` ids, oldest first."""
    waiting = CertificateLog.objects.filter(email_wanted=True, emailed_at__isnull=True)
    lost = list(jobs.unsent(waiting, called_at="at", claimed_at="email_claimed_at", after=after)
                .values_list("pk", flat=True))
    for log_id in lost:
        jobs.queue(certificate_status_email_task, log_id)
    return lost
