"""Sends in batches: net.send_many, Engine.queue_send / flush and the flush
inside poll. Every item is sent as send() sends it, in order; a failing item
fails alone and is reported (never dropped); wrong arguments raise naming
the argument; an empty batch does nothing and a large one goes in one call."""

import time
from array import array

import pytest

import net
from harness import pattern


def _closing_and_stale(h, lst, cli_list):
    """Two more server connections: one closed now (closing), one closed
    and its CLOSE polled (stale)."""
    addr = net.local_addr(lst)
    out = []
    for _ in range(2):
        c = h.eng.connect(addr.host, addr.port, framing="u32be")
        h.wait(net.EV_CONNECT, c)
        out.append(h.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst).handle)
        cli_list.append(c)
    closing, stale = out
    net.close(stale)
    h.wait_close(stale)
    net.close(closing)  # no poll until the batch: closing, not stale yet
    return closing, stale


def test_send_many_in_order_with_failures_in_the_middle(h):
    lst, c1, s1 = h.pair("u32be", max_message=4096)
    addr = net.local_addr(lst)
    c2 = h.eng.connect(addr.host, addr.port, framing="u32be")
    h.wait(net.EV_CONNECT, c2)
    s2 = h.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst and e.handle != s1).handle
    extra = []
    closing, stale = _closing_and_stale(h, lst, extra)
    msgs = [pattern(10 + i * 97, seed=i) for i in range(8)]
    conns = [s1, s2, closing, s1, stale, 0, s2, s1, s1, 1 << 70, s2]
    datas = [msgs[0], msgs[1], b"never", bytearray(msgs[2]), b"never", b"never",
             memoryview(msgs[3]), b"x" * 4097, msgs[4], b"never", b""]
    failures = net.send_many(conns, datas)
    want = {2: net.ClosedError, 4: net.BadHandleError, 5: net.BadHandleError,
            7: net.MessageSizeError, 9: net.BadHandleError}
    assert [(f.conn, type(f.error)) for f in failures] == [(conns[i], want[i]) for i in sorted(want)]
    assert [f.data for f in failures] == [datas[i] for i in sorted(want)]
    assert all(isinstance(f.error, net.NetError) and f.error.context == "send" for f in failures)
    assert h.recv_messages(c1, 3) == [msgs[0], msgs[2], msgs[4]]
    assert h.recv_messages(c2, 3) == [msgs[1], msgs[3], b""]
    h.expect_none(net.EV_DATA, c1, within=0.05)


def test_send_many_empty_and_large(h):
    _, cli, srv = h.pair("u16le")
    assert net.send_many([], []) == []
    assert h.eng.send_many((), ()) == []
    n = 20000  # one call, twenty thousand items
    msgs = [b"%06d" % i for i in range(n)]
    assert net.send_many([srv] * n, msgs) == []
    got = h.recv_messages(cli, n, timeout=30)
    assert got == msgs


@pytest.mark.parametrize("conns,datas,error,text", [
    (None, [b"x"], TypeError, "send_many: conns must be a sequence of ints, not NoneType"),
    ([1], None, TypeError, "send_many: datas must be a sequence of bytes-like"),
    ([1, "2"], [b"x", b"y"], TypeError, "send_many: conns[1] must be an int, not str"),
    ([1, 2], [b"x", "y"], TypeError, "send_many: datas[1] must be bytes-like"),
    ([1, 2], [b"x"], net.InvalidArgumentError, "send_many: conns has 2 items, datas 1"),
])
def test_send_many_bad_arguments_named(conns, datas, error, text):
    with pytest.raises(error) as ei:
        net.send_many(conns, datas)
    assert text in str(ei.value)


def test_queue_send_flush(h):
    _, cli, srv = h.pair("u16be")
    msgs = [pattern(n, seed=n) for n in (1, 50, 3000, 0, 7)]
    buf = bytearray(b"mutable")
    for m in msgs:
        h.eng.queue_send(srv, m)
    h.eng.queue_send(srv, buf)
    buf[:] = b"changed after queueing"  # the queued copy does not change
    assert h.eng.flush() == []
    assert h.eng.flush() == []  # nothing left
    assert h.recv_messages(cli, len(msgs) + 1) == msgs + [b"mutable"]


