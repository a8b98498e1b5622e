#!/usr/bin/env bash
# check_exports.sh - net.dll exports exactly the net_* functions of net.h,
# nothing else, and the MinGW import library exists beside it.
#
#   tests/wine/check_exports.sh BUILD_WIN_DIR [NET_H]
#
# Reads the DLL's export table with x86_64-w64-mingw32-objdump -p (OBJDUMP
# overrides) and the NET_API declarations of include/net.h. Exit 0 = same set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: check_exports.sh BUILD_WIN_DIR [NET_H]}
header=${2:-$here/../../include/net.h}
objdump=${OBJDUMP:-x86_64-w64-mingw32-objdump}

dll=$(find "$build" -maxdepth 2 -name net.dll | head -n1)
[ -n "$dll" ] || { echo "FAIL: no net.dll under $build"; exit 1; }
implib=$(find "$build" -maxdepth 3 \( -name libnet.dll.a -o -name net.lib \) | head -n1)
[ -n "$implib" ] || { echo "FAIL: no import library (libnet.dll.a or net.lib) under $build"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Names from the "[Ordinal/Name Pointer] Table" section of the export directory.
"$objdump" -p "$dll" | awk '
    /^\[Ordinal\/Name Pointer\] Table/ { on = 1; next }
    on && /^[[:space:]]*$/ { on = 0 }
    on && /\[ *[0-9]+\]/ { print $NF }' | sort -u >"$tmp/exported"

# Functions declared NET_API in the header (declarations may span lines).
# Preprocessor lines and comments go first, so the macro's own definition
# (#define NET_API __declspec(...)) is not taken for a declaration.
grep -v '^[[:space:]]*#' "$header" | tr '\n' ' ' | sed -E 's:/\*([^*]|\*+[^*/])*\*+/: :g' |
    grep -oE '(^|[;}[:space:]])NET_API[[:space:]][^;{]*\(' |
    sed -E 's/^.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\($/\1/' | sort -u >"$tmp/declared"

nexp=$(wc -l <"$tmp/exported")
ndecl=$(wc -l <"$tmp/declared")
if [ "$ndecl" -eq 0 ]; then
    echo "FAIL: found no NET_API function in $header"
    exit 1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
    echo "FAIL: $dll exports differ from the NET_API functions of $header (- declared only, + exported only):"
    tail -n +3 "$tmp/diff" | grep '^[-+]'
    exit 1
fi
echo "ok: $dll exports exactly the $nexp NET_API functions of net.h; import library $implib"
