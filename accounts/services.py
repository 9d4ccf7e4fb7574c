"""State changes for accounts: creating certificants and inviting them."""

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from acsm_portal import clock, jobs
from acsm_portal.clock import canonical_zone
from acsm_portal.errors import ServiceError

from .models import MEMBER_ID_VALIDATOR, BillingAddress, User
from .tasks import send_set_password_email


log = logging.getLogger(__name__)


class AccountError(ServiceError):
    """A refused account action, with a message fit for the person."""


def password_set_path(*, user: User) -> str:
    """The site path of the one-time link with which ``user`` sets a password (Django's reset token)."""
    from django.urls import reverse

    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def certificant_create(*, email: str, first_name: str, last_name: str, member_id: str = "") -> User:
    """Create a certificant with no usable password and queue the set-password email."""
    email = User.objects.normalize_email(email.strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise AccountError(f"'{email}' is not a valid email address.") from None
    first_name, last_name = first_name.strip(), last_name.strip()
    if not first_name or not last_name:
        raise AccountError("First and last name are both required.")
    if len(first_name) > 150 or len(last_name) > 150:
        raise AccountError("Names are limited to 150 characters.")
    member_id = member_id.strip()
    if member_id:
        try:
            MEMBER_ID_VALIDATOR(member_id)
        except ValidationError:
            raise AccountError(f"Member ID '{member_id}' is not six digits.") from None
        if User.objects.filter(member_id=member_id).exists():
            raise AccountError(f"Member ID {member_id} already belongs to someone else.")
    with transaction.atomic():
        extra = {"member_id": member_id} if member_id else {}
        user = User.objects.create_user(email=email, first_name=first_name, last_name=last_name, **extra)
        jobs.queue_after_commit(send_set_password_email, user.pk)
    return user


def set_password_email_send(*, user_id: int) -> str:
    """Email active user ``user_id`` a link to set their password, once, unless they have set one.

    The user is claimed in a short transaction (``set_password_claimed_at``), the email sent with no row lock
    held, then ``set_password_emailed_at`` set. Returns what happened: ``"sent"``, ``"no such user"``,
    ``"password already set"``, ``"already sent"``, or ``"claimed"`` when another worker took it on less than
    ``jobs.CLAIM`` ago. When sending fails the claim is let go and the error (``OSError``,
    ``SMTPException``) raised, for the task to retry or the sweeper (``set_password_emails_unsent_requeue``).
    """
    claimed_at = clock.now()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None:
            return "no such user"
        if user.has_usable_password():
            return "password already set"
        if user.set_password_emailed_at is not None:
            return "already sent"
        if user.set_password_claimed_at is not None and claimed_at - user.set_password_claimed_at < jobs.CLAIM:
            return "claimed"
        user.set_password_claimed_at = claimed_at
        user.save(update_fields=["set_password_claimed_at"])
    context = {"user": user, "url": settings.PORTAL_BASE_URL + password_set_path(user=user)}
    try:
        send_mail(
            subject="Set your MyACSM password",
            message=render_to_string("emails/set_password.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    except Exception:
        User.objects.filter(pk=user_id, set_password_claimed_at=claimed_at).update(set_password_claimed_at=None)
        raise
    User.objects.filter(pk=user_id).update(set_password_emailed_at=clock.now())
    return "sent"


def set_password_emails_unsent_requeue(*, after: timedelta) -> list[int]:
    """Queue again the set-password email of every active certificant who joined more than ``after`` ago (and
    within ``jobs.SWEEP_WINDOW``), has no password and was not emailed, unless a worker took the email on less
    than ``jobs.CLAIM`` ago. Returns the user ids, oldest first."""
    invited = User.objects.filter(is_active=True, set_password_emailed_at__isnull=True)
    lost = [
        user.pk for user in
        jobs.unsent(invited, called_at="date_joined", claimed_at="set_password_claimed_at", after=after)
        .only("pk", "password")
        if not user.has_usable_password()
    ]
    for user_id in lost:
        jobs.queue(send_set_password_email, user_id)
    return lost


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


IMPORT_COLUMNS = {"email", "first_name", "last_name"}


def certificants_import(*, text: str) -> ImportReport:
    """Create certificants from CSV text (email, first_name, last_name[, member_id]).

    Idempotent by email: a known email is left as it is and not emailed again.
    Each good row is saved on its own; bad rows are reported with their line
    numbers (the header is line 1).
    """
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in (reader.fieldnames or [])}
    missing = IMPORT_COLUMNS - columns
    if missing:
        raise AccountError(f"The CSV header lacks: {', '.join(sorted(missing))}.")
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        email = User.objects.normalize_email(row.get("email", "")).lower()
        if email in seen or (email and User.objects.filter(email=email).exists()):
            report.existing.append(email)
            continue
        try:
            certificant_create(
                email=email,
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                member_id=row.get("member_id", ""),
            )
        except AccountError as exc:
            report.errors.append((line, str(exc)))
            continue
        seen.add(email)
        report.created.append(email)
    return report


def billing_address_save(*, user: User, line1: str, line2: str, city: str, state: str, postal_code: str,
                         country: str) -> BillingAddress:
    """Keep ``user``'s billing address (checkout prefills it), creating it the first time."""
    address, _ = BillingAddress.objects.update_or_create(
        user=user,
        defaults={"line1": line1, "line2": line2, "city": city, "state": state, "postal_code": postal_code,
                  "country": country},
    )
    return address


def person_time_zone_set(*, user: User, name: str) -> User:
    """Set ``user``'s time zone to the IANA zone ``name`` (from their profile or staff), or to blank (staff only:
    "not set", so the person's browser sets it at their next log-in). Locked and logged; the previous zone and
    the time of the change are kept, so for two days a deadline that had passed stays passed
    (``clock.today_for``). Setting the same zone again changes nothing.

    Deadlines for them then end at 11:59 PM in that zone. An alias is stored by its canonical name
    (``US/Pacific`` -> ``America/Los_Angeles``). Raises ``AccountError`` for a name that is not a zone.
    """
    name = name.strip()
    zone = canonical_zone(name) if name else ""
    if zone is None:
        raise AccountError(f"“{name[:64]}” is not a time zone; choose one from the list.")
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=user.pk)
        if person.time_zone == zone:
            return user
        log.info("Time zone of user %s changed from %r to %r", person.pk, person.time_zone, zone)
        person.previous_time_zone, person.time_zone = person.time_zone, zone
        person.time_zone_changed_at = clock.now()
        person.save(update_fields=["time_zone", "previous_time_zone", "time_zone_changed_at"])
    user.time_zone, user.previous_time_zone = person.time_zone, person.previous_time_zone
    user.time_zone_changed_at = person.time_zone_changed_at
    return user


def person_time_zone_from_browser(*, user: User, name: str) -> bool:
    """At log-in, take the zone the browser reports (``Intl.DateTimeFormat().resolvedOptions().timeZone``)
    for a person whose zone is not set yet. Returns whether it was taken; an unknown or absent name changes
    nothing, and a zone the person or staff set is never overwritten."""
    zone = canonical_zone(name)
    if user.time_zone or zone is None:
        return False
    with transaction.atomic():
        person = User.objects.select_for_update().get(pk=user.pk)
        if person.time_zone:
            return False
        person.time_zone = zone
        person.save(update_fields=["time_zone"])
    user.time_zone = zone
    return True


def _choice_set(user_id: int, field: str, value: bool, *, stamp: str = "") -> bool:
    """Set person ``user_id``'s own choice ``field`` to ``value`` under the row lock (with ``stamp``, a field that
    takes ``clock.now()``); whether it changed. Raises ``AccountError`` when there is no such user."""
    with transaction.atomic():
        person = User.objects.select_for_update().filter(pk=user_id).first()
        if person is None:
            raise AccountError("There is no such account.")
        if getattr(person, field) == value:
            return False
        setattr(person, field, value)
        if stamp:
            setattr(person, stamp, clock.now())
        person.save(update_fields=[field, *([stamp] if stamp else [])])
    return True


def email_preferences_update(*, user_id: int, reminders: bool, how: str) -> bool:
    """Turn reminder emails on or off for user ``user_id``; ``how`` says where the person did it, for the log
    (``"preferences page"``, ``"one-click unsubscribe"``, ``"unsubscribe page"``).

    The row is locked (``select_for_update``), so of two clicks at once the second waits and finds nothing to
    change. Setting the value it already has changes nothing and returns ``False``; otherwise
    ``reminders_enabled`` and ``reminders_changed_at`` (``clock.now()``) are saved and ``True`` returned.
    Receipts, CPR/AED decisions, audit notices and password emails are not reminders and are never affected.
    Raises ``AccountError`` when there is no such user.
    """
    if not _choice_set(user_id, "reminders_enabled", reminders, stamp="reminders_changed_at"):
        return False
    log.info("Reminder emails of user %s turned %s (%s)", user_id, "on" if reminders else "off", how)
    return True


def person_find_listing_set(*, user_id: int, listed: bool) -> bool:
    """List user ``user_id`` in Find a certified professional (``listed`` true) or take them out of it: their
    choice on their profile page. Under the row lock; setting the value it already has changes nothing and returns
    ``False``, otherwise ``listed_in_find_a_pro`` is saved, logged, and ``True`` returned. Raises ``AccountError``
    when there is no such user."""
    if not _choice_set(user_id, "listed_in_find_a_pro", listed):
        return False
    log.info("User %s %s Find a certified professional", user_id, "joined" if listed else "left")
    return True
