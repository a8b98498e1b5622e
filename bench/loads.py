#!/usr/bin/env python3
"""The extra loads of the benchmark suite: connection rate, idle memory, broadcast.

Each function starts one server, drives it with a tool of bench/ and returns a
dict of figures, the server's CPU among them (utime+stime of every thread from
/proc/<pid>/stat, read around the measured window only):

  measure_connrate(server_argv, seconds, parallel=64)
      bench/connrate: K connections in flight, each cycle connect, one u16le
      message and its echo, close (RST). cycles_per_s, server CPU µs per cycle.
  measure_idle(server_argv, count)
      bench/idle_client: count idle connections (each verified by one echo)
      from 127.0.0.2.. . The server's memory before and after, per connection:
      Rss and Private_Dirty from /proc/<pid>/smaps_rollup (Private_Dirty: the
      memory the connections made the server write, what it costs on its own).
      Kernel socket memory is not in either.
  measure_broadcast(server_name, build, connections, seconds)
      a broadcast peer (net-uring, net-epoll, libuv, epoll-raw) ticking every
      tick_ms and bench/bcast_client checking every tick on each connection.
      Server CPU µs per tick and per delivered message.

server_argv is the server's command without the common options, which are
added here: --host 127.0.0.1 --port 0 --framing u16le --length-includes-header
(any echo server of docs/CONVENTIONS.md; SERVERS names the usual ones).

    python3 bench/loads.py build connrate --server net-uring --seconds 2
    python3 bench/loads.py build idle --server net-uring,libuv --count 10000
    python3 bench/loads.py build broadcast --server net-uring,libuv --connections 1000
    python3 bench/loads.py build idle --server-cmd "build/samples/echo_server --io-threads 1" --count 200

Limits the tools need, and what they set themselves:
  - RLIMIT_NOFILE: idle_client and this script (for the server it starts)
    raise it to count + 1024; past the hard limit only when allowed (root or
    CAP_SYS_RESOURCE, up to fs.nr_open). Otherwise: ulimit -Hn, or
    /etc/security/limits.conf.
  - net.core.somaxconn caps every listen backlog (the servers ask for 511):
    idle_client keeps at most 256 connects in flight, connrate --parallel
    connections, so the defaults suffice. Not set here.
  - ip_local_port_range (~28k ports a source address): idle_client spreads
    its connections over 127.0.0.2, .3, ... (20,000 each); connrate closes
    with RST, so no TIME_WAIT piles up.
  - net servers refuse connections past max_connections (default 100000,
    exactly 100,000 is allowed): past it, pass --max-connections N
    (samples/echo_server, bench/net_broadcast); named net servers get it here.

Python 3 standard library only; Linux only (reads /proc). Every process it
starts is stopped before it returns, also on errors and timeouts.
"""

import argparse
import json
import os
import resource
import select
import shlex
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import run  # noqa: E402  (bench/run.py: start_server, stop_server, proc_cpu_seconds)

COMMON_ARGS = ["--host", "127.0.0.1", "--port", "0", "--framing", "u16le", "--length-includes-header"]

# Echo servers for connrate and idle: name -> (argv relative to the build
# directory, is it net?). net's take --max-connections.
SERVERS = {
    "net-uring": (["samples/echo_server", "--backend", "io_uring", "--io-threads", "0"], True),
    "net-uring-t1": (["samples/echo_server", "--backend", "io_uring", "--io-threads", "1"], True),
    "net-epoll": (["samples/echo_server", "--backend", "epoll", "--io-threads", "0"], True),
    "net-epoll-t1": (["samples/echo_server", "--backend", "epoll", "--io-threads", "1"], True),
    "libuv": (["bench/uv_echo"], False),
    "epoll-raw": (["bench/epoll_echo"], False),
    "uring-raw": (["bench/uring_echo"], False),
}

# Broadcast peers: name -> argv relative to the build directory.
BROADCAST_SERVERS = {
    "net-uring": ["bench/net_broadcast", "--backend", "io_uring", "--io-threads", "0"],
    "net-epoll": ["bench/net_broadcast", "--backend", "epoll", "--io-threads", "0"],
    "libuv": ["bench/uv_broadcast"],
    "epoll-raw": ["bench/epoll_broadcast"],
}

RunError = run.RunError