def test_flush_reports_each_failure(h):
    _, cli, srv = h.pair("u16le")
    h.eng.queue_send(srv, b"one")
    h.eng.queue_send(0, b"to nobody")
    h.eng.queue_send(srv, b"two")
    failures = h.eng.flush()
    assert len(failures) == 1
    f = failures[0]
    assert (f.conn, f.data, type(f.error)) == (0, b"to nobody", net.BadHandleError)
    assert h.recv_messages(cli, 2) == [b"one", b"two"]


def test_poll_flushes_first_and_raises_failures(h):
    _, cli, srv = h.pair("u16le")
    h.eng.queue_send(srv, b"before the poll")
    h.pump(0)  # the flush inside poll sends it
    assert h.recv_messages(cli, 1) == [b"before the poll"]
    net.close(srv)
    h.eng.queue_send(srv, b"late")
    h.eng.queue_send(cli, b"fine")
    with pytest.raises(net.SendQueueError) as ei:
        h.eng.poll(0)
    err = ei.value
    assert isinstance(err, net.NetError) and err.code == net.Error.CLOSED
    assert [(f.conn, f.data, type(f.error)) for f in err.failures] == [(srv, b"late", net.ClosedError)]
    # the queue is empty; the other send went; polling goes on
    assert h.eng.flush() == []
    h.pump(0)


def test_queue_send_views_are_copied(make_h):
    h = make_h(views=True)
    _, cli, srv = h.pair("u16le")
    net.send(cli, b"echo me")
    ev = h.eng.poll(1000)
    while not any(e.type == net.EV_DATA for e in ev):
        ev = h.eng.poll(1000)
    data = next(e for e in ev if e.type == net.EV_DATA)
    h.eng.queue_send(srv, data.data)  # a view released at the next poll
    h.pump(0)
    assert h.recv_messages(cli, 1) == [b"echo me"]


def test_queue_send_bad_arguments_named(h):
    with pytest.raises(TypeError, match="Engine.queue_send: conn must be an int, not str"):
        h.eng.queue_send("1", b"x")
    with pytest.raises(TypeError, match="Engine.queue_send: data must be bytes-like"):
        h.eng.queue_send(1, "text")
    assert h.eng.flush() == []  # nothing was queued by a refused call
    # an int that is no handle is an item that fails, like any non-handle
    h.eng.queue_send(-1, b"x")
    assert [(f.conn, type(f.error)) for f in h.eng.flush()] == [(-1, net.BadHandleError)]


def test_closed_engine_drops_the_queue(mode):
    eng = net.Engine(mode.backend, mode.io_threads)
    eng.queue_send(1, b"x")
    eng.close()
    assert eng.flush() == []
    with pytest.raises(net.BadHandleError):
        eng.poll(0)


def _poll_columns_until(h, n, timeout_s=10.0):
    """poll_columns until n DATA events came; returns (handles, datas, users, others)."""
    handles, datas, users, others = [], [], [], []
    end = time.monotonic() + timeout_s
    while len(datas) < n:
        assert time.monotonic() < end, (len(datas), others)
        c = h.eng.poll_columns(20)
        assert len(c.handles) == len(c.datas) == len(c.users)
        assert all(type(d) is bytes for d in c.datas)
        handles += c.handles
        datas += c.datas
        users += c.users
        others += c.others
    return handles, datas, users, others


@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views"])
def test_poll_columns_echo(make_h, views):
    h = make_h(views=views)
    _, cli, srv = h.pair("u16le")
    net.set_user(srv, 42)
    msgs = [pattern(n, seed=n) for n in (1, 0, 700, 64, 3000)] * 20
    for m in msgs:
        net.send(cli, m)
    handles, datas, users, others = _poll_columns_until(h, len(msgs))
    # the client's CONNECT/ACCEPT came before; here only DATA
    assert [e for e in others if e.type == net.EV_DATA] == []
    assert list(handles) == [srv] * len(msgs) and list(users) == [42] * len(msgs)
    assert datas == msgs
    # handles go to send_many as they are: every echo comes back
    assert net.send_many(h.eng.poll_columns(0).handles, []) == []
    assert net.send_many(handles, datas) == []
    got = []
    while len(got) < len(msgs):
        c = h.eng.poll_columns(20)
        got += [d for hd, d in zip(c.handles, c.datas) if hd == cli]
    assert got == msgs


