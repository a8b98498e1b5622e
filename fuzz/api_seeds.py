#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz_api into fuzz/corpus/api/, regression
seeds of fixed findings among them.

Each seed is a program in fuzz_api.c's byte code: a header byte, then
opcodes (their index in g_ops) with operands, read as fuzz_api.c reads them.
Rerun after changing the opcode table or an operand layout:

    python3 fuzz/api_seeds.py

FUZZ_API_TRACE=1 build/fuzz_api fuzz/corpus/api/<seed> prints what a seed does.
"""
import os
import struct

# opcodes: the index in g_ops
LISTEN, CONNECT, UDP_OPEN, UDP_CONNECT, SEND, SENDV, BROADCAST, SENDTO = range(8)
CLOSE, ABORT, SHUTDOWN, SET_OPTION, GET_OPTION, USER, QUERY, TIMER = range(8, 16)
POST, WAKEUP, POLL = 16, 17, 18
ADDR_FORMAT, ADDR_PARSE, STRERROR, STATS, INFO = 20, 21, 22, 23, 24
ENGINE_CYCLE, ENGINE_EXTRA, DESTROY_FORGED = 25, 26, 27

# header: backend in bits 0-2, io_threads in bits 3-4
EPOLL, URING, AUTO = 0, 4, 6


def header(backend, threads):
    return bytes([backend | threads << 3])


def u64(v):
    return struct.pack("<Q", v)


E = bytes([0])  # pick_engine: the live engine


def h(i):
    """pick_handle: the i-th known handle of the kinds the call prefers."""
    return bytes([0, i])


def tcp_cfg(framing=None, flags=None, user=0):
    if framing is None:
        return bytes([0])  # NULL config
    b = 1 | 4 | (16 if flags is not None else 0)
    out = bytes([b, framing])
    if flags is not None:
        out += bytes([flags])
    return out + u64(user)


def listen(host=0, cfg=tcp_cfg()):
    return bytes([LISTEN]) + E + bytes([host, 0]) + cfg + bytes([0])


def connect(listener=0, host=0, cfg=tcp_cfg()):
    return bytes([CONNECT]) + E + bytes([host, 0, listener]) + cfg + bytes([0])


def udp_open(host=0):
    return bytes([UDP_OPEN]) + E + bytes([host, 0, 0, 0])


def udp_connect(u, to_udp):
    return bytes([UDP_CONNECT]) + h(u) + bytes([0, 0, to_udp])


def send(c, n):
    return bytes([SEND]) + h(c) + bytes([0, n, 0])


def sendto(u, to_udp, n):
    return bytes([SENDTO]) + h(u) + bytes([0, 0, to_udp, 0, n, 0])


def sendv(c, lens):
    out = bytes([SENDV]) + h(c) + bytes([0, len(lens) - 1])
    for n in lens:
        out += bytes([0, n, 0])
    return out + bytes([0])


def broadcast(conns, n):
    out = bytes([BROADCAST, 8, len(conns)])  # with a results array
    for c in conns:
        out += h(c)
    return out + bytes([0, n, 0])


def close(i):
    return bytes([CLOSE]) + h(i)


def poll(timeout=2):
    # max 256; timeout 0, 1, 2 or -1 (only where a wakeup/post is pending)
    sel = {0: 0, 1: 3, 2: 4, -1: 5}[timeout]
    return bytes([POLL]) + E + bytes([(sel & 1) << 7, sel >> 1])


def polls(k, timeout=2):
    return poll(timeout) * k


def timer(delay_sel, repeat_sel, user):
    return bytes([TIMER]) + E + bytes([delay_sel, repeat_sel]) + u64(user) + bytes([0])


SEEDS = {
    # TCP on epoll, I/O in net_poll: connect, both ways, options, half-close, close.
    "tcp_epoll_t0": header(EPOLL, 0)
    + listen()
    + connect()
    + polls(4)
    + send(0, 100)
    + send(1, 50)
    + sendv(0, [10, 20, 30])
    + polls(3)
    + bytes([USER]) + h(0) + bytes([1]) + u64(0x1234)
    + bytes([USER]) + h(0) + bytes([0, 0])
    + bytes([QUERY, 0]) + h(0) + bytes([0])
    + bytes([QUERY, 1]) + h(0) + bytes([0])
    + bytes([QUERY, 2]) + h(0) + bytes([0])
    + bytes([SET_OPTION]) + h(0) + bytes([1, 1])
    + bytes([GET_OPTION]) + h(0) + bytes([7, 0])
    + bytes([SHUTDOWN]) + h(0)
    + send(0, 10)
    + polls(3)
    + close(1)
    + polls(4)
    + bytes([CLOSE, 0, 0])  # the listener (first known handle)
    + polls(2),
    # u16 framing counting its header, io_uring with one I/O thread.
    "tcp_uring_t1_u16": header(URING, 1)
    + listen(cfg=tcp_cfg(1, 0x13, 7))
    + connect(cfg=tcp_cfg(1, 0x13, 8))
    + polls(4)
    + send(0, 200)
    + broadcast([0, 1, 0], 33)
    + polls(4)
    + bytes([ABORT]) + h(0)
    + polls(4),
    # UDP on epoll with two I/O threads: connect, send, sendto, close, abort.
    "udp_epoll_t2": header(EPOLL, 2)
    + udp_open()
    + udp_open()
    + udp_connect(0, 1)
    + send(0, 64)
    + sendto(1, 0, 32)
    + polls(4)
    + bytes([QUERY, 1]) + h(0) + bytes([0])
    + bytes([SET_OPTION]) + h(1) + bytes([12, 3, 100])
    + sendto(1, 0, 200)
    + polls(2)
    + close(0)
    + bytes([ABORT]) + h(1)
    + polls(3),
    # Timers, posts and wakeups; a blocking poll a post ends.
    "timers_post": header(EPOLL, 0)
    + timer(0, 2, 11)
    + timer(2, 0, 12)
    + bytes([POST]) + E + u64(0xABCDEF)
    + bytes([WAKEUP]) + E
    + poll(-1)
    + polls(3)
    + bytes([USER]) + h(0) + bytes([1]) + u64(99)
    + close(0)
    + bytes([POST]) + E + u64(5)
    + poll(-1),
    # Dead and forged handles and engines, bad sizes, the pure calls.
    "forged": header(AUTO, 0)
    + listen()
    + bytes([SEND, 5]) + u64(0x1234567890ABCDEF) + bytes([0, 10, 0])
    + bytes([CLOSE, 7, 0, 0])  # handle 0
    + bytes([CLOSE, 6, 0, 3])  # the listener with bit 3 flipped
    + bytes([CLOSE, 7, 2, 0, 3])  # the listener as a timer
    + bytes([POLL, 7, 1]) + u64(42) + bytes([0, 0])
    + bytes([DESTROY_FORGED, 7, 0])
    + bytes([STATS]) + E + bytes([1, 0])  # size 4
    + bytes([STATS]) + E + bytes([0xF, 0])
    + bytes([ADDR_FORMAT, 0x08, 80, 0]) + bytes([127, 0, 0, 1] + [0] * 12) + bytes([0, 0])
    + bytes([ADDR_FORMAT, 0x19, 0x50, 0]) + bytes(range(1, 17)) + bytes([0] * 4 + [1] * 6 + [0] * 6) + bytes([0, 0])
    + bytes([ADDR_PARSE, 1, 3]) + b"::1" + bytes([0x50, 0, 0])
    + bytes([STRERROR, 0x40, STRERROR, 0x01]) + struct.pack("<i", -2147483648)
    + bytes([INFO, 0])
    + polls(2),
    # Destroy/create cycles with connections in flight, then io_uring with two threads.
    "engine_cycle": header(EPOLL, 1)
    + listen()
    + connect()
    + connect()
    + polls(2)
    + send(0, 100)
    + bytes([ENGINE_CYCLE]) + header(URING, 2)
    + listen()
    + connect(listener=1)
    + polls(3, 1)
    + bytes([ENGINE_EXTRA]) + header(EPOLL, 1) + bytes([0])
    + send(0, 100)
    + polls(2)
    + bytes([ENGINE_CYCLE]) + header(AUTO, 0)
    + polls(1),
}


# Regression seeds of library bugs the fuzzer found, fixed since.
REGRESSIONS = {
    # io_threads 2: abort the accepted connection and poll its CLOSE while the
    # listener's loop was still in net__accepted (a heap-use-after-free until
    # the hand-over happened under the connection's slot lock).
    "regress_accept_uaf_t2": header(EPOLL, 2) + listen() + connect() + polls(2) + bytes([ABORT]) + h(1) + polls(2),
}


def write(subdir, files):
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), *subdir)
    os.makedirs(out, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(files)} files in {out}")


def main():
    write(("corpus", "api"), {**SEEDS, **REGRESSIONS})


if __name__ == "__main__":
    main()
