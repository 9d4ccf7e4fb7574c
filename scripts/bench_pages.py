"""The page benchmark: every hot page against the floor, in one run, on one gunicorn.

    .venv/bin/python scripts/bench_pages.py [--reseed] [--users 100000] [--duration 10] [--rounds 5] [--explain]
                                            [--pages dashboard-60,queue-all] [--connections 8] [--quiet-wait 5]

1. Seeds the Postgres database ``acsm_bench_pages`` with COPY (kept; reused when it holds the same volume;
   ``--reseed`` drops it first): 100,000 certificants with 1-2 certifications, their open cycles (half with an
   earlier renewed cycle and its certificate), 5 credits each, a cart each, and 120,000 CPR cards (2,000
   pending review, 2% drafts, 1% rejected, the rest approved). Among them, people 1-16 hold all four
   certifications, 60 credits over the cycle, approved cards and the four renewals in their cart;
   people 17-32 the same with 500 credits and an empty cart. One staff member reviews cards through a group.
2. In process (Django's test client, the same settings and database): checks each page shows what it must,
   counts the SQL of one warm request, flags a sequential scan of a table of 10,000 rows or more and a
   query repeated per row; ``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of every SELECT.
3. Starts gunicorn as production does (DJANGO_ENV=production, DEBUG off, 2 sync workers, collected static
   files, behind an HTTPS proxy: requests carry X-Forwarded-Proto) on a free port, and runs ``wrk -t2 -c8``
   on each page for ``--duration`` seconds, 16 sessions rotating, cut into ``--rounds`` slices, each
   between two slices of the floor (``/bench/form``: an empty page for a logged-in person with a CSRF token)
   as long, so page and floor see the same machine even when others' work comes and goes.
4. Prints one Markdown table: req/s, p50, p99, SQL per request, CPU per request of the gunicorn workers and
   of their Postgres backends, how busy the rest of the machine was, the ratio to the floor slices around
   the page by req/s and by CPU, the target and whether it is met (by req/s, as the issue defines it). Exits
   1 when a run had errors, 0 otherwise (a missed target is a finding, not a failure).

Needs wrk (``apt-get install -y wrk``), Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (cache db 12,
keys under the prefix ``bench-pages``). A benchmark, not a test: all traffic goes to 127.0.0.1; gunicorn, its
sessions and its temporary files are removed at exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DB = "acsm_bench_pages"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
SEED_VERSION = "1"
SHOWCASE = 16  # people per page shape; one session each, so no two connections wait on one person's cart lock
CREDITS_EACH = 5
LARGE_TABLE_ROWS = 10_000  # a per-request query must not read a table this big sequentially
PER_ROW = 5  # the same statement this often in one request is a query per row
QUEUE = "/staff/certifications/cprupload/"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str = "") -> None:
    print(message, flush=True)


@dataclass
class Page:
    key: str
    name: str
    path: str
    people: str  # whose sessions: sixty, five_hundred, staff
    min_ratio: float | None = None  # % of the floor's req/s
    max_sql: int | None = None
    check: tuple[str, ...] = ()  # what the body must contain
    rows: int | None = None  # admin: result rows the page must show


PAGES = [
    Page("floor", "floor /bench/form", "/bench/form", "sixty"),
    Page("dashboard-60", "dashboard, 60 credits", "/dashboard/", "sixty", 30, 3,
         ('data-certification="GEI"', 'data-certification="CEP"')),
    Page("dashboard-500", "dashboard, 500 credits", "/dashboard/", "five_hundred", 10, 3,
         ('data-certification="GEI"', 'data-certification="CEP"')),
    Page("cart", "cart (4 renewals)", "/cart/", "sixty", 30, None, ("GEI Recertification", "CEP Recertification")),
    Page("checkout", "checkout", "/checkout/", "sixty", 30, None, ("CEP Recertification", 'name="expected_total"')),
    Page("queue", "staff CPR queue, pending", QUEUE, "staff", 10, None, ('id="result_list"',), rows=50),
    Page("queue-all", "staff CPR queue, All", f"{QUEUE}?status=all", "staff", 10, None, ('id="result_list"',),
         rows=50),
]
UNSTABLE_CART = ("was removed", "changed from", "late fee was added")


def in_process_env(db: str) -> dict[str, str]:
    """Development settings with DEBUG off (DEBUG keeps every statement in memory: it would be the peak) against
    database ``db``, for a benchmark that runs the portal's code in its own process: no broker (nothing is queued),
    mail kept in memory, the clock not moved by settings."""
    return {
        "DJANGO_SETTINGS_MODULE": "acsm_portal.settings",
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{db}",
        "CACHE_URL": "locmemcache://",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PORTAL_TODAY": "",
        "LOG_LEVEL": "WARNING",
    }


def bench_env(tmp: Path) -> dict[str, str]:
    """Production settings (checked at start-up as in production) against the bench database and Redis."""
    return {
        "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_BASE_URL": "https://127.0.0.1",  # links in emails; production insists on https
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB}",
        "CACHE_URL": "redis://127.0.0.1:6379/12",
        "BENCH_CACHE_PREFIX": "bench-pages",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",  # required in production; a page view queues nothing
        "CELERY_QUEUE": "acsm-bench-pages",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": "whsec_bench",
        "STRIPE_API_BASE": "http://127.0.0.1:8420",  # nothing leaves the machine, even by mistake
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "STATIC_ROOT": str(tmp / "static"),
        "PRIVATE_MEDIA_ROOT": str(tmp / "private"),
        "DB_CONN_MAX_AGE": "600",  # production keeps 60 s; longer, so no backend's CPU leaves mid-run unread
        "LOG_LEVEL": "WARNING",
    }


# --- the database -------------------------------------------------------------------------------

def admin_connect(dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=5, **PG)


@dataclass(frozen=True)
class Plan:
    """The seed, decided by index arithmetic: user ``i``'s certifications, cards and credits follow from ``i``."""

    users: int
    today: date

    @property
    def cards(self) -> int:
        return self.users * 6 // 5  # 120,000 for 100,000 certificants

    @property
    def cycle(self) -> tuple[date, date]:
        return date(self.today.year - 2, 1, 1), date(self.today.year, 12, 31)

    @property
    def marker(self) -> str:
        start, end = self.cycle
        return f"bench_pages v{SEED_VERSION} users={self.users} cards={self.cards} cycle={start}..{end}"

    @staticmethod
    def codes(user: int) -> tuple[str, ...]:
        if user <= 2 * SHOWCASE:
            return ("GEI", "CPT", "EP", "CEP")
        return ("CPT", "EP") if user % 3 == 0 else (("GEI", "CPT", "EP", "CEP")[user % 4],)

    @staticmethod
    def credits(user: int) -> int:
        return 60 if user <= SHOWCASE else 500 if user <= 2 * SHOWCASE else CREDITS_EACH

    def card_state(self, cid: int) -> str | None:
        if cid > self.cards:
            return None
        if cid <= 8 * SHOWCASE:
            return "approved"
        return "pending" if cid % 60 == 7 else "draft" if cid % 50 == 11 else "rejected" if cid % 100 == 4 \
            else "approved"

    def certifications(self) -> list[tuple[int, str]]:
        """(user, type code) in certification id order (ids from 1)."""
        return [(user, code) for user in range(1, self.users + 1) for code in self.codes(user)]

    def expected(self) -> dict[str, int]:
        certs = self.certifications()
        n = len(certs)
        return {"users": self.users + 1, "certifications": n, "cycles": n + n // 2, "certificates": n // 2,
                "cards": min(n, self.cards), "credits": sum(self.credits(u) for u in range(1, self.users + 1)),
                "carts": self.users, "cart_lines": 4 * SHOWCASE}