def test_poll_columns_other_events_in_order(h):
    lst, addr = h.listen(framing="u32le")
    cli = h.eng.connect(addr.host, addr.port, framing="u32le")
    h.eng.post(5)
    net.send(cli, b"first")
    net.close(cli)
    _, datas, _, others = _poll_columns_until(h, 1)
    end = time.monotonic() + 10
    kinds = [e.type for e in others]
    while net.EV_CLOSE not in kinds or kinds.count(net.EV_CLOSE) < 2:
        assert time.monotonic() < end, kinds
        c = h.eng.poll_columns(20)
        datas += c.datas
        others += c.others
        kinds = [e.type for e in others]
    assert datas == [b"first"]
    assert net.EV_DATA not in kinds
    # ACCEPT/CONNECT and the USER come as Events, in order; both ends CLOSE
    assert kinds.index(net.EV_CONNECT) < kinds.index(net.EV_CLOSE)
    assert [e.user for e in others if e.type == net.EV_USER] == [5]
    assert all(isinstance(e, net.Event) for e in others)


def test_poll_columns_bad_timeout_named(h):
    with pytest.raises(net.InvalidArgumentError, match="Engine.poll_columns: timeout_ms"):
        h.eng.poll_columns(-2)


def test_send_packed_pieces_and_failures(h):
    lst, c1, s1 = h.pair("u16le", max_message=1000)
    extra = []
    addr = net.local_addr(lst)
    c2 = h.eng.connect(addr.host, addr.port, framing="u16le")
    h.wait(net.EV_CONNECT, c2)
    s2 = h.wait(net.EV_ACCEPT, pred=lambda e: e.parent == lst and e.handle != s1).handle
    net.close(s2)  # closing in the middle of the batch
    pieces = [b"alpha", b"", b"x" * 1001, b"beta", b"gamma"]
    conns = [s1, s1, s1, s2, s1]
    payload = bytearray(b"".join(pieces))
    lens = [len(p) for p in pieces] + [10]  # the last runs past the payload
    conns.append(s1)
    failures = net.send_packed(conns, lens, payload)
    assert [(f.conn, f.data, type(f.error)) for f in failures] == [
        (s1, b"x" * 1001, net.MessageSizeError), (s2, b"beta", net.ClosedError),
        (s1, b"", net.InvalidArgumentError)]
    assert h.recv_messages(c1, 3) == [b"alpha", b"", b"gamma"]
    assert net.send_packed([], [], b"") == []
    h.expect_none(net.EV_DATA, c1, within=0.05)
    del extra


@pytest.mark.parametrize("conns,lens,payload,error,text", [
    ([1], [1, 2], b"abc", net.InvalidArgumentError, "send_packed: conns has 1 items, lens 2"),
    ([1], [-1], b"abc", net.MessageSizeError, "send_packed: a length outside"),
    ([1], [1], "abc", TypeError, "send_packed: payload must be bytes-like"),
])
def test_send_packed_bad_arguments(conns, lens, payload, error, text):
    with pytest.raises(error) as ei:
        net.send_packed(conns, lens, payload)
    assert text in str(ei.value)


def test_columns_payload_lens_and_datas_agree(h):
    _, cli, srv = h.pair("u32be")
    msgs = [pattern(n, seed=n) for n in (3, 0, 999, 70000, 1, 300000)] * 3
    for m in msgs:
        net.send(cli, m)
    lens, payload, datas, handles = [], b"", [], []
    end = time.monotonic() + 10
    while len(lens) < len(msgs):
        assert time.monotonic() < end
        c = h.eng.poll_columns(20)
        assert len(c) == len(c.handles) == len(c.lens) == len(c.users) == len(c.datas)
        assert c.payload == b"".join(c.datas) and list(c.lens) == [len(d) for d in c.datas]
        lens += c.lens
        payload += c.payload
        datas += c.datas
        handles += c.handles
        assert "DATA" in repr(c)
    assert datas == msgs and payload == b"".join(msgs)
    # the whole of it back with one call, pieces as they came
    assert net.send_packed(array("Q", handles), array("I", lens), payload) == []
    assert h.recv_messages(cli, len(msgs), timeout=20) == msgs
