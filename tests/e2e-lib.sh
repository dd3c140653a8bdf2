# Shared by the end-to-end runs with real clients (tests/sdk/run.sh,
# tests/claude-code/run.sh): the binaries, a temp dir, servers in the
# background that die with the script, and the logs on failure.
#
# Source it from the workspace root, after `set -euo pipefail`:
#
#   . tests/e2e-lib.sh
#   e2e_init sdk                 # messages say "sdk: ..."; makes $E2E_WORK
#   e2e_build                    # sets $E2E_MOCK and $E2E_PROXY
#   e2e_start mock "$E2E_MOCK" --listen 127.0.0.1:0 ...
#   mock_url=$E2E_URL            # from its "listening on http://..." line
#   e2e_say "ok"                 # "sdk: ok"
#
# Env: E2E_START_TIMEOUT (seconds, default 30) bounds each server's start;
#      E2E_BIN_DIR takes mock-upstream and proxy from that directory as they
#        are (nothing is built); default: `cargo build` into target/debug;
#      E2E_KEEP=1 keeps $E2E_WORK (it is printed) instead of removing it.

E2E_NAME=e2e
E2E_WORK=
E2E_URL=
E2E_PIDS=()
E2E_LOGS=()

e2e_say() { printf '%s: %s\n' "$E2E_NAME" "$*"; }

# Prints "NAME: MESSAGE" on stderr and exits 1 (the trap prints the logs).
e2e_fail() {
  printf '%s: %s\n' "$E2E_NAME" "$*" >&2
  exit 1
}

# e2e_init NAME: the message prefix, a fresh $E2E_WORK, and the traps.
e2e_init() {
  E2E_NAME=$1
  E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/rulegate-$E2E_NAME.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# e2e_build: $E2E_MOCK and $E2E_PROXY, built unless E2E_BIN_DIR is set.
e2e_build() {
  local dir=${E2E_BIN_DIR:-}
  if [ -z "$dir" ]; then
    cargo build --quiet -p rulegate-proxy -p rulegate-mock-upstream
    dir=target/debug
  fi
  E2E_MOCK=$dir/mock-upstream
  E2E_PROXY=$dir/proxy
  local bin
  for bin in "$E2E_MOCK" "$E2E_PROXY"; do
    [ -x "$bin" ] || e2e_fail "$bin is not an executable"
  done
}

# e2e_log FILE...: also print these files if the run fails.
e2e_log() { E2E_LOGS+=("$@"); }

# e2e_start NAME CMD...: runs CMD in the background (killed on exit), its
# stdout and stderr in $E2E_WORK/NAME.log, and waits for its first
# "listening on http://HOST:PORT" line; sets E2E_URL to http://HOST:PORT.
e2e_start() {
  local name=$1
  shift
  local log=$E2E_WORK/$name.log
  "$@" >"$log" 2>&1 &
  E2E_PIDS+=("$!")
  E2E_LOGS+=("$log")
  e2e_wait_for_url "$log" "$!" "$name"
}

# e2e_wait_for_url FILE PID WHAT: sets E2E_URL from the first "listening on
# http://HOST:PORT" in FILE, waiting up to $E2E_START_TIMEOUT seconds while
# process PID is alive.
e2e_wait_for_url() {
  local file=$1 pid=$2 what=$3 url
  local deadline=$((SECONDS + ${E2E_START_TIMEOUT:-30}))
  while :; do
    url=$(grep -o 'listening on http://[0-9.:]*' "$file" 2>/dev/null | head -n 1 || true)
    if [ -n "$url" ]; then
      E2E_URL=${url#listening on }
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      e2e_fail "$what exited before listening"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      e2e_fail "$what did not print its address within ${E2E_START_TIMEOUT:-30}s"
    fi
    sleep 0.05
  done
}

# The EXIT trap: stops the servers (last started first), prints the logs if
# the script fails, removes $E2E_WORK, and keeps the exit status.
e2e_cleanup() {
  local status=$? i pid log
  for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${E2E_PIDS[i]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    echo "$E2E_NAME: FAILED (exit $status)" >&2
    for log in "${E2E_LOGS[@]}"; do
      if [ -s "$log" ]; then
        echo "----- ${log#"$E2E_WORK"/} -----" >&2
        cat "$log" >&2
      fi
    done
  fi
  if [ -n "$E2E_WORK" ]; then
    if [ "${E2E_KEEP:-0}" = 1 ]; then
      echo "$E2E_NAME: kept $E2E_WORK" >&2
    else
      rm -rf "$E2E_WORK"
    fi
  fi
  exit "$status"
}
