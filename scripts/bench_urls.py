"""The portal's URLs plus the benchmark's baselines: ``/bench/ok``, the cheapest page Django can serve, and
``/bench/form``, the cheapest page a logged-in person can be shown with a form on it."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import include, path


@login_not_required
def ok(request):
    return HttpResponse("ok")


def form(request):
    """What every logged-in page with a form costs before it has any content: the session, the user (the
    login requirement) and a CSRF token, masked anew for this response, with its cookie."""
    return HttpResponse(get_token(request)[:2])


urlpatterns = [
    path("bench/ok", ok, name="bench_ok"),
    path("bench/form", form, name="bench_form"),
    path("", include("acsm_portal.urls")),
]
