#!/usr/bin/env bash
# The whole test suite. Installs the real servers the tests need when they are missing
# (Debian packages; the tests start and stop their own instances on free ports), type-checks,
# then runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
# Debian's ClickHouse (18.16) for the event store tests; the server binary is in /usr/sbin.
if ! command -v clickhouse-server >/dev/null && [ ! -x /usr/sbin/clickhouse-server ]; then
  need+=(clickhouse-server clickhouse-client)
fi
# Deployment checks (tests/deploy): docker-compose 1.29 validates deploy/docker-compose.yml without a
# Docker engine, promtool checks and unit-tests the Prometheus rules, haproxy -c checks the load
# balancer config. Together about 30 MB of downloads and 25 s on a fresh machine.
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v promtool >/dev/null || need+=(prometheus)
if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then
  need+=(haproxy)
fi
# The console's end-to-end tests drive Debian's Chromium (playwright-core, no downloaded browser).
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test servers: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's packages may start system instances; the tests use their own on free ports.
  $sudo_cmd service redis-server stop >/dev/null 2>&1 || true
  $sudo_cmd service clickhouse-server stop >/dev/null 2>&1 || true
  $sudo_cmd service prometheus stop >/dev/null 2>&1 || true
  $sudo_cmd service haproxy stop >/dev/null 2>&1 || true
fi

npx tsc -p tsconfig.json --noEmit
npx tsc -p console/tsconfig.json
# Some tests run the bidder as a real process (signals, crashes): they need the build, and the
# console's end-to-end tests need the console built into dist/console.
npx tsc -p tsconfig.build.json
npx vite build --config console/vite.config.ts
npx vitest run "$@"
