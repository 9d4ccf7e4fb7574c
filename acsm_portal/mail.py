"""The portal's emails: a plain-text body and an HTML alternative from one pair of templates.

Sent through Django's mail API, so the backend (SMTP, a file in development, a provider through
django-anymail) is a setting. HTML templates extend ``emails/base.html``; text templates end with
``{% include "emails/_footer.txt" %}``. Both footers name the portal and its postal address and, for a
reminder (a context with ``unsubscribe_url``), say how to turn reminders off.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, engines
from django.template.loader import render_to_string
from django.urls import reverse

DEFAULT_PORTAL_NAME = "MyACSM"
DEFAULT_PORTAL_ADDRESS = "American College of Sports Medicine, 401 W. Michigan St., Indianapolis, IN 46202"


def mail_context(context: dict) -> dict:
    """``context`` with what every email may use: ``portal_name``, ``portal_address``, ``base_url`` (no trailing
    slash) and ``preferences_url`` (absolute); a key given in ``context`` wins."""
    base_url = settings.PORTAL_BASE_URL.rstrip("/")
    return {
        "portal_name": getattr(settings, "PORTAL_NAME", DEFAULT_PORTAL_NAME),
        "portal_address": getattr(settings, "PORTAL_POSTAL_ADDRESS", DEFAULT_PORTAL_ADDRESS),
        "base_url": base_url,
        "preferences_url": base_url + reverse("email_preferences"),
        **context,
    }


def _render_text(name: str, context: dict) -> str:
    """A plain-text template rendered without HTML escaping (an ``&`` in a link stays an ``&``)."""
    template = engines["django"].engine.get_template(name)
    return str(template.render(Context(context, autoescape=False)))


def mail_build(*, to: str, subject: str, template: str, context: dict,
               headers: dict[str, str] | None = None) -> EmailMultiAlternatives:
    """The email to address ``to``: body from ``template + ".txt"``, a ``text/html`` alternative from
    ``template + ".html"`` (``template`` such as ``"emails/reminder_cycle_end"``), both rendered with
    ``mail_context(context)``; from ``settings.DEFAULT_FROM_EMAIL``; ``headers`` (such as
    ``List-Unsubscribe``) set on the message as given.

    Raises ``TemplateDoesNotExist`` when either template is missing; ``BadHeaderError`` comes later, from
    ``send()``, for a subject or header holding a newline.
    """
    full = mail_context(context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=_render_text(f"{template}.txt", full),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=dict(headers or {}),
    )
    message.attach_alternative(render_to_string(f"{template}.html", full), "text/html")
    return message


def mail_send(*, to: str, subject: str, template: str, context: dict,
              headers: dict[str, str] | None = None) -> None:
    """Build the email as ``mail_build`` does and send it through the configured backend. Raises what the
    backend raises (``OSError``, ``smtplib.SMTPException``) so a task can retry."""
    mail_build(to=to, subject=subject, template=template, context=context, headers=headers).send()
