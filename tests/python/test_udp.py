"""UDP through the binding: udp_open, sendto, udp_connect, addr_parse,
DATAGRAM and ERROR events, drops, close and abort, stale handles, and bad
arguments from Python (wrong types, None, out-of-range values, huge lengths)
giving clear exceptions, never a crash."""

import mmap
import time

import pytest

import net
from harness import pattern

SIZES = [0, 1, 1200, net.UDP_MAX_PAYLOAD]


def _open(h, host="127.0.0.1", **kw):
    u = h.eng.udp_open(host, 0, **kw)
    return u, net.local_addr(u)


def _datagram(h, u, pred=None, timeout=10.0):
    return h.wait(net.EV_DATAGRAM, u, pred=pred, timeout=timeout)


def _stats_when(h, pred, timeout=5.0):
    """The engine's stats once pred(stats) holds (the send counters may
    trail the events by a moment with an I/O thread); fails after timeout."""
    end = time.monotonic() + timeout
    while True:
        st = h.eng.stats()
        if pred(st):
            return st
        assert time.monotonic() < end, "stats never got there: %r" % (st,)
        h.pump(2)


def _v6_or_skip(h):
    try:
        u = h.eng.udp_open("::1", 0)
    except net.NetError as e:
        pytest.skip("no IPv6 loopback here: udp_open('::1') raised %s" % e)
    net.close(u)
    h.wait_close(u)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views"])
def test_echo_sizes_and_sender(make_h, host, views):
    h = make_h(views=views)
    if host == "::1":
        _v6_or_skip(h)
    srv, saddr = _open(h, host)
    cli, caddr = _open(h, host)
    want_family = net.Family.INET6 if host == "::1" else net.Family.INET
    assert saddr.family == caddr.family == want_family
    assert saddr.host == caddr.host == host
    for i, n in enumerate(SIZES):
        payload = pattern(n, seed=i)
        net.sendto(cli, saddr, payload)
        ev = _datagram(h, srv)
        assert ev.type == net.EV_DATAGRAM and ev.status == 0
        assert ev.len == n and len(ev.data) == n
        assert ev.data == payload, "datagram of %d bytes changed on the way" % n
        assert ev.addr == caddr, (ev.addr, caddr)
        # the event's address goes straight back into sendto
        h.eng.sendto(srv, ev.addr, ev.data)
        back = _datagram(h, cli)
        assert back.data == payload and back.addr == saddr
    h.expect_none(net.EV_DATAGRAM, within=0.05)
    st = _stats_when(h, lambda st: st.datagrams_out >= 2 * len(SIZES))
    assert st.udp_sockets == 2
    assert st.datagrams_in == st.datagrams_out == 2 * len(SIZES)


def test_sendto_address_forms(h):
    srv, saddr = _open(h)
    cli, caddr = _open(h)
    forms = [saddr, (saddr.host, saddr.port), net.addr_parse(saddr.host, saddr.port),
             net.Address(saddr.host, saddr.port)]
    for i, to in enumerate(forms):
        net.sendto(cli, to, b"form %d" % i)
        ev = _datagram(h, srv)
        assert ev.data == b"form %d" % i and ev.addr == caddr


def test_addr_parse(h):
    a = net.addr_parse("10.1.2.3", 4567)
    assert a == net.Address("10.1.2.3", 4567, net.Family.INET, 0)
    assert isinstance(a, net.Address) and str(a) == "10.1.2.3:4567"
    b = net.addr_parse("::1", 7)
    assert (b.host, b.port, b.family) == ("::1", 7, net.Family.INET6)
    assert net.format_addr(b) == "[::1]:7"
    with pytest.raises(net.AddressError):
        net.addr_parse("no.such.host.invalid", 1)
    with pytest.raises(net.AddressError):
        net.addr_parse("", 1)
    with pytest.raises(TypeError):
        net.addr_parse(None, 1)
    with pytest.raises(TypeError):
        net.addr_parse(b"127.0.0.1", 1)
    with pytest.raises(net.InvalidArgumentError):
        net.addr_parse("127.0.0.1", 65536)


