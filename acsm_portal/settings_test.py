"""Test settings: the real settings with the local services the suite talks to."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/acsm_portal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_QUEUE", "acsm-test")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", tempfile.mkdtemp(prefix="acsm-private-"))
os.environ.setdefault("STRIPE_API_BASE", "http://127.0.0.1:8421")
os.environ.setdefault("STRIPE_JS_URL", "http://127.0.0.1:8421/js.stripe.com/v3/")
# Playwright runs an event loop in the test process; the ORM is used beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
