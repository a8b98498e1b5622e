#!/usr/bin/env bash
# Installs what only the benchmarks' comparison peers need, from Debian 12's
# archive (scripts/install-deps.sh installs everything the build and tests
# need). Runs apt-get as root (directly, or through sudo).
#
#   libenet-dev  ENet, the reliable-UDP library bench/peers/enet_echo*.c and
#                bench/rudp.py compare net's reliable UDP with
set -euo pipefail

PACKAGES=(
  libenet-dev
)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-bench-deps: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