def counts() -> dict[str, int]:
    from accounts.models import User
    from cart.models import Cart, CartLine
    from cecs.models import CECEntry
    from certifications.models import Certificate, Certification, CprUpload, Cycle

    return {"users": User.objects.count(), "certifications": Certification.objects.count(),
            "cycles": Cycle.objects.count(), "certificates": Certificate.objects.count(),
            "cards": CprUpload.objects.count(), "credits": CECEntry.objects.count(), "carts": Cart.objects.count(),
            "cart_lines": CartLine.objects.count()}


def copy_objects(model, objects) -> None:
    """COPY unsaved ``objects`` into ``model``'s table, every concrete field prepared as ``bulk_create`` would
    (so a field added later with a default needs no change here)."""
    from django.db import connection

    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
        for obj in objects:
            copy.write_row([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])


def seed(plan: Plan) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from accounts.models import User
    from acsm_portal import clock
    from cart.models import Cart, CartLine
    from cecs.models import CECEntry
    from cecs.rules import to_cecs
    from certifications.models import (
        Certificate, Certification, CertificationType, CprUpload, CprUploadFile, Cycle,
    )

    now, password = clock.now(), make_password(secrets.token_urlsafe(16))  # sessions are made directly; no login
    types = {t.code: t for t in CertificationType.objects.all()}
    start, end = plan.cycle
    past_start, past_end = date(start.year - 3, 1, 1), start - timedelta(days=1)
    span = (min(plan.today - timedelta(days=1), end) - start).days
    certs = plan.certifications()
    staff_id = plan.users + 1
    formats = ["live", "online", "conference", "home_study", "live", "online", "other", "teaching", "volunteering",
               "cpr_aed"]

    def users():
        for i in range(1, plan.users + 1):
            yield User(id=i, password=password, email=f"bench{i:06d}@bench.example.org", first_name=f"Bench{i}",
                       last_name=f"Certificant{i % 97}", member_id=f"{200000 + i}", date_joined=now)
        yield User(id=staff_id, password=password, email="reviewer@bench.example.org", first_name="Staff",
                   last_name="Reviewer", member_id="100000", is_staff=True, date_joined=now)

    def cycles():
        for cid in range(1, len(certs) + 1):
            yield Cycle(id=cid, certification_id=cid, start=start, end=end, state="open")
        for k, cid in enumerate(range(2, len(certs) + 1, 2), len(certs) + 1):
            yield Cycle(id=k, certification_id=cid, start=past_start, end=past_end, state="renewed",
                        renewed_at=now - timedelta(days=(plan.today - past_end).days + 30 + cid % 200))

    def certificates():
        for k, cid in enumerate(range(2, len(certs) + 1, 2), 1):
            user, code = certs[cid - 1]
            yield Certificate(id=k, certification_id=cid, cycle_id=len(certs) + k, number=f"{code}-B-{cid:07d}",
                              holder_name=f"Bench{user} Certificant{user % 97}", certification_name=types[code].name,
                              issued_on=past_end - timedelta(days=30), valid_through=end, created_at=now)

    def cards():
        for cid in range(1, min(len(certs), plan.cards) + 1):
            state = plan.card_state(cid)
            submitted = None if state == "draft" else now - timedelta(minutes=cid * 7 % (3 * 365 * 1440))
            decided = submitted + timedelta(days=2) if state in ("approved", "rejected") else None
            yield CprUpload(id=cid, certification_id=cid, cycle_id=cid, state=state, card_type="cpr_aed",
                            issuing_organization="American Red Cross",
                            expires_on=plan.today + timedelta(days=200 + cid % 500), skills_check_confirmed=True,
                            created_at=submitted or now, submitted_at=submitted, reviewed_at=decided,
                            reviewed_by_id=staff_id if decided else None, decision_emailed_at=decided,
                            rejection_reason="The card is not readable; upload a clearer photo."
                            if state == "rejected" else "")

    def files():
        n = 0
        for cid in range(1, min(len(certs), plan.cards) + 1):
            for side in ("front", "back") if plan.card_state(cid) == "pending" and cid % 3 == 0 else ("front",):
                n += 1
                key = uuid.UUID(int=n)
                yield CprUploadFile(id=n, upload_id=cid, key=key, file=f"cpr/{key.hex}.pdf",
                                    original_name=f"cpr-card-{side}.pdf", content_type="application/pdf",
                                    size=48_213 + n % 5000, sha256=f"{n:064x}", created_at=now)

    def credits():
        n = 0
        for user in range(1, plan.users + 1):
            for k in range(plan.credits(user)):
                n += 1
                fmt = formats[k % 10] if user <= 2 * SHOWCASE else formats[(user + k) % 10]
                earned = start + timedelta(days=(user * 37 + k * 11) % (span + 1))
                units = Decimal(1 + (user + k) % 4)
                reported = min(earned + timedelta(days=k % 20), plan.today)
                yield CECEntry(id=n, user_id=user, date_earned=earned, date_reported=reported, units=units, credit_type="cec", cecs=to_cecs(units, "cec"),
                               course_name=f"Bench course {k % 40}", provider="ACSM", format=fmt, created_at=now,
                               updated_at=now)

    def cart_lines():
        for n, cid in enumerate(range(1, 4 * SHOWCASE + 1), 1):
            user, code = certs[cid - 1]
            yield CartLine(id=n, cart_id=user, certification_id=cid, kind="renewal",
                           unit_price=types[code].renewal_fee, added_at=now)

    models = [User, Certification, Cycle, Certificate, CprUpload, CprUploadFile, CECEntry, Cart, CartLine]
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}, django_session RESTART IDENTITY CASCADE")  # only ever DB (checked)
        cursor.execute("SET LOCAL session_replication_role = replica")  # consistent by construction: no FK triggers
        for model, objects in [
            (User, users()),
            (Certification, (Certification(id=cid, user_id=user, certification_type=types[code],
                                           first_certified_on=date(plan.today.year - 4 - user % 10, 1 + user % 12, 1))
                             for cid, (user, code) in enumerate(certs, 1))),
            (Cycle, cycles()), (Certificate, certificates()), (CprUpload, cards()), (CprUploadFile, files()),
            (CECEntry, credits()), (Cart, (Cart(id=i, user_id=i, updated_at=now) for i in range(1, plan.users + 1))),
            (CartLine, cart_lines()),
        ]:
            t = time.perf_counter()
            copy_objects(model, objects)
            log(f"  {model._meta.db_table:<32} {time.perf_counter() - t:6.1f} s")
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
    reviewers, _ = Group.objects.get_or_create(name="CPR reviewers")
    reviewers.permissions.add(Permission.objects.get(codename="can_review_cpr"))
    User.objects.get(pk=staff_id).groups.add(reviewers)
    with admin_connect(DB) as conn:
        conn.execute(f"VACUUM (ANALYZE) {tables}")


