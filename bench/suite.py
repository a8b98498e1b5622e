#!/usr/bin/env python3
"""The benchmark suite of issue 15: every comparison in one command, one run.

    python3 bench/suite.py BUILD                    # the full run (about 21 min)
    python3 bench/suite.py BUILD --quick            # smoke run: 1 round, 1 s, outputs under BUILD/suite-quick
    python3 bench/suite.py BUILD --only tcp,latency --rounds 5 --seconds 5

BUILD is a build directory made beforehand; the suite builds nothing. It must
be a Release or RelWithDebInfo build (CMAKE_BUILD_TYPE in its CMakeCache.txt;
anything else is refused unless --any-build), with the benchmark peers
(bench/uv_echo, bench/epoll_echo, bench/uring_echo, ...): e.g.

    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2
    bash scripts/install-deps.sh     # libuv, liburing, luv, uvloop, matplotlib

Run it with Debian's Python (/usr/bin/python3, where matplotlib and uvloop
are) when another python3 comes first in PATH.

Parts (--only takes a comma-separated subset, in any order):
  tcp      the three TCP echo workloads (conns x in flight x bytes) 100x4x64,
           1000x1x64, 10x32x512 for net (io_uring and epoll, io_threads 0;
           io_threads 1), libuv (one write per message, and one per read),
           the raw epoll and io_uring loops, Lua on net against luv, Python on
           net against uvloop: server CPU us per echoed message (bench/run.py),
           split into the server's own code and the kernel, with its context
           switches; the kernel's share alone is set against the targets that
           are ratios to another server (what no library code can go below).
  udp      UDP echo (bench/run.py --udp): net against libuv with recvmmsg
           and a raw recvmmsg/sendmmsg epoll loop.
  latency  ping-pong: 1 connection, 1 message in flight, 64 bytes; p50/p99
           round trip (samples/dummy_client, 1.6 % resolution) for net against
           the raw epoll and io_uring loops and libuv.
  loads    connection rate, idle memory per connection at 10,000 and 100,000
           connections, and a game-style broadcast, through bench/loads.py
           (skipped with a message where that file is absent).

Every part runs its servers alternately (the order rotated each round) with
bench/run.py's quiet-machine checks: wait for a quiet machine before each run,
redo a run other processes disturbed, take medians over the undisturbed runs.

Writes its own block of RESULTS (default bench/RESULTS.md; the rest of the
file is kept): machine, commit, build type, date, one table per part with
medians and the ratios the issue's targets are about (the ratio of the
medians, and the median of the per-round ratios, on which each target is
marked met or not met); PNG charts and every run's raw record (suite-samples.json) go to
CHARTS (default bench/charts). Needs Python 3; charts need matplotlib
(Debian: python3-matplotlib), without it the tables are still written.
"""

import argparse
import datetime
import importlib
import json
import os
import platform
import shlex
import signal
import statistics
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
import run  # noqa: E402  (bench/run.py: one run, quiet checks, rotation)

PARTS = ("tcp", "udp", "latency", "loads")

TCP_WORKLOADS = "100x4x64,1000x1x64,10x32x512"
# Peers as the issue measures them: each read echoed with one write (the
# careful user); plain `libuv` (one uv_write per message) is the typical one.
TCP_SERVERS = ("net-uring-t0,net-epoll-t0,net-t1,libuv,libuv-coalesce,epoll-raw-coalesce,uring-raw,"
               "net-lua-t0,luv-gather,net-python-t0,uvloop")
UDP_WORKLOADS = "100x4x64,1000x1x64,10x32x512"
UDP_SERVERS = "net-epoll-t0,net-uring-t0,libuv-mmsg,epoll-raw-udp"
LATENCY_WORKLOAD = "1x1x64"
LATENCY_SERVERS = "net-uring-t0,net-epoll-t0,epoll-raw,uring-raw,libuv"
IDLE_COUNTS = "10000,100000"
BROADCAST_CONNECTIONS = 1000

RESULTS_BEGIN = "<!-- bench/suite.py results: begin -->"
RESULTS_END = "<!-- bench/suite.py results: end -->"

# Ratios reported per TCP workload: (label, numerator, denominator).
TCP_RATIOS = (
    ("net io_uring / libuv (per read)", "net-uring-t0", "libuv-coalesce"),
    ("net epoll / libuv (per read)", "net-epoll-t0", "libuv-coalesce"),
    ("net io_uring / libuv (per message)", "net-uring-t0", "libuv"),
    ("net io_uring / raw io_uring loop", "net-uring-t0", "uring-raw"),
    ("net epoll / raw epoll loop", "net-epoll-t0", "epoll-raw-coalesce"),
    ("net io_threads=1 / io_threads=0", "net-t1", "net-uring-t0"),
    ("Python on net / uvloop", "net-python-t0", "uvloop"),
    ("Lua on net / luv", "net-lua-t0", "luv-gather"),
    ("Lua on net / C on net", "net-lua-t0", "net-uring-t0"),
)

# What no change to the library's own code can go below, per target: the
# numerator's kernel time alone (system time: syscalls, and the softirq work
# of loopback TCP this kernel charges to the task it interrupted) over the
# denominator's whole CPU, round by round. (text, numerator, denominator).
TCP_FLOORS = (
    ("net io_uring's kernel time / libuv (per read)'s whole CPU", "net-uring-t0", "libuv-coalesce"),
    ("the raw io_uring loop's kernel time / libuv (per read)'s whole CPU", "uring-raw", "libuv-coalesce"),
    ("net io_uring's kernel time / the raw io_uring loop's whole CPU", "net-uring-t0", "uring-raw"),
)

