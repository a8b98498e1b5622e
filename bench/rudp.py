#!/usr/bin/env python3
"""Reliable UDP: net's sessions against ENet, over loopback and through a lossy path.

Each server is driven by its own verifying client with the same load (N
sessions x D messages in flight x BYTES per message, reliable and ordered on
one channel) and the same stop rules:

    net-t0, net-t1  samples/udp_echo --reliable (--io-threads 0 / 1)
                    driven by samples/dummy_client --udp --reliable
    enet            bench/peers/enet_echo (ENet, libenet-dev)
                    driven by bench/enet_client

under three conditions, servers alternating (the order rotates each round):

    loopback  client -> server directly
    impaired  client -> tests/impair/udp_impair (--loss, --dup, --reorder, both
              ways, fixed seed) -> server
    burst     client -> udp_impair with no random loss, which drops everything
              both ways for --burst-ms after --burst-after seconds

Reported per condition and server, medians over the rounds: messages/s (the
client's echoes), the server's CPU µs per message (utime+stime of the server
process, all threads, during the client's run, divided by the echoes) and
its ratio to ENet's; for `burst`, the recovery time: ms from the end of the
burst until a 50 ms window of traffic toward the client (bytes the proxy
sent on: echoes, retransmits and acks) first reaches 80 % of its mean over
the second before the burst. Every run must end with errors=0 and lost=0
(the reliable channel's promise) or it is reported as failed.

    python3 bench/rudp.py build --rounds 1 --seconds 2            # smoke run
    python3 bench/rudp.py build --rounds 5 --seconds 5 --write    # results into RESULTS.md (own block)

Only the lead's runs on a quiet machine go into RESULTS.md (--write).
Python 3 standard library only; Linux only (reads /proc).
"""

import argparse
import datetime
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
import run as benchrun  # noqa: E402  (bench/run.py: process CPU, server start/stop, SUMMARY parsing)

RESULTS_BEGIN = "<!-- bench/rudp.py results: begin -->"
RESULTS_END = "<!-- bench/rudp.py results: end -->"

# name -> (server command, client command); {build}, {port}, {conns}, {depth}, {size}, {seconds}
SERVERS = {
    "net-t0": ("{build}/samples/udp_echo --reliable --host 127.0.0.1 --port 0 --io-threads 0",
               "{build}/samples/dummy_client --udp --reliable --host 127.0.0.1 --port {port} "
               "--connections {conns} --depth {depth} --size {size} --seconds {seconds}"),
    "net-t1": ("{build}/samples/udp_echo --reliable --host 127.0.0.1 --port 0 --io-threads 1",
               "{build}/samples/dummy_client --udp --reliable --host 127.0.0.1 --port {port} "
               "--connections {conns} --depth {depth} --size {size} --seconds {seconds}"),
    "enet": ("{build}/bench/enet_echo --host 127.0.0.1 --port 0",
             "{build}/bench/enet_client --host 127.0.0.1 --port {port} "
             "--connections {conns} --depth {depth} --size {size} --seconds {seconds}"),
}
BASELINE = "enet"
CONDITIONS = ("loopback", "impaired", "burst")
TIMELINE_MS = 10
RECOVERY_WINDOW_MS = 50
RECOVERY_SHARE = 0.8


class Proxy:
    """udp_impair in front of the server: started, its port read, stopped, its output parsed."""

    def __init__(self, opts, port, condition):
        cmd = [os.path.join(opts.build, "tests", "impair", "udp_impair"), "--target", "127.0.0.1:%d" % port,
               "--seed", str(opts.seed)]
        if condition == "impaired":
            cmd += ["--drop", str(opts.loss), "--dup", str(opts.dup), "--reorder", str(opts.reorder)]
        else:
            cmd += ["--burst-after-ms", str(int(opts.burst_after * 1000)), "--burst-ms", str(opts.burst_ms),
                    "--timeline-ms", str(TIMELINE_MS)]
        self.log = tempfile.TemporaryFile()
        self.p, _, self.port, _ = benchrun.start_server(cmd, self.log)

    def stop(self):
        """SIGTERM; returns its stdout after the first line (IMPAIR and TIMELINE)."""
        self.p.send_signal(signal.SIGTERM)
        try:
            out, _ = self.p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
        self.log.close()
        return out.decode(errors="replace")


