from django.conf import settings
from django.utils import timezone

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
