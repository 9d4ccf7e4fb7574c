"""The reminders benchmark: one hourly reminders run (``reminders.services.reminders_queue``) over 100,000
certificants, against the floor of reading those people, in one process.

    .venv/bin/python scripts/bench_reminders.py [--reseed] [--users 100000] [--batch 2000] [--rounds 3]
                                                [--profile] [--top 30]

1. Seeds the Postgres database ``acsm_bench_reminders`` as ``scripts/bench_pages.py`` seeds its own (its functions,
   imported: the same 100,000 certificants, 133,419 certifications, open cycles ending Dec 31 of the clock's year,
   cards and credits, by COPY), then gives the people four time zones in turn by id: New York, Chicago, Los Angeles,
   Honolulu, and makes the reminders sent so far this cycle (180 and 90 days before its end, 266,838 rows, sent).
   Kept and reused when it holds the same volume, zones and reminders; ``--reseed`` drops it first.
2. Moves the clock (time-machine, running on from there) to 8:05 AM Los Angeles time 30 days before the cycles'
   end: 11:05 in New York, 10:05 in Chicago (all three in their sending hours, the 30-day reminder due for every
   certification), 6:05 in Honolulu (before its sending hours: a quarter of the people are not evaluated).
3. Measures three phases, each in ``--rounds`` timed passes (wall time, CPU of this process and of its Postgres
   backend, the rest of the machine's CPU, ``ru_maxrss`` growth after handing freed memory back and resetting the
   process's high-water mark, SQL statements counted with ``connection.execute_wrapper`` and cut into batches at
   each read of the people; the median pass by wall time is shown) and one traced pass (``tracemalloc`` peak:
   tracing slows Python down, so its time is shown apart and is not the phase's):

   - **floor**: the ids and zones of every person with reminders on, read in the run's batches (keyset by id);
   - **dry run**: ``reminders_queue(dry_run=True)``;
   - **real run**: ``reminders_queue()`` in a transaction rolled back at the end; the sending jobs are counted
     instead of queued (``jobs.queue_after_commit`` replaced), the rows made counted before the rollback.

   ``--profile`` adds a pass of each run under cProfile and prints its top lines by cumulative time.
4. Prints one Markdown table, the statements of a batch and whether their number is the same in every batch, and
   where the time in SQL went.

Needs Postgres on 127.0.0.1:5432. A benchmark, not a test: nothing is sent, queued or kept (the real run's rows are
rolled back); its database is its own.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import gc
import io
import os
import pstats
import re
import resource
import sys
import time
import tracemalloc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, time as clock_time, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from scripts import bench_pages  # noqa: E402  (after the path: run as a script)
from scripts.bench_pages import CLK_TCK, Plan, admin_connect, git_state, in_process_env, jiffies, log, machine  # noqa: E402

DB = "acsm_bench_reminders"
# People's zones in turn by id (id % 4); at the measured instant the first three are in their sending hours.
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu")
# The instant of the run: this time of day in this zone, this many days before the cycles' end.
AT_ZONE, AT_TIME, DAYS_BEFORE = "America/Los_Angeles", clock_time(8, 5), 30
MIB = 1024 * 1024


# --- the database -------------------------------------------------------------------------------

def prepare(*, users: int, reseed: bool) -> str:
    """The seeded database, as ``bench_pages.prepare_database`` makes its own but under this benchmark's name, with
    the people's zones (``ZONES`` by id) and the reminders already sent this cycle (``history``). Returns how it was
    prepared ("reused in 1.2 s")."""
    from acsm_portal import clock

    bench_pages.DB = DB  # bench_pages' seeding reads the database's name from its module: this one, not its own
    how = bench_pages.prepare_database(users=users, reseed=reseed)
    started = time.perf_counter()
    with admin_connect(DB) as conn:
        wrong = conn.execute("SELECT count(*) FROM accounts_user WHERE time_zone <> (%s::text[])[id %% 4 + 1]",
                             [list(ZONES)]).fetchone()[0]
        if wrong:
            log(f"Giving {wrong:,} people their zones")
            conn.execute("UPDATE accounts_user SET time_zone = (%s::text[])[id %% 4 + 1] "
                         "WHERE time_zone <> (%s::text[])[id %% 4 + 1]", [list(ZONES), list(ZONES)])
            conn.execute("VACUUM (ANALYZE) accounts_user")
            how += f", zones given in {time.perf_counter() - started:.1f} s"
    started = time.perf_counter()
    if history(Plan(users=users, today=clock.today())):
        how += f", reminders sent so far made in {time.perf_counter() - started:.1f} s"
    return how


SENT_BEFORE = (180, 90)  # the cycle-ending reminders already sent by the measured day (``DAYS_BEFORE``)


def history(plan: Plan) -> bool:
    """Make the table of reminders what it holds on the measured day: the 180- and 90-day reminders of every open
    cycle, sent on their day (the unique key's index and the run's look-up of what was sent work on those). Returns
    whether they had to be made (they are kept: a real run's rows are rolled back)."""
    from django.db import connection, transaction

    from reminders.models import Reminder

    certs = plan.certifications()
    end = plan.cycle[1]
    expected = len(SENT_BEFORE) * len(certs)
    if (Reminder.objects.count() == expected
            and Reminder.objects.filter(state=Reminder.State.SENT, offset__in=SENT_BEFORE).count() == expected):
        return False
    log(f"Making the {expected:,} reminders sent so far this cycle")

    def rows():
        n = 0
        for cid, (user, _code) in enumerate(certs, 1):  # open cycle ``cid`` is certification ``cid``'s (bench_pages)
            for offset in SENT_BEFORE:
                n += 1
                day = end - timedelta(days=offset)
                at = datetime.combine(day, clock_time(16, 2), tzinfo=ZoneInfo("UTC"))
                yield Reminder(id=n, user_id=user, kind=Reminder.Kind.CYCLE_ENDING, certification_id=cid,
                               cycle_id=cid, offset=offset, about=end, for_day=day, state=Reminder.State.SENT,
                               created_at=at, queued_at=at, sent_at=at + timedelta(seconds=n % 50), sends=1)

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reminder._meta.db_table} RESTART IDENTITY")  # only ever DB's (prepare checked)
        bench_pages.copy_objects(Reminder, rows())
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{Reminder._meta.db_table}', 'id'), %s)", [expected])
    vacuum()
    return True


