"""The production mode refuses insecure defaults and passes Django's deploy checks."""

import os
import subprocess
import sys

import pytest

from tests.production import GOOD, ROOT, run_manage


def test_production_passes_check_deploy_without_warnings():
    result = run_manage(GOOD, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(("missing", "message"), [
    ("SECRET_KEY", "Production needs a real SECRET_KEY"),
    ("DATABASE_URL", "Production needs DATABASE_URL pointing at PostgreSQL."),
    ("ALLOWED_HOSTS", "Production needs ALLOWED_HOSTS."),
    ("CELERY_BROKER_URL", "Production needs CELERY_BROKER_URL (Redis)."),
    ("CACHE_URL", "Production needs CACHE_URL pointing at Redis (shared by every process)."),
    ("STRIPE_WEBHOOK_SECRET", "Production needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET."),
    ("PORTAL_BASE_URL", "Production needs PORTAL_BASE_URL, the portal's https:// address."),
])
def test_production_refuses_to_start_without(missing, message):
    env = {k: v for k, v in GOOD.items() if k != missing}
    result = run_manage(env, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_links_in_emails_that_are_not_https():
    result = run_manage({**GOOD, "PORTAL_BASE_URL": "http://my.example.org"}, "check")
    assert result.returncode != 0
    assert "Production needs PORTAL_BASE_URL, the portal's https:// address." in result.stderr


def test_production_refuses_a_short_secret_and_sqlite():
    assert "Production needs a real SECRET_KEY" in run_manage({**GOOD, "SECRET_KEY": "short"}, "check").stderr
    result = run_manage({**GOOD, "DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "check")
    assert "Production needs DATABASE_URL pointing at PostgreSQL." in result.stderr


def test_development_defaults_need_no_services():
    hidden = {"DJANGO_SETTINGS_MODULE", "DJANGO_ENV", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CACHE_URL",
              "EMAIL_BACKEND", "EMAIL_FILE_PATH"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.EMAIL_BACKEND, s.EMAIL_FILE_PATH, "
        "s.CACHES['default']['BACKEND'], s.SESSION_ENGINE)"
    )
    env["DJANGO_SETTINGS_MODULE"] = "acsm_portal.settings"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    engine, eager, backend, mail_path, cache, sessions = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert eager == "True"
    assert backend == "django.core.mail.backends.filebased.EmailBackend"
    assert mail_path == str(ROOT / "var" / "mail")
    # One process, its own memory cache: sessions stay in the database.
    assert cache == "django.core.cache.backends.locmem.LocMemCache"
    assert sessions == "django.contrib.sessions.backends.db"
