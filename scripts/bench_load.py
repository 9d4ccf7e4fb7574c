"""Load and scale: the portal's busiest pages over a realistic volume, and the flow across two instances.

    .venv/bin/python scripts/bench_load.py [--reseed] [--duration 10] [--quiet-wait 30]
    .venv/bin/python scripts/bench_load.py --two-instances

Load mode (the default):

1. Seeds the Postgres database ``acsm_load`` (kept for the next run; ``--reseed``
   drops it first) with COPY: 100,000 certificants with 1-2 certifications each
   and their open cycles, half of them with an earlier renewed cycle and its
   certificate; 5,000,000 CEC entries (50 each, stored interleaved as if
   reported over time, so one person's credits are spread over the table); CPR
   cards: 2,000 pending review (submitted over the last 60 days), ~40% of the
   open cycles approved, 1% rejected, one approved card per earlier cycle, each
   with a stored-file row; a cart for everyone (the first visit to the cart makes
   one and it is kept), 1,000 of them holding renewals; one superuser. Prints
   the seeding time and the table sizes, then VACUUM ANALYZE.
2. In process (Django test client against ``acsm_load``): captures the SQL of one
   dashboard request and prints EXPLAIN (ANALYZE, BUFFERS) of each SELECT; fails
   if any reads a table of 10,000 rows or more with a sequential scan (a few-row
   reference table may be read whole). Reports the tables a login reads
   sequentially (not a failure: a login is not a page view). Captures the staff CPR
   queue's SQL the same way and reports its COUNT queries and their cost.
3. Starts gunicorn (2 sync workers, DEBUG off) and runs ``wrk -t2 -c16`` against
   the trivial view ``/bench/ok``, the dashboard, the cart (people with a
   renewal in their cart) and the admin CPR queue (a superuser), printing
   requests/s, p50, p99, server CPU per request and how busy the rest of the
   machine was, as ``scripts/bench_dashboard.py`` does.

``--two-instances``: the flow from login to certificate across two gunicorn
instances and two Celery workers sharing one Postgres (a fresh database
``acsm_flow``, dropped at exit) and Redis (cache db 13, broker db 14 with a
queue of its own), with a local Stripe emulator. Requests alternate between
the instances; the receipt email and the certificate PDF come from the
workers. Prints each step's status and time; exits non-zero on failure.

A benchmark, not a test. All traffic goes to 127.0.0.1; processes and
temporary files are removed at exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import email
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import bench_dashboard as bench  # noqa: E402
from scripts.bench_dashboard import BASE_DIR, PG, log  # noqa: E402

LOAD_DB = "acsm_load"
FLOW_DB = "acsm_flow"
SEED_VERSION = "1"
USERS = 100_000
ENTRIES_PER_USER = bench.ENTRIES_PER_USER  # 50: 5,000,000 entries for 100,000 certificants
PENDING_CARDS = 2_000
CART_EVERY = 100  # certificant i has renewals in the cart when i % CART_EVERY == 7: 1,000 carts with lines
ENTRY_VARIANTS = 50_000  # distinct pre-rendered credits the 5M rows are drawn from
STAFF_EMAIL = "staff@load.example.org"
PASSWORD = "load-password-2026"
SESSION_USERS = bench.SESSION_USERS  # 16, one per wrk connection

# A per-request query must not read a table this big sequentially (reference tables,
# such as the four certification types, are read whole and that is fine).
LARGE_TABLE_ROWS = 10_000
REPORTED_TABLES = [
    "accounts_user", "certifications_certification", "certifications_cycle", "certifications_certificate",
    "certifications_cprupload", "certifications_cpruploadfile", "cecs_cecentry", "cart_cart", "cart_cartline",
]
QUEUE_URL = "/staff/certifications/cprupload/"


def database_url(name: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


LOAD_ENV = {
    "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
    "DJANGO_ENV": "development",
    "DJANGO_DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1",
    "DATABASE_URL": database_url(LOAD_DB),
    "DB_CONN_MAX_AGE": "60",
    "LOG_LEVEL": "WARNING",
    "CACHE_URL": "redis://127.0.0.1:6379/13",  # this benchmark's own Redis database: emptied at the start of each run
}


def git_state() -> str:
    """The commit measured, and whether the working tree differed from it (other work in progress)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=BASE_DIR, capture_output=True, text=True, timeout=10).stdout.rstrip()

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line.strip()]
    return f"{git('rev-parse', '--short', 'HEAD')}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


