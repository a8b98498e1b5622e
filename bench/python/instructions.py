#!/usr/bin/env python3
"""instructions.py - user-space instructions per echoed message of an echo
server (C, Python or Lua on net), counted by callgrind: a figure that the
load of a shared machine does not disturb, for comparing code paths.

    instructions.py [--build build] [--servers c,python,lua]
                    [--workloads 100x4x64,1000x1x64,10x32x512]
                    [--backend epoll] [--framing u16le] [--seconds 2]

Each server runs under `valgrind --tool=callgrind` with --port 0, loaded by
build/samples/dummy_client for --seconds. Once the client reports its first
second (its first "progress:" line, every connection open by then), the
server's counters are zeroed (callgrind_control -z); when the client ends
they are dumped (callgrind_control -d): the instructions executed in the
steady state, divided by the messages echoed meanwhile (the client's total
minus its count at that first progress line), is the figure. Connection
set-up is left out. What the kernel does is not counted (callgrind sees
user space only), so this measures the server's own code: library,
binding, interpreter.

perf stat -e instructions would count the kernel too, but needs hardware
counters, which a virtual machine may not expose. Under valgrind the server
runs some 50 times slower, so the load is far lighter than in bench_echo.py:
batches are smaller and per-batch costs weigh more. Compare figures of one
run with each other, not with timing figures.
"""

import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LISTEN_RE = re.compile(r"^listening on (\[[^\]]+\]|[^\s:]+):(\d+)\s")
SUMMARY_RE = re.compile(r"^SUMMARY (.*)$", re.M)
PROGRESS_RE = re.compile(r"^progress: .* messages=(\d+)")
TOTALS_RE = re.compile(r"^(?:summary|totals): (\d+)", re.M)
START_TIMEOUT_S = 60


def server_cmd(name, a):
    common = ["--port", "0", "--framing", a.framing, "--backend", a.backend, "--io-threads", "0"]
    if name == "c":
        return [os.path.join(a.build, "samples", "echo_server")] + common
    if name == "python":
        return [sys.executable, os.path.join(ROOT, "samples", "python", "echo_server.py")] + common
    if name == "lua":
        return [a.lua, os.path.join(ROOT, "samples", "lua", "echo_server.lua")] + common
    raise SystemExit("unknown server %r (c, python or lua)" % name)


def server_env(a):
    env = dict(os.environ)
    env["NET_LIBRARY"] = os.path.join(a.build, "dll", "libnet.so")
    env["LUA_CPATH"] = os.path.join(a.build, "bindings", "lua", "?.so") + ";" + env.get("LUA_CPATH", ";;")
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python")
    return env


def counted(out_dir):
    """The instructions of the newest callgrind dump in out_dir."""
    dumps = sorted(glob.glob(os.path.join(out_dir, "cg.out.*")), key=os.path.getmtime)
    if not dumps:
        raise RuntimeError("callgrind wrote no dump in %s" % out_dir)
    with open(dumps[-1]) as f:
        m = TOTALS_RE.search(f.read())
    if not m:
        raise RuntimeError("no totals in %s" % dumps[-1])
    return int(m.group(1))


def control(what, pid):
    subprocess.run(["callgrind_control", what, str(pid)], check=True, capture_output=True, timeout=60)


def run_one(name, workload, a, out_dir):
    conns, depth, size = workload.split("x")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + os.path.join(out_dir, "cg.out")]
    srv = subprocess.Popen(cmd + server_cmd(name, a), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           env=server_env(a), text=True)
    try:
        line = srv.stdout.readline()
        m = LISTEN_RE.match(line)
        if not m:
            raise RuntimeError("%s did not start: %r" % (name, line))
        client = [a.client, "--host", m.group(1).strip("[]"), "--port", m.group(2), "--framing", a.framing,
                  "--connections", conns, "--depth", depth, "--size", size, "--seconds", str(a.seconds)]
        cl = subprocess.Popen(client, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            before = None
            for line in cl.stderr:
                p = PROGRESS_RE.search(line)
                if p:
                    control("-z", srv.pid)
                    before = int(p.group(1))
                    break
            out, err = cl.communicate(timeout=a.seconds + 120)
        finally:
            if cl.poll() is None:
                cl.kill()
                cl.wait()
        control("-d", srv.pid)
        sm = SUMMARY_RE.search(out)
        if cl.returncode != 0 or not sm or before is None:
            raise RuntimeError("client failed against %s (rc %d, progress seen: %s): %s %s"
                               % (name, cl.returncode, before is not None, out[-300:], err[-300:]))
        msgs = int(dict(kv.split("=", 1) for kv in sm.group(1).split())["messages"]) - before
        if msgs <= 0:
            raise RuntimeError("%s echoed nothing after the first second" % name)
        return counted(out_dir) / msgs, msgs
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--client", help="default: BUILD/samples/dummy_client")
    ap.add_argument("--lua", default="lua5.4")
    ap.add_argument("--servers", default="c,python,lua")
    ap.add_argument("--workloads", default="100x4x64,1000x1x64,10x32x512")
    ap.add_argument("--backend", default="epoll")
    ap.add_argument("--framing", default="u16le")
    ap.add_argument("--seconds", type=float, default=3.0, help="load time; the first second is not counted")
    ap.add_argument("--keep", metavar="DIR", help="keep the callgrind dumps here (for callgrind_annotate)")
    a = ap.parse_args(argv)
    a.build = os.path.abspath(a.build)
    a.client = a.client or os.path.join(a.build, "samples", "dummy_client")
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            raise SystemExit("%s not found (Debian: apt-get install valgrind)" % tool)
    servers = a.servers.split(",")
    print("| workload | " + " | ".join("%s (instr/msg)" % s for s in servers) + " |")
    print("|---" * (len(servers) + 1) + "|")
    for w in a.workloads.split(","):
        row = []
        for s in servers:
            if a.keep:
                out_dir = os.path.join(a.keep, "%s-%s" % (s, w))
                os.makedirs(out_dir, exist_ok=True)
                per_msg, msgs = run_one(s, w, a, out_dir)
            else:
                with tempfile.TemporaryDirectory(prefix="net-instr-") as out_dir:
                    per_msg, msgs = run_one(s, w, a, out_dir)
            row.append("%.0f (%d msgs)" % (per_msg, msgs))
        print("| %s | %s |" % (w, " | ".join(row)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