class Child:
    """A client process whose stdout is read line by line with a deadline."""

    def __init__(self, argv, stdin=subprocess.DEVNULL):
        self.argv = argv
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=self.err)
        self.buf = b""
        self.lines = []

    def readline(self, timeout):
        """The next stdout line, or None at EOF; RunError after timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunError("%s: no output line within %.0f s" % (self.argv[0], timeout))
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096)
                if not chunk:
                    return None
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode(errors="replace").strip()
        self.lines.append(line)
        return line

    def expect(self, prefix, timeout):
        """Reads lines until one starts with prefix: its key=value fields."""
        while True:
            line = self.readline(timeout)
            if line is None:
                self.p.wait(5)
                raise RunError("%s ended (exit %s) before '%s': %s" % (
                    os.path.basename(self.argv[0]), self.p.returncode, prefix, self.stderr_tail()))
            if line.startswith(prefix + " "):
                return parse_fields(line)

    def finish(self, timeout):
        """Waits for the exit; kills after timeout. Returns the exit code."""
        try:
            rest, _ = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RunError("%s did not exit within %.0f s" % (self.argv[0], timeout))
        for line in (self.buf + rest).decode(errors="replace").splitlines():
            self.lines.append(line.strip())
        self.buf = b""
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stderr_tail(self):
        self.err.seek(0)
        return self.err.read()[-2000:].decode(errors="replace").strip()

    def close(self):
        self.kill()
        for f in (self.p.stdout, self.p.stdin, self.err):
            if f:
                f.close()


def parse_fields(line):
    """'NAME a=1 b=2.5' -> {'a': 1, 'b': 2.5}."""
    out = {}
    for word in line.split()[1:]:
        k, sep, v = word.partition("=")
        if not sep:
            continue
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def raise_nofile(need):
    """RLIMIT_NOFILE of this process (inherited by what it starts) to need.

    Past the hard limit only when allowed (root / CAP_SYS_RESOURCE), and
    never past fs.nr_open. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            try:
                with open("/proc/sys/fs/nr_open") as f:
                    need = min(need, int(f.read()))
                resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
                return need
            except (OSError, ValueError):
                need = hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        return need
    return soft


def need_nofile(count):
    """Raises RLIMIT_NOFILE for count connections (each end is its own process) or says why it cannot."""
    need = count + 1024
    have = raise_nofile(need)
    if have < count + 64:
        raise RunError("RLIMIT_NOFILE is %d and cannot be raised to %d for %d connections without "
                       "CAP_SYS_RESOURCE (root on an ordinary host has it): raise the hard limit first (ulimit -Hn, limits.conf, "
                       "systemd LimitNOFILE, docker --ulimit nofile=N:N)" % (have, need, count))


def start(server_argv, log):
    """Starts a server with the common options; returns (process, port)."""
    p, _host, port, _info = run.start_server(list(server_argv) + COMMON_ARGS, log)
    return p, port


def stop(p, log):
    """Stops the server; RunError when it did not exit 0 on SIGTERM."""
    rc = run.stop_server(p)
    if rc != 0:
        log.seek(0)
        raise RunError("server exited %s: %s" % (rc, log.read()[-2000:].decode(errors="replace")))


def tool(build, name):
    path = os.path.join(build, "bench", name)
    if not os.access(path, os.X_OK):
        raise RunError("%s not built (cmake --build %s)" % (path, build))
    return path


def measure_connrate(server_argv, seconds, parallel=64, build="build", size=32, threads=1):
    """Connection cycles per second and server CPU per cycle."""
    log = tempfile.TemporaryFile()
    p, port = start(server_argv, log)
    client = None
    try:
        cpu0, ccpu0 = run.proc_cpu_seconds(p.pid), run.children_cpu()
        client = Child([tool(build, "connrate"), "--port", str(port), "--parallel", str(parallel),
                        "--seconds", str(seconds), "--size", str(size), "--threads", str(threads),
                        "--length-includes-header"])
        res = client.expect("CONNRATE", seconds + 30)
        rc = client.finish(10)
        cpu = run.proc_cpu_seconds(p.pid) - cpu0
        client_cpu = run.children_cpu() - ccpu0  # the client only: the server is not reaped yet
        if rc != 0 or res.get("errors") != 0:
            raise RunError("connrate failed (exit %s): %s" % (rc, client.stderr_tail()))
    finally:
        if client:
            client.close()
        stop(p, log)
    # Client CPU beside the server's shows which side limited the rate: on
    # loopback the client's connect carries much of both ends' kernel work.
    res.update(parallel=parallel, client_threads=threads, server_cpu_s=cpu, client_cpu_s=client_cpu,
               server_cpu_us_per_cycle=cpu * 1e6 / res["cycles"] if res["cycles"] else None)
    return res


