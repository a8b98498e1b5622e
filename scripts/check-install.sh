#!/usr/bin/env bash
# check-install.sh - net as a user gets it: installed, then used from a
# separate project. Everything happens in a temp dir, removed on exit.
#
#   scripts/check-install.sh [NATIVE_BUILD_DIR]
#
#   1. a fresh Release build of the library, `cmake --install` to a prefix:
#      exactly the expected files (library + SONAME links, net.h, the CMake
#      package, net.pc), the Runtime component alone, versions that agree;
#   2. tests/install built with find_package(net) and run (no LD_LIBRARY_PATH);
#   3. the same program built with plain cc and pkg-config, from a moved copy
#      of the prefix (net.pc is relocatable), and run;
#   4. the C API reference's example (docs/api-c.md) built against the
#      installed package and run;
#   5. tests/install/subproject: net through add_subdirectory, then through
#      FetchContent, builds the library alone, and the program runs;
#   6. with Debian's unrelated libnet (libnet1-dev: /usr/lib/.../libnet.so)
#      installed, the programs of 2 and 3 load this net (ldd, version);
#   7. Windows: a MinGW-w64 cross build installs bin/net.dll, its import
#      library, net.h and the CMake package; a consumer .exe built against
#      that package, and the api-c example linked to the import library,
#      run under Wine.
#   8. NATIVE_BUILD_DIR (default: build), when it holds a built library: its
#      install (a test build, other options) has the same file list.
#
# Needs cmake, cc, pkg-config, readelf, libnet1-dev, and for 7
# gcc-mingw-w64-x86-64 and wine (scripts/install-deps.sh installs them all).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

native_given=${1+given}
native=${1:-build}
if [ -n "$native_given" ] && [ ! -d "$native" ]; then
    echo "check-install: NATIVE_BUILD_DIR '$native' is not a directory" >&2
    exit 2
