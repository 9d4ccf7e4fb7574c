from django.conf import settings
from django.utils import timezone
from django.utils.cache import patch_cache_control

from . import clock


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
