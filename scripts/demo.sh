#!/usr/bin/env bash
# The main job, end to end on the embedded default store: store, read, replace and delete a
# secret through the CLI. Run it with `npm run demo` (which installs and builds first).
set -euo pipefail
cd "$(dirname "$0")/.."

omnisecret() { node dist/src/cli/main.js "$@"; }
show() {
  printf '\n$ omnisecret %s\n' "$*"
  omnisecret "$@"
}

id="$(node -e 'console.log(crypto.randomUUID())')"
echo "omnisecret demo: provider ${OMNISECRET_PROVIDER:-local}, secret id $id"
echo "(the local store lives at ${OMNISECRET_LOCAL_PATH:-the default path under \$XDG_DATA_HOME or ~/.local/share/omnisecret})"

show store "$id" username=admin 'password=correct horse battery staple'
show get "$id"
show get "$id" --key username
echo
show update "$id" username=admin password=Tr0ub4dor-and-3
show get "$id"
printf '\n$ omnisecret list | grep %s\n' "$id"
omnisecret list | grep -x "$id"
show delete "$id"
printf '\n$ omnisecret get %s   # after delete\n' "$id"
status=0
omnisecret get "$id" || status=$?
echo "exit code $status (1 means not found)"
[ "$status" -eq 1 ]
echo
echo "demo finished: stored, read, replaced and deleted one secret."
