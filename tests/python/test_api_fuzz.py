"""Property-based API fuzzer of the Python binding (hypothesis).

Random call sequences on a real loopback engine, per backend and io_threads
0 and 1: engine creation with bad configs, listen, connect, udp_open,
udp_connect, sendto, send, sendv, broadcast, close, abort, shutdown,
set/get option with any option number and value, set/get user, timers,
post, wakeup, stats, poll with random max_events and timeouts, local/peer
address, send_queued - on live, closing, closed (stale), zero, forged,
out-of-range handles and handles of the wrong kind, with arguments of the
wrong type, out of range, and large. What must hold:

* nothing crashes; a failure is a ``net.NetError`` whose code is a
  ``NET_E_*`` of include/net.h, one of those the call documents (its class
  the one ``net.error_for`` gives), or ``TypeError`` for an argument of the
  wrong Python type - nothing else;
* a success returns the documented type;
* events have known types; exactly one CLOSE per connection, listener and
  UDP socket, none for a timer, nothing after a CLOSE; posted values come
  back in order; a DATA/DATAGRAM payload's length is ``len``;
* a handle whose CLOSE was polled, a stopped timer, zero, a forged or
  out-of-range handle is refused with BADHANDLE (when the other arguments
  are valid); once the engine is destroyed, every handle and the engine are;
* after each example the engine is destroyed and the process holds exactly
  the descriptors it held before.

Deterministic: ``derandomize=True`` (hypothesis derives its seed from the
test) and no example database; ``NET_FUZZ_EXAMPLES`` sets the number of
examples per backend and thread mode (default 50), ``NET_FUZZ_SEED=N``
explores another fixed sequence, ``NET_FUZZ_TRACE=1``
prints every call, ``NET_FUZZ_SHRINK=1`` shrinks a failing example (slow:
each replay runs real sockets).
"""

import collections
import os
import re
import time

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="python3-hypothesis is not installed")
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import net  # noqa: E402
from conftest import ROOT  # noqa: E402

EXAMPLES = int(os.environ.get("NET_FUZZ_EXAMPLES", "50"))
# Another fixed seed explores other sequences (printed in the report header);
# without it hypothesis derives its seed from the test: the same every run.
SEED = os.environ.get("NET_FUZZ_SEED")
TRACE = os.environ.get("NET_FUZZ_TRACE")  # set: print every call and its outcome
# Shrinking replays a failing example many times over real sockets (minutes):
# off unless asked for; a failure prints its draws either way.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + (
    [Phase.shrink] if os.environ.get("NET_FUZZ_SHRINK") else [])
STEPS = 40  # most calls per example


def _header_codes():
    with open(os.path.join(ROOT, "include", "net.h"), encoding="utf-8") as f:
        text = f.read()
    codes = {int(v): name for name, v in re.findall(r"\bNET_E_(\w+)\s*=\s*(-\d+)", text)}
    assert codes, "no NET_E_* codes found in net.h"
    return codes


CODES = _header_codes()  # code -> name, as documented in net.h
E = {name: code for code, name in CODES.items()}

