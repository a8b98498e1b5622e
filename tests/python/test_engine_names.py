"""One name per operation across the bindings: an engine ends with close()
(destroy() the same call, `with` the idiom); after that every call and
`with` raise a clear error. Events print by name; the documented default
type of a DATA payload is what poll gives."""

import pytest

import net


def test_close_ends_the_engine_and_destroy_is_the_same_call():
    for end in ("close", "destroy"):
        e = net.Engine()
        h = e.handle
        getattr(e, end)()
        assert e.handle == 0
        assert net.lib.net_post(h, 1) == net.Error.BADHANDLE
        e.close()  # idempotent, whichever ended it
        e.destroy()


def test_with_ends_the_engine():
    with net.Engine() as e:
        assert e.handle
    assert e.handle == 0


CALLS_AFTER_CLOSE = [
    ("poll", lambda e: e.poll(0)),
    ("post", lambda e: e.post(1)),
    ("wakeup", lambda e: e.wakeup()),
    ("stats", lambda e: e.stats()),
    ("listen", lambda e: e.listen("127.0.0.1", 0)),
    ("connect", lambda e: e.connect("127.0.0.1", 9)),
    ("udp_open", lambda e: e.udp_open("127.0.0.1", 0)),
    ("timer", lambda e: e.timer(10)),
]


@pytest.mark.parametrize("name,call", CALLS_AFTER_CLOSE, ids=[n for n, _ in CALLS_AFTER_CLOSE])
def test_every_call_after_close_says_the_engine_is_closed(name, call):
    e = net.Engine()
    e.close()
    with pytest.raises(net.BadHandleError) as ei:
        call(e)
    assert str(ei.value).startswith("Engine.%s: the engine is closed" % name)


def test_with_after_close_raises():
    e = net.Engine()
    e.close()
    with pytest.raises(net.BadHandleError, match="the engine is closed"):
        with e:
            pytest.fail("entered a closed engine")


def test_engine_close_takes_no_handle():
    with net.Engine() as e:
        u = e.udp_open("127.0.0.1", 0)
        with pytest.raises(TypeError, match=r"net\.close\(handle\)"):
            e.close(u)
        assert e.handle  # still open
        net.close(u)     # the handle's close is the module's


def test_events_print_by_name():
    assert issubclass(net.EventType, int)
    assert net.EV_DATA.name == "DATA" and net.EV_DATA == 3
    with net.Engine() as e:
        e.post(5)
        lst = e.listen("127.0.0.1", 0)
        c = e.connect(str(net.local_addr(lst)))
        seen = {}
        for _ in range(200):
            for ev in e.poll(10):
                seen[ev.type] = ev
            if {net.EV_USER, net.EV_ACCEPT, net.EV_CONNECT} <= set(seen):
                break
    assert repr(seen[net.EV_USER]).startswith("Event(USER handle=")
    assert repr(seen[net.EV_ACCEPT]).startswith("Event(ACCEPT handle=")
    assert repr(seen[net.EV_CONNECT]).startswith("Event(CONNECT handle=%#x" % c)
    assert seen[net.EV_CONNECT].type is net.EventType.CONNECT


@pytest.mark.parametrize("views,kind", [(False, bytes), (True, memoryview)])
def test_data_payload_type_is_the_documented_one(views, kind):
    # net/__init__.py, Engine and Event say: bytes by default, a memoryview
    # with views=True.
    doc = net.__doc__ + net.Engine.__doc__ + net.Event.__doc__
    assert "``data`` is ``bytes``, or with ``Engine(views=True)``" in net.__doc__
    assert "``views=False`` (the default)" in doc
    with net.Engine(views=views) as e:
        lst = e.listen("127.0.0.1", 0)
        c = e.connect(str(net.local_addr(lst)))
        data = None
        for _ in range(300):
            for ev in e.poll(10):
                if ev.type == net.EV_CONNECT:
                    net.send(c, b"payload")
                elif ev.type == net.EV_DATA:
                    data = ev.data
            if data is not None:
                break
        assert type(data) is kind
        assert bytes(data) == b"payload"
