"""Fixtures shared by the whole suite: real Postgres, Redis, Celery worker and Chromium."""

import email
import mailbox
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from acsm_portal import clock
from tests.dates import cycle_around
from tests.factories import UserFactory
from tests.smtp import SmtpServer
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


@pytest.fixture(scope="session", autouse=True)
def signing_keys(tmp_path_factory):
    """A development signing key and certificate of this run (``manage.py signing_keys_create``), named by the
    settings (and so by a worker's environment: ``worker_start``) for the whole run."""
    import io

    from django.core.management import call_command

    folder = tmp_path_factory.mktemp("signing")
    call_command("signing_keys_create", "--dir", str(folder), stdout=io.StringIO())
    before = settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE
    settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE = folder / "key.pem", folder / "cert.pem"
    yield folder
    settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE = before


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
    """The emails a real worker process sent, read from the folder ``path``.

    The suite's worker sends over SMTP to a real server process (``tests.smtp.SmtpServer``), which keeps each
    message it accepts in the Maildir ``path``: those are listed in the order they arrived, each complete. A
    folder a worker wrote with Django's file backend instead (``*.log`` files, complete messages only, in the
    order of the files' names) is read too, after them. Line ends are LF as in the file backend, whatever SMTP
    carried (CRLF); the SMTP server adds ``X-Peer``, ``X-MailFrom`` and ``X-RcptTo`` (the envelope).
    """

    SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # the file backend writes it after each message is complete

    def __init__(self, path: Path):
        self.path = path

    def _maildir(self) -> mailbox.Maildir | None:
        # A new instance for each look: its list of messages is read afresh, not from an earlier look's cache.
        return mailbox.Maildir(self.path, create=False) if (self.path / "new").is_dir() else None

    def clear(self):
        if box := self._maildir():
            box.clear()
        for f in self.path.glob("*.log"):
            f.unlink()

    def messages(self) -> list[email.message.Message]:
        """The messages received in full, oldest first; one still being received is left for the next look."""
        found = []
        if box := self._maildir():
            for key in sorted(box.keys(), key=_arrival):
                try:
                    raw = box.get_bytes(key)
                except KeyError:  # removed by a ``clear()`` since the listing
                    continue
                found.append(email.message_from_bytes(raw.replace(b"\r\n", b"\n")))
        for f in sorted(self.path.glob("*.log")):
            *complete, _being_written = f.read_bytes().split(self.SEPARATOR)
            found += [email.message_from_bytes(chunk.lstrip(b"\n")) for chunk in complete if chunk.strip()]
        return found

    def wait_for(self, count: int, timeout: float = PATIENCE) -> list[email.message.Message]:
        """At least ``count`` complete messages, as soon as the worker has sent them."""

        def enough() -> list[email.message.Message] | None:
            msgs = self.messages()
            return msgs if len(msgs) >= count else None

        try:
            return wait_until(enough, what=f"the worker to send {count} email(s)", timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it sent {len(self.messages())}") from None


def _arrival(key: str) -> tuple[int, ...]:
    """A Maildir key (``SECONDS.MMICROSECONDSPPIDQCOUNT.HOST``) as a sort key: when it was delivered, then the
    server's own count of the messages it delivered."""
    match = re.match(r"(\d+)\.M(\d+)P(\d+)Q(\d+)\.", key)
    return tuple(int(n) for n in match.groups()) if match else (0,)


def worker_start(*, queue: str, log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """A real Celery worker process (one job at a time) consuming ``queue`` through Redis, with this run's test
    database and private files and ``env`` added to its environment; its output goes to ``log_path``.

    Returns the process once it says it is ready. Raises ``RuntimeError`` with its output when it exits first,
    ``AssertionError`` (the process killed) when it is not ready within ``tests.waits.PATIENCE`` seconds.
    """
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "acsm_portal.settings_test",
        "DATABASE_URL": _database_url(),
        "PRIVATE_MEDIA_ROOT": str(settings.STORAGES["default"]["OPTIONS"]["location"]),
        "CELERY_QUEUE": queue,
        "SIGNING_KEY_FILE": str(settings.SIGNING_KEY_FILE),
        "SIGNING_CERT_FILE": str(settings.SIGNING_CERT_FILE),
        **env,
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-P", "solo", "-l", "info", "-Q", queue,
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )

    def ready() -> bool:
        text = log_path.read_text(errors="replace")
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited:\n{text}")
        return "ready." in text

    try:
        wait_until(ready, what="the Celery worker to start")
    except AssertionError:
        proc.kill()
        proc.wait(timeout=10)
        raise
    return proc


def worker_stop(proc: subprocess.Popen) -> None:
    """End a worker from ``worker_start`` (warm shutdown; killed when still there 10 s on)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory):
    """A real SMTP server process (aiosmtpd) on a free port of 127.0.0.1 for the whole run: its ``url`` is the
    worker's ``EMAIL_URL``, its ``maildir`` holds what it received (``tests.smtp.SmtpServer``)."""
    root = tmp_path_factory.mktemp("smtp")
    server = SmtpServer(root / "maildir", root / "aiosmtpd.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, smtp_server, tmp_path_factory):
    """A real Celery worker process consuming the test queue through Redis and sending its mail over SMTP to
    ``smtp_server``; yields the ``WorkerMailbox`` of what that server received."""
    from acsm_portal.celery import app

    app.control.purge()
    # django-environ's email_url: the SMTP backend, that host and port, no TLS, no login.
    proc = worker_start(queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                        log_path=tmp_path_factory.mktemp("worker-log") / "worker.log",
                        env={"EMAIL_URL": smtp_server.url})
    yield WorkerMailbox(smtp_server.maildir)
    worker_stop(proc)


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