def test_many_peers_get_only_their_own(h):
    srv, saddr = _open(h)
    clients = [_open(h, user=i + 1) for i in range(20)]
    index = {c: i for i, (c, _) in enumerate(clients)}
    rounds = 5
    for r in range(rounds):
        for i, (c, _) in enumerate(clients):
            net.sendto(c, saddr, b"%d:%d:" % (i, r) + pattern(50 + i * 7 + r, seed=i))
        for _ in clients:
            ev = _datagram(h, srv)
            i, rr = map(int, ev.data.split(b":")[:2])
            assert ev.addr == clients[i][1]
            net.sendto(srv, ev.addr, ev.data)
        for _ in clients:
            ev = h.wait(net.EV_DATAGRAM, pred=lambda e: e.handle in index)
            i, rr = map(int, ev.data.split(b":")[:2])
            assert i == index[ev.handle] and ev.user == i + 1, "peer got another's datagram"
            assert rr == r and ev.addr == saddr
            assert ev.data[len(b"%d:%d:" % (i, r)):] == pattern(50 + i * 7 + r, seed=i)
    h.expect_none(net.EV_DATAGRAM, within=0.05)


def test_oversize_dropped_and_counted(h):
    srv, saddr = _open(h, max_datagram=1200)
    cli, caddr = _open(h)
    assert net.get_option(srv, "max_datagram") == 1200
    for n in (1201, 5000, 1200, 1):
        net.sendto(cli, saddr, pattern(n, seed=n))
    got = [_datagram(h, srv) for _ in range(2)]
    assert [e.len for e in got] == [1200, 1]
    assert got[0].data == pattern(1200, seed=1200)
    _stats_when(h, lambda st: st.datagrams_dropped >= 2)
    h.pump_for(0.02)
    assert h.eng.stats().datagrams_dropped == 2
    assert net.get_option(srv, net.Option.DROPPED) == 2
    h.expect_none(net.EV_DATAGRAM, srv, within=0.05)
    # sending past max_datagram fails at the call
    with pytest.raises(net.MessageSizeError):
        net.sendto(srv, caddr, b"x" * 1201)
    with pytest.raises(net.MessageSizeError):
        net.sendto(cli, saddr, bytes(net.UDP_MAX_PAYLOAD + 1))
    net.sendto(srv, caddr, b"y" * 1200)
    assert _datagram(h, cli).data == b"y" * 1200
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(srv, "dropped", 0)
    # lowered and raised again, never above the value of udp_open
    net.set_option(srv, "max_datagram", 100)
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(srv, "max_datagram", 1201)
    net.set_option(srv, "max_datagram", 1200)
    assert net.get_option(srv, "max_datagram") == 1200


def test_connected_socket(h):
    a, aaddr = _open(h)
    b, baddr = _open(h)
    c, caddr = _open(h)
    with pytest.raises(net.NotConnectedError, match="NET_E_NOTCONN"):
        net.send(b, b"x")
    with pytest.raises(net.NotConnectedError):
        net.peer_addr(b)
    with pytest.raises((net.InvalidArgumentError, net.NotConnectedError)):
        net.sendto(b, None, b"x")
    h.eng.udp_connect(b, aaddr.host, aaddr.port)
    assert net.peer_addr(b) == aaddr
    net.send(b, b"hello")
    ev = _datagram(h, a)
    assert ev.data == b"hello" and ev.addr == baddr
    net.sendv(b, [b"ab", b"cd", memoryview(b"e")])
    assert _datagram(h, a).data == b"abcde"
    net.sendto(b, None, b"to the peer")
    assert _datagram(h, a).data == b"to the peer"
    net.sendto(b, aaddr, b"named peer")
    assert _datagram(h, a).data == b"named peer"
    with pytest.raises(net.InvalidArgumentError):
        net.sendto(b, caddr, b"not the peer")
    # only the peer gets through
    net.sendto(c, baddr, b"intruder")
    h.pump_for(0.02)
    net.sendto(a, baddr, b"reply")
    ev = _datagram(h, b)
    assert ev.data == b"reply" and ev.addr == aaddr
    h.expect_none(net.EV_DATAGRAM, b, within=0.05)


def test_connected_to_closed_port_reports_refused(h):
    a, aaddr = _open(h)
    b, baddr = _open(h)
    d, daddr = _open(h)
    net.close(d)
    h.wait_close(d)
    net.udp_connect(b, "127.0.0.1", daddr.port)
    net.send(b, b"anyone?")
    ev = h.wait(net.EV_ERROR, b)
    assert ev.status == net.Error.REFUSED
    assert isinstance(ev.error, net.RefusedError)
    assert ev.data is None
    assert ev.addr is None or ev.addr == daddr
    # the socket goes on: reconnected to a live peer it works again
    net.udp_connect(b, "127.0.0.1", aaddr.port)
    net.send(b, b"back")
    ev = _datagram(h, a)
    assert ev.data == b"back" and ev.addr == baddr
    net.sendto(a, ev.addr, b"again")
    assert _datagram(h, b).data == b"again"


