#!/usr/bin/env bash
# run_samples.sh PKG_DIR BACKEND IO_THREADS - the C# samples as a user runs
# them: samples/csharp's EchoServer.exe and EchoClient.exe, two mono
# processes over loopback, from the package layout PKG_DIR (Net.dll,
# Net.dll.config, runtimes/linux-x64/native/libnet.so, the samples' exes)
# with LD_LIBRARY_PATH unset, whether or not Debian's unrelated libnet.so
# (libnet1-dev) is installed. For framings raw, u16le and u32be over IPv4 and
# IPv6: the server prints its "listening on" line, the client sends numbered
# messages to that address as printed and checks every echo, the server
# exits 0 on SIGINT. Mono's log must show the library loaded from the layout.
set -euo pipefail

usage() { echo "usage: $0 PKG_DIR BACKEND IO_THREADS" >&2; exit 2; }
[ $# -eq 3 ] || usage
pkg=$1 backend=$2 threads=$3
[ -f "$pkg/Net.dll" ] && [ -f "$pkg/EchoServer.exe" ] && [ -f "$pkg/EchoClient.exe" ] ||
  { echo "run_samples.sh: PKG_DIR '$pkg' has no Net.dll, EchoServer.exe and EchoClient.exe" >&2; exit 2; }
[[ $threads =~ ^[0-9]+$ ]] || { echo "run_samples.sh: IO_THREADS '$threads' is not a number" >&2; exit 2; }
pkg=$(cd "$pkg" && pwd)
mono=${MONO:-mono}
unset LD_LIBRARY_PATH
[ -e /usr/lib/x86_64-linux-gnu/libnet.so ] && echo "Debian's libnet.so is installed: the samples must load ours anyway"

work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The "listening on HOST:PORT ..." line's address, once the server wrote it.
listening_address() {
  for _ in $(seq 300); do
    addr=$(sed -n 's/^listening on \([^ ]*\) .*/\1/p' "$work/out")
    if [ -n "$addr" ]; then echo "$addr"; return 0; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "run_samples.sh: no 'listening on' line from EchoServer.exe; stderr:" >&2
  cat "$work/err" >&2
  return 1
}

for host in 127.0.0.1 ::1; do
  for framing in raw u16le u32be; do
    MONO_LOG_LEVEL=debug MONO_LOG_MASK=dll "$mono" "$pkg/EchoServer.exe" --port 0 --host "$host" \
      --framing "$framing" --backend "$backend" --io-threads "$threads" >"$work/out" 2>"$work/err" &
    server=$!
    addr=$(listening_address)
    timeout 60 "$mono" "$pkg/EchoClient.exe" --address "$addr" --framing "$framing" --backend "$backend" \
      --io-threads "$threads" --count 300
    kill -INT "$server"
    rc=0
    wait "$server" || rc=$?
    server=
    if [ "$rc" != 0 ]; then
      echo "run_samples.sh: EchoServer.exe exited $rc on SIGINT; stderr:" >&2
      cat "$work/err" >&2
      exit 1
    fi
    # Mono's log goes to stdout.
    grep -q "DllImport loaded library '$pkg/runtimes/linux-x64/native/libnet.so'" "$work/out" || {
      echo "run_samples.sh: Mono did not load $pkg/runtimes/linux-x64/native/libnet.so:" >&2
      grep 'DllImport' "$work/out" >&2 || true
      exit 1
    }
  done
done
echo "C# samples: server and client echoed over IPv4 and IPv6 in 3 framings, backend=$backend io_threads=$threads"