# What each call may return besides success, by net.h (BADHANDLE for a
# handle of the wrong kind, CLOSED for an object being closed, OS where a
# socket call can fail). A code outside these is a finding.
_SOCKET = {"BADHANDLE", "INVAL", "CLOSED", "OS"}
ALLOWED = {
    "engine": {"INVAL", "UNSUPPORTED", "NOMEM", "OS", "LIMIT"},
    "listen": {"INVAL", "ADDR", "ADDRINUSE", "OS", "NOMEM", "LIMIT", "UNSUPPORTED", "BADHANDLE"},
    "connect": {"INVAL", "ADDR", "OS", "NOMEM", "LIMIT", "UNREACHABLE", "REFUSED", "BADHANDLE"},
    "udp_open": {"INVAL", "ADDR", "ADDRINUSE", "OS", "NOMEM", "MSGSIZE", "UNSUPPORTED",
                 "BADHANDLE"},
    "udp_connect": _SOCKET | {"ADDR", "UNREACHABLE", "NOTCONN"},
    "send": {"BADHANDLE", "INVAL", "CLOSED", "WOULDBLOCK", "MSGSIZE", "NOTCONN", "NOMEM"},
    "sendv": {"BADHANDLE", "INVAL", "CLOSED", "WOULDBLOCK", "MSGSIZE", "NOTCONN", "NOMEM"},
    "sendto": {"BADHANDLE", "INVAL", "CLOSED", "WOULDBLOCK", "MSGSIZE", "NOTCONN", "NOMEM",
               "ADDR", "UNREACHABLE"},
    "broadcast": {"INVAL", "MSGSIZE", "NOMEM"},
    "broadcast_result": {"BADHANDLE", "INVAL", "CLOSED", "WOULDBLOCK", "MSGSIZE", "NOTCONN",
                         "NOMEM"},
    "close": {"BADHANDLE"},
    "abort": {"BADHANDLE", "INVAL"},
    "shutdown": {"BADHANDLE", "INVAL", "CLOSED", "NOTCONN"},
    "set_user": {"BADHANDLE", "INVAL"},
    "get_user": {"BADHANDLE"},
    "set_option": _SOCKET | {"UNSUPPORTED"},
    "get_option": _SOCKET | {"UNSUPPORTED"},
    "local_addr": _SOCKET,
    "peer_addr": _SOCKET | {"NOTCONN"},
    "send_queued": {"BADHANDLE", "INVAL", "CLOSED"},
    "timer": {"INVAL", "NOMEM", "BADHANDLE"},
    "post": {"INVAL", "NOMEM", "BADHANDLE"},
    "poll": {"INVAL", "BADHANDLE"},
    "wakeup": {"BADHANDLE"},
    "stats": {"BADHANDLE"},
}
CLOSE_REASONS = set(CODES)  # a CLOSE/CONNECT status: 0 or any documented code

# ---------------------------------------------------------------- argument strategies
# Each draws (value, kind): kind "ok", "range" (an int outside its C type's
# range, or a value the call must refuse), or "type" (the wrong Python type).

EDGE_INTS = [0, 1, -1, 2, 255, 65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1, 2**32 - 1,
             2**32, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64 - 1, 2**64, 2**80, -2**80]


def _u(bits):
    return lambda v: "ok" if 0 <= v < 2**bits else "range"


def _s(bits):
    return lambda v: "ok" if -2**(bits - 1) <= v < 2**(bits - 1) else "range"


def ints(check, small=st.integers(0, 100)):
    return st.one_of(small, st.sampled_from(EDGE_INTS)).map(lambda v: (v, check(v)))


WRONG_TYPES = st.sampled_from([None, "1", 1.5, b"\x01", [1], object()])

# -------------------------------------------------------------------- the model


def _short(x, n=120):
    text = repr(x)
    return text if len(text) <= n else text[:n] + "...(%d chars)" % len(text)


def _fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return None


