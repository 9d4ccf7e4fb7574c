"""Losing a web node in the renewal season: a short Locust run through nginx over two gunicorn nodes, one of them
killed (SIGKILL, its master and workers) part way; then what was lost or done twice, from the database, the Stripe
emulator, the bucket and a real SMTP server.

    .venv/bin/python loadtests/run_nodes.py [--users 8] [--duration 60] [--kill-after 25]

Starts, all on 127.0.0.1 against ``acsm_bench_season`` (``loadtests/season_seed.py``, seeded when missing) and the
run's Redis: the Stripe emulator (its webhooks sent through nginx, like any request), an SMTP server (aiosmtpd, as
tests/smtp.py runs it) every process mails to, two Celery workers and two gunicorn nodes (2 sync workers each),
each in a working folder of its own with an empty ``PRIVATE_MEDIA_ROOT``, a new bucket on the S3 server of
``make services`` (127.0.0.1:8333), and nginx with ``deploy/nginx.conf`` round robin over the two nodes. Then
``locust --headless`` with ``loadtests/renewal_season.py`` for ``--duration`` seconds; ``--kill-after`` seconds in,
node a's process group gets SIGKILL. When Locust ends, the workers are given time to finish what was queued
(certificates, receipts), and the report compares before and after:

- requests, and the failed ones by page (the requests node a held when it died; nginx sends a request a node
  refused to the other node, and never resends a POST a node had received);
- renewals: paid orders, succeeded payments against the emulator's succeeded PaymentIntents, certificates issued and
  rendered, one each per renewal; uploads: card files in the database against the bucket's objects; emails:
  receipts marked sent against the messages the SMTP server received, one per paid order.

Exit status 0 when nothing was lost or done twice. Processes, the bucket and temporary files are removed at the
end; the database keeps the run's renewals (the next run takes the pool's next certificants).
"""

from __future__ import annotations

import argparse
import collections
import json
import mailbox
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from loadtests import season_seed  # noqa: E402
from loadtests.run_season import (  # noqa: E402
    BIN, COMPLETE, LOCALSTRIPE, LOCUSTFILE, Services, free_port, git_state, log, portal_env,
)
from tests.smtp import SmtpServer  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
S3 = {"S3_ENDPOINT_URL": "http://127.0.0.1:8333", "S3_ACCESS_KEY_ID": "acsm-dev",
      "S3_SECRET_ACCESS_KEY": "acsm-dev-secret", "S3_REGION": "us-east-1"}  # scripts/ensure-s3.sh's server
POOL = 20_000  # the season certificants (user ids 1..POOL) of season_seed
DRAIN = 150.0  # seconds the workers get after the run to finish what was queued


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=S3["S3_ENDPOINT_URL"], region_name=S3["S3_REGION"],
                        aws_access_key_id=S3["S3_ACCESS_KEY_ID"], aws_secret_access_key=S3["S3_SECRET_ACCESS_KEY"],
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def bucket_keys(client, bucket: str) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def nginx_conf(listen: str, nodes: list[str]) -> str:
    servers = "\n        ".join(f"server {node} max_fails=1 fail_timeout=10s;" for node in nodes)
    text = (BASE_DIR / "deploy" / "nginx.conf").read_text().replace("listen @LISTEN@;", f"listen {listen};")
    text = re.sub(r"^(\s*)@NODES@$", lambda m: m.group(1) + servers, text, count=1, flags=re.MULTILINE)
    return ("user root;\n" if os.geteuid() == 0 else "") + text


def emulator_intents(base: str) -> collections.Counter:
    """The emulator's PaymentIntents by status."""
    found, after = collections.Counter(), None
    while True:
        url = f"{base}/v1/payment_intents?limit=100" + (f"&starting_after={after}" if after else "")
        request = urllib.request.Request(url, headers={"Authorization": "Bearer sk_test_local"})
        page = json.loads(urllib.request.urlopen(request, timeout=30).read())  # nosec B310: our emulator
        found.update(item["status"] for item in page["data"])
        if not page.get("has_more") or not page["data"]:
            return found
        after = page["data"][-1]["id"]


