#!/usr/bin/env python3
"""Smoke test of bench/game.py (ctest bench.game_smoke).

    test_game_smoke.py BUILD

Runs bench/game.py with 40 bots for a 1-second window, --write into a
temporary directory, and checks what a user looks at: exit 0, RESULTS.md
holds the block with one table row for 40 bots whose figures are numbers
(20 ticks a second or near, a tick time, no bot error, nobody dropped), the
chart is a PNG. Then that writing a block again replaces it and keeps the
rest of the file. It checks that the tool works, not any figure. Exits 77
(skipped) without matplotlib (Debian: python3-matplotlib) or lua5.4.
Bounded: the run gets 90 s (it takes about 5).
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main(build):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("skipped: no matplotlib (Debian: python3-matplotlib)")
        return SKIP
    if not shutil.which("lua5.4"):
        print("skipped: no lua5.4")
        return SKIP
    sys.path.insert(0, BENCH_DIR)
    import game
    with tempfile.TemporaryDirectory(prefix="net-game-smoke-") as tmp:
        results = os.path.join(tmp, "RESULTS.md")
        with open(results, "w") as f:
            f.write("# Benchmark results\n\nearlier text\n")
        charts = os.path.join(tmp, "charts")
        r = subprocess.run([sys.executable, os.path.join(BENCH_DIR, "game.py"), build, "--bots", "40",
                            "--seconds", "1", "--write", "--results", results, "--charts", charts],
                           capture_output=True, text=True, timeout=90)
        if r.returncode != 0:
            fail("game.py exited %d:\n%s\n%s" % (r.returncode, r.stdout, r.stderr))
        with open(results) as f:
            text = f.read()
        if "earlier text" not in text or text.count(game.RESULTS_BEGIN) != 1 or game.RESULTS_END not in text:
            fail("RESULTS.md does not hold the earlier text and one block:\n" + text)
        rows = [ln for ln in text.splitlines() if ln.startswith("| 40 |")]
        if len(rows) != 1:
            fail("no table row for 40 bots:\n" + text)
        cells = [c.strip() for c in rows[0].strip("|").split("|")]
        header = [ln for ln in text.splitlines() if ln.startswith("| bots |")][0]
        names = [c.strip() for c in header.strip("|").split("|")]
        row = dict(zip(names, cells))
        if not 15 <= float(row["ticks/s"]) <= 21:
            fail("ticks/s %s: not about 20" % row["ticks/s"])
        if not 0 < float(row["tick p50 ms"]) <= float(row["tick p99 ms"]):
            fail("tick times %s / %s" % (row["tick p50 ms"], row["tick p99 ms"]))
        if float(row["tick CPU p50 ms"]) <= 0 or float(row["server CPU %"]) < 0:
            fail("tick CPU %s, server CPU %s" % (row["tick CPU p50 ms"], row["server CPU %"]))
        if row["bot errors"] != "0" or row["dropped"] != "0":
            fail("bot errors %s, dropped %s" % (row["bot errors"], row["dropped"]))
        with open(os.path.join(charts, game.CHART), "rb") as f:
            head = f.read(24)
        if head[:8] != b"\x89PNG\r\n\x1a\n" or struct.unpack(">II", head[16:24])[0] < 400:
            fail("the chart is no PNG of a sensible size")
        game.write_results(results, "second block\n")
        with open(results) as f:
            text = f.read()
        if text.count(game.RESULTS_BEGIN) != 1 or "second block" not in text or "| 40 |" in text \
                or "earlier text" not in text:
            fail("writing again does not replace the block:\n" + text)
    print("ok: bench/game.py ran 40 bots, wrote its block and chart, and replaces its block")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: test_game_smoke.py BUILD", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(os.path.abspath(sys.argv[1])))
