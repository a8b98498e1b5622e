#!/usr/bin/env bash
# The main job: build net and its Lua binding, then run the Lua game server
# (samples/lua/game_server.lua) with a few hundred simulated players
# (samples/lua/bots.lua) for a few seconds and print the summary. Exits
# non-zero when a bot saw anything wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target net net_lua dummy_client echo_server >/dev/null
exec samples/lua/run_game.sh build --bots "${NET_MAIN_BOTS:-300}" --seconds "${NET_MAIN_SECONDS:-5}"
