"""Harness: one engine under test, its events parked in a mailbox.

``pump`` polls and parks every event (DATA payloads copied to bytes), so a
test waits for one event while the others stay queued in order. While
pumping it checks what must hold for every event: a known type, and no event
at all for a handle after its CLOSE (so a second CLOSE fails the test).

Python sockets serve as raw peers where a test needs byte-level control
(split frames, forged headers, RST, peers that do not read). They are
non-blocking, and every wait on them keeps pumping the engine: with
io_threads = 0 the engine does no I/O unless polled.
"""

import errno
import socket
import struct
import time

import net

WAIT_S = 10.0  # default bound of every wait

HEADER = {  # framing name -> (struct format of the length, header size)
    "u16le": ("<H", 2), "u16be": (">H", 2), "u32le": ("<I", 4), "u32be": (">I", 4),
}
FRAMINGS = ("raw", "u16le", "u16be", "u32le", "u32be")


def frame(framing, payload, includes_header=False):
    """The bytes a framed peer puts on the wire for one message."""
    if framing == "raw":
        return bytes(payload)
    fmt, size = HEADER[framing]
    return struct.pack(fmt, len(payload) + (size if includes_header else 0)) + bytes(payload)


def pattern(n, seed=0):
    """n deterministic, position-dependent bytes."""
    base = bytes((i * 31 + seed * 17 + (i >> 8)) & 0xFF for i in range(min(n, 65536)))
    if n <= len(base):
        return base[:n]
    reps = n // len(base) + 1
    return (base * reps)[:n]


class Timeout(AssertionError):
    pass