UDP_HANDLE_CALLS = [
    ("sendto", lambda x, to: net.sendto(x, to, b"x")),
    ("sendto None", lambda x, to: net.sendto(x, None, b"x")),
    ("udp_connect", lambda x, to: net.udp_connect(x, to.host, to.port)),
    ("send", lambda x, to: net.send(x, b"x")),
    ("close", lambda x, to: net.close(x)),
    ("abort", lambda x, to: net.abort(x)),
    ("set_user", lambda x, to: net.set_user(x, 1)),
    ("get_user", lambda x, to: net.get_user(x)),
    ("set_option", lambda x, to: net.set_option(x, "sndbuf", 65536)),
    ("get_option", lambda x, to: net.get_option(x, "dropped")),
    ("local_addr", lambda x, to: net.local_addr(x)),
    ("peer_addr", lambda x, to: net.peer_addr(x)),
]


def _all_bad(handle, to):
    for name, call in UDP_HANDLE_CALLS:
        with pytest.raises(net.BadHandleError, match="NET_E_BADHANDLE"):
            call(handle, to)


def test_close_sends_queued_then_one_close(h):
    srv, saddr = _open(h)
    u, _ = _open(h)
    payloads = [b"%03d" % i + pattern(i * 11, seed=i) for i in range(40)]
    for p in payloads:
        net.sendto(u, saddr, p)
    net.close(u)
    with pytest.raises((net.ClosedError, net.BadHandleError)):
        net.sendto(u, saddr, b"late")
    got = [_datagram(h, srv).data for _ in payloads]
    assert sorted(got) == sorted(payloads)
    assert h.wait_close(u) == 0
    h.pump_for(0.05)  # a second CLOSE fails the harness
    _all_bad(u, saddr)


def test_abort_gives_one_close(h):
    srv, saddr = _open(h)
    idle, _ = _open(h)
    net.abort(idle)
    assert h.wait_close(idle) == net.Error.ABORTED
    busy, _ = _open(h)
    for i in range(40):
        net.sendto(busy, saddr, pattern(500, seed=i))
    net.abort(busy)
    h.wait_close(busy)
    h.pump_for(0.05)
    _all_bad(idle, saddr)
    _all_bad(busy, saddr)


def test_stale_forged_and_wrong_type_handles(make_h):
    h = make_h()
    srv, saddr = _open(h)
    _all_bad(0, saddr)
    for forged in (1, 2**64 - 1, 0xDEADBEEFCAFEBABE, srv ^ (0xFFFF << 48), srv ^ (1 << 63)):
        _all_bad(forged, saddr)
    lst, cli, acc = h.pair()
    tm = h.eng.timer(100000)
    for wrong in (lst, cli, acc, tm, h.eng.handle):
        with pytest.raises(net.BadHandleError):
            net.sendto(wrong, saddr, b"x")
        with pytest.raises(net.BadHandleError):
            net.udp_connect(wrong, "127.0.0.1", saddr.port)
    net.close(tm)
    # a destroyed engine's UDP handles, queue or not
    d = make_h()
    du, _ = _open(d)
    dq, _ = _open(d)
    net.sendto(dq, saddr, b"queued")
    d.eng.destroy()
    _all_bad(du, saddr)
    _all_bad(dq, saddr)
    with pytest.raises(net.BadHandleError):
        d.eng.udp_open("127.0.0.1", 0)
    # the live socket is untouched by all that
    c, caddr = _open(h)
    net.sendto(c, saddr, b"alive")
    ev = _datagram(h, srv, pred=lambda e: e.addr == caddr)
    assert ev.data == b"alive"


