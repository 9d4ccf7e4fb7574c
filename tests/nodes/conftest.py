"""Fixtures of the multi-node tests: the real S3 server and a bucket (tests/storage), and ``nodes``: two gunicorn
web nodes and two Celery workers that share nothing but PostgreSQL, Redis and that bucket, behind nginx.

Every process runs in a working directory of its own under the test's temporary folder, with a
``PRIVATE_MEDIA_ROOT`` of its own that must stay empty (documents go to the bucket). nginx is Debian's
(``/usr/sbin/nginx``), run with ``deploy/nginx.conf`` filled in for the two nodes, in the foreground, on a free port.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.smtp import SmtpServer, free_port
from tests.storage.conftest import REGION, bucket, s3_documents, s3_server  # noqa: F401  (fixtures used here too)
from tests.waits import wait_until

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
STOP_PATIENCE = 20  # seconds a process may take to end after SIGTERM before it is killed


def nginx_conf(*, listen: str, nodes: list[str]) -> str:
    """``deploy/nginx.conf`` filled in: nginx listening on ``listen``, round robin over ``nodes`` (``host:port``).

    When this process is root, nginx's worker processes run as root too (the default, ``nobody``, could not reach
    a temporary folder that only root may enter)."""
    servers = "\n        ".join(f"server {node} max_fails=1 fail_timeout=10s;" for node in nodes)
    text = NGINX_TEMPLATE.read_text()  # the placeholders on lines of their own; the comments name them too
    text = text.replace("listen @LISTEN@;", f"listen {listen};")
    text = re.sub(r"^(\s*)@NODES@$", lambda m: m.group(1) + servers, text, count=1, flags=re.MULTILINE)
    return ("user root;\n" if os.geteuid() == 0 else "") + text


def http_status(url: str) -> int:
    """The status ``url`` answers (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@dataclass
class Process:
    """One started process: ``name``, its working directory ``home``, the ``proc`` and its output ``log``."""

    name: str
    home: Path
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.output()[-4000:]}")
        return True

    def stop(self) -> None:
        """SIGTERM to the process and all it started (its own session), SIGKILL when still there after a while."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_PATIENCE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_PATIENCE)


def spawn(name: str, home: Path, command: list[str], env: dict[str, str]) -> Process:
    """Start ``command`` in ``home`` (created) with ``env`` added, in a session of its own, output to a log."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=home, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return Process(name, home, proc, log)


@dataclass
class Nodes:
    """The running cluster: ``url`` is nginx's, ``web`` the gunicorn nodes by name (``url`` of each in
    ``web_urls``), ``workers`` the Celery workers, ``media`` each process's ``PRIVATE_MEDIA_ROOT``, ``mailbox`` the
    SMTP server every process sends to, ``queue`` the Celery queue, ``nginx_log`` nginx's access log (the
    answering node of each request as ``upstream=host:port``)."""

    url: str
    web: dict[str, Process]
    web_urls: dict[str, str]
    workers: dict[str, Process]
    media: dict[str, Path]
    mailbox: SmtpServer
    queue: str
    nginx: Process
    nginx_log: Path
    env: dict[str, str] = field(default_factory=dict)

    def node_of(self, upstream: str) -> str:
        """The node's name for an ``X-Upstream`` value (``127.0.0.1:PORT``)."""
        for name, url in self.web_urls.items():
            if url.endswith("//" + upstream):
                return name
        raise AssertionError(f"no node at {upstream!r}")


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def nodes(transactional_db, s3_server, bucket, localstripe, tmp_path) -> Nodes:  # noqa: F811
    """Two web nodes (``a``, ``b``: gunicorn, 2 sync workers each), two Celery workers, an SMTP server and nginx
    round robin in front of the nodes, all on free ports of 127.0.0.1, against this test's database, the run's
    Redis and the bucket ``bucket``; stopped (SIGTERM) at the end."""
    queue = f"acsm-nodes-{os.environ.get('ACSM_TEST_RUN', os.getpid())}-{tmp_path.name}"
    mailbox = SmtpServer(tmp_path / "smtp" / "maildir", tmp_path / "aiosmtpd.log")
    (tmp_path / "smtp").mkdir()
    mailbox.start()
    env = {
        "DJANGO_SETTINGS_MODULE": "acsm_portal.settings_test",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": _database_url(),
        "CELERY_QUEUE": queue,
        "EMAIL_URL": mailbox.url,
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3_REGION": REGION,
        "S3_ACCESS_KEY_ID": s3_server.access_key,
        "S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "SIGNING_KEY_FILE": str(settings.SIGNING_KEY_FILE),
        "SIGNING_CERT_FILE": str(settings.SIGNING_CERT_FILE),
    }
    started: list[Process] = []
    media: dict[str, Path] = {}

    def own(name: str) -> dict[str, str]:
        media[name] = tmp_path / name / "private"
        media[name].mkdir(parents=True)
        return {**env, "PRIVATE_MEDIA_ROOT": str(media[name])}

    try:
        web, web_urls, workers = {}, {}, {}
        for name in ("a", "b"):
            port = free_port()
            web_urls[name] = f"http://127.0.0.1:{port}"
            web[name] = spawn(f"web-{name}", tmp_path / f"web-{name}", [
                sys.executable, "-m", "gunicorn", "acsm_portal.wsgi:application", "--workers", "2",
                "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "5",
                "--log-level", "warning"], own(f"web-{name}"))
            started.append(web[name])
        for name in ("1", "2"):
            workers[name] = spawn(f"worker-{name}", tmp_path / f"worker-{name}", [
                sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-P", "solo", "-l", "info",
                "-Q", queue, "-n", f"nodes-{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                "--without-heartbeat"], own(f"worker-{name}"))
            started.append(workers[name])

        proxy_home = tmp_path / "nginx"
        (proxy_home / "tmp").mkdir(parents=True)
        proxy_port = free_port()
        conf = proxy_home / "nginx.conf"
        conf.write_text(nginx_conf(listen=f"127.0.0.1:{proxy_port}",
                                   nodes=[url.removeprefix("http://") for url in web_urls.values()]))
        proxy = spawn("nginx", proxy_home, [NGINX, "-p", str(proxy_home), "-c", str(conf),
                                             "-e", str(proxy_home / "error.log"), "-g", "daemon off;"], {})
        started.append(proxy)

        for name, url in web_urls.items():
            wait_until(lambda: web[name].alive() and http_status(url + "/readyz") == 200,
                       what=f"web node {name} to be ready")
        for worker in workers.values():
            wait_until(lambda: worker.alive() and "ready." in worker.output(), what=f"{worker.name} to start")
        url = f"http://127.0.0.1:{proxy_port}"
        wait_until(lambda: proxy.alive() and http_status(url + "/healthz") == 200, what="nginx to answer")
        yield Nodes(url=url, web=web, web_urls=web_urls, workers=workers, media=media, mailbox=mailbox,
                    queue=queue, nginx=proxy, nginx_log=proxy_home / "access.log", env=env)
    finally:
        for process in reversed(started):
            process.stop()
        mailbox.stop()
        _queue_remove(queue)


def _queue_remove(queue: str) -> None:
    """This test's Celery queue and its bindings, from the run's Redis."""
    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.delete(queue, *client.keys(f"_kombu.binding*.{queue}"))
    finally:
        client.close()