# The targets on the TCP table: (text, numerator, denominator, limit, workloads).
ALL3 = ("100x4x64", "1000x1x64", "10x32x512")
TCP_TARGETS = (
    ("C echo <= 0.75x libuv", "net-uring-t0", "libuv-coalesce", 0.75, ALL3),
    ("C echo <= 1.05x the raw io_uring loop", "net-uring-t0", "uring-raw", 1.05, ("100x4x64", "1000x1x64")),
    ("Python on net <= 0.9x uvloop", "net-python-t0", "uvloop", 0.9, ALL3),
    ("Lua on net <= 0.8x luv", "net-lua-t0", "luv-gather", 0.8, ALL3),
    ("Lua on net <= 1.15x C on net", "net-lua-t0", "net-uring-t0", 1.15, ALL3),
    ("io_threads=1 within 1.15x io_threads=0", "net-t1", "net-uring-t0", 1.15, ALL3),
)
# The targets a kernel floor (TCP_FLOORS) applies to: text -> (numerator,
# denominator) whose kernel-time-over-whole-CPU ratio no library change goes below.
TARGET_FLOORS = {
    "C echo <= 0.75x libuv": ("net-uring-t0", "libuv-coalesce"),
    "C echo <= 1.05x the raw io_uring loop": ("net-uring-t0", "uring-raw"),
}
LATENCY_TARGETS = (
    ("ping-pong p50 <= 1.1x the raw epoll loop (net io_uring)", "net-uring-t0", "epoll-raw", 1.1),
    ("ping-pong p50 <= 1.1x the raw epoll loop (net epoll)", "net-epoll-t0", "epoll-raw", 1.1),
)
IDLE_TARGET_BYTES = 1024  # per connection at 100,000 connections


class SuiteError(Exception):
    pass


# ------------------------------------------------------------------ options

def csv_list(text, what):
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError("%s: empty list" % what)
    return items


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", help="a Release or RelWithDebInfo build directory (the suite builds nothing)")
    ap.add_argument("--only", default=",".join(PARTS), help="parts to run (default all: %s)" % ",".join(PARTS))
    ap.add_argument("--rounds", type=int, default=3, help="rounds per part, medians over them (default 3)")
    ap.add_argument("--seconds", type=float, default=4.0, help="load per run, in seconds (default 4)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 round of 1 s, outputs under BUILD/suite-quick unless --results/--charts")
    ap.add_argument("--tcp-servers", default=TCP_SERVERS, help="(default %s)" % TCP_SERVERS)
    ap.add_argument("--workloads", default=TCP_WORKLOADS, help="TCP CONNSxDEPTHxSIZE (default %s)" % TCP_WORKLOADS)
    ap.add_argument("--udp-servers", default=UDP_SERVERS, help="(default %s)" % UDP_SERVERS)
    ap.add_argument("--udp-workloads", default=UDP_WORKLOADS, help="(default %s)" % UDP_WORKLOADS)
    ap.add_argument("--latency-servers", default=LATENCY_SERVERS, help="(default %s)" % LATENCY_SERVERS)
    ap.add_argument("--idle-counts", default=IDLE_COUNTS, help="idle connections per measure (default %s)"
                    % IDLE_COUNTS)
    ap.add_argument("--max-other", type=float, default=25.0,
                    help="redo a run when other processes used more than this %% of a core (default 25)")
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="wait up to this many seconds for a quiet machine before each run (default 60; 0 = no)")
    ap.add_argument("--retries", type=int, default=2, help="redos per disturbed run (default 2)")
    ap.add_argument("--results", default=None, help="markdown file whose suite block is replaced "
                    "(default bench/RESULTS.md; with --quick BUILD/suite-quick/RESULTS.md)")
    ap.add_argument("--charts", default=None, help="directory for the PNG charts and suite-samples.json "
                    "(default bench/charts; with --quick BUILD/suite-quick/charts)")
    ap.add_argument("--any-build", action="store_true", help="accept a build type other than Release/RelWithDebInfo")
    ap.add_argument("--from-json", metavar="FILE", help="run nothing: report (tables, charts) the runs of an "
                    "earlier run's suite-samples.json")
    ap.add_argument("--loads-module", default="loads", help=argparse.SUPPRESS)  # the smoke test's double
    opts = ap.parse_args(argv)

    try:
        opts.only = csv_list(opts.only, "--only")
        opts.tcp_servers = csv_list(opts.tcp_servers, "--tcp-servers")
        opts.workloads = csv_list(opts.workloads, "--workloads")
        opts.udp_servers = csv_list(opts.udp_servers, "--udp-servers")
        opts.udp_workloads = csv_list(opts.udp_workloads, "--udp-workloads")
        opts.latency_servers = csv_list(opts.latency_servers, "--latency-servers")
        opts.idle_counts = [int(x) for x in csv_list(opts.idle_counts, "--idle-counts")]
    except (argparse.ArgumentTypeError, ValueError) as e:
        ap.error(str(e))
    for part in opts.only:
        if part not in PARTS:
            ap.error("--only: unknown part %r (known: %s)" % (part, ", ".join(PARTS)))
    if opts.quick:
        opts.rounds, opts.seconds = 1, 1.0
    if opts.rounds < 1:
        ap.error("--rounds must be at least 1 (got %d)" % opts.rounds)
    if opts.seconds <= 0:
        ap.error("--seconds must be positive (got %g)" % opts.seconds)
    opts.build = os.path.abspath(opts.build)
    if not os.path.isdir(opts.build):
        ap.error("build directory %s does not exist" % opts.build)
    opts.build_type = cmake_build_type(opts.build)
    if opts.build_type not in ("Release", "RelWithDebInfo") and not opts.any_build:
        ap.error("%s: CMAKE_BUILD_TYPE is %r in its CMakeCache.txt: benchmark a Release or RelWithDebInfo "
                 "build (cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release), or pass --any-build"
                 % (opts.build, opts.build_type))
    quick_dir = os.path.join(opts.build, "suite-quick")
    opts.results = os.path.abspath(opts.results or (os.path.join(quick_dir, "RESULTS.md") if opts.quick
                                                    else os.path.join(BENCH_DIR, "RESULTS.md")))
    opts.charts = os.path.abspath(opts.charts or (os.path.join(quick_dir, "charts") if opts.quick
                                                  else os.path.join(BENCH_DIR, "charts")))
    opts.argv = argv
    return opts


