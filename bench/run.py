#!/usr/bin/env python3
"""Compare echo servers' CPU cost per message under the same dummy_client load.

Every server is driven by samples/dummy_client with the same scenario, one
server after another, rotating the order each round so that no server always
runs first or last. For each run the server's CPU (utime+stime from
/proc/<pid>/stat, all threads) is read just before the client starts and just
after it exits, so only the measurement window counts; messages come from the
client's SUMMARY line (docs/CONVENTIONS.md). Medians over the rounds are
reported per server and scenario, with the ratio of each server's CPU per
message to the baseline server's (libuv by default).

    python3 bench/run.py                        # build dir ./build, 3 rounds, 5 s
    python3 bench/run.py build --rounds 5 --servers net-t0,libuv --write

UDP mode (--udp): the same procedure for UDP echo servers (samples/udp_echo,
bench/peers/uv_udp_echo, bench/peers/epoll_udp_echo), driven by bench/udpgen
(plain sockets, sendmmsg/recvmmsg: K sockets, a window of W datagrams in
flight per socket, BYTES per datagram). A scenario KxWxBYTES reads like the
TCP ones (connections x depth x size). Reported: datagrams/s, server CPU µs
per echoed datagram, the ratio to libuv's (uv_udp_echo), and the share of
datagrams lost (loopback drops when a receive buffer overflows: a lost
datagram costs its window slot until udpgen's loss timeout, 200 ms).

    python3 bench/run.py build --udp --rounds 1 --seconds 2      # smoke run
    python3 bench/run.py build --udp --rounds 5 --write          # results to RESULTS.md (own block)
    python3 bench/run.py build --udp --servers net-epoll-t0,libuv,libuv-mmsg --scenarios 100x4x64

UDP servers: net-epoll-t0, net-uring-t0, net-t0, net-t1, net-epoll-t1,
net-uring-t1 (samples/udp_echo), libuv (uv_udp_echo: uv_udp_try_send,
uv_udp_send on EAGAIN), libuv-mmsg (the same with UV_UDP_RECVMMSG),
epoll-raw-udp (epoll_udp_echo: recvmmsg/sendmmsg batches of 64).

Python 3 standard library only; Linux only (reads /proc).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import select
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

# Server name -> command template. Placeholders:
#   {build}  the build directory      {bench}  this directory (bench/)
#   {args}   the common echo-server CLI: --host, --port 0, --framing and
#            --length-includes-header when asked (docs/CONVENTIONS.md)
# Every server must print "listening on HOST:PORT ..." on stdout when ready
# and exit on SIGTERM. Add external servers (luv, uvloop, Lua, Python ...)
# here or with --server NAME=TEMPLATE; they are only run when selected.
SERVERS = {
    "net-t0": "{build}/samples/echo_server {args} --io-threads 0",
    "net-t1": "{build}/samples/echo_server {args} --io-threads 1",
    "net-epoll-t0": "{build}/samples/echo_server {args} --backend epoll --io-threads 0",
    "net-uring-t0": "{build}/samples/echo_server {args} --backend io_uring --io-threads 0",
    "net-epoll-t1": "{build}/samples/echo_server {args} --backend epoll --io-threads 1",
    "net-uring-t1": "{build}/samples/echo_server {args} --backend io_uring --io-threads 1",
    "libuv": "{build}/bench/uv_echo {args}",
    "epoll-raw": "{build}/bench/epoll_echo {args}",
    # Not the typical user's code: one write per read for all the messages it
    # brought, to show how much of a gap is write coalescing alone.
    "libuv-coalesce": "{build}/bench/uv_echo {args} --coalesce",
    "epoll-raw-coalesce": "{build}/bench/epoll_echo {args} --coalesce",
    # The raw io_uring loop (liburing): one send per completed read, by nature.
    "uring-raw": "{build}/bench/uring_echo {args}",
    # Script-language peers (their own benchmarks live in bench/lua, bench/python).
    "net-lua-t0": "env LUA_CPATH={build}/bindings/lua/?.so lua5.4 {bench}/../samples/lua/echo_server.lua {args} --io-threads 0",
    "net-python-t0": "env NET_LIBRARY={build}/dll/libnet.so /usr/bin/python3 {bench}/../samples/python/echo_server.py {args} --io-threads 0",
    "luv": "lua5.4 {bench}/lua/luv_echo.lua {args}",
    # luv with one gathered write per read: the careful luv user.
    "luv-gather": "lua5.4 {bench}/lua/luv_echo.lua {args} --gather",
    # One transport.write per read already (asyncio_echo.py): the careful user.
    "uvloop": "/usr/bin/python3 {bench}/python/asyncio_echo.py --loop uvloop {args}",
    "asyncio": "/usr/bin/python3 {bench}/python/asyncio_echo.py --loop asyncio {args}",
}

# UDP echo servers (--udp): same placeholders; {args} always has --framing raw.
# Each must print "listening on HOST:PORT ... transport=udp".
SERVERS_UDP = {
    "net-t0": "{build}/samples/udp_echo {args} --io-threads 0",
    "net-t1": "{build}/samples/udp_echo {args} --io-threads 1",
    "net-epoll-t0": "{build}/samples/udp_echo {args} --backend epoll --io-threads 0",
    "net-uring-t0": "{build}/samples/udp_echo {args} --backend io_uring --io-threads 0",
    "net-epoll-t1": "{build}/samples/udp_echo {args} --backend epoll --io-threads 1",
    "net-uring-t1": "{build}/samples/udp_echo {args} --backend io_uring --io-threads 1",
    "libuv": "{build}/bench/uv_udp_echo {args}",
    # libuv's recvmmsg receive path (UV_UDP_RECVMMSG): a careful libuv user.
    "libuv-mmsg": "{build}/bench/uv_udp_echo {args} --mmsg",
    "epoll-raw-udp": "{build}/bench/epoll_udp_echo {args}",
}

# The load generator. Placeholders: {client} {host} {port} {conns} {depth}
# {size} {seconds} {framing} {lih} ({lih} is --length-includes-header or "").
CLIENT_TEMPLATE = ("{client} --host {host} --port {port} --connections {conns} --depth {depth}"
                   " --size {size} --seconds {seconds} --framing {framing} {lih}")

# name -> (connections, pipeline depth, message payload bytes)
SCENARIOS = {
    "100x4x64": (100, 4, 64),
    "1000x1x64": (1000, 1, 64),
    "10x32x512": (10, 32, 512),
}
DEFAULT_SCENARIOS = "100x4x64,1000x1x64"

# --udp: sockets x window x datagram bytes, for bench/udpgen.
UDP_CLIENT_TEMPLATE = ("{client} --host {host} --port {port} --sockets {conns} --window {depth}"
                       " --size {size} --seconds {seconds}")
UDP_DEFAULT_SERVERS = "net-epoll-t0,net-uring-t0,net-t1,libuv,epoll-raw-udp"
UDP_DEFAULT_SCENARIOS = "100x4x64,1000x1x64"

RESULTS_BEGIN = "<!-- bench/run.py results: begin -->"
RESULTS_END = "<!-- bench/run.py results: end -->"
# --udp writes its own block, so the TCP and UDP tables replace only themselves.
RESULTS_BEGIN_UDP = "<!-- bench/run.py udp results: begin -->"
RESULTS_END_UDP = "<!-- bench/run.py udp results: end -->"

CLK_TCK = os.sysconf("SC_CLK_TCK")


class RunError(Exception):
    pass


def proc_cpu_split(pid):
    """(utime, stime) of the whole process (every thread) in seconds: where
    its CPU went, in its own code or in the kernel's (syscalls, and with
    tick accounting the softirq work of loopback TCP that interrupted it)."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    # The command name (field 2) may hold spaces: split after its closing ')'.
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_cpu_seconds(pid):
    """utime + stime of the whole process (every thread), in seconds."""
    return sum(proc_cpu_split(pid))


