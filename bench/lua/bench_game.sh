#!/bin/sh
# bench_game.sh - how many players the Lua game server serves at 20 Hz, and
# its tick time, under samples/lua/bots.lua.
#
#   bench/lua/bench_game.sh BUILD_DIR [SECONDS] [PLAYERS...]
#
# For each player count (default 300 500 1000) and io_threads 0 and 1, runs
# samples/lua/run_game.sh for SECONDS (default 10) in a world sized so the
# density stays at about 3 players per 100x100 cell (the default world,
# 1000x1000, at 300 players), and prints one row per run: players, ticks
# per second, tick p50/p99 (wall time of one tick: AOI + broadcasts) and the
# same in the server thread's CPU time (apart from preemption), the server's
# messages in/out per second, the bots' chat round trip p50/p99 and errors.
# The bots run on the same machine and take CPU from the server.
set -u
if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [SECONDS] [PLAYERS...]" >&2
    exit 2
fi
build=$1
seconds=${2:-10}
shift
[ $# -gt 0 ] && shift
counts=${*:-300 500 1000}
here=$(cd "$(dirname "$0")" && pwd)
run_game="$here/../../samples/lua/run_game.sh"

printf "%-8s %-3s %-6s %-8s %-8s %-8s %-8s %-8s %-8s %-10s %-10s %s\n" players t tick/s p50_ms p99_ms cpu_p50 cpu_p99 in/s out/s chat_p50ms chat_p99ms errors
status=0
for n in $counts; do
    # world side for ~3 players per 100x100 cell, whole cells
    world=$(awk -v n="$n" 'BEGIN { w = int(sqrt(n / 3.0) + 0.999) * 100; print (w < 300 ? 300 : w) }')
    for t in 0 1; do
        out=$("$run_game" "$build" --bots "$n" --seconds "$seconds" --io-threads "$t" --world "$world" 2>/dev/null)
        rc=$?
        game=$(printf "%s\n" "$out" | grep '^GAME ')
        sum=$(printf "%s\n" "$out" | grep '^SUMMARY ')
        get() { printf "%s\n" "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
        secs=$(get "$game" seconds)
        printf "%-8s %-3s %-6s %-8s %-8s %-8s %-8s %-8.0f %-8.0f %-10.1f %-10.1f %s\n" "$n" "$t" \
            "$(get "$game" ticks_per_s)" "$(get "$game" tick_p50_ms)" "$(get "$game" tick_p99_ms)" \
            "$(get "$game" tick_cpu_p50_ms)" "$(get "$game" tick_cpu_p99_ms)" \
            "$(awk -v a="$(get "$game" msgs_in)" -v s="$secs" 'BEGIN { print a / s }')" \
            "$(awk -v a="$(get "$game" msgs_out)" -v s="$secs" 'BEGIN { print a / s }')" \
            "$(awk -v a="$(get "$sum" p50_us)" 'BEGIN { print a / 1000 }')" \
            "$(awk -v a="$(get "$sum" p99_us)" 'BEGIN { print a / 1000 }')" \
            "$(get "$sum" errors)"
        [ $rc -eq 0 ] || status=1
    done
done
exit $status
