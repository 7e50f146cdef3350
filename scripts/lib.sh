# Shared by scripts/test.sh, start.sh and bench.sh: system packages, npm dependencies, build.
# shellcheck shell=bash

# ensure_system_packages PACKAGE:PATH ... — installs missing Debian packages when running as root,
# otherwise stops with a message naming them.
ensure_system_packages() {
  local missing=() pair package path
  for pair in "$@"; do
    package=${pair%%:*}
    path=${pair#*:}
    [ -e "$path" ] || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing system packages: ${missing[*]} — install them (apt-get install ${missing[*]}) or run this as root" >&2
    exit 1
  fi
}

# ensure_node_modules — `npm ci` when node_modules is missing or older than package-lock.json.
ensure_node_modules() {
  # Native addons (better-sqlite3, pkcs11js) build against the local Node headers, offline.
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then export npm_config_nodedir=/usr; fi
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "installing npm dependencies (npm ci)" >&2
    npm ci --no-audit --no-fund
  fi
}

# build — compiles every workspace with tsc (decorator metadata; incremental).
build() {
  npx --no-install tsc -b
}

# prepare_suite — what every entry point needs before running tests or benchmarks.
prepare_suite() {
  ensure_system_packages softhsm2:/usr/bin/softhsm2-util softhsm2:/usr/lib/softhsm/libsofthsm2.so
  ensure_node_modules
  build
}