def proc_context_switches(pid):
    """Voluntary plus involuntary context switches of every live thread of
    the process (a thread's /proc status counts only its own)."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except OSError:
            continue  # the thread ended meanwhile
    return total


def irq_time_in_tasks():
    """True when the kernel charges irq/softirq time to the interrupted task.

    Tick-based accounting without CONFIG_IRQ_TIME_ACCOUNTING puts a tick that
    lands in softirq (much of loopback TCP) in /proc/stat's softirq column
    *and* in the running task's stime; with IRQ time accounting it goes to
    the softirq column only. Unknown kernel config: assume the latter.
    """
    import gzip
    for path, opener in (("/proc/config.gz", gzip.open), ("/boot/config-" + platform.release(), open)):
        try:
            with opener(path, "rt") as f:
                return not any(line.startswith("CONFIG_IRQ_TIME_ACCOUNTING=y") for line in f)
        except OSError:
            continue
    return False


IRQ_IN_TASKS = irq_time_in_tasks()


def machine_cpu_seconds():
    """(busy, irq+softirq) time of the whole machine, all CPUs, in seconds.

    busy is user+nice+system+irq+softirq+steal (guest time is already in user).
    """
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]] + [0] * 8
    irq = v[5] + v[6]
    return (v[0] + v[1] + v[2] + irq + v[7]) / CLK_TCK, irq / CLK_TCK


def wait_quiet(limit_pct, timeout):
    """Waits until the machine's busy time over one second is under limit_pct of a core.

    On a shared machine other work comes and goes; starting a run in a quiet
    moment saves redoing it. Gives up after timeout seconds (returns False).
    """
    deadline = time.monotonic() + timeout
    while True:
        b0, _ = machine_cpu_seconds()
        time.sleep(1.0)
        b1, _ = machine_cpu_seconds()
        if 100.0 * (b1 - b0) < limit_pct:
            return True
        if time.monotonic() > deadline:
            return False


def raise_nofile():
    """1000 connections need more than the usual 1024 descriptors with some margin."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


