#!/usr/bin/env python3
"""bench_echo.py - server CPU per message: the Python binding's echo server
against asyncio echo servers (uvloop and plain asyncio), same load, same run.

    bench_echo.py [--client build/samples/dummy_client] [--rounds 3]
                  [--connections 50] [--depth 8] [--size 64] [--seconds 5]
                  [--framing u16le] [--servers net,uvloop,asyncio]
                  [--io-threads 0] [--backend auto] [--markdown]

Each round runs every server once, in turn (alternating, so drifts of the
machine hit all of them alike): start it with --port 0, read its "listening
on" line, run the C dummy_client against it, stop it with SIGTERM. The
server's CPU time is utime+stime from /proc/PID/stat read just before the
client starts and just after it ends; divided by the messages the client
saw echoed (its SUMMARY line) that is the server's CPU microseconds per
message. Reported: the median over the rounds of each figure, and the ratio
of each server's median to uvloop's.

Needs Linux (/proc). The library is found as the binding finds it
(NET_LIBRARY first).
"""

import argparse
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LISTEN_RE = re.compile(r"^listening on (\[[^\]]+\]|[^\s:]+):(\d+)\s")
SUMMARY_RE = re.compile(r"^SUMMARY (.*)$", re.M)
TICKS = os.sysconf("SC_CLK_TCK")


def server_cmd(name, opt):
    common = ["--port", "0", "--framing", opt.framing]
    if opt.length_includes_header:
        common.append("--length-includes-header")
    if name == "net":
        return [sys.executable, os.path.join(ROOT, "samples", "python", "echo_server.py"),
                "--backend", opt.backend, "--io-threads", str(opt.io_threads)] + common
    if name in ("uvloop", "asyncio"):
        return [sys.executable, os.path.join(HERE, "asyncio_echo.py"), "--loop", name] + common
    if name == "c":
        return [opt.c_server, "--backend", opt.backend, "--io-threads", str(opt.io_threads)] + common
    raise SystemExit("unknown server %r" % name)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_one(name, opt):
    srv = subprocess.Popen(server_cmd(name, opt), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
        line = srv.stdout.readline()
        m = LISTEN_RE.match(line)
        if not m:
            raise RuntimeError("%s did not start: %r" % (name, line))
        host, port = m.group(1).strip("[]"), m.group(2)
        time.sleep(0.2)
        client = [opt.client, "--host", host, "--port", port, "--framing", opt.framing,
                  "--connections", str(opt.connections), "--depth", str(opt.depth),
                  "--size", str(opt.size), "--seconds", str(opt.seconds)]
        if opt.length_includes_header:
            client.append("--length-includes-header")
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0 = cpu_seconds(srv.pid)
        t0 = time.monotonic()
        r = subprocess.run(client, capture_output=True, text=True, timeout=opt.seconds + 60)
        wall = time.monotonic() - t0
        c1 = cpu_seconds(srv.pid)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        sm = SUMMARY_RE.search(r.stdout)
        if r.returncode != 0 or not sm:
            raise RuntimeError("client failed against %s (rc %d): %s %s"
                               % (name, r.returncode, r.stdout[-500:], r.stderr[-500:]))
        summary = dict(kv.split("=", 1) for kv in sm.group(1).split())
        msgs = int(summary["messages"])
        return {
            "cpu_us_per_msg": (c1 - c0) * 1e6 / msgs,
            "msgs_per_s": float(summary["msgs_per_s"]),
            "cpu_util": (c1 - c0) / wall,
            "client_util": client_cpu / wall,
            "p50_us": float(summary["p50_us"]),
            "p99_us": float(summary["p99_us"]),
            "messages": msgs,
        }
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(15)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = srv.wait()
        if rc != 0:
            print("warning: %s exited %d" % (name, rc), file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--client", default=os.path.join(ROOT, "build", "samples", "dummy_client"))
    ap.add_argument("--c-server", default=os.path.join(ROOT, "build", "samples", "echo_server"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--framing", default="u16le")
    ap.add_argument("--length-includes-header", action="store_true")
    ap.add_argument("--servers", default="net,uvloop,asyncio")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--io-threads", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="print a markdown table row set")
    opt = ap.parse_args(argv)
    names = opt.servers.split(",")
    results = {n: [] for n in names}
    for rnd in range(opt.rounds):
        for n in names:
            r = run_one(n, opt)
            results[n].append(r)
            print("round %d %-8s cpu=%.2f us/msg  %.0f msg/s  server util=%.2f  client util=%.2f"
                  "  p50=%.0f us  p99=%.0f us"
                  % (rnd + 1, n, r["cpu_us_per_msg"], r["msgs_per_s"], r["cpu_util"],
                     r["client_util"], r["p50_us"], r["p99_us"]), file=sys.stderr, flush=True)
    med = {n: {k: statistics.median(r[k] for r in results[n]) for k in results[n][0]}
           for n in names}
    base = med.get("uvloop", {}).get("cpu_us_per_msg")
    load = "framing=%s connections=%d depth=%d size=%d seconds=%g rounds=%d" % (
        opt.framing, opt.connections, opt.depth, opt.size, opt.seconds, opt.rounds)
    print("load: " + load)
    if opt.markdown:
        print("| server | CPU us/msg (median) | vs uvloop | msgs/s (median) | server CPU util | client CPU util | p50 us | p99 us |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in names:
        m = med[n]
        ratio = m["cpu_us_per_msg"] / base if base else float("nan")
        if opt.markdown:
            print("| %s | %.2f | %.2fx | %.0f | %.2f | %.2f | %.0f | %.0f |" % (
                n, m["cpu_us_per_msg"], ratio, m["msgs_per_s"], m["cpu_util"], m["client_util"],
                m["p50_us"], m["p99_us"]))
        else:
            print("RESULT server=%s cpu_us_per_msg=%.3f vs_uvloop=%.3f msgs_per_s=%.0f "
                  "cpu_util=%.2f client_util=%.2f p50_us=%.0f p99_us=%.0f" % (
                      n, m["cpu_us_per_msg"], ratio, m["msgs_per_s"], m["cpu_util"],
                      m["client_util"], m["p50_us"], m["p99_us"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
