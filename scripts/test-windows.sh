#!/usr/bin/env bash
# test-windows.sh - the Windows build (MinGW-w64 cross build, IOCP backend)
# and all its tests under Wine:
#
#   scripts/test-windows.sh [NATIVE_BUILD_DIR]
#
#   1. configures build-win with cmake/mingw-w64.cmake and builds it;
#   2. runs ctest there: the C suite against IOCP with io_threads 0, 1 and 4
#      (<test>.iocp.t0/.t1), unit tests and the Wine-on-both-ends e2e pair,
#      every program under Wine (CMAKE_CROSSCOMPILING_EMULATOR);
#   3. tests/wine/check_exports.sh: net.dll exports exactly net.h's functions;
#   4. tests/wine/echo_linux_client.sh: echo_server.exe under Wine serves the
#      native Linux dummy_client, framed and raw, with zero errors.
#
# NATIVE_BUILD_DIR (default: build) is a native Linux build holding
# samples/dummy_client; it is configured and that target built if missing.
# Needs gcc-mingw-w64-x86-64 and wine (scripts/install-deps.sh installs both).
# Runs every step, then exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
native=${1:-build}
jobs=$(nproc 2>/dev/null || echo 2)
started=$(date +%s)
failed=()
step() { printf '\n=== %s (%ds)\n' "$*" $(($(date +%s) - started)); }

for tool in x86_64-w64-mingw32-gcc wine; do
    command -v "$tool" >/dev/null || { echo "test-windows: $tool not found (scripts/install-deps.sh)"; exit 1; }
done

step "configure and build build-win (MinGW-w64)"
cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNET_TEST_HOOKS=ON >/dev/null &&
    cmake --build build-win -j"$jobs" || { echo "test-windows: the Windows build failed"; exit 1; }

step "wine prefix (first start takes a few seconds) and one persistent wineserver"
# The toolchain file points every test at this prefix. A wineserver quits a
# few seconds after its last client; a program starting just then fails
# with "wine client error: recvmsg: Connection reset by peer". One server
# kept up for the whole run (ours: stopped on exit) closes that window.
export WINEPREFIX=$PWD/build-win/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
wine cmd /c exit >/dev/null 2>&1 || true
# A persistent server left on this prefix (a run by hand, a killed run)
# would never quit: stop it rather than wait for it.
timeout 60 wineserver -w >/dev/null 2>&1 || wineserver -k >/dev/null 2>&1 || true
if wineserver -p </dev/null >/dev/null 2>&1; then
    trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
    # Wine's own service processes live as long as that server: start them
    # now with no terminal, or the first test would start them holding its
    # output pipes and ctest would wait on it until the timeout.
    wine cmd /c exit </dev/null >/dev/null 2>&1 || true
fi

step "ctest under Wine"
(cd build-win && ctest --output-on-failure -j"$jobs" --timeout 180) || failed+=("ctest")

step "export table of net.dll"
bash tests/wine/check_exports.sh build-win || failed+=("check_exports")

step "native build dir $native for dummy_client"
if [ ! -x "$native/samples/dummy_client" ]; then
    { cmake -S . -B "$native" >/dev/null && cmake --build "$native" -j"$jobs" --target dummy_client; } ||
        failed+=("native dummy_client build")
fi

step "echo_server.exe (IOCP, Wine) serves the Linux dummy_client"
bash tests/wine/echo_linux_client.sh build-win "$native" || failed+=("echo_linux_client")
step "echo_server.exe (IOCP, Wine) serves the independent Python load generator"
CLIENT=loadgen bash tests/wine/echo_linux_client.sh build-win "$native" || failed+=("echo_linux_client loadgen")

step "done in $(($(date +%s) - started))s"
if [ ${#failed[@]} -ne 0 ]; then
    echo "test-windows: FAILED: ${failed[*]}"
    exit 1
fi
echo "test-windows: all passed"
