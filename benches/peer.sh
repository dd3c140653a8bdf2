#!/usr/bin/env bash
# rulegate against Vectorscan: installs libvectorscan5 when ldconfig does
# not list libhs, then runs the peer bench (see benches/peer_bench.rs).
# Usage: benches/peer.sh   (SLOW_SEARCH_SECS=N adds a fresh slow-input search)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ldconfig -p | grep -q 'libhs\.so'; then
    echo "== installing libvectorscan5 (apt-get)"
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update
    "${sudo_cmd[@]}" apt-get install -y libvectorscan5
fi

echo "== cargo bench -p rulegate-benches --bench peer"
exec cargo bench -p rulegate-benches --bench peer