def counts(*, first: int, stripe: str, sink: Path, s3, bucket: str) -> dict[str, int]:
    """What the season's certificants from number ``first`` to the pool's end hold (the run's), and the emulator, the SMTP server
    and the bucket."""
    from certifications.models import Certificate, CprUploadFile
    from payments.models import Order, Payment

    people = {"user__id__range": (first, POOL)}
    paid = Order.objects.filter(state=Order.State.PAID, **people)
    certificates = Certificate.objects.filter(certification__user__id__range=(first, POOL))
    box = mailbox.Maildir(sink, create=False)
    subjects = [str(box.get_message(key)["Subject"]) for key in box.keys()]
    return {
        "paid orders": paid.count(),
        "renewed cycles": sum(o.lines.exclude(renewed_cycle=None).count() for o in paid),
        "succeeded payments": Payment.objects.filter(state=Payment.State.SUCCEEDED, order__user__id__range=(first, POOL)).count(),
        "emulator: succeeded PaymentIntents": emulator_intents(stripe)["succeeded"],
        "certificates issued": certificates.count(),
        "certificates rendered": certificates.exclude(pdf="").count(),
        "card files (database)": CprUploadFile.objects.filter(upload__certification__user__id__range=(first, POOL)).count(),
        "bucket objects: cpr/": sum(k.startswith("cpr/") for k in bucket_keys(s3, bucket)),
        "bucket objects: certificates/": sum(k.startswith("certificates/") for k in bucket_keys(s3, bucket)),
        "receipts marked sent": paid.exclude(receipt_emailed_at=None).count(),
        "SMTP server: receipts": sum(s.startswith("Your MyACSM receipt") for s in subjects),
        "SMTP server: distinct receipts": len({s for s in subjects if s.startswith("Your MyACSM receipt")}),
        "SMTP server: all messages": len(subjects),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8, help="simulated certificants")
    parser.add_argument("--duration", type=float, default=60, help="seconds Locust runs")
    parser.add_argument("--kill-after", type=float, default=25, help="seconds into the run node a is killed")
    parser.add_argument("--think", default="0.3,1.0", help="min,max seconds between pages")
    args = parser.parse_args()

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="acsm-nodes-"))
    queue = f"acsm-nodes-{os.getpid()}"
    bucket = f"acsm-nodes-{os.getpid()}"
    ports = {"stripe": free_port(), "nginx": free_port(), "a": free_port(), "b": free_port()}
    host = f"http://127.0.0.1:{ports['nginx']}"
    sink = SmtpServer(tmp / "maildir", tmp / "aiosmtpd.log")
    env = {**portal_env(tmp, stripe_port=ports["stripe"], portal_port=ports["nginx"], queue=queue), **S3,
           "S3_BUCKET": bucket, "EMAIL_URL": sink.url}
    env.pop("EMAIL_BACKEND")
    for name in ("SIGNING_KEY_FILE", "SIGNING_CERT_FILE"):
        env.setdefault(name, str(BASE_DIR / "var" / "signing" / ("key.pem" if "KEY" in name else "cert.pem")))
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    s3 = s3_client()
    services = Services(tmp)
    homes: dict[str, Path] = {}

    def start(name: str, cmd: list[str], extra: dict[str, str] | None = None):
        homes[name] = tmp / name
        (homes[name] / "private").mkdir(parents=True)
        proc_env = {**env, "PRIVATE_MEDIA_ROOT": str(homes[name] / "private"), **(extra or {})}
        with open(tmp / f"{name}.log", "wb") as out:
            import subprocess

            services.procs[name] = subprocess.Popen(cmd, env={**os.environ, **proc_env}, cwd=homes[name],
                                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    log(f"Run of {git_state()} on {os.cpu_count()} cores: {args.users} users for {args.duration:.0f} s, "
        f"node a killed after {args.kill_after:.0f} s")
    try:
        if not Path(env["SIGNING_KEY_FILE"]).exists():
            from django.core.management import call_command

            call_command("signing_keys_create")
        first = season_seed.season_prepare(people=season_seed_people(), pool=POOL,
                                           needed=int(args.users * args.duration / 10) + 50, reseed=False)
        connections.close_all()
        s3.create_bucket(Bucket=bucket)
        sink.start()
        services.start("localstripe", [sys.executable, "-c", LOCALSTRIPE, "--port", str(ports["stripe"]),
                                       "--from-scratch"], env)
        services.wait_http("localstripe", f"{env['STRIPE_API_BASE']}/js.stripe.com/v3/")
        body = json.dumps({"url": f"{host}/payments/stripe/webhook/", "secret": "whsec_local",
                           "events": ["payment_intent.succeeded", "payment_intent.payment_failed",
                                      "payment_intent.canceled"]}).encode()
        urllib.request.urlopen(urllib.request.Request(  # nosec B310: the emulator started above
            f"{env['STRIPE_API_BASE']}/_config/webhooks/nodes", data=body, method="POST",
            headers={"Content-Type": "application/json"}), timeout=10).read()
        for name in ("worker-1", "worker-2"):
            start(name, [sys.executable, "-m", "celery", "-A", "acsm_portal", "worker", "-l", "info", "-c", "1",
                         "-P", "solo", "-Q", queue, "-n", f"{name}-{os.getpid()}@%h", "--without-gossip",
                         "--without-mingle", "--without-heartbeat"], {"PYTHONPATH": str(BASE_DIR)})
        for name in ("a", "b"):
            start(f"node-{name}", [sys.executable, "-m", "gunicorn", "acsm_portal.wsgi:application", "--workers", "2",
                                   "--bind", f"127.0.0.1:{ports[name]}", "--timeout", "30", "--graceful-timeout", "5",
                                   "--log-level", "warning"], {"PYTHONPATH": str(BASE_DIR)})
        for name in ("a", "b"):
            services.wait_http(f"node-{name}", f"http://127.0.0.1:{ports[name]}/readyz")
        (tmp / "nginx" / "tmp").mkdir(parents=True)
        (tmp / "nginx" / "nginx.conf").write_text(nginx_conf(
            f"127.0.0.1:{ports['nginx']}", [f"127.0.0.1:{ports[n]}" for n in ("a", "b")]))
        services.start("nginx", [NGINX, "-p", str(tmp / "nginx"), "-c", str(tmp / "nginx" / "nginx.conf"),
                                 "-e", str(tmp / "nginx" / "error.log"), "-g", "daemon off;"], {})
        services.wait_http("nginx", f"{host}/readyz")
        for name in ("worker-1", "worker-2"):
            services.wait_log(name, "ready.")
        log(f"Started localstripe, SMTP, 2 workers, nodes a :{ports['a']} and b :{ports['b']} (2 sync workers each), "
            f"nginx :{ports['nginx']}; bucket {bucket}; logs in {tmp}")

        before = counts(first=first, stripe=env["STRIPE_API_BASE"], sink=tmp / "maildir", s3=s3, bucket=bucket)
        events = tmp / "events.jsonl"
        locust = services.start("locust", [
            str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "--host", host, "-u", str(args.users),
            "-r", str(args.users), "-t", f"{args.duration:.0f}s", "--only-summary", "--loglevel", "INFO",
            "--exit-code-on-error", "0"], {
            **env, "SEASON_FIRST": str(first), "SEASON_LAST": str(POOL), "SEASON_EMAIL": season_seed.SEASON_EMAIL,
            "SEASON_PASSWORD": season_seed.PASSWORD, "SEASON_STRIPE": env["STRIPE_API_BASE"],
            "SEASON_THINK": args.think, "SEASON_EVENTS": str(events)})
        services.wait_log("locust", "Ramping to")
        started = time.time()
        time.sleep(args.kill_after)
        os.killpg(services.procs["node-a"].pid, signal.SIGKILL)  # the session this script started for node a
        killed_at = time.time()
        log(f"{killed_at - started:.1f} s: SIGKILL to node a (gunicorn master and its workers)")
        locust.wait(timeout=args.duration + 120)
        rows = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]

        from payments.models import Order

        deadline = time.monotonic() + DRAIN
        while time.monotonic() < deadline:  # the workers finish what the run queued
            after = counts(first=first, stripe=env["STRIPE_API_BASE"], sink=tmp / "maildir", s3=s3, bucket=bucket)
            if (after["certificates rendered"] == after["certificates issued"] == after["paid orders"]
                    and after["SMTP server: receipts"] >= after["paid orders"]
                    and not Order.objects.filter(user__id__range=(first, POOL), state=Order.State.PAID,
                                                 receipt_emailed_at=None).exists()):
                break
            time.sleep(1)
        connections.close_all()
        return report(rows, before, after, started=started, killed_at=killed_at, tmp=tmp, homes=homes)
    except KeyboardInterrupt:
        log("interrupted; processes and temporary files were removed")
        return 130
    finally:
        services.stop()
        sink.stop()
        connections.close_all()
        try:
            import redis

            r = redis.Redis.from_url(env["CELERY_BROKER_URL"])
            r.delete(queue, *r.keys(f"_kombu.binding*.{queue}"))
            for key in bucket_keys(s3, bucket):
                s3.delete_object(Bucket=bucket, Key=key)
            s3.delete_bucket(Bucket=bucket)
        except Exception as exc:  # cleanup must not hide the outcome
            log(f"(cleanup: {exc})")
        shutil.rmtree(tmp, ignore_errors=True)