def memory_kib(pid):
    """Rss, Pss, Private_Dirty and Anonymous of a process, in KiB (smaps_rollup)."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Rss", "Pss", "Private_Dirty", "Anonymous"):
                out[k] = int(v.split()[0])
    return out


def settle(pid, timeout=5.0, period=0.3):
    """Waits until the Rss stops moving (two equal readings in a row); returns the last reading."""
    deadline = time.monotonic() + timeout
    last = memory_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(period)
        now = memory_kib(pid)
        if now["Rss"] == last["Rss"] and now["Private_Dirty"] == last["Private_Dirty"]:
            return now
        last = now
    return last


def measure_idle(server_argv, count, build="build"):
    """Server memory per idle connection (bytes), with count connections up."""
    need_nofile(count)
    log = tempfile.TemporaryFile()
    p, port = start(server_argv, log)
    client = None
    try:
        before = settle(p.pid)
        cpu0 = run.proc_cpu_seconds(p.pid)
        client = Child([tool(build, "idle_client"), "--port", str(port), "--connections", str(count),
                        "--length-includes-header", "--timeout", str(int(60 + count / 500))],
                       stdin=subprocess.PIPE)
        res = client.expect("IDLE", 90 + count / 500)
        cpu_setup = run.proc_cpu_seconds(p.pid) - cpu0
        after = settle(p.pid)
        t_idle, cpu_idle0 = time.monotonic(), run.proc_cpu_seconds(p.pid)
        time.sleep(1.0)
        idle_cpu_pct = 100.0 * (run.proc_cpu_seconds(p.pid) - cpu_idle0) / (time.monotonic() - t_idle)
        rc = client.finish(60)  # closes idle_client's stdin: its signal to close everything and report
        end = parse_fields(next((l for l in client.lines if l.startswith("IDLE_END ")), "IDLE_END"))
        if rc != 0 or end.get("lost") != 0:
            raise RunError("idle_client failed (exit %s, %s): %s" % (rc, end, client.stderr_tail()))
    finally:
        if client:
            client.close()
        stop(p, log)
    per = {k: (after[k] - before[k]) * 1024.0 / count for k in before}
    return {
        "connections": count,
        "connect_seconds": res.get("seconds"),
        "rss_before_kib": before["Rss"], "rss_after_kib": after["Rss"],
        "private_dirty_before_kib": before["Private_Dirty"], "private_dirty_after_kib": after["Private_Dirty"],
        "rss_bytes_per_conn": per["Rss"],
        "private_dirty_bytes_per_conn": per["Private_Dirty"],
        "anonymous_bytes_per_conn": per["Anonymous"],
        "server_cpu_us_per_conn_setup": cpu_setup * 1e6 / count,
        "server_idle_cpu_pct": idle_cpu_pct,
    }


def broadcast_argv(server_name, build):
    if server_name not in BROADCAST_SERVERS:
        raise RunError("unknown broadcast server %r (one of %s)" % (server_name, ", ".join(BROADCAST_SERVERS)))
    argv = list(BROADCAST_SERVERS[server_name])
    argv[0] = os.path.join(build, argv[0])
    if not os.access(argv[0], os.X_OK):
        raise RunError("%s not built (cmake --build %s)" % (argv[0], build))
    return argv


def measure_broadcast(server_name, build, connections, seconds, tick_ms=10, size=64):
    """Server CPU per tick and per delivered message, every tick checked on every connection."""
    return measure_broadcast_argv(broadcast_argv(server_name, build), build, connections, seconds, tick_ms, size)


def measure_broadcast_argv(server_argv, build, connections, seconds, tick_ms=10, size=64):
    need_nofile(connections)
    log = tempfile.TemporaryFile()
    p, port = start(list(server_argv) + ["--tick-ms", str(tick_ms), "--size", str(size)], log)
    client = None
    try:
        client = Child([tool(build, "bcast_client"), "--port", str(port), "--connections", str(connections),
                        "--seconds", str(seconds), "--size", str(size), "--length-includes-header"])
        client.expect("BCAST_READY", 30)
        cpu0 = run.proc_cpu_seconds(p.pid)
        client.expect("BCAST_MARK", seconds + 30)
        cpu = run.proc_cpu_seconds(p.pid) - cpu0
        res = client.expect("BCAST", 30)
        rc = client.finish(10)
        if rc != 0:
            raise RunError("bcast_client failed (exit %s, %s): %s" % (rc, res, client.stderr_tail()))
    finally:
        if client:
            client.close()
        stop(p, log)
    ticks, delivered = res["ticks"], res["delivered"]
    # Below the asked rate the server (or the machine) could not keep up:
    # the CPU per tick is still right, but the load was lighter than asked.
    rate = ticks / res["seconds"]
    res.update(tick_ms=tick_ms, size=size, ticks_per_s=rate, rate_held=rate >= 0.95 * 1000.0 / tick_ms,
               server_cpu_s=cpu,
               server_cpu_us_per_tick=cpu * 1e6 / ticks if ticks else None,
               server_cpu_us_per_message=cpu * 1e6 / delivered if delivered else None)
    return res


def echo_argv(name, build, count=0):
    """A named echo server's argv; net's get --max-connections when count passes its default."""
    if name not in SERVERS:
        raise RunError("unknown server %r (one of %s)" % (name, ", ".join(SERVERS)))
    rel, is_net = SERVERS[name]
    argv = [os.path.join(build, rel[0])] + rel[1:]
    if not os.access(argv[0], os.X_OK):
        raise RunError("%s not built (cmake --build %s)" % (argv[0], build))
    if is_net and count > 100000:
        argv += ["--max-connections", str(count)]
    return argv


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("build", help="the build directory (holds samples/ and bench/)")
    ap.add_argument("load", choices=["connrate", "idle", "broadcast"])
    ap.add_argument("--server", default="net-uring",
                    help="comma-separated names: connrate/idle %s; broadcast %s" % (
                        ",".join(SERVERS), ",".join(BROADCAST_SERVERS)))
    ap.add_argument("--server-cmd", help="a server command line instead of --server (common options are added)")
    ap.add_argument("--seconds", type=float, default=2.0, help="connrate and broadcast (default 2)")
    ap.add_argument("--parallel", type=int, default=64, help="connrate: connections in flight (default 64)")
    ap.add_argument("--client-threads", type=int, default=1, help="connrate: client threads (default 1)")
    ap.add_argument("--count", type=int, default=10000, help="idle: connections (default 10000)")
    ap.add_argument("--connections", type=int, default=1000, help="broadcast: connections (default 1000)")
    ap.add_argument("--tick-ms", type=int, default=10, help="broadcast: ms between ticks (default 10)")
    ap.add_argument("--size", type=int, default=64, help="broadcast: tick payload bytes (default 64)")
    ap.add_argument("--json", action="store_true", help="one JSON object per server instead of key=value")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.build):
        ap.error("build directory %r does not exist" % a.build)
    for name, v, lo in (("--seconds", a.seconds, 0.1), ("--parallel", a.parallel, 1),
                        ("--client-threads", a.client_threads, 1), ("--count", a.count, 1),
                        ("--connections", a.connections, 1), ("--tick-ms", a.tick_ms, 1), ("--size", a.size, 8)):
        if v < lo:
            ap.error("%s must be at least %s (got %s)" % (name, lo, v))
    names = [a.server_cmd] if a.server_cmd else [n for n in a.server.split(",") if n]
    failed = 0
    for name in names:
        try:
            if a.load == "broadcast":
                argv_ = shlex.split(name) if a.server_cmd else broadcast_argv(name, a.build)
                res = measure_broadcast_argv(argv_, a.build, a.connections, a.seconds, a.tick_ms, a.size)
            else:
                argv_ = shlex.split(name) if a.server_cmd else echo_argv(name, a.build, a.count)
                if a.load == "connrate":
                    res = measure_connrate(argv_, a.seconds, a.parallel, a.build, threads=a.client_threads)
                else:
                    res = measure_idle(argv_, a.count, a.build)
        except RunError as e:
            print("%s %s: FAILED: %s" % (a.load, name, e), file=sys.stderr)
            failed += 1
            continue
        res = {"load": a.load, "server": name, **res}
        if a.json:
            print(json.dumps(res))
        else:
            print(" ".join("%s=%s" % (k, ("%.2f" % v if isinstance(v, float) else shlex.quote(str(v))))
                           for k, v in res.items()))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