def vacuum() -> None:
    """Clear the reminders table of dead rows (a rolled-back run leaves its rows dead in the table and its indexes,
    where the next run would step over them) and refresh its statistics."""
    with admin_connect(DB) as conn:
        conn.execute("VACUUM (ANALYZE) reminders_reminder")


# --- measuring ----------------------------------------------------------------------------------

STATEMENT = re.compile(r"^\s*(SELECT(?:\s+DISTINCT)?|INSERT\s+INTO|UPDATE|DELETE\s+FROM|SAVEPOINT|RELEASE\s+SAVEPOINT|"
                       r"ROLLBACK\s+TO\s+SAVEPOINT)\b", re.IGNORECASE)
TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)
PEOPLE = "select accounts_user"  # the read that starts each batch, in the run as in the floor


def label(sql: str) -> str:
    """A statement's kind in a few words: "select accounts_user", "insert into reminders_reminder", "savepoint".
    (Only the label is kept: a batch's INSERT is some 100 kB of SQL.)"""
    head = sql[:2000]
    verb = STATEMENT.match(head)
    if verb is None:
        return " ".join(head.split()[:1]).lower() or "?"
    verb_text = " ".join(verb.group(1).split()).lower()
    if "savepoint" in verb_text:
        return verb_text
    table = TABLE.search(head)
    return f"{verb_text} {table.group(1) if table else '?'}"


