"""How poll hands a batch over, and where addresses come from.

The binding has the library pack each polled batch (net_events_pack) into
payload memory of its own: a buffer (bytes payloads) or the current chunk
(views=True). A batch whose payloads do not fit goes through in parts, a
payload larger than that memory through memory of its size: every event
arrives, in order, byte-exact. Addresses are the library's text
(net_addr_host, net_addr_parse, net_addr_format): an IPv4 peer of a
dual-stack listener reads "::ffff:127.0.0.1", as inet_ntop writes it, and
the same peer gives the same Address object again.
"""

import socket

import pytest

import net
from harness import pattern

core = net._core
SMALL_MEMORY = 1500  # payload memory small enough for any batch to overflow it
# Around the memory's size, empty ones, several times its size.
SIZES = [0, 1, 700, 1499, 1500, 1501, 4000, 0, 900, 3 * SMALL_MEMORY + 7, 1, 0, 600, 600, 600]


@pytest.fixture
def pack_calls(monkeypatch):
    """Counts net_events_pack calls per poll (a list with one count per
    poll that returned events)."""
    counts = []
    real_pack, real_poll = core._pack, core._poll

    def poll(*args):
        n = real_poll(*args)
        if n > 0:
            counts.append(0)
        return n

    def pack(*args):
        counts[-1] += 1
        return real_pack(*args)

    monkeypatch.setattr(core, "_poll", poll)
    monkeypatch.setattr(core, "_pack", pack)
    return counts


@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views"])
def test_batches_larger_than_payload_memory(make_h, monkeypatch, pack_calls, views):
    monkeypatch.setattr(core, "_CHUNK_SIZE", SMALL_MEMORY)
    h = make_h(views=views, max_events=4096)
    lst, cli, srv = h.pair("u32le")
    msgs = [pattern(n, i) for i, n in enumerate(SIZES * 4)]
    for m in msgs:
        h.eng.send(cli, m)
    got = h.recv_messages(srv, len(msgs))
    assert [len(g) for g in got] == [len(m) for m in msgs]
    assert got == msgs
    assert max(pack_calls) > 1, "no batch overflowed the payload memory: %r" % pack_calls


@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views"])
def test_datagram_batches_larger_than_payload_memory(make_h, monkeypatch, views):
    monkeypatch.setattr(core, "_CHUNK_SIZE", SMALL_MEMORY)
    h = make_h(views=views)
    srv = h.eng.udp_open("127.0.0.1", 0)
    cli = h.eng.udp_open("127.0.0.1", 0)
    to, sender = net.local_addr(srv), net.local_addr(cli)
    for i, n in enumerate(SIZES):
        net.sendto(cli, to, pattern(n, i))
        ev = h.wait(net.EV_DATAGRAM, srv)
        assert ev.data == pattern(n, i) and ev.len == n
        assert ev.addr == sender


@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views"])
def test_many_large_messages(make_h, views):
    """Megabytes in flight at once, with the real payload memory."""
    h = make_h(views=views, max_message=1 << 20)
    lst, cli, srv = h.pair("u32le", max_message=1 << 20)
    msgs = [pattern(50000 + 4093 * i, i) for i in range(40)] + [pattern(1 << 20, 99)]
    for m in msgs:
        h.eng.send(cli, m)
    assert h.recv_messages(srv, len(msgs), timeout=30) == msgs


def _has_dual_stack():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_dual_stack(), reason="no dual-stack IPv6 here")
def test_ipv4_peer_of_dual_stack_listener(h):
    lst = h.eng.listen("::", 0, ipv6only=False)
    port = net.local_addr(lst).port
    cli = h.eng.connect("127.0.0.1", port)
    acc = h.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst)
    h.wait(net.EV_CONNECT, cli)
    mapped = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "::ffff:127.0.0.1"))
    assert acc.addr.host == mapped == "::ffff:127.0.0.1"
    assert acc.addr.family == net.Family.INET6
    assert acc.addr.port == net.local_addr(cli).port
    assert net.peer_addr(acc.handle) == acc.addr
    # net_addr_format writes the same address in hex groups
    assert net.format_addr(acc.addr) == "[::ffff:7f00:1]:%d" % acc.addr.port


