"""Provider users stay in the provider area.

A logged-in provider user (``ProviderMember``) asking for any page outside ``/provider/``, log-out, password change,
the API's docs and static files is sent to ``/provider/``; logging in sends them there too. Whether the person is one is read once,
when they log in, and kept in their session (``SESSION_KEY``: the provider's id, 0 for everyone else), so the pages
certificants open read nothing more for it. A session from before that (no key) is looked up once and marked.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .selectors import provider_id_for

SESSION_KEY = "provider_id"


@receiver(user_logged_in, dispatch_uid="providers.remember_provider_user")
def remember_provider_user(sender, request, user, **kwargs):
    """On log-in, keep in the session whether the person works for a provider (its id) or not (0)."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = provider_id_for(user_id=user.pk) or 0


def provider_id_of(request: HttpRequest) -> int:
    """The provider the logged-in person works for as their session has it (0 for none); looked up and kept in
    the session when the session does not say."""
    provider_id = request.session.get(SESSION_KEY)
    if provider_id is None:
        provider_id = request.session[SESSION_KEY] = provider_id_for(user_id=request.user.pk) or 0
    return provider_id


def forget_provider_user(request: HttpRequest) -> None:
    """The person no longer works for a provider (their membership was removed): certificant pages open again."""
    if request.session.get(SESSION_KEY):
        request.session[SESSION_KEY] = 0


class ProviderAreaMiddleware:
    """Keeps provider users inside the provider area; sits after ``AuthenticationMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.home = reverse("provider_home")
        self.login = reverse("login")
        # The API docs page too: a provider's developers read it (the API itself answers tokens, not sessions).
        self.allowed = (self.home, reverse("logout"), reverse("password_change").rstrip("/"), settings.STATIC_URL,
                        "/api/v1/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and provider_id_of(request) and not request.path.startswith(self.allowed):
            return HttpResponseRedirect(self.home)
        response = self.get_response(request)
        if (request.path == self.login and request.method == "POST" and response.status_code == 302
                and request.user.is_authenticated and request.session.get(SESSION_KEY)
                and not response["Location"].startswith(self.home)):
            response["Location"] = self.home  # a provider user just logged in: to their area, whatever "next" said
        return response
