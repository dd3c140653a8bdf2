#!/usr/bin/env bash
# A real Claude Code session end to end: `claude -p` talks to the gateway
# (`proxy` with rules/), which relays to `mock-upstream` playing the model.
#
#   A (text): the mock answers a text with an email and a GitHub token;
#     Claude Code must print it with both redacted.
#   B (a tool round trip): the mock answers with a `tool_use` of Claude
#     Code's Bash tool (`cat secrets.env`); Claude Code runs it for real in a
#     temp directory and sends the file's two secrets back in a
#     `tool_result`; the mock (which answers a tool_result with its text
#     only) must have received them redacted, never in clear, and the
#     gateway must have logged an audit line per masked rule.
#   C (a session survives a reject): the user sends a GitHub token; the
#     gateway rejects the request (400) and Claude Code reports the
#     gateway's message. The user then sends `hello` in the same session
#     (`--continue`): the rejected message is still in the history, so the
#     gateway masks it there instead of rejecting again, and the session
#     goes on.
#
# Needs the Rust toolchain, Node >= 18 with npm (the npm registry reachable
# on the first run) and coreutils `timeout`. Claude Code is installed once
# into target/claude-code and reused. It runs with a clean environment
# (`env -i`: no proxy, no credential or Claude setting of the caller), a
# throwaway HOME, telemetry, updates and non-essential traffic off, so the
# only host it talks to is the gateway.
#
# Env: CLAUDE_CODE_SPEC (default @anthropic-ai/claude-code@2) what npm
#        installs; change it after removing target/claude-code;
#      CLAUDE_CODE_TIMEOUT (seconds, default 120) bounds each session;
#      E2E_START_TIMEOUT, E2E_BIN_DIR, E2E_KEEP: see tests/e2e-lib.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. tests/e2e-lib.sh
e2e_init claude-code

started=$SECONDS
spec=${CLAUDE_CODE_SPEC:-@anthropic-ai/claude-code@2}
prefix=target/claude-code
claude=$PWD/$prefix/node_modules/.bin/claude
session_timeout=${CLAUDE_CODE_TIMEOUT:-120}
api_key=sk-ant-test-rulegate-claude-code-e2e
github_token=ghp_a9U4UqGWlG6g3Ot1OGMmjxWkI9X7H6aMuFbh
aws_key_id=AKIAHBRPOIGF3CBFNOBM

# claude HOME ARGS...: Claude Code in a clean environment with HOME, aimed
# at $proxy_url, bounded by $session_timeout.
claude() {
  local home=$1
  shift
  mkdir -p "$home"
  env -i \
    PATH="$PATH" HOME="$home" TMPDIR="${TMPDIR:-/tmp}" SHELL="$(command -v bash)" \
    LANG=C.UTF-8 TERM=dumb NO_COLOR=1 CI=1 \
    ANTHROPIC_BASE_URL="${proxy_url:-http://127.0.0.1:9}" ANTHROPIC_API_KEY="$api_key" \
    DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1 \
    DISABLE_BUG_COMMAND=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    timeout --kill-after=5 "$session_timeout" "$claude" "$@" </dev/null
}

# 1. Claude Code (a native binary that npm's postinstall puts in place).
if ! claude "$E2E_WORK/home-version" --version >/dev/null 2>&1; then
  e2e_say "npm install $spec into $prefix"
  install_started=$SECONDS
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$spec"
  e2e_say "installed in $((SECONDS - install_started))s"
fi
version=$(claude "$E2E_WORK/home-version" --version)
version=${version%% *}
e2e_say "claude $version"

# 2. The binaries.
e2e_build

# claude_session NAME DIR ARGS...: runs Claude Code in DIR with ARGS, its own
# HOME (or $session_home if set), against $proxy_url; its stdout in
# $E2E_WORK/NAME.out, stderr in NAME.err; sets $claude_status.
claude_session() {
  local name=$1 dir=$2
  shift 2
  e2e_log "$E2E_WORK/$name.out" "$E2E_WORK/$name.err"
  claude_status=0
  (cd "$dir" && claude "${session_home:-$E2E_WORK/home-$name}" "$@") \
    >"$E2E_WORK/$name.out" 2>"$E2E_WORK/$name.err" || claude_status=$?
}