@dataclass
class Statements:
    """The statements a phase issued, by label, in order; ``batches()`` cuts them at each read of the people."""

    labels: list[str] = field(default_factory=list)
    # Time inside ``cursor.execute`` by kind of statement: psycopg turning the query and its parameters into what it
    # sends (client-side binding, in this process), the server's work and the transfer; rows become Python objects
    # later, at fetching.
    seconds: Counter = field(default_factory=Counter)

    def __call__(self, execute, sql, params, many, context):
        name = label(sql)
        self.labels.append(name)
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[name] += time.perf_counter() - t0

    def batches(self) -> tuple[list[str], list[tuple[str, ...]]]:
        """(statements before the first batch, one tuple of labels per batch that read people); the last read,
        which finds nobody and ends the run, is left out."""
        before, batches = [], []
        for name in self.labels:
            if name == PEOPLE:
                batches.append([name])
            elif batches:
                batches[-1].append(name)
            else:
                before.append(name)
        if batches and batches[-1] == [PEOPLE]:
            batches.pop()
        return before, [tuple(b) for b in batches]


@dataclass
class Round:
    """One timed pass: wall and CPU seconds (this process; its Postgres backend), the machine's busy and total
    CPU ticks meanwhile, the growth of ``ru_maxrss`` in MiB, and the statements."""

    seconds: float = 0.0
    app_cpu: float = 0.0
    db_cpu: float = 0.0
    busy: int = 0
    total: int = 0
    rss_mib: float = 0.0
    rss_reset: bool = False
    statements: Statements = field(default_factory=Statements)

    @property
    def others(self) -> float:
        """% of the machine's CPU taken by everything else meanwhile (other people's tests, …)."""
        return 100 * max(0.0, self.busy - (self.app_cpu + self.db_cpu) * CLK_TCK) / max(self.total, 1)


