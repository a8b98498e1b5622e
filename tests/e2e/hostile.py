#!/usr/bin/env python3
"""hostile.py - hostile clients against a running echo server (stdlib only).

    hostile.py --port P [--host H] [--pid SERVER_PID]
               [--framing raw|u16le|u16be|u32le|u32be] [--length-includes-header]
               [--max-message BYTES] [--seconds S] [--rss-limit-mib M]
               [--churn N] [--settle S]

While these run at the same time for about --seconds:
  slowloris   connections that send whole messages 1 byte every ~0.2 s and
              must get them echoed
  garbage     random bytes, then close or vanish
  lies        frame headers that lie: u32 lengths up to 4 GiB, lengths shorter
              than the header when lengths include it; the server must close
              those connections
  resets      RST (SO_LINGER 0 + close) in the middle of a message or echo
  non-readers peers that send as fast as they can and never read
  churn       thousands of connections opened and closed at once
a well-behaved client keeps echoing and verifying on its own connections and
must never see an error or a stall.

Afterwards, with --pid on Linux, the server's open file descriptors
(/proc/PID/fd) must come back to their baseline within --settle seconds and
its peak VmRSS must stay under baseline + --rss-limit-mib.

Exits 0 when nothing was violated, else 1 with one line per violation.
"""

import argparse
import os
import random
import socket
import struct
import sys
import threading
import time

FRAMINGS = {
    "raw": (0, None),
    "u16le": (2, "<H"),
    "u16be": (2, ">H"),
    "u32le": (4, "<I"),
    "u32be": (4, ">I"),
}

GOOD_TIMEOUT = 5.0     # a well-behaved echo slower than this is a failure
LIE_CLOSE_TIMEOUT = 5.0


def log(msg):
    print("hostile: " + msg, file=sys.stderr, flush=True)


class Framer:
    def __init__(self, framing, includes, max_message):
        self.hsize, self.fmt = FRAMINGS[framing]
        self.includes = includes
        self.raw = self.fmt is None
        if self.raw:
            self.max_payload = max_message
        else:
            limit = (1 << (8 * self.hsize)) - 1 - (self.hsize if includes else 0)
            self.max_payload = min(limit, max_message)

    def header(self, value):
        """A header carrying exactly `value` in its length field."""
        return struct.pack(self.fmt, value)

    def wire(self, payload):
        if self.raw:
            return payload
        n = len(payload) + (self.hsize if self.includes else 0)
        return self.header(n) + payload


class Report:
    def __init__(self):
        self.lock = threading.Lock()
        self.violations = []
        self.counts = {}

    def violation(self, msg):
        with self.lock:
            self.violations.append(msg)
            if len(self.violations) <= 30:
                log("VIOLATION: " + msg)

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


