from celery import shared_task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.template.loader import render_to_string

from acsm_portal import clock

from .models import User
from .services import password_set_path


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_set_password_email(self, user_id: int) -> str:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "no such user"
    if user.has_usable_password():
        return "password already set"
    context = {"user": user, "url": settings.PORTAL_BASE_URL + password_set_path(user=user)}
    send_mail(
        subject="Set your MyACSM password",
        message=render_to_string("emails/set_password.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
    return "sent"


@shared_task
def clear_expired_sessions() -> int:
    deleted, _ = Session.objects.filter(expire_date__lt=clock.real_now()).delete()
    return deleted


@shared_task
def ping() -> str:
    """Round-trip check used by the health tests and benchmarks."""
    return "pong"
