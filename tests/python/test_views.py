"""views=True: payload memoryviews never expose memory the engine recycled.

``ev.data`` itself is released at the next poll (ValueError after that).
Whatever was derived from it - a slice, ``memoryview(ev.data)``, ``cast``,
``toreadonly``, the ``.obj`` behind it, an object that took its buffer
through the buffer protocol - must read the original bytes for as long as
it lives, or raise ValueError: never other bytes, never freed memory.
Each test keeps such objects across many polls whose traffic reuses the
engine's (and the binding's) memory, then checks every one of them.
"""

import gc
import time

import pytest

import net
from harness import pattern

N_AFTER = 200  # messages polled after the kept one: plenty to recycle memory


def _next_data(h, handle, timeout=10.0):
    """The next DATA event of handle, straight from the engine (its view
    intact). The rest of that poll's events wait in h.pending (views still
    valid: no poll happens before they are all taken); others are parked."""
    pending = h.__dict__.setdefault("pending", [])
    end = time.monotonic() + timeout
    while True:
        while pending:
            ev = pending.pop(0)
            if ev.type == net.EV_DATA and ev.handle == handle:
                return ev
            h._park(ev)
        if time.monotonic() > end:
            raise AssertionError("no DATA for %#x" % handle)
        pending.extend(h.eng.poll(20))


def _churn(h, cli, srv, size, count, seed=99):
    """count more messages through srv, each one polled (views released,
    memory recycled); checks their own payloads on the way (a raw stream may
    cut a message into several DATA events)."""
    for i in range(count):
        want = pattern(size, seed + i)
        h.eng.send(cli, want)
        got = bytes(_next_data(h, srv).data)
        while len(got) < size:
            got += _next_data(h, srv).data
        assert got == want


def _derive(data):
    """Every kind of object that refers to a payload view's memory."""
    kept = {
        "slice": data[2:],
        "slice_step": data[1::3],
        "memoryview": memoryview(data),
        "toreadonly": data.toreadonly(),
        "cast": data.cast("B"),
        "slice_of_slice": data[1:][1:],
        "obj": data.obj,  # the exporter behind the view
        "cffi_from_buffer": net.ffi.from_buffer(data),  # a buffer-protocol consumer
    }
    return kept


def _check(kept, original):
    """Each kept object reads `original` (its part of it) or raises ValueError."""
    want = {
        "slice": original[2:], "slice_step": original[1::3], "memoryview": original,
        "toreadonly": original, "cast": original, "slice_of_slice": original[2:],
        "cffi_from_buffer": original, "data": original,
    }
    for name, obj in kept.items():
        try:
            if name == "cffi_from_buffer":
                got = net.ffi.buffer(obj)[:]
            elif name == "obj":
                got = bytes(obj)
                # The exporter may hold other payloads too; the original
                # bytes must still be in it, untouched.
                assert original in got, "%s: original bytes gone from the exporter" % name
                continue
            else:
                got = bytes(obj)
        except ValueError:
            continue  # released: allowed
        assert got == want[name], "%s reads other bytes than the original payload" % name


@pytest.mark.parametrize("framing,size", [("u32le", 100), ("u32le", 3000), ("raw", 700),
                                          ("u16le", 60000)],
                         ids=["u32le-100", "u32le-3000", "raw-700", "u16le-60000"])
def test_derived_views_survive_recycling(make_h, framing, size):
    h = make_h(views=True)
    lst, cli, srv = h.pair(framing)
    original = pattern(size, 1)
    h.eng.send(cli, original)
    ev = _next_data(h, srv)
    if framing == "raw":  # a stream may cut it: keep the first piece
        rest = size - len(ev.data)
        original = bytes(ev.data)
    assert ev.data == original
    kept = _derive(ev.data)
    if framing == "raw":
        while rest > 0:
            rest -= len(_next_data(h, srv).data)
    kept["data"] = ev.data  # released at the next poll, unless exported further
    _churn(h, cli, srv, size, N_AFTER)
    _check(kept, original)
    del kept
    gc.collect()
    _churn(h, cli, srv, size, 20, seed=500)  # the memory is reusable again


def test_kept_slice_in_a_loop(make_h):
    """The common pattern: a slice bound to a variable that outlives the
    loop body (the last one lingers into the next poll)."""
    h = make_h(views=True)
    lst, cli, srv = h.pair("u16le")
    bodies = []
    for i in range(300):
        msg = pattern(500 + i % 7, i)
        h.eng.send(cli, msg)
        ev = _next_data(h, srv)
        body = ev.data[4:]
        if i % 10 == 0:
            bodies.append((msg[4:], body))
    for want, got in bodies:
        assert bytes(got) == want


def test_datagram_derived_views_survive(make_h):
    h = make_h(views=True)
    a = h.eng.udp_open("127.0.0.1", 0)
    b = h.eng.udp_open("127.0.0.1", 0)
    to = net.local_addr(b)
    original = pattern(1200, 3)

    def next_dgram():
        end = time.monotonic() + 10
        while time.monotonic() < end:
            for ev in h.eng.poll(20):
                if ev.type == net.EV_DATAGRAM and ev.handle == b:
                    return ev
        raise AssertionError("no DATAGRAM")

    net.sendto(a, to, original)
    ev = next_dgram()
    assert ev.data == original
    kept = _derive(ev.data)
    kept["data"] = ev.data
    for i in range(N_AFTER):
        net.sendto(a, to, pattern(1200, 10 + i))
        assert next_dgram().data == pattern(1200, 10 + i)
    _check(kept, original)


def test_views_released_at_destroy_derived_stay(make_h):
    h = make_h(views=True)
    lst, cli, srv = h.pair("u16le")
    h.eng.send(cli, b"last words")
    ev = _next_data(h, srv)
    tail = ev.data[5:]
    h.eng.destroy()
    with pytest.raises(ValueError):
        bytes(ev.data)
    assert bytes(tail) == b"words"


def test_binding_memory_is_reused(make_h):
    """Views cost no allocation per poll once nothing is kept: the binding's
    buffers are recycled (bounded), not grown with the traffic."""
    h = make_h(views=True)
    lst, cli, srv = h.pair("u32le")
    _churn(h, cli, srv, 20000, 100)
    pool = h.eng._payload_chunks()
    _churn(h, cli, srv, 20000, 300, seed=7)
    assert h.eng._payload_chunks() <= max(pool, 8)


def test_empty_messages(make_h):
    """A framed empty message is an empty view, first thing in a poll or not
    (found by the API fuzzer: no chunk existed yet)."""
    h = make_h(views=True)
    lst, cli, srv = h.pair("u16le")
    h.eng.send(cli, b"")
    ev = _next_data(h, srv)
    assert isinstance(ev.data, memoryview) and ev.len == 0 and ev.data == b""
    h.eng.send(cli, b"x")
    h.eng.send(cli, b"")
    assert _next_data(h, srv).data == b"x"
    assert _next_data(h, srv).data == b""
