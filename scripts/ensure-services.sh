#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer; start them if installed but stopped.
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "Starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p 5432

redis_ping() {
  # PING over bash's own socket: redis-cli's timers hang when the machine's clock is moved (libfaketime).
  exec 3<>/dev/tcp/127.0.0.1/6379 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local reply=""
  read -r -t 2 reply <&3 || true
  exec 3>&-
  [[ "$reply" == +PONG* ]]
}
if ! redis_ping; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis_ping && break; sleep 0.2; done
fi
redis_ping && echo "redis: PONG"
