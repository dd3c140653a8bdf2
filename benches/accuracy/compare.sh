#!/usr/bin/env bash
# Line-level comparison of the shipped packs with detect-secrets on the
# generated corpus. Arguments go to the `accuracy` binary (--seed, --docs,
# --rules, --rules-at, --corpus). Everything is written under
# target/accuracy/ (or $ACCURACY_OUT).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out="${ACCURACY_OUT:-$root/target/accuracy}"
venv="$root/target/accuracy-venv"
version=${DETECT_SECRETS_VERSION:-1.5.0}
mkdir -p "$out"

if [ ! -x "$venv/bin/detect-secrets" ] || ! "$venv/bin/detect-secrets" --version | grep -qx "$version"; then
    echo "== installing detect-secrets $version into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "detect-secrets==$version"
fi

echo "== generating the corpus and scoring the packs (span level): $out/ours.md" >&2
cargo run --release --quiet -p rulegate-benches --bin accuracy -- --out "$out" "$@" > "$out/ours.md"
cat "$out/ours.md"
echo

# --all-files walks the directory instead of asking git for tracked files;
# -n turns off verification (network calls, none possible here).
echo "== detect-secrets $("$venv/bin/detect-secrets" --version) scan --all-files -n" >&2
started=$(date +%s.%N)
(cd "$out/corpus" && "$venv/bin/detect-secrets" scan --all-files -n .) > "$out/detect-secrets.json"
ended=$(date +%s.%N)
"$venv/bin/python" - "$out/detect-secrets.json" "$version" <<'PY'
import json, sys
path, version = sys.argv[1], sys.argv[2]
data = json.load(open(path))
data["version"] = version
json.dump(data, open(path, "w"), indent=1)
PY

python3 "$root/benches/accuracy/score_lines.py" "$out"
mib=$(python3 -c 'import os, sys; d = sys.argv[1]; print(round(sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) / 2**20, 1))' "$out/corpus")
echo
echo "- time: detect-secrets scan $(python3 -c "print(round($ended - $started, 1))") s wall for ${mib} MiB ($(nproc) cores); our scan time is in the header above"
