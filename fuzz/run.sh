#!/usr/bin/env bash
# Builds and runs every fuzz target for a bounded time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# With a nightly toolchain (rustup's `nightly`, installed here if rustup can
# fetch it) and cargo-fuzz (installed from crates.io if missing), each
# target runs coverage-guided under libFuzzer for SECONDS (default 60),
# starting from the committed seeds in fuzz/seeds/TARGET (the grown corpus
# goes to fuzz/corpus/TARGET, not committed). A crash is copied to
# fuzz/regressions/TARGET/, where `cargo test -p rulegate-tests --test
# fuzz_corpus` replays it on stable from then on, and the script fails.
#
# Without nightly it says so and falls back to that stable replay of every
# seed and regression (no coverage guidance).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(parse json sse tool_json request views)
fi

say() { printf 'fuzz: %s\n' "$*"; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || true
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  say "no nightly toolchain here: replaying seeds and regressions on stable instead"
  cd .. && exec cargo test -p rulegate-tests --test fuzz_corpus
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked >/dev/null
fi

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "regressions/$target" "artifacts/$target"
  say "$target: ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" 2>"artifacts/$target.log"; then
    tail -n 40 "artifacts/$target.log" >&2
    for crash in "artifacts/$target"/*; do
      [ -f "$crash" ] && cp "$crash" "regressions/$target/" && say "$target: kept $(basename "$crash") as a regression"
    done
    failed+=("$target")
  else
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "artifacts/$target.log" | sed "s/^/fuzz: $target: /" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  say "crashed: ${failed[*]}"
  exit 1
fi
say "ok: ${targets[*]}, ${seconds}s each"
