"""Benchmark the CEC Dashboard against the cheapest page Django can serve.

    .venv/bin/python scripts/bench_dashboard.py [--reseed] [--duration 10] [--show-queries] [--explain]
                                                [--auth-baseline] [--quiet-wait 30]

1. Creates the Postgres database ``acsm_bench`` (kept for the next run), migrates
   it and seeds 10,000 certificants, each with 1-2 certifications (cycle
   1/1 two years back to 12/31 of this year) and 50 CEC entries in mixed formats. A database already
   seeded with the same volume is reused; ``--reseed`` drops it first.
2. Starts gunicorn (2 sync workers, DEBUG off) on a free port of 127.0.0.1.
3. Logs in 16 certificants (sessions created directly), checks the dashboard
   answers 200 with its tiles, runs ``wrk -t2 -c16`` against ``/bench/ok`` (with
   ``--auth-baseline`` also logged in, and ``/bench/form``: logged in with a CSRF
   token) and then ``/dashboard/``, and prints requests/s, p50, p99, the dashboard's share
   of the trivial view's throughput (target: 40% or more) and the number of SQL
   queries one dashboard request runs.
4. Stops gunicorn, deletes its sessions and temporary files.

The machine may be shared: before each run the script waits (``--quiet-wait``)
for other work to settle, and it reports the server's CPU per request, which
stays meaningful when other processes compete for the CPUs, and how much CPU
other processes took during each run.

This is a benchmark, not a test: nothing here runs under pytest. All traffic
goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BENCH_DB = "acsm_bench"
SEED_VERSION = "1"
ENTRIES_PER_USER = 50
SESSION_USERS = 16


def bench_cycle() -> tuple[date, date, date]:
    """The benchmark's open cycle (1/1 two years back to 12/31 of this year, as the demo's) and the last day a
    credit may be earned in it (a month before today). Needs Django set up (it asks the clock)."""
    from acsm_portal import clock

    today = clock.today()
    return date(today.year - 2, 1, 1), date(today.year, 12, 31), today - timedelta(days=30)

PASSWORD = "bench-password-2026"
TARGET_RATIO = 40.0

BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
    "DJANGO_ENV": "development",
    "DJANGO_DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{BENCH_DB}",
    "DB_CONN_MAX_AGE": "60",
    "LOG_LEVEL": "WARNING",
    "CACHE_URL": "redis://127.0.0.1:6379/12",  # this benchmark's own Redis database: emptied at the start of each run
}

# Formats with their weights; Teaching, Volunteering and CPR/AED carry yearly caps.
FORMATS = [
    ("live", 20), ("online", 25), ("home_study", 8), ("conference", 10), ("college", 3),
    ("teaching", 9), ("volunteering", 9), ("cpr_aed", 6), ("other", 10),
]
TWO_CERTIFICATIONS = [("CPT", "EP"), ("GEI", "CEP"), ("CPT", "GEI"), ("EP", "CEP")]
ONE_CERTIFICATION = ["CPT", "GEI", "EP", "CEP"]
COURSES = [
    "Resistance Training for Older Adults", "Exercise Is Medicine", "Health & Fitness Summit",
    "Community 5K health screening", "Adult CPR/AED renewal", "Guest lecture: Kinesiology 101",
    "Exercise Physiology Lab", "Nutrition for Performance", "Youth Strength and Conditioning",
    "Cardiac Rehabilitation Update", "Motivational Interviewing", "Program Design Essentials",
]
PROVIDERS = ["ACSM", "ACSM Online", "American Red Cross", "State University", "City Parks Dept.", ""]


def log(message: str) -> None:
    print(message, flush=True)


# --- the database -------------------------------------------------------------------------------

def admin_connect(dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=5, **PG)


def ensure_database(*, reseed: bool, dbname: str = BENCH_DB) -> None:
    with admin_connect() as conn:
        if reseed:
            log(f"Dropping database {dbname}")
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            log(f"Creating database {dbname}")
            conn.execute(f"CREATE DATABASE {dbname}")


def seed_marker(users: int) -> str:
    """What the seeded database holds; a database seeded for another cycle (another year) is seeded again."""
    start, end, _ = bench_cycle()
    return (f"myacsm-bench v{SEED_VERSION} users={users} entries_per_user={ENTRIES_PER_USER} "
            f"cycle={start}..{end}")


def read_marker(dbname: str = BENCH_DB) -> str:
    with admin_connect() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [dbname]
        ).fetchone()
    return (row and row[0]) or ""


def write_marker(text: str | None, dbname: str = BENCH_DB) -> None:
    from psycopg import sql

    with admin_connect() as conn:  # COMMENT takes no bind parameters: quote the literal client-side
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(dbname), sql.Literal(text)))


def certification_codes(i: int) -> tuple[str, ...]:
    """User ``i`` holds two certifications when ``i`` is a multiple of 3, else one."""
    if i % 3 == 0:
        return TWO_CERTIFICATIONS[(i // 3) % len(TWO_CERTIFICATIONS)]
    return (ONE_CERTIFICATION[i % len(ONE_CERTIFICATION)],)


def expected_counts(users: int) -> dict[str, int]:
    certifications = sum(len(certification_codes(i)) for i in range(1, users + 1))
    return {"users": users, "certifications": certifications, "cycles": certifications,
            "entries": users * ENTRIES_PER_USER}


def actual_counts() -> dict[str, int]:
    from accounts.models import User
    from cecs.models import CECEntry
    from certifications.models import Certification, Cycle

    return {"users": User.objects.count(), "certifications": Certification.objects.count(),
            "cycles": Cycle.objects.count(), "entries": CECEntry.objects.count()}


def copy_rows(model, columns: list[str], rows) -> int:
    """COPY ``rows`` (tuples in the order of ``columns``, given as field names) into ``model``'s table."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in columns)
    n = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def random_units(rng, fmt: str) -> tuple[str, Decimal]:
    """A plausible credit type and amount for a format; capped formats get 2-6 CECs so caps get crossed."""
    if fmt == "college":
        return "college", Decimal(rng.choice(["0.5", "1"]))
    if fmt in ("teaching", "volunteering", "cpr_aed"):
        return "cec", Decimal(rng.randrange(8, 25)) / 4
    if rng.random() < 0.15:
        return "ceu", Decimal(rng.randrange(1, 16)) / 10
    return "cec", Decimal(rng.randrange(2, 41)) / 4


