"""Echo over loopback in every framing, split patterns, large messages."""


import pytest

import net
from harness import FRAMINGS, frame, pattern

FRAMED = [f for f in FRAMINGS if f != "raw"]
FRAMING_CASES = [("raw", False)] + [(f, inc) for f in FRAMED for inc in (False, True)]
FRAMING_IDS = ["%s%s" % (f, "+hdr" if inc else "") for f, inc in FRAMING_CASES]


def _echo_server_step(h, server):
    """Echo every parked DATA event of `server` back."""
    while True:
        ev = h.take(net.EV_DATA, server)
        if ev is None:
            return
        h.eng.send(server, ev.data)


@pytest.mark.parametrize("framing,inc", FRAMING_CASES, ids=FRAMING_IDS)
def test_echo_engine_to_engine(h, framing, inc):
    lst, cli, srv = h.pair(framing, length_includes_header=inc)
    sizes = [1, 2, 3, 100, 1000, 4096, 65000, 70000, 200000]
    if framing.startswith("u16"):
        sizes = [s for s in sizes if s + 2 <= 0xFFFF]
    msgs = [pattern(n, seed=i) for i, n in enumerate(sizes)]
    for m in msgs:
        h.eng.send(cli, m)
    if framing == "raw":
        total = sum(map(len, msgs))
        # Echo chunks as they come, then check the stream.
        got = bytearray()
        while len(got) < total:
            h.pump(5)
            _echo_server_step(h, srv)
            while True:
                ev = h.take(net.EV_DATA, cli)
                if ev is None:
                    break
                got += ev.data
        assert bytes(got) == b"".join(msgs)
    else:
        # The server sees each message whole, exactly as sent.
        got_srv = h.recv_messages(srv, len(msgs))
        assert [len(m) for m in got_srv] == [len(m) for m in msgs]
        assert got_srv == msgs
        for m in got_srv:
            h.eng.send(srv, m)
        assert h.recv_messages(cli, len(msgs)) == msgs
    # Engine memory: the payload views of a poll are released at the next.
    st = h.eng.stats()
    assert st.connections == 2
    assert st.messages_in >= len(msgs)


@pytest.mark.parametrize("framing,inc", FRAMING_CASES, ids=FRAMING_IDS)
def test_wire_format_against_socket_peer(h, framing, inc):
    """net_send puts the right header on the wire; a peer's header is parsed."""
    lst, _ = h.listen(framing=framing, length_includes_header=inc)
    s, srv = h.sock_connect(lst)
    payload = b"hello, wire"
    h.eng.send(srv, payload)
    want = frame(framing, payload, inc)
    assert h.sock_recv(s, len(want)) == want
    h.sock_send(s, frame(framing, b"back at you", inc))
    if framing == "raw":
        assert h.recv_bytes(srv, 11) == b"back at you"
    else:
        assert h.wait(net.EV_DATA, srv).data == b"back at you"


def _split_patterns(wire, msg_lens):
    """name -> list of chunks that together are `wire`."""
    n = len(wire)
    pats = {
        "whole": [wire],
        "bytewise": [wire[i:i + 1] for i in range(min(n, 600))] + ([wire[600:]] if n > 600 else []),
        "header_split": [wire[:1], wire[1:3], wire[3:]],
        "odd_chunks": [wire[i:i + 7] for i in range(0, n, 7)],
        "big_then_rest": [wire[:n - 3], wire[n - 3:]],
    }
    # Cut inside every boundary: each piece ends one byte into the next message.
    cuts, pos = [], 0
    for ln in msg_lens[:-1]:
        pos += ln
        cuts.append(pos + 1)
    pieces, prev = [], 0
    for c in cuts:
        pieces.append(wire[prev:c])
        prev = c
    pieces.append(wire[prev:])
    pats["across_boundaries"] = pieces
    return pats


