"""A worker killed with ``kill -9`` in the middle of a receipt: the broker hands the job to the next worker once
its visibility timeout (150 s, not Redis' default hour) has passed, the dead worker's claim has expired by then,
and the receipt goes out once, with no sweeper and no staff. The delay is printed (``-s`` shows it)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings

from acsm_portal import jobs
from payments.models import Order
from payments.tasks import order_receipt_email
from tests.conftest import ROOT, WorkerMailbox, _database_url
from tests.waits import wait_until
from tests.factories import UserFactory
from tests.payments.helpers import paid_order_without_stripe

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


class SilentSmtpServer:
    """A port that takes connections and never says a word: a worker sending mail through it hangs mid-job."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


def start_worker(queue: str, log_path, **env) -> subprocess.Popen:
    """A Celery worker process on ``queue``, its output in ``log_path``; returns once it is ready."""
    log = open(log_path, "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-P", "solo", "-l", "info", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "acsm_portal.settings_test", "DATABASE_URL": _database_url(),
             "CELERY_QUEUE": queue, **env},
    )
    wait_until(lambda: "ready." in log_path.read_text() or proc.poll() is not None, what="the worker to start")
    assert proc.poll() is None, log_path.read_text()
    return proc




def test_a_receipt_whose_worker_was_killed_goes_out_once_after_the_visibility_timeout(tmp_path):
    assert settings.CELERY_TASK_TIME_LIMIT < jobs.CLAIM.total_seconds() < VISIBILITY_TIMEOUT
    assert jobs.RETRY_BACKOFF_MAX + settings.CELERY_TASK_TIME_LIMIT < VISIBILITY_TIMEOUT
    queue = f"acsm-redelivery-{os.getpid()}"
    order = paid_order_without_stripe(UserFactory(), "CPT", total="60.00")
    silent = SilentSmtpServer()
    hanging = start_worker(queue, tmp_path / "hanging.log", EMAIL_URL=f"smtp://127.0.0.1:{silent.port}")
    next_worker = None
    try:
        order_receipt_email.apply_async(args=[order.pk], queue=queue)
        wait_until(lambda: Order.objects.get(pk=order.pk).receipt_claimed_at,
                   what="the worker to take the receipt on")
        wait_until(lambda: silent.held, what="the worker to connect to the mail server")
        hanging.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        hanging.wait(timeout=30)

        mail_dir = tmp_path / "mail"
        mail_dir.mkdir()
        next_worker = start_worker(queue, tmp_path / "next.log", EMAIL_FILE_PATH=str(mail_dir),
                                   EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend")
        wait_until(lambda: Order.objects.get(pk=order.pk).receipt_emailed_at,
                   what="the next worker to send the receipt",
                   timeout=VISIBILITY_TIMEOUT + 240)
        delay = time.monotonic() - killed_at
        print(f"\nreceipt sent {delay:.0f} s after its worker was killed (visibility timeout {VISIBILITY_TIMEOUT} s)")
        assert delay >= jobs.CLAIM.total_seconds() - 10  # it was not sent while the dead worker's claim stood
        assert [m["Subject"] for m in WorkerMailbox(mail_dir).messages()] == [f"Your MyACSM receipt {order.number}"]
    finally:
        for proc in (hanging, next_worker):
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        silent.close()
