#!/usr/bin/env bash
# The development stack on the embedded defaults, with one command: the appliance (SQLite and the
# software vault in ./data, a self-signed certificate, https://127.0.0.1:8443, SAML against the
# development IdP), the core simulator (./data/core-sim, https://127.0.0.1:8444, the appliance
# linked to it) and the development IdP with the demo users (./data/dev-idp, https://127.0.0.1:8445).
# It prints the URLs and the demo logins; Ctrl-C stops everything. Any REALM_* variable reaches the
# appliance; CORE_SIM_PORT and DEV_IDP_PORT move the others.
#
# Production runs the appliance alone: node apps/realm/dist/src/main.js, against the enterprise IdP
# and the real core.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_node_modules
build
exec node apps/dev-stack/dist/src/main.js
