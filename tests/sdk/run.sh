#!/usr/bin/env bash
# One real client end to end: the official `anthropic` Python SDK talks to
# the gateway (`proxy` with rules/), which relays to `mock-upstream`.
#
# Needs the Rust toolchain and CPython >= 3.8 with venv + pip (PyPI
# reachable on the first run). The venv lives in target/sdk-venv and is
# reused; `anthropic` is installed only when it cannot be imported.
#
# Env: PYTHON (default python3) picks the interpreter for the venv;
#      SDK_START_TIMEOUT (seconds, default 30) bounds each server's start.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

started=$SECONDS
python=${PYTHON:-python3}
venv=target/sdk-venv
anthropic_spec='anthropic>=0.40,<1'
timeout=${SDK_START_TIMEOUT:-30}
# An email and a GitHub token; with --delta-size 3 both are cut across
# several text_delta events, and with --frame-size 7 across body frames.
text='Contact jane.doe@example.com; token ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh is live.'

say() { printf 'sdk: %s\n' "$*"; }

# 1. The venv and the SDK.
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import anthropic' 2>/dev/null; then
  say "pip install $anthropic_spec"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$anthropic_spec"
fi
say "anthropic $("$venv/bin/python" -c 'import anthropic; print(anthropic.__version__)')"

# 2. The binaries.
cargo build --quiet -p rulegate-proxy -p rulegate-mock-upstream
proxy_bin=target/debug/proxy
mock_bin=target/debug/mock-upstream

# 3. The servers; both die with this script.
work=$(mktemp -d "${TMPDIR:-/tmp}/rulegate-sdk.XXXXXX")
mock_pid=
proxy_pid=
cleanup() {
  status=$?
  for pid in "$proxy_pid" "$mock_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "$status" -ne 0 ]; then
    echo "sdk: FAILED (exit $status)" >&2
    for log in mock.out mock.err proxy.log; do
      if [ -s "$work/$log" ]; then
        echo "----- $log -----" >&2
        cat "$work/$log" >&2
      fi
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints the first `http://HOST:PORT` that follows "listening on " in
# file $1, waiting up to $timeout seconds while process $2 is alive.
wait_for_url() {
  local file=$1 pid=$2 what=$3 url deadline=$((SECONDS + timeout))
  while :; do
    url=$(grep -o 'listening on http://[0-9.:]*' "$file" 2>/dev/null | head -n 1 || true)
    if [ -n "$url" ]; then
      printf '%s\n' "${url#listening on }"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "sdk: $what exited before listening" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "sdk: $what did not print its address within ${timeout}s" >&2
      return 1
    fi
    sleep 0.05
  done
}

"$mock_bin" --listen 127.0.0.1:0 --text "$text" --delta-size 3 --frame-size 7 \
  >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
mock_url=$(wait_for_url "$work/mock.out" "$mock_pid" mock-upstream)

NO_COLOR=1 RUST_LOG=${RUST_LOG:-info} "$proxy_bin" --rules rules --listen 127.0.0.1:0 \
  --upstream "$mock_url" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
proxy_url=$(wait_for_url "$work/proxy.log" "$proxy_pid" proxy)
say "mock-upstream $mock_url, proxy $proxy_url"

# 4. The client.
SDK_MOCK_TEXT=$text "$venv/bin/python" tests/sdk/test_sdk.py "$proxy_url"

say "ok: anthropic SDK through the gateway passed in $((SECONDS - started))s"
