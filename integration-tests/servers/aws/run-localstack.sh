#!/usr/bin/env bash
# Run LocalStack (installed by install-localstack.sh) in host mode, Secrets Manager only, on
# 127.0.0.1:PORT, in a folder of its own that is removed when it stops.
#
#   integration-tests/servers/aws/run-localstack.sh PYTHON PORT [ROOT]
#
# PYTHON is the venv python install-localstack.sh printed. Without ROOT, the server's
# FILESYSTEM_ROOT is <cache>/localstack/<version>/runs/<this script's pid>, a copy of the warmed
# filesystem-template (so the first API call does not rebuild the service catalog), and is
# removed on exit; folders left by runs that were killed outright are removed at the next start.
# With ROOT (the install's warm-up), that folder is used as it is and kept.
#
# Stopping: SIGTERM or SIGINT to this script (or its process group) stops LocalStack, waiting
# a few seconds for it before SIGKILL, then removes the folder.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 PYTHON PORT [ROOT]" >&2
  exit 2
fi
python="$1"
port="$2"

if [[ $# -ge 3 ]]; then
  root="$3"
  owned_root=""
else
  base="${python%/venv/bin/python}"
  if [[ "$base" == "$python" || ! -d "$base/filesystem-template" ]]; then
    echo "run-localstack: $python is not the python of a LocalStack install made by install-localstack.sh" >&2
    exit 2
  fi
  mkdir -p "$base/runs"
  for stale in "$base/runs"/*; do
    [[ -d "$stale" ]] || continue
    pid="${stale##*/}"
    if ! kill -0 "$pid" 2>/dev/null && [[ ! -d "/proc/$pid" ]]; then rm -rf "$stale"; fi
  done
  root="$base/runs/$$"
  rm -rf "$root"
  cp -R "$base/filesystem-template" "$root"
  owned_root="$root"
fi

# Each setting keeps LocalStack inside its folder and on loopback, with no way to the network:
export OVERRIDE_IN_DOCKER=0          # else it believes it runs in its container: writes /var/lib, /usr/lib
export FILESYSTEM_ROOT="$root"       # every folder it uses (cache, state, logs, tmp) lives under this
export XDG_CACHE_HOME="$root/xdg-cache" # plux, its plugin loader, indexes entry points under ~/.cache
export GATEWAY_LISTEN="127.0.0.1:$port"
export LOCALSTACK_HOST="127.0.0.1:$port"
export GATEWAY_SERVER=hypercorn      # the default (twisted) binds 0.0.0.0 whatever GATEWAY_LISTEN says
export SERVICES=secretsmanager
export DNS_ADDRESS=0                 # else it starts a DNS server on 0.0.0.0:53
export DISABLE_EVENTS=1              # no analytics events
export SKIP_SSL_CERT_DOWNLOAD=1      # make its self-signed certificate here, download none
export ACTIVATE_PRO=0                # the open-source runtime only: no auth token, no licence check
export LOCALSTACK_AUTH_TOKEN=""
export PERSISTENCE=0                 # state lives in memory and goes with the process

cd "$root"
"$python" -m localstack.runtime.main &
child=$!

stop() {
  trap - TERM INT
  kill -TERM "$child" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$child" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$child" 2>/dev/null || true
  wait "$child" 2>/dev/null || true
  cd /
  if [[ -n "$owned_root" ]]; then rm -rf "$owned_root"; fi
}
trap 'stop; exit 0' TERM INT

status=0
wait "$child" || status=$?
trap - TERM INT
cd /
if [[ -n "$owned_root" ]]; then rm -rf "$owned_root"; fi
exit "$status"
