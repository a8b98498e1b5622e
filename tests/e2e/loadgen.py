#!/usr/bin/env python3
"""loadgen.py - an independent, verifying load generator for echo servers.

Plain Python 3 standard library (socket + selectors, non-blocking); it does
not use the net library, so it checks the library from the outside.

    loadgen.py [--connections N] [--depth D] [--size BYTES] [--seconds S]
               [--host H] [--port P] [--framing raw|u16le|u16be|u32le|u32be]
               [--length-includes-header] [--vary-size] [--max-message BYTES]

Each connection keeps D messages in flight. Every byte the server echoes is
compared with the byte sent at the same stream position: an echo server
sends back exactly the wire bytes it got (the same header for framed
messages, the same stream for raw), so this checks content, order and framing
at once, for every framing, without trusting the server's chunking. Message
boundaries are known from what was sent, which gives the count and the
round-trip latency of each message.

Ends with the SUMMARY line of docs/CONVENTIONS.md on stdout and exits 1 on
any error (mismatch, unexpected close, connect failure, echo missing at the
end) or when nothing was echoed.
"""

import argparse
import collections
import errno
import random
import selectors
import socket
import struct
import sys
import time

FRAMINGS = {
    "raw": (0, None),
    "u16le": (2, "<H"),
    "u16be": (2, ">H"),
    "u32le": (4, "<I"),
    "u32be": (4, ">I"),
}

