"""Renewal season under load: how many complete renewals a minute the portal sustains with every page fast.

    .venv/bin/python loadtests/run_season.py [--steps 4,8,12,16,20,24] [--ramp 15] [--window 60] [--reseed]

1. Seeds ``acsm_bench_season`` (``loadtests/season_seed.py``: 100,000 certificants, the first 20,000 of them a
   pool of season certificants one CEC report and a CPR card away from RENEW), or keeps it when it still has
   enough unused season certificants.
2. Starts the Stripe emulator (localstripe, sending its payment webhooks to the portal), a Celery worker
   (``-c 2``, a queue of its own) and gunicorn (2 sync workers, DEBUG off), all on 127.0.0.1, against Postgres
   and Redis (cache db 10, broker db 11).
3. Warms the portal up with 2 simulated certificants for ``--warmup`` seconds (not reported), then runs
   ``locust --headless`` (``loadtests/renewal_season.py``) once per step of the ``--steps`` user counts: the
   users start over ``--ramp`` seconds, and what happens in the ``--window`` seconds after that is measured.
   Stepping stops after the first step that breaks the target (``--all-steps`` runs every step).
4. Prints, per step: complete renewals a minute, p95 of the slowest page, the time from the charge to the
   certificate downloading (p50, p95), errors, and CPU: what the portal, the worker, Postgres, the emulator and
   Locust used, and how busy the whole machine was (other people's work included). Then each page's numbers for
   the best step that held the target: every page's p95 under ``--p95`` ms and no error anywhere.

The log in (its POST checks the password: PBKDF2, 1,000,000 iterations, about half a second of CPU by design) and
the emulator's own answer are listed but held to no page target. Processes and temporary files are removed at
exit, also on Ctrl-C; the database is kept for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from loadtests import season_seed  # noqa: E402

BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).resolve().parent / "renewal_season.py"
PEOPLE = 100_000
POOL = 20_000
EXEMPT = ("log in", "stripe.js: confirm SetupIntent")  # not pages held to the target: see the module's docstring
DOWNLOADABLE = "payment → certificate downloadable"
COMPLETE = "renewal complete"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git_state() -> str:
    """The commit measured, and the files in which the working tree differs from it (other work in progress)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=BASE_DIR, capture_output=True, text=True, timeout=10).stdout.rstrip()

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()
             if line.strip() and not line[3:].startswith("loadtests/")]
    return git("rev-parse", "--short", "HEAD") + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


# --- services ----------------------------------------------------------------------------------

def portal_env(tmp: Path, *, stripe_port: int, portal_port: int, queue: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "acsm_portal.settings",
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{season_seed.DATABASE}",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "CACHE_URL": "redis://127.0.0.1:6379/10",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11",
        "CELERY_QUEUE": queue,
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp / "mail"),
        "PRIVATE_MEDIA_ROOT": str(tmp / "private"),
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "STRIPE_JS_URL": f"http://127.0.0.1:{stripe_port}/js.stripe.com/v3/",
        "PORTAL_BASE_URL": f"http://127.0.0.1:{portal_port}",
        "PYTHONPATH": str(BASE_DIR),
    }


# localstripe writes its whole store to /tmp/localstripe.pickle after every change (for a restart without
# --from-scratch), a cost that grows with every object and that Stripe does not have; this run never restarts it.
LOCALSTRIPE = ("import sys; from localstripe import resources, server; "
               "resources.Store.dump_to_disk = lambda self: None; sys.argv[0] = 'localstripe'; server.start()")


