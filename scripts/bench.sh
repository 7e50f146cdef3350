#!/usr/bin/env bash
# Benchmarks. Each prints its figures and, last, one JSON line with the floor it is held against.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

prepare_suite
node bench/dist/src/vault.bench.js