DRAIN_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0
MAX_ERROR_LINES = 20


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="verifying echo load generator (stdlib only)")
    p.add_argument("--connections", type=int, default=10)
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--size", type=int, default=64, help="payload bytes per message")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7000)
    p.add_argument("--framing", choices=sorted(FRAMINGS), default="raw")
    p.add_argument("--length-includes-header", action="store_true")
    p.add_argument("--max-message", type=int, default=1048576)
    p.add_argument("--vary-size", action="store_true",
                   help="payload sizes drawn from 0..--size (raw: 1..) instead of all --size")
    p.add_argument("--seed", type=int, default=None)
    # Accepted for CLI symmetry with the C samples; meaningless here.
    p.add_argument("--backend", default="auto")
    p.add_argument("--io-threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.connections < 1 or a.depth < 1 or a.size < 1 or a.seconds <= 0:
        p.error("--connections, --depth, --size and --seconds must be positive")
    hsize, fmt = FRAMINGS[a.framing]
    if fmt:
        limit = (1 << (8 * hsize)) - 1 - (hsize if a.length_includes_header else 0)
        limit = min(limit, a.max_message)
        if a.size > limit:
            p.error("--size %d too large for framing %s (at most %d)" % (a.size, a.framing, limit))
    return a


class Conn:
    __slots__ = ("idx", "sock", "out", "expect", "eoff", "pending", "got", "seq", "base",
                 "state", "events")

    def __init__(self, idx, sock):
        self.idx = idx
        self.sock = sock
        self.out = bytearray()     # wire bytes not yet written
        self.expect = bytearray()  # wire bytes written or queued, not yet echoed
        self.eoff = 0              # echoed prefix of expect
        self.base = 0              # stream offset of expect[0]
        self.pending = collections.deque()  # (wire length, queued at ns) per message
        self.got = 0               # bytes of pending[0] already echoed
        self.seq = 0
        self.state = "open"        # open | closing | done | dead
        self.events = 0


class LoadGen:
    def __init__(self, a):
        self.a = a
        self.hsize, self.fmt = FRAMINGS[a.framing]
        self.rng = random.Random(a.seed)
        # A pool of random bytes to cut payloads from: cheap and never all alike.
        self.pool = self.rng.randbytes(1 << 20)
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.running = True
        self.messages = 0
        self.bytes = 0
        self.lat_us = []
        self.errors = 0
        self.error_lines = 0

    def error(self, msg):
        self.errors += 1
        self.error_lines += 1
        if self.error_lines <= MAX_ERROR_LINES:
            print("error: " + msg, file=sys.stderr, flush=True)
        elif self.error_lines == MAX_ERROR_LINES + 1:
            print("error: (further errors not shown)", file=sys.stderr, flush=True)

    # ---- messages
    def make_message(self, c):
        a = self.a
        # Framed messages may be empty (a bare header); a raw chunk may not.
        n = self.rng.randint(0 if self.fmt else 1, a.size) if a.vary_size else a.size
        off = self.rng.randrange(0, len(self.pool) - n + 1)
        tag = struct.pack("<IQ", c.idx, c.seq)[:n]
        payload = tag + self.pool[off + len(tag):off + n]
        c.seq += 1
        if self.fmt is None:
            return payload
        length = n + self.hsize if a.length_includes_header else n
        return struct.pack(self.fmt, length) + payload

    def queue_message(self, c):
        wire = self.make_message(c)
        c.out += wire
        c.expect += wire
        c.pending.append((len(wire), time.perf_counter_ns()))

    # ---- socket plumbing
    def set_interest(self, c):
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
        if want != c.events:
            self.sel.modify(c.sock, want, c)
            c.events = want

    def kill(self, c, why):
        if c.state == "dead":
            return
        if why:
            self.error("conn %d: %s" % (c.idx, why))
        c.state = "dead"
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def flush(self, c):
        while c.out:
            try:
                n = c.sock.send(c.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.kill(c, "send failed: %s" % e)
                return
            del c.out[:n]
        if c.state != "dead":
            self.set_interest(c)

    def on_readable(self, c):
        try:
            data = c.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.kill(c, "recv failed: %s (%d in flight)" % (e, len(c.pending)))
            return
        if not data:
            if c.state == "closing" and not c.pending:
                c.state = "done"
                self.sel.unregister(c.sock)
                c.sock.close()
            else:
                self.kill(c, "server closed the connection with %d messages in flight"
                          % len(c.pending))
            return
        n = len(data)
        avail = len(c.expect) - c.eoff
        if n > avail:
            self.kill(c, "server sent %d bytes more than it was sent" % (n - avail))
            return
        if c.expect[c.eoff:c.eoff + n] != data:
            exp = c.expect[c.eoff:c.eoff + n]
            at = next(i for i in range(n) if exp[i] != data[i])
            self.kill(c, "echo differs at stream byte %d (message %d of those in flight, "
                      "byte %d of it): got 0x%02x, expected 0x%02x"
                      % (c.base + c.eoff + at, self._msg_at(c, at)[0], self._msg_at(c, at)[1],
                         data[at], exp[at]))
            return
        c.eoff += n
        if c.eoff > 65536 and c.eoff * 2 > len(c.expect):
            del c.expect[:c.eoff]
            c.base += c.eoff
            c.eoff = 0
        now = time.perf_counter_ns()
        c.got += n
        refill = 0
        while c.pending and c.got >= c.pending[0][0]:
            wlen, t = c.pending.popleft()
            c.got -= wlen
            self.messages += 1
            self.bytes += wlen - self.hsize
            self.lat_us.append((now - t) // 1000)
            refill += 1
        if self.running and c.state == "open":
            for _ in range(refill):
                self.queue_message(c)
            self.flush(c)

    def _msg_at(self, c, at):
        """(index among in-flight messages, offset inside it) of echo byte `at`."""
        pos = c.got + at
        for i, (wlen, _) in enumerate(c.pending):
            if pos < wlen:
                return i, pos
            pos -= wlen
        return len(c.pending), pos

    def poll(self, timeout):
        for key, mask in self.sel.select(timeout):
            c = key.data
            if c.state == "dead":
                continue
            if mask & selectors.EVENT_READ:
                self.on_readable(c)
            if c.state != "dead" and mask & selectors.EVENT_WRITE:
                self.flush(c)

    # ---- phases
    def connect_all(self):
        a = self.a
        for i in range(a.connections):
            try:
                s = socket.create_connection((a.host, a.port), timeout=5.0)
            except OSError as e:
                self.error("conn %d: connect to %s:%d failed: %s" % (i, a.host, a.port, e))
                continue
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setblocking(False)
            c = Conn(i, s)
            self.conns.append(c)
            self.sel.register(s, selectors.EVENT_READ, c)
            c.events = selectors.EVENT_READ

    def live(self):
        return [c for c in self.conns if c.state == "open"]

    def run(self):
        a = self.a
        t0 = time.perf_counter()
        self.connect_all()
        sizes = ("%d..%d" % (0 if self.fmt else 1, a.size)) if a.vary_size else ("%d" % a.size)
        print("loadgen: %d/%d connections, depth %d, %s-byte payloads, %.1f s, %s:%d framing=%s%s"
              % (len(self.conns), a.connections, a.depth, sizes, a.seconds, a.host, a.port,
                 a.framing, "+hdr" if a.length_includes_header else ""),
              file=sys.stderr, flush=True)
        for c in self.conns:
            for _ in range(a.depth):
                self.queue_message(c)
            self.flush(c)

        deadline = t0 + a.seconds
        next_progress = t0 + 1.0
        last_msgs, last_t = 0, t0
        while self.live():
            now = time.perf_counter()
            if now >= next_progress:
                print("progress: t=%.1fs open=%d messages=%d msgs/s=%.0f errors=%d"
                      % (now - t0, len(self.live()), self.messages,
                         (self.messages - last_msgs) / (now - last_t), self.errors),
                      file=sys.stderr, flush=True)
                last_msgs, last_t = self.messages, now
                next_progress += 1.0
            if now >= deadline:
                break
            self.poll(min(next_progress, deadline) - now)

        # Drain: nothing new, wait for every message in flight.
        self.running = False
        until = time.perf_counter() + DRAIN_TIMEOUT
        while any(c.pending for c in self.live()) and time.perf_counter() < until:
            self.poll(0.05)
        for c in self.live():
            if c.pending:
                self.kill(c, "%d messages not echoed %.0f s after the run ended"
                          % (len(c.pending), DRAIN_TIMEOUT))
        t_end = time.perf_counter()

        # Close: half-close, the server must answer with its own FIN.
        for c in self.live():
            c.state = "closing"
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                self.kill(c, "shutdown failed: %s" % e)
        until = time.perf_counter() + CLOSE_TIMEOUT
        while any(c.state == "closing" for c in self.conns) and time.perf_counter() < until:
            self.poll(0.05)
        for c in self.conns:
            if c.state == "closing":
                self.kill(c, "server did not close within %.0f s after our FIN" % CLOSE_TIMEOUT)

        seconds = max(t_end - t0, 1e-9)
        lat = sorted(self.lat_us)

        def pct(p):
            if not lat:
                return 0
            return lat[min(len(lat) - 1, int(p / 100.0 * len(lat)))]

        print("SUMMARY messages=%d seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%d p99_us=%d errors=%d"
              % (self.messages, seconds, self.messages / seconds, self.bytes / seconds / 1e6,
                 pct(50), pct(99), self.errors), flush=True)
        if self.messages == 0 and self.errors == 0:
            print("error: no message was echoed", file=sys.stderr, flush=True)
        return 1 if self.errors or self.messages == 0 else 0


def main(argv=None):
    a = parse_args(argv)
    try:
        return LoadGen(a).run()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
