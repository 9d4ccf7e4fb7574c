"""The provider CSV benchmark: a 10,000-row roster read and posted, against the floor of inserting the same rows as
plain credits, in one process.

    .venv/bin/python scripts/bench_provider_csv.py [--rows 10000] [--rounds 3]

1. Prepares the Postgres database ``acsm_bench_provider_csv`` (created and migrated when missing, then kept): each
   run empties its people, credits and providers and seeds them with ``bulk_create``: ``--rows`` certificants
   (member IDs from 300001, last names with accents and spaces such as "Müller" and "De la Cruz"), the provider
   P-0001 and its three approved online courses.
2. Builds the roster in memory as a provider would send it: the header ``member_id,last_name,course_number,
   completed_on,external_id`` and one valid row per certificant, the last name typed in capitals without accents
   ("MULLER", "DE LA CRUZ"), the three courses in turn, dates in the last 300 days, external IDs unique.
3. Measures ``--rounds`` passes, each on an empty ledger (credits and completions truncated before it):

   - **roster**: reading the file (``providers.roster.roster_read``, or ``csv.DictReader`` into ``CompletionIn``
     when that module is not there), ``completions_post(via="csv")`` in one call, and the per-row report
     (``roster_report``, when the module is there), each timed;
   - **floor**: the same rows as plain ``CECEntry`` rows: ``csv.reader``, the people's ids by member ID in one
     query, one ``bulk_create`` in one transaction: what no roster can do with less.

   For each: wall time and rows per second, CPU of this process and of its Postgres backend, the SQL statements
   issued (``connection.execute_wrapper``); then one more pass of each under ``tracemalloc`` for the peak of Python
   memory (tracing slows Python down: that pass's time is not shown). The median round by wall time is shown.
4. Prints one Markdown table and the roster's ratio to the floor, by wall time and by CPU. Exits 1 when a roster row
   was not accepted.

Needs Postgres on 127.0.0.1:5432. A benchmark, not a test: nothing is sent or queued; its database is its own.
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import io
import os
import sys
import time
import tracemalloc
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from scripts.bench_pages import CLK_TCK, admin_connect, git_state, in_process_env, jiffies, log, machine  # noqa: E402

DB = "acsm_bench_provider_csv"
FIRST_MEMBER_ID = 300_001
LAST_NAMES = ("Müller", "De la Cruz", "Núñez", "O'Brien", "García Márquez", "Smith", "Nguyễn", "van der Berg")
COURSES = (("AOL-101", "Behavior Change Coaching for Exercise Professionals", "2.00"),
           ("AOL-102", "Exercise Programming for Clients with Hypertension", "3.50"),
           ("AOL-103", "Balance and Fall Prevention for Older Adults", "5.00"))
HEADER = ("member_id", "last_name", "course_number", "completed_on", "external_id")
MIB = 1024 * 1024


def typed(name: str) -> str:
    """A last name as a provider's system may hold it: capitals, accents dropped ("Núñez" → "NUNEZ")."""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return bare.upper()


# --- the database -------------------------------------------------------------------------------

def prepare(*, rows: int) -> str:
    """The benchmark's database, migrated, its people, credits and providers seeded afresh. Returns how long it
    took, in words."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.models import User
    from acsm_portal import clock
    from providers.models import Course, Provider

    if settings.DATABASES["default"]["NAME"] != DB:  # never empty anything else
        raise SystemExit(f"refusing to seed {settings.DATABASES['default']['NAME']!r}: expected {DB!r}")
    started = time.perf_counter()
    with admin_connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    call_command("migrate", verbosity=0, interactive=False)
    today = clock.today()
    password = make_password(None)  # unusable: nobody logs in
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (User, Provider))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")  # only ever DB (checked)
        User.objects.bulk_create([
            User(email=f"csv{n:06d}@bench.example.org", first_name=f"Bench{n}",
                 last_name=LAST_NAMES[n % len(LAST_NAMES)], member_id=f"{FIRST_MEMBER_ID + n}", password=password)
            for n in range(rows)], batch_size=2000)
        provider = Provider.objects.create(name="ACSM Online Learning", number="P-0001",
                                           contact_email="online-learning@example.com")
        Course.objects.bulk_create([
            Course(provider=provider, number=number, title=title, format="online", cecs=Decimal(cecs),
                   valid_from=date(today.year - 2, 1, 1), valid_to=date(today.year + 1, 12, 31))
            for number, title, cecs in COURSES])
    with admin_connect(DB) as conn:
        conn.execute("VACUUM (ANALYZE) accounts_user, providers_provider, providers_course")
    return f"{rows:,} certificants seeded in {time.perf_counter() - started:.1f} s"


def empty_ledger() -> None:
    """No credits and no completions: each pass starts where a provider's first roster would."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE providers_completion, cecs_cecentry RESTART IDENTITY CASCADE")  # only ever DB


