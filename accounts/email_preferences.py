"""The signed link in every reminder that turns reminders off without logging in (RFC 8058 one-click).

A token is ``"<user pk>.<email digest>:<signature>"``, signed with Django's ``Signer`` under its own salt
(``SECRET_KEY``, and ``SECRET_KEY_FALLBACKS`` after a key rotation). It never expires: a link in a reminder sent
years ago still works. The email digest binds it to the address the reminder went to, so once staff change a
person's email, a link sent to the old address no longer touches the account.

Also here: what a reminder is and what is always sent, in the words the pages use.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.urls import reverse

if TYPE_CHECKING:
    from .models import User

SALT = "accounts.email_unsubscribe"
MAX_TOKEN_LENGTH = 200

# The mails a person may turn off, and those they always get (the preferences and unsubscribe pages list both).
REMINDER_KINDS = (
    "Your certification cycle is ending: 180, 90, 30 and 7 days before the cycle end, with what is still missing",
    "Your CPR/AED card is expiring: 60 and 30 days before its expiry date",
    "Grace period: when it starts on January 1, and 30 and 7 days before it ends",
    "Lapsed certification: once, the day after the grace period, with how to apply for reinstatement",
)
ALWAYS_SENT = (
    "Payment receipts and refunds",
    "CPR/AED card decisions (approved or not approved)",
    "Audit notices",
    "Password emails (setting or resetting your password)",
)


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def _email_digest(email: str) -> str:
    return hashlib.sha256(f"{SALT}:{email.strip().lower()}".encode()).hexdigest()[:16]


def unsubscribe_token(user: User) -> str:
    """The signed token naming ``user`` (their pk and a digest of their current email); URL-safe, no expiry."""
    return _signer().sign(f"{user.pk}.{_email_digest(user.email)}")


def unsubscribe_url(user: User) -> str:
    """The absolute one-click unsubscribe address for ``user``:
    ``settings.PORTAL_BASE_URL`` + ``/email/unsubscribe/<token>/``."""
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("email_unsubscribe", args=[unsubscribe_token(user)])


def preferences_url() -> str:
    """The absolute address of the Email preferences page (it asks for a log-in)."""
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("email_preferences")


def unsubscribe_headers(user: User) -> dict[str, str]:
    """The RFC 8058 headers for a reminder to ``user``: ``List-Unsubscribe`` (the signed address in angle
    brackets) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; for ``mail_build(headers=...)``."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(user)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def user_for_unsubscribe_token(token: str) -> User | None:
    """The user ``token`` was signed for, or ``None`` when it is tampered with, malformed, names no one, or was
    signed for an email the person no longer has. Never raises."""
    from .models import User

    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        value = _signer().unsign(token)
    except signing.BadSignature:
        return None
    pk, _, digest = value.partition(".")
    if not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        return None
    user = User.objects.filter(pk=int(pk)).first()
    if user is None or digest != _email_digest(user.email):
        return None
    return user


def masked_email(email: str) -> str:
    """``email`` with all of the name but its first character hidden: ``casey@example.com`` ->
    ``c****@example.com``."""
    name, at, domain = email.partition("@")
    return f"{name[:1]}****{at}{domain}"
