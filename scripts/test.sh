#!/usr/bin/env bash
# Every test: C (every backend built here, both thread modes), the
# sanitizer build, unit tests, Lua, Python, C#, and Windows (IOCP) under
# Wine. Installs what it needs first. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

# 1000-connection tests and hostile churn need more than the default 1024 fds.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
JOBS=$(nproc)
started=$(date +%s)
step() { printf '\n=== %s (%ds)\n' "$*" $(( $(date +%s) - started )); }

step "native build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
step "ctest: unit, C suite per backend and thread mode, samples, bindings"
(cd build && ctest --output-on-failure -j"$JOBS" --timeout 180)

step "Python binding: the pytest integration suite over every backend and thread mode"
# pytest's exit 5 (nothing collected) is a failure here too (conftest.py).
NET_LIBRARY=build/dll/libnet.so /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python

step "Windows: MinGW-w64 cross build, the C suite on IOCP under Wine, exports, Wine server vs Linux client"
bash scripts/test-windows.sh build

step "sanitizer build (ASan + UBSan): unit, C and Lua suites"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNET_SANITIZE=ON -DNET_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --output-on-failure -j"$JOBS" --timeout 300 -L 'unit|^c$|^lua$')

step "fuzz targets (libFuzzer, short bounded runs)"
CC=clang cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$JOBS"
(cd build-fuzz && ctest --output-on-failure -L fuzz)

step "done in $(( $(date +%s) - started ))s"
