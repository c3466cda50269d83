#!/usr/bin/env bash
# Install LocalStack 4.14.0 (the last open-source release) into a cached Python venv, warm its
# service catalog once, and print the absolute path of the venv's python as the LAST stdout line.
#
#   python="$(integration-tests/servers/aws/install-localstack.sh | tail -n1)"
#   integration-tests/servers/aws/run-localstack.sh "$python"   # with the env server.ts sets
#
# Cache: ${OMNISECRET_CACHE_DIR:-$HOME/.cache/omnisecret}/localstack/<version>/
#   venv/                 LocalStack and its pinned dependencies (~520 MB)
#   filesystem-template/  a FILESYSTEM_ROOT after one warm-up run: the service catalog LocalStack
#                         builds on its first API call (~6 s, ~400 MB of memory), its self-signed
#                         certificate and plux's entry-point index; run-localstack.sh copies it
#                         into each server's own root, so a warm start answers at once
#   runs/<pid>/           the FILESYSTEM_ROOT of each running server (removed when it stops)
# A marker file is written only after a successful install, import check and warm-up, so an
# interrupted install is wiped and redone on the next run. Warm runs only test the marker and
# the files (no Python start-up, no network).
#
# Why these pins: LocalStack 2026.x releases want an auth token; 4.14.0 (uploaded to PyPI on
# 2026-02-26) does not. Its requirements are open ranges, and later releases of its dependencies
# (cbor2, pyOpenSSL and others) break it, so pip resolves every dependency as it stood when
# 4.14.0 came out, with --uploaded-prior-to, which needs pip 26 or newer (the machines ship 23).
#
# Environment:
#   OMNISECRET_CACHE_DIR         cache root (default: $HOME/.cache/omnisecret)
#   OMNISECRET_PYTHON            Python interpreter to build the venv with
#                                (default: python3; needs >= 3.10 and the venv module)
#   LOCALSTACK_FORCE_REINSTALL=1 wipe and reinstall even if the marker is present
#
# All progress goes to stderr; stdout carries only the python path.
set -euo pipefail

LOCALSTACK_VERSION="4.14.0"
UPLOADED_PRIOR_TO="2026-02-27T00:00:00Z"
PIP_VERSION="26.0.1"

INSTALL_NAME=install-localstack
# shellcheck source=integration-tests/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cache_root="$(omnisecret_cache_root)"
base="$cache_root/localstack/$LOCALSTACK_VERSION"
venv="$base/venv"
python_exe="$venv/bin/python"
template="$base/filesystem-template"
marker="$base/.installed"

is_ready() {
  [[ "${LOCALSTACK_FORCE_REINSTALL:-0}" != "1" && -f "$marker" && -x "$python_exe" && -d "$template" ]]
}

exit_if_installed is_ready "$python_exe"
hold_install_lock "$base" "LocalStack $LOCALSTACK_VERSION"
# Whoever held the lock may have finished the job.
exit_if_installed is_ready "$python_exe"

python="${OMNISECRET_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  log "error: '$python' not found; install Python >= 3.10 or set OMNISECRET_PYTHON"
  exit 1
fi
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  log "error: '$python' must be Python >= 3.10 with the venv and ensurepip modules"
  log "       (on Debian/Ubuntu: apt-get install python3-venv)"
  exit 1
fi

start=$SECONDS
rm -f "$marker"
for stale in "$venv" "$template"; do
  if [[ -e "$stale" ]]; then
    log "removing incomplete or stale $stale"
    rm -rf "$stale"
  fi
done

log "creating venv at $venv ($("$python" -c 'import platform; print(platform.python_version())'))"
"$python" -m venv "$venv"

pip() {
  # pip's output goes to stderr so stdout stays clean.
  "$python_exe" -m pip --disable-pip-version-check --no-input "$@" 1>&2
}
log "installing pip $PIP_VERSION (for --uploaded-prior-to)"
pip install --progress-bar off -q "pip==$PIP_VERSION"
log "installing localstack-core[runtime]==$LOCALSTACK_VERSION as of $UPLOADED_PRIOR_TO (~520 MB, about a minute)"
pip install --progress-bar off -q --uploaded-prior-to "$UPLOADED_PRIOR_TO" \
  "localstack-core[runtime]==$LOCALSTACK_VERSION"
log "installed in $((SECONDS - start))s"

installed="$("$python_exe" -c 'import localstack.runtime.main, localstack.services.secretsmanager.provider; from localstack.version import __version__; print(__version__)')"
if [[ "$installed" != "$LOCALSTACK_VERSION" ]]; then
  log "error: expected LocalStack $LOCALSTACK_VERSION, got $installed"
  exit 1
fi

# Warm-up: start LocalStack once through run-localstack.sh (so with the settings of every later
# run) on a free loopback port, make one Secrets Manager call so that it builds its service
# catalog, stop it, and keep what it cached as the template of every later server's root.
warm="$(mktemp -d "$base/.warm.XXXXXX")"
cleanup() { rm -rf "$warm"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log "warming LocalStack's service catalog (one start and one API call, about 10 s)"
mkdir -p "$warm/root"
"$python_exe" - "$(dirname "${BASH_SOURCE[0]}")/run-localstack.sh" "$warm/root" "$warm/localstack.log" >&2 <<'PY'
import json, os, signal, socket, subprocess, sys, time, urllib.request

launcher, root, log_path = sys.argv[1:4]
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
with open(log_path, "wb") as log:
    server = subprocess.Popen(
        ["bash", launcher, sys.executable, str(port), root], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
    )
# The JSON protocol by hand: LocalStack does not check signatures, and the venv's botocore
# would make this slower than the call it warms.
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/",
    data=b"{}",
    headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "secretsmanager.ListSecrets",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, "
        "SignedHeaders=host, Signature=0",
    },
)
try:
    deadline = time.monotonic() + 180
    while True:
        if server.poll() is not None or time.monotonic() > deadline:
            sys.stderr.write(open(log_path, errors="replace").read()[-4000:])
            sys.exit("LocalStack did not answer during the warm-up")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                json.load(response)["SecretList"]
                break
        except OSError:
            time.sleep(0.2)
finally:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
PY

catalog="$(find "$warm/root/var/lib/localstack/cache" -name 'service-catalog-*' -print -quit)"
if [[ -z "$catalog" ]]; then
  log "error: the warm-up left no service catalog in $warm/root/var/lib/localstack/cache"
  exit 1
fi
mkdir -p "$warm/template/var/lib/localstack"
mv "$warm/root/var/lib/localstack/cache" "$warm/template/var/lib/localstack/cache"
if [[ -d "$warm/root/xdg-cache" ]]; then mv "$warm/root/xdg-cache" "$warm/template/xdg-cache"; fi
mv "$warm/template" "$template"

printf 'localstack=%s\nuploaded-prior-to=%s\npython=%s\n' "$LOCALSTACK_VERSION" "$UPLOADED_PRIOR_TO" \
  "$("$python_exe" -c 'import sys; print(sys.version.split()[0])')" >"$marker.tmp"
mv -f "$marker.tmp" "$marker"
log "LocalStack $LOCALSTACK_VERSION ready in $((SECONDS - start))s"

printf '%s\n' "$python_exe"
