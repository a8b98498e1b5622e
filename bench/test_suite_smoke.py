#!/usr/bin/env python3
"""Smoke test of bench/suite.py (ctest bench.suite_smoke).

    test_suite_smoke.py BUILD

Runs the suite with --quick on a small slice (one TCP workload with two
servers, the latency scenario with the same two) into a temporary directory
and checks what a user of the suite looks at: RESULTS.md holds the suite's
block with a table row per server and numbers in it, the charts are valid
PNG files, suite-samples.json parses and holds one record per run, and
--from-json rebuilds the same tables from it. The loads part runs against a
double of bench/loads.py (fixed dicts, no sockets): it checks the suite's
adapter and its table, not the loads. It checks that the tool works, not
any figure. Exits 77 (skipped) where matplotlib is missing (Debian:
python3-matplotlib). Bounded: each suite run gets 60 s (it takes 6-15 s, the second one under 1).
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_BEGIN = "<!-- bench/suite.py results: begin -->"
SKIP = 77
SERVERS = ("epoll-raw-coalesce", "net-t0")
WORKLOAD = "10x2x64"

# bench/loads.py's interface as bench/suite.py's adapter calls it.
LOADS_DOUBLE = """
import os
SERVERS = {"net-uring": None, "net-epoll": None, "libuv": None, "epoll-raw": None, "uring-raw": None}
BROADCAST_SERVERS = {"net-uring": None, "libuv": None}
def echo_argv(name, build, count=0):
    return [os.path.join(build, "samples", "echo_server"), "--for", name]
def measure_connrate(server_argv, seconds, parallel=64, build="build"):
    assert os.path.isdir(build) and "--port" not in server_argv, (build, server_argv)
    return {"cycles_per_s": 12345.0, "server_cpu_us_per_cycle": 40.5}
def measure_idle(server_argv, count, build="build"):
    assert os.path.isdir(build), build
    return {"connections": count, "rss_bytes_per_conn": 900.0 if count == 100000 else 1500.0,
            "private_dirty_bytes_per_conn": 800.0}
def measure_broadcast(server_name, build, connections, seconds):
    assert server_name in BROADCAST_SERVERS, server_name
    return {"server_cpu_us_per_tick": 250.0, "rate_held": True, "connections": connections}
"""


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


def suite(build, out, results, extra):
    with open(os.path.join(out, "loads_double.py"), "w") as f:
        f.write(LOADS_DOUBLE)
    env = dict(os.environ, PYTHONPATH=out)
    cmd = [sys.executable, os.path.join(BENCH_DIR, "suite.py"), build, "--quick", "--any-build",
           "--only", "tcp,latency,loads", "--tcp-servers", ",".join(SERVERS), "--workloads", WORKLOAD,
           "--latency-servers", ",".join(SERVERS), "--idle-counts", "10000,100000", "--loads-module",
           "loads_double", "--quiet-wait", "0", "--max-other", "1000", "--results", results,
           "--charts", os.path.join(out, "charts")] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        fail("the suite did not finish within 60 s: %s" % " ".join(cmd))
    if p.returncode != 0:
        fail("suite exited %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout[-3000:], p.stderr[-3000:]))


def run_suite(build, out):
    results = os.path.join(out, "RESULTS.md")
    # The lead's RESULTS.md text outside the suite's block must survive a run.
    with open(results, "w") as f:
        f.write("# Benchmark results\n\nText before the block.\n")
    suite(build, out, results, [])
    return results, os.path.join(out, "charts")


def tables(results):
    """The table rows of the suite's block (what --from-json must rebuild alike)."""
    with open(results) as f:
        text = f.read()
    return [ln for ln in text.split(RESULTS_BEGIN, 1)[-1].splitlines() if ln.startswith("| ")]


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
        # Where the CPU goes: "| server | 0.12 + 1.30 · 2.1 sw |"
        if not re.search(r"^\| %s \| \d+\.\d\d \+ \d+\.\d\d · \d+\.\d sw \|$" % re.escape(s), block, re.M):
            fail("no user + system split row for %s:\n%s" % (s, block))
    for row in ("| net-uring | 1 | 12,345 | 40.5 |",
                "| idle 100000: server | runs | Rss bytes/conn | Private_Dirty bytes/conn |\n|---|---|---|---|\n"
                "| net-uring | 1 | 900 | 800 |",
                "| broadcast 1000: server | runs | server CPU µs/tick |", "| net-uring | 1 | 250 |",
                "| idle memory <= 1 KiB per connection (net-uring) | 100,000 conns | 0.88 | - | **met** (0.88 KiB) |"):
        if row not in block:
            fail("no loads row %r:\n%s" % (row, block))
    for img in ("charts/tcp_cpu_per_msg.png", "charts/latency.png", "charts/loads.png", "charts/targets.png"):
        if "](%s)" % img not in block:
            fail("RESULTS.md does not link %s" % img)