class Services:
    """The processes of one run, each in a session of its own, stopped in reverse order."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.tmp / f"{name}.log", "wb") as out:
            proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=BASE_DIR, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def wait_http(self, name: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise SystemExit(f"{name} exited:\n{self.tail(name)}")
            try:  # a URL this script built for 127.0.0.1
                with urllib.request.urlopen(url, timeout=5) as answer:  # nosec B310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise SystemExit(f"{name} did not answer {url} within {timeout:.0f} s:\n{self.tail(name)}")

    def wait_log(self, name: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text(name):
                return
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.3)
        raise SystemExit(f"{name} did not log {text!r} within {timeout:.0f} s:\n{self.tail(name)}")

    def log_text(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def tail(self, name: str, chars: int = 3000) -> str:
        return self.log_text(name)[-chars:]

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)  # the session this script started for it
                    proc.wait(timeout=5)


def start_services(services: Services, env: dict[str, str], *, stripe_port: int, portal_port: int,
                   queue: str, stock_localstripe: bool) -> None:
    stripe = env["STRIPE_API_BASE"]
    cmd = ([str(BIN / "localstripe")] if stock_localstripe else [sys.executable, "-c", LOCALSTRIPE])
    services.start("localstripe", [*cmd, "--port", str(stripe_port), "--from-scratch"], env)
    services.wait_http("localstripe", f"{stripe}/js.stripe.com/v3/")
    body = json.dumps({"url": f"http://127.0.0.1:{portal_port}/payments/stripe/webhook/", "secret": "whsec_local",
                       "events": ["payment_intent.succeeded", "payment_intent.payment_failed",
                                  "payment_intent.canceled"]}).encode()
    request = urllib.request.Request(f"{stripe}/_config/webhooks/season", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    # The emulator this script started on 127.0.0.1.
    urllib.request.urlopen(request, timeout=10).read()  # nosec B310
    services.start("worker", [sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-l", "warning",
                              "-c", "2", "-Q", queue, "-n", f"season-{os.getpid()}@%h", "--without-gossip",
                              "--without-mingle", "--without-heartbeat"], env)
    services.start("gunicorn", [sys.executable, "-m", "gunicorn", "acsm_portal.wsgi:application", "--workers", "2",
                                "--worker-class", "sync", "--bind", f"127.0.0.1:{portal_port}", "--timeout", "30",
                                "--graceful-timeout", "5", "--log-level", "warning"], env)
    services.wait_http("gunicorn", f"http://127.0.0.1:{portal_port}/healthz")
    deadline = time.monotonic() + 60  # the worker is up once it answers a ping
    while subprocess.run([sys.executable, "-m", "celery", "-A", "acsm_portal", "inspect", "ping", "-d",
                          f"season-{os.getpid()}@{socket.gethostname()}", "-t", "2"], env={**os.environ, **env},
                         cwd=BASE_DIR, capture_output=True).returncode != 0:
        if time.monotonic() > deadline or services.procs["worker"].poll() is not None:
            raise SystemExit(f"the Celery worker did not start:\n{services.tail('worker')}")


# --- CPU ---------------------------------------------------------------------------------------

def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU jiffies used by it and its reaped children)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    return table


def tree_jiffies(table: dict[int, tuple[int, int]], root: int) -> int:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0))[1]
        todo += children.get(pid, [])
    return total


def wait_until_quiet(max_wait: float, threshold: float = 30.0) -> float:
    """Wait up to ``max_wait`` seconds for the machine (other people's work: this run is idle now) to be less than
    ``threshold`` % busy over 3 s; returns the last reading."""
    deadline = time.monotonic() + max_wait
    while True:
        busy0, total0 = machine_jiffies()
        time.sleep(3)
        busy1, total1 = machine_jiffies()
        busy = 100 * (busy1 - busy0) / max(1, total1 - total0)
        if busy < threshold or time.monotonic() > deadline:
            return busy


def postgres_backends() -> dict[int, int]:
    """pid -> CPU jiffies of each Postgres backend serving the season's database (from its process title)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if f" {season_seed.DATABASE} ".encode() not in f.read():
                    continue
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry)] = sum(int(v) for v in fields[11:13])
    return found


class CpuMeter:
    """CPU seconds each service (its process tree) and Postgres (this database's backends, looked at twice a
    second, as a connection may close within the window) used from ``start()`` to ``stop()``, and how busy the
    whole machine was."""

    def __init__(self, services: Services):
        self.services = services
        self.running = threading.Event()

    def trees(self) -> dict[str, int]:
        table = process_table()
        return {n: tree_jiffies(table, p.pid) for n, p in self.services.procs.items() if p.poll() is None}

    def start(self) -> None:
        self.first = postgres_backends()
        self.last = dict(self.first)
        self.before = (machine_jiffies(), self.trees())
        self.running.set()
        self.thread = threading.Thread(target=self.watch_postgres, daemon=True)
        self.thread.start()

    def watch_postgres(self) -> None:
        while self.running.is_set():
            for pid, jiffies in postgres_backends().items():
                self.first.setdefault(pid, 0)  # opened in the window: all of its CPU counts
                self.last[pid] = jiffies
            time.sleep(0.5)

    def stop(self) -> dict[str, float]:
        self.running.clear()
        self.thread.join()
        (busy0, total0), trees0 = self.before
        busy1, total1 = machine_jiffies()
        used = {n: (j - trees0.get(n, 0)) / CLK_TCK for n, j in self.trees().items()}
        used["postgres"] = sum(j - self.first[pid] for pid, j in self.last.items()) / CLK_TCK
        ours = CLK_TCK * sum(used.values())
        busy, total = busy1 - busy0, max(1, total1 - total0)
        used["machine busy %"] = 100 * busy / total
        used["others %"] = max(0.0, 100 * (busy - ours) / total)
        return used


