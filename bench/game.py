#!/usr/bin/env python3
"""The Lua game server's tick under load: tick time and CPU by player count.

    /usr/bin/python3 bench/game.py BUILD [--bots 300,1000,3000] [--seconds 10]
                                         [--rounds 1] [--write]

For each player count, starts samples/lua/game_server.lua (io_threads 0, 20 Hz
tick, a world sized for --density players per 100x100 cell) and, in another
process, samples/lua/bots.lua --light with that many bots (moving at 10 Hz,
chatting every ~2 s, heartbeats every second). Once every bot is logged in and
a second has passed, it measures for --seconds:

  - each tick's wall time and thread CPU time, from the server's --tick-log
    (a tick = the game clock, the area-of-interest lists of every occupied
    cell and their broadcasts): p50, p99 and mean;
  - the server process's CPU (utime+stime from /proc, everything it does:
    packets, agents, ticks, the engine) as % of one core, the bots' too, and
    the rest of the machine's (other work disturbs the figures: the run is
    flagged when it passes --quiet-pct of a core);

then stops the bots (SIGINT: they leave and print their summary, whose error
count is reported) and the server. Prints a Markdown table. With --write it
also replaces its block in bench/RESULTS.md (or appends one) and draws
bench/charts/game_tick.png (matplotlib; Debian: python3-matplotlib).

Bots and server share the machine: on 2 cores they take CPU from each other.
The tick's thread CPU time is the figure least disturbed by that.
Needs descriptors for 2 x the largest count (the hard limit is raised to).
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
REPO_DIR = os.path.dirname(BENCH_DIR)
SAMPLES = os.path.join(REPO_DIR, "samples", "lua")
sys.path.insert(0, BENCH_DIR)
from run import CLK_TCK, git_commit, machine_cpu_seconds, machine_info, raise_nofile  # noqa: E402

RESULTS_BEGIN = "<!-- bench/game.py results: begin -->"
RESULTS_END = "<!-- bench/game.py results: end -->"
CHART = "game_tick.png"


def parse_options(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", help="build directory holding bindings/lua/net.so")
    ap.add_argument("--bots", default="300,1000,3000", help="player counts, comma separated (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured window per run (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=1, help="runs per count; the table shows medians (default 1)")
    ap.add_argument("--density", type=float, default=3.0,
                    help="players per 100x100 cell: sizes the world (default %(default)s)")
    ap.add_argument("--io-threads", type=int, default=0, help="the server's io_threads (default 0)")
    ap.add_argument("--ramp-timeout", type=float, default=60.0,
                    help="seconds for every bot to log in before the run fails (default %(default)s)")
    ap.add_argument("--quiet-pct", type=float, default=25.0,
                    help="other CPU (%% of a core) above which a run is flagged as disturbed (default %(default)s)")
    ap.add_argument("--lua", default="lua5.4")
    ap.add_argument("--write", action="store_true", help="write the block into RESULTS and draw the chart")
    ap.add_argument("--results", default=os.path.join(BENCH_DIR, "RESULTS.md"))
    ap.add_argument("--charts", default=os.path.join(BENCH_DIR, "charts"))
    opts = ap.parse_args(argv)
    try:
        opts.counts = [int(x) for x in opts.bots.split(",") if x.strip()]
    except ValueError:
        ap.error("--bots: comma-separated integers expected, got %r" % opts.bots)
    if not opts.counts or min(opts.counts) < 1:
        ap.error("--bots: at least one count, each 1 or more")
    if opts.seconds <= 0 or opts.rounds < 1:
        ap.error("--seconds must be > 0 and --rounds >= 1")
    if not os.path.isfile(os.path.join(opts.build, "bindings", "lua", "net.so")):
        ap.error("%s/bindings/lua/net.so not found (build the net_lua target)" % opts.build)
    return opts


def world_for(count, density):
    """A world side (a multiple of the 100-unit cell, at least 300) for density players per cell."""
    cells_per_side = int((count / density) ** 0.5 + 0.999)
    return max(300, cells_per_side * 100)


def proc_cpu_seconds(pid):
    """utime+stime of a live process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, max(0, int(q * len(sorted_vals) + 0.999999) - 1))]


def read_ticks(path):
    """The tick log's complete lines as (players, wall_us, cpu_us)."""
    out = []
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            p, w, c = line.split()
            out.append((int(p), int(w), int(c)))
    return out


def summary_fields(text, prefix):
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return None