def cmake_cache(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""


def cmake_build_type(build):
    return cmake_cache(build, "CMAKE_BUILD_TYPE")


def run_options(opts, udp, servers, workloads, baseline):
    """bench/run.py's options for one part, through its own parser (same defaults and checks)."""
    argv = [opts.build, "--servers", ",".join(servers), "--scenarios", ",".join(workloads),
            "--rounds", str(opts.rounds), "--seconds", "%g" % opts.seconds, "--baseline", baseline,
            "--max-other", "%g" % opts.max_other, "--quiet-wait", "%g" % opts.quiet_wait,
            "--retries", str(opts.retries)]
    if udp:
        argv.insert(1, "--udp")
    try:
        ropts, _ = run.parse_options(argv)
    except SystemExit:
        raise SuiteError("bench/run.py refused the options %s" % " ".join(argv))
    if not os.access(ropts.client, os.X_OK):
        raise SuiteError("load generator not found: %s (build the tree first)" % ropts.client)
    return ropts


# ------------------------------------------------------------------ the echo parts

# Echo part -> (UDP?, the baseline of run.py's own table).
ECHO_PARTS = {"tcp": (False, "libuv-coalesce"), "latency": (False, "epoll-raw"), "udp": (True, "libuv-mmsg")}


def echo_part_options(opts):
    """{part: bench/run.py options} for the selected echo parts, all checked before anything runs."""
    chosen = {"tcp": (opts.tcp_servers, opts.workloads), "latency": (opts.latency_servers, [LATENCY_WORKLOAD]),
              "udp": (opts.udp_servers, opts.udp_workloads)}
    return {name: run_options(opts, ECHO_PARTS[name][0], servers, workloads, ECHO_PARTS[name][1])
            for name, (servers, workloads) in chosen.items() if name in opts.only}


def run_echo_part(ropts, parts, name):
    """Runs one bench/run.py part into parts[name] = (its options, records, failures).

    The entry exists before the first run, so an interrupted part still
    reports the runs it made.
    """
    parts[name] = (ropts, [], [])
    run.run_rounds(ropts, parts[name][1], parts[name][2])


def medians(records, scen, server, keys=("cpu_us_per_msg", "msgs_per_s", "p50_us", "p99_us")):
    """{key: median over the runs run.py would use} for one server and workload, or None without runs."""
    rs, made = run.runs_for(records, scen, server)
    if not rs:
        return None
    out = {"runs": len(rs), "made": made}
    for k in keys:
        vals = [r[k] for r in rs if isinstance(r.get(k), (int, float))]
        out[k] = statistics.median(vals) if vals else None
        if k == "cpu_us_per_msg" and vals:
            out["cpu_min"], out["cpu_max"] = min(vals), max(vals)
    lost = [100.0 * r["lost"] / r["sent"] for r in rs if r.get("sent") and r.get("lost") is not None]
    out["lost_pct"] = statistics.median(lost) if lost else None
    return out


def ratio(table, scen, num, den, key="cpu_us_per_msg"):
    a, b = table.get((scen, num)), table.get((scen, den))
    if not a or not b or not a.get(key) or not b.get(key):
        return None
    return a[key] / b[key]


def paired_ratio(records, scen, num, den, key="cpu_us_per_msg", den_key=None):
    """(median, [per-round ratios]) of num/den taken round by round, or None.

    A round runs every server of a workload back to back, so a drift of the
    machine that moves a whole round (this VM's rounds swing by +-20 %%
    together) cancels in a round's own ratio; the ratio of the two medians
    can instead pair one server's good round with the other's bad one. Runs
    are those the medians use (run.runs_for); a server run twice in a round
    (a redone run) counts with its median there. den_key, when given, is
    the denominator's figure (e.g. one server's kernel time over another's
    whole CPU)."""
    def by_round(server, k):
        out = {}
        for r in run.runs_for(records, scen, server)[0]:
            if isinstance(r.get(k), (int, float)) and r.get(k) and "round" in r:
                out.setdefault(r["round"], []).append(r[k])
        return {rd: statistics.median(v) for rd, v in out.items()}
    a, b = by_round(num, key), by_round(den, den_key or key)
    ratios = [a[k] / b[k] for k in sorted(a) if k in b]
    return (statistics.median(ratios), ratios) if ratios else None


def fmt_paired(p):
    """A paired ratio as "median [min-max]", or "-"."""
    if not p:
        return "-"
    lo, hi = min(p[1]), max(p[1])
    return run.fmt(p[0]) if len(p[1]) == 1 else "%s [%s-%s]" % (run.fmt(p[0]), run.fmt(lo), run.fmt(hi))


def median_table(records, servers, workloads):
    return {(w, s): medians(records, w, s) for w in workloads for s in servers}


# ------------------------------------------------------------------ bench/loads.py adapter

# Servers of the loads, by bench/loads.py's names (its SERVERS and
# BROADCAST_SERVERS). The raw io_uring loop is left out of idle memory: its
# 64 KiB receive buffer per connection is a choice for throughput that no
# one makes for 100,000 idle connections.
LOADS_ECHO_SERVERS = ("net-uring", "net-epoll", "libuv", "epoll-raw", "uring-raw")
LOADS_IDLE_SERVERS = ("net-uring", "net-epoll", "libuv", "epoll-raw")
LOADS_BROADCAST_SERVERS = ("net-uring", "net-epoll", "libuv", "epoll-raw")
# Where bench/loads.py has no echo_argv: its names in run.py's table.
RUN_PY_NAMES = {"net-uring": "net-uring-t0", "net-epoll": "net-epoll-t0"}


def pick(d, *keys):
    for k in keys:
        if isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool):
            return float(d[k])
    return None


def loads_echo_argv(loads, name, build, count=0):
    """A named echo server's command without the common options (bench/loads.py adds them)."""
    if hasattr(loads, "echo_argv"):
        return loads.echo_argv(name, build, count)
    template = run.SERVERS[RUN_PY_NAMES.get(name, name)]
    return shlex.split(template.format(build=build, bench=BENCH_DIR, args=""))


def with_build(fn, build):
    """fn, given build= when it takes one (bench/loads.py's tools live in the build directory)."""
    try:
        import inspect
        if "build" in inspect.signature(fn).parameters:
            return lambda *a: fn(*a, build=build)
    except (TypeError, ValueError):
        pass
    return fn


def loads_plan(loads, opts):
    """[(load, server, call, headline keys, unit)]: every measure of one round, in order."""
    known = getattr(loads, "SERVERS", None)
    echo = [n for n in LOADS_ECHO_SERVERS if known is None or n in known]
    idle = [n for n in LOADS_IDLE_SERVERS if known is None or n in known]
    bknown = getattr(loads, "BROADCAST_SERVERS", None)
    bcast = [n for n in LOADS_BROADCAST_SERVERS if bknown is None or n in bknown]
    connrate, idle_fn = with_build(loads.measure_connrate, opts.build), with_build(loads.measure_idle, opts.build)
    plan = []
    for n in echo:
        plan.append(("connrate", n, lambda n=n: connrate(loads_echo_argv(loads, n, opts.build), opts.seconds),
                     ("cycles_per_s", "conns_per_s"), "conn/s"))
    for count in opts.idle_counts:
        for n in idle:
            plan.append(("idle %d" % count, n,
                         lambda n=n, c=count: idle_fn(loads_echo_argv(loads, n, opts.build, c), c),
                         ("rss_bytes_per_conn", "bytes_per_conn"), "bytes/conn"))
    for n in bcast:
        plan.append(("broadcast %d" % BROADCAST_CONNECTIONS, n, lambda n=n: loads.measure_broadcast(
            n, opts.build, BROADCAST_CONNECTIONS, opts.seconds),
            ("server_cpu_us_per_tick", "cpu_us_per_tick"), "µs/tick"))
    return plan


