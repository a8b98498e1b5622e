#!/usr/bin/env python3
"""bench_lua.py - server CPU per echoed message: the Lua echo server against
the C echo server and a luv echo server, under the same load.

    python3 bench/lua/bench_lua.py --build build [--rounds 3] [--seconds 5]
        [--connections 50] [--depth 8] [--size 64] [--framing u16le]
        [--servers c,lua,luv] [--io-threads 0] [--backend auto|epoll|io_uring]

Every server is started with --port 0 and loaded by build/samples/dummy_client
with the same options. Rounds alternate the servers' order (rotating it each
round) so drift in the machine hits all of them alike. The server's CPU is
utime + stime of all its threads from /proc/PID/stat, read just before the
load starts and just after it ends; CPU us/message is that divided by the
messages the client saw echoed. Prints each run, then the medians and the
ratios the Lua binding is held to (Lua <= 1.3x C, Lua <= 0.8x luv).

Servers: c (samples/echo_server), lua (samples/lua/echo_server.lua), luv
(bench/lua/luv_echo.lua), luv-gather (the same with --gather: one writev per
read instead of one write per message), and lua-arrays / lua-table (bench/lua/echo_shapes.lua
with that --shape) to compare the ways of reading events.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def server_cmd(name, build, lua):
    if name == "c":
        return [os.path.join(build, "samples", "echo_server")]
    if name == "lua":
        return [lua, os.path.join(ROOT, "samples", "lua", "echo_server.lua")]
    if name == "luv":
        return [lua, os.path.join(HERE, "luv_echo.lua")]
    if name == "luv-gather":
        return [lua, os.path.join(HERE, "luv_echo.lua"), "--gather"]
    if name.startswith("lua-"):
        return [lua, os.path.join(HERE, "echo_shapes.lua"), "--shape", name[4:]]
    raise SystemExit("unknown server: " + name)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def run_one(name, a, env):
    common = ["--framing", a.framing, "--io-threads", str(a.io_threads), "--backend", a.backend]
    srv = subprocess.Popen(server_cmd(name, a.build, a.lua) + ["--port", "0"] + common,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        line = srv.stdout.readline()
        m = re.search(r":(\d+) backend", line)
        if not m:
            raise RuntimeError("%s did not start: %r" % (name, line))
        port = m.group(1)
        time.sleep(0.2)
        cpu0 = cpu_seconds(srv.pid)
        client = subprocess.run(
            [os.path.join(a.build, "samples", "dummy_client"), "--port", port,
             "--connections", str(a.connections), "--depth", str(a.depth),
             "--size", str(a.size), "--seconds", str(a.seconds)] + common,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        cpu1 = cpu_seconds(srv.pid)
        summary = [l for l in client.stdout.splitlines() if l.startswith("SUMMARY")]
        if client.returncode != 0 or not summary:
            raise RuntimeError("%s: client failed: %s" % (name, client.stdout.strip()))
        kv = dict(x.split("=") for x in summary[-1].split()[1:])
        msgs = int(kv["messages"])
        return {"cpu_us_per_msg": (cpu1 - cpu0) * 1e6 / msgs, "msgs_per_s": float(kv["msgs_per_s"]),
                "p99_us": float(kv["p99_us"]), "cpu_s": cpu1 - cpu0, "messages": msgs}
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--lua", default="lua5.4")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--framing", default="u16le")
    p.add_argument("--io-threads", type=int, default=0)
    p.add_argument("--backend", default="auto", help="net's backend, for the net servers and the client")
    p.add_argument("--servers", default="c,lua,luv")
    a = p.parse_args()
    a.build = os.path.abspath(a.build)

    env = dict(os.environ)
    cpath = os.path.join(a.build, "bindings", "lua", "?.so")
    env["LUA_CPATH"] = cpath + ";" + env.get("LUA_CPATH", ";;")

    names = a.servers.split(",")
    results = {n: [] for n in names}
    print("load: %d connections x depth %d, %d-byte messages, %s, %gs, io_threads=%d, backend=%s, %d rounds"
          % (a.connections, a.depth, a.size, a.framing, a.seconds, a.io_threads, a.backend, a.rounds))
    for r in range(a.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            res = run_one(n, a, env)
            results[n].append(res)
            print("round %d %-10s %7.2f us/msg  %9.0f msg/s  p99 %6d us" %
                  (r + 1, n, res["cpu_us_per_msg"], res["msgs_per_s"], res["p99_us"]), flush=True)

    med = {n: statistics.median(x["cpu_us_per_msg"] for x in results[n]) for n in names}
    rate = {n: statistics.median(x["msgs_per_s"] for x in results[n]) for n in names}
    print("\nmedians (server CPU us per message, lower is better):")
    for n in names:
        print("  %-10s %7.2f us/msg  %9.0f msg/s" % (n, med[n], rate[n]))
    verdict = 0
    if "lua" in med and "c" in med:
        ratio = med["lua"] / med["c"]
        print("lua / c   = %.2fx (target <= 1.30x) %s" % (ratio, "ok" if ratio <= 1.3 else "MISSED"))
        verdict |= ratio > 1.3
    if "lua" in med and "luv" in med:
        ratio = med["lua"] / med["luv"]
        print("lua / luv = %.2fx (target <= 0.80x) %s" % (ratio, "ok" if ratio <= 0.8 else "MISSED"))
        verdict |= ratio > 0.8
    if "lua" in med and "luv-gather" in med:
        print("lua / luv-gather = %.2fx" % (med["lua"] / med["luv-gather"]))
    for n in names:
        if n.startswith("lua-") and "lua" in med:
            print("%s / lua = %.2fx" % (n, med[n] / med["lua"]))
    return 1 if verdict else 0


if __name__ == "__main__":
    sys.exit(main())