def prepare_database(*, users: int, reseed: bool) -> str:
    from django.conf import settings
    from django.core.management import call_command
    from psycopg import sql

    from acsm_portal import clock

    if settings.DATABASES["default"]["NAME"] != DB:  # never seed (or truncate) anything else
        raise SystemExit(f"refusing to seed {settings.DATABASES['default']['NAME']!r}: expected {DB!r}")
    started = time.perf_counter()
    with admin_connect() as conn:
        if reseed:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
        marker = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                              [DB]).fetchone()[0]
    call_command("migrate", verbosity=0, interactive=False)
    plan = Plan(users=users, today=clock.today())
    if marker == plan.marker and counts() == plan.expected():
        return f"reused in {time.perf_counter() - started:.1f} s"
    log(f"Seeding {DB}: {users:,} certificants, {plan.cards:,} CPR cards")
    with admin_connect() as conn:  # COMMENT takes no bind parameters
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS NULL").format(sql.Identifier(DB)))
    seed(plan)
    if counts() != plan.expected():
        raise SystemExit(f"seeding went wrong: {counts()} != {plan.expected()}")
    with admin_connect() as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(DB), sql.Literal(plan.marker)))
    return f"seeded in {time.perf_counter() - started:.1f} s"


# --- sessions and the in-process checks ---------------------------------------------------------