# --- one step ----------------------------------------------------------------------------------

@dataclass
class Step:
    users: int
    renewals_per_min: float = 0.0
    pages: dict[str, dict] = field(default_factory=dict)  # name -> count, failures, p50, p95, max
    downloadable: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    renewals: int = 0
    busy_before: float = 0.0  # % of the machine busy (others' work) just before the step
    webhooks: int = 0  # payment webhooks the emulator delivered to the portal during the step

    def worst(self, exempt=EXEMPT) -> tuple[str, float]:
        held = [(p["p95"], name) for name, p in self.pages.items() if name not in exempt]
        p95, name = max(held) if held else (0.0, "-")
        return name, p95

    def holds(self, target_ms: float) -> bool:
        return not self.errors and self.renewals > 0 and self.worst()[1] < target_ms


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(-(-q * len(ordered) // 100)) - 1))]


def summarize(rows: list[dict], *, lo: float, hi: float) -> tuple[dict, dict, int, list[str]]:
    """Per page (requests started from ``lo`` to ``hi``, in seconds since the epoch), the charge-to-certificate
    times and the renewals finished in that window, and every failure of the whole step."""
    pages: dict[str, list[float]] = {}
    downloadable, renewals, errors = [], 0, []
    for r in rows:
        if not r["ok"]:
            errors.append(f"{r['name']}: {r['error']}")
        if not lo <= r["start"] < hi:
            continue
        if r["type"] == "METRIC":  # fired when the measurement ends
            if r["name"] == COMPLETE:
                renewals += 1
            elif r["name"] == DOWNLOADABLE:
                downloadable.append(r["ms"])
            continue
        pages.setdefault(r["name"], []).append(r["ms"])

    def spread(ms: list[float]) -> dict:
        return {"count": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95), "max": max(ms, default=0.0)}

    return {name: spread(ms) for name, ms in pages.items()}, spread(downloadable), renewals, errors


def server_errors(services: Services, seen: dict[str, int]) -> list[str]:
    """Tracebacks, worker errors and undelivered webhooks the services logged since the last call."""
    found = []
    for name, markers in (("gunicorn", ("Traceback",)), ("worker", ("Traceback", "ERROR")),
                          ("localstripe", ("failed",))):
        text = services.log_text(name)
        new, seen[name] = text[seen.get(name, 0):], len(text)
        for marker in markers:
            if marker in new:
                found.append(f"{name} log: {new[new.index(marker):][:400]!r}")
    return found


@dataclass
class Run:
    rows: list[dict]
    window: tuple[float, float]  # seconds since the epoch
    cpu: dict[str, float]


def run_locust(services: Services, env: dict[str, str], meter: CpuMeter | None, *, users: int, ramp: float,
               window: float, host: str, first: int, last: int, think: str, tag: str) -> Run:
    """One ``locust --headless`` run; the window starts ``ramp`` seconds after Locust starts its users (and Locust
    runs 5 s past its end), and the CPU is sampled at its two ends."""
    events = services.tmp / f"events-{tag}.jsonl"
    name = f"locust-{tag}"
    locust_env = {**env, "SEASON_FIRST": str(first), "SEASON_LAST": str(last), "SEASON_EMAIL": season_seed.SEASON_EMAIL,
                  "SEASON_PASSWORD": season_seed.PASSWORD, "SEASON_STRIPE": env["STRIPE_API_BASE"],
                  "SEASON_THINK": think, "SEASON_EVENTS": str(events)}
    proc = services.start(name, [
        str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", host, "-u", str(users),
        "-r", f"{users / ramp:.3f}", "-t", f"{ramp + window + 5:.0f}s", "--only-summary", "--loglevel", "INFO",
        "--exit-code-on-error", "0"], locust_env)
    services.wait_log(name, "Ramping to", timeout=60)
    started = time.time()
    time.sleep(ramp)
    if meter:
        meter.start()
    time.sleep(window)
    cpu = meter.stop() if meter else {}
    proc.wait(timeout=120)
    if not events.exists():
        raise SystemExit(f"locust wrote no results:\n{services.tail(name)}")
    rows = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines() if line.strip()]
    cpu["locust"] = cpu.pop(name, 0.0)
    return Run(rows, (started + ramp, started + ramp + window), cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="4,8,12,16,20,24,28,32", help="simulated certificants per step")
    parser.add_argument("--ramp", type=float, default=15, help="seconds over which a step's users start")
    parser.add_argument("--window", type=float, default=60, help="seconds measured after the ramp")
    parser.add_argument("--warmup", type=float, default=25, help="seconds of 2 users before the steps")
    parser.add_argument("--think", default="0.5,1.5", help="min,max seconds a certificant pauses between pages")
    parser.add_argument("--p95", type=float, default=300, help="the target: every page's p95 under this (ms)")
    parser.add_argument("--quiet-wait", type=float, default=60, metavar="SECONDS",
                        help="before each step, wait up to this long for other work on the machine to settle")
    parser.add_argument("--all-steps", action="store_true", help="run every step, also after one breaks")
    parser.add_argument("--people", type=int, default=PEOPLE, help=f"certificants in the database ({PEOPLE:,})")
    parser.add_argument("--pool", type=int, default=POOL, help=f"of them, season certificants ({POOL:,})")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed it again")
    parser.add_argument("--stock-localstripe", action="store_true",
                        help="run localstripe as shipped (it rewrites /tmp/localstripe.pickle after every change)")
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    if not 1_000 <= args.people <= 1_000_000 or not 100 <= args.pool <= args.people:
        parser.error("--people must be 1,000..1,000,000 and --pool 100..people")

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="acsm-season-"))
    (tmp / "mail").mkdir()
    (tmp / "private").mkdir()
    queue = f"acsm-season-{os.getpid()}"
    ports = {"stripe": free_port(), "portal": free_port()}
    env = portal_env(tmp, stripe_port=ports["stripe"], portal_port=ports["portal"], queue=queue)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    services = Services(tmp)
    seen: dict[str, int] = {}
    host = f"http://127.0.0.1:{ports['portal']}"
    # Each user renews about every 15 s: a generous estimate of the certificants a run can take.
    needed = int(sum(u * (args.ramp + args.window) / 10 for u in steps) + 2 * args.warmup)
    results: list[Step] = []
    log(f"Measuring {git_state()} on {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")
    try:
        first = season_seed.season_prepare(people=args.people, pool=args.pool, needed=needed, reseed=args.reseed)
        connections.close_all()
        start_services(services, env, stripe_port=ports["stripe"], portal_port=ports["portal"], queue=queue,
                       stock_localstripe=args.stock_localstripe)
        log(f"Started localstripe :{ports['stripe']}, gunicorn :{ports['portal']} (2 sync workers), Celery worker "
            f"(-c 2, queue {queue}); logs in {tmp}")
        meter = CpuMeter(services)
        warmup = run_locust(services, env, None, users=2, ramp=1, window=args.warmup, host=host, first=first,
                            last=args.pool, think=args.think, tag="warmup")
        _, _, _, errors = summarize(warmup.rows, lo=0, hi=0)
        errors += server_errors(services, seen)
        done = sum(r["name"] == COMPLETE for r in warmup.rows)
        if errors or not done:
            for error in errors[:10]:
                log(f"  warm-up error: {error}")
            raise SystemExit(f"the warm-up finished {done} renewals with {len(errors)} errors: the flow is broken")
        webhooks_seen = services.log_text("localstripe").count("successfully delivered")
        log(f"Warm-up: {done} renewals by 2 users in {args.warmup:.0f} s, no errors")
        log(f"{'users':>5} {'renewals/min':>12}  {'slowest page, p95':<32} {'MyACSM p95':>10} "
            f"{'charge→cert p50/p95':>20} {'errors':>6}  {'CPU ms/renewal: portal+worker+postgres':<38} machine busy")
        for users in steps:
            first = season_seed.pool_used() + 1
            connections.close_all()
            quiet = wait_until_quiet(args.quiet_wait)
            run = run_locust(services, env, meter, users=users, ramp=args.ramp, window=args.window, host=host,
                             first=first, last=args.pool, think=args.think, tag=f"{users}u")
            step = Step(users, cpu=run.cpu, busy_before=quiet)
            step.pages, step.downloadable, step.renewals, step.errors = summarize(run.rows, lo=run.window[0],
                                                                                 hi=run.window[1])
            delivered = services.log_text("localstripe").count("successfully delivered")
            step.webhooks, webhooks_seen = delivered - webhooks_seen, delivered
            step.errors += server_errors(services, seen)
            step.renewals_per_min = step.renewals * 60 / args.window
            results.append(step)
            name, p95 = step.worst()
            c = step.cpu
            verdict = "" if step.holds(args.p95) else "  ✗ " + (step.errors[0][:120] if step.errors else "p95")
            per = 1000 / max(1, step.renewals)
            cpu = f"{c.get('gunicorn', 0) * per:.0f} + {c.get('worker', 0) * per:.0f} + {c['postgres'] * per:.0f}"
            log(f"{users:>5} {step.renewals_per_min:>12.1f}  {p95:>6.0f} ms {name[:22]:<22} "
                f"{step.pages.get('MyACSM', {}).get('p95', 0):>7.0f} ms "
                f"{step.downloadable['p50']:>7.0f}/{step.downloadable['p95']:<6.0f}ms {len(step.errors):>6}  "
                f"{cpu:<38} {c['machine busy %']:.0f}% ({c['others %']:.0f}% others; {quiet:.0f}% before){verdict}")
            if not step.holds(args.p95) and not args.all_steps:
                break
        report(results, args)
    except KeyboardInterrupt:
        log("interrupted; processes and temporary files were removed")
        return 130
    finally:
        services.stop()
        connections.close_all()
        try:
            import redis

            r = redis.Redis.from_url(env["CELERY_BROKER_URL"])
            r.delete(queue, *r.keys(f"_kombu.binding*.{queue}"))  # this run's queue and its bindings only
        except Exception as exc:  # cleanup must not hide the outcome
            log(f"(could not remove the Redis queue {queue}: {exc})")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if any(s.holds(args.p95) for s in results) else 1


