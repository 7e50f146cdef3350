#!/usr/bin/env bash
# Benchmarks. Each prints its figures and, last, one JSON line with the floor it is held against.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_system_packages softhsm2:/usr/bin/softhsm2-util softhsm2:/usr/lib/softhsm/libsofthsm2.so
ensure_node_modules
build
node bench/dist/src/vault.bench.js