def seed(users: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from accounts.models import User
    from acsm_portal import clock
    from cecs.models import CECEntry
    from cecs.rules import to_cecs
    from certifications.models import Certification, CertificationType, Cycle

    rng = random.Random(20260101)
    now = clock.now()
    password = make_password(PASSWORD)  # one hash for everyone: hashing 10,000 passwords takes minutes
    type_ids = dict(CertificationType.objects.values_list("code", "id"))
    formats = [f for f, _ in FORMATS]
    weights = [w for _, w in FORMATS]
    cycle_start, cycle_end, earned_to = bench_cycle()
    span = (earned_to - cycle_start).days

    def user_rows():
        for i in range(1, users + 1):
            yield (i, password, None, False, f"bench{i:05d}@bench.example.org", f"Bench{i}", f"Certificant{i % 97}",
                   f"{200000 + i}", False, True, now, "", "")

    certification_rows: list[tuple] = []
    cycle_rows: list[tuple] = []
    for i in range(1, users + 1):
        for code in certification_codes(i):
            cid = len(certification_rows) + 1
            certification_rows.append((cid, i, type_ids[code], date(2015 + i % 9, 1 + i % 12, 1 + i % 28)))
            cycle_rows.append((cid, cid, cycle_start, cycle_end, Cycle.State.OPEN, None))

    def entry_rows():
        entry_id = 0
        for i in range(1, users + 1):
            for fmt in rng.choices(formats, weights, k=ENTRIES_PER_USER):
                entry_id += 1
                earned = cycle_start + timedelta(days=rng.randrange(span + 1))
                credit_type, units = random_units(rng, fmt)
                yield (entry_id, i, earned, min(earned + timedelta(days=rng.randrange(0, 30)), earned_to), units,
                       credit_type, to_cecs(units, credit_type), rng.choice(COURSES), rng.choice(PROVIDERS), fmt,
                       "provider" if rng.random() < 0.1 else "self", now, now)

    tables = [connection.ops.quote_name(m._meta.db_table) for m in (User, Certification, Cycle, CECEntry)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Only ever the bench database (checked by the caller): wipe what a partial seed left.
            cursor.execute(f"TRUNCATE {', '.join(tables)}, django_session RESTART IDENTITY CASCADE")
        copy_rows(User, ["id", "password", "last_login", "is_superuser", "email", "first_name", "last_name",
                         "member_id", "is_staff", "is_active", "date_joined", "time_zone", "previous_time_zone"],
                  user_rows())
        copy_rows(Certification, ["id", "user", "certification_type", "first_certified_on"], certification_rows)
        copy_rows(Cycle, ["id", "certification", "start", "end", "state", "renewed_at"], cycle_rows)
        copy_rows(CECEntry, ["id", "user", "date_earned", "date_reported", "units", "credit_type", "cecs",
                             "course_name", "provider", "format", "source", "created_at", "updated_at"], entry_rows())
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [User, Certification, Cycle, CECEntry]):
                cursor.execute(sql)
    with admin_connect(BENCH_DB) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def prepare_database(*, users: int, reseed: bool) -> tuple[str, float]:
    from django.conf import settings
    from django.core.management import call_command

    if settings.DATABASES["default"]["NAME"] != BENCH_DB:  # never seed (or truncate) anything else
        raise SystemExit(f"refusing to seed {settings.DATABASES['default']['NAME']!r}: expected {BENCH_DB!r}")
    started = time.perf_counter()
    ensure_database(reseed=reseed)
    call_command("migrate", verbosity=0, interactive=False)
    marker = seed_marker(users)
    if read_marker() == marker and actual_counts() == expected_counts(users):
        return "reused", time.perf_counter() - started
    log(f"Seeding {users:,} certificants x {ENTRIES_PER_USER} CEC entries")
    write_marker(None)
    seed(users)
    counts = actual_counts()
    if counts != expected_counts(users):
        raise SystemExit(f"seeding went wrong: {counts} != {expected_counts(users)}")
    write_marker(marker)
    return "seeded", time.perf_counter() - started


# --- sessions and the in-process checks ---------------------------------------------------------

def bench_users() -> list:
    """Users spread over the population, so both one- and two-certification dashboards are measured."""
    from accounts.models import User

    total = User.objects.count()
    ids = sorted({1 + (k * total) // SESSION_USERS for k in range(SESSION_USERS)})
    return list(User.objects.filter(pk__in=ids).order_by("pk"))


def session_store():
    from importlib import import_module

    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore


def create_sessions(users) -> list[str]:
    """A logged-in session for each user, stored as a login stores it (database and cache)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store, keys = session_store(), []
    for user in users:
        session = store()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def delete_sessions(keys: list[str]) -> None:
    store = session_store()
    for key in keys:
        store(session_key=key).delete()


def browser_cookies(session_key: str) -> str:
    """What a browser sends once it has seen a page: the session and its CSRF cookie (a secret of its own)."""
    from django.utils.crypto import get_random_string

    return f"sessionid={session_key}; csrftoken={get_random_string(32)}"


def dashboard_queries(session_key: str) -> list[str]:
    """The SQL of one dashboard request, after a first request warmed the process."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    first = client.get("/dashboard/")
    if first.status_code != 200 or b"Total CECs" not in first.content:
        raise SystemExit(f"in-process dashboard answered {first.status_code} without its tiles")
    with CaptureQueriesContext(connection) as rendered:
        client.get("/dashboard/")
    return [q["sql"] for q in rendered.captured_queries]


def explain(queries: list[str]) -> None:
    """EXPLAIN ANALYZE each SELECT of one dashboard request (the captured SQL has its parameters inlined)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in queries:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            log(f"  -- {sql[:150]}{'…' if len(sql) > 150 else ''}")
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            for (line,) in cursor.fetchall():
                log(f"     {line}")


# --- gunicorn and wrk ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, logfile: Path) -> subprocess.Popen:
    env = {**os.environ, **BENCH_ENV, "PYTHONPATH": str(BASE_DIR)}
    cmd = [sys.executable, "-m", "gunicorn", "acsm_portal.wsgi:application", "--workers", "2",
           "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--chdir", str(BASE_DIR),
           "--timeout", "30", "--graceful-timeout", "5", "--log-level", "warning"]
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=BASE_DIR,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{logfile.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/ok", timeout=2) as r:
                if r.status == 200:
                    return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_process(proc)
    raise SystemExit(f"gunicorn did not answer within 30 s:\n{logfile.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group this script started (gunicorn and its workers, a worker)
        proc.wait(timeout=5)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, cookie: str | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


# --- a shared machine: how much CPU did other processes take? ------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(values) - values[3] - values[4], sum(values)


def process_jiffies(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def server_pids(proc: subprocess.Popen, dbname: str = BENCH_DB) -> list[int]:
    """gunicorn's master and workers, and the Postgres backends connected to the bench database."""
    pids = [proc.pid]
    try:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except FileNotFoundError:
        pass
    with admin_connect() as conn:
        pids += [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])]
    return pids


def wait_until_quiet(max_wait: float, threshold: float = 25.0) -> None:
    """Wait (at most ``max_wait`` s) until the machine is below ``threshold``% busy with other work."""
    deadline = time.monotonic() + max_wait
    waited = False
    while True:
        busy0, total0 = machine_jiffies()
        time.sleep(1)
        busy1, total1 = machine_jiffies()
        busy = 100 * (busy1 - busy0) / max(total1 - total0, 1)
        if busy < threshold:
            return
        if time.monotonic() >= deadline:
            log(f"  the machine is still {busy:.0f}% busy with other work; measuring anyway")
            return
        if not waited:
            log(f"  the machine is {busy:.0f}% busy with other work; waiting up to {max_wait:.0f} s for it to settle")
            waited = True


WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d "
    .. "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

# Each of wrk's threads starts at its own place and steps over the other's, so that in a run over many sessions
# no session is asked for twice before every one was asked for once.
WRK_COOKIES = """
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local cookies = {%s}
local n = 0
request = function()
  local i = (n * 2 + (tid or 0)) %% #cookies
  n = n + 1
  return wrk.format("GET", nil, {["Cookie"] = cookies[i + 1]})
end
"""


@dataclass
class Run:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    avg_bytes: int
    errors: int
    server_cpu_ms: float  # CPU of gunicorn and its Postgres backends per request: steady even on a busy machine
    others_cpu: float  # % of the machine's CPU taken by processes other than gunicorn, its Postgres backends and wrk


def write_lua(tmp: Path, name: str, cookies: list[str]) -> Path:
    script = tmp / f"{name}.lua"
    body = WRK_DONE
    if cookies:
        body = WRK_COOKIES % ", ".join(f'"{c}"' for c in cookies) + body
    script.write_text(body)
    return script


def wrk(url: str, script: Path, duration: int) -> dict[str, int]:
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "5s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    line = next((line for line in out.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    return {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}


def measure(name: str, url: str, script: Path, duration: int, *, server: subprocess.Popen, quiet_wait: float,
            dbname: str = BENCH_DB) -> Run:
    wrk(url, script, 2)  # warm both workers and open their database connections
    wait_until_quiet(quiet_wait)
    pids = server_pids(server, dbname)
    wrk_cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, total0 = machine_jiffies()
    ours0 = process_jiffies(pids)
    s = wrk(url, script, duration)
    busy1, total1 = machine_jiffies()
    ours1 = process_jiffies(pids)
    wrk_cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_jiffies = CLK_TCK * (wrk_cpu1.ru_utime + wrk_cpu1.ru_stime - wrk_cpu0.ru_utime - wrk_cpu0.ru_stime)
    others = max(0.0, (busy1 - busy0) - (ours1 - ours0) - wrk_jiffies) / max(total1 - total0, 1) * 100
    errors = s["err_connect"] + s["err_read"] + s["err_write"] + s["err_status"] + s["err_timeout"]
    requests = max(s["requests"], 1)
    return Run(name, s["requests"], s["requests"] / (s["duration_us"] / 1e6), s["p50_us"] / 1000,
               s["p99_us"] / 1000, s["bytes"] // requests, errors, 1000 * (ours1 - ours0) / CLK_TCK / requests, others)


# --- main ---------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help=f"drop {BENCH_DB} and seed it again")
    parser.add_argument("--users", type=int, default=10_000, help="certificants to seed (default 10,000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of one dashboard request")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each dashboard query")
    parser.add_argument("--auth-baseline", action="store_true",
                        help="also measure /bench/ok with a session cookie (session and user lookups, no page) and "
                             "/bench/form (the same plus a CSRF token: the least a page with a form costs)")
    parser.add_argument("--quiet-wait", type=float, default=30, metavar="SECONDS",
                        help="before each run, wait up to this long for other work on the machine to settle")
    args = parser.parse_args()
    if not 1 <= args.duration <= 120:
        parser.error("--duration must be between 1 and 120 seconds")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed")

    os.environ.update(BENCH_ENV)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)  # no collectstatic here
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connections

    cache.clear()  # BENCH_ENV's Redis database: no session or cached caps of an earlier run are read

    how, seed_seconds = prepare_database(users=args.users, reseed=args.reseed)
    log(f"Database {BENCH_DB}: {how} in {seed_seconds:.1f} s ({args.users:,} certificants, "
        f"{args.users * ENTRIES_PER_USER:,} CEC entries)")

    users = bench_users()
    keys = create_sessions(users)
    tmp = Path(tempfile.mkdtemp(prefix="acsm-bench-"))
    proc = None
    try:
        queries = dashboard_queries(keys[0])
        if args.show_queries:
            for sql in queries:
                log(f"  SQL: {sql[:160]}{'…' if len(sql) > 160 else ''}")
        if args.explain:
            explain(queries)
        connections.close_all()

        port = free_port()
        proc = start_gunicorn(port, tmp / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        cookies = [browser_cookies(key) for key in keys]
        for cookie in cookies:  # every session must reach the real page, not the login redirect
            status, body = fetch(f"{base}/dashboard/", cookie)
            if status != 200 or "Total CECs" not in body:
                raise SystemExit(f"/dashboard/ answered {status} without 'Total CECs' for {cookie[:20]}…")

        ok = measure("/bench/ok", f"{base}/bench/ok", write_lua(tmp, "ok", []), args.duration,
                     server=proc, quiet_wait=args.quiet_wait)
        authed = with_form = None
        if args.auth_baseline:  # the trivial view again, but with a session: what authentication alone costs
            authed = measure("/bench/ok (auth)", f"{base}/bench/ok", write_lua(tmp, "ok_auth", cookies), args.duration,
                             server=proc, quiet_wait=args.quiet_wait)
            # ... and with a CSRF token, which every page with a form (the dashboard's + form) must send
            with_form = measure("/bench/form", f"{base}/bench/form", write_lua(tmp, "form", cookies), args.duration,
                                server=proc, quiet_wait=args.quiet_wait)
        dash = measure("/dashboard/", f"{base}/dashboard/", write_lua(tmp, "dashboard", cookies), args.duration,
                       server=proc, quiet_wait=args.quiet_wait)
    finally:
        if proc is not None:
            stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        delete_sessions(keys)
        connections.close_all()

    ratio = 100 * dash.rps / ok.rps
    log("")
    log(f"wrk -t2 -c16 -d{args.duration}s, gunicorn 2 sync workers, DEBUG off, {len(keys)} users rotating")
    log(f"{'page':<16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'bytes':>7} {'errors':>7} "
        f"{'CPU ms/req':>10} {'other CPU':>9}")
    for run in (r for r in (ok, authed, with_form, dash) if r is not None):
        log(f"{run.name:<16} {run.rps:>9,.0f} {run.p50_ms:>8.1f} {run.p99_ms:>8.1f} {run.requests:>9,} "
            f"{run.avg_bytes:>7,} {run.errors:>7} {run.server_cpu_ms:>10.2f} {run.others_cpu:>8.0f}%")
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    log(f"dashboard / trivial view: {ratio:.1f}% of the throughput ({verdict} the {TARGET_RATIO:.0f}% target); "
        f"{100 * ok.server_cpu_ms / max(dash.server_cpu_ms, 1e-9):.1f}% by server CPU per request")
    if authed is not None:
        log(f"authenticated trivial view / trivial view: {100 * authed.rps / ok.rps:.1f}% of the throughput")
        log(f"authenticated trivial view with a CSRF token / trivial view: {100 * with_form.rps / ok.rps:.1f}% "
            f"(the most any logged-in page with a form can reach); the dashboard is at "
            f"{100 * dash.rps / with_form.rps:.1f}% of it")
    if max(ok.others_cpu, dash.others_cpu) > 10:
        log("warning: other processes took more than 10% of the CPUs during a run; the numbers are not reliable")
    log(f"SQL queries per dashboard request: {len(queries)}")
    log(f"seeding: {how} in {seed_seconds:.1f} s")
    return 1 if (ok.errors or dash.errors or (authed and authed.errors)
                  or (with_form and with_form.errors)) else 0


if __name__ == "__main__":
    sys.exit(main())
