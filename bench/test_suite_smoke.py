#!/usr/bin/env python3
"""Smoke test of bench/suite.py (ctest bench.suite_smoke).

    test_suite_smoke.py BUILD

Runs the suite with --quick on a small slice (one TCP workload with two
servers, the latency scenario with the same two) into a temporary directory
and checks what a user of the suite looks at: RESULTS.md holds the suite's
block with a table row per server and numbers in it, the charts are valid
PNG files, suite-samples.json parses and holds one record per run. It checks
that the tool works, not any figure. Exits 77 (skipped) where matplotlib is
missing (Debian: python3-matplotlib). Bounded: the suite gets 60 s.
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
SERVERS = ("epoll-raw-coalesce", "net-t0")
WORKLOAD = "10x2x64"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def png_size(path):
    """(width, height) of a PNG file, or fails the test when it is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail("%s is not a PNG file" % path)
    return struct.unpack(">II", head[16:24])


def run_suite(build, out):
    results = os.path.join(out, "RESULTS.md")
    charts = os.path.join(out, "charts")
    # The lead's RESULTS.md text outside the suite's block must survive a run.
    with open(results, "w") as f:
        f.write("# Benchmark results\n\nText before the block.\n")
    cmd = [sys.executable, os.path.join(BENCH_DIR, "suite.py"), build, "--quick", "--any-build",
           "--only", "tcp,latency", "--tcp-servers", ",".join(SERVERS), "--workloads", WORKLOAD,
           "--latency-servers", ",".join(SERVERS), "--quiet-wait", "0", "--max-other", "1000",
           "--results", results, "--charts", charts]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        fail("the suite did not finish within 60 s")
    if p.returncode != 0:
        fail("suite exited %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return results, charts


def check_results(results):
    with open(results) as f:
        text = f.read()
    if not text.startswith("# Benchmark results\n\nText before the block.\n"):
        fail("the text before the suite's block was not kept")
    block = text.split("<!-- bench/suite.py results: begin -->", 1)[-1].split("<!-- bench/suite.py results: end -->")[0]
    if block == text:
        fail("no suite block in RESULTS.md")
    for key in ("- machine: nproc=", "- commit: ", "- build: ", "- date: "):
        if key not in block:
            fail("RESULTS.md lacks %r" % key)
    for s in SERVERS:
        # TCP table: "| server | 1.23 (1/1) |"; latency table: "| server | p50 | p99 | ..."
        if not re.search(r"^\| %s \| \d+\.\d\d \(1/1\) \|$" % re.escape(s), block, re.M):
            fail("no TCP row with a CPU figure for %s:\n%s" % (s, block))
        if not re.search(r"^\| %s \| \d+\.\d \| \d+\.\d \| [\d,]+ \|" % re.escape(s), block, re.M):
            fail("no latency row with p50/p99 for %s:\n%s" % (s, block))
    for img in ("charts/tcp_cpu_per_msg.png", "charts/latency.png"):
        if "](%s)" % img not in block:
            fail("RESULTS.md does not link %s" % img)


def check_charts(charts):
    for name in ("tcp_cpu_per_msg.png", "latency.png"):
        w, h = png_size(os.path.join(charts, name))
        if w < 300 or h < 200:
            fail("%s is %dx%d: too small to be a chart" % (name, w, h))
    with open(os.path.join(charts, "suite-samples.json")) as f:
        samples = json.load(f)
    for part, scen in (("tcp", WORKLOAD), ("latency", "1x1x64")):
        runs = samples.get(part, [])
        got = sorted(r["server"] for r in runs if r["scenario"] == scen and r["cpu_us_per_msg"] > 0)
        if got != sorted(SERVERS):
            fail("suite-samples.json %s: runs for %s, want one for each of %s" % (part, got, SERVERS))


def main():
    if len(sys.argv) != 2:
        print("usage: test_suite_smoke.py BUILD")
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("SKIP: matplotlib is not installed (Debian: python3-matplotlib)")
        return SKIP
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="suite-smoke-") as out:
        results, charts = run_suite(build, out)
        check_results(results)
        check_charts(charts)
    print("ok: suite --quick wrote its block, %d charts and the raw samples" % 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