SPLITS = ["whole", "bytewise", "header_split", "odd_chunks", "big_then_rest", "across_boundaries"]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("framing,inc", FRAMING_CASES[1:], ids=FRAMING_IDS[1:])
def test_split_patterns(h, framing, inc, split):
    """However the peer's bytes are cut, DATA events are the whole messages."""
    lst, _ = h.listen(framing=framing, length_includes_header=inc)
    s, srv = h.sock_connect(lst)
    msgs = [b"", b"a", pattern(5), pattern(300, 1), pattern(3000, 2), b"z" * 17]
    frames = [frame(framing, m, inc) for m in msgs]
    wire = b"".join(frames)
    for chunk in _split_patterns(wire, [len(f) for f in frames])[split]:
        h.sock_send(s, chunk)
        h.pump(0)
    got = h.recv_messages(srv, len(msgs))
    assert got == msgs
    # And the echo goes back framed the same way.
    for m in got:
        h.eng.send(srv, m)
    assert h.sock_recv(s, len(wire)) == wire


def test_raw_chunks_cover_stream(h):
    lst, _ = h.listen(framing="raw")
    s, srv = h.sock_connect(lst)
    data = pattern(300000, 9)
    for i in range(0, len(data), 4093):
        h.sock_send(s, data[i:i + 4093])
    assert h.recv_bytes(srv, len(data)) == data


@pytest.mark.parametrize("framing", ["raw", "u32le", "u32be"])
def test_large_messages(make_h, framing):
    h = make_h(max_message=4 << 20)
    lst, cli, srv = h.pair(framing)
    big = [pattern(4 << 20, 3), pattern((1 << 20) + 7, 4), pattern(3 << 20, 5)]
    for m in big:
        h.eng.send(cli, m)
    if framing == "raw":
        assert h.recv_bytes(srv, sum(map(len, big)), timeout=30) == b"".join(big)
    else:
        got = h.recv_messages(srv, len(big), timeout=30)
        assert [len(g) for g in got] == [len(m) for m in big]
        assert got == big


def test_u16_largest_message(h):
    lst, cli, srv = h.pair("u16le")
    m = pattern(0xFFFF, 6)
    h.eng.send(cli, m)
    assert h.wait(net.EV_DATA, srv).data == m
    with pytest.raises(net.MessageSizeError):
        h.eng.send(cli, b"x" * 0x10000)
    lst2, cli2, srv2 = h.pair("u16le", length_includes_header=True)
    h.eng.send(cli2, pattern(0xFFFD))
    assert len(h.wait(net.EV_DATA, srv2).data) == 0xFFFD
    with pytest.raises(net.MessageSizeError):
        h.eng.send(cli2, b"x" * 0xFFFE)


def test_sendv_gathers_one_message(h):
    lst, cli, srv = h.pair("u32le")
    parts = [b"head:", bytearray(b"middle:"), memoryview(b"tail"), b""]
    h.eng.sendv(cli, parts)
    h.eng.sendv(cli, [])
    assert h.wait(net.EV_DATA, srv).data == b"head:middle:tail"
    assert h.wait(net.EV_DATA, srv).data == b""


def test_send_accepts_buffer_types(h):
    lst, cli, srv = h.pair("u16be")
    arr = __import__("array").array("I", [1, 2, 3])
    for payload in (b"bytes", bytearray(b"bytearray"), memoryview(b"xxview")[2:], arr):
        h.eng.send(cli, payload)
    got = h.recv_messages(srv, 4)
    assert got == [b"bytes", b"bytearray", b"view", arr.tobytes()]
    with pytest.raises(TypeError):
        h.eng.send(cli, "text is not bytes")


def test_payload_is_bytes_by_default(h):
    lst, cli, srv = h.pair("u16le")
    h.eng.send(cli, b"ping")
    got = None
    while got is None:
        for ev in h.eng.poll(50):
            if ev.type == net.EV_DATA and ev.handle == srv:
                got = ev
            else:
                h._park(ev)
    assert type(got.data) is bytes and got.data == b"ping" and got.len == 4
    h.eng.poll(0)
    assert got.data == b"ping"  # a copy: still good after the next poll


def _first_data(h, handle):
    while True:
        for ev in h.eng.poll(50):
            if ev.type == net.EV_DATA and ev.handle == handle:
                return ev
            h._park(ev)


