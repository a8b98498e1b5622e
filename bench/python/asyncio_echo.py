#!/usr/bin/env python3
"""asyncio_echo.py - the echo server of docs/CONVENTIONS.md on asyncio, the
peer the Python binding's echo server is measured against.

    asyncio_echo.py [--loop uvloop|asyncio] [--port P] [--host H]
                    [--framing raw|u16le|u16be|u32le|u32be]
                    [--length-includes-header] [--backend ...] [--io-threads N]
                    [--max-message BYTES] [--seconds S]

An asyncio.Protocol (the fastest asyncio API: no streams, no coroutine per
read). Raw: every chunk goes straight back. Framed: each read is cut into
whole messages (length header as configured; a length over --max-message or
below the header size closes the connection), and the complete messages of
one read go back in one transport.write - the same bytes, since the echo of a
message carries the header it came with. --backend and --io-threads are
accepted and ignored (a peer). Pauses reading while a transport's write
buffer is above its high-water mark, so a peer that does not read cannot
grow memory without bound.

Prints "listening on HOST:PORT backend=uvloop|asyncio io_threads=0
framing=NAME" once, a stats line every 2 s on stderr, exits 0 on
SIGINT/SIGTERM or after --seconds.
"""

import argparse
import asyncio
import signal
import socket
import struct
import sys
import time

FRAMINGS = {"raw": None, "u16le": "<H", "u16be": ">H", "u32le": "<I", "u32be": ">I"}


class Counters:
    __slots__ = ("conns", "total", "msgs", "bytes_in")

    def __init__(self):
        self.conns = self.total = self.msgs = self.bytes_in = 0


class RawEcho(asyncio.Protocol):
    __slots__ = ("t", "c")

    def __init__(self, counters):
        self.c = counters
        self.t = None

    def connection_made(self, transport):
        self.t = transport
        self.c.conns += 1
        self.c.total += 1
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc):
        self.c.conns -= 1

    def data_received(self, data):
        c = self.c
        c.msgs += 1
        c.bytes_in += len(data)
        self.t.write(data)

    def pause_writing(self):
        self.t.pause_reading()

    def resume_writing(self):
        self.t.resume_reading()


class FramedEcho(RawEcho):
    __slots__ = ("buf", "unpack", "hdr", "adj", "maxm")

    def __init__(self, counters, fmt, includes_header, max_message):
        super().__init__(counters)
        self.buf = b""
        self.unpack = struct.Struct(fmt).unpack_from
        self.hdr = struct.calcsize(fmt)
        self.adj = self.hdr if includes_header else 0
        self.maxm = max_message

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        n = len(buf)
        pos = 0
        msgs = 0
        hdr, adj, unpack, maxm = self.hdr, self.adj, self.unpack, self.maxm
        while n - pos >= hdr:
            ln = unpack(buf, pos)[0] - adj
            if ln < 0 or ln > maxm:
                self.t.abort()
                return
            end = pos + hdr + ln
            if end > n:
                break
            pos = end
            msgs += 1
        if pos:
            self.t.write(buf if pos == n else buf[:pos])
        self.buf = buf[pos:] if pos < n else b""
        c = self.c
        c.msgs += msgs
        c.bytes_in += len(data)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="asyncio echo server (benchmark peer)")
    ap.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--framing", choices=list(FRAMINGS), default="raw")
    ap.add_argument("--length-includes-header", action="store_true")
    ap.add_argument("--backend", default="auto", help="ignored (peer)")
    ap.add_argument("--io-threads", type=int, default=0, help="ignored (peer)")
    ap.add_argument("--max-message", type=int, default=1048576)
    ap.add_argument("--seconds", type=float, default=0.0)
    return ap.parse_args(argv)


async def serve(opt):
    loop = asyncio.get_running_loop()
    counters = Counters()
    fmt = FRAMINGS[opt.framing]
    if fmt is None:
        factory = lambda: RawEcho(counters)  # noqa: E731
    else:
        factory = lambda: FramedEcho(counters, fmt, opt.length_includes_header,  # noqa: E731
                                     opt.max_message)
    server = await loop.create_server(factory, opt.host, opt.port, backlog=511,
                                      reuse_address=True)
    sock = server.sockets[0]
    host, port = sock.getsockname()[:2]
    bound = "[%s]:%d" % (host, port) if sock.family == socket.AF_INET6 else "%s:%d" % (host, port)
    sys.stdout.write("listening on %s backend=%s io_threads=0 framing=%s\n"
                     % (bound, opt.loop, opt.framing))
    sys.stdout.flush()

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if opt.seconds > 0:
        loop.call_later(opt.seconds, stop.set)

    async def stats():
        prev_t, prev_m, prev_b = time.monotonic(), 0, 0
        while True:
            await asyncio.sleep(2.0)
            t = time.monotonic()
            dt = t - prev_t
            sys.stderr.write("stats: conns=%d total=%d in=%.0f reads|msg/s in=%.2f MB/s\n" % (
                counters.conns, counters.total, (counters.msgs - prev_m) / dt,
                (counters.bytes_in - prev_b) / dt / 1e6))
            sys.stderr.flush()
            prev_t, prev_m, prev_b = t, counters.msgs, counters.bytes_in

    st = asyncio.ensure_future(stats())
    await stop.wait()
    st.cancel()
    server.close()
    await server.wait_closed()


def main(argv=None):
    opt = parse_args(argv)
    if opt.loop == "uvloop":
        import uvloop
        runner = uvloop.new_event_loop
    else:
        runner = asyncio.new_event_loop
    loop = runner()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(opt))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
