#!/usr/bin/env python3
"""run_impaired.py - a server, the impairment proxy in front of it, and a
client through the proxy, as one test.

    run_impaired.py [--timeout SECONDS] [--exits] [--reliable] [--no-loss]
                    --server SERVER_CMD [ARGS...] --proxy PROXY_CMD [ARGS...]
                    --client CLIENT_CMD [ARGS...]

1. Starts the server (--port 0) and reads its "listening on HOST:PORT ..."
   line (docs/CONVENTIONS.md); with --reliable it must say transport=rudp.
2. Starts the proxy (tests/impair/udp_impair) with {port} in its arguments
   replaced by the server's port, and reads its own "listening on" line.
3. Runs the client with {port} replaced by the proxy's port.
4. Stops proxy and server with SIGTERM (CTRL_BREAK_EVENT on Windows), or
   with --exits waits for them to stop by themselves (--seconds: a POSIX
   signal does not reach a program under Wine).

Passes only when the client exits 0 (dummy_client --reliable exits non-zero
on any loss, duplicate, reorder or corruption on a reliable channel), its
SUMMARY line says errors=0 (and lost=0 with --no-loss: every channel
reliable; unreliable ones may lose messages, which the client reports as
lost without failing), and the server and
the proxy exit 0. The proxy's counters are printed, so a log shows what the
path did. On timeout everything is killed.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_pair import LISTEN_RE, describe_rc, kill_group, popen_group  # noqa: E402

STARTUP_TIMEOUT = 15.0


def log(msg):
    print("run_impaired: " + msg, file=sys.stderr, flush=True)


def split_args(argv):
    opts = {"timeout": 120.0, "exits": False, "reliable": False, "no_loss": False}
    parts = {}
    i = 0
    while i < len(argv) and argv[i] in ("--timeout", "--exits", "--reliable", "--no-loss"):
        if argv[i] == "--timeout":
            opts["timeout"] = float(argv[i + 1])
            i += 2
        else:
            opts[argv[i][2:].replace("-", "_")] = True
            i += 1
    try:
        s, p, c = argv.index("--server", i), argv.index("--proxy", i), argv.index("--client", i)
    except ValueError:
        s = p = c = -1
    if not (i == s < p < c) or p == s + 1 or c == p + 1 or c == len(argv) - 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    parts["server"], parts["proxy"], parts["client"] = argv[s + 1:p], argv[p + 1:c], argv[c + 1:]
    return opts, parts


class Listener:
    """A process whose first stdout line is "listening on HOST:PORT ..."; the
    rest of its output is echoed (prefixed) and kept."""

    def __init__(self, name, cmd):
        self.name, self.lines = name, []
        log("%s: %s" % (name, " ".join(cmd)))
        self.p = popen_group(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.first = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.lines.append(line)
            print("%s: %s" % (self.name, line), flush=True)
            self.first.set()
        self.first.set()

    def address(self, deadline):
        """(host, port) from the first line, or None (said why)."""
        if not self.first.wait(min(STARTUP_TIMEOUT, max(0.0, deadline - time.monotonic()))) or not self.lines:
            log("FAIL: %s printed no 'listening on' line (%s)" % (self.name, describe_rc(self.p.poll())))
            return None
        m = LISTEN_RE.match(self.lines[0] + " ")
        if not m:
            log("FAIL: unexpected first line from %s: %r" % (self.name, self.lines[0]))
            return None
        return m.group(1).strip("[]"), m.group(2)

    def stop(self, signal_it, deadline):
        if signal_it and self.p.poll() is None:
            self.p.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGTERM)
        try:
            rc = self.p.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log("FAIL: %s did not exit" % self.name)
            return None
        self.reader.join(2)
        log("%s finished: %s" % (self.name, describe_rc(rc)))
        return rc


def fill(cmd, port):
    return [a.replace("{port}", port) for a in cmd]


def check_summary(text, no_loss):
    line = next((l for l in reversed(text.splitlines()) if l.startswith("SUMMARY ")), None)
    if not line:
        log("FAIL: the client printed no SUMMARY line")
        return False
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    if fields.get("errors") != "0" or (no_loss and fields.get("lost") != "0"):
        log("FAIL: %s" % line)
        return False
    return True


def run(opts, parts, deadline, procs):
    server = Listener("server", parts["server"])
    procs.append(server)
    addr = server.address(deadline)
    if not addr:
        return 1
    if opts["reliable"] and "transport=rudp" not in server.lines[0]:
        log("FAIL: not a reliable-UDP server (no transport=rudp): %r" % server.lines[0])
        return 1
    proxy = Listener("proxy", fill(parts["proxy"], addr[1]))
    procs.append(proxy)
    paddr = proxy.address(deadline)
    if not paddr:
        return 1
    cmd = fill(parts["client"], paddr[1])
    log("client: " + " ".join(cmd))
    client = popen_group(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    procs.append(client)
    try:
        out, _ = client.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        log("FAIL: timeout after %.0f s" % opts["timeout"])
        return 1
    out = out.decode("utf-8", "replace")
    sys.stdout.write("".join("client: %s\n" % l for l in out.splitlines()))
    log("client finished: %s" % describe_rc(client.returncode))
    ok = client.returncode == 0 and check_summary(out, opts["no_loss"])
    for p in (proxy, server):
        if p.p.poll() is not None and not opts["exits"]:
            log("FAIL: %s exited before it was asked to (%s)" % (p.name, describe_rc(p.p.returncode)))
            ok = False
        ok = p.stop(not opts["exits"], deadline) == 0 and ok
    if not ok:
        log("FAIL")
        return 1
    log("PASS")
    return 0


def main(argv):
    opts, parts = split_args(argv)
    deadline = time.monotonic() + opts["timeout"]
    procs = []
    try:
        return run(opts, parts, deadline, procs)
    finally:
        for p in procs:
            kill_group(p.p if isinstance(p, Listener) else p)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