def test_payload_views_forwarded_directly(make_h):
    """views=True: a read-only memoryview goes straight back into send."""
    h = make_h(views=True)
    lst, cli, srv = h.pair("u16le")
    h.eng.send(cli, b"ping")
    ev = _first_data(h, srv)
    assert isinstance(ev.data, memoryview) and ev.data.readonly
    assert ev.data == b"ping"
    h.eng.send(srv, ev.data)
    assert h.wait(net.EV_DATA, cli).data == b"ping"


def test_payload_view_released_at_next_poll(make_h):
    h = make_h(views=True)
    lst, cli, srv = h.pair("u16le")
    h.eng.send(cli, b"keep me?")
    kept = _first_data(h, srv)
    copy = bytes(kept.data)
    assert copy == b"keep me?" and kept.len == 8
    h.eng.poll(0)
    with pytest.raises(ValueError):
        bytes(kept.data)


def test_payload_view_released_at_destroy(make_h):
    h = make_h(views=True)
    lst, cli, srv = h.pair("raw")
    h.eng.send(cli, b"bye")
    kept = _first_data(h, srv)
    h.eng.destroy()
    with pytest.raises(ValueError):
        kept.data.tobytes()


def test_broadcast(h):
    lst, _ = h.listen(framing="u16le")
    pairs = [h.sock_connect(lst) for _ in range(4)]
    handles = [srv for _, srv in pairs]
    n, results = h.eng.broadcast(handles + [0xDEAD], b"to everyone")
    assert n == 4
    assert results == [0, 0, 0, 0, net.Error.BADHANDLE]
    want = frame("u16le", b"to everyone")
    for s, _ in pairs:
        assert h.sock_recv(s, len(want)) == want
    assert h.eng.broadcast([], b"x") == (0, [])


def test_user_data_in_events(h):
    lst, addr = h.listen(framing="u16le", user=77)
    cli = h.eng.connect(addr.host, addr.port, framing="u16le", user=5)
    assert h.wait(net.EV_CONNECT, cli).user == 5
    acc = h.wait(net.EV_ACCEPT)
    assert acc.parent == lst and acc.user == 0 or acc.user == 77  # either is allowed here
    assert net.get_user(cli) == 5 and net.get_user(lst) == 77
    net.set_user(acc.handle, 2**64 - 1)
    assert net.get_user(acc.handle) == 2**64 - 1
    h.eng.send(cli, b"u")
    assert h.wait(net.EV_DATA, acc.handle).user == 2**64 - 1


def test_addresses(h):
    lst, cli, srv = h.pair()
    la = net.local_addr(lst)
    assert la.host == "127.0.0.1" and la.family == net.Family.INET and la.port > 0
    assert str(la) == "127.0.0.1:%d" % la.port == net.format_addr(la)
    assert net.peer_addr(cli) == la
    assert net.peer_addr(srv) == net.local_addr(cli)
    with pytest.raises(net.BadHandleError):
        net.peer_addr(lst)  # a listener has no peer


def test_options(h):
    lst, cli, srv = h.pair()
    assert net.get_option(cli, "nodelay") == 1
    net.set_option(cli, net.Option.NODELAY, 0)
    assert net.get_option(cli, "nodelay") == 0
    net.set_option(cli, "send_cap", 12345)
    assert net.get_option(cli, "send_cap") == 12345
    net.set_option(cli, "idle_timeout", 0)
    assert net.get_option(srv, "rcvbuf") > 0
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(cli, "bogus", 1)
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(cli, 999, 1)
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(cli, "send_cap", -1)
    with pytest.raises(net.InvalidArgumentError):
        net.set_option(lst, "send_cap", 10)  # per-connection options need a connection


def test_stats_count_traffic(h):
    lst, cli, srv = h.pair("u16le")
    before = h.eng.stats()
    for i in range(10):
        h.eng.send(cli, b"0123456789")
    h.recv_messages(srv, 10)
    after = h.eng.stats()
    assert after.messages_in - before.messages_in == 10
    assert after.messages_out - before.messages_out == 10
    assert after.bytes_in - before.bytes_in == 120
    assert after.connections_total >= 2
