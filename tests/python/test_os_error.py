"""A failed listen, udp_open, udp_connect or connect carries the OS error
behind it (``net_last_os_error``), so a user sees errno 98 beside
NET_E_ADDRINUSE, not the library's code alone."""

import errno
import socket

import pytest

import net


def test_listen_on_a_taken_port_says_eaddrinuse(h):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(net.AddressInUseError) as info:
            h.eng.listen("127.0.0.1", port, framing="u16le")
    finally:
        taken.close()
    assert info.value.os_error == errno.EADDRINUSE
    assert "[os error %d]" % errno.EADDRINUSE in str(info.value)


def test_udp_open_on_a_taken_port_says_eaddrinuse(h):
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        with pytest.raises(net.AddressInUseError) as info:
            h.eng.udp_open("127.0.0.1", port)
    finally:
        taken.close()
    assert info.value.os_error == errno.EADDRINUSE
