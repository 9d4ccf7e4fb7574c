"""Settings for the certificant portal, read from the environment.

With nothing set, the portal runs for development: a SQLite file under var/,
Celery tasks run in-process, emails are written to var/mail/, Stripe points at a
local emulator. ``DJANGO_ENV=production`` refuses to start without a real
secret key, database and Stripe keys.
"""

from datetime import date, timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("Production needs a real SECRET_KEY (50+ random characters).")
    if "DATABASE_URL" not in env or env.str("DATABASE_URL").startswith("sqlite"):
        raise ImproperlyConfigured("Production needs DATABASE_URL pointing at PostgreSQL.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Production needs ALLOWED_HOSTS.")
    if not env.str("CACHE_URL", default="").startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured("Production needs CACHE_URL pointing at Redis (shared by every process).")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "acsm_portal",  # the project's own commands (seed_demo) and the pages that compose the apps
    "accounts",
    "cecs",
    "certifications",
    "cart",
    "payments",
    "audits",
    "reminders",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs page's assets, served locally
    "providers",
    "verification",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "acsm_portal.middleware.DatabaseOutageMiddleware",  # outside sessions and log-in: it answers when they fail
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "providers.middleware.ProviderAreaMiddleware",  # provider users stay in /provider/
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "acsm_portal.middleware.PersonTimeZoneMiddleware",
    "acsm_portal.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "acsm_portal.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "acsm_portal.urls"
WSGI_APPLICATION = "acsm_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60 if PRODUCTION else 0)
# A persistent connection is checked before a request reuses it: one the server closed (a restart, a failover) is
# replaced instead of failing the request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"].startswith("django_redis."):
    # The cache holds shared reference data and copies of sessions; it is never on the path of a write. When Redis
    # does not answer, a read is a miss after a short wait and a write is skipped: speed is lost, nothing else.
    CACHES["default"].setdefault("OPTIONS", {}).update({
        "IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25,
    })
# Sessions live in the database only: a copy in a cache that ignores its errors could outlive a log-out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3

# Brute-force protection: five failures per email and address lock that pair out, and
# twenty failures from one address across any accounts lock the address out (password
# spraying); see accounts.lockout.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_HANDLER = "accounts.lockout.AccountAndAddressHandler"
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.auth.axes_username"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
# As-of date for rehearsing a season or checking a date (development and tests only): the clock answers
# this date with the real time of day (acsm_portal/clock.py).
PORTAL_TODAY = None
if env.str("PORTAL_TODAY", default=""):
    if PRODUCTION:
        raise ImproperlyConfigured("PORTAL_TODAY moves the portal's clock; it is refused in production.")
    try:
        PORTAL_TODAY = date.fromisoformat(env.str("PORTAL_TODAY"))
    except ValueError:
        raise ImproperlyConfigured(f"PORTAL_TODAY must be a date as YYYY-MM-DD, not {env.str('PORTAL_TODAY')!r}.")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded documents (CPR/AED card files, audit proof, certificate PDFs, their previews) live in the default
# storage, outside static files, with no public URL: they are served only through views that check owner or staff.
# Embedded default: the local file system under PRIVATE_MEDIA_ROOT (one machine). With S3_BUCKET set: a private
# bucket of an S3-compatible store (AWS S3, SeaweedFS, MinIO …) through django-storages, which every web node and
# worker share (docs/deploy.md). FILE_STORAGE_BACKEND/FILE_STORAGE_OPTIONS (JSON) name any other Django storage.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=VAR_DIR / "private")
S3_BUCKET = env.str("S3_BUCKET", default="")
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="")  # empty for AWS S3 itself
S3_REGION = env.str("S3_REGION", default="us-east-1")
# Empty keys leave boto3 to find its own (an instance or task role, AWS_* variables, ~/.aws).
S3_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID", default="")
S3_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY", default="")
# "path" (the bucket in the URL's path: SeaweedFS, MinIO, an endpoint on a bare host name), "virtual" (bucket.host)
# or "auto" (botocore's choice, for AWS S3).
S3_ADDRESSING_STYLE = env.str("S3_ADDRESSING_STYLE", default="path" if S3_ENDPOINT_URL else "auto")
# Downloads: streamed by the portal from the bucket (default), or, when true, a redirect to a presigned URL
# valid for S3_URL_EXPIRE seconds that forces an attachment, so the file's bytes skip the web node.
S3_REDIRECT_DOWNLOADS = env.bool("S3_REDIRECT_DOWNLOADS", default=False)
# The endpoint browsers reach for those presigned URLs, when the portal reaches the store at an inner address
# (docker-compose: http://s3:8333 inside, http://localhost:8333 outside); empty: S3_ENDPOINT_URL.
S3_PUBLIC_ENDPOINT_URL = env.str("S3_PUBLIC_ENDPOINT_URL", default="")
S3_URL_EXPIRE = 300  # seconds a presigned download URL is valid
if S3_REDIRECT_DOWNLOADS and not S3_BUCKET:
    raise ImproperlyConfigured("S3_REDIRECT_DOWNLOADS needs S3_BUCKET: it redirects downloads to the bucket.")