def create_sessions(users) -> list[str]:
    """A logged-in session per user, stored as a login stores it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for user in users:
        session = store()
        session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})
        session.create()
        keys.append(session.session_key)
    return keys


def page_problem(page: Page, status: int, body: str) -> str | None:
    """Why the response is not the real page (a login redirect, a changed cart...), or None."""
    if status != 200:
        return f"status {status}"
    missing = [text for text in page.check if text not in body]
    if missing:
        return f"no {missing[0]!r}"
    if page.path in ("/cart/", "/checkout/") and any(text in body for text in UNSTABLE_CART):
        return "the cart changed on display"
    rows = body.count('name="_selected_action"')
    if page.rows is not None and rows != page.rows:
        return f"{rows} rows, not {page.rows}"
    return None


@dataclass
class Sql:
    statements: list[str]
    seq_scans: list[str] = field(default_factory=list)  # large tables read whole
    repeated: list[str] = field(default_factory=list)  # statements run once per row

    def problems(self) -> list[str]:
        return ([f"seq scan on {', '.join(sorted(set(self.seq_scans)))}"] if self.seq_scans else []) + \
            [f"per-row query ×{n}: {short(s, 60)}" for s, n in self.repeated]


SEQ_SCAN = re.compile(r"Seq Scan on (\S+)")
LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def short(sql: str, width: int = 150) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[:width] + "…"


def seq_scans(plan: list[str], rows: dict[str, float]) -> list[str]:
    """Tables of LARGE_TABLE_ROWS or more that a plan reads sequentially (a small reference table may be)."""
    return [t for line in plan for t in SEQ_SCAN.findall(line) if rows.get(t, 0) >= LARGE_TABLE_ROWS]


def repeated(statements: list[str]) -> list[tuple[str, int]]:
    """Statements that differ only in their literals and run PER_ROW times or more: a query per row."""
    shapes = Counter(LITERALS.sub("?", s) for s in statements)
    return [(s, n) for s, n in shapes.items() if n >= PER_ROW]


def in_process(page: Page, session_key: str, *, explain: bool) -> Sql:
    """One warm request through the test client: its SQL, and what the planner does with it."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    for _ in range(2):  # the first request fills the process's caches
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(page.path)
    if problem := page_problem(page, response.status_code, response.content.decode()):
        raise SystemExit(f"{page.name}: in process, {problem}")
    found = Sql([q["sql"] for q in ctx.captured_queries])
    found.repeated = repeated(found.statements)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        rows = dict(cursor.fetchall())
        if explain:
            log(f"\n## {page.name} ({page.path}): {len(found.statements)} SQL statements")
        for n, statement in enumerate(found.statements, 1):
            if not statement.lstrip().upper().startswith("SELECT"):
                if explain:
                    log(f"[{n}] {short(statement, 300)}  (not a SELECT: not explained)")
                continue
            cursor.execute(f"EXPLAIN {'(ANALYZE, BUFFERS) ' if explain else ''}{statement}")
            plan = [line for (line,) in cursor.fetchall()]
            scanned = seq_scans(plan, rows)
            found.seq_scans += scanned
            if explain:
                flag = f"  <-- SEQ SCAN on a large table: {', '.join(scanned)}" if scanned else ""
                log(f"[{n}] {short(statement, 300)}{flag}")
                log("\n".join(f"      {line}" for line in plan))
    return found


