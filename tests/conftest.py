"""Fixtures shared by the whole suite: real Postgres, Redis, Celery worker and Chromium."""

import email
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from acsm_portal import clock
from tests.dates import cycle_around
from tests.factories import UserFactory
from tests.waits import PATIENCE, wait_until

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def cache_clear() -> None:
    """Empty this run's keys only (Redis database 14 may serve another run beside this one)."""
    cache.delete_pattern("*")


@pytest.fixture(scope="session", autouse=True)
def run_cache():
    """This run's cache keys are removed when the run ends."""
    yield
    cache_clear()


@pytest.fixture(scope="session", autouse=True)
def private_media_root():
    """Uploaded files of this run live in their own folder, removed at the end."""
    import shutil

    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The browser's clocks show the portal's zone, whatever the machine's: a person without a zone takes it at
    log-in (static/js/time-zone.js), so their deadlines read "Eastern time" on any machine."""
    return {**browser_context_args, "timezone_id": settings.TIME_ZONE}


@pytest.fixture(autouse=True)
def reference_data(request, _django_db_marker):
    """Seeded types and caps, again after a transactional test has flushed the tables."""
    if not (request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)):
        return
    request.getfixturevalue("_django_db_helper")
    from cecs.models import YearlyCap
    from cecs.reference import yearly_caps_ensure
    from certifications.models import CertificationType
    from certifications.reference import certification_types_ensure

    certification_types_ensure(CertificationType)
    yearly_caps_ensure(YearlyCap)
    cache_clear()  # cached reference data starts fresh with each test's database


@pytest.fixture
def today():
    """The portal's date (the date of a person with no zone of their own), from the clock time-machine moves."""
    return clock.today()


@pytest.fixture
def open_cycle(today):
    """A cycle around today: from January 1 last year to December 31 next year."""
    return cycle_around(today)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class WorkerMailbox:
    """Emails a real worker process wrote with Django's file backend."""

    SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # written after each message is complete

    def __init__(self, path: Path):
        self.path = path

    def clear(self):
        for f in self.path.glob("*.log"):
            f.unlink()

    def messages(self) -> list[email.message.Message]:
        """The messages written in full; one the worker is still writing is left for the next look."""
        found = []
        for f in sorted(self.path.glob("*.log")):
            *complete, _being_written = f.read_bytes().split(self.SEPARATOR)
            found += [email.message_from_bytes(chunk.lstrip(b"\n")) for chunk in complete if chunk.strip()]
        return found

    def wait_for(self, count: int, timeout: float = PATIENCE) -> list[email.message.Message]:
        """At least ``count`` complete messages, as soon as the worker has written them."""

        def enough() -> list[email.message.Message] | None:
            msgs = self.messages()
            return msgs if len(msgs) >= count else None

        try:
            return wait_until(enough, what=f"the worker to send {count} email(s)", timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it sent {len(self.messages())}") from None


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process consuming the test queue through Redis."""
    from acsm_portal.celery import app

    app.control.purge()
    mail_dir = tmp_path_factory.mktemp("worker-mail")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "acsm_portal.settings_test",
        "DATABASE_URL": _database_url(),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "PRIVATE_MEDIA_ROOT": str(settings.STORAGES["default"]["OPTIONS"]["location"]),
    }
    log = open(tmp_path_factory.mktemp("worker-log") / "worker.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-P", "solo", "-l", "info",
         "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def ready() -> bool:
        log.seek(0)
        text = log.read()
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited:\n{text}")
        return "ready." in text

    try:
        wait_until(ready, what="the Celery worker to start")
    except AssertionError:
        proc.kill()
        raise
    yield WorkerMailbox(mail_dir)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def worker_mail(celery_worker):
    celery_worker.clear()
    return celery_worker



@pytest.fixture(scope="session")
def localstripe():
    """A real local Stripe emulator (localstripe) for the whole run; tests talk to it through `stripe`."""
    import urllib.request

    base = settings.STRIPE_API_BASE  # a free port chosen for this run by the test settings
    port = base.rsplit(":", 1)[1]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "localstripe"), "--port", port, "--from-scratch"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("localstripe exited")
        try:
            urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=10).read()
        except OSError:
            return False
        return True

    try:
        wait_until(answers, what="localstripe to start")
    except AssertionError:
        proc.kill()
        raise
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def stripe_webhook_register(base: str, url: str, name: str = "portal") -> None:
    """Ask the emulator to send signed payment events to ``url``."""
    import json
    import urllib.request

    body = json.dumps({"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET,
                       "events": ["payment_intent.succeeded", "payment_intent.payment_failed"]}).encode()
    request = urllib.request.Request(f"{base}/_config/webhooks/{name}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=PATIENCE).read()


def stripe_webhooks_clear(base: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{base}/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=PATIENCE).read()