# start_pair NAME MOCK_ARGS...: a mock (recording into $E2E_WORK/NAME-requests)
# and a gateway in front of it; sets $proxy_url, $requests, $proxy_log.
start_pair() {
  local name=$1
  shift
  requests=$E2E_WORK/$name-requests
  e2e_start "$name-mock" "$E2E_MOCK" --listen 127.0.0.1:0 --record-dir "$requests" "$@"
  local mock_url=$E2E_URL
  e2e_start "$name-proxy" env NO_COLOR=1 RUST_LOG=info "$E2E_PROXY" \
    --rules rules --listen 127.0.0.1:0 --upstream "$mock_url"
  proxy_url=$E2E_URL
  proxy_log=$E2E_WORK/$name-proxy.log
}

# expect_output NAME TEXT: the session exited 0 and printed exactly TEXT.
expect_output() {
  local name=$1 expected=$2 got
  [ "$claude_status" -eq 0 ] || e2e_fail "$name: claude exited $claude_status"
  got=$(cat "$E2E_WORK/$name.out")
  [ "$got" = "$expected" ] ||
    e2e_fail "$name: claude printed [$got], expected [$expected]"
}

# no_secret WHAT FILE_OR_DIR...: neither secret is there.
no_secret() {
  local what=$1
  shift
  local found
  found=$(grep -rlF -e "$github_token" -e "$aws_key_id" "$@" || true)
  [ -z "$found" ] || e2e_fail "$what holds a secret: $(echo $found)"
}

# clean_log WHAT LOG: neither secret nor the x-api-key value is in LOG.
clean_log() {
  no_secret "$1" "$2"
  ! grep -qF -e "$api_key" "$2" || e2e_fail "$1 holds the x-api-key value"
}

# expect_audit LOG RULE SIDE SCOPE: an audit line masking RULE there.
expect_audit() {
  grep -qE "rulegate::audit: request=[0-9]+ team=[^ ]+ key=[^ ]+ session=[^ ]+ rule=$2 action=mask side=$3 scope=$4 " "$1" ||
    e2e_fail "no audit line for rule=$2 action=mask side=$3 scope=$4 in ${1#"$E2E_WORK"/}"
}

