#!/usr/bin/env bash
# The emulator of the C tests under Wine: runs one test program and passes its
# output and exit code through. Once in many hundred starts a Wine client
# fails before the program's main (CI saw api_rules.iocp.t4 fail in 0.02 s
# with no output at all), which says nothing about net. Every test prints
# "test <name> backend=..." first thing in tl_init, so a failed run without
# that line never reached the test: it is retried (twice at most) and said
# on stderr. A run that printed it keeps its verdict, whatever it is.
#
# usage: run-test.sh <wine command...> <test.exe> [args]
log=$(mktemp "${TMPDIR:-/tmp}/net-wine-test.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
rc=1
for attempt in 1 2 3; do
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ] || grep -q '^test ' "$log"; then
        exit "$rc"
    fi
    echo "run-test.sh: the program exited $rc before its first line (attempt $attempt): Wine did not start it" >&2
done
exit "$rc"
