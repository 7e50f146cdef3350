#!/usr/bin/env bash
# Benchmarks. Each prints its figures and, last, one JSON line with the floor it is held against.
#   npm run bench          every benchmark
#   npm run bench:kms      the KMS only (production build + a separate load process; SQLite and PostgreSQL)
#   scripts/bench.sh relay relayed KMS retrievals through the core simulator against the direct rate
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

prepare_suite
# The KMS benchmark runs on PostgreSQL too, in a database of its own on this server.
export REALM_TEST_POSTGRES_URL=${REALM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
case "${1:-all}" in
  vault) node bench/dist/src/vault.bench.js ;;
  identity) node bench/dist/src/identity.bench.js ;;
  kms) node bench/dist/src/kms.bench.js ;;
  relay) node bench/dist/src/relay.bench.js ;;
  all) node bench/dist/src/vault.bench.js; node bench/dist/src/identity.bench.js; node bench/dist/src/kms.bench.js; node bench/dist/src/relay.bench.js ;;
  *) echo "usage: scripts/bench.sh [vault|identity|kms|relay|all]" >&2; exit 2 ;;
esac