# What the mock received, one "METHOD PATH?QUERY" a line.
received() {
  local head
  for head in "$requests"/*.head; do
    head -n 1 "$head" | cut -d ' ' -f 1,2
  done
}

# 3. Scenario A: a streamed text answer with two secrets, cut every 3 bytes.
start_pair a --delta-size 3 --frame-size 7 \
  --text "Hello! Mail jane.doe@northwind-mail.com, token $github_token done."
mkdir "$E2E_WORK/project-a"
claude_session a "$E2E_WORK/project-a" -p "say hello" --max-turns 1
expect_output a "Hello! Mail [redacted:email], token [redacted:github-token] done."
expect_audit "$proxy_log" github-token response assistant
clean_log "scenario A: the gateway log" "$proxy_log"
e2e_say "A (text): ok; the mock received: $(received | sort | uniq -c | xargs)"

# 4. Scenario B: Bash reads a file of secrets; they travel in a tool_result.
# Turn 1 gets the text and the tool_use, turn 2 (with the tool_result) the
# text alone, which `claude -p` prints.
final='secrets.env sets a GitHub token and an AWS access key id.'
start_pair b --delta-size 3 --text "$final" \
  --tool-use Bash '{"command": "cat secrets.env", "description": "Show the env file"}'
project=$E2E_WORK/project-b
mkdir "$project"
printf 'GITHUB_TOKEN=%s\nAWS_ACCESS_KEY_ID=%s\n' "$github_token" "$aws_key_id" >"$project/secrets.env"
claude_session b "$project" -p "show me secrets.env" --allowedTools Bash --max-turns 3
expect_output b "$final"
no_secret "scenario B: what the upstream received" "$requests"
clean_log "scenario B: the gateway log" "$proxy_log"
expect_audit "$proxy_log" github-token request tool_result
expect_audit "$proxy_log" aws-access-key-id request tool_result
# The tool really ran, and its output reached the upstream redacted.
node - "$requests" "$api_key" <<'EOF' || e2e_fail "scenario B: the recorded requests are not as expected"
const fs = require("fs");
const path = require("path");
const [dir, apiKey] = process.argv.slice(2);
const fail = (message) => { console.error("claude-code: " + message); process.exit(1); };
const names = fs.readdirSync(dir).filter((n) => n.endsWith("-v1_messages.json")).sort();
const calls = names.map((name) => ({
  name,
  body: JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")),
  head: fs.readFileSync(path.join(dir, name.replace(/\.json$/, ".head")), "utf8"),
}));
for (const call of calls) {
  if (!call.head.toLowerCase().split("\n").includes("x-api-key: " + apiKey)) {
    fail(`${call.name}: the x-api-key header did not reach the upstream`);
  }
}
const last = (call) => call.body.messages[call.body.messages.length - 1];
const results = calls.filter((call) =>
  Array.isArray(last(call).content) && last(call).content.some((b) => b.type === "tool_result"));
if (results.length !== 1) fail(`${results.length} requests report a tool_result, expected 1`);
const call = results[0];
const result = last(call).content.find((b) => b.type === "tool_result");
const uses = call.body.messages
  .filter((m) => m.role === "assistant" && Array.isArray(m.content))
  .flatMap((m) => m.content)
  .filter((b) => b.type === "tool_use" && b.id === result.tool_use_id);
if (uses.length !== 1 || uses[0].name !== "Bash" || uses[0].input.command !== "cat secrets.env") {
  fail(`${call.name}: the tool_result does not answer the scripted Bash tool_use`);
}
const text = typeof result.content === "string"
  ? result.content
  : result.content.filter((b) => b.type === "text").map((b) => b.text).join("\n");
if (result.is_error) fail(`${call.name}: the tool failed: ${text}`);
for (const want of ["GITHUB_TOKEN=[redacted:github-token]", "AWS_ACCESS_KEY_ID=[redacted:aws-access-key-id]"]) {
  if (!text.includes(want)) fail(`${call.name}: the tool_result lacks ${want}: ${JSON.stringify(text)}`);
}
EOF
e2e_say "B (tool_result): ok; the mock received: $(received | sort | uniq -c | xargs)"

# 5. Scenario C: a rejected message, then a clean one in the same session.
start_pair c --text "Hello again."
project=$E2E_WORK/project-c
mkdir "$project"
session_home=$E2E_WORK/home-c
claude_session c1 "$project" -p "here is my token $github_token" --max-turns 1
[ "$claude_status" -ne 0 ] || e2e_fail "scenario C: the session with a token did not fail"
grep -qF "rulegate: the request was not forwarded" "$E2E_WORK/c1.out" "$E2E_WORK/c1.err" ||
  e2e_fail "scenario C: Claude Code did not show the gateway's reason"
claude_session c2 "$project" --continue -p "hello" --max-turns 1
unset session_home
expect_output c2 "Hello again."
no_secret "scenario C: what the upstream received" "$requests"
clean_log "scenario C: the gateway log" "$proxy_log"
node - "$requests" <<'EOF' || e2e_fail "scenario C: the second request is not as expected"
const fs = require("fs");
const path = require("path");
const dir = process.argv[2];
const fail = (message) => { console.error("claude-code: " + message); process.exit(1); };
const names = fs.readdirSync(dir).filter((n) => n.endsWith("-v1_messages.json")).sort();
const text = (m) => typeof m.content === "string" ? m.content
  : m.content.filter((b) => b.type === "text").map((b) => b.text).join("\n");
const continued = names.map((n) => JSON.parse(fs.readFileSync(path.join(dir, n), "utf8")))
  .filter((body) => body.messages.some((m) => m.role === "user" && text(m).includes("hello")));
if (continued.length === 0) fail("no request carried the second message");
const history = continued[continued.length - 1].messages.map(text).join("\n");
if (!history.includes("[redacted:github-token]")) {
  fail("the rejected message is not in the history, masked: " + JSON.stringify(history).slice(0, 400));
}
EOF
e2e_say "C (reject, then continue): ok; the mock received: $(received | sort | uniq -c | xargs)"

e2e_say "ok: Claude Code $version through the gateway passed in $((SECONDS - started))s"
