from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection


@require_GET
def home(request):
    return render(request, "accounts/home.html")


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
