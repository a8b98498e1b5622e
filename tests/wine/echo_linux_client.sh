#!/usr/bin/env bash
# echo_linux_client.sh - echo_server.exe (IOCP) under Wine serves the native
# Linux dummy_client over loopback, framed (u16le, length includes header,
# the seeds' framing) and raw, with io_threads 0 and 1. Every run must end
# with the client's exit code 0 and "errors=0", and the server's exit code 0.
#
#   tests/wine/echo_linux_client.sh BUILD_WIN_DIR BUILD_LINUX_DIR [CLIENT_SECONDS]
#
# BUILD_WIN_DIR holds echo_server.exe and net.dll (and the Wine prefix made
# by the toolchain file, "wineprefix"); BUILD_LINUX_DIR is a native build
# with samples/dummy_client. WINE overrides the wine program; CONNECTIONS,
# DEPTH and SIZE the load (defaults 50, 4, 64).
set -euo pipefail
win=$(cd "${1:?usage: echo_linux_client.sh BUILD_WIN_DIR BUILD_LINUX_DIR [CLIENT_SECONDS]}" && pwd)
lin=$(cd "${2:?usage: echo_linux_client.sh BUILD_WIN_DIR BUILD_LINUX_DIR [CLIENT_SECONDS]}" && pwd)
secs=${3:-3}
conns=${CONNECTIONS:-50}
depth=${DEPTH:-4}
size=${SIZE:-64}

server_exe=$win/echo_server.exe
client=$(find "$lin" -path '*samples/dummy_client' -type f | head -n1)
# CLIENT=loadgen: the independent stdlib-Python load generator instead of
# dummy_client (which is built on the library itself).
here=$(cd "$(dirname "$0")" && pwd)
if [ "${CLIENT:-dummy}" = loadgen ]; then
    client_cmd=(python3 "$here/../e2e/loadgen.py")
else
    client_cmd=("$client")
fi
[ -f "$server_exe" ] || { echo "FAIL: no $server_exe"; exit 1; }
[ -n "$client" ] && [ -x "$client" ] || { echo "FAIL: no samples/dummy_client under $lin"; exit 1; }
wine=${WINE:-$(command -v wine || command -v wine64 || true)}
[ -n "$wine" ] || { echo "SKIP: no wine"; exit 77; }
export WINEPREFIX=${WINEPREFIX:-$win/wineprefix} WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}

tmp=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

"$wine" cmd /c exit >/dev/null 2>&1 || true # make sure the prefix exists before timing anything

failures=0
run() { # framing_label io_threads framing args...
    local label=$1 threads=$2
    shift 2
    local out=$tmp/server.out err=$tmp/server.err
    # The server stops on its own: a POSIX signal to wine is no console
    # event for the program. Enough time to start, serve and drain.
    local server_secs=$((secs + 10))
    "$wine" "$server_exe" --host 127.0.0.1 --port 0 --backend iocp --io-threads "$threads" "$@" \
        --seconds "$server_secs" >"$out" 2>"$err" &
    server_pid=$!
    local port=
    for _ in $(seq 200); do
        port=$(sed -n 's/^listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p' "$out" | head -n1)
        [ -n "$port" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "FAIL [$label t$threads]: the server did not start"
        cat "$out" "$err" >&2 || true
        failures=$((failures + 1))
        wait "$server_pid" || true
        server_pid=
        return
    fi
    grep -q "backend=iocp" "$out" || { echo "FAIL [$label t$threads]: server not on iocp: $(head -n1 "$out")"; failures=$((failures + 1)); }
    local crc=0
    "${client_cmd[@]}" --host 127.0.0.1 --port "$port" --connections "$conns" --depth "$depth" --size "$size" \
        --seconds "$secs" "$@" >"$tmp/client.out" 2>"$tmp/client.err" || crc=$?
    local summary
    summary=$(grep '^SUMMARY' "$tmp/client.out" || true)
    local src=0
    wait "$server_pid" || src=$?
    server_pid=
    if [ "$crc" -ne 0 ] || ! grep -q ' errors=0$' <<<"$summary" || [ "$src" -ne 0 ]; then
        echo "FAIL [$label t$threads]: client exit $crc, server exit $src: ${summary:-no SUMMARY}"
        tail -n 20 "$tmp/client.err" >&2 || true
        tail -n 20 "$err" >&2 || true
        failures=$((failures + 1))
        return
    fi
    echo "ok [$label io_threads=$threads]: $summary"
}

for threads in 0 1; do
    run "u16le+header" "$threads" --framing u16le --length-includes-header
    run "raw" "$threads" --framing raw
done

if [ "$failures" -ne 0 ]; then
    echo "$failures run(s) failed"
    exit 1
fi
echo "ok: the Wine IOCP echo server served the Linux dummy_client with zero errors"
