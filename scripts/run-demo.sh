#!/usr/bin/env bash
# Serve the portal for a demo, with the local Stripe emulator beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${STRIPE_EMULATOR_PORT:-8420}
mkdir -p var
.venv/bin/localstripe --port "$port" --from-scratch >var/localstripe.log 2>&1 &
stripe_pid=$!
trap 'kill $stripe_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://127.0.0.1:$port/v1/customers" -u sk_test_local: && break
  sleep 0.1
done
.venv/bin/python manage.py stripe_emulator_webhook
.venv/bin/python manage.py runserver 127.0.0.1:8000