def season_seed_people() -> int:
    """The people the season database holds already (so it is not seeded again), else the runner's default."""
    found = re.search(r"people=(\d+)", season_seed.read_marker())
    return int(found.group(1)) if found else 100_000


def report(rows, before, after, *, started, killed_at, tmp, homes) -> int:
    requests = [r for r in rows if r["type"] != "METRIC"]
    failed = [r for r in requests if not r["ok"]]
    by_page = collections.Counter(r["name"] for r in failed)
    complete = sum(r["name"] == COMPLETE for r in rows)
    uploads_seen = sum(r["name"] == "upload CPR file" and r["ok"] for r in requests)
    charges_seen = sum(r["name"] == "Process Payment (charge)" and r["ok"] for r in requests)
    log("")
    log(f"Requests: {len(requests)}, failed {len(failed)} "
        f"({', '.join(f'{n} {c}' for n, c in by_page.most_common()) or 'none'}); complete renewals seen by the "
        f"users: {complete}; charges answered 'succeeded': {charges_seen}; uploads answered 201: {uploads_seen}")
    for r in failed[:10]:
        log(f"  {r['start'] - started:6.1f} s {r['name']}: {r['error']}")
    log(f"{'':<38} {'before':>7} {'after':>7} {'run':>5}")
    for name in after:
        log(f"{name:<38} {before[name]:>7} {after[name]:>7} {after[name] - before[name]:>5}")
    d = {name: after[name] - before[name] for name in after}
    checks = {
        "every succeeded charge at the emulator is one paid order": d["emulator: succeeded PaymentIntents"]
        == d["succeeded payments"] == d["paid orders"],
        "every paid order renewed its cycle": d["renewed cycles"] == d["paid orders"],
        "every paid order has one certificate, rendered, in the bucket": d["certificates issued"]
        == d["certificates rendered"] == d["paid orders"] == after["bucket objects: certificates/"],
        "every card file is in the bucket": d["card files (database)"] == after["bucket objects: cpr/"],
        "no upload answered 201 is missing": d["card files (database)"] >= uploads_seen,
        "no charge answered 'succeeded' is missing": d["paid orders"] >= charges_seen,
        "one receipt email per paid order, none twice": d["receipts marked sent"] == d["SMTP server: receipts"]
        == d["SMTP server: distinct receipts"] == d["paid orders"],
        "no file on any machine's disk": all(not any((home / "private").iterdir()) for home in homes.values()),
    }
    for text, ok in checks.items():
        log(f"{'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
