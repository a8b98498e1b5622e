"""Every public call refuses an argument of the wrong Python type with a
TypeError that names the call and the argument (never a raw cffi error or an
AttributeError), table-driven over every public function and Engine method."""

import inspect

import pytest

import net

# Wrong values for each kind of argument (none of them valid for that kind).
WRONG = {
    "int": [None, "1", 1.5, b"1", object()],
    "opt_int": ["1", 1.5, b"1", object()],
    "int_or_name": [None, 1.5, b"raw", object()],
    "host_or_none": [5, b"127.0.0.1", object()],
    "host": [None, 5, b"127.0.0.1"],
    "address": [5, b"127.0.0.1:9", object(), (b"127.0.0.1", 9)],
    "bytes": ["text", 5, None, object()],
    "parts": [None, 5, "ab", [b"a", "b"]],
    "handles": [None, 5, [1, "x"]],
    "address_record": [None, 5, "127.0.0.1:9"],
}


@pytest.fixture(scope="module")
def eng():
    with net.Engine() as e:
        yield e


@pytest.fixture(scope="module")
def udp(eng):
    return eng.udp_open("127.0.0.1", 0)


def _table(eng, udp):
    """(label, callable, {argument: (valid value, kind)}) for every public
    call that takes arguments; positional in this order."""
    a = net.local_addr(udp)
    return [
        ("strerror", net.strerror, {"code": (-1, "int")}),
        ("send", net.send, {"conn": (udp, "int"), "data": (b"x", "bytes")}),
        ("sendv", net.sendv, {"conn": (udp, "int"), "parts": ([b"x"], "parts")}),
        ("send_many", net.send_many, {"conns": ([udp], "handles"), "datas": ([b"x"], "parts")}),
        ("send_packed", net.send_packed, {"conns": ([udp], "handles"), "lens": ([1], "handles"),
                                          "payload": (b"x", "bytes")}),
        ("broadcast", net.broadcast, {"conns": ([udp], "handles"), "data": (b"x", "bytes")}),
        ("close", net.close, {"handle": (udp, "int")}),
        ("abort", net.abort, {"conn": (udp, "int")}),
        ("shutdown", net.shutdown, {"conn": (udp, "int")}),
        ("set_user", net.set_user, {"handle": (udp, "int"), "user": (1, "int")}),
        ("get_user", net.get_user, {"handle": (udp, "int")}),
        ("set_option", net.set_option, {"handle": (udp, "int"),
                                        "option": ("send_cap", "int_or_name"),
                                        "value": (1 << 20, "int")}),
        ("get_option", net.get_option, {"handle": (udp, "int"),
                                        "option": ("send_cap", "int_or_name")}),
        ("local_addr", net.local_addr, {"handle": (udp, "int")}),
        ("peer_addr", net.peer_addr, {"conn": (udp, "int")}),
        ("send_queued", net.send_queued, {"conn": (udp, "int")}),
        ("format_addr", net.format_addr, {"addr": (a, "address_record")}),
        ("backend_available", net.backend_available, {"backend": ("epoll", "int_or_name")}),
        ("sendto", net.sendto, {"udp": (udp, "int"), "addr": (a, "address"),
                                "data": (b"x", "bytes")}),
        ("udp_connect", net.udp_connect, {"udp": (udp, "int"), "host": ("127.0.0.1", "address"),
                                          "port": (a.port, "opt_int")}),
        ("addr_parse", net.addr_parse, {"host": ("127.0.0.1", "host"), "port": (9, "int")}),
        ("Engine", net.Engine, {"backend": ("auto", "int_or_name"), "io_threads": (0, "int"),
                                "max_events": (16, "int"), "max_connections": (10, "opt_int")}),
        ("Engine.poll", eng.poll, {"timeout_ms": (0, "int")}),
        ("Engine.poll_columns", eng.poll_columns, {"timeout_ms": (0, "int")}),
        ("Engine.poll_forward", eng.poll_forward, {"timeout_ms": (0, "int"), "to": (None, "opt_int")}),
        ("Engine.post", eng.post, {"value": (1, "int")}),
        ("Engine.queue_send", eng.queue_send, {"conn": (udp, "int"), "data": (b"x", "bytes")}),
        ("Engine.listen", eng.listen, {"host": ("127.0.0.1", "host_or_none"),
                                       "port": (0, "int"), "framing": ("raw", "int_or_name"),
                                       "flags": (None, "opt_int"), "max_message": (0, "int"),
                                       "backlog": (0, "int"), "user": (0, "int")}),
        ("Engine.connect", eng.connect, {"host": ("127.0.0.1", "address"),
                                         "port": (9, "opt_int"),
                                         "framing": ("raw", "int_or_name"),
                                         "flags": (None, "opt_int"), "max_message": (0, "int"),
                                         "user": (0, "int")}),
        ("Engine.udp_open", eng.udp_open, {"host": ("127.0.0.1", "host_or_none"),
                                           "port": (0, "int"), "flags": (None, "opt_int"),
                                           "max_datagram": (0, "int"), "send_cap": (0, "int"),
                                           "rcvbuf": (0, "int"), "sndbuf": (0, "int"),
                                           "user": (0, "int")}),
        ("Engine.timer", eng.timer, {"delay_ms": (1000, "int"), "repeat_ms": (0, "int"),
                                     "user": (0, "int")}),
        ("rudp_send", net.rudp_send, {"session": (udp, "int"), "channel": (0, "int"),
                                      "mode": ("unreliable", "int_or_name"), "data": (b"x", "bytes")}),
        ("rudp_stats", net.rudp_stats, {"handle": (udp, "int")}),
        ("Engine.rudp_listen", eng.rudp_listen, {"host": ("127.0.0.1", "host_or_none"), "port": (0, "int"),
                                                 "channels": (0, "int"), "max_message": (0, "int"),
                                                 "user": (0, "int")}),
        ("Engine.rudp_connect", eng.rudp_connect, {"host": ("127.0.0.1", "address"), "port": (9, "opt_int"),
                                                   "channels": (0, "int"), "idle_timeout_ms": (0, "int"),
                                                   "user": (0, "int")}),
    ]


