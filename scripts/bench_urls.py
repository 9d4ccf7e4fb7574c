"""The portal's URLs plus ``/bench/ok``, the cheapest page Django can serve, as the benchmark's baseline."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import include, path


@login_not_required
def ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("bench/ok", ok, name="bench_ok"),
    path("", include("acsm_portal.urls")),
]
