#!/usr/bin/env bash
# bench_wine_vs_epoll.sh - the same echo load (native Linux dummy_client)
# against echo_server.exe on IOCP under Wine and against the native
# echo_server on epoll, alternating, ROUNDS times each; prints every run and
# the median messages/s and p50/p99 latency per server and thread mode.
#
#   tests/wine/bench_wine_vs_epoll.sh BUILD_WIN_DIR BUILD_LINUX_DIR
#
# Environment: ROUNDS (3), SECONDS_PER_RUN (5), CONNECTIONS (50), DEPTH (4),
# SIZE (64), THREADS ("0 1"). The Wine figures measure Wine's emulation of
# Windows sockets on Linux, not Windows.
set -euo pipefail
win=$(cd "${1:?usage: bench_wine_vs_epoll.sh BUILD_WIN_DIR BUILD_LINUX_DIR}" && pwd)
lin=$(cd "${2:?usage: bench_wine_vs_epoll.sh BUILD_WIN_DIR BUILD_LINUX_DIR}" && pwd)
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-5}
conns=${CONNECTIONS:-50}
depth=${DEPTH:-4}
size=${SIZE:-64}
threads_list=${THREADS:-0 1}
client=$(find "$lin" -path '*samples/dummy_client' -type f | head -n1)
native_server=$(find "$lin" -path '*samples/echo_server' -type f | head -n1)
wine=${WINE:-$(command -v wine || command -v wine64)}
export WINEPREFIX=${WINEPREFIX:-$win/wineprefix} WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
"$wine" cmd /c exit >/dev/null 2>&1 || true

tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
framing=(--framing u16le --length-includes-header)

one() { # kind threads -> appends "msgs p50 p99" to $tmp/<kind>.t<threads>
    local kind=$1 t=$2 out=$tmp/srv.out
    : >"$out"
    if [ "$kind" = iocp-wine ]; then
        "$wine" "$win/echo_server.exe" --host 127.0.0.1 --port 0 --backend iocp --io-threads "$t" "${framing[@]}" \
            --seconds $((secs + 8)) >"$out" 2>/dev/null &
    else
        "$native_server" --host 127.0.0.1 --port 0 --backend epoll --io-threads "$t" "${framing[@]}" \
            --seconds $((secs + 8)) >"$out" 2>/dev/null &
    fi
    pid=$!
    local port=
    for _ in $(seq 200); do
        port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p' "$out" | head -n1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    local s
    s=$("$client" --host 127.0.0.1 --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
        --seconds "$secs" "${framing[@]}" 2>/dev/null | grep '^SUMMARY' || true)
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    echo "  $kind t$t: ${s:-no SUMMARY}"
    local m p50 p99 err
    m=$(sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$s")
    p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$s")
    p99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$s")
    err=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$s")
    [ -n "$m" ] && echo "$m $p50 $p99 $err" >>"$tmp/$kind.t$t"
}

echo "load: $conns connections x depth $depth x $size bytes, u16le framing, $secs s per run, $rounds rounds"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
    echo "round $r"
    for t in $threads_list; do
        one epoll-native "$t"
        one iocp-wine "$t"
    done
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "-"}'; }
printf '\n%-14s %-3s %12s %10s %10s %7s\n' server io "msgs/s(med)" "p50_us" "p99_us" errors
for t in $threads_list; do
    for kind in epoll-native iocp-wine; do
        f=$tmp/$kind.t$t
        [ -s "$f" ] || { printf '%-14s t%-2s %12s\n' "$kind" "$t" "no data"; continue; }
        printf '%-14s t%-2s %12s %10s %10s %7s\n' "$kind" "$t" "$(cut -d' ' -f1 "$f" | median)" \
            "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f3 "$f" | median)" "$(awk '{s+=$4} END {print s}' "$f")"
    done
done