# Public calls without arguments (nothing to get wrong) and the classes that
# are records or exceptions, not calls.
NO_ARGUMENTS = {"version", "version_string", "Engine.wakeup", "Engine.waitable", "Engine.stats", "Engine.close",
                "Engine.destroy", "Engine.flush"}


def _cases():
    with net.Engine() as e:
        u = e.udp_open("127.0.0.1", 0)
        return [(label, arg, i) for label, _, args in _table(e, u)
                for arg, (_, kind) in args.items() for i in range(len(WRONG[kind]))]


@pytest.mark.parametrize("label,arg,i", _cases())
def test_wrong_type_names_call_and_argument(eng, udp, label, arg, i):
    table = {lbl: (fn, args) for lbl, fn, args in _table(eng, udp)}
    fn, args = table[label]
    kind = args[arg][1]
    bad = WRONG[kind][i]
    values = {k: v for k, (v, _) in args.items()}
    values[arg] = bad
    params = inspect.signature(fn).parameters
    positional = [k for k, p in params.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    call_args = [values.pop(k) for k in positional if k in values]
    with pytest.raises(TypeError) as ei:
        r = fn(*call_args, **values)
        if isinstance(r, net.Engine):
            r.close()
    text = str(ei.value)
    assert text.startswith(label + ": "), text
    assert arg in text, text
    # A list with one bad item names that item ("parts[1]") and its type.
    named = bad[1] if isinstance(bad, list) else bad
    assert "must be" in text and text.endswith("not " + type(named).__name__), text


def test_the_table_covers_every_public_call(eng, udp):
    covered = {label for label, _, _ in _table(eng, udp)} | NO_ARGUMENTS
    public = set()
    for name in net.__all__:
        obj = getattr(net, name)
        if inspect.isfunction(obj) and name not in ("error_for",):
            public.add(name)
    for name, member in inspect.getmembers(net.Engine, inspect.isfunction):
        if not name.startswith("_") and not hasattr(net, name):
            public.add("Engine." + name)
    public.add("Engine")
    assert public - covered == set()


def test_the_examples_of_the_issue():
    with net.Engine() as e:
        with pytest.raises(TypeError, match=r"^Engine\.listen: port must be an int, not NoneType"):
            e.listen(None, None)
        with pytest.raises(TypeError, match=r"^Engine\.connect: host must be .*, not NoneType"):
            e.connect(None, 80)
        # A bytes host is refused (a str is the one spelling of a host).
        with pytest.raises(TypeError, match=r"^Engine\.listen: host must be a str or None, "
                                            r"not bytes"):
            e.listen(b"127.0.0.1", 0)
        u = e.udp_open("127.0.0.1", 0)
        with pytest.raises(TypeError, match=r"^send: data must be bytes-like .*, not str"):
            net.send(u, "str")
