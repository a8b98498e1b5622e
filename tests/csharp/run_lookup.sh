#!/usr/bin/env bash
# run_lookup.sh PKG_DIR VERSION CSPROJ - how Mono finds the native library
# from the package layout, with LD_LIBRARY_PATH unset, each case in a temp
# copy of PKG_DIR's files, run from another working directory
# (VersionTest.exe is the program; it calls the library first thing):
#   layout   Net.dll, Net.dll.config, runtimes/linux-x64/native/libnet.so:
#            loads ours (VersionTest passes);
#   beside   Net.dll and libnet.so side by side, no config: loads ours
#            (Mono probes Net.dll's directory before the system);
#   missing  Net.dll.config but no runtimes/: DllNotFoundException naming
#            runtimes/linux-x64/native/libnet.so, no fallback to the system;
#   bare     Net.dll alone, Debian's libnet1-dev installed: the system's
#            unrelated libnet.so is loaded (EntryPointNotFoundException),
#            the failure the layout exists to prevent (skipped without it).
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 PKG_DIR VERSION CSPROJ" >&2; exit 2; }
pkg=$1 version=$2 csproj=$3
for f in Net.dll Net.dll.config VersionTest.exe runtimes/linux-x64/native/libnet.so; do
  [ -f "$pkg/$f" ] || { echo "run_lookup.sh: PKG_DIR '$pkg' has no $f" >&2; exit 2; }
done
mono=${MONO:-mono}
unset LD_LIBRARY_PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# stage CASE FILES...: copies FILES (relative to PKG_DIR) into $work/CASE.
stage() {
  local dir=$work/$1
  shift
  mkdir -p "$dir"
  (cd "$pkg" && cp --parents "$@" "$dir/")
}
# probe CASE: runs VersionTest.exe of $work/CASE from /; $rc, $out.
probe() {
  rc=0
  out=$(cd / && timeout 60 "$mono" "$work/$1/VersionTest.exe" "$version" "$csproj" 2>&1) || rc=$?
}
run() {
  stage "$@"
  probe "$1"
}
fail() { echo "run_lookup.sh: $1; output:" >&2; echo "$out" >&2; exit 1; }

run layout Net.dll Net.dll.config VersionTest.exe runtimes/linux-x64/native/libnet.so
[ $rc = 0 ] || fail "the package layout did not load the library"
echo "layout: $out"

stage beside Net.dll VersionTest.exe
cp "$pkg/runtimes/linux-x64/native/libnet.so" "$work/beside/"
probe beside
[ $rc = 0 ] || fail "libnet.so next to Net.dll (no config) was not loaded"
echo "beside: $out"

run missing Net.dll Net.dll.config VersionTest.exe
[ $rc != 0 ] && grep -q "DllNotFoundException: runtimes/linux-x64/native/libnet.so" <<<"$out" ||
  fail "a missing mapped library should be DllNotFoundException naming its path"
echo "missing: DllNotFoundException: runtimes/linux-x64/native/libnet.so, no fallback"

if [ -e /usr/lib/x86_64-linux-gnu/libnet.so ]; then
  run bare Net.dll VersionTest.exe
  [ $rc != 0 ] && grep -q "EntryPointNotFoundException" <<<"$out" ||
    fail "Net.dll alone was expected to load Debian's libnet.so (EntryPointNotFoundException)"
  echo "bare: EntryPointNotFoundException from Debian's libnet.so, as without the layout"
else
  echo "bare: skipped (libnet1-dev not installed)"
fi
