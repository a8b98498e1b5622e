#!/usr/bin/env bash
# run_doc_example.sh DOC PKG_DIR - the complete example of docs/api-csharp.md
# runs as printed: the C# between the "<!-- example:begin -->" and
# "<!-- example:end -->" markers (inside its ```csharp fence) is compiled
# with mcs against PKG_DIR/Net.dll in a temp copy of the package layout and
# run under mono with LD_LIBRARY_PATH unset; it must exit 0 and print
# "echoed 3 messages".
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 DOC PKG_DIR" >&2; exit 2; }
doc=$1 pkg=$2
[ -f "$doc" ] || { echo "run_doc_example.sh: DOC '$doc' is not a file" >&2; exit 2; }
[ -f "$pkg/Net.dll" ] || { echo "run_doc_example.sh: PKG_DIR '$pkg' has no Net.dll" >&2; exit 2; }
mcs=${MCS:-mcs} mono=${MONO:-mono}
unset LD_LIBRARY_PATH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/<!-- example:begin -->/ { on = 1; next }
     /<!-- example:end -->/ { on = 0 }
     on && /^```/ { fence = !fence; next }
     on && fence { print }' "$doc" >"$work/Example.cs"
[ -s "$work/Example.cs" ] || { echo "run_doc_example.sh: no example between the markers in $doc" >&2; exit 1; }

cp -r "$pkg/Net.dll" "$pkg/Net.dll.config" "$pkg/runtimes" "$work/"
"$mcs" -nologo -warnaserror+ -r:"$work/Net.dll" -out:"$work/Example.exe" "$work/Example.cs"
out=$(timeout 60 "$mono" "$work/Example.exe")
echo "$out"
grep -q "^echoed 3 messages" <<<"$out" || { echo "run_doc_example.sh: the example did not echo its 3 messages" >&2; exit 1; }