def recovery_ms(proxy_out):
    """Milliseconds from the burst's end until traffic toward the client is back (see the module doc)."""
    line = next((l for l in proxy_out.splitlines() if l.startswith("TIMELINE ")), None)
    if not line:
        raise benchrun.RunError("udp_impair printed no TIMELINE line")
    f = dict(tok.split("=", 1) for tok in line.split()[1:])
    bucket, at, length = int(f["bucket_ms"]), int(f["burst_at_ms"]), int(f["burst_ms"])
    series = [int(x) for x in f["to_client"].split(",") if x]
    if at < 0:
        raise benchrun.RunError("the burst never started (run shorter than --burst-after?)")
    before = series[max(0, (at - 1000) // bucket):at // bucket]
    if not before or sum(before) == 0:
        raise benchrun.RunError("no traffic in the second before the burst")
    target = RECOVERY_SHARE * (sum(before) / len(before)) * (RECOVERY_WINDOW_MS // bucket)
    start, w = (at + length) // bucket + 1, RECOVERY_WINDOW_MS // bucket
    for i in range(start, len(series) - w + 1):
        if sum(series[i:i + w]) >= target:
            return (i + w) * bucket - (at + length)
    return None  # not within the run


def one_run(opts, name, condition):
    server_t, client_t = SERVERS[name]
    scmd = shlex.split(server_t.format(build=opts.build))
    with tempfile.TemporaryFile() as log:
        server, _, sport, info = benchrun.start_server(scmd, log)
        proxy = None
        try:
            if info.get("transport") != "rudp":
                raise benchrun.RunError("%s: no transport=rudp in its listening line" % name)
            port = sport
            if condition != "loopback":
                proxy = Proxy(opts, sport, condition)
                port = proxy.port
            ccmd = shlex.split(client_t.format(build=opts.build, port=port, conns=opts.connections,
                                               depth=opts.depth, size=opts.size, seconds=opts.seconds))
            cpu0 = benchrun.proc_cpu_seconds(server.pid)
            t0 = time.monotonic()
            rc, out, err = benchrun.run_client(ccmd, timeout=opts.seconds * 3 + 40)
            wall = time.monotonic() - t0
            cpu = benchrun.proc_cpu_seconds(server.pid) - cpu0
        finally:
            proxy_out = proxy.stop() if proxy else ""
            benchrun.stop_server(server)
    summ = benchrun.parse_summary(out)
    if rc != 0 or not summ or summ.get("errors") or summ.get("lost") or not summ.get("messages"):
        raise benchrun.RunError("%s %s: client rc=%s: %s | %s" % (name, condition, rc, out.strip()[-300:],
                                                                  err.strip()[-400:].replace("\n", " | ")))
    r = {"server": name, "condition": condition, "messages": summ["messages"],
         "msgs_per_s": summ["msgs_per_s"], "p99_us": summ.get("p99_us"), "wall": wall,
         "cpu_us_per_msg": cpu * 1e6 / summ["messages"], "recovery_ms": None}
    if condition == "burst":
        r["recovery_ms"] = recovery_ms(proxy_out)
    return r


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, nd=2):
    return "-" if v is None else ("{:,.%df}" % nd).format(v)


def report(results, opts, failures, command):
    lines = ["### Reliable UDP against ENet: run of %s" % datetime.datetime.now(datetime.timezone.utc)
             .strftime("%Y-%m-%d %H:%M UTC"), "",
             "- machine: %s" % benchrun.machine_info(),
             "- commit: %s" % benchrun.git_commit(),
             "- command: `%s`" % command,
             "- load: %d sessions x %d messages in flight x %d bytes, reliable-ordered on one channel, %s s per run, "
             "%d rounds; impaired: %g loss, %g dup, %g reorder both ways (seed %d); burst: everything dropped for "
             "%d ms after %g s" % (opts.connections, opts.depth, opts.size, opts.seconds, opts.rounds, opts.loss,
                                   opts.dup, opts.reorder, opts.seed, opts.burst_ms, opts.burst_after), "",
             "| condition | server | runs | msgs/s | server CPU µs/msg | × %s | p99 µs | recovery ms |" % BASELINE,
             "|---|---|---|---|---|---|---|---|"]
    for cond in opts.conditions:
        base = median(r["cpu_us_per_msg"] for r in results if r["condition"] == cond and r["server"] == BASELINE)
        for name in opts.servers:
            rs = [r for r in results if r["condition"] == cond and r["server"] == name]
            if not rs:
                continue
            cpu = median(r["cpu_us_per_msg"] for r in rs)
            rec = [r["recovery_ms"] for r in rs] if cond == "burst" else []
            rec_text = "-" if cond != "burst" else (fmt(median(rec), 0) + ("" if None not in rec else
                                                                          " (%d not recovered)" % rec.count(None)))
            lines.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                cond, name, len(rs), fmt(median(r["msgs_per_s"] for r in rs), 0), fmt(cpu),
                fmt(cpu / base if cpu and base else None), fmt(median(r["p99_us"] for r in rs), 0), rec_text))
    lines += ["", "Medians over the rounds. Server CPU is the server process's utime+stime (all threads) during "
              "the client's run divided by the echoes the client verified; through the proxy, udp_impair's own CPU "
              "is not counted but shares the machine. Recovery: ms from the end of the burst until a %d ms window "
              "of traffic toward the client reaches %d %% of its mean over the second before the burst."
              % (RECOVERY_WINDOW_MS, int(RECOVERY_SHARE * 100))]
    if failures:
        lines += ["", "Failed runs (%d):" % len(failures)] + ["- %s" % f for f in failures]
    return "\n".join(lines) + "\n"