# --- gunicorn, wrk and CPU ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, env: dict[str, str], logfile: Path) -> subprocess.Popen:
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "acsm_portal.wsgi:application", "--workers", "2", "--worker-class",
             "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "5",
             "--log-level", "warning"],
            env={**os.environ, **env, "PYTHONPATH": str(BASE_DIR)}, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{logfile.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"gunicorn did not answer within 30 s:\n{logfile.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this script started: gunicorn and its workers
            proc.wait(timeout=5)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, cookie: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie, "X-Forwarded-Proto": "https"})
    try:  # the URL is one this script built for 127.0.0.1
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as r:  # nosec B310
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def cookies_for(session_key: str) -> str:
    """What a browser sends after its first page: the session and its CSRF cookie (a secret of its own)."""
    return f"sessionid={session_key}; csrftoken={secrets.token_hex(16)}"


# Each wrk thread starts at its own place and steps over the other's: every session is asked once per round.
WRK_SCRIPT = """
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local cookies = {%s}
local n = 0
request = function()
  local i = (n * 2 + (tid or 0)) %% #cookies
  n = n + 1
  return wrk.format("GET", nil, {["Cookie"] = cookies[i + 1], ["X-Forwarded-Proto"] = "https",
                                 ["Host"] = wrk.headers["Host"]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%%d duration_us=%%d p50_us=%%d p99_us=%%d errors=%%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, int]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
                          url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    return {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}


def jiffies(pids: list[int]) -> dict[int, int]:
    """CPU (utime + stime, in clock ticks) of each process still alive."""
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            found[pid] = int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return found


def used(before: dict[int, int], after: dict[int, int]) -> int:
    """Ticks used between two readings; a process started in between counts from zero."""
    return sum(t - before.get(pid, 0) for pid, t in after.items())


def machine() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def server_pids(proc: subprocess.Popen) -> tuple[list[int], list[int]]:
    """gunicorn's master and workers; the Postgres backends connected to the bench database."""
    try:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            app = [proc.pid, *map(int, f.read().split())]
    except FileNotFoundError:
        app = [proc.pid]
    with admin_connect() as conn:
        db = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [DB])]
    return app, db


