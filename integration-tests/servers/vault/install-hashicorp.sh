#!/usr/bin/env bash
# Build HashiCorp Vault 1.14.8 (its last MPL release) from the Go module proxy and cache it
# OUTSIDE the repository: the opt-in second Vault server of the integration tests
# (OMNISECRET_TEST_VAULT_HASHICORP=1, see integration-tests/servers/vault/hashicorp.test.ts).
#
#   integration-tests/servers/vault/install-hashicorp.sh
#
# Prints the absolute path of the `vault` binary as the LAST line of stdout; all progress goes
# to stderr. The warm path (binary cached and runnable) returns in well under a second.
#
# Cache:   ${OMNISECRET_CACHE_DIR:-$HOME/.cache/omnisecret}/vault-hashicorp/<version>/vault
# Go caches: the usual GOMODCACHE / GOCACHE (default ~/go/pkg/mod and ~/.cache/go-build);
#            override them through the environment.
#
# Why this recipe: no Vault binary can be downloaded, so the server is compiled from its Go
# module. Vault's go.mod points its api, sdk and api/auth/* modules at in-tree directories with
# `replace`, which is ignored for a dependency (it has no other `replace`), so the wrapper module
# below names them itself. Its go.mod names api v1.9.2 and sdk v0.9.2, but the 1.14.8 tree had
# gained backported symbols those tags lack, and the module proxy cannot be asked for a submodule
# at the v1.14.8 commit by tag:
# - api: v1.9.2 fails in package command ("RaftAutopilotStateWithDRToken undefined"); the tag
#   v1.10.0 has it, and builds.
# - sdk: v0.9.2 fails in package vault ("undefined: logical.CtxKeyRequestRole",
#   "logical.ContextOriginalBodyValue", "logical.CreateContextOriginalBody",
#   "physical.FencingHABackend"); v0.10.2 lacks ContextOriginalBodyValue and v0.11.0 changed
#   logical.EventSender. So the sdk is replaced by a copy of v0.9.2 plus those symbols as sdk
#   v0.11.0 has them, copied unchanged (MPL-2.0, like the sdk): two context-key types with their
#   get/set helpers, and the fencing HA interface with its two helpers.
# - With that sdk the server builds but `server -dev` panics at its first request: "Pattern
#   managed-keys/.../test/sign defines a CreateOperation but no ExistenceCheck" (sdk/framework's
#   check of every path; Vault 1.14.8's enterprise-only stubs in vault/logical_system_helpers.go
#   have none, and every sdk tag up to v0.25.1 still panics). The copy drops that panic: a check
#   for coding errors, no behaviour of any request.
# So this is Vault 1.14.8's own code (its server, KV v2 plugin and every dependency as its go.mod
# pins them) on an sdk that approximates its in-tree one; close enough for the KV v2 API.
set -euo pipefail

VAULT_VERSION="1.14.8"
VAULT_API_VERSION="v1.10.0"
VAULT_SDK_VERSION="v0.9.2"

INSTALL_NAME=install-vault-hashicorp
# shellcheck source=integration-tests/servers/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

CACHE_ROOT="$(omnisecret_cache_root)"
DEST_DIR="$CACHE_ROOT/vault-hashicorp/$VAULT_VERSION"
BIN="$DEST_DIR/vault"

binary_ok() {
  [[ -x "$1" ]] && "$1" version >/dev/null 2>&1
}
is_ready() { binary_ok "$BIN"; }

# ---- warm path -------------------------------------------------------------
exit_if_installed is_ready "$BIN"

# ---- cold path -------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
  log "error: 'go' is required to build HashiCorp Vault $VAULT_VERSION"
  exit 1
fi

hold_install_lock "$DEST_DIR" "HashiCorp Vault $VAULT_VERSION"
# A concurrent install may have built it meanwhile.
exit_if_installed is_ready "$BIN"

