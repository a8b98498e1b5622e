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
# The native C suite mostly waits on sockets and timers, not on the CPU: one
# test more than there are cores keeps them busy (176 s instead of 257 s for
# 560 tests on 2 cores). The sanitizer steps stay at one per core.
CTEST_JOBS=$((JOBS + 1))
started=$(date +%s)
step() { printf '\n=== %s (%ds)\n' "$*" $(( $(date +%s) - started )); }

step "native build (with the test hooks: fault injection, io_uring degrade switches)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNET_TEST_HOOKS=ON >/dev/null
cmake --build build -j"$JOBS"

step "production library: built without the test hooks, and none of their names in it"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DNET_TEST_HOOKS=OFF -DNET_BUILD_TESTS=OFF \
  -DNET_BUILD_SAMPLES=OFF -DNET_BUILD_BENCH=OFF >/dev/null
cmake --build build-release -j"$JOBS" --target net
if grep -a -o -E 'NET_TEST_[A-Z_]+|NET_IOCP_NO_SKIP|NET_URING_(DEFER|DEBUG)' build-release/dll/libnet.so; then
  echo "test hooks found in the production library"; exit 1
fi
step "ctest: unit, C suite per backend and thread mode, samples, bindings"
(cd build && ctest --output-on-failure -j"$CTEST_JOBS" --timeout 180)

step "C# package: Net.dll in its package layout, samples, doc example and library lookup under Mono, LD_LIBRARY_PATH unset"
bash scripts/check-csharp.sh build

step "Python binding: the pytest integration suite over every backend and thread mode"
# pytest's exit 5 (nothing collected) is a failure here too (conftest.py).
NET_LIBRARY=build/dll/libnet.so /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python

step "Python package: a platform wheel built from source (CMake) carrying libnet, installed into a fresh target, python3 -m net"
bash scripts/check-python.sh build

step "Windows: MinGW-w64 cross build, the C suite on IOCP under Wine, exports, Wine server vs Linux client"
bash scripts/test-windows.sh build

step "install: cmake --install; find_package, pkg-config, add_subdirectory and FetchContent consumers; the MinGW install under Wine"
bash scripts/check-install.sh build

step "Lua packaging: luarocks lint/make/pack, cmake --install, beside Debian's libnet1-dev"
bash scripts/check-lua.sh build

# The io_uring-degraded variants (the same backend with its optional kernel
# features switched off) run here at io_threads 0 only: natively they run in
# every thread mode, and their threaded paths are the io_uring ones above.
# The Lua suite runs here at io_threads 0 only: what ASan checks there is the
# binding's C code, the same in both modes; the library's threaded paths are
# the C suite's (here and under TSan below).
step "sanitizer build (ASan + UBSan): unit, C (fault injection and the model test included) and Lua suites"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNET_SANITIZE=ON -DNET_TEST_HOOKS=ON -DNET_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --output-on-failure -j"$JOBS" --timeout 300 -L 'unit|^c$|^lua$' -E '(\.io_uring-degraded\.t(1|4)|^lua_.*\.t1)$')

step "ThreadSanitizer: the C suite with I/O threads (t1, t4) on epoll and io_uring"
# Suppressions, each with its reason: tests/tsan.supp.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DNET_TSAN=ON -DNET_TEST_HOOKS=ON -DNET_BUILD_BENCH=OFF \
  -DNET_BUILD_SAMPLES=OFF >/dev/null
cmake --build build-tsan -j"$JOBS"
(cd build-tsan && TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/../tests/tsan.supp" \
  ctest --output-on-failure -j"$JOBS" --timeout 300 -L '^c$' -R '\.(epoll|io_uring)\.t(1|4)$')

step "fuzz targets (libFuzzer, short bounded runs)"
CC=clang cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$JOBS"
(cd build-fuzz && ctest --output-on-failure -j"$JOBS" -L fuzz) # each run is bounded by time: side by side

step "done in $(( $(date +%s) - started ))s"
