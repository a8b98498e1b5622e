#!/usr/bin/env python3
"""aio_echo_server.py - the echo server of docs/CONVENTIONS.md on net.aio:
the engine inside an asyncio loop, one task per connection.

    aio_echo_server.py [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
                       [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
                       [--io-threads N] [--max-message BYTES] [--seconds S]
                       [--loop asyncio|uvloop]

Each connection's task reads a message (the chunk as it came when raw),
sends it back and waits in drain while the connection's send queue is above
its high-water mark, so a peer that sends without reading holds its own task
and nothing else. --loop picks asyncio's default loop or uvloop. Prints
"listening on HOST:PORT backend=NAME io_threads=N framing=NAME" once on
stdout (NAME: net's backend), a stats line every 2 s on stderr, and exits 0
on SIGINT/SIGTERM or after --seconds.

The library is found as the binding finds it (NET_LIBRARY first); the
binding itself is imported from bindings/python of this tree when it is not
installed.
"""

import asyncio
import os
import signal
import sys
import time

from echo_server import STATS_PERIOD_S, parse_args, print_stats  # the same CLI and stats line

try:
    import net.aio
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "bindings", "python"))
    import net.aio

import net


def add_loop_argument(ap):
    ap.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                    help="the asyncio loop to run in (default: asyncio's own)")


async def echo(conn):
    try:
        async for msg in conn:
            conn.send(msg)
            await conn.drain()
    except net.NetError:
        pass  # the peer went away (reset, timeout...): nothing to answer


async def report_stats(eng, last):
    """A stats line every STATS_PERIOD_S; ``last`` holds the previous
    counters and their time (for the rates, and for the final line)."""
    while True:
        await asyncio.sleep(STATS_PERIOD_S)
        last[:] = print_stats(eng.engine, *last)


async def serve(opt):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        eng = net.aio.Engine(opt.backend, opt.io_threads, max_message=opt.max_message)
    except net.NetError as e:
        sys.stderr.write("engine: %s\n" % e)
        return 1
    async with eng:
        try:
            listener = await eng.listen(opt.host, opt.port, echo, framing=opt.framing,
                                        length_includes_header=opt.length_includes_header,
                                        max_message=opt.max_message)
        except net.NetError as e:
            sys.stderr.write("listen %s:%d: %s\n" % (opt.host, opt.port, e))
            return 1
        sys.stdout.write("listening on %s backend=%s io_threads=%d framing=%s\n"
                         % (listener.address, eng.backend, opt.io_threads, opt.framing))
        sys.stdout.flush()
        last = [net.Stats(*([0] * len(net.Stats._fields))), time.monotonic()]
        stats = asyncio.ensure_future(report_stats(eng, last))
        ended = asyncio.ensure_future(listener.serve_forever())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([ended, stopped], timeout=opt.seconds or None,
                           return_when=asyncio.FIRST_COMPLETED)
        for t in (stats, ended, stopped):
            t.cancel()
        print_stats(eng.engine, *last)
        if listener.close_status is not None:
            sys.stderr.write("listener closed: %s\n" % (net.error_for(listener.close_status),))
            return 1
    return 0


def main(argv=None):
    opt = parse_args(argv, "net echo server on asyncio (net.aio)", add_loop_argument)
    if opt.loop == "uvloop":
        import uvloop
        if not hasattr(asyncio, "Runner"):  # before Python 3.11
            uvloop.install()
            return asyncio.run(serve(opt))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(serve(opt))
    return asyncio.run(serve(opt))


if __name__ == "__main__":
    sys.exit(main())