def connect(host, port, timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rst_close(s):
    """Abortive close: the peer gets RST, not FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("server closed the connection after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


# ---------------------------------------------------------------- /proc

def proc_fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def proc_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return True


# ------------------------------------------------------------ attackers

class Ctx:
    def __init__(self, a, framer, report):
        self.a = a
        self.f = framer
        self.r = report
        self.stop = threading.Event()       # attacks stop
        self.good_stop = threading.Event()  # the good client stops
        self.deadline = time.monotonic() + a.seconds

    def time_left(self):
        return self.deadline - time.monotonic()


def good_client(ctx):
    """Well-behaved: must never fail, never stall past GOOD_TIMEOUT."""
    a, f, r = ctx.a, ctx.f, ctx.r
    rng = random.Random(1)
    socks = []
    try:
        for _ in range(4):
            socks.append(connect(a.host, a.port, GOOD_TIMEOUT))
    except OSError as e:
        r.violation("good client: connect failed: %s" % e)
        return
    worst = 0.0
    rounds = 0
    next_fresh = time.monotonic() + 1.0
    try:
        while not ctx.good_stop.is_set():
            for s in socks:
                payload = rng.randbytes(rng.randint(1, min(2048, f.max_payload)))
                wire = f.wire(payload)
                t = time.monotonic()
                s.sendall(wire)
                back = recv_exact(s, len(wire))
                dt = time.monotonic() - t
                worst = max(worst, dt)
                if back != wire:
                    r.violation("good client: echo of %d bytes differs" % len(wire))
                    return
                rounds += 1
            if time.monotonic() >= next_fresh:
                # A brand-new connection must still be accepted and served.
                next_fresh = time.monotonic() + 1.0
                t = time.monotonic()
                with connect(a.host, a.port, GOOD_TIMEOUT) as s:
                    wire = f.wire(b"fresh connection %d" % rounds)
                    s.sendall(wire)
                    if recv_exact(s, len(wire)) != wire:
                        r.violation("good client: fresh connection got a wrong echo")
                        return
                worst = max(worst, time.monotonic() - t)
                r.count("good.fresh_connections")
    except socket.timeout:
        r.violation("good client: no echo within %.0f s (server stalled?)" % GOOD_TIMEOUT)
    except OSError as e:
        r.violation("good client: %s: %s" % (type(e).__name__, e))
    finally:
        for s in socks:
            s.close()
        r.count("good.round_trips", rounds)
        with r.lock:
            r.counts["good.worst_ms"] = int(worst * 1000)


def slowloris(ctx):
    """Whole messages, one byte every ~0.2 s per connection; all must echo."""
    a, f, r = ctx.a, ctx.f, ctx.r
    rng = random.Random(2)
    conns = []
    for i in range(a.slowloris):
        try:
            s = connect(a.host, a.port)
        except OSError as e:
            r.violation("slowloris: connect failed: %s" % e)
            continue
        s.setblocking(False)
        # sent: wire bytes so far; pos: next byte of cur; done_len: bytes of whole messages sent
        conns.append({"s": s, "cur": b"", "pos": 0, "sent": bytearray(), "echo": bytearray(),
                      "done_len": 0, "dead": False, "id": i})

    def read_some(c):
        while True:
            try:
                d = c["s"].recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                r.violation("slowloris %d: %s" % (c["id"], e))
                c["dead"] = True
                return
            if not d:
                r.violation("slowloris %d: server closed a slow but valid connection" % c["id"])
                c["dead"] = True
                return
            c["echo"] += d
            n = len(c["echo"])
            if n > len(c["sent"]) or c["echo"] != c["sent"][:n]:
                r.violation("slowloris %d: wrong echo" % c["id"])
                c["dead"] = True
                return

    while not ctx.stop.is_set() and ctx.time_left() > 0:
        for c in conns:
            if c["dead"]:
                continue
            if c["pos"] == len(c["cur"]):
                c["done_len"] = len(c["sent"])
                c["cur"] = f.wire(rng.randbytes(16))
                c["pos"] = 0
                r.count("slowloris.messages")
            try:
                c["s"].send(c["cur"][c["pos"]:c["pos"] + 1])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                r.violation("slowloris %d: send: %s" % (c["id"], e))
                c["dead"] = True
                continue
            c["sent"] += c["cur"][c["pos"]:c["pos"] + 1]
            c["pos"] += 1
            read_some(c)
        time.sleep(0.2)
    # Every whole message must come back (raw: every byte).
    until = time.monotonic() + 3.0
    for c in conns:
        if c["pos"] == len(c["cur"]):
            c["done_len"] = len(c["sent"])
        need = len(c["sent"]) if f.raw else c["done_len"]
        while not c["dead"] and len(c["echo"]) < need and time.monotonic() < until:
            read_some(c)
            time.sleep(0.02)
        if not c["dead"] and len(c["echo"]) < need:
            r.violation("slowloris %d: %d of %d bytes echoed" % (c["id"], len(c["echo"]), need))
        c["s"].close()


def garbage(ctx):
    a, r = ctx.a, ctx.r
    rng = random.Random(3)
    while not ctx.stop.is_set() and ctx.time_left() > 0:
        try:
            s = connect(a.host, a.port)
            s.sendall(rng.randbytes(rng.randint(1, 4096)))
            how = rng.randrange(3)
            if how == 0:
                s.close()
            elif how == 1:
                rst_close(s)
            else:
                s.settimeout(0.1)
                try:
                    s.recv(65536)
                except OSError:
                    pass
                s.close()
            r.count("garbage.connections")
        except OSError as e:
            r.count("garbage.errors")
            if ctx.time_left() > 0 and not isinstance(e, (ConnectionResetError, BrokenPipeError)):
                r.violation("garbage: %s: %s" % (type(e).__name__, e))
        time.sleep(0.01)


def lies(ctx):
    """Headers that lie about the length: the server must drop the connection."""
    a, f, r = ctx.a, ctx.f, ctx.r
    if f.raw:
        log("lies: skipped (raw framing has no header)")
        return
    must_close = []   # (description, bytes to send)
    tolerated = []    # incomplete but legal: no expectation except no echo
    limit = (1 << (8 * f.hsize)) - 1
    for v in (a.max_message + 1 + (f.hsize if f.includes else 0), 1 << 24, 0x7FFFFFFF,
              0x80000000, 0xFFFFFFFF):
        if v <= limit:
            must_close.append(("length %d (max-message %d)" % (v, a.max_message),
                               f.header(v) + b"\xAB" * 64))
    if f.includes:
        for v in range(f.hsize):
            must_close.append(("length %d smaller than the %d-byte header" % (v, f.hsize),
                               f.header(v) + b"\xCD" * 8))
    full = f.max_payload + (f.hsize if f.includes else 0)
    tolerated.append(("largest legal length %d, body never sent" % full,
                      f.header(full) + b"\xEF" * 100))

    rounds = 0
    while rounds == 0 or (not ctx.stop.is_set() and ctx.time_left() > LIE_CLOSE_TIMEOUT):
        opened = []
        for expect_close, (desc, data) in [(True, x) for x in must_close] + \
                [(False, x) for x in tolerated]:
            try:
                s = connect(a.host, a.port)
                s.sendall(data)
                opened.append((desc, s, expect_close))
            except OSError as e:
                r.violation("lies: could not deliver '%s': %s" % (desc, e))
        for desc, s, expect_close in opened:
            s.settimeout(LIE_CLOSE_TIMEOUT if expect_close else 0.3)
            try:
                d = s.recv(65536)
                if d:
                    r.violation("lies: server echoed %d bytes for '%s'" % (len(d), desc))
                elif not expect_close:
                    pass  # closing a peer that stalls mid-message is allowed
                else:
                    r.count("lies.closed")
            except socket.timeout:
                if expect_close:
                    r.violation("lies: server kept the connection with '%s' open %.0f s"
                                % (desc, LIE_CLOSE_TIMEOUT))
                else:
                    r.count("lies.tolerated")
            except ConnectionResetError:
                r.count("lies.closed")
            except OSError as e:
                r.violation("lies: '%s': %s" % (desc, e))
            rst_close(s)
        rounds += 1
        time.sleep(0.05)
    r.count("lies.rounds", rounds)


def resets(ctx):
    """RST in the middle of a message, and in the middle of an echo."""
    a, f, r = ctx.a, ctx.f, ctx.r
    rng = random.Random(4)
    big = min(f.max_payload, 60000)
    i = 0
    while not ctx.stop.is_set() and ctx.time_left() > 0:
        try:
            s = connect(a.host, a.port)
            kind = i % 3
            if kind == 0:    # half a message
                w = f.wire(rng.randbytes(4096 if f.max_payload >= 4096 else f.max_payload))
                s.sendall(w[:len(w) // 2])
            elif kind == 1:  # a big message, gone while the server echoes it
                s.sendall(f.wire(rng.randbytes(big)))
            else:            # a few whole messages, one echo read, then gone
                w = f.wire(rng.randbytes(100))
                s.sendall(w * 4)
                s.settimeout(2.0)
                recv_exact(s, len(w))
            rst_close(s)
            r.count("resets.connections")
        except (ConnectionResetError, BrokenPipeError):
            r.count("resets.errors")
        except OSError as e:
            r.violation("resets: %s: %s" % (type(e).__name__, e))
        i += 1
        time.sleep(0.005)


def non_reader(ctx, n):
    """Sends as fast as it can and never reads: the server must not grow
    without bound (an echo server may drop such a peer)."""
    a, f, r = ctx.a, ctx.f, ctx.r
    rng = random.Random(10 + n)
    blob = f.wire(rng.randbytes(min(f.max_payload, 60000))) * 16
    while not ctx.stop.is_set() and ctx.time_left() > 1.0:
        total = 0
        try:
            s = connect(a.host, a.port)
            s.settimeout(2.0)
        except OSError as e:
            r.violation("non-reader: connect failed: %s" % e)
            return
        try:
            while total < a.non_reader_mib << 20 and ctx.time_left() > 0 and not ctx.stop.is_set():
                s.sendall(blob)
                total += len(blob)
            r.count("nonreader.gave_up_sending")
        except socket.timeout:
            r.count("nonreader.blocked")      # the server stopped reading from us
        except (ConnectionResetError, BrokenPipeError):
            r.count("nonreader.dropped_by_server")
        except OSError as e:
            r.violation("non-reader: %s: %s" % (type(e).__name__, e))
        r.count("nonreader.mib_sent", total >> 20)
        rst_close(s)


def churn(ctx, n, count):
    a, f, r = ctx.a, ctx.f, ctx.r
    msg = f.wire(b"churn!")
    for i in range(count):
        if ctx.stop.is_set() or ctx.time_left() <= 0:
            break
        try:
            s = connect(a.host, a.port)
            kind = (i + n) % 4
            if kind == 0:
                s.close()
            elif kind == 1:
                rst_close(s)
            elif kind == 2:
                s.sendall(msg)
                s.close()
            else:
                s.sendall(msg)
                s.settimeout(GOOD_TIMEOUT)
                if recv_exact(s, len(msg)) != msg:
                    r.violation("churn: wrong echo")
                s.close()
            r.count("churn.connections")
        except (ConnectionResetError, BrokenPipeError):
            r.count("churn.resets")
        except OSError as e:
            r.violation("churn: %s: %s" % (type(e).__name__, e))
            time.sleep(0.05)


def monitor(ctx, pid, stats):
    while not ctx.good_stop.is_set():
        rss = proc_rss_kib(pid)
        fds = proc_fd_count(pid)
        if rss is not None:
            stats["peak_rss"] = max(stats.get("peak_rss", 0), rss)
        if fds is not None:
            stats["peak_fds"] = max(stats.get("peak_fds", 0), fds)
        time.sleep(0.1)


# ------------------------------------------------------------------ main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description="hostile clients against an echo server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, default=0, help="server pid for /proc checks (Linux)")
    p.add_argument("--framing", choices=sorted(FRAMINGS), default="raw")
    p.add_argument("--length-includes-header", action="store_true")
    p.add_argument("--max-message", type=int, default=1048576)
    p.add_argument("--seconds", type=float, default=12.0, help="how long the attacks last")
    p.add_argument("--rss-limit-mib", type=int, default=64)
    p.add_argument("--churn", type=int, default=3000, help="connections opened and closed")
    p.add_argument("--slowloris", type=int, default=16)
    p.add_argument("--non-readers", type=int, default=2)
    p.add_argument("--non-reader-mib", type=int, default=256)
    p.add_argument("--settle", type=float, default=10.0,
                   help="seconds allowed for the fd count to return to baseline")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    f = Framer(a.framing, a.length_includes_header, a.max_message)
    r = Report()
    ctx = Ctx(a, f, r)
    pid = a.pid
    use_proc = pid > 0 and os.path.isdir("/proc/%d" % pid)
    if pid > 0 and not use_proc:
        log("no /proc/%d here: fd and memory checks skipped" % pid)

    # Warm up once (lazy allocations happen here, not inside the baseline),
    # then take the smallest fd count seen over half a second as baseline.
    try:
        with connect(a.host, a.port) as s:
            w = f.wire(b"warm-up")
            s.sendall(w)
            s.settimeout(GOOD_TIMEOUT)
            if recv_exact(s, len(w)) != w:
                r.violation("warm-up echo differs")
    except OSError as e:
        log("FAIL: server not usable before any attack: %s" % e)
        return 1
    base_fds = base_rss = None
    stats = {}
    if use_proc:
        samples = []
        for _ in range(6):
            time.sleep(0.1)
            samples.append(proc_fd_count(pid))
        base_fds = min(x for x in samples if x is not None)
        base_rss = proc_rss_kib(pid)
        log("baseline: pid %d fds=%d VmRSS=%d KiB" % (pid, base_fds, base_rss))

    ctx.deadline = time.monotonic() + a.seconds
    threads = [threading.Thread(target=good_client, args=(ctx,), name="good")]
    if use_proc:
        threads.append(threading.Thread(target=monitor, args=(ctx, pid, stats), name="monitor"))
    attacks = [threading.Thread(target=slowloris, args=(ctx,), name="slowloris"),
               threading.Thread(target=garbage, args=(ctx,), name="garbage"),
               threading.Thread(target=lies, args=(ctx,), name="lies"),
               threading.Thread(target=resets, args=(ctx,), name="resets")]
    for n in range(a.non_readers):
        attacks.append(threading.Thread(target=non_reader, args=(ctx, n), name="nonreader%d" % n))
    for n in range(2):
        attacks.append(threading.Thread(target=churn, args=(ctx, n, a.churn // 2), name="churn%d" % n))
    for t in threads + attacks:
        t.daemon = True
        t.start()
    log("attacking for %.0f s (framing=%s%s)" % (a.seconds, a.framing,
                                                 "+hdr" if a.length_includes_header else ""))

    hard_stop = time.monotonic() + a.seconds + 15.0
    for t in attacks:
        t.join(max(0.0, hard_stop - time.monotonic()))
        if t.is_alive():
            r.violation("attack thread %s did not finish (blocked on the server?)" % t.name)
    ctx.stop.set()
    ctx.good_stop.set()
    for t in threads:
        t.join(GOOD_TIMEOUT + 2)
        if t.is_alive():
            r.violation("thread %s did not finish" % t.name)

    # The server must still serve after all of it.
    try:
        with connect(a.host, a.port) as s:
            w = f.wire(b"after the storm")
            s.sendall(w)
            s.settimeout(GOOD_TIMEOUT)
            if recv_exact(s, len(w)) != w:
                r.violation("echo after the attacks differs")
    except OSError as e:
        r.violation("server unusable after the attacks: %s" % e)

    if r.counts.get("good.round_trips", 0) == 0:
        r.violation("the good client completed no round trip")

    if use_proc:
        if not proc_alive(pid):
            r.violation("server process %d is gone" % pid)
        else:
            until = time.monotonic() + a.settle
            fds = proc_fd_count(pid)
            while fds is not None and fds > base_fds and time.monotonic() < until:
                time.sleep(0.2)
                fds = proc_fd_count(pid)
            rss = proc_rss_kib(pid)
            peak = max(stats.get("peak_rss", 0), rss or 0)
            log("after: fds=%s (baseline %d, peak %s) VmRSS=%s KiB (baseline %d, peak %d, limit +%d MiB)"
                % (fds, base_fds, stats.get("peak_fds"), rss, base_rss, peak, a.rss_limit_mib))
            if fds is None:
                r.violation("cannot read /proc/%d/fd any more" % pid)
            elif fds > base_fds:
                try:
                    kinds = {}
                    for name in os.listdir("/proc/%d/fd" % pid):
                        try:
                            target = os.readlink("/proc/%d/fd/%s" % (pid, name))
                        except OSError:
                            continue
                        k = target.split(":")[0] if ":" in target else "file"
                        kinds[k] = kinds.get(k, 0) + 1
                except OSError:
                    kinds = {}
                r.violation("server fd count %d still above baseline %d after %.0f s (leak?) %s"
                            % (fds, base_fds, a.settle, kinds))
            if peak - base_rss > a.rss_limit_mib * 1024:
                r.violation("server VmRSS peaked at %d KiB, %d KiB over baseline (limit %d MiB)"
                            % (peak, peak - base_rss, a.rss_limit_mib))

    log("counts: " + " ".join("%s=%s" % kv for kv in sorted(r.counts.items())))
    if r.violations:
        log("FAIL: %d violation(s)" % len(r.violations))
        for v in r.violations[:30]:
            print("VIOLATION: " + v, flush=True)
        return 1
    print("hostile: PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