@dataclass
class Measured:
    """A phase: what it found (``facts``), its timed rounds, and its traced pass."""

    name: str
    facts: dict[str, int]
    rounds: list[Round] = field(default_factory=list)
    traced_seconds: float = 0.0
    peak_mib: float = 0.0

    @property
    def median(self) -> Round:
        """The round of median wall time (one that met a burst of others' work does not decide)."""
        return sorted(self.rounds, key=lambda r: r.seconds)[len(self.rounds) // 2]


def reset_high_water() -> bool:
    """Give memory freed by earlier phases back to the system (glibc ``malloc_trim``: else a phase reuses it and its
    growth does not show), then set the process's peak RSS (``ru_maxrss``) back to its current RSS (Linux
    ``clear_refs`` 5). False where the kernel refuses: ``ru_maxrss`` then only grows past the earlier phases' peak."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@contextmanager
def timed(result: Round):
    """Wall time, CPU of this process and of its Postgres backend, the machine's CPU, ``ru_maxrss`` growth and the
    statements of the block, into ``result``."""
    from django.db import connection

    pid = backend_pid()
    gc.collect()
    result.rss_reset = reset_high_water()
    rss0, db0, (busy0, total0) = max_rss_kib(), jiffies([pid]).get(pid, 0), machine()
    cpu0, t0 = time.process_time(), time.perf_counter()
    with connection.execute_wrapper(result.statements):
        yield
    result.seconds = time.perf_counter() - t0
    result.app_cpu = time.process_time() - cpu0
    result.db_cpu = (jiffies([pid]).get(pid, 0) - db0) / CLK_TCK
    busy1, total1 = machine()
    result.busy, result.total = busy1 - busy0, total1 - total0
    result.rss_mib = (max_rss_kib() - rss0) / 1024


@contextmanager
def traced(result: Measured):
    """The ``tracemalloc`` peak of the block (what it allocated beyond what was held before) into ``result``."""
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        result.traced_seconds = time.perf_counter() - t0
        result.peak_mib = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()


@contextmanager
def profiled(title: str, top: int):
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
        log(f"\n## cProfile of the {title}, top {top} by cumulative time\n")
        log("\n".join(line.rstrip() for line in out.getvalue().splitlines() if line.strip()))


# --- the phases ---------------------------------------------------------------------------------

def floor(measure, *, batch: int) -> dict[str, int]:
    """Read the ids and zones of everyone with reminders on, ``batch`` at a time by id, as the run reads people."""
    from django.contrib.auth import get_user_model

    people = get_user_model().objects.filter(is_active=True, reminders_enabled=True)
    read, last = 0, 0
    with measure():
        while rows := list(people.filter(pk__gt=last).order_by("pk").values_list("pk", "time_zone")[:batch]):
            read += len(rows)
            last = rows[-1][0]
    return {"people": read}


def dry_run(measure, *, batch: int) -> dict[str, int]:
    from reminders.services import reminders_queue

    with measure():
        report = reminders_queue(dry_run=True, batch=batch)
    return {"people": report.people, "due": report.due, "planned": len(report.planned), "zones": len(report.zones)}


def real_run(measure, *, batch: int) -> dict[str, int]:
    """The run making its rows in a transaction rolled back at the end; each sending job it asks for is counted
    (``jobs.queue_after_commit`` replaced: nothing would be queued on a rollback anyway)."""
    from django.db import transaction

    from acsm_portal import clock, jobs
    from reminders.models import Reminder
    from reminders.services import reminders_queue

    chunks: list[int] = []

    def count_job(task, reminder_ids, *args) -> None:
        chunks.append(len(reminder_ids))

    with mock.patch.object(jobs, "queue_after_commit", count_job), transaction.atomic():
        with measure():
            report = reminders_queue(batch=batch)
        rows = Reminder.objects.filter(created_at__gte=clock.now() - timedelta(hours=1)).count()
        transaction.set_rollback(True)
    if Reminder.objects.filter(created_at__gte=clock.now() - timedelta(hours=1)).exists():
        raise SystemExit("the real run's rows were not rolled back")
    vacuum()
    return {"people": report.people, "due": report.due, "made": len(report.made), "rows": rows, "jobs": len(chunks),
            "queued": sum(chunks), "largest job": max(chunks, default=0), "zones": len(report.zones)}


PHASES = {"floor": floor, "dry run": dry_run, "real run": real_run}


def measure_phase(name: str, *, batch: int, rounds: int) -> Measured:
    """The phase timed ``rounds`` times, then once traced; every pass must find the same."""
    phase = PHASES[name]
    result = Measured(name, {})
    for _ in range(rounds):
        result.rounds.append(Round())
        found = phase(lambda: timed(result.rounds[-1]), batch=batch)
        if result.facts and found != result.facts:
            raise SystemExit(f"{name}: one timed pass found {found}, another {result.facts}")
        result.facts = found
    found = phase(lambda: traced(result), batch=batch)
    if found != result.facts:
        raise SystemExit(f"{name}: the traced pass found {found}, the timed ones {result.facts}")
    return result


# --- main ---------------------------------------------------------------------------------------

def shape(batch: tuple[str, ...]) -> str:
    return ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in Counter(batch).items())


def per_batch(statements: Statements) -> tuple[str, list[int]]:
    """The statements of a phase in words (those run once, then each shape of batch and how many batches had it),
    and the distinct numbers of statements per batch, smallest first."""
    before, batches = statements.batches()
    text = "; ".join(f"{n} batch{'es' if n > 1 else ''} of {len(s)} ({shape(s)})"
                     for s, n in Counter(batches).most_common())
    if before:
        text = f"once {len(before)} ({shape(tuple(before))}); " + text
    return text, sorted({len(b) for b in batches})


def report(results: list[Measured]) -> None:
    """The table and the notes under it."""
    floor_run = results[0].median
    log("| phase | people | reminders due | rows made | send jobs | wall s | in SQL s | CPU s app + db | others' CPU "
        "| vs floor | tracemalloc peak MiB | ru_maxrss Δ MiB, most | SQL | SQL per batch |")
    log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        m = r.median
        sizes = per_batch(m.statements)[1]
        due, made, jobs = (f"{r.facts[k]:,}" if k in r.facts else "—" for k in ("due", "made", "jobs"))
        log(f"| {r.name} | {r.facts['people']:,} | {due} | {made} | {jobs} | {m.seconds:.2f} "
            f"| {sum(m.statements.seconds.values()):.2f} | {m.app_cpu:.2f} + {m.db_cpu:.2f} | {m.others:.0f} % "
            f"| {m.seconds / floor_run.seconds:.0f} × | {r.peak_mib:.1f} | {max(x.rss_mib for x in r.rounds):.1f} "
            f"| {len(m.statements.labels)} | {'–'.join(map(str, sizes[::max(len(sizes) - 1, 1)]))} |")
    log("")
    for r in results:
        m = r.median
        text, sizes = per_batch(m.statements)
        log(f"- {r.name}: SQL per batch {'constant' if len(sizes) == 1 else 'NOT constant'}: {text}. Time in SQL: "
            + ", ".join(f"{name} {t:.2f} s" for name, t in m.statements.seconds.most_common()) + ".")
        log("  Rounds (wall s, ru_maxrss Δ MiB): " + ", ".join(f"({x.seconds:.2f}, {x.rss_mib:.1f})" for x in r.rounds)
            + f"; traced pass {r.traced_seconds:.2f} s.")
    real = results[2].facts
    log(f"- real run: {real['rows']:,} new rows in the table before the rollback; {real['jobs']:,} send jobs would be "
        f"queued for {real['queued']:,} reminders (at most {real['largest job']} in one).")
    log("- ru_maxrss Δ: growth of the peak RSS over the RSS at the round's start, after handing freed memory back; "
        "Python keeps its small-object arenas once touched, so a later round (or phase) reuses what an earlier one "
        "left and shows less: the tracemalloc peak is the measure of what a run holds.")
    if not all(x.rss_reset for r in results for x in r.rounds):
        log("- ru_maxrss could not be reset between rounds: each Δ is only growth past the earlier rounds' peak.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reseed", action="store_true", help=f"drop {DB} and seed it again")
    parser.add_argument("--users", type=int, default=100_000, help="certificants (default 100,000)")
    parser.add_argument("--batch", type=int, default=None, help="people per batch (default: the service's BATCH)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes of each phase; the median is shown "
                                                             "(default 3)")
    parser.add_argument("--profile", action="store_true", help="also profile each run and print its top lines")
    parser.add_argument("--top", type=int, default=30, help="lines of each profile (default 30)")
    args = parser.parse_args()
    if not 10_000 <= args.users <= 1_000_000 or not 1 <= args.rounds <= 9:
        parser.error("--users must be 10,000 to 1,000,000, --rounds 1 to 9")
    os.environ.update(in_process_env(DB))
    import django

    django.setup()
    import time_machine
    from django.db import connection

    from acsm_portal import clock
    from reminders.services import BATCH

    batch = args.batch or BATCH
    measured_at, code = clock.now(), git_state()
    how = prepare(users=args.users, reseed=args.reseed)
    cycle_end = Plan(users=args.users, today=clock.today()).cycle[1]
    at = datetime.combine(cycle_end - timedelta(days=DAYS_BEFORE), AT_TIME, tzinfo=ZoneInfo(AT_ZONE))
    connection.close()  # a fresh backend for the measures
    log(f"Running at {at:%Y-%m-%d %H:%M} {AT_ZONE} ({DAYS_BEFORE} days before the cycles' end), batches of "
        f"{batch:,}, {args.rounds} timed rounds and one traced pass per phase…")
    with time_machine.travel(at, tick=True):
        results = [measure_phase(name, batch=batch, rounds=args.rounds) for name in PHASES]
        if args.profile:
            for name in ("dry run", "real run"):
                PHASES[name](lambda name=name: profiled(name, args.top), batch=batch)

    log(f"\nMeasured {measured_at:%Y-%m-%d %H:%M %Z}, code {code}; {DB}: {args.users:,} certificants "
        f"({how}), zones {', '.join(ZONES)} by id; clock at {at:%-I:%M %p} {AT_ZONE} {DAYS_BEFORE} days before the "
        f"cycles' end; batches of {batch:,}; median of {args.rounds} rounds; {os.cpu_count()} CPUs.\n")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
