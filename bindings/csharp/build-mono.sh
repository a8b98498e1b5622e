#!/usr/bin/env bash
# build-mono.sh OUT_DIR [NATIVE_LIBRARY] - builds the C# binding with Mono's
# mcs into the package layout of docs/api-csharp.md:
#   OUT_DIR/Net.dll                               the assembly, its AssemblyVersion and
#                                                 AssemblyInformationalVersion the project's
#   OUT_DIR/Net.dll.config                        Mono's dllmap to the library below
#   OUT_DIR/runtimes/linux-x64/native/libnet.so   NATIVE_LIBRARY copied (when given; a
#   OUT_DIR/runtimes/win-x64/native/net.dll       net.dll goes to win-x64)
# The version is read now from scripts/project-version (the top CMakeLists.txt).
set -euo pipefail

usage() { echo "usage: $0 OUT_DIR [NATIVE_LIBRARY (libnet.so or net.dll)]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1
lib=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
mcs=${MCS:-mcs}
command -v "$mcs" >/dev/null || { echo "build-mono.sh: $mcs not found (Debian: mono-mcs)" >&2; exit 1; }
if [ -n "$lib" ] && [ ! -f "$lib" ]; then
  echo "build-mono.sh: NATIVE_LIBRARY '$lib' is not a file" >&2
  exit 2
fi

version=$("$here/../../scripts/project-version")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-mono.sh: bad project version '$version'" >&2; exit 1; }

mkdir -p "$out"
info=$(mktemp --suffix=.cs)
trap 'rm -f "$info"' EXIT
sed "s/@NET_VERSION@/$version/g" "$here/AssemblyInfo.cs.in" >"$info"

# Every .cs here, as Net.csproj compiles them (NativeResolver.cs is empty
# for Mono: it is #if NET5_0_OR_GREATER).
"$mcs" -nologo -unsafe -warnaserror+ -target:library -out:"$out/Net.dll" "$here"/*.cs "$info"
cp "$here/Net.dll.config" "$out/Net.dll.config"

if [ -n "$lib" ]; then
  case $lib in
    *.dll) dest="$out/runtimes/win-x64/native/net.dll" ;;
    *) dest="$out/runtimes/linux-x64/native/libnet.so" ;;
  esac
  mkdir -p "$(dirname "$dest")"
  # -L: the file itself, not the SONAME symlink the build tree has.
  cp -L "$lib" "$dest"
fi