# --- seeding ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """What the seed holds, decided by index arithmetic so counts can be checked without storing anything."""

    users: int
    today: date

    @property
    def cycle(self) -> tuple[date, date]:
        return date(self.today.year - 2, 1, 1), date(self.today.year, 12, 31)

    @property
    def past_cycle(self) -> tuple[date, date]:
        start, _ = self.cycle
        return date(start.year - 3, 1, 1), start - timedelta(days=1)

    @property
    def marker(self) -> str:
        start, end = self.cycle
        return (f"myacsm-load v{SEED_VERSION} users={self.users} entries_per_user={ENTRIES_PER_USER} "
                f"cycle={start}..{end} pending={PENDING_CARDS} carts=all renewing=1/{CART_EVERY}")

    def certifications(self) -> list[tuple[int, int, str]]:
        """(certification id, user, type code) in id order."""
        rows = []
        for i in range(1, self.users + 1):
            for code in bench.certification_codes(i):
                rows.append((len(rows) + 1, i, code))
        return rows

    @staticmethod
    def renewing(user: int) -> bool:
        """Has the renewals of all their certifications in the cart (everyone has a cart: the first visit
        to the cart or checkout makes one, and it is kept, so the table grows with the population)."""
        return user % CART_EVERY == 7

    @staticmethod
    def renewed_before(cid: int) -> bool:
        return cid % 2 == 0

    def pending(self, n_certifications: int) -> set[int]:
        step = max(1, n_certifications // PENDING_CARDS)
        return set(range(1, n_certifications + 1, step)[:PENDING_CARDS])

    def card_state(self, cid: int, user: int, pending: set[int]) -> str | None:
        """The open cycle's CPR card; people with renewals in their cart can renew, so theirs is approved."""
        if cid in pending:
            return "pending"
        if self.renewing(user) or cid % 5 in (2, 3):
            return "approved"
        if cid % 100 == 4:
            return "rejected"
        return None

    def expected(self) -> dict[str, int]:
        certs = self.certifications()
        pending = self.pending(len(certs))
        renewed = sum(1 for cid, _, _ in certs if self.renewed_before(cid))
        cards = sum(1 for cid, user, _ in certs if self.card_state(cid, user, pending)) + renewed
        return {
            "users": self.users + 1,
            "certifications": len(certs),
            "cycles": len(certs) + renewed,
            "certificates": renewed,
            "entries": self.users * ENTRIES_PER_USER,
            "cpr_cards": cards,
            "pending_cards": len(pending),
            "carts": self.users,
            "cart_lines": sum(1 for _, user, _ in certs if self.renewing(user)),
        }


def actual_counts() -> dict[str, int]:
    from accounts.models import User
    from cart.models import Cart, CartLine
    from cecs.models import CECEntry
    from certifications.models import Certificate, Certification, CprUpload, Cycle

    return {
        "users": User.objects.count(),
        "certifications": Certification.objects.count(),
        "cycles": Cycle.objects.count(),
        "certificates": Certificate.objects.count(),
        "entries": CECEntry.objects.count(),
        "cpr_cards": CprUpload.objects.count(),
        "pending_cards": CprUpload.objects.filter(state=CprUpload.State.PENDING).count(),
        "carts": Cart.objects.count(),
        "cart_lines": CartLine.objects.count(),
    }


def copy_text(model, columns: list[str], chunks) -> None:
    """COPY pre-rendered text-format lines (tab-separated, one row each) into ``model``'s table."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk)


def credit_variants(rng, start: date, end: date, now: str) -> list[str]:
    """Rendered CEC entries without their id and owner: everything after ``user_id`` in COPY order."""
    from cecs.rules import to_cecs

    formats = [f for f, _ in bench.FORMATS]
    weights = [w for _, w in bench.FORMATS]
    span = (end - start).days
    variants = []
    for fmt in rng.choices(formats, weights, k=ENTRY_VARIANTS):
        earned = start + timedelta(days=rng.randrange(span + 1))
        credit_type, units = bench.random_units(rng, fmt)
        reported = min(earned + timedelta(days=rng.randrange(0, 30)), end)
        source = "provider" if rng.random() < 0.1 else "self"
        variants.append(f"{earned}\t{reported}\t{units}\t{credit_type}\t{to_cecs(units, credit_type)}\t"
                        f"{rng.choice(bench.COURSES)}\t{rng.choice(bench.PROVIDERS)}\t{fmt}\t{source}\t{now}\t{now}\n")
    return variants


def seed(plan: Plan) -> dict[str, float]:
    """Fill ``acsm_load``; returns seconds per phase."""
    import random

    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from accounts.models import User
    from acsm_portal import clock
    from cart.models import Cart, CartLine
    from cecs.models import CECEntry
    from certifications.models import Certificate, Certification, CertificationType, CprUpload, CprUploadFile, Cycle

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rng = random.Random(20261127)
    now = clock.now()
    now_text = now.isoformat()
    password = make_password(PASSWORD)  # one hash for everyone
    types = {t.code: t for t in CertificationType.objects.all()}
    start, end = plan.cycle
    past_start, past_end = plan.past_cycle
    earned_to = min(plan.today - timedelta(days=1), end)
    certs = plan.certifications()
    pending = plan.pending(len(certs))
    staff_id = plan.users + 1

    def users():
        for i in range(1, plan.users + 1):
            yield (i, password, None, False, f"load{i:06d}@load.example.org", f"Load{i}", f"Certificant{i % 97}",
                   f"{200000 + i}", False, True, now, "", "")
        yield (staff_id, password, None, True, STAFF_EMAIL, "Staff", "Reviewer", "100000", True, True, now, "", "")

    cycles, certificates, cards, files, lines = [], [], [], [], []
    next_cycle = len(certs) + 1
    for cid, user, code in certs:
        ctype = types[code]
        cycles.append((cid, cid, start, end, "open", None))
        state = plan.card_state(cid, user, pending)
        if state:
            submitted = (now - timedelta(seconds=rng.randrange(60 * 86400)) if state == "pending"
                         else now - timedelta(days=rng.randrange(90, 600)))
            decided = None if state == "pending" else submitted + timedelta(days=rng.randrange(1, 5))
            cards.append((len(cards) + 1, cid, cid, state, "cpr_aed", "American Red Cross",
                          plan.today + timedelta(days=rng.randrange(120, 700)), True, submitted, submitted, decided,
                          staff_id if decided else None,
                          "The card is not readable; upload a clearer photo." if state == "rejected" else "",
                          decided))
        if plan.renewed_before(cid):
            past_id = next_cycle
            next_cycle += 1
            renewed_at = datetime.combine(past_end - timedelta(days=rng.randrange(10, 200)), datetime.min.time(),
                                          tzinfo=now.tzinfo)
            cycles.append((past_id, cid, past_start, past_end, "renewed", renewed_at))
            certificates.append((len(certificates) + 1, cid, cid, f"{code}-{start.year}-{cid:06d}",
                                 f"Load{user} Certificant{user % 97}", ctype.name, renewed_at.date(), end, "", None,
                                 renewed_at))
            submitted = renewed_at - timedelta(days=30)
            cards.append((len(cards) + 1, cid, past_id, "approved", "cpr_aed", "American Heart Association",
                          past_end + timedelta(days=365), True, submitted, submitted, submitted + timedelta(days=2),
                          staff_id, "", submitted + timedelta(days=2)))
        if plan.renewing(user):  # cart i belongs to certificant i
            lines.append((len(lines) + 1, user, cid, "renewal", ctype.renewal_fee, now))
    for card in cards:  # one stored file per card; pending ones often come as front and back
        upload_id, cid = card[0], card[1]
        for side in ("front", "back") if card[3] == "pending" and cid % 3 == 0 else ("front",):
            file_id = len(files) + 1
            key = uuid.UUID(int=file_id)
            files.append((file_id, upload_id, key, f"cpr/{key.hex}.pdf", f"cpr-card-{side}.pdf", "application/pdf",
                          48_213 + file_id % 5000, f"{file_id:064x}", card[9]))
    timings["plan"] = time.perf_counter() - t0

    models = [User, Certification, Cycle, Certificate, CprUpload, CprUploadFile, CECEntry, Cart, CartLine]
    tables = [connection.ops.quote_name(m._meta.db_table) for m in models]
    entry_table = CECEntry._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # Only ever the load database (checked by the caller): wipe what a partial seed left.
        cursor.execute(f"TRUNCATE {', '.join(tables)}, django_session RESTART IDENTITY CASCADE")
        # The rows are consistent by construction: skip the per-row foreign-key triggers, and build the
        # ledger's secondary indexes once after the COPY instead of updating them 5 million times.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
            [entry_table])
        entry_indexes = cursor.fetchall()
        for name, _ in entry_indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")

        t = time.perf_counter()
        bench.copy_rows(User, ["id", "password", "last_login", "is_superuser", "email", "first_name", "last_name",
                               "member_id", "is_staff", "is_active", "date_joined", "time_zone", "previous_time_zone"],
                        users())
        bench.copy_rows(Certification, ["id", "user", "certification_type", "first_certified_on"],
                        ((cid, user, types[code].id, date(plan.today.year - 14 + user % 10, 1 + user % 12, 1 + user % 28))
                         for cid, user, code in certs))
        bench.copy_rows(Cycle, ["id", "certification", "start", "end", "state", "renewed_at"], cycles)
        bench.copy_rows(Certificate, ["id", "certification", "cycle", "number", "holder_name", "certification_name",
                                      "issued_on", "valid_through", "pdf", "rendered_at", "created_at"], certificates)
        bench.copy_rows(CprUpload, ["id", "certification", "cycle", "state", "card_type", "issuing_organization",
                                    "expires_on", "skills_check_confirmed", "created_at", "submitted_at",
                                    "reviewed_at", "reviewed_by", "rejection_reason", "decision_emailed_at"], cards)
        bench.copy_rows(CprUploadFile, ["id", "upload", "key", "file", "original_name", "content_type", "size",
                                        "sha256", "created_at"], files)
        bench.copy_rows(Cart, ["id", "user", "updated_at"], ((i, i, now) for i in range(1, plan.users + 1)))
        bench.copy_rows(CartLine, ["id", "cart", "certification", "kind", "unit_price", "added_at"], lines)
        timings["copy people, certifications, cards, carts"] = time.perf_counter() - t

        t = time.perf_counter()
        variants = credit_variants(rng, start, earned_to, now_text)

        def entry_chunks():
            # Round-major: everyone's first credit, then everyone's second... so one person's 50 rows
            # land on ~50 different pages, as credits reported over the years would.
            entry_id = 0
            for _ in range(ENTRIES_PER_USER):
                picks = rng.choices(variants, k=plan.users)
                yield "".join(f"{entry_id + i}\t{i}\t{tail}" for i, tail in enumerate(picks, 1))
                entry_id += plan.users

        copy_text(CECEntry, ["id", "user", "date_earned", "date_reported", "units", "credit_type", "cecs",
                             "course_name", "provider", "format", "source", "created_at", "updated_at"],
                  entry_chunks())
        timings["copy 5M CEC entries"] = time.perf_counter() - t
        t = time.perf_counter()
        for _, definition in entry_indexes:
            cursor.execute(definition)
        timings["index CEC entries"] = time.perf_counter() - t
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
    t = time.perf_counter()
    with bench.admin_connect(LOAD_DB) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    timings["vacuum analyze"] = time.perf_counter() - t
    return timings


def prepare_database(*, users: int, reseed: bool) -> tuple[str, float, dict[str, float]]:
    from django.conf import settings
    from django.core.management import call_command

    from acsm_portal import clock

    if settings.DATABASES["default"]["NAME"] != LOAD_DB:  # never seed (or truncate) anything else
        raise SystemExit(f"refusing to seed {settings.DATABASES['default']['NAME']!r}: expected {LOAD_DB!r}")
    started = time.perf_counter()
    bench.ensure_database(reseed=reseed, dbname=LOAD_DB)
    call_command("migrate", verbosity=0, interactive=False)
    plan = Plan(users=users, today=clock.today())
    if bench.read_marker(LOAD_DB) == plan.marker and actual_counts() == plan.expected():
        return "reused", time.perf_counter() - started, {}
    log(f"Seeding {users:,} certificants x {ENTRIES_PER_USER} CEC entries into {LOAD_DB}")
    bench.write_marker(None, LOAD_DB)
    timings = seed(plan)
    counts = actual_counts()
    if counts != plan.expected():
        raise SystemExit(f"seeding went wrong: {counts} != {plan.expected()}")
    bench.write_marker(plan.marker, LOAD_DB)
    return "seeded", time.perf_counter() - started, timings


def table_sizes() -> list[tuple[str, int, str, str]]:
    """(table, rows, heap size, indexes size) from the statistics ANALYZE just refreshed."""
    with bench.admin_connect(LOAD_DB) as conn:
        return conn.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_table_size(c.oid)), "
            "pg_size_pretty(pg_indexes_size(c.oid)) FROM pg_class c WHERE c.relname = ANY(%s) "
            "ORDER BY pg_total_relation_size(c.oid) DESC", [REPORTED_TABLES]).fetchall()


# --- in-process checks: SQL, plans, the admin queue --------------------------------------------

@dataclass
class Explained:
    sql: str
    plan: list[str]
    ms: float
    seq_scans: list[str]  # large tables read sequentially
    small_scans: list[str]  # small tables read sequentially (fine)
    indexes: list[str]  # "index on table"


SCAN = re.compile(r"(Seq Scan|Parallel Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan)(?: Backward)?"
                  r"(?: using (\S+))? on (\S+)")
BITMAP = re.compile(r"Bitmap Index Scan on (\S+)")


def explain(queries: list[str]) -> list[Explained]:
    from django.db import connection

    found = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        rows = dict(cursor.fetchall())
        for sql in queries:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = [line for (line,) in cursor.fetchall()]
            ms = next((float(m.group(1)) for line in plan if (m := re.search(r"Execution Time: ([\d.]+) ms", line))),
                      0.0)
            seq, small, indexes = [], [], []
            for line in plan:
                for kind, index, table in SCAN.findall(line):
                    if "Seq Scan" in kind:
                        (seq if rows.get(table, 0) >= LARGE_TABLE_ROWS else small).append(table)
                    elif index:
                        indexes.append(f"{index} on {table}")
                indexes += [f"{name} (bitmap)" for name in BITMAP.findall(line)]
            found.append(Explained(sql, plan, ms, seq, small, indexes))
    return found


def captured(client, url: str, check: Callable[[object], bool]) -> tuple[list[str], float]:
    """The SQL of one steady-state request (a first request warmed the process), and its time in ms."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url)
    if not check(first):
        raise SystemExit(f"in-process {url} answered {first.status_code} without the expected content")
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        client.get(url)
        ms = 1000 * (time.perf_counter() - t)
    return [q["sql"] for q in ctx.captured_queries], ms


def client_for(session_key: str):
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return client


def short(sql: str, width: int = 150) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[:width] + "…"


def report_dashboard_plans(session_key: str) -> list[Explained]:
    queries = bench.dashboard_queries(session_key)
    explained = explain(queries)
    log(f"Dashboard: {len(queries)} SQL queries, {len(explained)} SELECTs; EXPLAIN (ANALYZE, BUFFERS) of the render:")
    for n, e in enumerate(explained, 1):
        verdict = f"SEQ SCAN on {', '.join(e.seq_scans)}" if e.seq_scans else "indexes"
        small = f"; whole small table {', '.join(dict.fromkeys(e.small_scans))}" if e.small_scans else ""
        log(f"  [{n}] {e.ms:6.2f} ms  {verdict}: {', '.join(dict.fromkeys(e.indexes)) or '-'}{small}")
        log(f"      {short(e.sql, 200)}")
        for line in e.plan:
            log(f"        {line}")
    return explained


def report_login_queries(email: str) -> None:
    """The SQL of one successful login (form POST, password checked), and what it reads sequentially."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as ctx:
        t = time.perf_counter()
        response = client.post("/accounts/login/", {"username": email, "password": PASSWORD})
        ms = 1000 * (time.perf_counter() - t)
    if response.status_code != 302:
        raise SystemExit(f"in-process login answered {response.status_code}")
    client.logout()
    explained = explain([q["sql"] for q in ctx.captured_queries])
    log(f"Login: {ms:.0f} ms in process (most of it the password hash), {len(ctx.captured_queries)} SQL queries")
    for e in explained:
        if e.seq_scans:
            log(f"  {e.ms:7.2f} ms  SEQ SCAN on {', '.join(e.seq_scans)}: {short(e.sql, 150)}")


def report_queue_queries(session_key: str) -> dict[str, list[Explained]]:
    """The staff CPR queue's SQL, pending cards (the default view) and all cards; COUNT queries singled out."""
    client = client_for(session_key)
    found = {}
    for label, url in (("pending (default)", QUEUE_URL), ("all states", f"{QUEUE_URL}?status=all")):
        queries, ms = captured(client, url, lambda r: r.status_code == 200 and b'id="result_list"' in r.content)
        explained = explain(queries)
        counts = [e for e in explained if "COUNT(" in e.sql.upper()]
        log(f"Admin CPR queue, {label}: {ms:.0f} ms in process; {len(queries)} SQL queries, "
            f"{sum(e.ms for e in explained):.1f} ms of execution; {len(counts)} COUNT "
            f"quer{'y' if len(counts) == 1 else 'ies'}:")
        for e in counts:
            scope = "pending only" if "'pending'" in e.sql else "EVERY submitted card"
            log(f"  {e.ms:7.2f} ms  ({scope}) {short(e.sql, 170)}")
            for line in e.plan[:6]:
                log(f"        {line}")
        slowest = max(explained, key=lambda e: e.ms)
        log(f"  slowest query: {slowest.ms:.2f} ms: {short(slowest.sql, 170)}")
        found[label] = explained
    return found


def check_carts(users) -> None:
    """Each measured cart must render its renewal and change nothing (no removals, no price updates)."""
    from cart.models import CartLine

    before = CartLine.objects.filter(cart__user__in=users).count()
    for user, key in users.items():
        r = client_for(key).get("/cart/")
        page = r.content.decode()
        changed = any(text in page for text in ("was removed", "changed from", "late fee was added"))
        if r.status_code != 200 or "Recertification" not in page or changed:
            raise SystemExit(f"/cart/ for {user.email}: {r.status_code}, not a stable cart with a renewal")
    if CartLine.objects.filter(cart__user__in=users).count() != before:
        raise SystemExit("showing the cart changed its lines")


# --- load mode ----------------------------------------------------------------------------------

def load_mode(args) -> int:
    from django.db import connections

    from accounts.models import User
    from cart.models import CartLine

    how, seconds, timings = prepare_database(users=args.users, reseed=args.reseed)
    log(f"Database {LOAD_DB}: {how} in {seconds:.1f} s")
    for phase, t in timings.items():
        log(f"  {phase:<42} {t:7.1f} s")
    log(f"{'table':<32} {'rows (est.)':>11} {'heap':>9} {'indexes':>9}")
    for name, rows, heap, indexes in table_sizes():
        log(f"{name:<32} {rows:>11,} {heap:>9} {indexes:>9}")
    log(f"code: {git_state()}")

    dashboard_users = bench.bench_users()
    cart_users = list(CartLine.objects.order_by("cart__user_id").values_list("cart__user", flat=True).distinct())
    step = max(1, len(cart_users) // SESSION_USERS)
    cart_people = list(User.objects.filter(pk__in=cart_users[::step][:SESSION_USERS]).order_by("pk"))
    staff = User.objects.get(email=STAFF_EMAIL)
    keys = {
        "dashboard": bench.create_sessions(dashboard_users),
        "cart": bench.create_sessions(cart_people),
        "admin": bench.create_sessions([staff] * SESSION_USERS),
    }
    all_keys = [k for ks in keys.values() for k in ks]
    tmp = Path(tempfile.mkdtemp(prefix="acsm-load-"))
    procs: list[subprocess.Popen] = []
    failures = []
    try:
        explained = report_dashboard_plans(keys["dashboard"][0])
        scanned = sorted({t for e in explained for t in e.seq_scans})
        if scanned:
            failures.append(f"dashboard queries read {', '.join(scanned)} sequentially")
        log("Every dashboard query on a large table uses an index." if not scanned
            else f"FAIL: sequential scans on {', '.join(scanned)}")
        report_login_queries(dashboard_users[0].email)
        report_queue_queries(keys["admin"][0])
        check_carts(dict(zip(cart_people, keys["cart"], strict=True)))
        connections.close_all()

        port = bench.free_port()
        proc = start_gunicorn(port, LOAD_ENV, tmp / "gunicorn.log", procs)
        base = f"http://127.0.0.1:{port}"
        pages = [
            ("/bench/ok", "/bench/ok", [], "ok"),
            ("/dashboard/", "/dashboard/", keys["dashboard"], "Total CECs"),
            ("/cart/", "/cart/", keys["cart"], "Recertification"),
            ("admin CPR queue", QUEUE_URL, keys["admin"], 'id="result_list"'),
        ]
        for name, path, session_keys, needle in pages:  # every session must reach the real page
            for key in session_keys or [None]:
                status, body = bench.fetch(base + path, bench.browser_cookies(key) if key else None)
                if status != 200 or needle not in body:
                    raise SystemExit(f"{path} answered {status} without {needle!r}")
        runs = []
        for name, path, session_keys, _ in pages:
            script = bench.write_lua(tmp, re.sub(r"\W+", "_", name), [bench.browser_cookies(k) for k in session_keys])
            runs.append(bench.measure(name, base + path, script, args.duration, server=proc,
                                      quiet_wait=args.quiet_wait, dbname=LOAD_DB))
    finally:
        for proc in procs:
            bench.stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        bench.delete_sessions(all_keys)
        connections.close_all()

    ok = runs[0]
    log("")
    log(f"wrk -t2 -c{SESSION_USERS} -d{args.duration}s, gunicorn 2 sync workers, DEBUG off, {LOAD_DB}: "
        f"{args.users:,} certificants, {args.users * ENTRIES_PER_USER:,} CEC entries")
    log(f"{'page':<16} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'bytes':>7} {'errors':>7} "
        f"{'CPU ms/req':>10} {'other CPU':>9} {'vs trivial':>10}")
    for run in runs:
        log(f"{run.name:<16} {run.rps:>9,.0f} {run.p50_ms:>8.1f} {run.p99_ms:>8.1f} {run.requests:>9,} "
            f"{run.avg_bytes:>7,} {run.errors:>7} {run.server_cpu_ms:>10.2f} {run.others_cpu:>8.0f}% "
            f"{100 * run.rps / ok.rps:>9.1f}%")
    if max(r.others_cpu for r in runs) > 10:
        log("warning: other processes took more than 10% of the CPUs during a run; compare CPU ms/req, "
            "not requests/s")
    failures += [f"{r.name}: {r.errors} wrk errors" for r in runs if r.errors]
    log(f"seeding: {how} in {seconds:.1f} s")
    for failure in failures:
        log(f"FAIL: {failure}")
    return 1 if failures else 0


# --- two instances ------------------------------------------------------------------------------

class Browser:
    """A cookie jar and urllib, one person's browser; the same cookies go to both instances (cookies ignore ports)."""

    def __init__(self):
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), bench.NoRedirect)

    def request(self, url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers=headers or {}, method="GET" if body is None else "POST")
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.cookies if c.name == name), "")


