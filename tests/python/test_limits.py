"""Backpressure (high-water, drained, send cap, receive limit), idle timeout,
max connections, max message size, IPv6."""

import socket
import struct
import time

import pytest

import net
from harness import frame, pattern

CHUNK = 32 * 1024


def _stuffed_peer(h, framing="raw"):
    """A listener and a socket peer that reads nothing (tiny receive buffer)."""
    lst, _ = h.listen(framing=framing)
    addr = net.local_addr(lst)
    s = socket.socket()
    h.sockets.append(s)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((addr.host, addr.port))
    s.setblocking(False)
    srv = h.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst).handle
    # A small kernel send buffer too, so the kernel cannot soak up what the
    # engine's queue is supposed to hold (Linux grows it to MBs otherwise).
    net.set_option(srv, "sndbuf", 8192)
    return s, srv


def test_highwater_then_drained(make_h):
    h = make_h(send_highwater=256 * 1024, send_lowwater=32 * 1024)
    s, srv = _stuffed_peer(h)
    sent = 0
    hw = None
    while hw is None and sent < 64 << 20:
        h.eng.send(srv, pattern(CHUNK, sent // CHUNK))
        sent += CHUNK
        h.pump(0)
        hw = h.take(net.EV_SEND_HIGHWATER, srv)
    assert hw is not None, "no SEND_HIGHWATER after %d bytes" % sent
    assert hw.len > 256 * 1024
    assert net.send_queued(srv) > 0
    h.expect_none(net.EV_SEND_DRAINED, srv, within=0.1)  # nobody reads yet
    # Now the peer reads everything: DRAINED comes once the queue is small.
    got = h.sock_recv(s, sent, timeout=30)
    assert got == b"".join(pattern(CHUNK, i) for i in range(sent // CHUNK))
    dr = h.wait(net.EV_SEND_DRAINED, srv)
    assert dr.len <= 32 * 1024
    # Only one HIGHWATER per crossing.
    assert h.take(net.EV_SEND_HIGHWATER, srv) is None


def test_highwater_per_connection_option(h):
    s, srv = _stuffed_peer(h)
    net.set_option(srv, "highwater", 100 * 1024)
    net.set_option(srv, "lowwater", 10 * 1024)
    assert net.get_option(srv, "highwater") == 100 * 1024
    for i in range(200):
        h.eng.send(srv, b"\0" * CHUNK)
        h.pump(0)
        if h.take(net.EV_SEND_HIGHWATER, srv):
            break
    else:
        raise AssertionError("no SEND_HIGHWATER with a 100 KiB mark")


def test_send_cap_refuses_and_queues_nothing(make_h):
    cap = 512 * 1024
    h = make_h(send_cap=cap, max_message=64 * 1024)  # the cap must hold the largest message
    s, srv = _stuffed_peer(h, framing="u32le")
    sent = 0
    with pytest.raises(net.WouldBlockError) as ei:
        for i in range(10000):
            h.eng.send(srv, pattern(CHUNK, i))
            sent += 1
            h.pump(0)
    assert ei.value.code == net.Error.WOULDBLOCK
    queued = net.send_queued(srv)
    assert queued + CHUNK + 4 > cap  # it really was full
    assert queued <= cap
    time.sleep(0.05)
    assert net.send_queued(srv) <= queued  # the refused message was not queued
    # Read it all: exactly the accepted messages, whole.
    want = b"".join(frame("u32le", pattern(CHUNK, i)) for i in range(sent))
    assert h.sock_recv(s, len(want), timeout=30) == want
    h.eng.send(srv, b"room again")
    assert h.sock_recv(s, 14) == frame("u32le", b"room again")


def test_send_cap_option_per_connection(h):
    s, srv = _stuffed_peer(h)
    net.set_option(srv, "send_cap", 64 * 1024)
    with pytest.raises(net.WouldBlockError):
        for _ in range(10000):
            h.eng.send(srv, b"\0" * 4096)
            h.pump(0)
    assert net.send_queued(srv) <= 64 * 1024


def test_receive_limit_pauses_reading(make_h, mode):
    limit = 64 * 1024
    h = make_h(recv_limit=limit)
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    data = pattern(4 << 20, 3)
    s.setblocking(True)
    s.settimeout(0.2)
    view = memoryview(data)
    # Push without polling: with I/O threads the engine reads until the
    # unpolled bytes pass the limit, then pauses and the socket fills up.
    pushed = 0
    try:
        while pushed < len(data):
            pushed += s.send(view[pushed:pushed + 65536])
    except (socket.timeout, BlockingIOError):
        pass
    s.setblocking(False)
    if mode.io_threads:
        time.sleep(0.2)
        st = h.eng.stats()
        assert st.recv_paused >= 1, st
        assert pushed < len(data), "4 MiB fit in the socket buffers?"
    # Everything still arrives, in order, once the script polls.
    got = bytearray()
    end = time.monotonic() + 30
    while len(got) < len(data):
        assert time.monotonic() < end
        if pushed < len(data):
            try:
                pushed += s.send(view[pushed:pushed + 65536])
            except BlockingIOError:
                pass
        h.pump(2)
        while True:
            ev = h.take(net.EV_DATA, srv)
            if ev is None:
                break
            got += ev.data
    assert bytes(got) == data
    h.pump_for(0.05)  # with io_threads=0 the resume itself runs inside a poll
    assert h.eng.stats().recv_paused == 0


def test_idle_timeout_closes_silent_connection(make_h):
    h = make_h(idle_timeout_ms=300)
    lst, _ = h.listen()
    s_quiet, quiet = h.sock_connect(lst)
    s_busy, busy = h.sock_connect(lst)
    t0 = time.monotonic()
    status = None
    while status is None:
        assert time.monotonic() - t0 < 5, "idle connection not closed"
        h.sock_send(s_busy, b"tick")  # activity keeps this one open
        h.pump_for(0.05)
        status = h.closed.get(quiet)
    elapsed = time.monotonic() - t0
    assert status == net.Error.TIMEDOUT
    assert 0.25 <= elapsed < 3, elapsed
    assert busy not in h.closed
    _, how = h.sock_read_to_end(s_quiet)  # the peer sees the close
    assert how in ("eof", "reset")


def test_idle_timeout_option_per_connection(h):
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    assert net.get_option(srv, "idle_timeout") == 0
    net.set_option(srv, "idle_timeout", 200)
    assert h.wait_close(srv, timeout=5) == net.Error.TIMEDOUT


def test_max_connections(make_h):
    h = make_h(max_connections=3)
    lst, _ = h.listen()
    accepted = [h.sock_connect(lst) for _ in range(3)]
    extra = socket.socket()
    h.sockets.append(extra)
    extra.settimeout(5)
    try:
        extra.connect((net.local_addr(lst).host, net.local_addr(lst).port))
        extra.setblocking(False)
        _, how = h.sock_read_to_end(extra)  # closed at once
        assert how in ("eof", "reset")
    except ConnectionResetError:
        pass  # closed before connect() even returned
    h.pump_for(0.1)
    st = h.eng.stats()
    assert st.accepts_rejected == 1 and st.connections == 3
    assert h.take(net.EV_ACCEPT) is None
    # Outgoing connections count too.
    addr = net.local_addr(lst)
    with pytest.raises(net.LimitError):
        h.eng.connect(addr.host, addr.port)
    # Room again after a close.
    s0, c0 = accepted[0]
    net.close(c0)
    s0.close()
    h.wait_close(c0)
    again = h.sock_connect(lst)
    assert again[1] not in h.closed
    for s, c in accepted[1:]:
        h.eng.send(c, b"still fine")
        assert h.sock_recv(s, 10) == b"still fine"


@pytest.mark.parametrize("framing", ["u16le", "u32be"])
def test_max_message_from_peer(make_h, framing):
    h = make_h(max_message=1000)
    lst, _ = h.listen(framing=framing)
    s, srv = h.sock_connect(lst)
    h.sock_send(s, frame(framing, b"a" * 1000))
    assert h.wait(net.EV_DATA, srv).data == b"a" * 1000
    fmt = {"u16le": "<H", "u32be": ">I"}[framing]
    h.sock_send(s, struct.pack(fmt, 1001))  # just the header: enough to know
    assert h.wait_close(srv) == net.Error.MSGSIZE
    # The engine and other connections are unaffected.
    s2, srv2 = h.sock_connect(lst)
    h.sock_send(s2, frame(framing, b"ok"))
    assert h.wait(net.EV_DATA, srv2).data == b"ok"


def test_max_message_per_listener(h):
    lst, _ = h.listen(framing="u32le", max_message=100)
    s, srv = h.sock_connect(lst)
    h.sock_send(s, struct.pack("<I", 101))
    assert h.wait_close(srv) == net.Error.MSGSIZE


def test_max_message_on_send(make_h):
    h = make_h(max_message=1000)
    lst, cli, srv = h.pair("u32le")
    h.eng.send(cli, b"x" * 1000)
    with pytest.raises(net.MessageSizeError) as ei:
        h.eng.send(cli, b"x" * 1001)
    assert ei.value.code == net.Error.MSGSIZE
    assert h.wait(net.EV_DATA, srv).data == b"x" * 1000


def test_malformed_header_is_protocol_error(h):
    # Lengths count the header: a length below the header size is malformed.
    lst, _ = h.listen(framing="u16le", length_includes_header=True)
    s, srv = h.sock_connect(lst)
    h.sock_send(s, struct.pack("<H", 1))
    assert h.wait_close(srv) == net.Error.PROTO


def _has_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")


@ipv6
def test_ipv6_echo(h):
    lst, cli, srv = h.pair("u16be", host="::1")
    la = net.local_addr(lst)
    assert la.family == net.Family.INET6 and la.host == "::1"
    assert str(la) == "[::1]:%d" % la.port == net.format_addr(la)
    assert net.peer_addr(cli) == la
    acc_addr = net.peer_addr(srv)
    assert acc_addr.family == net.Family.INET6 and acc_addr.host == "::1"
    msgs = [pattern(n, n) for n in (1, 500, 60000)]
    for m in msgs:
        h.eng.send(cli, m)
    assert h.recv_messages(srv, 3) == msgs


@ipv6
def test_ipv6_accept_and_connect_events_carry_addresses(h):
    lst, addr = h.listen("::1")
    cli = h.eng.connect("::1", addr.port)
    con = h.wait(net.EV_CONNECT, cli)
    acc = h.wait(net.EV_ACCEPT)
    assert con.addr == addr
    assert acc.addr.family == net.Family.INET6 and acc.addr.host == "::1"
    assert acc.addr.port == net.local_addr(cli).port


@ipv6
def test_ipv6_socket_peer(h):
    lst, addr = h.listen("::1", framing="u32le")
    s, srv = h.sock_connect(lst, family=socket.AF_INET6)
    h.sock_send(s, frame("u32le", b"over six"))
    assert h.wait(net.EV_DATA, srv).data == b"over six"


@ipv6
def test_ipv6only_listener(h):
    lst, addr = h.listen("::", ipv6only=True)
    with socket.socket() as s:
        s.settimeout(2)
        with pytest.raises(OSError):  # IPv4 does not reach an IPv6-only listener
            s.connect(("127.0.0.1", addr.port))
    s6, srv = h.sock_connect(lst, family=socket.AF_INET6)
    assert net.peer_addr(srv).family == net.Family.INET6