def roster_bytes(*, rows: int) -> bytes:
    """The roster as uploaded: UTF-8 with a byte order mark, CRLF line ends (as Excel saves it)."""
    from acsm_portal import clock

    today = clock.today()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for n in range(rows):
        writer.writerow([f"{FIRST_MEMBER_ID + n}", typed(LAST_NAMES[n % len(LAST_NAMES)]), COURSES[n % 3][0],
                         (today - timedelta(days=1 + n % 300)).isoformat(), f"AOL-{n:07d}"])
    return out.getvalue().encode("utf-8")


# --- the two passes -----------------------------------------------------------------------------

def roster_pass(data: bytes) -> tuple[dict[str, float], dict[str, int]]:
    """Read ``data`` as a roster, post it for P-0001, build its report: the seconds of each step, and the outcome
    counts."""
    from providers.models import Completion, Provider
    from providers.services import CompletionIn, completions_post

    try:
        from providers import roster
    except ImportError:
        roster = None
    times = {}
    t0 = time.perf_counter()
    provider_id = Provider.objects.values_list("pk", flat=True).get(number="P-0001")
    if roster is not None:
        read = roster.roster_read(file=io.BytesIO(data))
        items = read.items
    else:
        items = [CompletionIn(member_id=row["member_id"], last_name=row["last_name"],
                              course_number=row["course_number"],
                              completed_on=date.fromisoformat(row["completed_on"]), external_id=row["external_id"])
                 for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))]
    t1 = time.perf_counter()
    results = completions_post(provider_id=provider_id, items=items, via=Completion.Via.CSV, posted_by="bench@provider")
    t2 = time.perf_counter()
    if roster is not None:
        report = roster.roster_report(roster=read, results=results)
        counts = {k: v for k, v in report.totals.items() if k != "rows"}
    else:
        counts = {s: sum(r.status == s for r in results) for s in ("accepted", "duplicate", "rejected")}
    t3 = time.perf_counter()
    times.update(parse=t1 - t0, post=t2 - t1, report=t3 - t2)
    return times, counts


def floor_pass(data: bytes) -> tuple[dict[str, float], dict[str, int]]:
    """The same rows as plain credits: read, the people's ids in one query, one insert in one transaction."""
    from django.db import transaction

    from accounts.models import User
    from acsm_portal import clock
    from cecs.models import CECEntry, CreditType
    from providers.models import Course

    t0 = time.perf_counter()
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    next(reader)
    rows = list(reader)
    with transaction.atomic():
        courses = {c.number: c for c in Course.objects.all()}
        people = dict(User.objects.filter(member_id__in={r[0] for r in rows}).values_list("member_id", "id"))
        today = clock.today()
        made = CECEntry.objects.bulk_create([
            CECEntry(user_id=people[member_id], date_earned=date.fromisoformat(completed_on), date_reported=today,
                     units=courses[number].cecs, credit_type=CreditType.CEC, cecs=courses[number].cecs,
                     course_name=courses[number].title, provider="ACSM Online Learning", format="online",
                     source=CECEntry.Source.PROVIDER)
            for member_id, _last_name, number, completed_on, _external_id in rows])
    return {"insert": time.perf_counter() - t0}, {"accepted": len(made)}


