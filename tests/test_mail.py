"""The portal's mail helper: a text body and an HTML alternative from templates, the footer, headers, links."""

import re
from email import message_from_bytes
from smtplib import SMTPException

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.template import TemplateDoesNotExist

from acsm_portal.mail import DEFAULT_PORTAL_ADDRESS, DEFAULT_PORTAL_NAME, mail_build, mail_send

BASE = "https://portal.example.org"
ADDRESS = "American College of Sports Medicine, 401 W. Michigan St., Indianapolis, IN 46202"
UNSUBSCRIBE = f"{BASE}/email/unsubscribe/12.abc:sig/"
HEADERS = {"List-Unsubscribe": f"<{UNSUBSCRIBE}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}

# A reminder-like pair, as the apps write theirs: the text includes the footer, the HTML extends the layout.
NOTICE_TXT = (
    '{% autoescape off %}Hello {{ name }},\n\nYour cycle ends on {{ ends }}. See {{ base_url }}/dashboard/?tab=cecs&year=1\n'
    '{% include "emails/_footer.txt" %}{% endautoescape %}'
)
NOTICE_HTML = (
    '{% extends "emails/base.html" %}{% block content %}<p>Hello {{ name }},</p>'
    '<p>Your cycle ends on {{ ends }}. <a href="{{ base_url }}/dashboard/?tab=cecs&amp;year=1">CEC Dashboard</a></p>'
    '{% endblock %}'
)
# A text template without its own autoescape block: the helper still leaves it unescaped.
PLAIN_TXT = "{{ name }} & {{ link }}\n"
PLAIN_HTML = "<p>{{ name }} &amp; {{ link }}</p>"


@pytest.fixture(autouse=True)
def templates(settings):
    """The portal's templates, plus the test pairs above."""
    settings.TEMPLATES = [{
        **django_settings.TEMPLATES[0],
        "APP_DIRS": False,
        "OPTIONS": {
            **django_settings.TEMPLATES[0]["OPTIONS"],
            "loaders": [
                ("django.template.loaders.locmem.Loader", {
                    "emails/test_notice.txt": NOTICE_TXT, "emails/test_notice.html": NOTICE_HTML,
                    "emails/test_plain.txt": PLAIN_TXT, "emails/test_plain.html": PLAIN_HTML,
                }),
                "django.template.loaders.filesystem.Loader",
                "django.template.loaders.app_directories.Loader",
            ],
        },
    }]
    settings.PORTAL_BASE_URL = BASE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def build(**extra):
    context = {"name": "Casey", "ends": "12/31", **extra.pop("context", {})}
    return mail_build(to="casey@example.com", subject="Your cycle ends in 30 days", template="emails/test_notice",
                      context=context, **extra)


def html_of(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_the_portals_name_and_address_are_settings():
    assert (django_settings.PORTAL_NAME, django_settings.PORTAL_POSTAL_ADDRESS) == ("MyACSM", ADDRESS)
    assert (DEFAULT_PORTAL_NAME, DEFAULT_PORTAL_ADDRESS) == ("MyACSM", ADDRESS)


def test_a_message_has_a_text_body_and_an_html_alternative():
    message = build()
    assert message.to == ["casey@example.com"]
    assert message.subject == "Your cycle ends in 30 days"
    assert message.from_email == django_settings.DEFAULT_FROM_EMAIL
    assert message.body == (
        "Hello Casey,\n\nYour cycle ends on 12/31. See https://portal.example.org/dashboard/?tab=cecs&year=1\n"
        "\n-- \nMyACSM · " + ADDRESS + "\n"
    )
    html = html_of(message)
    assert html.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<p>Hello Casey,</p>" in html
    assert "<table" not in html
    assert f"<p style=\"margin: 0;\">MyACSM · {ADDRESS}</p>" in html
    assert "Turn them off" not in html and "Turn them off" not in message.body


def test_the_reminder_footer_says_why_and_how_to_stop():
    message = build(context={"unsubscribe_url": UNSUBSCRIBE}, headers=HEADERS)
    assert message.body.endswith(
        "\n-- \nYou receive this reminder because reminders are on for your account. Turn them off: "
        f"{UNSUBSCRIBE}\nChoose which emails you get: {BASE}/accounts/email/\n\nMyACSM · {ADDRESS}\n"
    )
    html = html_of(message)
    assert ("You receive this reminder because reminders are on for your account. Turn them off: "
            f'<a href="{UNSUBSCRIBE}" style="color: #0b5cad;">{UNSUBSCRIBE}</a>') in html
    assert f'<a href="{BASE}/accounts/email/" style="color: #0b5cad;">{BASE}/accounts/email/</a>' in html
    assert f"MyACSM · {ADDRESS}" in html


def test_every_link_is_absolute():
    message = build(context={"unsubscribe_url": UNSUBSCRIBE})
    links = re.findall(r'href="([^"]+)"', html_of(message))
    assert links == [f"{BASE}/dashboard/?tab=cecs&amp;year=1", UNSUBSCRIBE, f"{BASE}/accounts/email/"]
    assert re.findall(r"https?://\S+", message.body) == [
        f"{BASE}/dashboard/?tab=cecs&year=1", UNSUBSCRIBE, f"{BASE}/accounts/email/",
    ]


def test_a_trailing_slash_on_the_base_url_makes_no_double_slash(settings):
    settings.PORTAL_BASE_URL = BASE + "/"
    assert f"{BASE}/dashboard/?tab=cecs&year=1" in build().body


def test_the_headers_are_kept_on_the_sent_message():
    mail_send(to="casey@example.com", subject="Your cycle ends in 30 days", template="emails/test_notice",
              context={"name": "Casey", "ends": "12/31", "unsubscribe_url": UNSUBSCRIBE}, headers=HEADERS)
    [sent] = mail.outbox
    assert sent.extra_headers == HEADERS
    parsed = message_from_bytes(sent.message().as_bytes())
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["To"] == "casey@example.com"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.get_payload()] == ["text/plain", "text/html"]


def test_the_callers_headers_dict_is_not_changed():
    headers = dict(HEADERS)
    message = build(headers=headers)
    message.extra_headers["X-Extra"] = "1"
    assert headers == HEADERS


def test_text_is_never_html_escaped_and_html_always_is():
    message = mail_build(to="casey@example.com", subject="s", template="emails/test_plain",
                         context={"name": "O'Brien <Casey>", "link": f"{BASE}/x?a=1&b=2"})
    assert message.body == f"O'Brien <Casey> & {BASE}/x?a=1&b=2\n"
    assert html_of(message) == f"<p>O&#x27;Brien &lt;Casey&gt; &amp; {BASE}/x?a=1&amp;b=2</p>"


def test_the_callers_context_may_name_the_portal_differently():
    message = build(context={"portal_name": "ACSM Certification"})
    assert message.body.endswith(f"\n-- \nACSM Certification · {ADDRESS}\n")


def test_without_the_settings_the_defaults_are_used(settings):
    del settings.PORTAL_NAME
    del settings.PORTAL_POSTAL_ADDRESS
    assert build().body.endswith(f"\n-- \nMyACSM · {ADDRESS}\n")


def test_a_missing_template_is_an_error():
    with pytest.raises(TemplateDoesNotExist):
        mail_build(to="casey@example.com", subject="s", template="emails/no_such_mail", context={})


class RefusingBackend(BaseEmailBackend):
    error: Exception = SMTPException("451 try again later")

    def send_messages(self, email_messages):
        raise self.error


@pytest.mark.parametrize("error", [SMTPException("451 try again later"), ConnectionRefusedError("refused")])
def test_sending_raises_what_the_backend_raises(settings, monkeypatch, error):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    monkeypatch.setattr(RefusingBackend, "error", error)
    with pytest.raises(type(error), match=str(error)):
        mail_send(to="casey@example.com", subject="s", template="emails/test_notice",
                  context={"name": "Casey", "ends": "12/31"})
    assert mail.outbox == []