def test_bad_arguments(h):
    u, uaddr = _open(h)
    peer, paddr = _open(h)
    # addresses of the wrong shape or type
    net.sendto(u, paddr, b"cached")  # a plain 4-tuple equal to it is still no address
    assert _datagram(h, peer).data == b"cached"
    for bad in (b"127.0.0.1:80", ("127.0.0.1",), ("127.0.0.1", 1, 2), tuple(paddr),
                ["127.0.0.1", paddr.port],
                (None, paddr.port), (b"127.0.0.1", paddr.port), ("127.0.0.1", "80"),
                ("127.0.0.1", 80.0), ("127.0.0.1", None), ("127.0.0.1", True), 12345, paddr.port,
                ([], 1), object()):
        with pytest.raises(TypeError):
            net.sendto(u, bad, b"x")
    # (text without a port: the text form is "host:port", "[ipv6]:port")
    for bad in (("127.0.0.1", 65536), ("127.0.0.1", -1), ("127.0.0.1", 2**70),
                net.Address("127.0.0.1", 80, 5, 0), ("127.0.0.1\0evil", 80), "127.0.0.1",
                "::1:80", "127.0.0.1:65536"):
        with pytest.raises(net.InvalidArgumentError):
            net.sendto(u, bad, b"x")
    with pytest.raises(net.AddressError):
        net.sendto(u, ("no.such.host.invalid", 80), b"x")
    with pytest.raises(net.AddressError):
        net.sendto(u, net.Address("no.such.host.invalid", 80), b"x")
    # payloads of the wrong type or size
    for bad in (None, "text", 12, 3.5, [1, 2], object()):
        with pytest.raises(TypeError):
            net.sendto(u, paddr, bad)
    with pytest.raises(net.MessageSizeError):
        net.sendto(u, paddr, bytes(net.UDP_MAX_PAYLOAD + 1))
    with pytest.raises(net.MessageSizeError):
        net.sendto(u, paddr, bytearray(10 * 1024 * 1024))
    # handles of the wrong type
    for bad in (None, "1", 1.5, b"\x01"):
        with pytest.raises(TypeError):
            net.sendto(bad, paddr, b"x")
    with pytest.raises(OverflowError):
        net.sendto(-1, paddr, b"x")
    with pytest.raises(OverflowError):
        net.sendto(2**64, paddr, b"x")
    # udp_connect
    for host, port in ((None, 80), (b"127.0.0.1", 80), (80, 80), ("127.0.0.1", "80"),
                       (None, None)):
        with pytest.raises(TypeError):
            net.udp_connect(u, host, port)
    with pytest.raises(net.InvalidArgumentError):  # one address, as text, without its port
        net.udp_connect(u, "127.0.0.1", None)
    for port in (-1, 65536, 2**40):
        with pytest.raises(net.InvalidArgumentError):
            net.udp_connect(u, "127.0.0.1", port)
    with pytest.raises(net.InvalidArgumentError):
        net.udp_connect(u, "127.0.0.1", 0)
    with pytest.raises((net.InvalidArgumentError, net.AddressError)):
        net.udp_connect(u, "", 80)
    with pytest.raises(net.AddressError):
        net.udp_connect(u, "no.such.host.invalid", 80)
    with pytest.raises(net.NotConnectedError):
        net.peer_addr(u)  # none of that connected it
    # udp_open
    with pytest.raises(net.AddressError):
        h.eng.udp_open("no.such.host.invalid", 0)
    with pytest.raises(TypeError):
        h.eng.udp_open(127001, 0)
    with pytest.raises(TypeError):
        h.eng.udp_open("127.0.0.1", "0")
    with pytest.raises(net.InvalidArgumentError):
        h.eng.udp_open("127.0.0.1", 65536)
    with pytest.raises(net.InvalidArgumentError):
        h.eng.udp_open("127.0.0.1", 0, max_datagram=net.UDP_MAX_PAYLOAD + 1)
    for kw in ({"max_datagram": -1}, {"send_cap": 2**40}, {"rcvbuf": -5}, {"sndbuf": 2**33},
               {"user": -1}, {"flags": 0x80}):
        with pytest.raises(net.InvalidArgumentError):
            h.eng.udp_open("127.0.0.1", 0, **kw)
    with pytest.raises(net.AddressInUseError):
        h.eng.udp_open("127.0.0.1", uaddr.port)
    with pytest.raises(TypeError):
        h.eng.udp_open("127.0.0.1", 0, no_such_option=1)
    # options that are not a UDP socket's
    for opt in ("nodelay", "keepalive", "linger", "highwater", "lowwater", "idle_timeout"):
        with pytest.raises(net.InvalidArgumentError):
            net.set_option(u, opt, 1)
        with pytest.raises(net.InvalidArgumentError):
            net.get_option(u, opt)
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(u, "no_such_option", 1)
    # the flat API refuses NULLs
    lib, ffi = net.lib, net.ffi
    a = ffi.new("net_addr *")
    assert lib.net_sendto(u, a, ffi.NULL, 5) == net.Error.INVAL
    assert lib.net_udp_open(h.eng.handle, b"127.0.0.1", 0, ffi.NULL, ffi.NULL) == net.Error.INVAL
    assert lib.net_addr_parse(b"127.0.0.1", 1, ffi.NULL) == net.Error.INVAL
    assert lib.net_udp_connect(u, ffi.NULL, 80) in (net.Error.INVAL, net.Error.ADDR)
    a.family = 99
    assert lib.net_sendto(u, a, b"x", 1) in (net.Error.INVAL, net.Error.ADDR)
    # after all that, the socket works
    net.sendto(u, paddr, b"still fine")
    ev = _datagram(h, peer)
    assert ev.data == b"still fine" and ev.addr == uaddr