# Per load measure beyond --seconds: the quiet check, server start, connecting
# (100,000 idle connections take several seconds), settling, closing.
LOAD_OVERHEAD_S = 3.0


def run_loads(loads, opts, records, failures):
    """The one place that knows bench/loads.py's interface.

    measure_connrate(server_argv, seconds[, build=]), measure_idle(server_argv,
    count[, build=]) and measure_broadcast(server_name, build, connections,
    seconds) each return a dict; each becomes a record {load, server, round,
    value, unit, raw} with `value` the headline figure picked from the dict
    (connections per second; resident bytes per idle connection; server CPU
    per broadcast tick). server_argv: echo_argv(name, build, count) of
    bench/loads.py, without the common options, which it adds.
    """
    plan = loads_plan(loads, opts)
    print("loads: %d measures x %d rounds, about %.0f min" % (
        len(plan), opts.rounds, len(plan) * opts.rounds * (opts.seconds + LOAD_OVERHEAD_S) / 60), file=sys.stderr)
    for rnd in range(opts.rounds):
        # Rotate the order each round, as run.py does, so no server is always first.
        k = rnd % len(plan)
        for load, name, fn, keys, unit in plan[k:] + plan[:k]:
            if opts.quiet_wait > 0 and not run.wait_quiet(opts.max_other, opts.quiet_wait):
                print("busy    machine not quiet after %g s, running anyway" % opts.quiet_wait, file=sys.stderr)
            try:
                raw = fn()
            except Exception as e:  # a load's own failure must not cost the other loads
                failures.append("round %d %s %s: %s" % (rnd + 1, load, name, e))
                print("FAILED  round %d %-12s %-14s %s" % (rnd + 1, load, name, e), file=sys.stderr)
                continue
            rec = {"load": load, "server": name, "round": rnd + 1, "value": pick(raw, *keys), "unit": unit,
                   "raw": raw}
            records.append(rec)
            print("round %d %-14s %-14s %s %s" % (rnd + 1, load, name, run.fmt(rec["value"]), unit),
                  file=sys.stderr, flush=True)


def import_loads(name):
    try:
        return importlib.import_module(name)
    except ImportError as e:
        if getattr(e, "name", None) == name:
            return None
        raise


# The columns of each load's table: (field of bench/loads.py's dict, header, format).
LOAD_COLUMNS = {
    "connrate": (("cycles_per_s", "connections/s", "{:,.0f}"),
                 ("server_cpu_us_per_cycle", "server CPU µs/conn", "%.1f")),
    "idle": (("rss_bytes_per_conn", "Rss bytes/conn", "%.0f"),
             ("private_dirty_bytes_per_conn", "Private_Dirty bytes/conn", "%.0f"),
             ("connect_seconds", "connect s", "%.2f"),
             ("server_cpu_us_per_conn_setup", "server CPU µs/setup", "%.1f")),
    "broadcast": (("server_cpu_us_per_tick", "server CPU µs/tick", "%.0f"),
                  ("server_cpu_us_per_message", "µs/delivered msg", "%.2f"), ("ticks_per_s", "ticks/s", "%.1f"),
                  ("missed", "missed", "%.0f")),
}


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def load_medians(records):
    """{(load, server): (median value, runs, unit, medians of every numeric raw field)}."""
    out = {}
    # In the order they first ran: round 1 runs the measures in their listed order.
    for key in dict.fromkeys((r["load"], r["server"]) for r in records):
        rs = [r for r in records if (r["load"], r["server"]) == key]
        vals = [r["value"] for r in rs if r["value"] is not None]
        fields = {}
        for f in dict.fromkeys(k for r in rs for k, v in r["raw"].items() if num(v)):
            fv = [r["raw"][f] for r in rs if num(r["raw"].get(f))]
            fields[f] = statistics.median(fv)
        out[key] = (statistics.median(vals) if vals else None, len(rs), rs[0]["unit"], fields)
    return out


# ------------------------------------------------------------------ report

def machine_lines(opts):
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    except OSError:
        pass
    hooks = cmake_cache(opts.build, "NET_TEST_HOOKS")
    return [
        "- machine: nproc=%d, %s, kernel %s" % (os.cpu_count() or 0, model, platform.release()),
        "- commit: %s" % run.git_commit(),
        "- build: %s (%s%s)" % (opts.build, opts.build_type or "no build type",
                                ", test hooks ON" if hooks.upper() in ("ON", "1", "TRUE") else ""),
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- command: `python3 bench/suite.py %s`" % " ".join(shlex.quote(a) for a in opts.argv),
        "- %d round(s) of %g s per run, servers alternating (order rotated each round), medians over the "
        "undisturbed runs; quiet-machine checks: other CPU <= %g %% of a core, %d redo(s)"
        % (opts.rounds, opts.seconds, opts.max_other, opts.retries),
    ]


def meta_stamp(meta):
    """{"date", "commit", "machine"} from machine_lines' lines: a report
    rebuilt with --from-json names when and where its runs were made."""
    out = {}
    for line in meta:
        for key in ("date", "commit", "machine"):
            if line.startswith("- %s: " % key):
                out[key] = line[len("- %s: " % key):]
    return out


def deciding(value, paired):
    """The figure a target is judged on: the median of the per-round ratios
    where there is one (see paired_ratio), else the value itself."""
    return paired[0] if paired else value


def verdict(value, limit, unit="x"):
    if value is None:
        return "not measured"
    return "**%s** (%.2f%s)" % ("met" if value <= limit else "not met", value, unit)