def write_results(path, block):
    block = "%s\n%s\n%s\n" % (RESULTS_BEGIN, block.rstrip("\n"), RESULTS_END)
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    if RESULTS_BEGIN in text and RESULTS_END in text:
        head, _, rest = text.partition(RESULTS_BEGIN)
        text = head + block.rstrip("\n") + rest.partition(RESULTS_END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")


def parse_options(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default="build", help="the build directory (default: build)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="per run (default 5)")
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma-separated, of: " + ", ".join(SERVERS))
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated, of: " + ", ".join(CONDITIONS))
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--loss", type=float, default=0.10)
    ap.add_argument("--dup", type=float, default=0.02)
    ap.add_argument("--reorder", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--burst-ms", type=int, default=500)
    ap.add_argument("--burst-after", type=float, default=None, help="seconds into the run (default: a third)")
    ap.add_argument("--write", action="store_true", help="replace this script's block of bench/RESULTS.md")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    opts = ap.parse_args(argv)
    opts.servers = [s for s in opts.servers.split(",") if s]
    opts.conditions = [c for c in opts.conditions.split(",") if c]
    for s in opts.servers:
        if s not in SERVERS:
            ap.error("--servers: unknown server %r (known: %s)" % (s, ", ".join(SERVERS)))
    for c in opts.conditions:
        if c not in CONDITIONS:
            ap.error("--conditions: unknown condition %r (known: %s)" % (c, ", ".join(CONDITIONS)))
    for name in ("rounds", "connections", "depth"):
        if getattr(opts, name) < 1:
            ap.error("--%s must be at least 1" % name)
    if opts.size < 24:
        ap.error("--size must be at least 24 (the clients' verification header)")
    if not opts.seconds > 0:
        ap.error("--seconds must be positive")
    for name in ("loss", "dup", "reorder"):
        if not 0 <= getattr(opts, name) <= 1:
            ap.error("--%s must be a fraction in [0, 1]" % name)
    if opts.burst_after is None:
        opts.burst_after = opts.seconds / 3
    if "burst" in opts.conditions and not (1.0 <= opts.burst_after
                                           and opts.burst_after + opts.burst_ms / 1000.0 < opts.seconds):
        ap.error("--burst-after: the burst needs a second before it and must end within --seconds "
                 "(use --seconds 3 or more)")
    opts.build = os.path.abspath(opts.build)
    return opts


def main(argv):
    opts = parse_options(argv)
    results, failures = [], []
    for rnd in range(opts.rounds):
        for cond in opts.conditions:
            k = rnd % len(opts.servers)
            for name in opts.servers[k:] + opts.servers[:k]:
                try:
                    r = one_run(opts, name, cond)
                    r["round"] = rnd + 1
                    results.append(r)
                    print("round %d %-8s %-7s msgs/s=%s cpu_us/msg=%s recovery_ms=%s" % (
                        rnd + 1, cond, name, fmt(r["msgs_per_s"], 0), fmt(r["cpu_us_per_msg"]),
                        fmt(r["recovery_ms"], 0)), file=sys.stderr, flush=True)
                except benchrun.RunError as e:
                    failures.append("round %d %s %s: %s" % (rnd + 1, cond, name, e))
                    print("FAILED: %s" % failures[-1], file=sys.stderr, flush=True)
    block = report(results, opts, failures, "python3 bench/rudp.py " + " ".join(shlex.quote(a) for a in argv))
    print(block)
    if opts.write:
        write_results(opts.results, block)
        print("written to %s" % opts.results, file=sys.stderr)
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
