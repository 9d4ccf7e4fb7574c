from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from kombu import Connection

from acsm_portal import clock

from .forms import TimeZoneForm
from .services import AccountError, person_time_zone_from_browser, person_time_zone_set


@require_GET
def home(request):
    return render(request, "accounts/home.html")


class PortalLoginView(LoginView):
    """Django's log-in, which also takes the browser's time zone for a person who has none yet
    (``static/js/time-zone.js`` fills the hidden ``time_zone`` field)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        person_time_zone_from_browser(user=form.get_user(), name=self.request.POST.get("time_zone", ""))
        return response


@never_cache
@require_http_methods(["GET", "POST"])
def profile(request):
    """The person's profile: who they are, and the time zone their deadlines are kept in."""
    zone = clock.zone_for(request.user)
    form = TimeZoneForm(request.POST or None, initial={"time_zone": zone.key})
    if request.method == "POST" and form.is_valid():
        try:
            person_time_zone_set(user=request.user, name=form.cleaned_data["time_zone"])
        except AccountError as exc:
            form.add_error("time_zone", str(exc))
        else:
            messages.success(request, f"Saved. Your deadlines now end at 11:59 PM {clock.zone_label_for(request.user)}.")
            return redirect("profile")
    return render(request, "accounts/profile.html", {
        "form": form,
        "local_now": clock.now().astimezone(zone),
        "zone_label": clock.zone_label(zone.key),
    }, status=400 if form.errors else 200)


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker answer, 503 when either does not."""
    checks = {"database": _database_state(), "broker": _broker_state()}
    healthy = all(state in ("ok", "in-process") for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver failure means "down"
        return f"down: {exc.__class__.__name__}"
    return "ok"


def _broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception as exc:
        return f"down: {exc.__class__.__name__}"
    return "ok"
