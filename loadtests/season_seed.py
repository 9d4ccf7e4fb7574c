"""The renewal season's database, ``acsm_bench_season``: 100,000 certificants, filled with COPY in about a minute.

Two kinds of people share one password (hashed once):

- the season pool, ``season000001@season.example.org`` and on (user ids 1..pool): each holds one CPT
  certification whose cycle runs from 1/1 two years back to 12/31 this year, with 2 CECs short of its 45
  reported, no CPR card and nothing in a cart. The load test gives every simulated certificant one of them:
  reporting 2 CECs and uploading a card make RENEW appear.
- everyone else (``member...@season.example.org``): one or two certifications (every third person two), an open
  cycle with 20 credits each, and for every second certification the previous cycle, renewed, with its
  certificate; these fill the tables the season's queries read (users, cycles, certificates, the ledger).

A comment on the database records what it holds; ``seed_needed`` compares it and the pool's unused rest.
Call with Django set up against ``acsm_bench_season`` (``season_prepare`` refuses any other database).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

DATABASE = "acsm_bench_season"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
SEED_VERSION = "1"
PASSWORD = "season-password-2026"
SEASON_EMAIL = "season{:06d}@season.example.org"
MEMBER_EMAIL = "member{:06d}@season.example.org"
SEASON_CODE = "CPT"
SHORT_BY = Decimal("2")  # CECs each season certificant still has to report
BACKGROUND_CREDITS = 20
BACKGROUND_CODES = ("CPT", "GEI", "EP", "CEP")
COURSES = ("Resistance Training for Older Adults", "Exercise Is Medicine", "Health & Fitness Summit",
           "Nutrition for Performance", "Program Design Essentials", "Cardiac Rehabilitation Update")
FORMATS = ("live", "online", "home_study", "conference")  # no yearly cap applies to these


@dataclass(frozen=True)
class Population:
    people: int  # every certificant
    pool: int  # of them, the season certificants (ids 1..pool)
    today: date

    @property
    def cycle(self) -> tuple[date, date]:
        return date(self.today.year - 2, 1, 1), date(self.today.year, 12, 31)

    @property
    def marker(self) -> str:
        start, end = self.cycle
        return (f"myacsm-season v{SEED_VERSION} people={self.people} pool={self.pool} cycle={start}..{end} "
                f"credits={BACKGROUND_CREDITS}")


def log(message: str) -> None:
    print(message, flush=True)


def admin_connect(dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=5, **PG)


def read_marker() -> str:
    with admin_connect() as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           [DATABASE]).fetchone()
    return (row and row[0]) or ""


def write_marker(text: str | None) -> None:
    from psycopg import sql

    with admin_connect() as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(DATABASE), sql.Literal(text)))


def pool_used() -> int:
    """How many season certificants a run has taken: the highest one that ever logged in (they are taken in order)."""
    from accounts.models import User

    last = (User.objects.filter(pk__lte=pool_size(), last_login__isnull=False).order_by("-pk")
            .values_list("pk", flat=True).first())
    return last or 0


def pool_size() -> int:
    marker = read_marker()
    for part in marker.split():
        if part.startswith("pool="):
            return int(part[5:])
    return 0


def copy_rows(model, columns: list[str], rows, now) -> int:
    """COPY ``rows`` (tuples of the fields named in ``columns``) into ``model``'s table; any other field gets its
    default (``auto_now`` fields ``now``), so a new nullable or defaulted column needs no change here.
    Returns the number of rows written."""
    from django.db import connection

    fields = model._meta.concrete_fields
    position = {name: n for n, name in enumerate(columns)}
    fill = []  # per field: ("given", index) or ("default", value)
    for f in fields:
        if f.name in position or f.attname in position:
            fill.append((True, position.get(f.name, position.get(f.attname))))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            fill.append((False, now))
        elif f.has_default():
            fill.append((False, f.get_default()))
        elif f.null:
            fill.append((False, None))
        elif f.blank and f.empty_strings_allowed:
            fill.append((False, ""))
        else:
            raise ValueError(f"{model.__name__}.{f.name} needs a value")
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    written = 0
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[v] if given else v for given, v in fill])
            written += 1
    return written


def seed(population: Population) -> dict[str, int]:
    """Empty the season's tables and fill them; returns the row counts written."""
    import random

    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from accounts.models import User
    from acsm_portal import clock
    from cart.models import Cart, CartLine
    from cecs.models import CECEntry
    from cecs.rules import to_cecs
    from certifications.models import Certificate, Certification, CertificationType, CprUpload, Cycle
    from payments.models import Order

    rng = random.Random(20261201)
    now = clock.now()
    password = make_password(PASSWORD)  # one hash for everyone
    types = {t.code: t for t in CertificationType.objects.all()}
    start, end = population.cycle
    span = max(0, (population.today - timedelta(days=1) - start).days)
    past_start, past_end = date(start.year - 3, 1, 1), start - timedelta(days=1)
    season_cecs = Decimal(types[SEASON_CODE].required_cecs) - SHORT_BY
    season_split = [Decimal(10)] * int(season_cecs // 10) + ([season_cecs % 10] if season_cecs % 10 else [])

    users, certifications, cycles, certificates = [], [], [], []
    for i in range(1, population.people + 1):
        season = i <= population.pool
        users.append((i, password, (SEASON_EMAIL if season else MEMBER_EMAIL).format(i),
                      "Season" if season else "Member", f"Certificant{i}", f"{i:06d}", now))
        codes = ((SEASON_CODE,) if season else
                 (BACKGROUND_CODES[i % 4], BACKGROUND_CODES[(i + 1) % 4]) if i % 3 == 0 else (BACKGROUND_CODES[i % 4],))
        for code in codes:
            cid = len(certifications) + 1
            certifications.append((cid, i, types[code].id, date(start.year - 3 - i % 9, 1 + i % 12, 1 + i % 28)))
            open_id = len(cycles) + 1
            cycles.append((open_id, cid, start, end, Cycle.State.OPEN, None))
            if not season and cid % 2 == 0:  # renewed last time: the renewal opened this cycle and its certificate
                renewed = now - timedelta(days=(now.date() - past_end).days + rng.randrange(10, 200))
                cycles.append((len(cycles) + 1, cid, past_start, past_end, Cycle.State.RENEWED, renewed))
                certificates.append((len(certificates) + 1, cid, open_id, f"{code}-{start.year}-{cid:06d}",
                                     f"Member Certificant{i}", types[code].name, renewed.date(), end, "", renewed))

    def credits():
        entry = 0
        for i in range(1, population.people + 1):
            amounts = season_split if i <= population.pool else [
                Decimal(rng.randrange(4, 17)) / 4 for _ in range(BACKGROUND_CREDITS)]
            for n, cecs in enumerate(amounts):
                entry += 1
                earned = start + timedelta(days=rng.randrange(span + 1))
                yield (entry, i, earned, earned, cecs, "cec", to_cecs(cecs, "cec"), COURSES[n % len(COURSES)],
                       "ACSM", FORMATS[n % len(FORMATS)], "self", now)

    tables = [
        (User, ["id", "password", "email", "first_name", "last_name", "member_id", "date_joined"], users),
        (Certification, ["id", "user", "certification_type", "first_certified_on"], certifications),
        (Cycle, ["id", "certification", "start", "end", "state", "renewed_at"], cycles),
        (Certificate, ["id", "certification", "cycle", "number", "holder_name", "certification_name", "issued_on",
                       "valid_through", "pdf", "created_at"], certificates),
        (CECEntry, ["id", "user", "date_earned", "date_reported", "units", "credit_type", "cecs", "course_name",
                    "provider", "format", "source", "created_at"], credits()),
    ]
    models = [model for model, _, _ in tables]
    counts = {}
    with transaction.atomic(), connection.cursor() as cursor:
        emptied = ", ".join(connection.ops.quote_name(m._meta.db_table)
                            for m in (*models, CprUpload, Cart, CartLine, Order))
        cursor.execute(f"TRUNCATE {emptied}, django_session RESTART IDENTITY CASCADE")
        cursor.execute("SET LOCAL session_replication_role = replica")  # consistent by construction: no FK triggers
        for model, columns, rows in tables:
            counts[model._meta.verbose_name_plural] = copy_rows(model, columns, rows, now)
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
    with admin_connect(DATABASE) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return counts


def season_prepare(*, people: int, pool: int, needed: int, reseed: bool) -> int:
    """Make sure ``acsm_bench_season`` exists, is migrated and holds ``people`` certificants of whom at least
    ``needed`` season certificants were never used; seeds it again when not. Returns the first unused one's number.
    Raises ``SystemExit`` when Django points at another database."""
    from django.conf import settings
    from django.core.management import call_command

    from acsm_portal import clock

    if settings.DATABASES["default"]["NAME"] != DATABASE:
        raise SystemExit(f"refusing to seed {settings.DATABASES['default']['NAME']!r}: expected {DATABASE!r}")
    with admin_connect() as conn:
        if reseed:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE}")
    call_command("migrate", verbosity=0, interactive=False)
    population = Population(people=people, pool=pool, today=clock.today())
    if read_marker() == population.marker:
        used = pool_used()
        if pool - used >= needed:
            log(f"Database {DATABASE}: kept ({people:,} certificants; season certificants {used + 1:,}.. unused)")
            return used + 1
        log(f"Database {DATABASE}: {pool - used:,} unused season certificants left, {needed:,} needed; seeding again")
    t = time.perf_counter()
    write_marker(None)
    counts = seed(population)
    write_marker(population.marker)
    log(f"Database {DATABASE}: seeded in {time.perf_counter() - t:.0f} s: "
        + ", ".join(f"{n:,} {what}" for what, n in counts.items()))
    return 1