class Fuzz:
    def __init__(self, mode, data):
        self.mode = mode
        self.d = data
        self.eng = None
        self.kind = {}          # handle -> "conn" | "listener" | "udp" | "timer"
        self.closed = {}        # handle -> CLOSE status, as polled
        self.closing = set()    # close/abort called, CLOSE not polled yet
        self.timers_stopped = set()  # closed, or one-shot and fired: stale
        self.one_shot = set()
        self.posted = collections.deque()
        self.listen_addrs = []
        self.udp_addrs = []
        self.views = False
        self.seen = collections.Counter()  # (call, outcome) for the report

    def draw(self, strategy, label):
        return self.d.draw(strategy, label=label)

    def pick(self, seq, label):
        """An element of seq (None if empty). Always exactly one draw, of a
        fixed strategy: what the engine did so far (which varies with
        timing) must not change the shape of the draws, or hypothesis could
        not replay an example."""
        i = self.draw(st.integers(0, 2**16), label)
        return seq[i % len(seq)] if seq else None

    # ---- calling and checking

    def call(self, what, fn, *args, kinds=(), handle=None, **kw):
        """Call fn; check that it fails only as documented. kinds: the
        argument kinds ("ok", "range", "type"); handle: the handle passed
        (for the strict BADHANDLE rule). Returns (ok, result_or_code)."""
        wrong_type = "type" in kinds
        bad_value = "range" in kinds
        strict_bad_handle = (handle is not None and not wrong_type and not bad_value
                             and self._surely_dead(handle))
        if TRACE:
            print("  %s%s %s -> " % (what, _short(args), _short(kw)), end="")
        try:
            r = fn(*args, **kw)
        except net.NetError as e:
            if TRACE:
                print(repr(e), "os_error", e.os_error, "kind", self.kind.get(handle),
                      "closing" if handle in self.closing else "")
            code = int(e.code)
            name = CODES.get(code)
            assert name is not None, "%s: code %d is not in net.h (%r)" % (what, code, e)
            assert isinstance(e, type(net.error_for(code))), (what, e)
            self.seen[(what, name)] += 1
            if strict_bad_handle:
                assert code == E["BADHANDLE"], "%s on dead handle %#x: %r" % (what, handle, e)
            elif not bad_value and not wrong_type:
                assert name in ALLOWED[what], "%s: undocumented %s: %r" % (what, name, e)
            return False, code
        except TypeError as e:
            if TRACE:
                print("TypeError", e)
            assert wrong_type, "%s: TypeError for arguments of the right types: %r" % (what, e)
            self.seen[(what, "TypeError")] += 1
            return False, None
        if TRACE:
            print("ok", _short(r))
        self.seen[(what, "ok")] += 1
        assert not wrong_type, "%s accepted an argument of the wrong type" % what
        assert not strict_bad_handle, "%s succeeded on dead handle %#x" % (what, handle)
        return True, r

    def _surely_dead(self, h):
        if not isinstance(h, int) or isinstance(h, bool):
            return False
        if h == 0 or not 0 <= h < 2**64:
            return True
        return h in self.closed or h in self.timers_stopped

    # ---- handles

    def handle(self, label="handle"):
        """(handle, kind) of any sort: live, closing, dead, zero, forged,
        out of range, wrong type."""
        live = sorted(self.kind)
        dead = sorted(set(self.closed) | self.timers_stopped)
        which = self.draw(st.sampled_from(
            ["zero", "max", "forged", "range", "type"] + ["live"] * 15 + ["dead"] * 3),
            label + " sort")
        h = self.pick(live if which == "live" else dead, label)
        if which in ("live", "dead"):
            return (h, "ok") if h is not None else (0, "ok")
        if which == "zero":
            return 0, "ok"
        if which == "max":
            return 2**64 - 1, "ok"
        if which == "forged":
            return self.draw(st.integers(1, 2**64 - 1), label), "ok"
        if which == "range":
            return self.draw(st.sampled_from([-1, 2**64, -2**63, 2**100]), label), "ok"
        return self.draw(WRONG_TYPES, label), "type"

    def handle_of(self, kind, label="handle"):
        hs = sorted(h for h, k in self.kind.items() if k == kind)
        h = self.pick(hs, label + " of its kind")
        any_handle = self.handle(label)
        own_kind = self.draw(st.integers(0, 3), label + " kind") > 0
        if h is not None and own_kind:
            return h, "ok"
        return any_handle

    def payload(self, label="data"):
        sort = self.draw(st.sampled_from(
            ["small"] * 6 + ["medium", "large", "bytearray", "memoryview", "empty", "type"]),
            label + " sort")
        if sort == "small":
            return self.draw(st.binary(max_size=64), label), "ok"
        if sort == "medium":
            return bytes(self.draw(st.integers(65, 4096), label)), "ok"
        if sort == "large":  # past u16 framing, max_datagram, sometimes max_message
            return bytes(self.draw(st.sampled_from([65535, 65536, 65508, 300000, 2**20 + 1]),
                                   label)), "ok"
        if sort == "bytearray":
            return bytearray(self.draw(st.binary(max_size=64), label)), "ok"
        if sort == "memoryview":
            return memoryview(self.draw(st.binary(max_size=64), label))[1:], "ok"
        if sort == "empty":
            return b"", "ok"
        return self.draw(st.sampled_from([None, "text", 5, 1.5]), label), "type"

    def host(self, allow_none):
        """allow_none: a local side (listen, udp_open), where None and "" mean
        any address; a peer (connect, udp_connect) needs an address."""
        h = self.draw(st.sampled_from(["127.0.0.1", "127.0.0.1", "::1", "", "0.0.0.0", "::",
                                       "localhost", "a\0b", None, b"127.0.0.1", 7]), "host")
        if h is None:
            return h, "ok" if allow_none else "type"
        if not isinstance(h, str):
            return h, "type"
        return h, "range" if "\0" in h or (h == "" and not allow_none) else "ok"

    def peer_port(self, addrs=()):
        p, k = self.port(addrs)
        return p, "range" if p == 0 else k

    def port(self, addrs=()):
        p = self.draw(st.sampled_from([0, 0, 1, 9, 65535, 65536, -1, 2**40, "80", None]
                                      + ["used"] * 3), "port")
        a = self.pick(list(addrs), "used port")
        if p == "used":
            p = a.port if a is not None else 0
        if not isinstance(p, int):
            return p, "type"
        return p, "ok" if 0 <= p <= 65535 else "range"

    # ---- events

    def poll(self, timeout):
        ok, evs = self.call("poll", self.eng.poll, timeout,
                            kinds=("ok" if -1 <= timeout < 2**31 else "range",))
        if not ok:
            return
        assert isinstance(evs, list) and len(evs) <= self.max_events
        for ev in evs:
            self.check_event(ev)

    def check_event(self, ev):
        assert isinstance(ev, net.Event)
        assert isinstance(ev.type, net.EventType), "unknown event type %r" % (ev.type,)
        t, h = ev.type, ev.handle
        assert isinstance(h, int) and isinstance(ev.user, int) and 0 <= ev.user < 2**64
        if t == net.EV_USER:
            assert self.posted, "USER event nobody posted: %r" % (ev,)
            assert ev.user == self.posted.popleft(), "posted values out of order"
            return
        assert h not in self.closed, "event after CLOSE: %r" % (ev,)
        if t == net.EV_ACCEPT:
            assert self.kind.get(ev.parent) == "listener", ev
            assert h not in self.kind, "ACCEPT of a known handle: %r" % (ev,)
            self.kind[h] = "conn"
        elif t == net.EV_CLOSE:
            assert self.kind.get(h) in ("conn", "listener", "udp"), "CLOSE of %r" % (ev,)
            assert ev.status == 0 or ev.status in CLOSE_REASONS, ev
            self.closed[h] = ev.status
            self.closing.discard(h)
            del self.kind[h]
        elif t == net.EV_CONNECT:
            assert self.kind.get(h) == "conn", ev
            assert ev.status == 0 or ev.status in CLOSE_REASONS, ev
        elif t in (net.EV_DATA, net.EV_DATAGRAM):
            assert self.kind.get(h) == ("conn" if t == net.EV_DATA else "udp"), ev
            assert isinstance(ev.data, memoryview if self.views else bytes), type(ev.data)
            assert len(ev.data) == ev.len
            if t == net.EV_DATAGRAM:
                assert isinstance(ev.addr, net.Address)
        elif t == net.EV_TIMER:
            assert self.kind.get(h) == "timer" or h in self.timers_stopped, ev
            if h in self.one_shot and self.kind.get(h) == "timer":
                # Its only event: the handle is stale from now on (what the
                # library does; net.h does not say it).
                del self.kind[h]
                self.timers_stopped.add(h)
        elif t in (net.EV_SEND_HIGHWATER, net.EV_SEND_DRAINED) or t.name == "EOF":
            assert self.kind.get(h) == "conn", ev
        elif t == net.EV_ERROR:
            assert self.kind.get(h) == "udp", ev
            assert ev.status in CLOSE_REASONS, ev

    # ---- engine creation

    def bad_engine(self):
        """Engine creation with a config that must be refused cleanly."""
        field, value = self.draw(st.sampled_from([
            ("max_events", 0), ("max_events", -1), ("io_threads", -1), ("io_threads", 2**40),
            ("send_cap", 2**32), ("send_cap", -1), ("max_message", 2**40), ("backend", 99),
            ("backend", -1), ("backend", "nope"), ("send_lowwater", 2**31),
            ("max_message", 2**31), ("recv_limit", 2**33), ("no_such_field", 1),
            ("max_events", None), ("send_cap", "big")]), "bad engine config")
        kw = {"backend": self.mode.backend, "io_threads": self.mode.io_threads}
        kw[field] = value
        if field == "no_such_field" or value is None or (isinstance(value, str)
                                                          and field != "backend"):
            kind = "type"
        else:
            kind = "range"
        ok, eng = self.call("engine", net.Engine, kinds=(kind,), **kw)
        if ok:  # some of these may be acceptable to the library: then it is an engine
            assert isinstance(eng, net.Engine)
            eng.destroy()

    def make_engine(self):
        self.views = self.draw(st.booleans(), "views")
        self.max_events = self.draw(st.sampled_from([1, 2, 3, 16, 512, 10**6]), "max_events")
        self.eng = net.Engine(self.mode.backend, self.mode.io_threads, views=self.views,
                              max_events=self.max_events, close_timeout_ms=300,
                              max_message=self.draw(st.sampled_from([0, 100, 70000]),
                                                    "max_message") or None)
        self.max_events = min(self.max_events, 65536)

    # ---- the calls

    def op_listen(self):
        host, hk = self.host(True)
        port, pk = self.port(self.listen_addrs)
        framing = self.draw(st.sampled_from(["raw", "u16le", "u32be", "U16BE", 0, 4, 5, -1, 2**40,
                                             "u24"]), "framing")
        fk = "ok" if framing in ("raw", "u16le", "u32be", "U16BE", 0, 4) else "range"
        flags, flk = self.draw(ints(_u(32), st.integers(0, 63)), "flags")
        mm, mk = self.draw(ints(_u(32)), "max_message")
        backlog, bk = self.draw(ints(_s(32)), "backlog")
        ok, h = self.call("listen", self.eng.listen, host, port, framing=framing, flags=flags,
                          max_message=mm, backlog=backlog, kinds=(hk, pk, fk, flk, mk, bk))
        if ok:
            assert isinstance(h, int) and 0 < h < 2**64 and h not in self.kind
            self.kind[h] = "listener"
            ok, a = self.call("local_addr", net.local_addr, h, handle=h)
            assert ok and isinstance(a, net.Address), a
            self.listen_addrs.append(a)

    def op_connect(self):
        to_listener = self.draw(st.booleans(), "to a listener")
        a = self.pick(self.listen_addrs, "listener")
        host, hk = self.host(False)
        port, pk = self.peer_port()
        if to_listener and a is not None:
            host, hk, port, pk = a.host, "ok", a.port, "ok"
            if host in ("0.0.0.0", "::"):
                host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        framing = self.draw(st.sampled_from(["raw", "u16le", "u32be"]), "framing")
        mm, mk = self.draw(ints(_u(32)), "max_message")
        user, uk = self.draw(ints(_u(64)), "user")
        ok, h = self.call("connect", self.eng.connect, host, port, framing=framing,
                          max_message=mm, user=user, kinds=(hk, pk, mk, uk))
        if ok:
            assert isinstance(h, int) and 0 < h < 2**64 and h not in self.kind
            self.kind[h] = "conn"

    def op_udp_open(self):
        host, hk = self.host(True)
        port, pk = self.port(self.udp_addrs)
        md, mdk = self.draw(ints(_u(32), st.sampled_from([0, 1, 512, 65507, 65508])),
                            "max_datagram")
        cap, ck = self.draw(ints(_u(32)), "send_cap")
        rcv, rk = self.draw(ints(_s(32)), "rcvbuf")
        ok, h = self.call("udp_open", self.eng.udp_open, host, port, max_datagram=md,
                          send_cap=cap, rcvbuf=rcv, kinds=(hk, pk, mdk, ck, rk))
        if ok:
            assert isinstance(h, int) and 0 < h < 2**64 and h not in self.kind
            self.kind[h] = "udp"
            ok, a = self.call("local_addr", net.local_addr, h, handle=h)
            assert ok and isinstance(a, net.Address), a
            self.udp_addrs.append(a)

    def op_udp_connect(self):
        u, k = self.handle_of("udp")
        host, hk = self.host(False)
        port, pk = self.peer_port(self.udp_addrs)
        self.call("udp_connect", net.udp_connect, u, host, port, kinds=(k, hk, pk), handle=u)

    def op_sendto(self):
        u, k = self.handle_of("udp")
        choice = self.draw(st.sampled_from(["peer", "peer", "tuple", "text", "none", "bad_port",
                                            "bad_host", "bad_text", "type"]), "to")
        ak = "ok"
        peer = self.pick(self.udp_addrs, "peer")
        port = self.draw(st.integers(1, 65535), "port")
        bad_port = self.draw(st.sampled_from([-1, 65536, 2**40]), "bad port")
        wrong = self.draw(st.sampled_from([5, b"127.0.0.1:5", (None, 5), ("x",)]), "wrong to")
        if choice == "peer" and peer is not None:
            to = peer
        elif choice == "tuple":
            to = ("127.0.0.1", port)
        elif choice == "text":  # what str(Address) prints
            to = str(peer) if peer is not None else "[::1]:%d" % port
        elif choice == "none":
            to = None
        elif choice == "bad_text":
            to, ak = self.draw(st.sampled_from(["127.0.0.1", "::1:9", "127.0.0.1:99999", "[::1:9"]),
                               "bad text"), "range"
        elif choice == "bad_port":
            to, ak = ("127.0.0.1", bad_port), "range"
        elif choice == "bad_host":
            to, ak = ("a\0b", 5), "range"
        elif choice == "type":
            to, ak = wrong, "type"
        else:
            to = ("::1", 9)
        data, dk = self.payload()
        self.call("sendto", net.sendto, u, to, data, kinds=(k, ak, dk), handle=u)

    def op_send(self):
        h, k = self.handle_of("conn")
        data, dk = self.payload()
        ok, r = self.call("send", net.send, h, data, kinds=(k, dk), handle=h)
        assert not ok or r is None

    def op_sendv(self):
        h, k = self.handle_of("conn")
        parts, kinds = [], [k]
        for i in range(self.draw(st.integers(0, 4), "parts")):
            p, pk = self.payload("part")
            parts.append(p)
            kinds.append(pk)
        ok, r = self.call("sendv", net.sendv, h, parts, kinds=tuple(kinds), handle=h)
        assert not ok or r is None

    def op_broadcast(self):
        hs, kinds = [], []
        for i in range(self.draw(st.integers(0, 5), "count")):
            h, k = self.handle_of("conn")
            hs.append(h)
            kinds.append(k)
        data, dk = self.payload()
        ok, r = self.call("broadcast", net.broadcast, hs, data, kinds=tuple(kinds) + (dk,))
        if ok:
            n, results = r
            assert isinstance(n, int) and isinstance(results, list) and len(results) == len(hs)
            assert n == sum(1 for c in results if c == 0)
            for h, c in zip(hs, results):
                assert c == 0 or CODES.get(c) in ALLOWED["broadcast_result"], (h, c)
                if self._surely_dead(h):
                    assert c == E["BADHANDLE"], "broadcast to dead %#x: %d" % (h, c)

    def op_close(self, fn_name="close"):
        h, k = self.handle()
        fn = getattr(net, fn_name)
        ok, r = self.call(fn_name, fn, h, kinds=(k,), handle=h)
        if ok:
            assert r is None
            kind = self.kind.get(h)
            if kind == "timer":
                del self.kind[h]
                self.timers_stopped.add(h)
            elif kind is not None:
                self.closing.add(h)

    def op_abort(self):
        self.op_close("abort")

    def op_shutdown(self):
        h, k = self.handle_of("conn")
        self.call("shutdown", net.shutdown, h, kinds=(k,), handle=h)

    def op_user(self):
        h, k = self.handle()
        value, vk = self.draw(ints(_u(64)), "user")
        ok, _ = self.call("set_user", net.set_user, h, value, kinds=(k, vk), handle=h)
        ok2, got = self.call("get_user", net.get_user, h, kinds=(k,), handle=h)
        if ok2:
            assert isinstance(got, int) and 0 <= got < 2**64
            if ok:
                assert got == value

    def option(self):
        o = self.draw(st.one_of(st.sampled_from(list(net.Option)),
                                st.sampled_from([m.name.lower() for m in net.Option]),
                                st.sampled_from(["nope", "", 0, -1, 15, 99, 2**31 - 1, 2**31,
                                                 -2**31 - 1, 2**64, None])), "option")
        if o is None:
            return o, "type"
        if isinstance(o, str):
            return o, "ok" if o.upper() in net.Option.__members__ else "range"
        return o, "ok" if -2**31 <= o < 2**31 else "range"

    def op_set_option(self):
        h, k = self.handle()
        o, ok_ = self.option()
        v, vk = self.draw(ints(_s(64), st.sampled_from([0, 1, 4096, 65536, 10**6])), "value")
        self.call("set_option", net.set_option, h, o, v, kinds=(k, ok_, vk), handle=h)

    def op_get_option(self):
        h, k = self.handle()
        o, ok_ = self.option()
        ok, v = self.call("get_option", net.get_option, h, o, kinds=(k, ok_), handle=h)
        if ok:
            assert isinstance(v, int) and -2**63 <= v < 2**63

    def op_addr(self):
        h, k = self.handle()
        for what, fn in (("local_addr", net.local_addr), ("peer_addr", net.peer_addr)):
            ok, a = self.call(what, fn, h, kinds=(k,), handle=h)
            if ok:
                assert a is None or isinstance(a, net.Address), a
                if a is not None:
                    assert 0 <= a.port <= 65535 and a.family in (4, 6)
        ok, q = self.call("send_queued", net.send_queued, h, kinds=(k,), handle=h)
        if ok:
            assert isinstance(q, int) and q >= 0

    def op_timer(self):
        delay, dk = self.draw(ints(_u(32), st.integers(0, 30)), "delay")
        repeat, rk = self.draw(ints(_u(32), st.sampled_from([0, 0, 0, 1, 5, 50])), "repeat")
        user, uk = self.draw(ints(_u(64)), "user")
        ok, h = self.call("timer", self.eng.timer, delay, repeat, user, kinds=(dk, rk, uk))
        if ok:
            assert isinstance(h, int) and 0 < h < 2**64 and h not in self.kind
            self.kind[h] = "timer"
            if repeat == 0:
                self.one_shot.add(h)

    def op_post(self):
        value, vk = self.draw(ints(_u(64)), "value")
        ok, r = self.call("post", self.eng.post, value, kinds=(vk,))
        if ok:
            assert r is None
            self.posted.append(value)

    def op_poll(self):
        t = self.draw(st.sampled_from([0, 0, 0, 1, 2, 2**31, -2**31 - 1, -2, "blocking"]),
                      "timeout")
        if t == "blocking":  # -1 is forever: make sure something is there
            ok, _ = self.call("post", self.eng.post, 7)
            assert ok
            self.posted.append(7)
            t = -1
        self.poll(t)

    def op_misc(self):
        ok, r = self.call("wakeup", self.eng.wakeup)
        assert not ok or r is None
        ok, s = self.call("stats", self.eng.stats)
        if ok:
            assert isinstance(s, net.Stats) and all(isinstance(x, int) and x >= 0 for x in s)
        code = self.draw(st.sampled_from(EDGE_INTS + list(CODES)), "code")
        assert isinstance(net.strerror(code), str)

    OPS = ["listen", "connect", "connect", "udp_open", "udp_connect", "sendto", "sendto", "send",
           "send", "send", "sendv", "broadcast", "close", "abort", "shutdown", "user",
           "set_option", "set_option", "get_option", "addr", "timer", "post", "poll", "poll",
           "poll", "poll", "misc"]

    # ---- an example

    def setup(self):
        """A valid start: a listener, a connected pair on it, two UDP sockets."""
        framing = self.draw(st.sampled_from(["raw", "u16le", "u32le", "u16be"]), "framing")
        ok, lst = self.call("listen", self.eng.listen, "127.0.0.1", 0, framing=framing)
        assert ok, lst
        self.kind[lst] = "listener"
        a = net.local_addr(lst)
        self.listen_addrs.append(a)
        ok, cli = self.call("connect", self.eng.connect, a.host, a.port, framing=framing)
        assert ok, cli
        self.kind[cli] = "conn"
        for _ in range(2):
            ok, u = self.call("udp_open", self.eng.udp_open, "127.0.0.1", 0)
            assert ok, u
            self.kind[u] = "udp"
            self.udp_addrs.append(net.local_addr(u))
        end = time.monotonic() + 10
        while sum(1 for k in self.kind.values() if k == "conn") < 2:
            assert time.monotonic() < end, "the pair did not connect"
            self.poll(5)

    def run(self):
        if self.draw(st.booleans(), "try a bad config"):
            self.bad_engine()
        self.make_engine()
        try:
            self.setup()
            for i in range(self.draw(st.integers(1, STEPS), "steps")):
                getattr(self, "op_" + self.draw(st.sampled_from(self.OPS), "op"))()
            self.drain()
        finally:
            eng, self.eng = self.eng, None
            eng.destroy()
        self.after_destroy(eng)

    def drain(self):
        """Close everything and poll until every connection, listener and UDP
        socket had its one CLOSE and every posted value came back."""
        end = time.monotonic() + 10
        while True:
            for h, k in list(self.kind.items()):
                if h not in self.closing:
                    ok, _ = self.call("close", net.close, h, handle=h)
                    assert ok, "close of a live %s %#x failed" % (k, h)
                    if k == "timer":
                        del self.kind[h]
                        self.timers_stopped.add(h)
                    else:
                        self.closing.add(h)
            if not self.kind and not self.posted:
                return
            assert time.monotonic() < end, "no CLOSE for %s; posted values missing: %r" % (
                ", ".join("%s %#x" % (k, h) for h, k in self.kind.items()), list(self.posted))
            self.poll(5)

    def after_destroy(self, eng):
        """The engine is gone: everything it made, and the engine, are refused."""
        handles = sorted(set(self.closed) | self.timers_stopped)[:16]
        for h in handles:
            ok, code = self.call("get_user", net.get_user, h, handle=h)
            assert not ok and code == E["BADHANDLE"]
            ok, code = self.call("close", net.close, h, handle=h)
            assert not ok and code == E["BADHANDLE"]
        with pytest.raises(net.BadHandleError):
            eng.poll(0)
        with pytest.raises(net.BadHandleError):
            eng.post(1)
        with pytest.raises(net.BadHandleError):
            eng.timer(1)
        with pytest.raises(net.BadHandleError):
            eng.listen("127.0.0.1", 0)
        eng.destroy()  # idempotent


_SEEN = collections.Counter()


def _seeded(test):
    return seed(int(SEED))(test) if SEED else test


@_seeded
@settings(max_examples=EXAMPLES, derandomize=not SEED, database=None, deadline=None,
          suppress_health_check=list(HealthCheck), print_blob=False, phases=PHASES)
@given(data=st.data())
def test_api_fuzz(mode, data):
    before = _fds()
    f = Fuzz(mode, data)
    try:
        f.run()
    finally:
        _SEEN.update(f.seen)
    after = _fds()
    assert before == after, "descriptors: %s before the example, %s after" % (before, after)


def test_api_fuzz_outcomes_seen():
    """The fuzzer reached the calls it is meant to (runs after it; prints
    what each call returned, for the log)."""
    if not _SEEN:
        pytest.skip("test_api_fuzz did not run in this session")
    calls = {what for what, _ in _SEEN}
    for what in ("listen", "connect", "send", "sendto", "close", "set_option", "poll",
                 "timer", "post"):
        assert what in calls, "never called %s" % what
    assert any(what == "send" and outcome == "ok" for what, outcome in _SEEN)
    lines = ["%-12s %-12s %d" % (w, o, n) for (w, o), n in sorted(_SEEN.items())]
    print("\n".join(lines))
