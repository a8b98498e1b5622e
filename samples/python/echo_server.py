#!/usr/bin/env python3
"""echo_server.py - the echo server of docs/CONVENTIONS.md on the Python binding.

    echo_server.py [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
                   [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
                   [--io-threads N] [--max-message BYTES] [--seconds S]

Every DATA event goes straight back to its sender: one message per message
when framed (send adds the same header the peer used), the chunk as it came
when raw. The library sends a poll's DATA payloads back before Python
sees the batch (Engine.poll_forward): no Python object is made and no
payload copied per message. Prints "listening on HOST:PORT backend=NAME io_threads=N
framing=NAME" once on stdout, a stats line every 2 s on stderr, and exits 0
on SIGINT/SIGTERM or after --seconds.

The library is found as the binding finds it (NET_LIBRARY first); the
binding itself is imported from bindings/python of this tree when it is not
installed.
"""

import argparse
import os
import signal
import sys
import time

try:
    import net
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import net

STATS_PERIOD_S = 2.0
POLL_SLICE_MS = 100  # a signal is seen within this long
FRAMINGS = ["raw", "u16le", "u16be", "u32le", "u32be"]


def parse_args(argv=None, description="net echo server (Python binding)", more=None):
    """The echo-server CLI of docs/CONVENTIONS.md; ``more(parser)`` adds a
    sample's own arguments (aio_echo_server.py's --loop)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--port", type=int, default=7000, help="0 = pick a free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--framing", choices=FRAMINGS, default="raw")
    ap.add_argument("--length-includes-header", action="store_true")
    ap.add_argument("--backend", choices=["auto", "epoll", "io_uring", "iocp"], default="auto")
    ap.add_argument("--io-threads", type=int, default=0)
    ap.add_argument("--max-message", type=int, default=1048576)
    ap.add_argument("--seconds", type=float, default=0.0)
    if more is not None:
        more(ap)
    a = ap.parse_args(argv)
    if not 0 <= a.port <= 65535:
        ap.error("--port must be 0..65535")
    if not 0 <= a.io_threads <= 1024:
        ap.error("--io-threads must be 0..1024")
    if not 0 < a.max_message <= 0xFFFFFFFF:
        ap.error("--max-message must be 1..4294967295")
    if a.seconds < 0:
        ap.error("--seconds must be >= 0")
    return a


def print_stats(eng, prev, prev_t):
    s = eng.stats()
    t = time.monotonic()
    dt = max(t - prev_t, 1e-9)
    sys.stderr.write(
        "stats: conns=%d total=%d rejected=%d in=%.0f msg/s out=%.0f msg/s in=%.2f MB/s "
        "out=%.2f MB/s bytes_in=%d bytes_out=%d queued=%d paused=%d\n" % (
            s.connections, s.connections_total, s.accepts_rejected,
            (s.messages_in - prev.messages_in) / dt, (s.messages_out - prev.messages_out) / dt,
            (s.bytes_in - prev.bytes_in) / dt / 1e6, (s.bytes_out - prev.bytes_out) / dt / 1e6,
            s.bytes_in, s.bytes_out, s.send_queued, s.recv_paused))
    sys.stderr.flush()
    return s, t


def abort_quietly(handle):
    try:
        net.abort(handle)
    except net.NetError:
        pass


def main(argv=None):
    opt = parse_args(argv)
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    try:
        eng = net.Engine(opt.backend, opt.io_threads, max_message=opt.max_message)
    except net.NetError as e:
        sys.stderr.write("engine: %s\n" % e)
        return 1
    with eng:
        try:
            listener = eng.listen(opt.host, opt.port, framing=opt.framing,
                                  length_includes_header=opt.length_includes_header,
                                  max_message=opt.max_message)
            bound = net.local_addr(listener)
        except net.NetError as e:
            sys.stderr.write("listen %s:%d: %s\n" % (opt.host, opt.port, e))
            return 1
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        sys.stdout.write("listening on %s backend=%s io_threads=%d framing=%s\n"
                         % (bound, eng.backend, opt.io_threads, opt.framing))
        sys.stdout.flush()

        exit_code = 0
        start = prev_t = time.monotonic()
        prev = net.Stats(*([0] * len(net.Stats._fields)))
        next_stats = start + STATS_PERIOD_S
        # The library echoes a poll's DATA payloads itself: no Python code
        # runs per message.
        poll_forward = eng.poll_forward
        CLOSE = net.EV_CLOSE
        gone = (net.ClosedError, net.BadHandleError)

        while not stop:
            t = time.monotonic()
            if opt.seconds > 0 and t - start >= opt.seconds:
                break
            if t >= next_stats:
                prev, prev_t = print_stats(eng, prev, prev_t)
                next_stats = max(next_stats + STATS_PERIOD_S, t + 0.001)
            wait_ms = min(int((next_stats - t) * 1000) + 1, POLL_SLICE_MS)
            batch = poll_forward(wait_ms)
            for ev in batch.others:  # ACCEPT, CLOSE...
                if ev.type == CLOSE and ev.handle == listener:
                    sys.stderr.write("listener closed: %s\n" % (net.error_for(ev.status),))
                    exit_code = 1
                    stop.append(0)
            for conn, _data, error in batch.failures:
                # Closed / BadHandle: the peer is already going away.
                # WouldBlock: the peer sends but does not read, its echo
                # backlog hit the send cap; nothing else to do with such a
                # peer. Anything else: the same.
                if not isinstance(error, gone):
                    abort_quietly(conn)
        print_stats(eng, prev, prev_t)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
