#!/usr/bin/env bash
# Build an OpenBao server binary (Vault-API compatible) from the Go module
# proxy and cache it OUTSIDE the repository.
#
#   integration-tests/servers/vault/install.sh
#
# Prints the absolute path of the `bao` binary as the LAST line of stdout;
# all progress goes to stderr. Warm path (binary already cached and runnable)
# returns in well under a second.
#
# Cache:   ${OMNISECRET_CACHE_DIR:-$HOME/.cache/omnisecret}/openbao/<version>/bao
# Go caches: the usual GOMODCACHE / GOCACHE (default ~/go/pkg/mod and
#            ~/.cache/go-build); override them through the environment.
#
# Why these pins: no prebuilt Vault/OpenBao binary can be downloaded, so the
# server is compiled from its Go module. The server module's path is
# github.com/openbao/openbao (no /v2 suffix), so its v2.x.y release tags are
# not valid module versions: it can only be required by pseudo-version. The
# module proxy available here serves the pseudo-version of the v2.4.0 release
# commit (f9407a27fbee...) but not that of v2.6.2 (dd9c19c37a87...), so
# v2.4.0 is pinned. The server's own go.mod points its api/v2, sdk/v2 and
# api/auth/* modules at in-tree directories with `replace`, which is ignored
# for a dependency, so the wrapper module below requires the matching tagged
# api/v2 and sdk/v2 releases instead. The api/auth/{approle,userpass}/v2
# client helpers are only imported by OpenBao's tests and their required
# versions are not served, so they are replaced by empty local stubs.
set -euo pipefail

OPENBAO_VERSION="2.4.0"
OPENBAO_COMMIT="f9407a27fbee45f62ba521bba2bf1e2360c61031"
OPENBAO_COMMIT_DATE="2025-08-28T20:23:15Z"
OPENBAO_MODULE_VERSION="v0.0.0-20250828202315-f9407a27fbee"
OPENBAO_API_VERSION="v2.4.0"
OPENBAO_SDK_VERSION="v2.4.0"
# Minimum Go toolchain: the `go` directive of the OpenBao v2.4.0 go.mod.
GO_MIN_VERSION="1.24.6"

INSTALL_NAME=install-openbao
# shellcheck source=integration-tests/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CACHE_ROOT="$(omnisecret_cache_root)"
DEST_DIR="$CACHE_ROOT/openbao/$OPENBAO_VERSION"
BIN="$DEST_DIR/bao"

binary_ok() {
  [[ -x "$1" ]] && "$1" version >/dev/null 2>&1
}
is_ready() { binary_ok "$BIN"; }

# ---- warm path -------------------------------------------------------------
exit_if_installed is_ready "$BIN"

# ---- cold path -------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
  log "error: 'go' (>= $GO_MIN_VERSION) is required to build OpenBao"
  exit 1
fi
go_version="$(go env GOVERSION)"   # e.g. go1.26.8
go_version="${go_version#go}"
if [[ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$go_version" | sort -V | head -n1)" != "$GO_MIN_VERSION" ]]; then
  log "warning: go $go_version is older than $GO_MIN_VERSION; relying on GOTOOLCHAIN to fetch a newer toolchain"
fi

hold_install_lock "$DEST_DIR" "OpenBao $OPENBAO_VERSION"
# A concurrent install may have built it meanwhile.
exit_if_installed is_ready "$BIN"

# Work dir next to the destination so the final mv is an atomic rename.
WORK_DIR="$(mktemp -d "$DEST_DIR/.build.XXXXXX")"
cleanup() { rm -rf "$WORK_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building OpenBao $OPENBAO_VERSION (commit $OPENBAO_COMMIT) with go $go_version"
log "cold caches: ~410 MB of module downloads (~2.6 GB unpacked in GOMODCACHE), ~1.7 GB GOCACHE, ~3-4 min on 2 cores"

mkdir -p "$WORK_DIR/stub/approle" "$WORK_DIR/stub/userpass"
printf 'module github.com/openbao/openbao/api/auth/approle/v2\n' >"$WORK_DIR/stub/approle/go.mod"
printf 'module github.com/openbao/openbao/api/auth/userpass/v2\n' >"$WORK_DIR/stub/userpass/go.mod"

cat >"$WORK_DIR/go.mod" <<EOF
module omnisecret.local/openbao-build

go $GO_MIN_VERSION

require (
	github.com/openbao/openbao $OPENBAO_MODULE_VERSION
	github.com/openbao/openbao/api/v2 $OPENBAO_API_VERSION
	github.com/openbao/openbao/sdk/v2 $OPENBAO_SDK_VERSION
)

// Test-only client helpers whose required versions are not on the proxy.
replace (
	github.com/openbao/openbao/api/auth/approle/v2 => ./stub/approle
	github.com/openbao/openbao/api/auth/userpass/v2 => ./stub/userpass
)
EOF

# These three modules are served by the module proxy but the checksum
# database answers 404 for them, which makes `go build` fail with
# "verifying module ... 404 Not Found" on a cold module cache. Pinning their
# hashes here means the checksum database is never asked about them; every
# other module is still verified against it.
cat >"$WORK_DIR/go.sum" <<'EOF'
github.com/openbao/go-kms-wrapping/wrappers/aead/v2 v2.2.0 h1:4rOcxuTp6y+LwX6e1bp7+VKiwqjmpGr3bkMLbAPod08=
github.com/openbao/go-kms-wrapping/wrappers/aead/v2 v2.2.0/go.mod h1:+NRD/fpkUt40MH/ggMHgwIqf3tITT7FlrE38yWeCqGg=
github.com/openbao/go-kms-wrapping/wrappers/static/v2 v2.0.0 h1:x2zJMiCMgggpAoCf83vZyhi2JYeS46SZ10k5uunXVa8=
github.com/openbao/go-kms-wrapping/wrappers/static/v2 v2.0.0/go.mod h1:WOLddP7R+PbJabAHsx5maB1xh7FeUpzOLyaS7vpJzjs=
github.com/openbao/go-kms-wrapping/wrappers/transit/v2 v2.6.0 h1:v1vUO5jyHm+aV+U9l10iK23gerrbXtcpu1jw/0zGGAQ=
github.com/openbao/go-kms-wrapping/wrappers/transit/v2 v2.6.0/go.mod h1:pg5icgBLSM0ay8ryYO9sZFJ6txtcpM8vRkY/Qf45HEE=
EOF

ldflags="-s -w"
ldflags+=" -X github.com/openbao/openbao/version.fullVersion=$OPENBAO_VERSION"
ldflags+=" -X github.com/openbao/openbao/version.GitCommit=$OPENBAO_COMMIT"
ldflags+=" -X github.com/openbao/openbao/version.BuildDate=$OPENBAO_COMMIT_DATE"

tmp_bin="$WORK_DIR/bao"
start=$SECONDS
(
  cd "$WORK_DIR"
  # -mod=mod lets go resolve the graph and write go.sum in the throwaway
  # wrapper module; checksums are still verified against the checksum DB.
  GOFLAGS="-mod=mod" GOWORK=off CGO_ENABLED=0 \
    go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp_bin" github.com/openbao/openbao
) >&2

if ! binary_ok "$tmp_bin"; then
  log "error: built binary does not run"
  exit 1
fi
mv -f "$tmp_bin" "$BIN"
log "built in $((SECONDS - start)) s: $("$BIN" version)"

printf '%s\n' "$BIN"
