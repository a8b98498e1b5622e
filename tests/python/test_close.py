"""Graceful and abortive close, their CLOSE reasons, half-close, listeners."""

import socket
import struct
import time

import pytest

import net
from harness import frame, pattern


def test_graceful_close_delivers_everything_first(h):
    lst, cli, srv = h.pair("u32le")
    msgs = [pattern(20000, i) for i in range(50)]
    for m in msgs:
        h.eng.send(srv, m)
    net.close(srv)
    # Sends after close are refused; the handle lives until its CLOSE.
    with pytest.raises(net.ClosedError):
        h.eng.send(srv, b"late")
    assert h.recv_messages(cli, len(msgs)) == msgs
    assert h.wait_close(cli) == 0
    assert h.wait_close(srv) == 0
    with pytest.raises(net.BadHandleError):
        h.eng.send(srv, b"x")


def test_graceful_close_to_socket_peer_then_fin(h):
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    data = pattern(500000, 1)
    h.eng.send(srv, data)
    net.close(srv)
    got, how = h.sock_read_to_end(s)
    assert how == "eof"
    assert got == data
    s.close()
    assert h.wait_close(srv) == 0


def test_peer_close_gives_orderly_close(h):
    lst, cli, srv = h.pair()
    net.close(cli)
    assert h.wait_close(srv) == 0
    assert h.wait_close(cli) == 0


def test_abort_resets_peer(h):
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    h.eng.send(srv, pattern(100000))
    net.abort(srv)
    assert h.wait_close(srv) == net.Error.ABORTED
    _, how = h.sock_read_to_end(s)
    assert how == "reset"


def test_abort_seen_as_reset_by_engine_peer(h):
    lst, cli, srv = h.pair()
    net.abort(srv)
    assert h.wait_close(srv) == net.Error.ABORTED
    assert h.wait_close(cli) == net.Error.RESET
    ev_err = net.error_for(net.Error.RESET)
    assert isinstance(ev_err, net.ResetError)


def test_peer_rst_gives_reset(h):
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    h.sock_send(s, b"some bytes")
    h.wait(net.EV_DATA, srv)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert h.wait_close(srv) == net.Error.RESET


def test_exactly_one_close_whatever_is_called(h):
    lst, cli, srv = h.pair()
    net.close(srv)
    for call in (net.close, net.abort):
        try:
            call(srv)
        except net.NetError as e:
            assert e.code in (net.Error.BADHANDLE, net.Error.CLOSED)
    try:
        net.shutdown(srv)
    except net.NetError as e:
        assert e.code in (net.Error.BADHANDLE, net.Error.CLOSED)
    h.wait_close(srv)
    h.wait_close(cli)
    # The harness fails on any event after a handle's CLOSE: keep pumping.
    h.pump_for(0.2)
    for call in (net.close, net.abort, net.shutdown):
        with pytest.raises(net.BadHandleError):
            call(srv)


def test_close_then_abort_drops_queue(h):
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for _ in range(64):
        h.eng.send(srv, pattern(65536))
    net.close(srv)
    net.abort(srv)  # abort wins over a pending graceful close
    status = h.wait_close(srv)
    assert status == net.Error.ABORTED
    _, how = h.sock_read_to_end(s)
    assert how == "reset"


def test_half_close_local(h):
    """shutdown: FIN after what is queued; receiving goes on."""
    lst, _ = h.listen(framing="u16le")
    s, srv = h.sock_connect(lst)
    h.eng.send(srv, b"last words")
    net.shutdown(srv)
    with pytest.raises(net.ClosedError):
        h.eng.send(srv, b"after shutdown")
    want = frame("u16le", b"last words")
    got, how = h.sock_read_to_end(s)
    assert (got, how) == (want, "eof")
    # The peer can still talk to us.
    h.sock_send(s, frame("u16le", b"still here"))
    assert h.wait(net.EV_DATA, srv).data == b"still here"
    s.shutdown(socket.SHUT_WR)
    assert h.wait_close(srv) == 0


def test_half_close_remote_gets_answer(h):
    """The peer sends a request and its FIN: the script still answers."""
    lst, _ = h.listen(framing="u16le")
    s, srv = h.sock_connect(lst)
    h.sock_send(s, frame("u16le", b"request"))
    s.shutdown(socket.SHUT_WR)
    ev = h.wait(net.EV_DATA, srv)
    assert ev.data == b"request"
    h.eng.send(srv, b"response")
    got, how = h.sock_read_to_end(s)
    assert (got, how) == (frame("u16le", b"response"), "eof")
    assert h.wait_close(srv) == 0


def test_half_close_between_engines(h):
    lst, cli, srv = h.pair("u16le")
    net.shutdown(cli)
    h.eng.send(srv, b"reply after client FIN")
    assert h.wait(net.EV_DATA, cli).data == b"reply after client FIN"
    # The server side had its turn after the FIN: the engine may close it by
    # itself (its peer is done sending, its queue is empty) - or we do.
    try:
        net.close(srv)
    except net.BadHandleError:
        pass  # its CLOSE event must still come: checked below
    assert h.wait_close(cli) == 0
    assert h.wait_close(srv) == 0


def test_listener_close_event(h):
    lst, addr = h.listen()
    net.close(lst)
    ev = h.wait(net.EV_CLOSE, lst)
    assert ev.status == 0
    with pytest.raises(net.BadHandleError):
        net.local_addr(lst)
    with socket.socket() as s:
        s.settimeout(2)
        with pytest.raises(OSError):
            s.connect((addr.host, addr.port))


def test_connect_refused(h):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    c = h.eng.connect("127.0.0.1", port)
    ev = h.wait(net.EV_CONNECT, c)
    assert ev.status == net.Error.REFUSED
    assert isinstance(ev.error, net.RefusedError)
    assert h.wait_close(c) == net.Error.REFUSED


def test_close_while_connecting(h):
    lst, addr = h.listen()
    c = h.eng.connect(addr.host, addr.port)
    net.close(c)
    h.wait_close(c)


def test_engine_destroy_with_open_connections(make_h):
    h = make_h()
    lst, _ = h.listen()
    socks = [h.sock_connect(lst) for _ in range(5)]
    for s, srv in socks:
        h.eng.send(srv, pattern(1000))
    h.eng.destroy()
    for s, _ in socks:
        s.setblocking(True)
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
    with pytest.raises(net.BadHandleError):
        net.send(socks[0][1], b"x")


def test_close_timeout_on_silent_peer(make_h):
    """A graceful close waits for the peer's FIN at most close_timeout_ms."""
    h = make_h(close_timeout_ms=300)
    lst, _ = h.listen()
    s, srv = h.sock_connect(lst)
    t0 = time.monotonic()
    net.close(srv)
    status = h.wait_close(srv, timeout=5)
    elapsed = time.monotonic() - t0
    # Our FIN went out at once; the peer never closed its side.
    assert status in (0, net.Error.TIMEDOUT)
    assert elapsed < 4