if PRODUCTION and S3_BUCKET and S3_ENDPOINT_URL and not (S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY):
    raise ImproperlyConfigured("Production with S3_ENDPOINT_URL needs S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY "
                               "(a store that takes requests without keys serves the documents to anyone).")
if S3_BUCKET:
    from botocore.config import Config as _S3ClientConfig

    _DOCUMENT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": S3_ENDPOINT_URL or None,
            "region_name": S3_REGION,
            "access_key": S3_ACCESS_KEY_ID or None,
            "secret_key": S3_SECRET_ACCESS_KEY or None,
            "default_acl": None,  # no ACL granted: objects stay as private as the bucket
            "querystring_auth": True,  # any URL made for an object is signed ...
            "querystring_expire": S3_URL_EXPIRE,  # ... and short-lived
            # Stored names are random (CPR files, audit proof) or fixed on purpose (certificates/<number>.pdf,
            # rendered again after a failed attempt; previews): a save replaces, never renames.
            "file_overwrite": True,
            # A stored file opened for reading is held in memory up to this size, then in an unnamed temp file.
            "max_memory_size": 2_621_440,
            "client_config": _S3ClientConfig(
                signature_version="s3v4", s3={"addressing_style": S3_ADDRESSING_STYLE},
                connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3},
            ),
        },
    }
else:
    _DOCUMENT_STORAGE = {
        "BACKEND": env.str("FILE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("FILE_STORAGE_OPTIONS", default={"location": str(PRIVATE_MEDIA_ROOT)}),
    }
STORAGES = {
    "default": _DOCUMENT_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=PRODUCTION)
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

MESSAGE_TAGS = {40: "danger"}
# Messages wait in the session (the database), not in a cookie: one may carry a secret shown once (a new provider
# API token), and a signed cookie is readable.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Email: files under var/mail/ in development, SMTP when EMAIL_URL is set.
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
    EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
# An SMTP server that hangs must not outlast a job's time limit (CELERY_TASK_TIME_LIMIT): the send gives up first.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="MyACSM <no-reply@certification.example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Mail through an email provider's API instead of SMTP: EMAIL_BACKEND=anymail.backends.<provider>.EmailBackend
# (postmark, amazon_ses, sendgrid, mailgun, …) and ANYMAIL='{"POSTMARK_SERVER_TOKEN": "…"}' (django-anymail).
ANYMAIL = env.json("ANYMAIL", default={})
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
if PRODUCTION and not PORTAL_BASE_URL.startswith("https://"):
    # Links in emails, and the one-click unsubscribe address (RFC 8058 requires HTTPS), are built on it.
    raise ImproperlyConfigured("Production needs PORTAL_BASE_URL, the portal's https:// address.")
# The sender named in every email's footer, with the postal address commercial mail must carry.
PORTAL_NAME = env.str("PORTAL_NAME", default="MyACSM")
PORTAL_POSTAL_ADDRESS = env.str(
    "PORTAL_POSTAL_ADDRESS", default="American College of Sports Medicine, 401 W. Michigan St., Indianapolis, IN 46202"
)

# Celery: with no broker configured, tasks run in-process (development only).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default=""))
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
# Time limits, in seconds, and the broker's redelivery fit together with the claims and the sweeper: see
# acsm_portal/jobs.py. The longest job (a receipt with its PDF, sent over SMTP with EMAIL_TIMEOUT) takes a few.
CELERY_TASK_SOFT_TIME_LIMIT = 75
CELERY_TASK_TIME_LIMIT = 90
# A job whose worker died is handed to another worker after this long (Redis' default is an hour).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 150, "socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="acsm")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {"task": "accounts.tasks.clear_expired_sessions", "schedule": 60 * 60 * 24},
    # Jobs not done three minutes after they were called for (receipts, certificate renders, decision and
    # set-password emails) are queued again.
    "requeue-lost-jobs": {"task": "acsm_portal.tasks.lost_jobs_requeue_task", "schedule": 60,
                          "options": {"expires": 60}},
    # Payment attempts left 30 minutes waiting for 3-D Secure or for Stripe are canceled at Stripe and ended.
    "end-stalled-payments": {"task": "payments.tasks.stalled_payments_end_task", "schedule": 5 * 60,
                             "options": {"expires": 5 * 60}},
    # Paid renewals are drawn for audit within a minute of payment (payments knows nothing of audits).
    "draw-renewals-for-audit": {"task": "audits.tasks.audit_draws_pending_task", "schedule": 60,
                                "options": {"expires": 60}},
    # Hourly, so that each person's 11:59 PM deadline (in their own zone) is met within the hour.
    "fail-overdue-audits": {"task": "audits.tasks.audits_overdue_fail_task", "schedule": 60 * 60,
                            "options": {"expires": 60 * 60}},
    "remind-audits-due": {"task": "audits.tasks.audit_reminders_queue_task", "schedule": 60 * 60,
                          "options": {"expires": 60 * 60}},
    # Hourly: reminders go out in each person's morning (from 8 AM their time), and a run that missed its hour
    # catches up at the next (reminders.rules).
    # CPR/AED drafts untouched for 7 days are removed with their stored files.
    "remove-abandoned-cpr-drafts": {"task": "certifications.tasks.cpr_drafts_abandoned_remove_task",
                                    "schedule": 60 * 60 * 24, "options": {"expires": 60 * 60}},
    "send-reminders": {"task": "reminders.tasks.reminders_queue_task", "schedule": crontab(minute=2),
                       "options": {"expires": 60 * 60}},
    # Hourly: each certificant's digest of new provider credits goes out once a day in their daytime (8 AM to 9 PM
    # their time), and a run that missed its hour is caught up at the next (providers/digest.py).
    "send-provider-credit-digests": {"task": "providers.tasks.provider_credit_digests_queue_task",
                                     "schedule": crontab(minute=7), "options": {"expires": 60 * 60}},
    # Hourly: certificates move by their dates (Active, grace, Lapsed, Renewed) on each holder's date in their zone,
    # within the hour after their midnight (certifications/certificate_status.py).
    "refresh-certificate-statuses": {"task": "certifications.tasks.certificates_status_refresh_task",
                                     "schedule": crontab(minute=12), "options": {"expires": 60 * 60}},
}
if PRODUCTION and CELERY_TASK_ALWAYS_EAGER:
    raise ImproperlyConfigured("Production needs CELERY_BROKER_URL (Redis).")