def wait_until_quiet(max_wait: float, threshold: float = 25.0) -> None:
    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        b0, t0 = machine()
        time.sleep(1)
        b1, t1 = machine()
        if 100 * (b1 - b0) / max(t1 - t0, 1) < threshold:
            return


@dataclass
class Slice:
    """One wrk run: its summary, and the CPU ticks used meanwhile by gunicorn, its Postgres backends and the
    whole machine."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    app: int
    db: int
    busy: int
    total: int


def run_slice(url: str, script: Path, seconds: int, args, proc: subprocess.Popen) -> Slice:
    app, db = server_pids(proc)
    a0, d0, (b0, t0) = jiffies(app), jiffies(db), machine()
    s = wrk(url, script, seconds, args.connections)
    app, db = server_pids(proc)
    a, d, (b1, t1) = used(a0, jiffies(app)), used(d0, jiffies(db)), machine()
    return Slice(s["requests"], s["duration_us"] / 1e6, s["p50_us"] / 1000, s["p99_us"] / 1000, s["errors"], a, d,
                 b1 - b0, t1 - t0)


@dataclass
class Run:
    """Slices of one URL taken together: p50 and p99 are the medians of the slices' (one slice that met a burst
    of others' work does not decide them)."""

    slices: list[Slice]

    def _sum(self, name: str) -> float:
        return sum(getattr(s, name) for s in self.slices)

    @property
    def rps(self) -> float:
        return self._sum("requests") / self._sum("seconds")

    @property
    def p50_ms(self) -> float:
        return sorted(s.p50_ms for s in self.slices)[len(self.slices) // 2]

    @property
    def p99_ms(self) -> float:
        return sorted(s.p99_ms for s in self.slices)[len(self.slices) // 2]

    @property
    def errors(self) -> int:
        return int(self._sum("errors"))

    @property
    def app_ms(self) -> float:  # CPU of gunicorn's master and workers per request
        return 1000 * self._sum("app") / CLK_TCK / max(self._sum("requests"), 1)

    @property
    def db_ms(self) -> float:  # CPU of their Postgres backends per request
        return 1000 * self._sum("db") / CLK_TCK / max(self._sum("requests"), 1)

    @property
    def others(self) -> float:  # % of the machine's CPU taken by everything else, wrk included
        return 100 * max(0, self._sum("busy") - self._sum("app") - self._sum("db")) / max(self._sum("total"), 1)


def side_by_side(floor: tuple[str, Path], page: tuple[str, Path], args, proc) -> tuple[Run, Run]:
    """The page in ``args.rounds`` slices, each between two floor slices of the same length, so both see the same
    machine (others' work comes and goes within seconds)."""
    seconds = max(1, round(args.duration / args.rounds))
    for url, script in (floor, page):
        wrk(url, script, 2, args.connections)  # warm both workers and their database connections
    wait_until_quiet(args.quiet_wait)
    floors, pages = [run_slice(*floor, seconds, args, proc)], []
    for _ in range(args.rounds):
        pages.append(run_slice(*page, seconds, args, proc))
        floors.append(run_slice(*floor, seconds, args, proc))
    return Run(floors), Run(pages)


# --- main ---------------------------------------------------------------------------------------

def git_state() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=BASE_DIR, capture_output=True, text=True, timeout=10).stdout.rstrip()

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return git("rev-parse", "--short", "HEAD") + (f" + uncommitted {', '.join(dirty)}" if dirty else "")


def verdict(page: Page, run: Run, ratio: float, sql: Sql) -> str:
    missed = []
    if page.min_ratio is not None and round(ratio, 1) < page.min_ratio:  # as the table shows it
        missed.append(f"{page.min_ratio - ratio:.1f} points short")
    if page.max_sql is not None and len(sql.statements) > page.max_sql:
        missed.append(f"{len(sql.statements)} SQL > {page.max_sql}")
    missed += sql.problems()
    if run.errors:
        missed.append(f"{run.errors} errors")
    return "missed: " + "; ".join(missed) if missed else "met"


def target(page: Page) -> str:
    parts = [f"≥ {page.min_ratio:.0f} %"] if page.min_ratio is not None else []
    parts += [f"≤ {page.max_sql} SQL"] if page.max_sql is not None else []
    parts += ["no seq scan, no per-row SQL"] if page.people == "staff" else []
    return ", ".join(parts) or "—"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help=f"drop {DB} and seed it again")
    parser.add_argument("--users", type=int, default=100_000, help="certificants (default 100,000; cards: 1.2 each)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per page (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="slices each page's time is cut into (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--pages", default=",".join(p.key for p in PAGES[1:]),
                        help=f"comma-separated, of {', '.join(p.key for p in PAGES[1:])} (the floor always runs)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each page's SQL")
    parser.add_argument("--quiet-wait", type=float, default=5, metavar="SECONDS",
                        help="before each run, wait up to this long for the machine to drop below 25%% busy")
    args = parser.parse_args()
    chosen = {k.strip() for k in args.pages.split(",") if k.strip()}
    if not chosen or chosen - {p.key for p in PAGES[1:]}:
        parser.error(f"--pages: choose among {', '.join(p.key for p in PAGES[1:])}")
    if not 10_000 <= args.users <= 1_000_000 or not 1 <= args.rounds <= args.duration <= 300:
        parser.error("--users must be 10,000 to 1,000,000 (a full queue page), --rounds 1 to --duration, "
                     "--duration at most 300")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install -y wrk)")
    pages = [p for p in PAGES if p.key == "floor" or p.key in chosen]

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # a kill cleans up as Ctrl-C does
    tmp = Path(tempfile.mkdtemp(prefix="acsm-bench-pages-"))
    env = bench_env(tmp)
    os.environ.update(env)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import User

    proc, keys, results = None, [], []
    try:
        how = prepare_database(users=args.users, reseed=args.reseed)
        call_command("collectstatic", interactive=False, verbosity=0)
        cache.delete_pattern("*")  # this benchmark's keys only (its own prefix)
        people = {"sixty": User.objects.filter(pk__lte=SHOWCASE),
                  "five_hundred": User.objects.filter(pk__gt=SHOWCASE, pk__lte=2 * SHOWCASE),
                  "staff": [User.objects.get(email="reviewer@bench.example.org")] * SHOWCASE}
        sessions = {group: create_sessions(users.order_by("pk") if group != "staff" else users)
                    for group, users in people.items()}
        keys = [k for ks in sessions.values() for k in ks]
        sql = {p.key: in_process(p, sessions[p.people][0], explain=args.explain) for p in pages}
        connections.close_all()

        port = free_port()
        proc = start_gunicorn(port, env, tmp / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        for page in pages:  # every session must reach the real page, not a login redirect
            for key in sessions[page.people]:
                status, body = fetch(base + page.path, cookies_for(key))
                if problem := page_problem(page, status, body):
                    raise SystemExit(f"{page.name}: over HTTP, {problem}")
        floor, measured = pages[0], pages[1:]
        scripts = {}
        for page in pages:
            scripts[page.key] = tmp / f"{page.key}.lua"
            scripts[page.key].write_text(WRK_SCRIPT % ", ".join(f'"{cookies_for(k)}"' for k in sessions[page.people]))
        log(f"Measuring {len(measured)} pages, each {args.duration} s in {args.rounds} slices between slices of "
            f"the floor…")
        for page in measured:
            results.append((page, *side_by_side((base + floor.path, scripts["floor"]),
                                                (base + page.path, scripts[page.key]), args, proc)))
        from cart.models import CartLine

        if CartLine.objects.count() != 4 * SHOWCASE:
            raise SystemExit("showing the cart or checkout changed the cart's lines")
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if proc is not None:
            stop(proc)
        if keys:
            from django.contrib.sessions.models import Session

            Session.objects.filter(session_key__in=keys).delete()
        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)

    from acsm_portal import clock

    log(f"\nMeasured {clock.now():%Y-%m-%d %H:%M %Z}, code {git_state()}.")
    log(f"{DB}: {args.users:,} certificants, {Plan(args.users, date.min).cards:,} CPR cards ({how}). gunicorn 2 sync "
        f"workers, DJANGO_ENV=production, DEBUG off; wrk -t2 -c{args.connections}, {SHOWCASE} sessions rotating; "
        f"each page {args.duration} s in {args.rounds} slices between slices of the floor; {os.cpu_count()} CPUs.\n")
    log("| page | req/s | p50 ms | p99 ms | SQL | CPU ms/req app + db | others' CPU | vs floor | vs floor by CPU "
        "| target | verdict |")
    log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    all_floors = Run([s for _, floor_run, _ in results for s in floor_run.slices])
    rows = [(pages[0], all_floors, all_floors), *((page, run, floor_run) for page, floor_run, run in results)]
    for page, run, beside in rows:  # each page against the floor slices around its own
        ratio = 100 * run.rps / beside.rps
        by_cpu = 100 * (beside.app_ms + beside.db_ms) / max(run.app_ms + run.db_ms, 1e-9)
        log(f"| {page.name} | {run.rps:,.0f} | {run.p50_ms:,.1f} | {run.p99_ms:,.1f} | {len(sql[page.key].statements)} "
            f"| {run.app_ms:.2f} + {run.db_ms:.2f} | {run.others:.0f} % | {ratio:.1f} % | {by_cpu:.1f} % "
            f"| {target(page)} | {'—' if page is pages[0] else verdict(page, run, ratio, sql[page.key])} |")
    return 1 if any(floor_run.errors or run.errors for _, floor_run, run in results) else 0


if __name__ == "__main__":
    sys.exit(main())