# Work dir next to the destination so the final mv is an atomic rename.
WORK_DIR="$(mktemp -d "$DEST_DIR/.build.XXXXXX")"
cleanup() { rm -rf "$WORK_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building HashiCorp Vault $VAULT_VERSION with $(go env GOVERSION)"
log "cold caches: ~600 MB of module downloads (~3.1 GB unpacked in GOMODCACHE), ~4 GB GOCACHE, 15-20 min on 2 cores"

sdk_dir="$(GOFLAGS= GOWORK=off go mod download -json "github.com/hashicorp/vault/sdk@$VAULT_SDK_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ ! -d "$sdk_dir" ]]; then
  log "error: could not download github.com/hashicorp/vault/sdk@$VAULT_SDK_VERSION"
  exit 1
fi
cp -R "$sdk_dir" "$WORK_DIR/sdk"
chmod -R u+w "$WORK_DIR/sdk"
cat >"$WORK_DIR/sdk/logical/backports_1_14_8.go" <<'EOF'
package logical

import (
	"context"
	"io"
)

type CtxKeyRequestRole struct{}

func (c CtxKeyRequestRole) String() string {
	return "request-role"
}

type ctxKeyOriginalBody struct{}

func ContextOriginalBodyValue(ctx context.Context) (io.ReadCloser, bool) {
	value, ok := ctx.Value(ctxKeyOriginalBody{}).(io.ReadCloser)
	return value, ok
}

func CreateContextOriginalBody(parent context.Context, body io.ReadCloser) context.Context {
	return context.WithValue(parent, ctxKeyOriginalBody{}, body)
}
EOF
cat >"$WORK_DIR/sdk/physical/backports_1_14_8.go" <<'EOF'
package physical

import "context"

type FencingHABackend interface {
	HABackend

	RegisterActiveNodeLock(l Lock) error
}

type unfencedWriteContextKeyType string

const unfencedWriteContextKey unfencedWriteContextKeyType = "vault-disable-fencing"

func UnfencedWriteCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, unfencedWriteContextKey, true)
}

func IsUnfencedWrite(ctx context.Context) bool {
	isUnfenced, ok := ctx.Value(unfencedWriteContextKey).(bool)
	return ok && isUnfenced
}
EOF

sed -i 's|^\([[:space:]]*\)panic(fmt.Sprintf("Pattern %v defines a CreateOperation but no ExistenceCheck", p.Pattern))|\1// no panic: Vault 1.14.8 has paths without one (see install-hashicorp.sh)|' \
  "$WORK_DIR/sdk/framework/backend.go"
if grep -q 'defines a CreateOperation but no ExistenceCheck' "$WORK_DIR/sdk/framework/backend.go"; then
  log "error: could not patch sdk/framework/backend.go"
  exit 1
fi

cat >"$WORK_DIR/go.mod" <<EOF
module omnisecret.local/vault-hashicorp-build

go 1.20

require (
	github.com/hashicorp/vault v$VAULT_VERSION
	github.com/hashicorp/vault/api $VAULT_API_VERSION
	github.com/hashicorp/vault/sdk $VAULT_SDK_VERSION
)

// sdk v0.9.2 with the symbols of Vault 1.14.8's in-tree sdk that it lacks (see above).
replace github.com/hashicorp/vault/sdk => ./sdk
EOF

# The version is embedded from the module's VERSION file.
ldflags="-s -w"

tmp_bin="$WORK_DIR/vault"
start=$SECONDS
(
  cd "$WORK_DIR"
  # -mod=mod lets go resolve the graph and write go.sum in the throwaway wrapper module;
  # checksums are still verified against the checksum database. nice: the build takes both
  # cores for minutes, and it should not starve servers or benchmarks running beside it.
  GOFLAGS="-mod=mod" GOWORK=off CGO_ENABLED=0 \
    nice -n 15 go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp_bin" github.com/hashicorp/vault
) >&2

if ! binary_ok "$tmp_bin"; then
  log "error: built binary does not run"
  exit 1
fi
mv -f "$tmp_bin" "$BIN"
log "built in $((SECONDS - start)) s: $("$BIN" version)"

printf '%s\n' "$BIN"