# Stripe: the official client; defaults point at the local emulator (localstripe).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_local")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_local")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_local")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="" if PRODUCTION else "http://127.0.0.1:8420")
STRIPE_JS_URL = env.str(
    "STRIPE_JS_URL", default="https://js.stripe.com/v3/" if PRODUCTION else "http://127.0.0.1:8420/js.stripe.com/v3/"
)
if PRODUCTION and (not STRIPE_SECRET_KEY.startswith(("sk_live_", "sk_test_")) or STRIPE_SECRET_KEY == "sk_test_local"
                   or STRIPE_WEBHOOK_SECRET == "whsec_local"):
    raise ImproperlyConfigured("Production needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.")

# The provider API (providers/api.py): JSON only, authenticated per view by a provider's token.
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MyACSM provider API",
    "DESCRIPTION": "Approved continuing-education providers post course completions for certificants.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Requests a minute one provider token may make to the API.
PROVIDER_API_RATE = env.str("PROVIDER_API_RATE", default="120/min")

# The certifying body's signing key and certificate (PEM files): certificate PDFs are signed with them (PAdES) and
# Open Badges credentials (VC-JWT, ES256). Development and tests make their own: manage.py signing_keys_create.
SIGNING_KEY_FILE = env.path("SIGNING_KEY_FILE", default=VAR_DIR / "signing" / "key.pem")
SIGNING_CERT_FILE = env.path("SIGNING_CERT_FILE", default=VAR_DIR / "signing" / "cert.pem")
# Public verification pages: requests a minute one address may make.
VERIFY_RATE = env.str("VERIFY_RATE", default="30/m")
# With the cache (Redis) down, the public pages answer rather than refuse everyone (django-ratelimit).
RATELIMIT_FAIL_OPEN = True
# Behind a proxy, the header that carries the visitor's address (e.g. HTTP_X_REAL_IP set by nginx); else the peer's.
if "RATELIMIT_IP_META_KEY" in env:
    RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY")

# Where the lapsed write to apply for reinstatement (reminder emails name it).
CERTIFICATION_CONTACT_EMAIL = env.str("CERTIFICATION_CONTACT_EMAIL", default="certification@certification.example.org")

ONLINE_LEARNING_PLATFORM_URL = env.str("ONLINE_LEARNING_PLATFORM_URL", default="https://learning.example.org/")

# Security headers. Production turns on the HTTPS-only settings.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # scripts read the token from the form's hidden input, not from the cookie
# Stored card files and PDFs: readable by the portal's own user only (web and worker run as the same user).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SILENCED_SYSTEM_CHECKS = []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {name: {"level": "WARNING"} for name in ("axes", "weasyprint", "fontTools")},
}
