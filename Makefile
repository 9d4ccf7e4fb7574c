# The two commands: `make demo` runs the portal, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install system services worker bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the portal at http://127.0.0.1:8000 with embedded defaults (SQLite, in-process tasks, local Stripe emulator).
demo: install
	mkdir -p var
	$(PY) manage.py migrate --noinput
	test -e "$${SIGNING_KEY_FILE:-var/signing/key.pem}" || $(PY) manage.py signing_keys_create
	$(PY) manage.py seed_demo
	@echo "Log in at http://127.0.0.1:8000 as casey@example.com / recert-demo-2025"
	scripts/run-demo.sh

## Install what the tests need, make sure Postgres and Redis answer, run pytest.
test: system install services
	$(PY) -m pytest $(PYTEST_ARGS)

system:
	scripts/ensure-system.sh

services:
	scripts/ensure-services.sh
	scripts/ensure-s3.sh

## The page benchmark: the floor and each hot page side by side on one gunicorn, one table (needs wrk;
## BENCH_ARGS: see scripts/bench_pages.py, e.g. BENCH_ARGS="--pages dashboard-60 --explain").
bench: install services
	$(PY) scripts/bench_pages.py $(BENCH_ARGS)

## The reminders benchmark: one reminders run over 100,000 certificants in acsm_bench_reminders, dry and real (rolled
## back), against reading the people alone; time, peak memory and SQL per batch (BENCH_ARGS: see
## scripts/bench_reminders.py, e.g. BENCH_ARGS="--profile").
.PHONY: bench-reminders
bench-reminders: install services
	$(PY) scripts/bench_reminders.py $(BENCH_ARGS)

## A Celery worker against Redis (set CELERY_BROKER_URL and DATABASE_URL first).
worker: install
	$(VENV)/bin/celery -A acsm_portal worker -l info -c 2

## The renewal season under Locust: seeds acsm_bench_season, starts gunicorn, a worker and the Stripe emulator,
## steps the simulated certificants up until a page's p95 passes 300 ms (LOADTEST_ARGS: see loadtests/run_season.py).
.PHONY: loadtest
loadtest: install services
	$(PY) loadtests/run_season.py $(LOADTEST_ARGS)

## The provider CSV benchmark: a 10,000-row roster read and posted in acsm_bench_provider_csv against inserting the
## same rows as plain credits; rows/s, time, SQL statements, peak memory (BENCH_PROVIDER_ARGS: see
## scripts/bench_provider_csv.py, e.g. BENCH_PROVIDER_ARGS="--rounds 5").
.PHONY: bench-provider
bench-provider: install services
	$(PY) scripts/bench_provider_csv.py $(BENCH_PROVIDER_ARGS)

clean:
	rm -rf $(VENV) var/db.sqlite3 var/mail var/private var/static
