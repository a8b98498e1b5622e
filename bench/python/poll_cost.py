#!/usr/bin/env python3
"""poll_cost.py - CPU nanoseconds per event of Engine.poll's own work (turning
a polled batch into net.Event tuples), isolated from I/O and the network.

    poll_cost.py [--tree DIR] [--batch 256] [--size 64] [--udp] [--views]
                 [--no-addr-cache] [--repeat 25]

One real net_poll collects a batch of DATA (or, with --udp, DATAGRAM events
from 16 senders) on an epoll engine with io_threads 0; then the binding's
net_poll is replaced by one that hands back that same batch (its payloads
stay valid: the engine is not polled again), and Engine.poll is timed with
process CPU time. Printed: the minimum over --repeat timings of 300 polls,
in ns per event (the minimum, because other processes only ever add).

--tree picks the source tree whose bindings/python is imported (default:
this one), so two trees are compared with the same script; the library is
the binding's usual choice (NET_LIBRARY first). --no-addr-cache makes the
binding's address caches hold one entry (Python binding of this tree only).
"""

import argparse
import os
import sys
import time
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))


def collect(net, eng, opt):
    """Queue opt.batch payload events on eng; returns the sending handles."""
    payload = bytes(opt.size)
    if opt.udp:
        srv = eng.udp_open("127.0.0.1", 0)
        senders = [eng.udp_open("127.0.0.1", 0) for _ in range(16)]
        to = net.local_addr(srv)
        for i in range(opt.batch):
            net.sendto(senders[i % 16], to, payload)
        return
    lst = eng.listen("127.0.0.1", 0, framing="u16le")
    cli = eng.connect("127.0.0.1", net.local_addr(lst).port, framing="u16le")
    while not any(ev.type == net.EV_ACCEPT for ev in eng.poll(10)):
        pass
    for _ in range(opt.batch):
        net.send(cli, payload)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=os.path.abspath(os.path.join(HERE, "..", "..")))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--udp", action="store_true")
    ap.add_argument("--views", action="store_true")
    ap.add_argument("--no-addr-cache", action="store_true")
    ap.add_argument("--repeat", type=int, default=25)
    opt = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(opt.tree, "bindings", "python"))
    import net
    core = net._core

    eng = net.Engine("epoll", 0, views=opt.views, max_events=opt.batch)
    collect(net, eng, opt)
    # One real poll that brings the whole batch (the engine reads during it).
    end = time.monotonic() + 10
    while core._poll(eng._handle, eng._events, opt.batch, 0) != opt.batch:
        if time.monotonic() > end:
            raise SystemExit("the batch did not come in one poll")
        collect(net, eng, opt)
    core._poll = lambda *args: opt.batch
    if opt.no_addr_cache:
        core._ADDR_CACHE_MAX = 0
    evs = eng.poll(0)
    assert len(evs) == opt.batch and all(ev.len == opt.size for ev in evs), evs[:3]
    timer = timeit.Timer(lambda: eng.poll(0), timer=time.process_time)
    best = min(timer.repeat(opt.repeat, 300)) / 300 / opt.batch * 1e9
    print("%.0f ns/event  batch=%d size=%d %s%s%s  tree=%s" % (
        best, opt.batch, opt.size, "udp" if opt.udp else "tcp", " views" if opt.views else "",
        " no-addr-cache" if opt.no_addr_cache else "", opt.tree))
    return 0


if __name__ == "__main__":
    sys.exit(main())
