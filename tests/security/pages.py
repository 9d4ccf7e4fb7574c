"""Every page the URL conf serves, rendered for a person who has data behind it.

Pages without parameters are opened by a certificant with a renewal in the cart (or
anonymously, for the public ones); pages of an object are opened by its owner, built
with the builders in ``scoped``; staff pages by a superuser, on the first object of
each model. Only HTML answers with status 200 are kept.
"""

from dataclasses import dataclass
from html.parser import HTMLParser

from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from certifications.models import CprUpload, CprUploadFile
from payments.models import Payment
from tests.certifications.cpr_helpers import submitted
from tests.factories import UserFactory, certification_with_cycle
from tests.security.scoped import SCOPED, current_cycle, paid_order, renewal_in_cart
from tests.security.urlconf import PUBLIC, endpoints


@dataclass
class Page:
    name: str
    url: str
    response: object

    @property
    def html(self) -> str:
        return self.response.content.decode()


@dataclass
class Form:
    attrs: dict
    token: str = ""


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._open = Form(attrs)
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and attrs.get("name") == "csrfmiddlewaretoken":
            self._open.token = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def post_forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return [f for f in parser.forms if (f.attrs.get("method") or "get").lower() == "post"]


class _Scripts(HTMLParser):
    """Inline code a strict CSP would block: <script> without src (data blocks aside) and on* handlers."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") not in ("application/json",
                                                                                  "application/ld+json"):
            self.found.append(f"<script {attrs}>")
        self.found += [f"<{tag} {name}=…>" for name in attrs if name.startswith("on")]
        if any((value or "").strip().lower().startswith("javascript:") for value in attrs.values()):
            self.found.append(f"<{tag}> with a javascript: URL")


def inline_code(html: str) -> list[str]:
    parser = _Scripts()
    parser.feed(html)
    return parser.found


def _keep(pages: list[Page], name: str, url: str, response) -> None:
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        pages.append(Page(name, url, response))


def rendered_pages(user) -> list[Page]:
    all_endpoints = endpoints()
    pages: list[Page] = []

    # A certificant with a renewal in the cart (so the checkout shows) and a card waiting for review.
    renewal_in_cart(user)
    pending = submitted(certification_with_cycle(user, "GEI", *current_cycle()))
    certificant = Client()
    certificant.force_login(user)
    anonymous = Client()
    for endpoint in all_endpoints:
        if endpoint.is_admin or endpoint.parameters:
            continue
        client = anonymous if endpoint.name in PUBLIC else certificant
        _keep(pages, endpoint.name, endpoint.url(), client.get(endpoint.url()))

    # Set a new password: the link from the email, as the person follows it.
    confirm = next(e for e in all_endpoints if e.name == "password_reset_confirm")
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    url = confirm.url(uidb64=uidb64, token=default_token_generator.make_token(user))
    _keep(pages, confirm.name, url, anonymous.get(url, follow=True))

    # Each object page, opened by the object's owner.
    for name, scoped in SCOPED.items():
        if not any(probe.method == "get" for probe in scoped.probes):
            continue
        owner = UserFactory()
        target = scoped.build(owner)
        endpoint = next(e for e in all_endpoints if e.name == name)
        url = endpoint.url(**scoped.kwargs(target))
        client = Client()
        client.force_login(owner)
        _keep(pages, name, url, client.get(url))

    # Staff pages, on real objects where the URL names one.
    paid = paid_order(UserFactory())
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    known = {
        "upload_id": pending.pk,
        "payment_id": Payment.objects.get(order=paid).pk,
        "key": CprUploadFile.objects.filter(upload=pending).first().key,
        "id": str(user.pk),
    }
    assert CprUpload.objects.get(pk=pending.pk).state == CprUpload.State.PENDING
    for endpoint in all_endpoints:
        if not endpoint.is_admin or endpoint.name in PUBLIC:
            continue
        values = {k: v for k, v in known.items() if k in endpoint.parameters}
        model_admin = getattr(endpoint.callback, "model_admin", None)
        if "object_id" in endpoint.parameters and model_admin is not None:
            first = model_admin.model._default_manager.order_by("pk").first()
            if first is not None:
                values["object_id"] = str(first.pk)
        url = endpoint.url(**values)
        _keep(pages, endpoint.name, url, staff.get(url))
    for endpoint in (e for e in all_endpoints if e.name in PUBLIC and e.is_admin):
        _keep(pages, endpoint.name, endpoint.url(), anonymous.get(endpoint.url()))
    return pages
