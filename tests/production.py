"""``manage.py`` run in a subprocess under the production settings, for the tests of production mode."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A complete production environment: every setting production mode insists on, none of them real.
GOOD = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x7#Lq9!vR2@pW4$zN8^mK1&tY6*uH3(eJ5)cB0-aG_sD=fQ+iO",
    "DATABASE_URL": "postgres://portal@db.internal:5432/portal",
    "ALLOWED_HOSTS": "my.example.org",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "CACHE_URL": "redis://redis.internal:6379/1",
    "STRIPE_SECRET_KEY": "sk_live_abc",
    "STRIPE_WEBHOOK_SECRET": "whsec_abc",
    "PORTAL_BASE_URL": "https://my.example.org",
}


def run_manage(env_overrides, *args):
    # Start from the machine's environment without what the test settings added.
    test_only = {"DJANGO_SETTINGS_MODULE", "CACHE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMAIL_BACKEND", "EMAIL_FILE_PATH",
                 "PRIVATE_MEDIA_ROOT", "STRIPE_API_BASE", "STRIPE_JS_URL", "CELERY_QUEUE", "PORTAL_BASE_URL"}
    env = {k: v for k, v in os.environ.items() if k not in GOOD and k not in test_only}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "acsm_portal.settings"
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
