"""``python3 -m net``: what this machine gets, and whether it works.

Prints the version, the library loaded (its full path), the backend an
engine gets here (``NET_BACKEND`` is honoured) and the result of a loopback
self-test: a TCP listener and a connection echo a few framed messages, a UDP
socket echoes a datagram to another, everything closes; all of it within a
time bound. Exit status 0 only if the self-test passed.
"""

import sys
import time

import net

TIMEOUT_S = 5.0
MESSAGES = (b"hello", b"", b"x" * 1000)
DATAGRAM = b"ping"


class SelfTestFailure(Exception):
    """One step of the self-test did not do what it should."""


def _poll_until(eng, done, deadline, what):
    """Poll eng, giving each event to done(ev), until done returns True;
    SelfTestFailure past the deadline."""
    while time.monotonic() < deadline:
        for ev in eng.poll(20):
            if done(ev):
                return
    raise SelfTestFailure("timed out waiting for " + what)


def _tcp_echo(eng, deadline):
    """Framed messages over a loopback connection, echoed by the listener's side."""
    listener = eng.listen("127.0.0.1", 0, framing="u16le")
    conn = eng.connect(str(net.local_addr(listener)), framing="u16le")
    echoed = []
    state = {"connected": False, "closes": 0}

    def step(ev):
        if ev.type == net.EV_CONNECT and ev.handle == conn:
            if ev.status:
                raise SelfTestFailure("connect failed: %s" % ev.error)
            state["connected"] = True
            for m in MESSAGES:
                net.send(conn, m)
        elif ev.type == net.EV_DATA and ev.handle != conn:
            net.send(ev.handle, ev.data)  # the server side echoes
        elif ev.type == net.EV_DATA:
            echoed.append(bytes(ev.data))
        elif ev.type == net.EV_CLOSE and ev.handle == conn and not state["connected"]:
            raise SelfTestFailure("connection closed before connecting: %s" % ev.error)
        return len(echoed) == len(MESSAGES)

    _poll_until(eng, step, deadline, "%d echoed TCP messages" % len(MESSAGES))
    if echoed != list(MESSAGES):
        raise SelfTestFailure("TCP echo changed the messages: %r" % (echoed,))
    net.close(conn)
    net.close(listener)

    def closed(ev):
        if ev.type == net.EV_CLOSE and ev.handle in (conn, listener):
            state["closes"] += 1
        return state["closes"] == 2

    _poll_until(eng, closed, deadline, "the TCP handles to close")
    return "%d framed messages echoed over TCP" % len(MESSAGES)


def _udp_echo(eng, deadline):
    """One datagram to a second UDP socket, answered to the sender's address."""
    server = eng.udp_open("127.0.0.1", 0)
    client = eng.udp_open("127.0.0.1", 0)
    net.sendto(client, str(net.local_addr(server)), DATAGRAM)
    got = []

    def step(ev):
        if ev.type == net.EV_DATAGRAM and ev.handle == server:
            net.sendto(server, ev.addr, ev.data)
        elif ev.type == net.EV_DATAGRAM and ev.handle == client:
            got.append(bytes(ev.data))
        elif ev.type == net.EV_ERROR:
            raise SelfTestFailure("UDP error: %s" % ev.error)
        return bool(got)

    _poll_until(eng, step, deadline, "the UDP echo")
    if got != [DATAGRAM]:
        raise SelfTestFailure("UDP echo changed the datagram: %r" % (got,))
    net.close(client)
    net.close(server)
    return "a datagram echoed over UDP"


def self_test(eng, timeout_s=TIMEOUT_S):
    """Run the loopback self-test on eng: what passed, as text; raises
    SelfTestFailure (or a net.NetError) when something does not work."""
    deadline = time.monotonic() + timeout_s
    return [_tcp_echo(eng, deadline), _udp_echo(eng, deadline)]


def main():
    print("net %s" % net.__version__)
    print("library: %s" % net.library_path)
    try:
        eng = net.Engine()
    except net.NetError as e:
        print("backend: none (%s)" % e)
        print("self-test: FAILED: no engine")
        return 1
    with eng:
        print("backend: %s" % eng.backend)
        start = time.monotonic()
        try:
            passed = self_test(eng)
        except (SelfTestFailure, net.NetError) as e:
            print("self-test: FAILED: %s" % e)
            return 1
    print("self-test: passed (%s) in %.0f ms" % (", ".join(passed),
                                                  (time.monotonic() - start) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