def test_huge_buffer_is_refused_without_reading_it(h):
    """A buffer longer than 4 GiB (sparse, never touched) is refused by
    length: MessageSizeError, no truncation to its low 32 bits."""
    u, _ = _open(h)
    peer, paddr = _open(h)
    try:
        m = mmap.mmap(-1, 2**32 + 5)
    except (OverflowError, OSError, ValueError) as e:
        pytest.skip("cannot map 4 GiB of address space here: %s" % e)
    try:
        with pytest.raises(net.MessageSizeError):
            net.sendto(u, paddr, m)
    finally:
        m.close()
    h.expect_none(net.EV_DATAGRAM, peer, within=0.05)


def test_options_user_and_stats(h):
    assert h.eng.stats().udp_sockets == 0
    u, uaddr = _open(h, broadcast=True, reuseaddr=True, rcvbuf=96 * 1024, sndbuf=80 * 1024,
                     send_cap=50000, max_datagram=9000, user=77)
    d, daddr = _open(h)
    assert h.eng.stats().udp_sockets == 2
    assert net.get_option(u, "broadcast") == 1 and net.get_option(d, "broadcast") == 0
    assert net.get_option(u, "reuseaddr") == 1
    assert net.get_option(u, "rcvbuf") >= 96 * 1024
    assert net.get_option(u, "sndbuf") >= 80 * 1024
    assert net.get_option(u, "send_cap") == 50000
    assert net.get_option(u, "max_datagram") == 9000
    assert net.get_option(d, net.Option.MAX_DATAGRAM) == net.UDP_MAX_PAYLOAD
    assert net.get_option(u, "dropped") == 0
    net.set_option(u, "broadcast", 0)
    assert net.get_option(u, "broadcast") == 0
    net.set_option(u, "max_datagram", 100)
    assert net.get_option(u, "max_datagram") == 100
    net.set_option(u, net.Option.SEND_CAP, 60000)
    assert net.get_option(u, "send_cap") == 60000
    assert net.get_user(u) == 77
    before = h.eng.stats()
    for _ in range(3):
        net.sendto(d, uaddr, b"12345678")
    for _ in range(3):
        ev = _datagram(h, u)
        assert ev.user == 77 and ev.data == b"12345678"
    net.set_user(u, 78)
    net.sendto(d, uaddr, b"x")
    assert _datagram(h, u).user == 78
    after = _stats_when(h, lambda st: st.datagrams_out - before.datagrams_out >= 4)
    assert after.datagrams_in - before.datagrams_in == 4
    assert after.datagrams_out - before.datagrams_out == 4
    assert after.datagrams_dropped == 0 and after.connections == 0
    net.close(u)
    assert h.wait_close(u) == 0
    assert h.eng.stats().udp_sockets == 1
    net.close(d)
    h.wait_close(d)
    assert h.eng.stats().udp_sockets == 0


def test_full_send_queue_raises_wouldblock(h):
    srv, saddr = _open(h, rcvbuf=1 << 20)
    u, _ = _open(h, send_cap=32 * 1024)
    payload = bytes(8000)
    sent = 0
    with pytest.raises(net.WouldBlockError):
        for _ in range(1000):  # with an I/O thread some drain meanwhile; never all
            net.sendto(u, saddr, payload)
            sent += 1
    assert sent >= 1
    if h.io_threads == 0:  # nothing drains without a poll: exactly what fits
        assert sent == 32 * 1024 // (8000 + 64)
    got = 0
    end = time.monotonic() + 10
    while got < sent and time.monotonic() < end:
        h.pump(5)
        while h.take(net.EV_DATAGRAM, srv) is not None:
            got += 1
    assert got == sent
    net.sendto(u, saddr, payload)  # works again once drained
    _datagram(h, srv)
