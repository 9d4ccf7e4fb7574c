import logging
import sys

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_cache_control

from . import clock

log = logging.getLogger(__name__)


class PersonTimeZoneMiddleware:
    """Pages show times in the logged-in person's own zone (``User.time_zone``); everyone else sees the portal's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(clock.zone_for(user))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class PrivatePagesMiddleware:
    """Nothing shown to a logged-in person is kept in a browser's or a proxy's cache.

    Pages, PDFs and files for a signed-in person carry ``Cache-Control: no-store, private``
    so they cannot be read back from a shared computer's cache after logout. A view's own
    directives are kept (``never_cache`` adds ``no-store`` already); ``no-store`` and
    ``private`` are added to them, and ``public`` dropped. Anonymous pages (login, public
    ones) are left alone: they hold nothing personal. Static files never get here
    (WhiteNoise answers first).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response


class ContentSecurityPolicyMiddleware:
    """A strict Content Security Policy: local assets only, plus Stripe.js where configured.

    A view may set its own ``Content-Security-Policy`` header (file downloads do);
    that one is kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        stripe_origin = _origin(settings.STRIPE_JS_URL)
        api_origin = _origin(settings.STRIPE_API_BASE) if settings.STRIPE_API_BASE else "https://api.stripe.com"
        scripts = " ".join(filter(None, ["'self'", stripe_origin]))
        frames = " ".join(filter(None, ["'self'", stripe_origin, "https://hooks.stripe.com"]))
        connect = " ".join(filter(None, ["'self'", api_origin, stripe_origin]))
        self.policy = (
            "default-src 'self'; "
            f"script-src {scripts}; "
            "style-src 'self'; "
            "img-src 'self' data:; "
            "font-src 'self'; "
            f"connect-src {connect}; "
            f"frame-src {frames}; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        )

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


def _origin(url: str) -> str:
    if not url or "://" not in url:
        return ""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


# Database outages ---------------------------------------------------------------

OUTAGE_ERRORS = (OperationalError, InterfaceError)
OUTAGE_MESSAGE = "We could not save this just now — try again in a minute."
RETRY_AFTER_SECONDS = 60
_OUTAGE_FLAG = "_acsm_database_outage"


def is_database_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the database did not answer.

    ``OperationalError`` (refused, dropped, timed out) and ``InterfaceError`` (a connection already closed);
    integrity and programming errors are mistakes, not outages, and stay 500s.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OUTAGE_ERRORS):
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


def _note_outage(sender, request=None, **kwargs):
    """Mark a request whose 500 came from a database outage in a middleware or view past this one's reach."""
    if request is not None and is_database_outage(sys.exc_info()[1]):
        setattr(request, _OUTAGE_FLAG, True)


got_request_exception.connect(_note_outage, dispatch_uid="acsm_portal.database_outage")


class DatabaseOutageMiddleware:
    """While the database does not answer, a page says "try again in a minute" (503) and keeps what was typed.

    Catches ``OperationalError``/``InterfaceError`` from a view (``process_exception``) and, for the layers
    that run before the view (loading the session and the logged-in person), turns their 500 into the same
    answer. The answer is rendered without the database: a plain template render, no request context,
    no context processors, no session. A form post (``outage_response``) is offered again as a form that
    posts the same fields to the same address with a "Try again" button; passwords are never echoed back
    and files cannot be kept, and the page says so. Scripts that ask for JSON (``Accept: application/json``:
    checkout, CPR uploads) get ``{"error": ..., "message": ...}``. Every answer carries ``Retry-After``
    (seconds) and ``Cache-Control: no-store``.

    Sits outside the session, CSRF and authentication middleware (just after WhiteNoise), so it sees
    what they answer.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _OUTAGE_FLAG, False):
            return outage_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        log.error("Database unavailable: %s %s", request.method, request.path, exc_info=exception)
        return outage_response(request)


def outage_response(request: HttpRequest) -> HttpResponse:
    """The 503 answer to ``request`` while the database is away; reads no database.

    HTML (``templates/503.html``) unless the client prefers JSON. For a POST the page re-offers the posted
    fields as hidden inputs of a form posting back to ``request.get_full_path()``, with the original
    ``csrfmiddlewaretoken`` (or the ``X-CSRFToken`` header a script sent); a post without one gets no form.
    Fields whose name holds "password" are left out and asked for again; file fields get a new file input.
    """
    if request.get_preferred_type(["text/html", "application/json"]) == "application/json":
        response = JsonResponse({"error": OUTAGE_MESSAGE, "message": OUTAGE_MESSAGE}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", _outage_context(request)), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _outage_context(request: HttpRequest) -> dict:
    context = {"action": request.get_full_path(), "is_post": request.method == "POST"}
    if not context["is_post"]:
        return context
    try:
        posted, uploaded = request.POST, request.FILES
    except (SuspiciousOperation, MultiPartParserError, UnreadablePostError):
        return context  # a body that cannot be read again: the page says to go back and retry
    kept, secrets = [], []
    for name, values in posted.lists():
        if name == "csrfmiddlewaretoken":
            continue
        if "password" in name.lower():
            current = name.lower() in ("password", "old_password")
            secrets.append({"name": name, "label": _label(name, password=True),
                            "autocomplete": "current-password" if current else "new-password"})
        else:
            kept += [{"name": name, "value": value, "label": _label(name)} for value in values]
    # The token the person's own page sent (a field, or the header scripts use); never a fresh one, so a
    # post from another site (which cannot know it) is not turned into a form that passes the CSRF check.
    token = posted.get("csrfmiddlewaretoken") or request.headers.get("X-CSRFToken", "")
    context.update(
        csrf_token=token,
        fields=kept,
        shown=[field for field in kept if field["value"].strip()],
        secrets=secrets,
        files=[{"name": name, "label": _label(name), "file_names": [f.name for f in uploaded.getlist(name)]}
               for name in uploaded],
    )
    return context


def _label(name: str, *, password: bool = False) -> str:
    """A field's name as a person reads it: ``line2`` -> "Line 2"; a password's ``new_password2`` -> "New
    password (again)"."""
    stem = name.rstrip("0123456789")
    words, number = stem.replace("_", " ").strip(), name[len(stem):]
    if not words:
        return name
    label = words[:1].upper() + words[1:]
    if password:
        return f"{label} (again)" if number == "2" else label
    return f"{label} {number}" if number else label
