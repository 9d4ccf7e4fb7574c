import os

import boto3
import redis
from botocore.config import Config as BotoConfig
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from kombu import Connection

from acsm_portal import clock

from .email_preferences import ALWAYS_SENT, REMINDER_KINDS, masked_email, user_for_unsubscribe_token
from .forms import EmailPreferencesForm, TimeZoneForm
from .services import AccountError, email_preferences_update, person_time_zone_from_browser, person_time_zone_set


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


@login_not_required
@never_cache
@require_GET
def readyz(request):
    """Readiness: whether this node can serve requests now, each shared service checked on its own.

    Answers 200 JSON ``{"postgres": "ok", "redis": "ok", "storage": "ok"}`` when PostgreSQL answers ``SELECT 1``,
    the Celery broker (Redis) answers a ping and the default storage (the S3 bucket, or the local folder) is
    reachable; 503 with the same keys when any is not, the failed ones reading ``"down: <error class>"``. Each check
    gives up within about two seconds. ``redis`` reads ``"in-process"`` (ready) when tasks run in-process (the demo).
    ``/healthz`` stays the liveness check (the process answers); a load balancer sends traffic on this one.
    """
    checks = {"postgres": _database_state(), "redis": _redis_state(), "storage": _storage_state()}
    ready = all(state in ("ok", "in-process") for state in checks.values())
    return JsonResponse(checks, status=200 if ready else 503)


READY_TIMEOUT = 2  # seconds each readiness check may take to connect, and again to get its answer


def _redis_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(url, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT)
            try:
                client.ping()
            finally:
                client.close()
        else:  # another broker: a connection is its ping
            with Connection(url, connect_timeout=READY_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=READY_TIMEOUT)
    except Exception as exc:  # any client failure means "down"
        return f"down: {exc.__class__.__name__}"
    return "ok"


def _storage_state() -> str:
    store = storages["default"]
    try:
        if hasattr(store, "bucket_name") and hasattr(store, "client_config"):  # django-storages' S3Storage
            config = BotoConfig(connect_timeout=READY_TIMEOUT, read_timeout=READY_TIMEOUT,
                                retries={"mode": "standard", "max_attempts": 1})
            client = boto3.session.Session().client(
                "s3", endpoint_url=store.endpoint_url or None, region_name=store.region_name or None,
                aws_access_key_id=store.access_key or None, aws_secret_access_key=store.secret_key or None,
                config=store.client_config.merge(config) if store.client_config else config)
            client.head_bucket(Bucket=store.bucket_name)
        elif isinstance(store, FileSystemStorage):  # the demo's local folder
            if not os.path.isdir(store.location):
                return "down: no folder"
        else:
            store.exists(".readyz")  # any other storage: one cheap look
    except Exception as exc:  # any client failure means "down"
        return f"down: {exc.__class__.__name__}"
    return "ok"


@never_cache
@require_http_methods(["GET", "POST"])
def email_preferences(request):
    """Email preferences: whether the person gets reminders; what is always sent either way."""
    # Not ``request.POST or None``: with the box unchecked the post is empty, and still a post.
    form = EmailPreferencesForm(request.POST if request.method == "POST" else None,
                                initial={"reminders": request.user.reminders_enabled})
    if request.method == "POST" and form.is_valid():
        email_preferences_update(user_id=request.user.pk, reminders=form.cleaned_data["reminders"],
                                 how="preferences page")
        messages.success(request, "Your email preferences are saved.")
        return redirect("email_preferences")
    return render(request, "accounts/email_preferences.html", {
        "form": form, "reminder_kinds": REMINDER_KINDS, "always_sent": ALWAYS_SENT,
    }, status=400 if form.errors else 200)


@login_not_required
@csrf_exempt  # RFC 8058: the mail client posts "List-Unsubscribe=One-Click" with no cookie; the token is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request, token: str):
    """The signed link in a reminder. GET asks (mail scanners follow links, so it changes nothing); POST, from
    the page's button or a mail client's one-click unsubscribe, turns reminders off and says so, every time.
    A tampered or unknown token gets 404 with a page pointing to Email preferences."""
    person = user_for_unsubscribe_token(token)
    if person is None:
        return render(request, "accounts/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        try:
            email_preferences_update(user_id=person.pk, reminders=False,
                                     how="one-click unsubscribe" if one_click else "unsubscribe page")
        except AccountError:  # the account went away since the link was read
            return render(request, "accounts/unsubscribe.html", {"invalid": True}, status=404)
    return render(request, "accounts/unsubscribe.html", {
        "done": request.method == "POST",
        "address": masked_email(person.email),
        "reminder_kinds": REMINDER_KINDS,
        "always_sent": ALWAYS_SENT,
    })