@dataclass
class Round:
    """One timed pass: each step's seconds, CPU seconds of this process and of its Postgres backend, the machine's
    busy and total CPU ticks meanwhile, the statements issued and the outcome counts."""

    steps: dict[str, float]
    app_cpu: float
    db_cpu: float
    busy: int
    total: int
    statements: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())

    @property
    def others(self) -> float:
        """% of the machine's CPU taken by everything else meanwhile."""
        return 100 * max(0.0, self.busy - (self.app_cpu + self.db_cpu) * CLK_TCK) / max(self.total, 1)


def measure(run, data: bytes) -> Round:
    from django.db import connection

    empty_ledger()
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql[:40])
        return execute(sql, params, many, context)

    gc.collect()
    db0, (busy0, total0), cpu0 = jiffies([backend]), machine(), time.process_time()
    with connection.execute_wrapper(count):
        steps, counts = run(data)
    cpu1, (busy1, total1), db1 = time.process_time(), machine(), jiffies([backend])
    return Round(steps=steps, app_cpu=cpu1 - cpu0, db_cpu=(db1.get(backend, 0) - db0.get(backend, 0)) / CLK_TCK,
                 busy=busy1 - busy0, total=total1 - total0, statements=len(statements), counts=counts)


def peak_mib(run, data: bytes) -> float:
    """The peak of Python memory allocated during one pass of ``run``, in MiB (``tracemalloc``)."""
    empty_ledger()
    gc.collect()
    tracemalloc.start()
    try:
        run(data)
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


# --- main ---------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="roster rows, one certificant each (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of each, the median shown (default 3)")
    args = parser.parse_args()
    if not 1 <= args.rows <= 10_000 or not 1 <= args.rounds <= 20:
        parser.error("--rows must be 1 to 10,000 (a roster's limit), --rounds 1 to 20")
    os.environ.update(in_process_env(DB))
    import django

    django.setup()
    from django.db import connections

    from acsm_portal import clock

    try:
        how = prepare(rows=args.rows)
        data = roster_bytes(rows=args.rows)
        has_roster = importlib.util.find_spec("providers.roster") is not None
        parser_name = "providers.roster.roster_read" if has_roster else "csv.DictReader"
        log(f"{how}; roster {len(data) / 1024:,.0f} KB, {args.rows:,} rows, read with {parser_name}")
        results = {}
        for name, run in (("roster", roster_pass), ("floor", floor_pass)):
            rounds = [measure(run, data) for _ in range(args.rounds)]
            results[name] = (sorted(rounds, key=lambda r: r.seconds)[len(rounds) // 2], peak_mib(run, data))
        empty_ledger()
    finally:
        connections.close_all()

    roster, roster_peak = results["roster"]
    floor, floor_peak = results["floor"]
    log(f"\nMeasured {clock.now():%Y-%m-%d %H:%M %Z}, code {git_state()}; {DB}, {args.rows:,} rows, "
        f"median of {args.rounds} rounds, {os.cpu_count()} CPUs.\n")
    log("| pass | rows/s | total | steps | SQL statements | CPU app + db | peak Python memory | others' CPU |")
    log("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for name, run, peak in (("roster: read + post + report", roster, roster_peak),
                            ("floor: plain credits, one insert", floor, floor_peak)):
        steps = ", ".join(f"{step} {seconds * 1000:,.0f} ms" for step, seconds in run.steps.items())
        log(f"| {name} | {args.rows / run.seconds:,.0f} | {run.seconds:,.2f} s | {steps} | {run.statements} | "
            f"{run.app_cpu:.2f} + {run.db_cpu:.2f} s | {peak:,.1f} MiB | {run.others:.0f} % |")
    cpu = (roster.app_cpu + roster.db_cpu) / max(floor.app_cpu + floor.db_cpu, 1e-9)
    log(f"\nRoster outcomes: {roster.counts}. The roster takes {roster.seconds / floor.seconds:.1f}× the floor's time "
        f"({100 * floor.seconds / roster.seconds:.0f} % of the floor's rate) and {cpu:.1f}× its CPU.")
    return 0 if roster.counts.get("accepted") == args.rows else 1


if __name__ == "__main__":
    sys.exit(main())
