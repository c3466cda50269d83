# Sourced by the install scripts: where the cache is, how they log, and the lock that lets
# parallel runs install a server once. Set INSTALL_NAME (used in log lines) before sourcing.

log() { printf '%s: %s\n' "$INSTALL_NAME" "$*" >&2; }

# The absolute cache root: $OMNISECRET_CACHE_DIR, else ~/.cache/omnisecret, outside any clone so
# that a fresh clone (as CI makes on every run) reuses what an earlier run installed.
omnisecret_cache_root() {
  local root="${OMNISECRET_CACHE_DIR:-${HOME:?HOME is not set}/.cache/omnisecret}"
  mkdir -p "$root"
  (cd "$root" && pwd -P)
}

# exit_if_installed READY_CHECK PATH: when READY_CHECK succeeds, prints PATH (the scripts'
# only stdout) and ends the script.
exit_if_installed() {
  if "$1"; then
    printf '%s\n' "$2"
    exit 0
  fi
}

# hold_install_lock DIR WHAT: takes DIR/.lock for the rest of the script (fd 9), waiting while
# another install of WHAT holds it. Without flock, installs are not serialised.
hold_install_lock() {
  mkdir -p "$1"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$1/.lock"
  if ! flock -n 9; then
    log "another install of $2 is running; waiting for it"
    flock 9
  fi
}
