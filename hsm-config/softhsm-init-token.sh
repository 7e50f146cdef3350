#!/usr/bin/env bash
# Creates a SoftHSM2 token for the security realm in its own directory.
#
#   softhsm-init-token.sh --dir DIR --label LABEL [--pin-file FILE] [--so-pin-file FILE]
#
# Writes DIR/softhsm2.conf (from softhsm2.conf.template) and DIR/tokens (0700). Without
# --pin-file / --so-pin-file, random PINs are written to DIR/user.pin and DIR/so.pin (0600);
# existing files there are reused, never overwritten. Running it again when a token with LABEL
# already exists in DIR does nothing. Progress goes to stderr; the environment lines for the
# appliance go to stdout at the end. PINs are never printed.
#
# SoftHSM reassigns slot ids when tokens are created: the appliance and this script find the
# token by its label only.
set -euo pipefail

MODULE_DEFAULT=/usr/lib/softhsm/libsofthsm2.so
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
TEMPLATE="$SCRIPT_DIR/softhsm2.conf.template"

usage() {
  echo "usage: $(basename "$0") --dir DIR --label LABEL [--pin-file FILE] [--so-pin-file FILE]" >&2
  exit 2
}
die() { echo "error: $*" >&2; exit 1; }
info() { echo "$*" >&2; }

dir='' label='' pin_file='' so_pin_file=''
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --label) [ $# -ge 2 ] || usage; label=$2; shift 2 ;;
    --pin-file) [ $# -ge 2 ] || usage; pin_file=$2; shift 2 ;;
    --so-pin-file) [ $# -ge 2 ] || usage; so_pin_file=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "error: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$dir" ] && [ -n "$label" ] || usage

# Same rule as vault.pkcs11.tokenLabel: 1 to 32 printable ASCII characters.
case "$label" in *$'\n'*|*$'\r'*) die "--label must be 1 to 32 printable ASCII characters" ;; esac
if [ "${#label}" -gt 32 ] || ! printf '%s' "$label" | LC_ALL=C grep -qx '[ -~]\{1,32\}'; then
  die "--label must be 1 to 32 printable ASCII characters"
fi

command -v softhsm2-util >/dev/null 2>&1 \
  || die "softhsm2-util not found: install the Debian package softhsm2 (apt-get install softhsm2)"
[ -r "$TEMPLATE" ] || die "template not found: $TEMPLATE"
MODULE=${SOFTHSM2_MODULE:-$MODULE_DEFAULT}
[ -e "$MODULE" ] || info "warning: PKCS#11 module $MODULE not found (Debian package libsofthsm2); set SOFTHSM2_MODULE to its path"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
token_dir="$dir/tokens"
conf="$dir/softhsm2.conf"
mkdir -p "$token_dir"
chmod 0700 "$token_dir"

if [ -e "$conf" ]; then
  info "keeping existing $conf"
else
  # '|' as the sed delimiter: the directory may contain '/' but must not contain '|', '&' or '\'.
  case "$token_dir" in *'|'*|*'&'*|*'\'*) die "directory path must not contain '|', '&' or '\\': $token_dir" ;; esac
  sed "s|@TOKEN_DIR@|$token_dir|" "$TEMPLATE" >"$conf"
  chmod 0644 "$conf"
  info "wrote $conf"
fi
export SOFTHSM2_CONF="$conf"

# True if a token with exactly this label is initialized under SOFTHSM2_CONF.
token_exists() {
  softhsm2-util --show-slots 2>/dev/null \
    | sed -n 's/^[[:space:]]*Label:[[:space:]]\{1,\}//p' \
    | sed 's/[[:space:]]*$//' \
    | grep -Fxq -- "$label"
}

# First line of a PIN file, trimmed like the appliance does (vault.pkcs11.pinFile).
read_pin() {
  local file=$1 line=''
  [ -r "$file" ] || die "cannot read PIN file $file"
  IFS= read -r line <"$file" || true
  line=${line%$'\r'}
  line=$(printf '%s' "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  [ -n "$line" ] || die "PIN file $file is empty"
  # SoftHSM accepts PINs of 4 to 255 bytes.
  [ "${#line}" -ge 4 ] && [ "${#line}" -le 255 ] || die "PIN in $file must be 4 to 255 characters"
  printf '%s' "$line"
}

# 32 hex characters from the kernel CSPRNG, written with mode 0600 unless the file exists.
ensure_random_pin() {
  local file=$1
  if [ -e "$file" ]; then
    info "reusing existing PIN file $file"
  else
    (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$file" && echo >>"$file")
    info "wrote random PIN to $file"
  fi
  chmod 0600 "$file"
}

if [ -n "$pin_file" ]; then
  pin_file=$(cd "$(dirname "$pin_file")" && pwd)/$(basename "$pin_file")
fi

if token_exists; then
  info "a token labelled '$label' already exists in $token_dir; nothing to do"
  if [ -z "$pin_file" ]; then
    pin_file="$dir/user.pin"
    [ -e "$pin_file" ] || info "warning: $pin_file does not exist; point REALM_VAULT_PKCS11_PIN_FILE at the user PIN of this token"
  fi
else
  if [ -z "$pin_file" ]; then
    pin_file="$dir/user.pin"
    ensure_random_pin "$pin_file"
  fi
  if [ -z "$so_pin_file" ]; then
    so_pin_file="$dir/so.pin"
    ensure_random_pin "$so_pin_file"
  fi
  user_pin=$(read_pin "$pin_file")
  so_pin=$(read_pin "$so_pin_file")

  # softhsm2-util takes PINs only as arguments (or interactively), so they are visible in this
  # process's command line (/proc/PID/cmdline) while it runs. There is no file or stdin option;
  # run this on a host where other users cannot watch the process list, or use an isolated
  # container. Its own output never contains the PINs.
  softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$user_pin" >&2
  unset user_pin so_pin

  token_exists || die "softhsm2-util reported success but no token labelled '$label' is listed"
  info "initialized token '$label' in $token_dir"
fi

# Single-quotes a value (for sh and systemd EnvironmentFile) when it has unusual characters.
q() {
  case "$1" in
    ''|*[!A-Za-z0-9._/:@%+,=-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
    *) printf '%s' "$1" ;;
  esac
}

echo "export SOFTHSM2_CONF=$(q "$conf")"
echo "REALM_VAULT_BACKEND=pkcs11"
echo "REALM_VAULT_PKCS11_MODULE=$(q "$MODULE")"
echo "REALM_VAULT_PKCS11_TOKEN_LABEL=$(q "$label")"
echo "REALM_VAULT_PKCS11_PIN_FILE=$(q "$pin_file")"
