#!/usr/bin/env bash
# The whole test suite on a fresh machine: system packages, npm dependencies, build, every test.
#
# Runs on SQLite always, and on PostgreSQL too when REALM_TEST_POSTGRES_URL names a server where
# the suites may create and drop their own databases (e.g. postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

prepare_suite
# The browser tests drive Debian's Chromium (libs/testing/src/browser.ts).
ensure_system_packages chromium:/usr/bin/chromium

if [ -n "${REALM_TEST_POSTGRES_URL:-}" ]; then
  echo "databases: SQLite and PostgreSQL ($(node -e 'const u=new URL(process.argv[1]); u.password&&(u.password="****"); console.log(u.toString())' "$REALM_TEST_POSTGRES_URL"))" >&2
else
  echo "databases: SQLite only (set REALM_TEST_POSTGRES_URL to run the PostgreSQL suites too)" >&2
fi

mapfile -t files < <(find libs apps e2e -path '*/node_modules' -prune -o -path '*/dist/test/*' -name '*.test.js' -print 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] || { echo "no test files found: did the build run?" >&2; exit 1; }
exec node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