def form_value(html: bytes, name: str) -> str:
    m = re.search(rb'name="%s" value="([^"]*)"' % re.escape(name.encode()), html)
    if not m:
        raise FlowError(f"no {name!r} field in the page")
    return m.group(1).decode()


class FlowError(Exception):
    pass


def step(name: str, where: str, fn: Callable[[], str]) -> None:
    """Run one step of the flow and print its outcome and time; a failure stops the flow."""
    t = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:
        log(f"  {name:<38} {where:<7} {1000 * (time.perf_counter() - t):7.0f} ms  FAILED: {exc}")
        raise
    log(f"  {name:<38} {where:<7} {1000 * (time.perf_counter() - t):7.0f} ms  {detail}")


def wait_for(what: str, probe: Callable[[], object], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise FlowError(f"no {what} within {timeout:.0f} s")


def wait_http(url: str, proc: subprocess.Popen, name: str, logfile: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}:\n{logfile.read_text()[-3000:]}")
        try:  # the URL is one this script built for 127.0.0.1
            with urllib.request.urlopen(url, timeout=2):  # nosec B310
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"{name} did not answer within {timeout:.0f} s")


def start_process(cmd: list[str], env: dict[str, str], logfile: Path, procs: list[subprocess.Popen]
                  ) -> subprocess.Popen:
    """Start ``cmd`` in a session of its own and add it to ``procs`` at once, so cleanup finds it even when
    Ctrl-C arrives while it is still starting."""
    with open(logfile, "wb") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONPATH": str(BASE_DIR)}, cwd=BASE_DIR,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    procs.append(proc)
    return proc


