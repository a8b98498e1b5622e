"""Engine.poll_forward: every DATA payload of a poll goes on in the library
(net_forward_data), back to its connection or to one handle, intact and in
order; every other event comes to Python in order; a send that fails is
reported with a copy of its payload, never dropped; wrong arguments raise
naming the argument."""

import time

import pytest

import net
from harness import pattern


def _server_and_client(make_h, framing="u16le", views=False):
    """A server harness (the one that forwards) with a listener, and a client
    harness on its own engine: on one engine the echoes would be forwarded
    back again."""
    srv_h, cli_h = make_h(views=views), make_h()
    lst, addr = srv_h.listen(framing=framing)
    return srv_h, cli_h, lst, addr


def _connect(cli_h, addr, framing="u16le"):
    cli = cli_h.eng.connect(addr.host, addr.port, framing=framing)
    assert cli_h.wait(net.EV_CONNECT, cli).status == 0
    return cli


def _forward_until(srv_h, cli_h, n, to=None, timeout_s=10.0):
    """poll_forward until n payloads went on; returns (others, failures).
    The client's engine is pumped meanwhile (with io_threads 0 its sends go
    out only in its poll), its events parked for the checks."""
    others, failures, forwarded = [], [], 0
    end = time.monotonic() + timeout_s
    while forwarded + len(failures) < n:
        assert time.monotonic() < end, (forwarded, others, failures)
        cli_h.pump(0)
        f = srv_h.eng.poll_forward(5, to)
        assert isinstance(f, net.Forwarded)
        assert all(isinstance(e, net.Event) and e.type != net.EV_DATA for e in f.others)
        forwarded += f.forwarded
        others += f.others
        failures += f.failures
    assert forwarded + len(failures) == n
    return others, failures


def _recv(cli_h, srv_h, handle, count, timeout_s=10.0):
    """The next count messages of handle on the client, the server's engine
    pumped meanwhile (with io_threads 0 the forwarded sends go out in its
    poll)."""
    got = []
    end = time.monotonic() + timeout_s
    while len(got) < count:
        assert time.monotonic() < end, len(got)
        srv_h.pump(0)
        cli_h.pump(5)
        ev = cli_h.take(net.EV_DATA, handle)
        while ev is not None and len(got) < count:
            got.append(ev.data)
            ev = cli_h.take(net.EV_DATA, handle) if len(got) < count else None
    return got


@pytest.mark.parametrize("views", [False, True], ids=["bytes", "views"])
def test_poll_forward_echo(make_h, views):
    srv_h, cli_h, lst, addr = _server_and_client(make_h, views=views)
    cli = _connect(cli_h, addr)
    msgs = [pattern(n, seed=n) for n in (1, 0, 255, 256, 700, 64, 3000)] * 15
    for m in msgs:
        net.send(cli, m)
    others, failures = _forward_until(srv_h, cli_h, len(msgs))
    assert failures == []
    # the ACCEPT came to Python, the payloads did not
    assert [e.type for e in others] == [net.EV_ACCEPT] and others[0].parent == lst
    assert _recv(cli_h, srv_h, cli, len(msgs)) == msgs


def test_poll_forward_to_one_handle(make_h):
    srv_h, cli_h, lst, addr = _server_and_client(make_h)
    a = _connect(cli_h, addr)
    b = _connect(cli_h, addr)
    # which server connection is b's: the one a message on b arrives on
    # (the harness's own poll, which parks the ACCEPTs)
    net.send(b, b"which")
    end = time.monotonic() + 10
    got = None
    while got is None:
        assert time.monotonic() < end
        cli_h.pump(0)
        srv_h.pump(5)
        got = srv_h.take(net.EV_DATA)
    assert got.data == b"which"
    to_b = got.handle
    msgs = [pattern(n, seed=n + 7) for n in (5, 900, 0, 40000)] * 5
    for m in msgs:
        net.send(a, m)
    _, failures = _forward_until(srv_h, cli_h, len(msgs), to=to_b)
    assert failures == []
    assert _recv(cli_h, srv_h, b, len(msgs)) == msgs


def test_poll_forward_failures_keep_their_payload(make_h):
    srv_h, cli_h, lst, addr = _server_and_client(make_h)
    cli = _connect(cli_h, addr)
    stale = srv_h.wait(net.EV_ACCEPT).handle
    net.close(stale)
    srv_h.wait_close(stale)
    # a second connection whose payloads go to the stale handle
    cli2 = _connect(cli_h, addr)
    srv_h.wait(net.EV_ACCEPT)
    msgs = [b"a", b"", pattern(3000, seed=3)]
    for m in msgs:
        net.send(cli2, m)
    _, failures = _forward_until(srv_h, cli_h, len(msgs), to=stale)
    assert [(f.conn, f.data, type(f.error)) for f in failures] == [(stale, m, net.BadHandleError) for m in msgs]
    assert cli_h.wait_close(cli) == 0


def test_poll_forward_other_events_in_order(make_h):
    srv_h, cli_h, lst, addr = _server_and_client(make_h, framing="u32le")
    cli = _connect(cli_h, addr, framing="u32le")
    srv_h.eng.post(5)
    net.send(cli, b"first")
    net.close(cli)
    others, failures, forwarded = [], [], 0
    end = time.monotonic() + 10
    while net.EV_CLOSE not in [e.type for e in others]:
        assert time.monotonic() < end, others
        cli_h.pump(0)
        f = srv_h.eng.poll_forward(5)
        forwarded += f.forwarded
        others += f.others
        failures += f.failures
    kinds = [e.type for e in others]
    # the USER may come before the ACCEPT (io_threads 0 accepts in the poll)
    assert kinds.count(net.EV_ACCEPT) == 1 and kinds.index(net.EV_ACCEPT) < kinds.index(net.EV_CLOSE)
    assert kinds[-1] == net.EV_CLOSE
    assert [e.user for e in others if e.type == net.EV_USER] == [5]
    # the echo of "first" was queued, or failed: the peer's FIN came first
    # (closing), or its CLOSE came in the same poll (the handle is gone)
    assert forwarded + len(failures) == 1
    assert all(f.data == b"first" and isinstance(f.error, (net.ClosedError, net.BadHandleError)) for f in failures)


def test_poll_forward_bad_arguments(h):
    for bad in (0, -1, 1 << 64):
        with pytest.raises(net.InvalidArgumentError, match="Engine.poll_forward: to must be a handle"):
            h.eng.poll_forward(0, bad)
    for bad in ("1", 1.0, True):
        with pytest.raises(TypeError, match="Engine.poll_forward: to must be an int"):
            h.eng.poll_forward(0, bad)
    with pytest.raises(net.InvalidArgumentError, match="Engine.poll_forward: timeout_ms"):
        h.eng.poll_forward(-2)
    assert h.eng.poll_forward(0).forwarded == 0
