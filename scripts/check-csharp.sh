#!/usr/bin/env bash
# check-csharp.sh [NATIVE_BUILD_DIR] - the C# package end to end, as a user
# gets it, from a native build (default: build, after
# `cmake -S . -B build && cmake --build build`):
#   1. bindings/csharp/build-mono.sh builds Net.dll into a temp package layout
#      (Net.dll, Net.dll.config, runtimes/linux-x64/native/libnet.so);
#   2. the assembly, the library, Native.Version* and Net.csproj carry
#      scripts/project-version (tests/csharp/VersionTest.cs);
#   3. samples/csharp's EchoServer.exe and EchoClient.exe echo over loopback
#      as two mono processes (tests/csharp/run_samples.sh);
#   4. the example of docs/api-csharp.md compiles and runs;
#   5. how Mono finds the library (tests/csharp/run_lookup.sh): from the
#      layout, next to Net.dll, a clear DllNotFoundException when it is
#      missing, and the failure the layout prevents: Net.dll alone, with
#      Debian's libnet1-dev installed, loads the wrong libnet.so.
# LD_LIBRARY_PATH is unset throughout; libnet1-dev must be installed
# (scripts/install-deps.sh). Temp files are removed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[ $# -le 1 ] || { echo "usage: $0 [NATIVE_BUILD_DIR]" >&2; exit 2; }
lib=$build/dll/libnet.so
[ -f "$lib" ] || { echo "check-csharp.sh: NATIVE_BUILD_DIR '$build' has no dll/libnet.so (build it first)" >&2; exit 2; }
for tool in mcs mono; do
  command -v $tool >/dev/null || { echo "check-csharp.sh: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
debian_libnet=/usr/lib/x86_64-linux-gnu/libnet.so
[ -e "$debian_libnet" ] ||
  { echo "check-csharp.sh: $debian_libnet (libnet1-dev) is not installed: scripts/install-deps.sh" >&2; exit 1; }
unset LD_LIBRARY_PATH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/pkg
cs=$root/bindings/csharp tests=$root/tests/csharp samples=$root/samples/csharp

echo "== build-mono.sh: Net.dll and the package layout"
"$cs/build-mono.sh" "$pkg" "$lib"
compile() { # OUT SOURCES...
  local out=$1
  shift
  mcs -nologo -unsafe -warnaserror+ -r:"$pkg/Net.dll" -r:System.Xml -r:Mono.Posix -out:"$pkg/$out" "$@"
}
compile EchoServer.exe "$samples/EchoServer.cs" "$samples/SampleCli.cs"
compile EchoClient.exe "$samples/EchoClient.cs" "$samples/SampleCli.cs"
compile VersionTest.exe "$tests/VersionTest.cs" "$tests/TestUtil.cs"

echo "== versions"
(cd "$work" && timeout 60 mono "$pkg/VersionTest.exe" "$("$root/scripts/project-version")" "$cs/Net.csproj")

echo "== samples"
timeout 180 bash "$tests/run_samples.sh" "$pkg" auto 0

echo "== docs/api-csharp.md example"
timeout 120 bash "$tests/run_doc_example.sh" "$root/docs/api-csharp.md" "$pkg"

echo "== finding the library: the layout, beside Net.dll, missing, and Net.dll alone"
timeout 120 bash "$tests/run_lookup.sh" "$pkg" "$("$root/scripts/project-version")" "$cs/Net.csproj"

echo "check-csharp.sh: OK"