def tcp_section(part, charts_rel):
    ropts, records, _ = part
    servers, workloads = ropts.servers, ropts.scenarios
    table = median_table(records, servers, workloads)
    lines = ["### TCP echo: server CPU µs per message", "",
             "| server | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
    for s in servers:
        cells = []
        for w in workloads:
            m = table[(w, s)]
            cells.append("-" if not m else "%s (%d/%d)" % (run.fmt(m["cpu_us_per_msg"]), m["runs"], m["made"]))
        lines.append("| %s | %s |" % (s, " | ".join(cells)))
    lines += ["", "Messages per second (medians; relative only: the load generator shares the machine):", "",
              "| server | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
    for s in servers:
        lines.append("| %s | %s |" % (s, " | ".join(
            "{:,.0f}".format(table[(w, s)]["msgs_per_s"]) if table[(w, s)] else "-" for w in workloads)))
    lines += ["", "Ratios of CPU per message: the ratio of the medians, then in brackets the median of the "
              "per-round ratios [their range] (each round runs the servers back to back, so a drift that moves a "
              "whole round cancels in it):", "",
              "| ratio | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
    for label, num, den in TCP_RATIOS:
        if num in servers and den in servers:
            lines.append("| %s | %s |" % (label, " | ".join(
                "%s (%s)" % (run.fmt(ratio(table, w, num, den)), fmt_paired(paired_ratio(records, w, num, den)))
                for w in workloads)))
    lines += cpu_split_lines(records, servers, workloads)
    lines += ["", "![server CPU per message](%s/tcp_cpu_per_msg.png)" % charts_rel, ""]
    return lines


def switch_cost(records, scen, num, den):
    """Median over rounds of the extra CPU per extra context switch of num
    over den (µs), or None where num did not switch more."""
    per_round = {}
    for server in (num, den):
        for r in run.runs_for(records, scen, server)[0]:
            if "round" in r and isinstance(r.get("switches_per_kmsg"), (int, float)):
                per_round.setdefault(r["round"], {})[server] = r
    costs = []
    for rd in sorted(per_round):
        a, b = per_round[rd].get(num), per_round[rd].get(den)
        if a and b and a["switches_per_kmsg"] > b["switches_per_kmsg"]:
            costs.append((a["cpu_us_per_msg"] - b["cpu_us_per_msg"]) * 1e3 /
                         (a["switches_per_kmsg"] - b["switches_per_kmsg"]))
    return statistics.median(costs) if costs else None


def cpu_split_lines(records, servers, workloads):
    """Where each server's CPU goes, and what the kernel alone costs: the
    figures that say whether a ratio target can be reached from the
    library's side at all."""
    splits = {(w, s): medians(records, w, s, ("user_us_per_msg", "sys_us_per_msg", "switches_per_kmsg"))
              for w in workloads for s in servers}
    if not any(m and m.get("sys_us_per_msg") is not None for m in splits.values()):
        return []  # samples from before run.py recorded the split
    lines = ["", "Where the CPU goes (medians): the server's own code (user) + the kernel (system) in µs per "
             "message, and its threads' context switches per 1,000 messages:", "",
             "| server | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
    for s in servers:
        cells = []
        for w in workloads:
            m = splits[(w, s)]
            if not m or m.get("sys_us_per_msg") is None:
                cells.append("-")
            else:
                cells.append("%s + %s · %s sw" % (run.fmt(m["user_us_per_msg"]), run.fmt(m["sys_us_per_msg"]),
                                                  run.fmt(m["switches_per_kmsg"], 1)))
        lines.append("| %s | %s |" % (s, " | ".join(cells)))
    rows = [(label, num, den) for label, num, den in TCP_FLOORS if num in servers and den in servers]
    if rows:
        lines += ["", "The kernel's share alone, median of the per-round ratios [range]. Where it is above a "
                  "target's limit, no work in the library's own code can meet that target: the kernel time is "
                  "what the same sends and receives cost on this kernel.", "",
                  "| kernel time alone | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
        for label, num, den in rows:
            lines.append("| %s | %s |" % (label, " | ".join(
                fmt_paired(paired_ratio(records, w, num, den, "sys_us_per_msg", "cpu_us_per_msg"))
                for w in workloads)))
    if "net-t1" in servers and "net-uring-t0" in servers:
        costs = [switch_cost(records, w, "net-t1", "net-uring-t0") for w in workloads]
        lines += ["", "io_threads=1 over io_threads=0, per extra context switch (the hand-off between the I/O "
                  "thread and the polling thread, which share the core the load generator leaves): " +
                  ", ".join("%s %s µs" % (w, run.fmt(c)) for w, c in zip(workloads, costs) if c is not None) +
                  (" of extra CPU." if any(c is not None for c in costs) else "no extra switches measured.")]
    return lines


# A target's result: (text, where, value, limit, unit, paired); value None =
# not measured; value is the ratio of the medians, paired what paired_ratio
# gives (None where the target is not a ratio of two servers).

def tcp_targets(part):
    ropts, records, _ = part
    servers, workloads = ropts.servers, ropts.scenarios
    table = median_table(records, servers, workloads)
    out = []
    for text, num, den, limit, where in TCP_TARGETS:
        if num in servers and den in servers:
            out += [(text, w, ratio(table, w, num, den), limit, "x", paired_ratio(records, w, num, den))
                    for w in where if w in workloads]
    return out


def tcp_target_floors(part):
    """{(target text, workload): paired ratio of the numerator's kernel time
    over the denominator's whole CPU} for the targets TARGET_FLOORS names."""
    ropts, records, _ = part
    out = {}
    for text, _, _, _, where in TCP_TARGETS:
        pair = TARGET_FLOORS.get(text)
        if pair and pair[0] in ropts.servers and pair[1] in ropts.servers:
            for w in where:
                p = paired_ratio(records, w, pair[0], pair[1], "sys_us_per_msg", "cpu_us_per_msg")
                if p:
                    out[(text, w)] = p
    return out


# Targets between two thread modes of net: text -> (numerator, denominator)
# whose context switches per message the result names (the hand-off's cost).
TARGET_SWITCHES = {
    "io_threads=1 within 1.15x io_threads=0": ("net-t1", "net-uring-t0"),
}


def tcp_target_switches(part):
    """{(target text, workload): (numerator's, denominator's) median context
    switches per 1,000 messages} for the targets TARGET_SWITCHES names."""
    ropts, records, _ = part
    out = {}
    for text, _, _, _, where in TCP_TARGETS:
        pair = TARGET_SWITCHES.get(text)
        if not pair or pair[0] not in ropts.servers or pair[1] not in ropts.servers:
            continue
        for w in where:
            a, b = (medians(records, w, s, ("switches_per_kmsg",)) for s in pair)
            if a and b and a.get("switches_per_kmsg") is not None and b.get("switches_per_kmsg") is not None:
                out[(text, w)] = (a["switches_per_kmsg"], b["switches_per_kmsg"])
    return out


def switches_note(switches):
    if not switches:
        return ""
    return "; context switches per 1,000 messages %s against %s" % (run.fmt(switches[0], 1),
                                                                    run.fmt(switches[1], 1))


def floor_note(floor, limit):
    """What the kernel floor says of a target: nothing where it is unknown."""
    if not floor:
        return ""
    if floor[0] > limit:
        return "; out of reach from the library: its kernel time alone is %s" % fmt_paired(floor)
    return "; kernel time alone %s" % fmt_paired(floor)


def latency_targets(part):
    ropts, records, _ = part
    servers, w = ropts.servers, ropts.scenarios[0]
    table = median_table(records, servers, [w])
    return [(text, w, ratio(table, w, num, den, "p50_us"), limit, "x", paired_ratio(records, w, num, den, "p50_us"))
            for text, num, den, limit in LATENCY_TARGETS if num in servers and den in servers]


def loads_targets(records):
    """The idle-memory target at the largest count measured: 100,000 where the
    machine allows that many descriptors, else the most it allowed (named)."""
    medians = load_medians(records)
    counts = [int(load.split()[1]) for load, _ in medians if load.startswith("idle ")]
    if not counts:
        return []
    top = max(counts)
    out = []
    for (load, server), (value, _, _, _) in medians.items():
        if load == "idle %d" % top and server.startswith("net"):
            out.append(("idle memory <= 1 KiB per connection (%s)" % server, "{:,} conns".format(top),
                        None if value is None else value / IDLE_TARGET_BYTES, 1.0, " KiB", None))
    return out


def all_targets(parts):
    out = []
    for name, fn in (("tcp", tcp_targets), ("latency", latency_targets), ("loads", loads_targets)):
        if name in parts:
            out += fn(parts[name])
    return out


def udp_section(part, charts_rel):
    ropts, records, _ = part
    servers, workloads = ropts.servers, ropts.scenarios
    table = median_table(records, servers, workloads)
    lines = ["### UDP echo: server CPU µs per datagram (lost %)", "",
             "| server | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
    for s in servers:
        lines.append("| %s | %s |" % (s, " | ".join(
            "%s (%s %%)" % (run.fmt(table[(w, s)]["cpu_us_per_msg"]), run.fmt(table[(w, s)]["lost_pct"], 3))
            if table[(w, s)] else "-" for w in workloads)))
    refs = [r for r in ("libuv-mmsg", "epoll-raw-udp") if r in servers]
    nets = [s for s in servers if s.startswith("net-")]
    if refs and nets:
        lines += ["", "| ratio | " + " | ".join(workloads) + " |", "|---|" + "---|" * len(workloads)]
        for n in nets:
            for r in refs:
                lines.append("| %s / %s | %s |" % (n, r, " | ".join(run.fmt(ratio(table, w, n, r)) for w in workloads)))
    lines += ["", "![server CPU per datagram](%s/udp_cpu_per_dgram.png)" % charts_rel, ""]
    return lines


def latency_section(part, charts_rel):
    ropts, records, _ = part
    servers, w = ropts.servers, ropts.scenarios[0]
    table = median_table(records, servers, [w])
    lines = ["### Ping-pong latency (%s: 1 connection, 1 in flight, 64 bytes)" % w, "",
             "| server | p50 µs | p99 µs | round trips/s | server CPU µs/msg | p50 × epoll-raw "
             "| p50 × uring-raw |",
             "|---|---|---|---|---|---|---|"]
    for s in servers:
        m = table[(w, s)]
        if not m:
            lines.append("| %s | - | - | - | - | - | - |" % s)
            continue
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            s, run.fmt(m["p50_us"], 1), run.fmt(m["p99_us"], 1), "{:,.0f}".format(m["msgs_per_s"]),
            run.fmt(m["cpu_us_per_msg"]), run.fmt(ratio(table, w, s, "epoll-raw", "p50_us")),
            run.fmt(ratio(table, w, s, "uring-raw", "p50_us"))))
    lines += ["", "Latency is dummy_client's round trip (send to verified echo), median over rounds of each run's "
              "percentile; its histogram resolves 1.6 %.", "",
              "![ping-pong latency](%s/latency.png)" % charts_rel, ""]
    return lines


def loads_table(load, rows):
    """One load's table: its LOAD_COLUMNS where the dicts have them, else every numeric field."""
    cols = [c for c in LOAD_COLUMNS.get(load.split()[0], ()) if any(c[0] in f for _, _, f in rows)]
    if not cols:
        cols = [(k, k, "%.4g") for k in dict.fromkeys(k for _, _, f in rows for k in f)]
    lines = ["| %s: server | runs | %s |" % (load, " | ".join(h for _, h, _ in cols)),
             "|---|---|" + "---|" * len(cols)]
    for server, runs, f in rows:
        lines.append("| %s | %d | %s |" % (server, runs, " | ".join(
            (fmt.format(f[k]) if "{" in fmt else fmt % f[k]) if k in f else "-" for k, _, fmt in cols)))
    return lines + [""]


def loads_section(records, charts_rel):
    med = load_medians(records)
    lines = ["### Extra loads (bench/loads.py)", ""]
    for load in dict.fromkeys(k[0] for k in med):
        rows = [(server, runs, fields) for (ld, server), (_, runs, _, fields) in med.items() if ld == load]
        lines += loads_table(load, rows)
    lines += ["![extra loads](%s/loads.png)" % charts_rel, ""]
    return lines


def build_report(opts, parts, failures, notes, charts_rel):
    lines = ["## Suite run", ""] + opts.meta + [""]
    if opts.quick:
        lines += ["**A smoke run (--quick: 1 round of 1 s): it shows the suite works, its figures are not "
                  "measurements to quote.**", ""]
    lines += ["CPU per message is the server process's utime+stime during the load divided by the messages the "
              "verifying client counted (bench/run.py; this kernel %s). \"(a/b)\": runs used/made. Peers: "
              "`libuv-coalesce`, `epoll-raw-coalesce`, `uring-raw`, `luv-gather` and `uvloop` echo each read with "
              "one write (a careful user; the issue's baselines); `libuv` writes once per message (a typical "
              "user)." % ("charges softirq time to the task it interrupted" if run.IRQ_IN_TASKS
                          else "charges softirq time to no task"), ""]
    for name, section in (("tcp", tcp_section), ("latency", latency_section), ("udp", udp_section),
                          ("loads", loads_section)):
        if name in parts:
            lines += section(parts[name], charts_rel)
    targets = all_targets(parts)
    floors = tcp_target_floors(parts["tcp"]) if "tcp" in parts else {}
    switches = tcp_target_switches(parts["tcp"]) if "tcp" in parts else {}
    if targets:
        lines += ["### The issue's targets in this run", "",
                  "Judged on the median of the per-round ratios (a round runs the servers back to back, so a "
                  "drift of the whole round cancels); the ratio of the medians and the per-round range beside it. "
                  "Where a target is a ratio to another server, the result also gives the numerator's kernel "
                  "time alone over the other's whole CPU (see \"Where the CPU goes\"): above the limit, no change "
                  "in the library's own code can meet the target on this kernel. Between thread modes it gives "
                  "the context switches of each (the hand-off between threads).",
                  "", "| target | where | ratio of medians | per-round ratios: median [range] | result |",
                  "|---|---|---|---|---|"]
        lines += ["| %s | %s | %s | %s | %s%s%s |" % (text, where, run.fmt(value) if value is not None else "-",
                                                    fmt_paired(paired), verdict(deciding(value, paired), limit, unit),
                                                    floor_note(floors.get((text, where)), limit),
                                                    switches_note(switches.get((text, where))))
                  for text, where, value, limit, unit, paired in targets]
        lines += ["", "![targets](%s/targets.png)" % charts_rel, ""]
    for name in ("tcp", "latency", "udp"):
        if name in parts:
            ropts, records, part_failures = parts[name]
            detail = run.report(records, ropts, "(bench/suite.py, part %s)" % name, part_failures,
                                meta_stamp(opts.meta))
            # run.py's own table: client and other CPU, min-max, which runs were disturbed.
            lines += ["<details><summary>%s: every column of bench/run.py</summary>" % name, "",
                      detail.replace("### ", "#### ", 1), "</details>", ""]
    for note in notes:
        lines += [note, ""]
    if failures:
        lines += ["Failed runs (%d):" % len(failures)] + ["- %s" % f for f in failures] + [""]
    lines.append("Raw records of every run: `%s/suite-samples.json`." % charts_rel)
    return "\n".join(lines) + "\n"


def write_block(path, block):
    """Replaces the suite's marked block of path (or appends one), leaving the rest as it was."""
    block = "%s\n%s%s\n" % (RESULTS_BEGIN, block, RESULTS_END)
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if RESULTS_BEGIN in text and RESULTS_END in text:
        head, _, rest = text.partition(RESULTS_BEGIN)
        _, _, tail = rest.partition(RESULTS_END)
        text = head + block.rstrip("\n") + tail
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "# Benchmark results\n\n") + block
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")


# ------------------------------------------------------------------ charts

FAMILY_COLOURS = (("net-python", "#8e44ad"), ("net-lua", "#27ae60"), ("net", "#1f5fa8"), ("uvloop", "#c39bd3"),
                  ("luv", "#82e0aa"), ("libuv", "#e67e22"), ("uring-raw", "#555555"), ("epoll-raw", "#999999"))


def colour(server):
    return next((c for prefix, c in FAMILY_COLOURS if server.startswith(prefix)), "#cccccc")


def bar_panels(plt, path, title, ylabel, workloads, servers, table, key):
    """One panel per workload (each its own scale), one bar per server with its min-max."""
    fig, axes = plt.subplots(1, len(workloads), figsize=(max(8.0, 4.2 * len(workloads) + 1), 4.8), squeeze=False)
    for ax, w in zip(axes[0], workloads):
        vals, lo, hi, names = [], [], [], []
        for s in servers:
            m = table.get((w, s))
            if m and m.get(key) is not None:
                names.append(s)
                vals.append(m[key])
                lo.append(m[key] - m.get("cpu_min", m[key]))
                hi.append(m.get("cpu_max", m[key]) - m[key])
        ax.bar(range(len(vals)), vals, color=[colour(s) for s in names], yerr=[lo, hi], capsize=2)
        ax.set_xticks(range(len(vals)))
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
        ax.set_title(w)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_chart(plt, path, servers, table, w):
    names = [s for s in servers if table.get((w, s))]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [table[(w, s)]["p50_us"] or 0 for s in names], 0.4, label="p50",
           color=[colour(s) for s in names])
    ax.bar([i + 0.2 for i in x], [table[(w, s)]["p99_us"] or 0 for s in names], 0.4, label="p99",
           color=[colour(s) for s in names], alpha=0.45, hatch="//")
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=9)
    ax.set_ylabel("round trip, µs")
    ax.set_title("Ping-pong latency (%s): p50 solid, p99 hatched" % w)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def loads_chart(plt, path, records):
    med = load_medians(records)
    loads = list(dict.fromkeys(k[0] for k in med))
    fig, axes = plt.subplots(1, len(loads), figsize=(max(7.0, 4.0 * len(loads) + 1), 4.4), squeeze=False)
    for ax, load in zip(axes[0], loads):
        items = [(s, v) for (ld, s), (v, _, _, _) in med.items() if ld == load and v is not None]
        ax.bar(range(len(items)), [v for _, v in items], color=[colour(s) for s, _ in items])
        ax.set_xticks(range(len(items)))
        ax.set_xticklabels([s for s, _ in items], rotation=45, ha="right", fontsize=8)
        unit = next((u for (ld, _), (_, _, u, _) in med.items() if ld == load), "")
        ax.set_title("%s (%s)" % (load, unit), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def targets_chart(plt, path, targets):
    """Each target's value as a share of its limit: a bar at or left of the line at 1 is met."""
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(targets) + 1.4))
    shares = [deciding(value, paired) / limit for _, _, value, limit, _, paired in targets]
    ys = range(len(targets))
    ax.barh(ys, shares, color=["#27ae60" if x <= 1 else "#c0392b" for x in shares])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(list(ys))
    ax.set_yticklabels(["%s, %s" % (text, where) for text, where, _, _, _, _ in targets], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("value / target limit (<= 1: met)")
    ax.set_title("The issue's targets in this run", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_charts(charts_dir, parts):
    """The PNG charts; returns the files written, or raises ImportError without matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    written = []
    if "tcp" in parts:
        ropts, records, _ = parts["tcp"]
        path = os.path.join(charts_dir, "tcp_cpu_per_msg.png")
        bar_panels(plt, path, "TCP echo: server CPU per message (median, min-max), lower is better",
                   "µs per message", ropts.scenarios, ropts.servers,
                   median_table(records, ropts.servers, ropts.scenarios), "cpu_us_per_msg")
        written.append(path)
    if "udp" in parts:
        ropts, records, _ = parts["udp"]
        path = os.path.join(charts_dir, "udp_cpu_per_dgram.png")
        bar_panels(plt, path, "UDP echo: server CPU per datagram (median, min-max), lower is better",
                   "µs per datagram", ropts.scenarios, ropts.servers,
                   median_table(records, ropts.servers, ropts.scenarios), "cpu_us_per_msg")
        written.append(path)
    if "latency" in parts:
        ropts, records, _ = parts["latency"]
        w = ropts.scenarios[0]
        path = os.path.join(charts_dir, "latency.png")
        latency_chart(plt, path, ropts.servers, median_table(records, ropts.servers, [w]), w)
        written.append(path)
    if "loads" in parts and parts["loads"]:
        path = os.path.join(charts_dir, "loads.png")
        loads_chart(plt, path, parts["loads"])
        written.append(path)
    targets = [t for t in all_targets(parts) if deciding(t[2], t[5]) is not None]
    if targets:
        path = os.path.join(charts_dir, "targets.png")
        targets_chart(plt, path, targets)
        written.append(path)
    return written


# ------------------------------------------------------------------ main

def save_samples(opts, parts, failures, notes):
    """Every run's record and what the report needs besides, to CHARTS/suite-samples.json (see --from-json)."""
    out = {"meta": opts.meta, "quick": opts.quick, "rounds": opts.rounds, "seconds": opts.seconds,
           "max_other": opts.max_other, "retries": opts.retries, "failures": failures, "notes": notes, "parts": {}}
    for name, part in parts.items():
        if name == "loads":
            out["parts"][name] = {"records": part}
        else:
            out["parts"][name] = {"servers": part[0].servers, "scenarios": part[0].scenarios,
                                  "records": part[1], "failures": part[2]}
    os.makedirs(opts.charts, exist_ok=True)
    with open(os.path.join(opts.charts, "suite-samples.json"), "w") as f:
        json.dump(out, f, indent=1, default=str)


def load_samples(opts, path):
    """parts, failures, notes from an earlier suite-samples.json; opts takes its meta and rounds."""
    try:
        with open(path) as f:
            data = json.load(f)
        for key in ("meta", "quick", "rounds", "seconds", "max_other", "retries"):
            setattr(opts, key, data[key])
        parts = {}
        for name, part in data["parts"].items():
            if name == "loads":
                parts[name] = part["records"]
            else:
                ropts = run_options(opts, ECHO_PARTS[name][0], part["servers"], part["scenarios"],
                                    ECHO_PARTS[name][1])
                parts[name] = (ropts, part["records"], part["failures"])
        return parts, data["failures"], data["notes"]
    except (OSError, ValueError) as e:
        raise SuiteError("--from-json %s: %s" % (path, e))
    except (KeyError, TypeError) as e:
        raise SuiteError("--from-json %s: not a suite-samples.json written by this suite (no %s)" % (path, e))


# Per run beyond the load itself: the quiet-machine check (1 s at least),
# the settle pause, starting and stopping the server.
RUN_OVERHEAD_S = 1.5


def estimate_seconds(echo_opts, seconds):
    """How long the echo parts take on a quiet machine (no redos): runs x (load + overhead)."""
    runs = sum(len(o.servers) * len(o.scenarios) * o.rounds for o in echo_opts.values())
    return runs, runs * (seconds + RUN_OVERHEAD_S)


def run_parts(opts, parts, failures, notes):
    """Runs the selected parts (tcp, latency, udp, loads), filling parts[name]."""
    echo_opts = echo_part_options(opts)
    runs, est = estimate_seconds(echo_opts, opts.seconds)
    print("suite: %d echo runs, about %.0f min on a quiet machine%s" % (
        runs, est / 60, ", then bench/loads.py's loads" if "loads" in opts.only else ""), file=sys.stderr)
    for name in ("tcp", "latency", "udp", "loads"):
        if name not in opts.only:
            continue
        t0 = time.monotonic()
        print("=== %s" % name, file=sys.stderr, flush=True)
        if name == "loads":
            loads = import_loads(opts.loads_module)
            if loads is None:
                notes.append("Extra loads (connection rate, idle memory, broadcast) skipped: bench/loads.py "
                             "is not in this tree.")
                print("loads: bench/loads.py not found, part skipped", file=sys.stderr)
                continue
            parts["loads"] = []
            part_failures = []
            run_loads(loads, opts, parts["loads"], part_failures)
        else:
            run_echo_part(echo_opts[name], parts, name)
            part_failures = parts[name][2]
        failures += ["%s: %s" % (name, f) for f in part_failures]
        save_samples(opts, parts, failures, notes)  # after each part: a crash later keeps the runs
        print("=== %s done in %.0f s" % (name, time.monotonic() - t0), file=sys.stderr, flush=True)


def main(argv):
    opts = parse_args(argv)
    parts, failures, notes = {}, [], []
    try:
        if opts.from_json:
            parts, failures, notes = load_samples(opts, opts.from_json)
        else:
            opts.meta = machine_lines(opts)
            run.raise_nofile()  # bench/loads.py may open 100,000 connections from this process
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                run_parts(opts, parts, failures, notes)
            except KeyboardInterrupt:
                failures.append("interrupted: the parts are incomplete")
                print("interrupted: reporting what was measured", file=sys.stderr)
            save_samples(opts, parts, failures, notes)
    except SuiteError as e:
        print("suite: %s" % e, file=sys.stderr)
        return 2
    os.makedirs(opts.charts, exist_ok=True)
    try:
        charts = write_charts(opts.charts, parts)
        print("charts: %s" % ", ".join(charts), file=sys.stderr)
    except ImportError:
        notes.append("No charts: matplotlib is not installed (Debian: python3-matplotlib).")
    charts_rel = os.path.relpath(opts.charts, os.path.dirname(opts.results))
    block = build_report(opts, parts, failures, notes, charts_rel)
    write_block(opts.results, block)
    print(block)
    print("written to %s" % opts.results, file=sys.stderr)
    return 0 if parts and not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