def test_same_peer_same_address(h):
    srv = h.eng.udp_open("127.0.0.1", 0)
    cli = h.eng.udp_open("127.0.0.1", 0)
    to = net.local_addr(srv)
    net.sendto(cli, to, b"one")
    first = h.wait(net.EV_DATAGRAM, srv).addr
    net.sendto(cli, to, b"two")
    second = h.wait(net.EV_DATAGRAM, srv).addr
    assert first == net.local_addr(cli)
    assert second is first
    net.sendto(srv, second, b"back")
    assert h.wait(net.EV_DATAGRAM, cli).data == b"back"


def test_names_are_resolved_every_time(h):
    """A numeric (host, port) is parsed once; a name is not remembered (it
    may resolve differently later), and still reaches its peer."""
    srv = h.eng.udp_open("127.0.0.1", 0)
    cli = h.eng.udp_open("127.0.0.1", 0)
    port = net.local_addr(srv).port
    try:
        net.addr_parse("localhost", port)
    except net.AddressError:
        pytest.skip("localhost does not resolve here")
    numeric = ("127.0.0.1", port)
    net.sendto(cli, numeric, b"n")
    assert numeric in core._c_addresses
    name = ("localhost", port)
    resolved = net.addr_parse(*name)
    net.sendto(cli, name, b"x")
    assert name not in core._c_addresses
    if resolved.host == "127.0.0.1":
        assert h.wait(net.EV_DATAGRAM, srv).data == b"n"
        assert h.wait(net.EV_DATAGRAM, srv).data == b"x"


def test_format_addr_checks_the_family():
    assert net.format_addr(net.Address("10.1.2.3", 80)) == "10.1.2.3:80"
    assert net.format_addr(net.Address("::1", 80, net.Family.INET6)) == "[::1]:80"
    with pytest.raises(net.AddressError):
        net.format_addr(net.Address("::1", 80, net.Family.INET))
    with pytest.raises(net.AddressError):
        net.format_addr(net.Address("10.1.2.3", 80, net.Family.INET6))
    with pytest.raises(net.InvalidArgumentError):
        net.format_addr(net.Address("::1", 80, net.Family.INET6, 2**32))


def test_record_layout_comes_from_the_header():
    """poll reads net_packed_event with a struct format derived from the
    cdef, one field per named member of the C struct."""
    fields = [n for n, _ in net.ffi.typeof("net_packed_event").fields if not n.endswith("_")]
    assert list(core._RECORD_FIELDS) == fields
    assert core._RECORD.size == net.ffi.sizeof("net_packed_event") == 72


@pytest.mark.parametrize("mixed", [False, True], ids=["all-data", "mixed"])
def test_data_batch_fields(h, mixed):
    """A batch of DATA records only is read by column, one with another
    event (a USER posted first, usually in the same batch) record by
    record: either way every field of the Events is the event's."""
    _, cli, srv = h.pair("u16le")
    net.set_user(srv, 0xFEEDFACECAFEBEEF)
    msgs = [pattern(n, seed=n) for n in (5, 0, 300, 1, 2000, 64)]
    if mixed:
        h.eng.post(77)
    for m in msgs:
        net.send(cli, m)
    got, other = [], []
    end = 0
    while len(got) < len(msgs):
        end += 1
        assert end < 500, got
        for ev in h.eng.poll(20):
            (got if ev.type == net.EV_DATA else other).append(ev)
    for ev, m in zip(got, msgs):
        assert ev.type is net.EventType.DATA
        assert (ev.status, ev.handle, ev.parent, ev.user, ev.data, ev.len, ev.os_error, ev.addr) == \
            (0, srv, 0, 0xFEEDFACECAFEBEEF, m, len(m), 0, None)
        assert type(ev.data) is bytes
    if mixed:
        assert [(e.type, e.user) for e in other] == [(net.EventType.USER, 77)]
