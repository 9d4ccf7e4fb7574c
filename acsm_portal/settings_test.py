"""Test settings: the real settings with the local services the suite talks to.

Each test run gets its own database, Celery queue and Stripe emulator port, so two
runs on one machine (or a run beside the demo) never share state. Subprocesses such
as the Celery worker inherit the run's values through the environment.
"""

import os
import socket


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RUN = os.environ.setdefault("ACSM_TEST_RUN", str(os.getpid()))
STRIPE_PORT = os.environ.setdefault("ACSM_TEST_STRIPE_PORT", str(_free_port()))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/acsm_portal")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Redis, as in production: the worker and the test process share sessions and cached reference data.
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CELERY_QUEUE", f"acsm-test-{RUN}")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", f"/tmp/acsm-private-{RUN}")  # removed when the run ends (conftest)
os.environ.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{STRIPE_PORT}")
os.environ.setdefault("STRIPE_JS_URL", f"http://127.0.0.1:{STRIPE_PORT}/js.stripe.com/v3/")
# Playwright runs an event loop in the test process; the ORM is used beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from .settings import *  # noqa: E402,F403

DATABASES["default"]["TEST"] = {"NAME": f"test_acsm_portal_{RUN}"}  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = f"test-{RUN}"  # noqa: F405  (conftest empties only this run's keys)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PORTAL_TODAY = None  # tests move the time with time-machine; an as-of date left in .env must not pin it