def report(results: list[Step], args) -> None:
    held = [s for s in results if s.holds(args.p95)]
    best = max(held, key=lambda s: s.renewals_per_min) if held else None
    shown = best or (results[0] if results else None)
    if shown is None:
        return
    log("")
    if best:
        log(f"Highest sustained rate with every page's p95 under {args.p95:.0f} ms and no error: "
            f"{best.renewals_per_min:.1f} complete renewals a minute ({best.users} simulated certificants, "
            f"{args.think} s between pages, ramp {args.ramp:.0f} s, measured over {args.window:.0f} s).")
        log(f"Process Payment → certificate downloadable at that rate: p50 {best.downloadable['p50']:.0f} ms, "
            f"p95 {best.downloadable['p95']:.0f} ms, max {best.downloadable['max']:.0f} ms "
            f"({best.downloadable['count']} renewals; goal p95 under 2,000 ms).")
    else:
        log(f"No step held the target; the first step ({shown.users} users) was:")
        for error in shown.errors[:10]:
            log(f"  error: {error}")
    log(f"Stripe webhooks delivered to the portal during that step: {shown.webhooks}; the machine was "
        f"{shown.busy_before:.0f}% busy just before it and {shown.cpu['machine busy %']:.0f}% during the window "
        f"({shown.cpu['others %']:.0f}% not this run).")
    log(f"{'request':<34} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, p in sorted(shown.pages.items(), key=lambda item: -item[1]["p95"]):
        note = "  (not a page: held to no target)" if name in EXEMPT else ""
        log(f"{name:<34} {p['count']:>6} {p['p50']:>8.0f} {p['p95']:>8.0f} {p['max']:>8.0f}{note}")
    cpu = shown.cpu
    seconds = {k: v for k, v in cpu.items() if not k.endswith("%")}
    per = shown.renewals or 1
    log("CPU per complete renewal: " + ", ".join(f"{k} {1000 * v / per:.0f} ms" for k, v in seconds.items() if v > 0))


if __name__ == "__main__":
    sys.exit(main())
