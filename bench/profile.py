#!/usr/bin/env python3
"""Where an echo server's CPU goes: perf profiles per workload and backend.

For each server and workload, the server is started as bench/run.py starts
it, samples/dummy_client drives it, and `perf record -g` samples the server
alone for the run. The report gives, per run, the share of samples in the
kernel, in libnet and elsewhere, the server's CPU per message (from
/proc/<pid>/stat, as run.py reads it), that CPU split by the same shares
(ns per message in the kernel and in libnet), and the hottest symbols.
A second build (--ref) profiles the same runs on another tree, alternating,
for a before/after table.

    /usr/bin/python3 bench/profile.py BUILD [--ref REF_BUILD] [--seconds 3]
        [--workloads 100x4x64,1000x1x64,10x32x512] [--servers net-uring-t0,net-epoll-t0]
        [--top 12] [--markdown FILE]

Needs perf (linux-perf) and a build with frame pointers for readable call
graphs (-DCMAKE_C_FLAGS=-fno-omit-frame-pointer). Shares of samples are
robust to a busy machine in a way absolute times are not, but CPU per
message is only worth comparing from a quiet one (run.py's rule).
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import run  # noqa: E402  (start_server, stop_server, proc_cpu_seconds, SERVERS)

LIBNET = "libnet.so"


def perf_available():
    try:
        return subprocess.run(["perf", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


def parse_workload(text):
    parts = text.split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError("workload %r is not CONNSxDEPTHxSIZE" % text)
    return tuple(int(p) for p in parts)


def perf_report(data, sort):
    """[(percent, name)] of a perf.data file, sorted as perf sorts them."""
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "-g", "none",
                          "--sort", sort], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].endswith("%"):
            try:
                rows.append((float(words[0][:-1]), " ".join(words[1:])))
            except ValueError:
                pass
    return rows


def profile_one(build, server, workload, seconds, workdir):
    conns, depth, size = workload
    args = "--host 127.0.0.1 --port 0 --framing u16le --length-includes-header"
    template = run.SERVERS[server]
    cmd = shlex.split(template.format(build=build, bench=BENCH_DIR, args=args))
    data = os.path.join(workdir, "perf.data")
    with tempfile.TemporaryFile() as log:
        proc, host, port, _ = run.start_server(cmd, log)
        perf = None
        try:
            time.sleep(0.3)
            cpu0 = run.proc_cpu_seconds(proc.pid)
            perf = subprocess.Popen(["perf", "record", "-q", "-g", "-p", str(proc.pid), "-o", data],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            client = [os.path.join(build, "samples", "dummy_client"), "--host", host or "127.0.0.1",
                      "--port", str(port), "--connections", str(conns), "--depth", str(depth),
                      "--size", str(size), "--seconds", str(seconds), "--framing", "u16le",
                      "--length-includes-header"]
            rc, out, err = run.run_client(client, seconds + 30)
            cpu1 = run.proc_cpu_seconds(proc.pid)
        finally:
            if perf is not None:
                perf.send_signal(2)
                perf.wait(30)
            run.stop_server(proc)
    summary = run.parse_summary(out)
    if rc != 0 or not summary or summary.get("errors", 1) != 0:
        raise run.RunError("client failed (rc %d): %s" % (rc, err.strip()[-300:]))
    msgs = summary["messages"]
    dsos = perf_report(data, "dso")
    total = sum(p for p, _ in dsos) or 1.0
    kernel = sum(p for p, n in dsos if n.startswith("[kernel")) / total
    libnet = sum(p for p, n in dsos if n.startswith(LIBNET)) / total
    symbols = perf_report(data, "dso,sym")
    os.unlink(data)
    us = (cpu1 - cpu0) * 1e6 / msgs
    return {"server": server, "workload": "x".join(map(str, workload)), "messages": msgs,
            "us_per_msg": us, "kernel_share": kernel, "libnet_share": libnet,
            "kernel_ns": us * kernel * 1000, "libnet_ns": us * libnet * 1000,
            "other_ns": us * (1 - kernel - libnet) * 1000, "symbols": symbols}


def report(rows, top, title):
    lines = ["#### %s" % title, "",
             "| server | workload | CPU µs/msg | kernel | libnet | other | kernel ns/msg | libnet ns/msg |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %.3f | %.0f %% | %.0f %% | %.0f %% | %.0f | %.0f |" % (
            r["tag"] + r["server"], r["workload"], r["us_per_msg"], 100 * r["kernel_share"],
            100 * r["libnet_share"], 100 * (1 - r["kernel_share"] - r["libnet_share"]),
            r["kernel_ns"], r["libnet_ns"]))
    lines.append("")
    for r in rows:
        lines.append("%s%s %s, hottest symbols (share of the server's samples):" % (
            r["tag"], r["server"], r["workload"]))
        lines.append("")
        for pct, name in r["symbols"][:top]:
            lines.append("    %5.2f %%  %s" % (pct, name))
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--ref", help="a second build to profile alternately (before/after)")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--workloads", default="100x4x64,1000x1x64,10x32x512")
    ap.add_argument("--servers", default="net-uring-t0,net-epoll-t0")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--markdown", help="write the report to this file as well")
    a = ap.parse_args(argv)
    if not perf_available():
        ap.error("perf is not installed (Debian: linux-perf)")
    workloads = [parse_workload(w) for w in a.workloads.split(",")]
    servers = a.servers.split(",")
    for s in servers:
        if s not in run.SERVERS:
            ap.error("--servers: unknown server %r (run.py knows %s)" % (s, ", ".join(sorted(run.SERVERS))))
    builds = [("", a.build)] + ([("ref ", a.ref)] if a.ref else [])
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for w in workloads:
            for s in servers:
                for tag, build in builds:
                    r = profile_one(build, s, w, a.seconds, workdir)
                    r["tag"] = tag
                    rows.append(r)
                    sys.stderr.write("%s%s %s: %.3f µs/msg, kernel %.0f %%, libnet %.0f %%\n" % (
                        tag, s, r["workload"], r["us_per_msg"], 100 * r["kernel_share"],
                        100 * r["libnet_share"]))
    text = report(rows, a.top, "perf profiles of %s%s" % (a.build, " against " + a.ref if a.ref else ""))
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
