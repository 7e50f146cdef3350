#!/usr/bin/env bash
# Starts the appliance on its embedded defaults: SQLite and the software vault in ./data, a
# self-signed development certificate, https://127.0.0.1:8443. Any REALM_* variable overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_node_modules
build
exec node apps/realm/dist/src/main.js