class Harness:
    def __init__(self, backend, io_threads, **cfg):
        self.backend = backend
        self.io_threads = io_threads
        self.eng = net.Engine(backend, io_threads, **cfg)
        assert self.eng.backend == backend, (self.eng.backend, backend)
        self.box = []          # parked events (data as bytes)
        self.closed = {}       # handle -> CLOSE status
        self.sockets = []

    # ---------------------------------------------------------------- events

    def _park(self, ev):
        assert isinstance(ev.type, net.EventType), "unknown event type %r" % (ev.type,)
        if ev.type not in (net.EV_USER,) and ev.handle in self.closed:
            raise AssertionError("event after CLOSE: %r (closed with %s)"
                                 % (ev, self.closed[ev.handle]))
        if ev.type == net.EV_CLOSE:
            self.closed[ev.handle] = ev.status
        if ev.data is not None:
            ev = ev._replace(data=bytes(ev.data))
        self.box.append(ev)

    def pump(self, timeout_ms=5):
        evs = self.eng.poll(timeout_ms)
        for ev in evs:
            self._park(ev)
        return len(evs)

    def take(self, type=None, handle=None, pred=None):
        """Remove and return the first parked event that matches, else None."""
        for i, ev in enumerate(self.box):
            if type is not None and ev.type != type:
                continue
            if handle is not None and ev.handle != handle:
                continue
            if pred is not None and not pred(ev):
                continue
            del self.box[i]
            return ev
        return None

    def wait(self, type=None, handle=None, pred=None, timeout=WAIT_S):
        """Wait for a matching event; fail after timeout, listing what came."""
        end = time.monotonic() + timeout
        while True:
            ev = self.take(type, handle, pred)
            if ev is not None:
                return ev
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout("no %s event for handle %s within %.1fs; parked: %r"
                              % (net.EventType(type).name if type is not None else "matching",
                                 hex(handle) if handle else handle, timeout, self.box[-20:]))
            self.pump(int(min(left, 0.05) * 1000) + 1)

    def expect_none(self, type=None, handle=None, within=0.2):
        """Pump for `within` seconds and fail if a matching event shows."""
        end = time.monotonic() + within
        while time.monotonic() < end:
            self.pump(10)
            ev = self.take(type, handle)
            if ev is not None:
                raise AssertionError("unexpected event %r" % (ev,))

    def pump_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.pump(10)

    def recv_bytes(self, handle, n, timeout=WAIT_S):
        """Concatenate DATA payloads of `handle` until n bytes arrived."""
        out = bytearray()
        end = time.monotonic() + timeout
        while len(out) < n:
            ev = self.wait(net.EV_DATA, handle, timeout=max(0.0, end - time.monotonic()))
            out += ev.data
        assert len(out) == n, "got %d bytes, want %d" % (len(out), n)
        return bytes(out)

    def recv_messages(self, handle, count, timeout=WAIT_S):
        end = time.monotonic() + timeout
        return [self.wait(net.EV_DATA, handle, timeout=max(0.0, end - time.monotonic())).data
                for _ in range(count)]

    def wait_close(self, handle, timeout=WAIT_S):
        """Wait for the CLOSE of handle (DATA before it is dropped); return its status."""
        end = time.monotonic() + timeout
        while handle not in self.closed:
            if time.monotonic() > end:
                raise Timeout("no CLOSE for %#x within %.1fs; parked: %r"
                              % (handle, timeout, self.box[-20:]))
            self.pump(20)
        self.box = [e for e in self.box if e.handle != handle]
        return self.closed[handle]

    # ---------------------------------------------------------------- set-ups

    def listen(self, host="127.0.0.1", **kw):
        lst = self.eng.listen(host, 0, **kw)
        return lst, net.local_addr(lst)

    def pair(self, framing="raw", host="127.0.0.1", **kw):
        """listener + connected client + accepted server connection."""
        lst, addr = self.listen(host, framing=framing, **kw)
        cli = self.eng.connect(addr.host, addr.port, framing=framing,
                               length_includes_header=kw.get("length_includes_header"))
        ev = self.wait(net.EV_CONNECT, cli)
        assert ev.status == 0, ev
        acc = self.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst)
        return lst, cli, acc.handle

    def sock_connect(self, lst, family=socket.AF_INET):
        """A Python socket connected to listener lst; returns (sock, server handle)."""
        addr = net.local_addr(lst)
        s = socket.socket(family, socket.SOCK_STREAM)
        self.sockets.append(s)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(WAIT_S)
        s.connect((addr.host, addr.port))
        s.setblocking(False)
        acc = self.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst)
        return s, acc.handle

    # ---------------------------------------------------------------- sockets

    def sock_send(self, s, data, timeout=WAIT_S):
        view = memoryview(data)
        end = time.monotonic() + timeout
        while view:
            try:
                n = s.send(view)
                view = view[n:]
            except BlockingIOError:
                if time.monotonic() > end:
                    raise Timeout("socket send stalled")
                self.pump(2)

    def sock_recv(self, s, n, timeout=WAIT_S):
        """Exactly n bytes from a socket (pumping meanwhile); fails on EOF."""
        out = bytearray()
        end = time.monotonic() + timeout
        while len(out) < n:
            try:
                chunk = s.recv(min(n - len(out), 1 << 20))
                if not chunk:
                    raise AssertionError("EOF after %d of %d bytes" % (len(out), n))
                out += chunk
                continue
            except BlockingIOError:
                pass
            if time.monotonic() > end:
                raise Timeout("socket got %d of %d bytes" % (len(out), n))
            self.pump(2)
        return bytes(out)

    def sock_read_to_end(self, s, timeout=WAIT_S):
        """Read until EOF or reset; returns (bytes, "eof" | "reset")."""
        out = bytearray()
        end = time.monotonic() + timeout
        while True:
            try:
                chunk = s.recv(1 << 20)
                if not chunk:
                    return bytes(out), "eof"
                out += chunk
                continue
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return bytes(out), "reset"
            except OSError as e:
                if e.errno in (errno.ECONNRESET, errno.EPIPE):
                    return bytes(out), "reset"
                raise
            if time.monotonic() > end:
                raise Timeout("socket neither closed nor reset (%d bytes so far)" % len(out))
            self.pump(2)

    # ---------------------------------------------------------------- end

    def finish(self):
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        self.eng.destroy()
