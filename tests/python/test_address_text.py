"""Addresses round-trip: the text net prints (str(Address): "127.0.0.1:9",
"[::1]:7000") is what connect, udp_connect and sendto accept, as Lua's
sendto does, beside (host, port) and net.Address; IPv4 and IPv6."""

import pytest

import net

FAMILIES = [("127.0.0.1", "%s:%d"), ("::1", "[%s]:%d")]


@pytest.mark.parametrize("host,form", FAMILIES)
def test_str_of_an_address_is_the_text_form(host, form):
    a = net.addr_parse(host, 7000)
    assert str(a) == form % (host, 7000)
    assert net.format_addr(a) == str(a)


@pytest.mark.parametrize("host,form", FAMILIES)
def test_connect_accepts_what_local_addr_prints(h, host, form):
    lst = h.eng.listen(host, 0)
    text = str(net.local_addr(lst))
    assert text == form % (host, net.local_addr(lst).port)
    c = h.eng.connect(text)
    ev = h.wait(net.EV_CONNECT, c)
    assert ev.status == 0
    assert net.peer_addr(c) == net.local_addr(lst)
    acc = h.wait(net.EV_ACCEPT)
    assert str(acc.addr) == str(net.local_addr(c))


@pytest.mark.parametrize("host,form", FAMILIES)
def test_connect_accepts_an_address_and_a_tuple(h, host, form):
    lst = h.eng.listen(host, 0)
    a = net.local_addr(lst)
    for target in (a, (a.host, a.port)):
        c = h.eng.connect(target)
        assert h.wait(net.EV_CONNECT, c).status == 0
        net.close(c)


@pytest.mark.parametrize("host,form", FAMILIES)
def test_sendto_accepts_the_text_form_both_ways(h, host, form):
    a = h.eng.udp_open(host, 0)
    b = h.eng.udp_open(host, 0)
    net.sendto(a, str(net.local_addr(b)), b"to b")
    ev = h.wait(net.EV_DATAGRAM, b)
    assert ev.data == b"to b"
    assert str(ev.addr) == str(net.local_addr(a))
    # The sender's printed address answers it.
    net.sendto(b, str(ev.addr), b"back")
    assert h.wait(net.EV_DATAGRAM, a).data == b"back"


def test_sendto_text_like_luas_with_port_9(h):
    u = h.eng.udp_open("127.0.0.1", 0)
    net.sendto(u, "127.0.0.1:9", b"x")  # queued; nothing listens on 9: no error here


@pytest.mark.parametrize("host,form", FAMILIES)
def test_udp_connect_accepts_the_text_form(h, host, form):
    a = h.eng.udp_open(host, 0)
    b = h.eng.udp_open(host, 0)
    net.udp_connect(a, str(net.local_addr(b)))
    assert net.peer_addr(a) == net.local_addr(b)
    net.send(a, b"connected")
    assert h.wait(net.EV_DATAGRAM, b).data == b"connected"


@pytest.mark.parametrize("text", ["127.0.0.1", "::1:9", "[::1:9", "127.0.0.1:", ":80",
                                  "127.0.0.1:99999", "127.0.0.1:x"])
def test_malformed_text_is_a_value_error_naming_the_form(h, text):
    u = h.eng.udp_open("127.0.0.1", 0)
    with pytest.raises(net.InvalidArgumentError) as ei:
        net.sendto(u, text, b"x")
    assert isinstance(ei.value, ValueError)
    assert str(ei.value).startswith("sendto: ")
    with pytest.raises(ValueError) as ei:
        h.eng.connect(text)
    assert str(ei.value).startswith("Engine.connect: ")
