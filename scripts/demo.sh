#!/usr/bin/env bash
# The demo scenario (apps/dev-stack/src/demo.ts): alice and bob sign in through SSO, talk through
# the core end to end encrypted, carol is refused the key, bob is removed and the key rotates. It
# starts a stack of its own in a temporary directory; `npm run demo -- --use-running` plays it on
# the stack `npm start` runs. Exits 0 only if every step behaved.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_node_modules
build
exec node apps/dev-stack/dist/src/demo.js "$@"
