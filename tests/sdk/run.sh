#!/usr/bin/env bash
# One real client end to end: the official `anthropic` Python SDK talks to
# the gateway (`proxy` with rules/), which relays to `mock-upstream`.
#
# Needs the Rust toolchain and CPython >= 3.8 with venv + pip (PyPI
# reachable on the first run). The venv lives in target/sdk-venv and is
# reused; `anthropic` is installed only when it cannot be imported.
#
# Env: PYTHON (default python3) picks the interpreter for the venv;
#      SDK_START_TIMEOUT (seconds, default 30) bounds each server's start;
#      E2E_BIN_DIR, E2E_KEEP: see tests/e2e-lib.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. tests/e2e-lib.sh
E2E_START_TIMEOUT=${SDK_START_TIMEOUT:-${E2E_START_TIMEOUT:-30}}
e2e_init sdk

started=$SECONDS
python=${PYTHON:-python3}
venv=target/sdk-venv
anthropic_spec='anthropic>=0.40,<1'
# An email and a GitHub token; with --delta-size 3 both are cut across
# several text_delta events, and with --frame-size 7 across body frames.
text='Contact jane.doe@northwind-mail.com; token ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh is live.'

say() { e2e_say "$@"; }

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
e2e_build

# 3. The servers; both die with this script.
e2e_start mock-upstream "$E2E_MOCK" --listen 127.0.0.1:0 --text "$text" \
  --delta-size 3 --frame-size 7
mock_url=$E2E_URL
e2e_start proxy env NO_COLOR=1 RUST_LOG="${RUST_LOG:-info}" "$E2E_PROXY" \
  --rules rules --listen 127.0.0.1:0 --upstream "$mock_url"
proxy_url=$E2E_URL
say "mock-upstream $mock_url, proxy $proxy_url"

# 4. The client.
SDK_MOCK_TEXT=$text "$venv/bin/python" tests/sdk/test_sdk.py "$proxy_url"

say "ok: anthropic SDK through the gateway passed in $((SECONDS - started))s"