def parse_summary(text):
    for line in reversed(text.splitlines()):
        if line.startswith("SUMMARY "):
            out = {}
            for tok in line.split()[1:]:
                k, _, v = tok.partition("=")
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
            return out
    return None


def start_server(cmd, log, timeout=10.0):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                         preexec_fn=raise_nofile)
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0 or p.poll() is not None:
            stop_server(p)
            raise RunError("server did not print 'listening on' (%s): %r" % (" ".join(cmd), buf))
        r, _, _ = select.select([p.stdout], [], [], left)
        if r:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                continue
            buf += chunk
    line = buf.split(b"\n", 1)[0].decode(errors="replace").strip()
    if not line.startswith("listening on "):
        stop_server(p)
        raise RunError("unexpected first line from server: %r" % line)
    words = line.split()
    hostport = words[2]
    host, _, port = hostport.rpartition(":")
    info = dict(w.split("=", 1) for w in words[3:] if "=" in w)
    return p, host.strip("[]"), int(port), info


def stop_server(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p.stdout:
        p.stdout.close()
    return p.returncode


def run_client(cmd, timeout):
    """Runs the client to completion; returns (exit code, stdout, stderr)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         preexec_fn=raise_nofile)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise RunError("client timed out: %s" % " ".join(cmd))
    except BaseException:  # interrupted: leave no client behind
        p.kill()
        p.wait()
        raise
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def one_run(name, template, scen, opts):
    conns, depth, size = SCENARIOS[scen]
    lih = "--length-includes-header" if opts.length_includes_header and opts.framing != "raw" else ""
    args = "--host %s --port 0 --framing %s %s" % (opts.host, opts.framing, lih)
    cmd = shlex.split(template.format(build=opts.build, bench=BENCH_DIR, args=args))
    with tempfile.TemporaryFile() as log:
        server, host, port, info = start_server(cmd, log)
        if opts.udp and info.get("transport") != "udp":
            stop_server(server)
            raise RunError("%s is not a UDP server (no transport=udp in its listening line)" % name)
        try:
            ccmd = shlex.split(opts.client_template.format(
                client=opts.client, host=host or opts.host, port=port, conns=conns, depth=depth,
                size=size, seconds=opts.seconds, framing=opts.framing, lih=lih))
            time.sleep(opts.settle)
            split0, sw0 = proc_cpu_split(server.pid), proc_context_switches(server.pid)
            cc0 = children_cpu()
            busy0, irq0 = machine_cpu_seconds()
            t0 = time.monotonic()
            rc, out, err = run_client(ccmd, timeout=opts.seconds * 3 + 30)
            wall = time.monotonic() - t0
            split1, sw1 = proc_cpu_split(server.pid), proc_context_switches(server.pid)
            busy1, irq1 = machine_cpu_seconds()
            busy, irq = busy1 - busy0, irq1 - irq0
            client_cpu = children_cpu() - cc0
            alive = server.poll() is None
        finally:
            src = stop_server(server)
        if not alive:
            log.seek(0)
            raise RunError("%s exited during the run (rc=%s): %s" % (name, server.returncode,
                                                                     log.read()[-300:].decode(errors="replace").strip().replace("\n", " | ")))
    summ = parse_summary(out)
    if rc != 0 or not summ or not summ.get("messages"):
        raise RunError("client failed (rc=%s) against %s: %s %s" % (rc, name, out.strip()[-300:], err.strip()[-300:]))
    msgs = summ["messages"]
    cpu = sum(split1) - sum(split0)
    return {
        "server": name, "scenario": scen, "backend": info.get("backend", "?"),
        "messages": msgs, "client_seconds": summ.get("seconds", wall), "wall": wall,
        "msgs_per_s": summ.get("msgs_per_s", msgs / wall),
        "p50_us": summ.get("p50_us"), "p99_us": summ.get("p99_us"), "errors": summ.get("errors"),
        "server_cpu_s": cpu, "server_cpu_pct": 100.0 * cpu / wall,
        "client_cpu_pct": 100.0 * client_cpu / wall,
        # Whatever else ran meanwhile (other processes, steal): should stay near 0.
        # Where irq time is not charged to tasks it belongs to no one: not "other".
        "other_cpu_pct": max(0.0, 100.0 * (busy - cpu - client_cpu - (0 if IRQ_IN_TASKS else irq)) / wall),
        "irq_cpu_pct": 100.0 * irq / wall,
        "cpu_us_per_msg": cpu * 1e6 / msgs, "server_rc": src,
        # The same CPU split into the server's own code and the kernel's, and
        # its threads' context switches (a hand-off between threads that
        # share a core costs one each way).
        "user_us_per_msg": (split1[0] - split0[0]) * 1e6 / msgs,
        "sys_us_per_msg": (split1[1] - split0[1]) * 1e6 / msgs,
        "switches_per_kmsg": (sw1 - sw0) * 1e3 / msgs,
        # UDP: datagrams sent and never echoed (udpgen's SUMMARY), else absent.
        "sent": summ.get("sent"), "lost": summ.get("lost"),
        "server_cmd": " ".join(cmd), "client_cmd": " ".join(ccmd),
    }


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "nproc=%d, kernel %s, %s" % (os.cpu_count() or 0, platform.release(), model)


def git_commit():
    def git(*a):
        return subprocess.run(["git", "-C", REPO_DIR, *a], capture_output=True, text=True)
    r = git("rev-parse", "--short=12", "HEAD")
    if r.returncode != 0:
        return "no commit (working tree)"
    # Tracked files only: an untracked log lying in the tree changes no build.
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return r.stdout.strip() + (" + uncommitted changes" if dirty else "")


def fmt(v, nd=2):
    return "-" if v is None else ("%.*f" % (nd, v))


def runs_for(results, scen, name, keep_disturbed=False):
    """(the runs a median is taken over, how many were made) for one server and scenario.

    The undisturbed runs when there are two or more, else all of them.
    """
    rs = [r for r in results if r["scenario"] == scen and r["server"] == name]
    clean = [r for r in rs if not r.get("disturbed")]
    use = rs if keep_disturbed or len(clean) < 2 else clean
    return use, len(rs)


def report(results, opts, command, failures, stamp=None):
    """The markdown block of a run. stamp: {"date", "commit", "machine"} of
    when and where the results were measured, for a report made later from
    saved records (else now, here)."""
    stamp = stamp or {}
    lines = []
    now = stamp.get("date") or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    unit = "dgram" if opts.udp else "msg"
    lines.append("### %sRun of %s" % ("UDP: " if opts.udp else "", now))
    lines.append("")
    lines.append("- machine: %s" % (stamp.get("machine") or machine_info()))
    lines.append("- commit: %s" % (stamp.get("commit") or git_commit()))
    lines.append("- command: `%s`" % command)
    if opts.udp:
        lines.append("- load: %s (UDP; scenario = sockets x window x datagram bytes), %g s per run, %d rounds, "
                     "servers rotated each round, nothing pinned" % (os.path.basename(opts.client), opts.seconds, opts.rounds))
    else:
        lines.append("- load: %s, %g s per run, %d rounds, framing %s%s, servers rotated each round, nothing pinned"
                     % (os.path.basename(opts.client), opts.seconds, opts.rounds, opts.framing,
                        " (length includes header)" if opts.length_includes_header and opts.framing != "raw" else ""))
    lines.append("")
    lines.append("| scenario | server | backend | runs | %ss/s | server CPU µs/%s | (min–max) | × %s | server CPU %% | client CPU %% | other CPU %% | irq CPU %% | p99 µs |%s"
                 % (unit, unit, opts.baseline, " lost % |" if opts.udp else ""))
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|%s" % ("---|" if opts.udp else ""))
    def runs_of(scen, name):
        return runs_for(results, scen, name, opts.keep_disturbed)

    for scen in opts.scenarios:
        base, _ = runs_of(scen, opts.baseline)
        base_med = statistics.median([r["cpu_us_per_msg"] for r in base]) if base else None
        for name in opts.servers:
            rs, total = runs_of(scen, name)
            if not rs:
                lines.append("| %s | %s | - | 0 | - | - | - | - | - | - | - | - | - |%s"
                             % (scen, name, " - |" if opts.udp else ""))
                continue
            cpm = [r["cpu_us_per_msg"] for r in rs]
            med = statistics.median(cpm)
            p99 = [r["p99_us"] for r in rs if isinstance(r.get("p99_us"), float)]
            backends = sorted(set(r["backend"] for r in rs))
            lost = [100.0 * r["lost"] / r["sent"] for r in rs if r.get("sent") and r.get("lost") is not None]
            lines.append("| %s | %s | %s | %s | %s | %s | %s–%s | %s | %s | %s | %s | %s | %s |%s" % (
                scen, name, "/".join(backends), "%d/%d" % (len(rs), total),
                "{:,.0f}".format(statistics.median([r["msgs_per_s"] for r in rs])),
                fmt(med), fmt(min(cpm)), fmt(max(cpm)),
                fmt(med / base_med) if base_med else "-",
                fmt(statistics.median([r["server_cpu_pct"] for r in rs]), 0),
                fmt(statistics.median([r["client_cpu_pct"] for r in rs]), 0),
                fmt(statistics.median([r["other_cpu_pct"] for r in rs]), 0),
                fmt(statistics.median([r["irq_cpu_pct"] for r in rs]), 0),
                fmt(statistics.median(p99), 0) if p99 else "-",
                (" %s |" % (fmt(statistics.median(lost), 3) if lost else "-")) if opts.udp else ""))
    lines.append("")
    lines.append("Medians over the undisturbed runs (\"runs\" = used/made; all of them when fewer than "
                 "two are undisturbed or with --keep-disturbed); CPU is the server process's utime+stime (all threads) during the "
                 "client's run divided by the %ss the client counted as echoed; × %s is the ratio of medians. "
                 "CPU %% is of one core (the machine has %d); other CPU %% is the rest of the machine's "
                 "busy time in the window (other processes, steal): high values mean a disturbed run; irq CPU %% "
                 "is the machine's irq+softirq time (loopback %s), which this kernel %s.%s"
                 % (unit, opts.baseline, os.cpu_count() or 0, "UDP" if opts.udp else "TCP",
                    "also charges to the process it interrupted (tick accounting)" if IRQ_IN_TASKS
                    else "charges to no process",
                    " lost % is the share of datagrams sent that never came back (udpgen's loss timeout); "
                    "they cost the server nothing or a receive, and are not in its count of echoes." if opts.udp else ""))
    disturbed = [r for r in results if r.get("disturbed")]
    if disturbed:
        lines.append("")
        lines.append("Disturbed runs after %d redos (other CPU > %g%%): %d of %d: %s" % (
            opts.retries, opts.max_other, len(disturbed), len(results),
            ", ".join("r%d %s %s (%.0f%%)" % (r["round"], r["scenario"], r["server"], r["other_cpu_pct"])
                      for r in disturbed)))
    if failures:
        lines.append("")
        lines.append("Failed runs (%d):" % len(failures))
        for f in failures:
            lines.append("- %s" % f)
    lines.append("")
    return "\n".join(lines)


def write_results(path, block, udp=False):
    begin, end = (RESULTS_BEGIN_UDP, RESULTS_END_UDP) if udp else (RESULTS_BEGIN, RESULTS_END)
    block = "%s\n%s\n%s\n" % (begin, block.rstrip("\n"), end)
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block.rstrip("\n") + tail
        if not text.endswith("\n"):
            text += "\n"
    else:
        if not text:
            text = "# Benchmark results\n\n"
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)


def parse_options(argv):
    """Parses and checks run.py's command line; returns (opts, parser).

    bench/suite.py builds its parts' options through here too, so both
    take the same defaults and the same checks.
    """
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default="build", help="build directory (default ./build)")
    ap.add_argument("--udp", action="store_true",
                    help="UDP echo servers under bench/udpgen (see the top of this file)")
    ap.add_argument("--servers", default=None,
                    help="comma-separated names (default net-t0,net-t1,libuv,epoll-raw; known: %s; "
                    "with --udp default %s, known: %s)"
                    % (", ".join(SERVERS), UDP_DEFAULT_SERVERS, ", ".join(SERVERS_UDP)))
    ap.add_argument("--server", action="append", default=[], metavar="NAME=TEMPLATE",
                    help="add or override a server command template (see SERVERS in this file)")
    ap.add_argument("--scenarios", default=None,
                    help="comma-separated CONNSxDEPTHxSIZE (default %s, with --udp %s; any such triple works)"
                    % (DEFAULT_SCENARIOS, UDP_DEFAULT_SCENARIOS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="client run length per run")
    ap.add_argument("--baseline", default="libuv")
    ap.add_argument("--framing", default="u16le", choices=["raw", "u16le", "u16be", "u32le", "u32be"])
    ap.add_argument("--no-length-includes-header", dest="length_includes_header", action="store_false",
                    help="framed lengths exclude the header (default: include it, as the seeds do)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--client", default=None,
                    help="load generator (default BUILD/samples/dummy_client, with --udp BUILD/bench/udpgen)")
    ap.add_argument("--client-template", default=None, help="(see CLIENT_TEMPLATE and UDP_CLIENT_TEMPLATE)")
    ap.add_argument("--settle", type=float, default=0.2, help="pause between server start and load (s)")
    ap.add_argument("--max-other", type=float, default=25.0,
                    help="redo a run when other processes used more than this %% of a core (default 25)")
    ap.add_argument("--retries", type=int, default=2, help="redos per disturbed run (default 2)")
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="before each run, wait up to this many seconds for the machine to be quiet "
                    "(under --max-other); 0 = do not wait")
    ap.add_argument("--keep-disturbed", action="store_true",
                    help="take medians over every run, disturbed ones included")
    ap.add_argument("--write", action="store_true",
                    help="replace the generated block of bench/RESULTS.md (or append one)")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    ap.add_argument("--json", metavar="FILE", help="also dump every run's record as JSON")
    ap.add_argument("--from-json", metavar="FILE",
                    help="run nothing: report the runs of an earlier --json dump (same options)")
    opts = ap.parse_args(argv)

    opts.build = os.path.abspath(opts.build)
    if opts.udp:
        # A datagram is its own message: every UDP server takes --framing raw.
        opts.framing = "raw"
        opts.table = SERVERS_UDP
        opts.client = opts.client or os.path.join(opts.build, "bench", "udpgen")
        opts.client_template = opts.client_template or UDP_CLIENT_TEMPLATE
        opts.servers = opts.servers or UDP_DEFAULT_SERVERS
        opts.scenarios = opts.scenarios or UDP_DEFAULT_SCENARIOS
    else:
        opts.table = SERVERS
        opts.client = opts.client or os.path.join(opts.build, "samples", "dummy_client")
        opts.client_template = opts.client_template or CLIENT_TEMPLATE
        opts.servers = opts.servers or "net-t0,net-t1,libuv,epoll-raw"
        opts.scenarios = opts.scenarios or DEFAULT_SCENARIOS
    for spec in opts.server:
        name, sep, tmpl = spec.partition("=")
        if not sep:
            ap.error("--server wants NAME=TEMPLATE")
        opts.table[name] = tmpl
    opts.servers = [s for s in opts.servers.split(",") if s]
    for s in opts.servers:
        if s not in opts.table:
            ap.error("unknown server %r (known: %s)" % (s, ", ".join(opts.table)))
    opts.scenarios = [s for s in opts.scenarios.split(",") if s]
    for s in opts.scenarios:
        if s not in SCENARIOS:
            try:
                c, d, z = (int(x) for x in s.split("x"))
            except ValueError:
                ap.error("bad scenario %r: want CONNSxDEPTHxSIZE" % s)
            SCENARIOS[s] = (c, d, z)
    return opts, ap


def main(argv):
    opts, ap = parse_options(argv)
    if opts.from_json:
        with open(opts.from_json) as f:
            results = json.load(f)
        block = report(results, opts, "python3 bench/run.py " + " ".join(shlex.quote(a) for a in argv), [])
        print(block)
        if opts.write:
            write_results(opts.results, block, opts.udp)
        return 0
    if not os.access(opts.client, os.X_OK):
        ap.error("load generator not found: %s (build first)" % opts.client)

    command = "python3 bench/run.py " + " ".join(shlex.quote(a) for a in argv)
    results, failures = [], []
    # SIGTERM (like Ctrl-C) stops the rounds but still reports what was measured.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run_rounds(opts, results, failures)
    except KeyboardInterrupt:
        failures.append("interrupted after %d runs: the rounds are incomplete" % len(results))
        print("interrupted: reporting the runs made so far", file=sys.stderr)

    block = report(results, opts, command, failures)
    print(block)
    if opts.write:
        write_results(opts.results, block, opts.udp)
        print("written to %s" % opts.results, file=sys.stderr)
    return 0 if results and not failures else 1


def dump_json(path, results):
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1)


def run_rounds(opts, results, failures):
    for rnd in range(opts.rounds):
        for scen in opts.scenarios:
            k = rnd % len(opts.servers)
            order = opts.servers[k:] + opts.servers[:k]
            for name in order:
                try:
                    # Another process eating the CPU skews the run: wait and redo it.
                    for attempt in range(opts.retries + 1):
                        if opts.quiet_wait > 0 and not wait_quiet(opts.max_other, opts.quiet_wait):
                            print("busy    machine not quiet after %g s, running anyway" % opts.quiet_wait,
                                  file=sys.stderr)
                        r = one_run(name, opts.table[name], scen, opts)
                        if r["other_cpu_pct"] <= opts.max_other:
                            break
                        print("busy    round %d %-10s %-18s other CPU %.0f%% > %.0f%%%s"
                              % (rnd + 1, scen, name, r["other_cpu_pct"], opts.max_other,
                                 ", redoing" if attempt < opts.retries else ", kept"), file=sys.stderr)
                except (RunError, OSError) as e:
                    failures.append("round %d %s %s: %s" % (rnd + 1, scen, name, e))
                    print("FAILED  round %d %-10s %-18s %s" % (rnd + 1, scen, name, e), file=sys.stderr)
                    continue
                r["round"] = rnd + 1
                r["disturbed"] = r["other_cpu_pct"] > opts.max_other
                results.append(r)
                dump_json(opts.json, results)  # after every run, so an interrupted session keeps its data
                unit = "dgram" if opts.udp else "msg"
                lost = ("  lost %.3f%%" % (100.0 * r["lost"] / r["sent"])) if opts.udp and r.get("sent") else ""
                print("round %d %-10s %-18s %10.0f %s/s  %6.2f µs/%s  server %3.0f%%  client %3.0f%%  other %3.0f%%  irq %3.0f%%%s%s"
                      % (rnd + 1, scen, name, r["msgs_per_s"], unit, r["cpu_us_per_msg"], unit, r["server_cpu_pct"],
                         r["client_cpu_pct"], r["other_cpu_pct"], r["irq_cpu_pct"], lost,
                         "" if r["server_rc"] == 0 else "  (server rc=%s)" % r["server_rc"]),
                      file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
