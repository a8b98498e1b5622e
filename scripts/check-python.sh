#!/usr/bin/env bash
# check-python.sh [native-build-dir] - the Python package end to end, as a
# user gets it: `pip wheel ./bindings/python` offline (Debian's pip,
# setuptools and wheel, no build isolation, no index) builds the library
# from the repository's C sources with CMake (no NET_PREBUILT_LIBRARY) into a
# platform-tagged wheel; the wheel is installed with --target into a fresh
# directory, and `python3 -m net` run from another directory with NET_LIBRARY
# unset must pass its loopback self-test and report the version
# scripts/project-version prints. The native build dir (default: build) is
# not used by the package, only checked to exist, as for the other checks.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="${1:-build}"
python=/usr/bin/python3
[ -x "$python" ] || python=python3

fail() { echo "check-python: FAIL: $*" >&2; exit 1; }

[ -d "$build_dir" ] || [ -d "$root/$build_dir" ] || fail "no native build dir $build_dir"
version="$("$root/scripts/project-version")"
[ -n "$version" ] || fail "scripts/project-version printed nothing"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/check-python.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# The sources are copied so that the checkout stays as it was (setuptools
# builds in place); NET_SOURCE_DIR tells setup.py where the C sources are.
cp -r "$root/bindings/python" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info "$tmp/src/net"/libnet.so* "$tmp/src/net/__pycache__"

echo "check-python: pip wheel (CMake build of the library from source)"
env -u NET_PREBUILT_LIBRARY -u NET_LIBRARY NET_SOURCE_DIR="$root" \
  "$python" -m pip wheel --no-build-isolation --no-index --no-deps --quiet \
  -w "$tmp/dist" "$tmp/src" > "$tmp/pip-wheel.log" 2>&1 \
  || { cat "$tmp/pip-wheel.log" >&2; fail "pip wheel"; }

wheels=("$tmp"/dist/*.whl)
[ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] || fail "expected one wheel, got: ${wheels[*]}"
wheel="$(basename "${wheels[0]}")"
echo "check-python: built $wheel"
case "$wheel" in
  net_io_engine-"$version"-py3-none-*.whl) ;;
  *) fail "wheel $wheel is not net_io_engine-$version-py3-none-<platform>" ;;
esac
case "$wheel" in *-any.whl) fail "wheel $wheel is not platform-tagged" ;; esac
# The listing is read whole before grep: with pipefail, grep -q exiting at
# its first match could kill the writer with SIGPIPE and fail the pipe.
listing="$("$python" -m zipfile -l "${wheels[0]}")" || fail "cannot list $wheel"
grep -q '^net/libnet.so ' <<<"$listing" \
  || fail "wheel $wheel does not contain net/libnet.so"

"$python" -m pip install --no-index --no-deps --quiet --root-user-action=ignore --target "$tmp/site" "${wheels[0]}" \
  || fail "pip install --target"

mkdir "$tmp/elsewhere"
out="$(cd "$tmp/elsewhere" && env -u NET_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$tmp/site" \
  timeout 60 "$python" -m net)" || { echo "$out" >&2; fail "python3 -m net"; }
echo "$out" | sed 's/^/  /'
[ "$(echo "$out" | sed -n 1p)" = "net $version" ] || fail "version is not $version"
[ "$(echo "$out" | sed -n 2p)" = "library: $tmp/site/net/libnet.so" ] \
  || fail "the library loaded is not the one inside the package"
echo "$out" | grep -q '^self-test: passed' || fail "self-test"
echo "check-python: OK (net-io-engine $version)"
