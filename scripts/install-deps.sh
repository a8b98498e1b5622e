#!/usr/bin/env bash
# Installs everything the build, the tests and the benchmarks use, from
# Debian 12's archive. Runs apt-get as root (directly, or through sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  liburing-dev libuv1-dev
  lua5.4 liblua5.4-dev lua-luv luarocks
  python3 python3-cffi python3-pytest python3-uvloop python3-hypothesis python3-matplotlib
  mono-mcs mono-runtime libmono-posix4.0-cil
  gcc-mingw-w64-x86-64 wine wine64
  clang libclang-rt-14-dev valgrind
  procps iproute2
  python3-pip python3-setuptools python3-wheel
  libnet1-dev  # Debian's unrelated libnet.so: every check proves the bindings and consumers load ours beside it
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