fi
if [ $# -gt 1 ]; then
    echo "check-install: one argument at most (NATIVE_BUILD_DIR), got: $*" >&2
    exit 2
fi
for tool in cmake cc pkg-config readelf ldd; do
    command -v "$tool" >/dev/null || { echo "check-install: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done

version=$(scripts/project-version)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "check-install: bad project version '$version'" >&2; exit 1; }
major=${version%%.*}
jobs=$(nproc 2>/dev/null || echo 2)
started=$(date +%s)
step() { printf '\n=== check-install: %s (%ds)\n' "$*" $(($(date +%s) - started)); }
fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
indent() { sed 's/^/    /'; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/net-check-install.XXXXXX")
own_wineprefix=""
cleanup() {
    if [ -n "$own_wineprefix" ] && command -v wineserver >/dev/null; then
        WINEPREFIX=$own_wineprefix wineserver -k >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Files under a prefix, one relative path a line, links marked with "@".
list_prefix() {
    (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | while read -r f; do
        if [ -L "$f" ]; then echo "$f@"; else echo "$f"; fi
    done | sort)
}

# Runs a consumer program with no LD_LIBRARY_PATH and checks what it prints.
run_consumer() {
    local exe=$1 out
    out=$(env -u LD_LIBRARY_PATH timeout 30 "$exe") || fail "$exe exited non-zero: $out"
    indent <<<"$out"
    grep -qx "net $version" <<<"$out" || fail "$exe: no 'net $version' line (wrong library loaded?)"
    grep -q "echo ok$" <<<"$out" || fail "$exe: no 'echo ok'"
}

# The libnet a program loads must be the one under the prefix given.
check_loads_ours() {
    local exe=$1 want=$2 got
    got=$(env -u LD_LIBRARY_PATH ldd "$exe" | awk '$1 ~ /^libnet\.so/ { print $1, $3 }')
    echo "    ldd: $got"
    [ "$got" = "libnet.so.$major $(readlink -f "$want")/libnet.so.$major" ] ||
        [ "$got" = "libnet.so.$major $want/libnet.so.$major" ] ||
        fail "$exe loads '$got', not $want/libnet.so.$major"
}

step "fresh Release build of the library"
cmake -S . -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DNET_BUILD_TESTS=OFF -DNET_BUILD_SAMPLES=OFF \
    -DNET_BUILD_BENCH=OFF -DNET_BUILD_LUA=OFF >/dev/null
nice cmake --build "$tmp/build" -j"$jobs" >/dev/null

step "cmake --install: the file list"
prefix=$tmp/prefix
cmake --install "$tmp/build" --prefix "$prefix" >/dev/null
expected="include/net.h
lib/cmake/net/netConfig.cmake
lib/cmake/net/netConfigVersion.cmake
lib/cmake/net/netTargets-release.cmake
lib/cmake/net/netTargets.cmake
lib/libnet.so.$version
lib/libnet.so.$major@
lib/libnet.so@
lib/pkgconfig/net.pc
share/doc/net/LICENSE"
got=$(list_prefix "$prefix")
[ "$got" = "$(sort <<<"$expected")" ] || fail "installed files differ from the expected list:
$(diff <(sort <<<"$expected") <(echo "$got") || true)"
indent <<<"$got"
[ "$(readlink "$prefix/lib/libnet.so")" = "libnet.so.$major" ] || fail "libnet.so does not point to libnet.so.$major"
[ "$(readlink "$prefix/lib/libnet.so.$major")" = "libnet.so.$version" ] ||
    fail "libnet.so.$major does not point to libnet.so.$version"
soname=$(readelf -d "$prefix/lib/libnet.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libnet.so.$major" ] || fail "SONAME is '$soname', want libnet.so.$major"
if grep -a -q -E 'NET_TEST_[A-Z_]+' "$prefix/lib/libnet.so.$version"; then
    fail "the installed Release library carries test hooks"
fi
echo "    SONAME $soname, links libnet.so -> libnet.so.$major -> libnet.so.$version"

step "components: Runtime alone is the library, its SONAME link and the license"
cmake --install "$tmp/build" --prefix "$tmp/runtime" --component Runtime >/dev/null
got=$(list_prefix "$tmp/runtime")
[ "$got" = "$(printf 'lib/libnet.so.%s\nlib/libnet.so.%s@\nshare/doc/net/LICENSE' "$version" "$major" | sort)" ] ||
    fail "the Runtime component installs: $got"
indent <<<"$got"

step "versions: net.pc and the CMake package say $version"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pc_version=$(pkg-config --modversion net)
[ "$pc_version" = "$version" ] || fail "net.pc says $pc_version"
grep -q "PACKAGE_VERSION \"$version\"" "$prefix/lib/cmake/net/netConfigVersion.cmake" ||
    fail "netConfigVersion.cmake does not say $version"
echo "    pkg-config --modversion net: $pc_version; netConfigVersion.cmake: $version"

step "libnet1-dev (Debian's unrelated libnet) is installed, so the checks below run beside it"
dpkg-query -W -f='${Status}' libnet1-dev 2>/dev/null | grep -q "install ok installed" ||
    fail "libnet1-dev is not installed (scripts/install-deps.sh): the name clash is not being tested"
other=$(cc -print-file-name=libnet.so)
if [ ! -e "$other" ] || [ "$other" = libnet.so ]; then
    fail "cc does not see Debian's libnet.so"
fi
echo "    cc's default libnet.so: $other -> $(readlink -f "$other")"

step "find_package(net 0.4 CONFIG) consumer (tests/install)"
cmake -S tests/install -B "$tmp/consumer-cmake" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DNET_EXPECTED_VERSION="$version" | grep 'found net' | indent
cmake --build "$tmp/consumer-cmake" >/dev/null
run_consumer "$tmp/consumer-cmake/consumer"
check_loads_ours "$tmp/consumer-cmake/consumer" "$prefix/lib"

step "pkg-config consumer: plain cc from a moved copy of the prefix"
moved=$tmp/moved-prefix
cp -a "$prefix" "$moved"
export PKG_CONFIG_PATH=$moved/lib/pkgconfig
flags=$(pkg-config --cflags --libs net)
libdir=$(pkg-config --variable=libdir net)
echo "    pkg-config --cflags --libs net: $flags"
[ "$(readlink -f "$libdir")" = "$(readlink -f "$moved/lib")" ] || fail "net.pc's libdir '$libdir' is not in the moved prefix"
# shellcheck disable=SC2086 # pkg-config's flags are words
cc -std=c11 -Wall -Wextra -Werror tests/install/consumer.c $flags -Wl,-rpath,"$libdir" -o "$tmp/consumer-pc"
run_consumer "$tmp/consumer-pc"
check_loads_ours "$tmp/consumer-pc" "$libdir"
# Without our -L, the linker would pick Debian's libnet.so: it lacks net's API.
if cc tests/install/consumer.c -I"$moved/include" -lnet -o "$tmp/consumer-wrong" 2>"$tmp/wrong.log"; then
    fail "a link against Debian's libnet.so succeeded: the clash check tests nothing"
fi
grep -q "undefined reference to .net_engine_create" "$tmp/wrong.log" ||
    fail "the link against Debian's libnet failed for another reason: $(cat "$tmp/wrong.log")"
echo "    (without pkg-config's -L, -lnet finds Debian's libnet and the link fails, as it should)"

step "docs/api-c.md's example, built against the installed package"
cmake -DDOC=docs/api-c.md -DNAME=echo -DOUT="$tmp/api-c-echo.c" -P cmake/extract-doc-example.cmake
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror "$tmp/api-c-echo.c" $flags -Wl,-rpath,"$libdir" -o "$tmp/api-c-echo"
out=$(env -u LD_LIBRARY_PATH timeout 30 "$tmp/api-c-echo") || fail "the api-c example failed: $out"
indent <<<"$out"
grep -qx "echo ok" <<<"$out" || fail "the api-c example did not print 'echo ok'"
unset PKG_CONFIG_PATH

for via in add_subdirectory FetchContent; do
    step "subproject consumer through $via: only the library is built"
    sub=$tmp/sub-$via
    fetch=$([ $via = FetchContent ] && echo ON || echo OFF)
    cmake -S tests/install/subproject -B "$sub" -DCMAKE_BUILD_TYPE=Release -DNET_SOURCE_DIR="$root" \
        -DNET_USE_FETCHCONTENT="$fetch" >/dev/null
    nice cmake --build "$sub" -j"$jobs" >/dev/null
    built=$(cd "$sub/net" && find . -type f \( -name '*.so*' -o -name '*.a' -o -perm -u+x \) | sed 's|^\./||' | sort)
    [ "$built" = "dll/libnet.so.$version" ] || fail "the subproject built more than the library:
$built"
    echo "    built under net/: $built"
    tests=$(cd "$sub" && ctest -N 2>/dev/null | sed -n 's/^Total Tests: //p')
    [ "${tests:-0}" = 0 ] || fail "the subproject registered $tests tests"
    run_consumer "$sub/consumer"
done

step "Windows: MinGW-w64 cross build of the library, installed"
if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    fail "x86_64-w64-mingw32-gcc not found (scripts/install-deps.sh)"
fi
cmake -S . -B "$tmp/win" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64.cmake" -DCMAKE_BUILD_TYPE=Release \
    -DNET_BUILD_TESTS=OFF -DNET_BUILD_SAMPLES=OFF -DNET_BUILD_BENCH=OFF >/dev/null
nice cmake --build "$tmp/win" -j"$jobs" >/dev/null
winprefix=$tmp/winprefix
cmake --install "$tmp/win" --prefix "$winprefix" >/dev/null
for f in bin/net.dll lib/libnet.dll.a include/net.h share/doc/net/LICENSE lib/cmake/net/netConfig.cmake \
    lib/cmake/net/netConfigVersion.cmake lib/cmake/net/netTargets.cmake lib/pkgconfig/net.pc; do
    [ -f "$winprefix/$f" ] || fail "the Windows install has no $f"
done
list_prefix "$winprefix" | indent

step "Windows: a consumer .exe built against the installed package, run under Wine"
# net_DIR points find_package straight at the package: the toolchain file
# confines other searches to the MinGW root.
cmake -S tests/install -B "$tmp/win-consumer" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -Dnet_DIR="$winprefix/lib/cmake/net" -DNET_EXPECTED_VERSION="$version" \
    -DCMAKE_EXE_LINKER_FLAGS=-static-libgcc | grep 'found net' | indent
cmake --build "$tmp/win-consumer" >/dev/null
cp "$winprefix/bin/net.dll" "$tmp/win-consumer/"
if command -v wine >/dev/null; then
    # test-windows.sh's prefix when it exists (started already), else our own.
    if [ -d "$root/build-win/wineprefix" ]; then
        export WINEPREFIX=$root/build-win/wineprefix
    else
        own_wineprefix=$tmp/wineprefix
        export WINEPREFIX=$own_wineprefix
    fi
    export WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
    out=$(cd "$tmp/win-consumer" && timeout 180 wine consumer.exe </dev/null 2>&1 | tr -d '\r') ||
        fail "consumer.exe under Wine: $out"
    indent <<<"$out"
    if ! grep -qx "net $version" <<<"$out" || ! grep -q "echo ok$" <<<"$out"; then
        fail "consumer.exe under Wine: $out"
    fi
    # The page's example too, linked by hand against the import library.
    x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -static-libgcc "$tmp/api-c-echo.c" \
        -I"$winprefix/include" -L"$winprefix/lib" -lnet -o "$tmp/win-consumer/api-c-echo.exe"
    out=$(cd "$tmp/win-consumer" && timeout 120 wine api-c-echo.exe </dev/null 2>&1 | tr -d '\r') ||
        fail "api-c-echo.exe under Wine: $out"
    indent <<<"$out"
    grep -qx "echo ok" <<<"$out" || fail "api-c-echo.exe under Wine: $out"
else
    fail "wine not found (scripts/install-deps.sh)"
fi

step "the native build dir's install has the same files"
if [ -f "$native/CMakeCache.txt" ] && ls "$native"/dll/libnet.so.* >/dev/null 2>&1; then
    type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$native/CMakeCache.txt" | tr '[:upper:]' '[:lower:]')
    # Up to date first: a build regenerates its install rules when they changed.
    nice cmake --build "$native" --target net >/dev/null
    for component in Runtime Development; do
        cmake --install "$native" --prefix "$tmp/native" --component "$component" >/dev/null
    done
    want=$(sort <<<"${expected//netTargets-release/netTargets-${type:-noconfig}}")
    got=$(list_prefix "$tmp/native")
    [ "$got" = "$want" ] || fail "$native installs other files:
$(diff <(echo "$want") <(echo "$got") || true)"
    echo "    $native (${type:-no build type}): the same $(wc -l <<<"$got") files"
else
    echo "    $native holds no built library: skipped"
fi

step "all passed in $(($(date +%s) - started))s"
