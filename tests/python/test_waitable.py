"""Engine.waitable(): an engine driven only through its descriptor, as
another event loop would drive it (here a ``selectors`` selector): wait
until it is ready, then poll(0) until fewer than max_events come back. No
poll of the engine ever waits."""

import selectors
import sys
import threading
import time

import pytest

import net

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a HANDLE, not a selectable descriptor")

MAX = 4  # small, so draining takes several polls


def _drain(eng):
    got = []
    while True:
        evs = eng.poll(0)
        got.extend(evs)
        if len(evs) < MAX:
            return got


def _until(eng, sel, want, seconds=5.0):
    """Waits on the selector only, draining on readiness, until want(events)."""
    seen = []
    end = time.monotonic() + seconds
    while not want(seen):
        left = end - time.monotonic()
        assert left > 0, "not ready in time; saw %r" % [e.type for e in seen]
        if sel.select(left):
            seen.extend(_drain(eng))
    return seen


def _quiet(eng, sel):
    """Drained: not ready, or once spuriously (poll(0) finds nothing)."""
    assert _drain(eng) == []
    if sel.select(0):
        assert _drain(eng) == []
        assert not sel.select(0), "ready twice with nothing to poll"


def test_waitable_wakes_for_posts_and_echo(mode):
    eng = net.Engine(mode.backend, mode.io_threads, max_events=MAX)
    sel = selectors.DefaultSelector()
    try:
        fd = eng.waitable()
        assert eng.waitable() == fd
        sel.register(fd, selectors.EVENT_READ)
        assert sel.select(0), "ready when first handed out"
        _quiet(eng, sel)

        # Posts from another thread: all arrive, in order, through readiness.
        count = 2000
        t = threading.Thread(target=lambda: [eng.post(i) for i in range(count)])
        t.start()
        seen = _until(eng, sel, lambda s: len(s) >= count)
        t.join()
        assert [(e.type, e.user) for e in seen] == [(net.EV_USER, i) for i in range(count)]
        _quiet(eng, sel)

        # A framed echo inside the one engine: ACCEPT, CONNECT, DATA both ways.
        lst = eng.listen("127.0.0.1", 0, framing="u16le")
        cli = eng.connect("127.0.0.1", net.local_addr(lst).port, framing="u16le")
        seen = _until(eng, sel, lambda s: {net.EV_ACCEPT, net.EV_CONNECT} <= {e.type for e in s})
        srv = next(e.handle for e in seen if e.type == net.EV_ACCEPT)
        eng.send(cli, b"ping")  # between polls: only the descriptor says a poll must send it
        seen = _until(eng, sel, lambda s: any(e.type == net.EV_DATA for e in s))
        assert [(e.handle, e.data) for e in seen if e.type == net.EV_DATA] == [(srv, b"ping")]
        eng.send(srv, b"pong")
        seen = _until(eng, sel, lambda s: any(e.type == net.EV_DATA for e in s))
        assert [(e.handle, e.data) for e in seen if e.type == net.EV_DATA] == [(cli, b"pong")]
        net.close(cli)
        _until(eng, sel, lambda s: {e.handle for e in s if e.type == net.EV_CLOSE} == {cli, srv})
        net.close(lst)
        _until(eng, sel, lambda s: any(e.type == net.EV_CLOSE and e.handle == lst for e in s))
        _quiet(eng, sel)
    finally:
        sel.close()
        eng.destroy()
    with pytest.raises(net.BadHandleError):
        eng.waitable()
