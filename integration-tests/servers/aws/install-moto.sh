#!/usr/bin/env bash
# Install a pinned moto[server] (AWS mock) into a cached Python venv and print
# the absolute path of its `moto_server` executable as the LAST stdout line.
#
#   path="$(integration-tests/servers/aws/install-moto.sh | tail -n1)"
#   "$path" -H 127.0.0.1 -p 4566
#
# Cache: ${OMNISECRET_CACHE_DIR:-$HOME/.cache/omnisecret}/moto/<version>/venv
# A marker file is written only after a successful install and check, so an
# interrupted install is wiped and redone on the next run. Warm runs only test
# the marker and the executable (no Python start-up, no network).
#
# Environment:
#   OMNISECRET_CACHE_DIR   cache root (default: $HOME/.cache/omnisecret)
#   OMNISECRET_PYTHON      Python interpreter to build the venv with
#                          (default: python3; needs >= 3.9 and the venv module)
#   MOTO_FORCE_REINSTALL=1 wipe and reinstall even if the marker is present
#
# All progress goes to stderr; stdout carries only the executable path.
set -euo pipefail

MOTO_VERSION="5.2.5"

INSTALL_NAME=install-moto
# shellcheck source=integration-tests/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cache_root="$(omnisecret_cache_root)"
base="$cache_root/moto/$MOTO_VERSION"
venv="$base/venv"
exe="$venv/bin/moto_server"
marker="$base/.installed"

is_ready() {
  [[ "${MOTO_FORCE_REINSTALL:-0}" != "1" && -f "$marker" && -x "$exe" ]]
}

exit_if_installed is_ready "$exe"
hold_install_lock "$base" "moto $MOTO_VERSION"
# Whoever held the lock may have finished the job.
exit_if_installed is_ready "$exe"

python="${OMNISECRET_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  log "error: '$python' not found; install Python >= 3.9 or set OMNISECRET_PYTHON"
  exit 1
fi
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
  log "error: '$python' must be Python >= 3.9 with the venv and ensurepip modules"
  log "       (on Debian/Ubuntu: apt-get install python3-venv)"
  exit 1
fi

start=$SECONDS
rm -f "$marker"
if [[ -e "$venv" ]]; then
  log "removing incomplete or stale venv at $venv"
  rm -rf "$venv"
fi

log "creating venv at $venv ($("$python" -c 'import platform; print(platform.python_version())'))"
"$python" -m venv "$venv"

log "installing moto[server]==$MOTO_VERSION (this can take a minute on a cold machine)"
# Send pip's output to stderr so stdout stays clean.
"$venv/bin/python" -m pip install \
  --disable-pip-version-check --no-input --progress-bar off -q \
  "moto[server]==$MOTO_VERSION" 1>&2

# Sanity check before declaring success.
if [[ ! -x "$exe" ]]; then
  log "error: $exe was not installed"
  exit 1
fi
installed="$("$venv/bin/python" -c 'import moto.server, moto; print(moto.__version__)')"
if [[ "$installed" != "$MOTO_VERSION" ]]; then
  log "error: expected moto $MOTO_VERSION, got $installed"
  exit 1
fi

printf 'moto=%s\npython=%s\n' "$MOTO_VERSION" "$("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')" >"$marker.tmp"
mv -f "$marker.tmp" "$marker"
log "moto $MOTO_VERSION ready in $((SECONDS - start))s"

printf '%s\n' "$exe"
