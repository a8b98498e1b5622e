#!/usr/bin/env bash
# The main job: build net, then run the echo server under the dummy client's
# verifying load for a few seconds and print the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNET_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

SECONDS_TO_RUN=${NET_MAIN_SECONDS:-5}
out=$(mktemp)
build/samples/echo_server --port 0 --framing u16le --length-includes-header --io-threads 0 >"$out" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q "listening on" "$out" && break; sleep 0.1; done
cat "$out"
port=$(sed -n 's/^listening on .*:\([0-9]*\) backend.*/\1/p' "$out")
build/samples/dummy_client --port "$port" --connections 100 --depth 4 --size 64 \
  --seconds "$SECONDS_TO_RUN" --framing u16le --length-includes-header
kill -TERM $server
wait $server
