#!/usr/bin/env bash
# Install a pinned GCP Secret Manager emulator (a Go gRPC server,
# github.com/blackwell-systems/gcp-secret-manager-emulator) into the cache and
# print the absolute path of its executable as the LAST stdout line.
#
#   exe="$(integration-tests/servers/gcp/install.sh | tail -n1)"
#   "$exe" --port 0        # gRPC only; logs "Server listening at [::]:PORT"
#
# Version: v0.1.0 is the only version of this module that the Go module proxy
# reachable from our machines serves (v0.2.0 .. v1.7.x answer 403 "This module
# version is not available"), and the checksum database has no entry for it
# (lookup answers 404). Hence:
#   * `go install pkg@version` is not used: it also fetches the module's
#     version list (deprecation check), which answers 403;
#   * instead a throw-away module that requires the emulator is built with
#     `go install` (GOBIN set); its go.sum pins the emulator's hashes below, so
#     the checksum database is not needed for it, while every dependency is
#     still verified against the checksum database as usual.
# v0.1.0 ships a single command, cmd/server (cmd/server-dual and
# cmd/server-rest appeared in v1.1.0). Its flags:
#   --port N        gRPC port (default 9090, env GCP_MOCK_PORT); 0 = kernel-chosen
#   --log-level L   accepted but unused (env GCP_MOCK_LOG_LEVEL)
# It listens on ":PORT", i.e. ALL interfaces; there is no bind-address flag.
# No REST/HTTP listener. State is in memory only.
#
# Cache: ${OMNISECRET_CACHE_DIR:-$HOME/.cache/omnisecret}/gcp-emulator/<version>/
# The build runs in a temporary folder inside that folder and the finished
# binary is renamed into place, so a killed install never leaves a half-written
# executable behind. Warm runs only test the executable (no Go, no network).
#
# Environment:
#   OMNISECRET_CACHE_DIR            cache root (default: $HOME/.cache/omnisecret)
#   OMNISECRET_GCP_EMULATOR_VERSION module version (default: v0.1.0)
#   OMNISECRET_GCP_EMULATOR_CMD     command package inside the module
#                                   (default: cmd/server)
#   OMNISECRET_GCP_EMULATOR_SUM     h1: hashes of a non-default version (zip,
#   OMNISECRET_GCP_EMULATOR_MODSUM  go.mod) if the checksum database lacks it
#   GCP_EMULATOR_FORCE_REINSTALL=1  reinstall even if the binary is present
#
# Needs: go >= 1.24 on PATH (module cache and build cache are Go's defaults).
# All progress goes to stderr; stdout carries only the executable path.
set -euo pipefail

GCP_EMULATOR_MODULE="github.com/blackwell-systems/gcp-secret-manager-emulator"
GCP_EMULATOR_VERSION="${OMNISECRET_GCP_EMULATOR_VERSION:-v0.1.0}"
GCP_EMULATOR_CMD="${OMNISECRET_GCP_EMULATOR_CMD:-cmd/server}"
if [[ "$GCP_EMULATOR_VERSION" == "v0.1.0" ]]; then
  # As `go mod download -json` reports them; origin commit 04092c7aeb58.
  GCP_EMULATOR_SUM="${OMNISECRET_GCP_EMULATOR_SUM:-h1:X2yEZjQXP59FyltzcZtXDTdJ9MIlySudDEKRBnj4/Eo=}"
  GCP_EMULATOR_MODSUM="${OMNISECRET_GCP_EMULATOR_MODSUM:-h1:GUS+DeYzjIUgglHLn7daudBtT3ZT7GPQCb8nSFo1jgc=}"
else
  GCP_EMULATOR_SUM="${OMNISECRET_GCP_EMULATOR_SUM:-}"
  GCP_EMULATOR_MODSUM="${OMNISECRET_GCP_EMULATOR_MODSUM:-}"
fi

INSTALL_NAME=install-gcp-emulator
# shellcheck source=integration-tests/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cache_root="$(omnisecret_cache_root)"
base="$cache_root/gcp-emulator/$GCP_EMULATOR_VERSION"
exe_name="${GCP_EMULATOR_CMD##*/}"
exe="$base/$exe_name"
pkg="$GCP_EMULATOR_MODULE/$GCP_EMULATOR_CMD"

is_ready() {
  [[ "${GCP_EMULATOR_FORCE_REINSTALL:-0}" != "1" && -f "$exe" && -x "$exe" ]]
}

exit_if_installed is_ready "$exe"
hold_install_lock "$base" "$pkg@$GCP_EMULATOR_VERSION"
# Whoever held the lock may have finished the job; from here on a forced reinstall is done once.
exit_if_installed is_ready "$exe"

if ! command -v go >/dev/null 2>&1; then
  log "error: 'go' not found on PATH; install Go >= 1.24"
  exit 1
fi

start=$SECONDS
# Leftovers of an earlier interrupted install.
rm -rf "$base"/.build.*
tmp="$(mktemp -d "$base/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

printf 'module omnisecret.invalid/gcp-emulator-build\n\ngo 1.24\n\nrequire %s %s\n' \
  "$GCP_EMULATOR_MODULE" "$GCP_EMULATOR_VERSION" >"$tmp/go.mod"
: >"$tmp/go.sum"
if [[ -n "$GCP_EMULATOR_SUM" ]]; then
  printf '%s %s %s\n' "$GCP_EMULATOR_MODULE" "$GCP_EMULATOR_VERSION" "$GCP_EMULATOR_SUM" >>"$tmp/go.sum"
fi
if [[ -n "$GCP_EMULATOR_MODSUM" ]]; then
  printf '%s %s/go.mod %s\n' "$GCP_EMULATOR_MODULE" "$GCP_EMULATOR_VERSION" "$GCP_EMULATOR_MODSUM" >>"$tmp/go.sum"
fi

log "go install $pkg@$GCP_EMULATOR_VERSION ($(go env GOVERSION); a first run downloads modules and compiles, ~1 min)"
if ! (cd "$tmp" && GOBIN="$tmp/bin" GOWORK=off GO111MODULE=on GOTOOLCHAIN=local CGO_ENABLED=0 \
  GOFLAGS='-buildvcs=false -mod=mod' go install -trimpath "$pkg") 1>&2; then
  log "error: go install $pkg@$GCP_EMULATOR_VERSION failed"
  log "       (403 'This module version is not available': the Go module proxy does not serve it;"
  log "        404 on a sumdb lookup: give its h1: hashes in OMNISECRET_GCP_EMULATOR_SUM/_MODSUM)"
  exit 1
fi

if [[ ! -x "$tmp/bin/$exe_name" ]]; then
  log "error: go install produced no $exe_name in $tmp/bin"
  exit 1
fi

# Sanity check: the binary embeds the module path and version we asked for.
built="$(go version -m "$tmp/bin/$exe_name" | awk '($1 == "mod" || $1 == "dep") && $2 == "'"$GCP_EMULATOR_MODULE"'" { print $2 "@" $3; exit }')"
if [[ "$built" != "$GCP_EMULATOR_MODULE@$GCP_EMULATOR_VERSION" ]]; then
  log "error: expected $GCP_EMULATOR_MODULE@$GCP_EMULATOR_VERSION in the binary, found '${built:-nothing}'"
  exit 1
fi

# Atomic publish: rename within the same directory (same file system).
mv -f "$tmp/bin/$exe_name" "$exe"
log "$pkg@$GCP_EMULATOR_VERSION ready in $((SECONDS - start))s"

printf '%s\n' "$exe"
