#!/bin/sh
# run_game.sh - the game server with a few hundred bots for a few seconds.
#
#   samples/lua/run_game.sh BUILD_DIR [--bots N] [--seconds S] [--io-threads N]
#                           [--backend B] [--world U] [--cell U] [--zone U]
#                           [--tick-hz HZ] [other game_server.lua options]
#                           [bots.lua options, e.g. --hostile N --resumes N]
#
# Starts samples/lua/game_server.lua on a free port (its live stats line goes
# to stderr each second), runs samples/lua/bots.lua against it (default 300
# bots for 5 seconds), stops the server with SIGTERM, and prints the bots'
# BOTS (and HOSTILE) and SUMMARY lines and the server's GAME line. Exits non-zero when the
# bots saw any error, or either side failed.
set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR [--bots N] [--seconds S] [--io-threads N] [--backend B]" >&2
    echo "       [--world U] [--cell U] [--zone U] [--tick-hz HZ] [bots.lua options]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
lua=${LUA:-lua5.4}

bots=300
seconds=5
server_opts=""
bot_opts=""
while [ $# -gt 0 ]; do
    case "$1" in
    --bots) bots=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --io-threads|--backend) server_opts="$server_opts $1 $2"; bot_opts="$bot_opts $1 $2"; shift 2 ;;
    --world|--cell|--zone|--tick-hz|--max-players|--login-timeout|--heartbeat-timeout|--grace|\
    --highwater|--slow-grace|--sndbuf|--max-rate|--extension)
        server_opts="$server_opts $1 $2"; shift 2 ;;
    *) bot_opts="$bot_opts $1"; shift ;;
    esac
done

if [ ! -f "$build/bindings/lua/net.so" ]; then
    echo "run_game.sh: $build/bindings/lua/net.so not found (build the net_lua target)" >&2
    exit 2
fi
LUA_CPATH="$build/bindings/lua/?.so;${LUA_CPATH:-;}"
export LUA_CPATH

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$lua" "$here/game_server.lua" --port 0 $server_opts >"$tmp/server.out" &
server=$!

port=""
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\) .*/\1/p' "$tmp/server.out")
    [ -n "$port" ] && break
    if ! kill -0 "$server" 2>/dev/null; then break; fi
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "run_game.sh: the game server did not start" >&2
    kill "$server" 2>/dev/null
    wait "$server" 2>/dev/null
    exit 1
fi
head -n 1 "$tmp/server.out"

# shellcheck disable=SC2086
"$lua" "$here/bots.lua" --port "$port" --bots "$bots" --seconds "$seconds" $bot_opts
bots_rc=$?

kill -TERM "$server" 2>/dev/null
wait "$server"
server_rc=$?
grep '^GAME ' "$tmp/server.out"

if [ $bots_rc -ne 0 ] || [ $server_rc -ne 0 ]; then
    echo "run_game.sh: FAILED (bots exit $bots_rc, server exit $server_rc)" >&2
    exit 1
fi
echo "run_game.sh: ok"