def check_charts(charts):
    for name in ("tcp_cpu_per_msg.png", "latency.png", "loads.png", "targets.png"):
        w, h = png_size(os.path.join(charts, name))
        if w < 300 or h < 200:
            fail("%s is %dx%d: too small to be a chart" % (name, w, h))
    with open(os.path.join(charts, "suite-samples.json")) as f:
        samples = json.load(f)
    for part, scen in (("tcp", WORKLOAD), ("latency", "1x1x64")):
        runs = samples["parts"].get(part, {}).get("records", [])
        got = sorted(r["server"] for r in runs if r["scenario"] == scen and r["cpu_us_per_msg"] > 0)
        if got != sorted(SERVERS):
            fail("suite-samples.json %s: runs for %s, want one for each of %s" % (part, got, SERVERS))


def check_paired():
    """The per-round ratio: a drift that moves a whole round cancels in it,
    a redone (disturbed) run is left out, a round missing one side is skipped."""
    sys.path.insert(0, BENCH_DIR)
    import suite as suite_module

    def rec(rnd, server, cpu, disturbed=False):
        return {"scenario": "w", "server": server, "round": rnd, "cpu_us_per_msg": cpu, "disturbed": disturbed}
    records = [rec(1, "a", 1.0), rec(1, "b", 2.0), rec(2, "a", 1.5), rec(2, "b", 3.0), rec(3, "a", 9.0, True),
               rec(3, "a", 0.8), rec(3, "b", 1.6), rec(4, "a", 1.2)]
    got = suite_module.paired_ratio(records, "w", "a", "b")
    if not got or abs(got[0] - 0.5) > 1e-9 or len(got[1]) != 3:
        fail("paired_ratio: want median 0.5 over 3 rounds, got %r" % (got,))
    # (The ratio of the medians here is 1.1 / 2.0 = 0.55: a's lone round 4 moves it.)
    if suite_module.paired_ratio(records, "w", "a", "c") is not None:
        fail("paired_ratio without a denominator should be None")


def check_floors():
    """The kernel floor of a target is one server's kernel time over the
    other's whole CPU, round by round; the cost per extra context switch is
    the extra CPU over the extra switches, and is absent where there are none."""
    sys.path.insert(0, BENCH_DIR)
    import suite as suite_module

    def rec(rnd, server, cpu, sys_us, switches):
        return {"scenario": "w", "server": server, "round": rnd, "cpu_us_per_msg": cpu,
                "sys_us_per_msg": sys_us, "user_us_per_msg": cpu - sys_us, "switches_per_kmsg": switches}
    records = [rec(1, "net-uring-t0", 1.0, 0.9, 2.0), rec(1, "libuv-coalesce", 1.0, 0.8, 1.0),
               rec(1, "net-t1", 1.2, 0.9, 102.0), rec(2, "net-uring-t0", 2.0, 1.6, 2.0),
               rec(2, "libuv-coalesce", 2.0, 1.5, 1.0), rec(2, "net-t1", 2.4, 1.9, 202.0)]
    floor = suite_module.paired_ratio(records, "w", "net-uring-t0", "libuv-coalesce", "sys_us_per_msg",
                                      "cpu_us_per_msg")
    if not floor or abs(floor[0] - 0.85) > 1e-9:
        fail("kernel floor: want the median of 0.9/1.0 and 1.6/2.0 = 0.85, got %r" % (floor,))
    if "out of reach" not in suite_module.floor_note(floor, 0.75) or "out of reach" in suite_module.floor_note(
            floor, 0.9):
        fail("floor_note: a floor of 0.85 is out of reach for a 0.75 limit only")
    cost = suite_module.switch_cost(records, "w", "net-t1", "net-uring-t0")
    if cost is None or abs(cost - 2.0) > 1e-9:
        fail("switch_cost: want 0.2 us per 100 switches per 1000 msgs = 2.0 us per switch, got %r" % (cost,))
    part = (type("Opts", (), {"servers": ["net-t1", "net-uring-t0"], "scenarios": ["w"]})(), records, [])
    saved = suite_module.TCP_TARGETS
    suite_module.TCP_TARGETS = (("io_threads=1 within 1.15x io_threads=0", "net-t1", "net-uring-t0", 1.15, ("w",)),)
    try:
        got = suite_module.tcp_target_switches(part)
    finally:
        suite_module.TCP_TARGETS = saved
    if got != {("io_threads=1 within 1.15x io_threads=0", "w"): (152.0, 2.0)}:
        fail("tcp_target_switches: want the medians 152.0 and 2.0, got %r" % (got,))
    if suite_module.switch_cost(records, "w", "net-uring-t0", "net-t1") is not None:
        fail("switch_cost of a server that switches less should be None")


def main():
    if len(sys.argv) != 2:
        print("usage: test_suite_smoke.py BUILD")
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("SKIP: matplotlib is not installed (Debian: python3-matplotlib)")
        return SKIP
    check_paired()
    check_floors()
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="suite-smoke-") as out:
        results, charts = run_suite(build, out)
        check_results(results)
        check_charts(charts)
        again = os.path.join(out, "RESULTS-again.md")
        suite(build, out, again, ["--from-json", os.path.join(charts, "suite-samples.json")])
        if tables(again) != tables(results):
            fail("--from-json rebuilt other tables:\n%s\n---\n%s" % ("\n".join(tables(results)),
                                                                     "\n".join(tables(again))))
    print("ok: suite --quick wrote its block, 4 charts and the raw samples; --from-json rebuilt the same tables")
    return 0


if __name__ == "__main__":
    sys.exit(main())