def stop(proc, sig, timeout):
    """Signals proc and waits; kills it after timeout. Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def run_one(opts, count, tmp):
    """One run at count bots; returns a dict of measures (or raises RuntimeError)."""
    env = dict(os.environ, LUA_CPATH=os.path.join(os.path.abspath(opts.build), "bindings", "lua", "?.so") + ";;")
    world = world_for(count, opts.density)
    tick_log = os.path.join(tmp, "ticks-%d.txt" % count)
    server_cmd = [opts.lua, os.path.join(SAMPLES, "game_server.lua"), "--port", "0", "--world", str(world),
                  "--io-threads", str(opts.io_threads), "--max-players", str(count + 100), "--tick-log", tick_log]
    with open(os.path.join(tmp, "server-%d.err" % count), "w") as server_err, \
            open(os.path.join(tmp, "bots-%d.err" % count), "w") as bots_err:
        server = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, stderr=server_err, text=True, env=env)
        bots = None
        try:
            line = server.stdout.readline()
            if not line.startswith("listening on "):
                raise RuntimeError("game_server.lua did not start: %r" % line)
            port = line.split()[2].rsplit(":", 1)[1]
            bots_cmd = [opts.lua, os.path.join(SAMPLES, "bots.lua"), "--port", port, "--bots", str(count),
                        "--seconds", str(opts.ramp_timeout + opts.seconds + 30), "--light"]
            bots = subprocess.Popen(bots_cmd, stdout=subprocess.PIPE, stderr=bots_err, text=True, env=env)
            # Every bot logged in, then a second to settle.
            deadline = time.monotonic() + opts.ramp_timeout
            while True:
                ticks = read_ticks(tick_log) if os.path.exists(tick_log) else []
                if ticks and ticks[-1][0] >= count:
                    break
                if time.monotonic() > deadline or bots.poll() is not None or server.poll() is not None:
                    raise RuntimeError("%d bots did not all log in within %.0f s (%d did)"
                                       % (count, opts.ramp_timeout, ticks[-1][0] if ticks else 0))
                time.sleep(0.2)
            time.sleep(1.0)
            first = len(read_ticks(tick_log))
            s0, b0, (m0, _), t0 = (proc_cpu_seconds(server.pid), proc_cpu_seconds(bots.pid),
                                   machine_cpu_seconds(), time.monotonic())
            time.sleep(opts.seconds)
            s1, b1, (m1, _), t1 = (proc_cpu_seconds(server.pid), proc_cpu_seconds(bots.pid),
                                   machine_cpu_seconds(), time.monotonic())
            time.sleep(0.1)  # the window's last tick, written after it ran
            window = read_ticks(tick_log)[first:first + int(opts.seconds * 20 + 0.5)]
        finally:
            bots_rc = stop(bots, signal.SIGINT, 30) if bots else None
            bots_out = bots.stdout.read() if bots else ""
            server_rc = stop(server, signal.SIGINT, 15)
            server_out = server.stdout.read()
    game = summary_fields(server_out, "GAME") or {}
    summary = summary_fields(bots_out, "SUMMARY") or {}
    if not window:
        raise RuntimeError("no tick in the measured window")
    dt = t1 - t0
    wall = sorted(w / 1000.0 for _, w, _ in window)
    cpu = sorted(c / 1000.0 for _, _, c in window)
    server_pct, bots_pct = 100.0 * (s1 - s0) / dt, 100.0 * (b1 - b0) / dt
    return {
        "bots": count, "world": world, "ticks": len(window), "ticks_per_s": len(window) / dt,
        "players_min": min(p for p, _, _ in window),
        "tick_p50": pct(wall, 0.5), "tick_p99": pct(wall, 0.99), "tick_mean": statistics.fmean(wall),
        "cpu_p50": pct(cpu, 0.5), "cpu_p99": pct(cpu, 0.99), "cpu_mean": statistics.fmean(cpu),
        "server_cpu_pct": server_pct, "bots_cpu_pct": bots_pct,
        "other_cpu_pct": max(0.0, 100.0 * (m1 - m0) / dt - server_pct - bots_pct),
        "bots_errors": int(summary.get("errors", -1)), "bots_rc": bots_rc, "server_rc": server_rc,
        "dropped": sum(int(game.get(k, 0)) for k in ("protocol_errors", "speed_dropped", "flood_dropped",
                                                     "slow_dropped", "heartbeat_timeouts", "script_errors")),
    }


def median_row(runs):
    row = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, float):
            row[k] = statistics.median(r[k] for r in runs)
    row["bots_errors"] = max(r["bots_errors"] for r in runs)
    row["dropped"] = max(r["dropped"] for r in runs)
    row["runs"] = len(runs)
    row["disturbed"] = sum(1 for r in runs if r["disturbed"])
    return row


def table(rows):
    head = ("| bots | world | ticks/s | tick p50 ms | tick p99 ms | tick mean ms | tick CPU p50 ms | tick CPU p99 ms "
            "| tick CPU mean ms | server CPU % | bots CPU % | other CPU % | bot errors | dropped | runs (disturbed) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append("| %d | %d | %.1f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f | %.0f | %d | %d | %d (%d) |"
                     % (r["bots"], r["world"], r["ticks_per_s"], r["tick_p50"], r["tick_p99"], r["tick_mean"],
                        r["cpu_p50"], r["cpu_p99"], r["cpu_mean"], r["server_cpu_pct"], r["bots_cpu_pct"],
                        r["other_cpu_pct"], r["bots_errors"], r["dropped"], r["runs"], r["disturbed"]))
    return "\n".join(lines)


def block(opts, rows, argv, chart):
    out = [
        "## Game server: tick time and CPU by player count (bench/game.py)",
        "",
        "- machine: %s" % machine_info(),
        "- commit: %s" % git_commit(),
        "- date: %s UTC" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "- command: `python3 bench/game.py %s`" % " ".join(shlex.quote(a) for a in argv),
        "- %d round(s), %.0f s measured per run after every bot logged in; medians over the rounds" % (
            opts.rounds, opts.seconds),
        "",
        "samples/lua/game_server.lua (io_threads %d, 20 Hz) with samples/lua/bots.lua --light in another process "
        "on the same machine: bots move at 10 Hz, chat every ~2 s, send a heartbeat every second; the world "
        "is sized for %.0f players per 100x100 cell. Tick: the game clock, then one POSITIONS packet per "
        "occupied cell (its area of interest, 9 cells) broadcast to the cell. Tick times come from the "
        "server's --tick-log (wall time, and the thread's CPU time, which preemption does not inflate); "
        "server, bots and other CPU are utime+stime over the window, %% of one core. \"dropped\": players "
        "the server dropped (none expected). A run is disturbed when other work took more than %.0f %% "
        "of a core." % (opts.io_threads, opts.density, opts.quiet_pct),
        "",
        table(rows),
    ]
    if chart:
        out += ["", "![tick time and CPU by player count](charts/%s)" % CHART]
    return "\n".join(out) + "\n"


def write_results(path, text):
    text = "%s\n%s%s\n" % (RESULTS_BEGIN, text, RESULTS_END)
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if RESULTS_BEGIN in old and RESULTS_END in old:
        head, _, rest = old.partition(RESULTS_BEGIN)
        _, _, tail = rest.partition(RESULTS_END)
        new = head + text.rstrip("\n") + tail
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "# Benchmark results\n\n") + text
    with open(path, "w") as f:
        f.write(new if new.endswith("\n") else new + "\n")


def draw(path, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xs = [r["bots"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    a1.plot(xs, [r["tick_p50"] for r in rows], "o-", color="#1f5fa8", label="tick p50 (wall)")
    a1.plot(xs, [r["tick_p99"] for r in rows], "o--", color="#1f5fa8", alpha=0.6, label="tick p99 (wall)")
    a1.plot(xs, [r["cpu_p50"] for r in rows], "s-", color="#27ae60", label="tick CPU p50")
    a1.plot(xs, [r["cpu_p99"] for r in rows], "s--", color="#27ae60", alpha=0.6, label="tick CPU p99")
    a1.axhline(50, color="#c0392b", lw=0.8, ls=":", label="tick period (20 Hz)")
    a1.set_xscale("log")
    a1.set_yscale("log")
    a1.set_xlabel("bots (players)")
    a1.set_ylabel("ms per tick")
    a1.set_title("Tick time")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3, which="both")
    a2.bar([str(x) for x in xs], [r["server_cpu_pct"] for r in rows], color="#1f5fa8", label="server")
    a2.bar([str(x) for x in xs], [r["bots_cpu_pct"] for r in rows], bottom=[r["server_cpu_pct"] for r in rows],
           color="#82e0aa", label="bots")
    a2.set_xlabel("bots (players)")
    a2.set_ylabel("% of one core")
    a2.set_title("Process CPU")
    a2.legend(fontsize=8)
    a2.grid(axis="y", alpha=0.3)
    fig.suptitle("Lua game server (samples/lua/game_server.lua), 20 Hz", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    opts = parse_options(argv)
    raise_nofile()
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="net-game-bench-") as tmp:
        for count in opts.counts:
            runs = []
            for rnd in range(opts.rounds):
                try:
                    r = run_one(opts, count, tmp)
                except RuntimeError as e:
                    failed.append("%d bots, round %d: %s" % (count, rnd + 1, e))
                    print("FAILED: " + failed[-1], file=sys.stderr)
                    continue
                r["disturbed"] = r["other_cpu_pct"] > opts.quiet_pct
                runs.append(r)
                print("%d bots: tick p50 %.3f ms p99 %.3f ms, CPU p50 %.3f ms p99 %.3f ms, server %.0f %%, "
                      "bots %.0f %%, other %.0f %%, bot errors %d" % (
                          count, r["tick_p50"], r["tick_p99"], r["cpu_p50"], r["cpu_p99"], r["server_cpu_pct"],
                          r["bots_cpu_pct"], r["other_cpu_pct"], r["bots_errors"]), file=sys.stderr)
            if runs:
                rows.append(median_row(runs))
    if rows:
        print(table(rows))
    if opts.write and rows:
        chart = None
        try:
            os.makedirs(opts.charts, exist_ok=True)
            chart = os.path.join(opts.charts, CHART)
            draw(chart, rows)
        except ImportError:
            print("matplotlib not found (Debian: python3-matplotlib): no chart", file=sys.stderr)
            chart = None
        write_results(opts.results, block(opts, rows, argv, chart))
        print("wrote %s%s" % (opts.results, (" and " + chart) if chart else ""), file=sys.stderr)
    bad = failed or any(r["bots_errors"] != 0 or r["dropped"] for r in rows)
    return 1 if bad or not rows else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
