"""A real SMTP server process for the worker tests: aiosmtpd, listening on 127.0.0.1, keeping every message it
accepts in a Maildir that ``tests.conftest.WorkerMailbox`` reads.

aiosmtpd's own command line runs it (``python -m aiosmtpd -n -l HOST:PORT -c aiosmtpd.handlers.Mailbox DIR``):
its ``Mailbox`` handler adds each message to ``mailbox.Maildir(DIR)`` as the DATA command ends, written in
``tmp/`` and then moved into ``new/``, so a message the tests can see is complete. The handler adds three headers
of its own: ``X-Peer`` (the client's address), ``X-MailFrom`` and ``X-RcptTo`` (the SMTP envelope).
"""

import mailbox
import signal
import smtplib
import socket
import subprocess
import sys
from pathlib import Path

from tests.waits import wait_until

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def smtp_answers(port: int) -> bool:
    """Whether an SMTP server on ``port`` of 127.0.0.1 greets and answers ``NOOP`` with 250 (within 10 s)."""
    try:
        with smtplib.SMTP(HOST, port, timeout=10) as client:
            return client.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


class SmtpServer:
    """An aiosmtpd process on ``port`` (a free one when not given) storing what it receives in the Maildir
    ``maildir`` (created). ``url`` is its ``EMAIL_URL`` (``smtp://127.0.0.1:PORT``: no TLS, no login).

    ``start()`` returns once the server answers; raises ``RuntimeError`` with its output when the process exits
    first, ``AssertionError`` when it does not answer within ``tests.waits.PATIENCE``. ``stop()`` ends it.
    """

    def __init__(self, maildir: Path, log_path: Path, port: int | None = None):
        self.maildir = maildir
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"smtp://{HOST}:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "SmtpServer":
        mailbox.Maildir(self.maildir, create=True)  # tmp/, new/ and cur/, before the first message or look
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{self.port}",
                 "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
                stdout=log, stderr=subprocess.STDOUT,
            )

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aiosmtpd exited ({self.proc.returncode}):\n{self.log_path.read_text()}")
            return smtp_answers(self.port)

        try:
            wait_until(answers, what=f"aiosmtpd to answer on port {self.port}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End the process (SIGINT, aiosmtpd's own way to close its server; killed if it is still there 10 s on)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