def start_gunicorn(port: int, env: dict[str, str], logfile: Path, procs: list[subprocess.Popen]) -> subprocess.Popen:
    """gunicorn as ``scripts/bench_dashboard.py`` runs it (2 sync workers), answering on ``/bench/ok``."""
    proc = start_process([sys.executable, "-m", "gunicorn", "acsm_portal.wsgi:application", "--workers", "2",
                          "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--chdir", str(BASE_DIR),
                          "--timeout", "30", "--graceful-timeout", "5", "--log-level", "warning"], env, logfile, procs)
    wait_http(f"http://127.0.0.1:{port}/bench/ok", proc, "gunicorn", logfile)
    return proc


def mailbox(path: Path) -> list[email.message.Message]:
    found = []
    for f in sorted(path.glob("*.log")):
        for chunk in f.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                found.append(email.message_from_bytes(chunk.lstrip(b"\n")))
    return found


def task_runs(logs: dict[str, Path], task: str) -> list[str]:
    """Which workers logged ``task`` as succeeded."""
    return [name for name, path in logs.items()
            if re.search(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", path.read_text(errors="replace"))]


def flow_env(tmp: Path, *, stripe_port: int, portal_port: int, queue: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(FLOW_DB),
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "CACHE_URL": "redis://127.0.0.1:6379/13",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "CELERY_QUEUE": queue,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp / "mail"),
        "PRIVATE_MEDIA_ROOT": str(tmp / "private"),
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "STRIPE_JS_URL": f"http://127.0.0.1:{stripe_port}/js.stripe.com/v3/",
        "PORTAL_BASE_URL": f"http://127.0.0.1:{portal_port}",
    }


def make_renewable(certification, *, today: date) -> str:
    """What staff and the person would do between the steps: an approved CPR card and the rest of the credits."""
    from acsm_portal import clock
    from cecs.models import CECEntry
    from cecs.rules import to_cecs
    from certifications.models import CprUpload, Cycle

    cycle = Cycle.objects.get(certification=certification, state=Cycle.State.OPEN)
    now = clock.now()
    CprUpload.objects.create(certification=certification, cycle=cycle, state=CprUpload.State.APPROVED,
                             card_type="cpr_aed", issuing_organization="American Red Cross",
                             expires_on=today + timedelta(days=400), skills_check_confirmed=True,
                             submitted_at=now, reviewed_at=now)
    required = certification.certification_type.required_cecs
    units = Decimal(10)
    for n in range(-(-required // 10)):
        CECEntry.objects.create(user=certification.user, date_earned=today - timedelta(days=30 + n),
                                date_reported=today, units=units, credit_type="cec", cecs=to_cecs(units, "cec"),
                                course_name=f"Load flow course {n + 1}", provider="ACSM", format="live")
    return f"approved CPR card + {-(-required // 10) * 10} CECs (needs {required})"


def two_instances_mode(args) -> int:
    import stripe
    from django.core.management import call_command
    from django.db import connections

    from accounts.models import User
    from acsm_portal import clock
    from certifications.models import Certificate, Certification, CertificationType, Cycle

    tmp = Path(tempfile.mkdtemp(prefix="acsm-flow-"))
    (tmp / "mail").mkdir()
    (tmp / "private").mkdir()
    queue = f"acsm-load-flow-{os.getpid()}"
    ports = {"A": bench.free_port(), "B": bench.free_port(), "stripe": bench.free_port()}
    env = flow_env(tmp, stripe_port=ports["stripe"], portal_port=ports["A"], queue=queue)
    procs: list[subprocess.Popen] = []
    worker_logs: dict[str, Path] = {}
    ok = False
    try:
        t = time.perf_counter()
        bench.ensure_database(reseed=True, dbname=FLOW_DB)
        call_command("migrate", verbosity=0, interactive=False)
        log(f"Database {FLOW_DB}: created and migrated in {time.perf_counter() - t:.1f} s")
        connections.close_all()

        t = time.perf_counter()
        stripe_log = tmp / "localstripe.log"
        stripe_proc = start_process([str(Path(sys.executable).parent / "localstripe"), "--port", str(ports["stripe"]),
                                     "--from-scratch"], env, stripe_log, procs)
        wait_http(f"{env['STRIPE_API_BASE']}/js.stripe.com/v3/", stripe_proc, "localstripe", stripe_log)
        for name in ("worker1", "worker2"):
            worker_logs[name] = tmp / f"{name}.log"
            start_process(  # INFO: the log names each task a worker ran
                [sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-P", "solo", "-l", "info",
                 "-Q", queue, "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"], {**env, "LOG_LEVEL": "INFO"}, worker_logs[name], procs)
        for name in ("A", "B"):
            start_gunicorn(ports[name], env, tmp / f"gunicorn-{name}.log", procs)
        for name, path in worker_logs.items():
            wait_for(f"{name} ready", lambda p=path: "ready." in p.read_text(errors="replace"), timeout=30)
        log(f"Started localstripe :{ports['stripe']}, gunicorn A :{ports['A']} and B :{ports['B']} (2 workers each), "
            f"Celery worker1 and worker2 on queue {queue} in {time.perf_counter() - t:.1f} s")

        today = clock.today()
        person = User.objects.create_user(email=f"flow-{os.getpid()}@load.example.org", password=PASSWORD,
                                          first_name="Flow", last_name="Tester")
        certification = Certification.objects.create(user=person, first_certified_on=date(today.year - 8, 6, 1),
                                                      certification_type=CertificationType.objects.get(code="CPT"))
        Cycle.objects.create(certification=certification, start=date(today.year - 2, 1, 1),
                             end=date(today.year, 12, 31))
        connections.close_all()
        A, B = (f"http://127.0.0.1:{ports[n]}" for n in ("A", "B"))
        browser = Browser()
        state: dict[str, object] = {}

        def login() -> str:
            status, _, page = browser.request(f"{A}/accounts/login/")
            if status != 200:
                raise FlowError(f"login page {status}")
            status, headers, _ = browser.request(f"{A}/accounts/login/", {
                "username": person.email, "password": PASSWORD, "next": "",
                "csrfmiddlewaretoken": form_value(page, "csrfmiddlewaretoken")})
            if status != 302 or not browser.cookie("sessionid"):
                raise FlowError(f"login answered {status} without a session")
            return f"302 → {headers.get('Location')}"

        def report_cec() -> str:
            status, _, page = browser.request(f"{B}/cecs/report/")
            if status != 200:
                raise FlowError(f"report page {status} (the session from A is not known to B?)")
            status, headers, _ = browser.request(f"{B}/cecs/report/", {
                "date_earned": str(today - timedelta(days=7)), "units": "2", "credit_type": "cec",
                "course_name": "Two-instance load course", "provider": "ACSM", "format": "live",
                "csrfmiddlewaretoken": form_value(page, "csrfmiddlewaretoken")})
            if status != 302:
                raise FlowError(f"report answered {status}")
            status, _, page = browser.request(f"{A}/dashboard/")
            if status != 200 or b"Two-instance load course" not in page:
                raise FlowError("the credit reported on B is not on A's dashboard")
            return "302; A's dashboard lists it"

        def renewable() -> str:
            detail = make_renewable(certification, today=today)
            connections.close_all()
            return detail

        def renew() -> str:
            status, _, page = browser.request(f"{A}/dashboard/")
            action = f"/cart/renew/{certification.pk}/".encode()
            if status != 200 or action not in page:
                raise FlowError(f"dashboard {status} without the RENEW form")
            status, _, _ = browser.request(f"{A}/cart/renew/{certification.pk}/",
                                           {"csrfmiddlewaretoken": form_value(page, "csrfmiddlewaretoken")})
            if status != 302:
                raise FlowError(f"renew answered {status}")
            return "302; RENEW form was on the dashboard"

        def checkout() -> str:
            status, _, page = browser.request(f"{B}/checkout/")
            if status != 200:
                raise FlowError(f"checkout page {status}")
            total = form_value(page, "expected_total")
            status, _, body = browser.request(f"{B}/checkout/", {
                "name": "Flow Tester", "line1": "401 W Michigan St", "line2": "", "city": "Indianapolis",
                "state": "IN", "postal_code": "46202", "country": "US", "save_to_profile": "on",
                "expected_total": total, "csrfmiddlewaretoken": form_value(page, "csrfmiddlewaretoken"),
            }, headers={"Accept": "application/json"})
            if status != 200:
                raise FlowError(f"checkout answered {status}: {body[:300]!r}")
            state.update(json.loads(body))
            return f"200; order total ${total}, payment {state['payment']} {state['state']}"

        def payment_method() -> str:
            client = stripe.StripeClient("sk_test_local", base_addresses={"api": env["STRIPE_API_BASE"]},
                                         max_network_retries=0)
            method = client.v1.payment_methods.create(params={"type": "card", "card": {
                "number": "4242424242424242", "exp_month": 12, "exp_year": today.year + 4, "cvc": "123"}})
            state["payment_method"] = method.id
            return method.id

        def charge() -> str:
            status, _, body = browser.request(f"{A}{state['charge_url']}", {"payment_method": state["payment_method"]},
                                              headers={"Accept": "application/json",
                                                       "X-CSRFToken": browser.cookie("csrftoken")})
            outcome = json.loads(body) if body.startswith(b"{") else {}
            if status != 200 or outcome.get("state") != "succeeded":
                raise FlowError(f"charge answered {status}: {body[:300]!r}")
            return f"200; {outcome['state']}: {outcome.get('message', '')}"

        def receipt() -> str:
            status, _, page = browser.request(f"{B}{state['receipt_url']}")
            number = str(state["receipt_url"]).strip("/").split("/")[1]
            if status != 200 or number.encode() not in page:
                raise FlowError(f"receipt answered {status}")
            state["order"] = number
            return f"200; order {number}"

        def receipt_email() -> str:
            found = wait_for("receipt email", lambda: [m for m in mailbox(tmp / "mail")
                                                       if str(state["order"]) in (m["Subject"] or "")])
            sent_by = wait_for("the task's log line",
                               lambda: task_runs(worker_logs, "payments.tasks.order_receipt_email"), timeout=10)
            return f"{found[0]['Subject']!r} to {found[0]['To']} (by {', '.join(sent_by) or '?'})"

        def certificate_rendered() -> str:
            def rendered():
                found = Certificate.objects.filter(certification=certification, rendered_at__isnull=False).first()
                connections.close_all()
                return found
            found = wait_for("rendered certificate", rendered)
            state["certificate"] = found.number
            by = wait_for("the task's log line",
                          lambda: task_runs(worker_logs, "certifications.tasks.certificate_render_task"), timeout=10)
            return f"{found.number} rendered_at {found.rendered_at:%H:%M:%S} (by {', '.join(by) or '?'})"

        def download() -> str:
            status, headers, body = browser.request(f"{A}/certificates/{state['certificate']}.pdf")
            if status != 200 or not body.startswith(b"%PDF") or headers.get("Content-Type") != "application/pdf":
                raise FlowError(f"certificate answered {status} {headers.get('Content-Type')}")
            return f"200 application/pdf, {len(body):,} bytes"

        log(f"Flow for {person.email}, certification CPT #{certification.pk}:")
        t = time.perf_counter()
        step("log in", "A", login)
        step("report a CEC", "B", report_cec)
        step("make renewable (direct DB)", "DB", renewable)
        step("RENEW", "A", renew)
        step("checkout (JSON)", "B", checkout)
        step("PaymentMethod at the emulator", "stripe", payment_method)
        step("charge", "A", charge)
        step("receipt page", "B", receipt)
        step("receipt email from a worker", "worker", receipt_email)
        step("certificate PDF rendered by a worker", "worker", certificate_rendered)
        step("download the certificate", "A", download)
        log(f"Flow complete in {time.perf_counter() - t:.1f} s across two instances and two workers.")
        ok = True
    except Exception as exc:  # any failure: say what happened, show the servers' logs, clean up
        log(f"Flow FAILED: {exc}")
        for path in sorted(tmp.glob("*.log")):
            tail = path.read_text(errors="replace")[-1500:].strip()
            if tail:
                log(f"--- {path.name} (tail)\n{tail}")
    finally:
        for proc in reversed(procs):
            bench.stop_process(proc)
        connections.close_all()
        try:
            import redis

            r = redis.Redis.from_url(env["CELERY_BROKER_URL"])
            r.delete(queue, *r.keys(f"_kombu.binding*.{queue}"))  # this run's queue and its bindings only
        except Exception as exc:  # cleanup must not hide the outcome
            log(f"(could not remove the Redis queue {queue}: {exc})")
        try:
            with bench.admin_connect() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {FLOW_DB} WITH (FORCE)")
        except Exception as exc:
            log(f"(could not drop {FLOW_DB}: {exc})")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


# --- main ---------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--two-instances", action="store_true",
                        help="run the flow across two gunicorn instances and two Celery workers instead")
    parser.add_argument("--reseed", action="store_true", help=f"drop {LOAD_DB} and seed it again")
    parser.add_argument("--users", type=int, default=USERS, help=f"certificants to seed (default {USERS:,})")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--quiet-wait", type=float, default=30, metavar="SECONDS",
                        help="before each run, wait up to this long for other work on the machine to settle")
    args = parser.parse_args()
    if not 1 <= args.duration <= 120:
        parser.error("--duration must be between 1 and 120 seconds")
    if not 1_000 <= args.users <= 1_000_000:
        parser.error("--users must be between 1,000 and 1,000,000")
    if not args.two_instances and shutil.which("wrk") is None:
        parser.error("wrk is not installed")

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)  # a kill runs the same cleanup as Ctrl-C
    if args.two_instances:
        os.environ.update({**LOAD_ENV, "DATABASE_URL": database_url(FLOW_DB)})
    else:
        os.environ.update(LOAD_ENV)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)  # no collectstatic here
    import django

    django.setup()
    from django.core.cache import cache

    cache.clear()  # no session or cached caps of an earlier run (of another seed) are read
    try:
        return two_instances_mode(args) if args.two_instances else load_mode(args)
    except KeyboardInterrupt:
        log("interrupted; processes and temporary files were removed")
        return 130


if __name__ == "__main__":
    sys.exit(main())
