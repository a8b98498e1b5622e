"""The Pythonic layer over the flat C API of net.h.

Handles are plain ``int`` values, exactly the 64-bit handles of the C API.
Calls that fail raise :class:`NetError` (or one of its subclasses), which
carries the ``NET_E*`` code, ``net_strerror``'s message and, where there is
one, the OS error.
"""

from __future__ import annotations

import struct
import sys
from array import array
from itertools import accumulate as _accumulate, repeat as _repeat
from operator import add as _add
import threading
import time
import weakref
from enum import IntEnum, IntFlag
from typing import (Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Type,
                    Union)

from ._arguments import check_arguments, retyped
from ._ffi import ffi, lib

BytesLike = Union[bytes, bytearray, memoryview]


# ---------------------------------------------------------------- constants


class Error(IntEnum):
    """The ``NET_E*`` codes (all negative) and ``OK``."""
    OK = 0
    BADHANDLE = -1
    INVAL = -2
    NOMEM = -3
    WOULDBLOCK = -4
    CLOSED = -5
    MSGSIZE = -6
    BUSY = -7
    UNSUPPORTED = -8
    OS = -9
    ADDR = -10
    TIMEDOUT = -11
    RESET = -12
    REFUSED = -13
    LIMIT = -14
    PROTO = -15
    ABORTED = -16
    ADDRINUSE = -17
    UNREACHABLE = -18
    NOTCONN = -19


class EventType(IntEnum):
    """``NET_EV_*``: the ``type`` of an :class:`Event`."""
    NONE = 0
    ACCEPT = 1
    CONNECT = 2
    DATA = 3
    CLOSE = 4
    SEND_HIGHWATER = 5
    SEND_DRAINED = 6
    TIMER = 7
    USER = 8
    DATAGRAM = 9
    ERROR = 10
    EOF = 11


class Backend(IntEnum):
    """``NET_BACKEND_*``."""
    AUTO = 0
    EPOLL = 1
    IO_URING = 2
    IOCP = 3


class Framing(IntEnum):
    """``NET_FRAMING_*``: how a TCP stream is cut into DATA events."""
    RAW = 0
    U16LE = 1
    U16BE = 2
    U32LE = 3
    U32BE = 4


class TcpFlag(IntFlag):
    """``NET_TCP_*`` flags of a listener or connection."""
    NODELAY = 1 << 0
    REUSEADDR = 1 << 1
    KEEPALIVE = 1 << 2
    IPV6ONLY = 1 << 3
    LEN_INCLUDES_HEADER = 1 << 4
    HALF_OPEN = 1 << 5


class Option(IntEnum):
    """``NET_OPT_*`` for :func:`set_option` / :func:`get_option`."""
    NODELAY = 1
    KEEPALIVE = 2
    SNDBUF = 3
    RCVBUF = 4
    LINGER = 5
    REUSEADDR = 6
    SEND_CAP = 7
    HIGHWATER = 8
    LOWWATER = 9
    IDLE_TIMEOUT = 10
    BROADCAST = 11
    MAX_DATAGRAM = 12
    DROPPED = 13
    ERRORS_DROPPED = 14
    SEND_HELD = 15


class UdpFlag(IntFlag):
    """``NET_UDP_*`` flags of a UDP socket."""
    REUSEADDR = 1 << 0
    IPV6ONLY = 1 << 1
    BROADCAST = 1 << 2


class Family(IntEnum):
    """``NET_AF_*``."""
    UNSPEC = 0
    INET = 4
    INET6 = 6


# Module-level aliases in the C spelling, minus the NET_ prefix: net.EV_DATA...
EV_NONE, EV_ACCEPT, EV_CONNECT, EV_DATA, EV_CLOSE = (
    EventType.NONE, EventType.ACCEPT, EventType.CONNECT, EventType.DATA, EventType.CLOSE)
EV_SEND_HIGHWATER, EV_SEND_DRAINED, EV_TIMER, EV_USER = (
    EventType.SEND_HIGHWATER, EventType.SEND_DRAINED, EventType.TIMER, EventType.USER)
EV_DATAGRAM, EV_ERROR = EventType.DATAGRAM, EventType.ERROR

#: The largest UDP payload (``NET_UDP_MAX_PAYLOAD``, IPv4's limit).
UDP_MAX_PAYLOAD: int = lib.NET_UDP_MAX_PAYLOAD

VERSION_MAJOR: int = lib.NET_VERSION_MAJOR
VERSION_MINOR: int = lib.NET_VERSION_MINOR
VERSION_PATCH: int = lib.NET_VERSION_PATCH


# ---------------------------------------------------------------- errors


class NetError(Exception):
    """A ``NET_E*`` failure.

    Attributes:
        code: the negative ``NET_E*`` code (an :class:`Error` member when known).
        message: ``net_strerror(code)``.
        os_error: the errno / WSA error behind it, when known, else 0.
    """

    code: int
    message: str
    os_error: int

    def __init__(self, code: int, context: str = "", os_error: int = 0) -> None:
        try:
            code = Error(code)
        except ValueError:
            pass
        self.code = code
        self.message = strerror(code)
        self.os_error = os_error
        self.context = context
        text = "%s (%s %d)" % (self.message, _code_name(code), int(code))
        if context:
            text = "%s: %s" % (context, text)
        if os_error:
            text += " [os error %d]" % os_error
        super().__init__(text)

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (error_for, (int(self.code), self.context, self.os_error))


class BadHandleError(NetError):
    """NET_E_BADHANDLE: zero, closed, stale, forged or wrong-type handle."""


class InvalidArgumentError(NetError, ValueError):
    """NET_E_INVAL: bad argument."""


class NoMemoryError(NetError, MemoryError):
    """NET_E_NOMEM: allocation failed or a configured memory limit was hit."""


class WouldBlockError(NetError):
    """NET_E_WOULDBLOCK: the send cap was reached; nothing was queued."""


class ClosedError(NetError):
    """NET_E_CLOSED: the connection is closing or closed."""


class MessageSizeError(NetError):
    """NET_E_MSGSIZE: message larger than max_message."""


class BusyError(NetError):
    """NET_E_BUSY: poll already running on another thread."""


class UnsupportedError(NetError):
    """NET_E_UNSUPPORTED: backend or feature not available here."""


class OSFailureError(NetError):
    """NET_E_OS: operating-system failure; see ``os_error``."""


class AddressError(NetError):
    """NET_E_ADDR: address could not be parsed or resolved."""


class TimedOutError(NetError):
    """NET_E_TIMEDOUT: idle timeout or graceful-close timeout."""


class ResetError(NetError):
    """NET_E_RESET: connection reset by peer."""


class RefusedError(NetError):
    """NET_E_REFUSED: connection refused."""


class LimitError(NetError):
    """NET_E_LIMIT: max_connections (or another count limit) reached."""


class ProtocolError(NetError):
    """NET_E_PROTO: malformed frame header from the peer."""


class AbortedError(NetError):
    """NET_E_ABORTED: aborted locally."""


class AddressInUseError(NetError):
    """NET_E_ADDRINUSE: address already in use."""


class UnreachableError(NetError):
    """NET_E_UNREACHABLE: network or host unreachable."""


class NotConnectedError(NetError):
    """NET_E_NOTCONN: the UDP socket has no fixed peer (use :func:`sendto`)."""


_ERROR_CLASSES: Dict[int, Type[NetError]] = {
    Error.BADHANDLE: BadHandleError, Error.INVAL: InvalidArgumentError,
    Error.NOMEM: NoMemoryError, Error.WOULDBLOCK: WouldBlockError, Error.CLOSED: ClosedError,
    Error.MSGSIZE: MessageSizeError, Error.BUSY: BusyError, Error.UNSUPPORTED: UnsupportedError,
    Error.OS: OSFailureError, Error.ADDR: AddressError, Error.TIMEDOUT: TimedOutError,
    Error.RESET: ResetError, Error.REFUSED: RefusedError, Error.LIMIT: LimitError,
    Error.PROTO: ProtocolError, Error.ABORTED: AbortedError,
    Error.ADDRINUSE: AddressInUseError, Error.UNREACHABLE: UnreachableError,
    Error.NOTCONN: NotConnectedError,
}


# An int outside its C type's range: the NetError of that value, which is
# also an OverflowError (what Python's own C-backed calls raise for such an
# int, e.g. socket's for a port above 65535).
class _BadHandleRange(BadHandleError, OverflowError):
    """NET_E_BADHANDLE: an int that is no 64-bit value (also an OverflowError)."""


class _InvalidRange(InvalidArgumentError, OverflowError):
    """NET_E_INVAL: an int outside its C field's range (also an OverflowError)."""


class _MessageSizeRange(MessageSizeError, OverflowError):
    """NET_E_MSGSIZE: a length beyond 32 bits (also an OverflowError)."""


def _code_name(code: int) -> str:
    try:
        return "NET_E_" + Error(code).name if code else "NET_OK"
    except ValueError:
        return "code"


def error_for(code: int, context: str = "", os_error: int = 0) -> NetError:
    """The exception instance for a ``NET_E*`` code (without raising it)."""
    return _ERROR_CLASSES.get(code, NetError)(code, context, os_error)


def _fail(code: int, context: str) -> None:
    raise error_for(code, context)


def _fail_with_os_error(code: int, context: str) -> None:
    """For the calls that set ``net_last_os_error()`` (listen, connect,
    udp_open, udp_connect): the OS error beside the code, read at once on the
    calling thread, where the library keeps it."""
    raise error_for(code, context, lib.net_last_os_error())


# ---------------------------------------------------------------- small records


class Address(NamedTuple):
    """A socket address: ``host`` is a numeric IPv4/IPv6 string.

    What events (``ACCEPT``, ``CONNECT``, ``DATAGRAM``), :func:`local_addr`,
    :func:`peer_addr` and :func:`addr_parse` return, and what :func:`sendto`
    takes back (as well as a plain ``(host, port)`` tuple).
    """
    host: str
    port: int
    family: int = Family.INET
    scope_id: int = 0

    def __str__(self) -> str:
        if self.family == Family.INET6:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)


_FAMILIES = {int(Family.INET): Family.INET, int(Family.INET6): Family.INET6}
_HOST_MAX = 64  # net_addr_host's longest text is 45 bytes


def _host_text(a: Any) -> str:
    """``net_addr_host`` of a ``net_addr *`` of a known family."""
    buf = ffi.new("char[]", _HOST_MAX)
    n = lib.net_addr_host(a, buf, _HOST_MAX)
    if n < 0:
        _fail(n, "addr_host")
    return ffi.unpack(buf, n).decode()


def _addr_from_c(a: Any) -> Optional[Address]:
    """An Address of a ``net_addr *`` (None for NET_AF_UNSPEC)."""
    fam = _FAMILIES.get(a.family)
    if fam is None:
        return None
    return Address(_host_text(a), a.port, fam, a.scope_id if fam == Family.INET6 else 0)


# Converting addresses is the library's (net_addr_host, net_addr_parse), and
# costs a few cffi calls: ~1.9 us from C, ~2.3 us to C, against 0.04 / 0.13 us
# for a cache hit, when poll turns a whole DATAGRAM record into its Event in
# ~0.25 us (bench/python/RESULTS-python.md). A UDP server sees the same
# peers again and again: these two caches make it once per peer instead of
# once per datagram. The first maps a packed net_addr (the bytes of an
# event's addr) to its Address, the second an Address or numeric (host,
# port) to its net_addr: an event's Address enters both, so sendto(ev.addr)
# finds it at once. Bounded (a few hundred bytes an entry): each is
# cleared when full.
_ADDR_CACHE_MAX = 4096
_addresses: Dict[bytes, Address] = {}
_c_addresses: Dict[Any, Any] = {}


def _remember(cache: Dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _ADDR_CACHE_MAX:
        cache.clear()
    cache[key] = value


def _address_of(packed: bytes) -> Optional[Address]:
    """The Address of a packed net_addr from an event, None for
    NET_AF_UNSPEC. The same peer gives the same object again."""
    a = _addresses.get(packed)
    if a is None:
        c = ffi.new("net_addr *")
        ffi.memmove(c, packed, len(packed))
        a = _addr_from_c(c)
        if a is None:
            return None
        _remember(_addresses, packed, a)
        _remember(_c_addresses, a, c)
    return a


class Event(NamedTuple):
    """One event from :meth:`Engine.poll` (``net_event``).

    ``data`` is the payload of a ``DATA`` or ``DATAGRAM`` event (``None``
    otherwise): a ``bytes`` copy, or for an engine made with ``views=True`` a
    read-only ``memoryview`` into memory the binding reuses (no allocation
    per payload). That view is released at the next :meth:`Engine.poll` on
    the same engine (or its destruction): using it afterwards raises
    ``ValueError``. Anything derived from it before then - a slice,
    ``memoryview(ev.data)``, ``cast``, ``toreadonly``, its ``obj``, an
    object that took its buffer - keeps reading the original bytes for as
    long as it lives: the binding writes that memory again only once nothing
    refers to it. No view ever reads memory the engine has recycled.

    It is a ``NamedTuple``: ``for t, status, handle, parent, user, data, n,
    os_error, addr in eng.poll(): ...`` unpacks it fastest.

    ``len`` is the payload length for DATA and DATAGRAM and the queued bytes
    for SEND_HIGHWATER / SEND_DRAINED. ``addr`` is the peer for ACCEPT and
    CONNECT, the sender for DATAGRAM, the peer an ERROR concerns where known,
    else ``None``. ``status`` is 0 or a ``NET_E*`` code (the reason of a
    CLOSE: 0 for an orderly close; the error of an ERROR event, e.g.
    ``Error.REFUSED`` when a connected UDP socket's peer has no socket).

    Reliable UDP: a session's ``DATA`` event carries one whole message and
    its channel in ``parent`` (0 for TCP): :func:`rudp_send` answers it on
    the same channel.

    UDP: each datagram is one ``DATAGRAM`` event, ``data`` its whole payload
    (possibly empty), ``addr`` its sender: ``sendto(ev.handle, ev.addr,
    ev.data)`` answers it. An ``ERROR`` event leaves the socket open.
    """
    type: int
    status: int
    handle: int
    parent: int
    user: int
    data: Union[bytes, memoryview, None]
    len: int
    os_error: int
    addr: Optional[Address]

    @property
    def error(self) -> Optional[NetError]:
        """``status`` as an exception instance (not raised), or ``None`` if 0."""
        if not self.status:
            return None
        try:
            what = EventType(self.type).name
        except ValueError:  # an event type newer than this binding
            what = "event %d" % self.type
        return error_for(self.status, what, self.os_error)

    def __repr__(self) -> str:
        try:
            name = EventType(self.type).name
        except ValueError:
            name = str(self.type)
        parts = ["Event(%s handle=%#x" % (name, self.handle)]
        if self.status:
            parts.append("status=%s" % _code_name(self.status))
        if self.parent:
            parts.append("parent=%#x" % self.parent)
        if self.user:
            parts.append("user=%d" % self.user)
        if self.type in (EventType.DATA, EventType.DATAGRAM) or self.len:
            parts.append("len=%d" % self.len)
        if self.os_error:
            parts.append("os_error=%d" % self.os_error)
        if self.addr is not None:
            parts.append("addr=%s" % (self.addr,))
        return " ".join(parts) + ")"


class Forwarded:
    """What :meth:`Engine.poll_forward` returns: ``forwarded``, how many
    DATA payloads the library sent on; ``others``, every other event of the
    batch, in order, as :class:`Event` (a DATAGRAM's payload as ``bytes``);
    ``failures``, a :class:`SendFailure` per DATA payload not queued
    (``conn`` it was for, ``data`` a copy of it, ``error``), in order."""

    __slots__ = ("_to", "forwarded", "others", "failures")

    def __init__(self, to: int = 0) -> None:
        self._to = to
        self.forwarded = 0
        self.others: List[Event] = []
        self.failures: "List[SendFailure]" = []

    def __repr__(self) -> str:
        return "Forwarded(%d forwarded, %d others, %d failures)" % (
            self.forwarded, len(self.others), len(self.failures))


class Columns:
    """What :meth:`Engine.poll_columns` returns: the DATA events of a
    batch by column, ``handles[i]``, ``lens[i]``, ``users[i]`` and
    ``datas[i]`` being one event's, in order, and every other event, in
    order, in ``others``.

    ``handles`` and ``users`` are ``array('Q')``, ``lens`` ``array('I')``:
    they index and iterate as ints. ``payload`` is every DATA payload, one
    after another, as one ``bytes``; ``datas`` the same cut into one
    ``bytes`` per event (made on first use). :func:`send_packed` takes
    ``handles, lens, payload`` as they are: a batch goes back with no
    Python object made per message. A reliable-UDP session's channel
    (``Event.parent``) has no column: sessions that use more than channel
    0 read their events with :meth:`Engine.poll`."""

    __slots__ = ("handles", "lens", "users", "others", "_parts", "_payload", "_datas")

    def __init__(self) -> None:
        self.handles: Any = array("Q")
        self.lens: Any = array("I")
        self.users: Any = array("Q")
        self.others: List[Event] = []
        self._parts: List[bytes] = []  # the payload, as polled: joined on first use
        self._payload: Optional[bytes] = None
        self._datas: Optional[List[bytes]] = None

    @property
    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = b"".join(self._parts)
            self._parts = []
        return self._payload

    @property
    def datas(self) -> List[bytes]:
        if self._datas is None:
            whole = self.payload
            ends = list(_accumulate(self.lens))
            self._datas = list(map(whole.__getitem__, map(slice, [0] + ends[:-1], ends)))
        return self._datas

    def __len__(self) -> int:
        """How many DATA events."""
        return len(self.handles)

    def __repr__(self) -> str:
        return "Columns(%d DATA, %d bytes, %d others)" % (len(self.handles), sum(self.lens), len(self.others))


_STATS_FIELDS = tuple(name for name, _ in ffi.typeof("net_stats").fields
                      if name not in ("size",) and not name.endswith("_"))


class Stats(NamedTuple):
    """``net_stats``: counters of an engine."""
    connections: int
    connections_total: int
    accepts_rejected: int
    bytes_in: int
    bytes_out: int
    messages_in: int
    messages_out: int
    queue_depth: int
    send_queued: int
    recv_paused: int
    udp_sockets: int
    datagrams_in: int
    datagrams_out: int
    datagrams_dropped: int
    datagram_send_errors: int
    accepts_failed: int
    caller_writes: int


if _STATS_FIELDS != Stats._fields:  # pragma: no cover - caught by tests
    raise ImportError("net.Stats is out of date with net_stats: %r" % (_STATS_FIELDS,))


# ---------------------------------------------------------------- library info


def version() -> int:
    """``net_version()``: ``(major << 16) | (minor << 8) | patch`` of the loaded library."""
    return lib.net_version()


def version_string() -> str:
    """``net_version_string()`` of the loaded library, e.g. ``"0.1.0"``."""
    return ffi.string(lib.net_version_string()).decode()


def strerror(code: int) -> str:
    """``net_strerror(code)`` (any int: codes the library does not know get
    its message for an unknown code)."""
    check_arguments(strerror, {"code": code})
    code = int(code)
    if not -0x80000000 <= code <= 0x7FFFFFFF:
        code = -0x80000000  # not a NET_E* code either way
    return ffi.string(lib.net_strerror(code)).decode(errors="replace")


def _enum_value(enum: Type[IntEnum], value: Union[int, str], what: str) -> int:
    if isinstance(value, str):
        try:
            return enum[value.upper()]
        except KeyError:
            raise InvalidArgumentError(Error.INVAL, "unknown %s %r (one of %s)" % (
                what, value, ", ".join(m.name.lower() for m in enum))) from None
    return int(value)


_U64_END = 1 << 64


def _out_of_range(what: str, handle: Any = None, error: Type[NetError] = _InvalidRange,
                  detail: str = "an integer argument is out of range") -> NetError:
    """The error for a call whose arguments cffi refused with OverflowError:
    BadHandleError when ``handle`` is an int that is no 64-bit value (no
    such handle can exist), else ``error`` (an argument out of its C type's
    range). Both are OverflowErrors too. The checks run only after cffi
    refused, off the fast path."""
    if handle is not None and isinstance(handle, int) and not 0 <= handle < _U64_END:
        return _BadHandleRange(Error.BADHANDLE, "%s: %d is not a 64-bit handle" % (what, handle))
    return error(_RANGE_CODES[error], "%s: %s" % (what, detail))


_RANGE_CODES: Dict[Type[NetError], int] = {
    _InvalidRange: Error.INVAL, _MessageSizeRange: Error.MSGSIZE}


# ---------------------------------------------------------------- handle calls
# These take a handle, not an engine: the C API finds the engine from it.
# Each one is also available as an Engine method of the same name.
#
# Arguments: a value of the wrong Python type raises TypeError; an int out
# of range of its C type raises the NetError the C library would give for
# that value (BadHandleError for a handle, MessageSizeError for a length,
# InvalidArgumentError otherwise), a subclass that is also an OverflowError.

_send = lib.net_send
_from_buffer = ffi.from_buffer


def send(conn: int, data: BytesLike) -> None:
    """Queue ``data`` on connection ``conn`` as one message (``net_send``).

    The bytes are copied (the framing header is added); the call returns at
    once. Raises :class:`WouldBlockError` past the send cap (nothing queued),
    :class:`ClosedError` once the connection is closing, :class:`BadHandleError`
    for a stale handle, :class:`MessageSizeError` above max_message (or
    what the send cap could ever hold).
    """
    try:
        if type(data) is bytes:
            rc = _send(conn, data, len(data))
        else:
            buf = _from_buffer(data)
            rc = _send(conn, buf, len(buf))
    except OverflowError:
        raise _out_of_range("send", conn, _MessageSizeRange, "message over 4 GiB") from None
    except TypeError as e:
        raise retyped(e, send, {"conn": conn, "data": data}) from None
    if rc:
        _fail(rc, "send")


def sendv(conn: int, parts: Sequence[BytesLike]) -> None:
    """Gather several buffers into one message (``net_sendv``)."""
    check_arguments(sendv, {"conn": conn, "parts": parts})
    n = len(parts)
    bufs = ffi.new("net_buf[]", n or 1)
    keep = []
    for i, p in enumerate(parts):
        b = _from_buffer(p)
        keep.append(b)
        bufs[i].data = b
        bufs[i].len = len(b)
    try:
        rc = lib.net_sendv(conn, bufs, n)
    except OverflowError:
        raise _out_of_range("sendv", conn, _MessageSizeRange, "too many parts") from None
    if rc:
        _fail(rc, "sendv")


def broadcast(conns: Sequence[int], data: BytesLike) -> Tuple[int, List[int]]:
    """Queue one shared copy of ``data`` to every connection in ``conns``.

    Returns ``(queued, results)``: how many connections took it and each
    connection's code (0 or ``NET_E*``); failures do not raise (an int
    that is no 64-bit value gets ``Error.BADHANDLE`` like any other
    non-handle).
    """
    check_arguments(broadcast, {"conns": conns, "data": data})
    n = len(conns)
    if n:
        try:
            hs = ffi.new("net_handle[]", list(conns))
        except OverflowError:  # ints beyond 64 bits: handle 0, which is never valid
            hs = ffi.new("net_handle[]", [h if not isinstance(h, int) or 0 <= h < _U64_END
                                          else 0 for h in conns])
    else:
        hs = ffi.NULL
    res = ffi.new("int[]", n) if n else ffi.NULL
    buf = data if type(data) is bytes else _from_buffer(data)
    if len(buf) > 0xFFFFFFFF:
        raise _MessageSizeRange(Error.MSGSIZE, "broadcast: message over 4 GiB")
    rc = lib.net_broadcast(hs, n, buf, len(buf), res)
    if rc < 0:
        _fail(rc, "broadcast")
    return rc, [res[i] for i in range(n)]


def close(handle: int) -> None:
    """Graceful close (``net_close``): a connection delivers what is queued,
    then FIN, then a CLOSE event; a listener gets a CLOSE event; a timer
    stops (no event)."""
    try:
        rc = lib.net_close(handle)
    except OverflowError:
        raise _out_of_range("close", handle) from None
    except TypeError as e:
        raise retyped(e, close, {"handle": handle}) from None
    if rc:
        _fail(rc, "close")


def abort(conn: int) -> None:
    """Abortive close (``net_abort``): queued data is dropped, the peer gets RST."""
    try:
        rc = lib.net_abort(conn)
    except OverflowError:
        raise _out_of_range("abort", conn) from None
    except TypeError as e:
        raise retyped(e, abort, {"conn": conn}) from None
    if rc:
        _fail(rc, "abort")


def shutdown(conn: int) -> None:
    """Half-close (``net_shutdown``): FIN after what is queued; receiving goes on."""
    try:
        rc = lib.net_shutdown(conn)
    except OverflowError:
        raise _out_of_range("shutdown", conn) from None
    except TypeError as e:
        raise retyped(e, shutdown, {"conn": conn}) from None
    if rc:
        _fail(rc, "shutdown")


def set_user(handle: int, user: int) -> None:
    """Attach a 64-bit user value to a handle (seen in its events' ``user``);
    :class:`InvalidArgumentError` for a value outside 0 .. 2**64-1."""
    check_arguments(set_user, {"handle": handle, "user": user})
    try:
        rc = lib.net_set_user(handle, user)
    except OverflowError:
        raise _out_of_range("set_user", handle, detail="user %d outside 0..2**64-1"
                            % user) from None
    if rc:
        _fail(rc, "set_user")


def get_user(handle: int) -> int:
    """The user value of a handle."""
    out = ffi.new("uint64_t *")
    try:
        rc = lib.net_get_user(handle, out)
    except OverflowError:
        raise _out_of_range("get_user", handle) from None
    except TypeError as e:
        raise retyped(e, get_user, {"handle": handle}) from None
    if rc:
        _fail(rc, "get_user")
    return out[0]


def set_option(handle: int, option: Union[int, str], value: int) -> None:
    """``net_set_option``; ``option`` is an :class:`Option` or its name
    (``"nodelay"``, ``"send_cap"``, ...). Booleans are 0/1. An option
    number or a value the C types cannot hold (int32, int64) is
    :class:`InvalidArgumentError`, like an unknown option."""
    check_arguments(set_option, {"handle": handle, "option": option, "value": value})
    try:
        rc = lib.net_set_option(handle, _enum_value(Option, option, "option"), int(value))
    except OverflowError:
        raise _out_of_range("set_option", handle, detail="option %r or value %r out of range"
                            % (option, value)) from None
    if rc:
        _fail(rc, "set_option")


def get_option(handle: int, option: Union[int, str]) -> int:
    """``net_get_option``."""
    check_arguments(get_option, {"handle": handle, "option": option})
    out = ffi.new("int64_t *")
    try:
        rc = lib.net_get_option(handle, _enum_value(Option, option, "option"), out)
    except OverflowError:
        raise _out_of_range("get_option", handle, detail="option %r out of range"
                            % (option,)) from None
    if rc:
        _fail(rc, "get_option")
    return out[0]


def local_addr(handle: int) -> Address:
    """The bound address of a listener, connection or UDP socket (``net_local_addr``)."""
    a = ffi.new("net_addr *")
    try:
        rc = lib.net_local_addr(handle, a)
    except OverflowError:
        raise _out_of_range("local_addr", handle) from None
    except TypeError as e:
        raise retyped(e, local_addr, {"handle": handle}) from None
    if rc:
        _fail(rc, "local_addr")
    return _addr_from_c(a)  # type: ignore[return-value]


def peer_addr(conn: int) -> Address:
    """The peer of a connection or of a connected UDP socket
    (``net_peer_addr``); :class:`NotConnectedError` for a UDP socket
    without one."""
    a = ffi.new("net_addr *")
    try:
        rc = lib.net_peer_addr(conn, a)
    except OverflowError:
        raise _out_of_range("peer_addr", conn) from None
    except TypeError as e:
        raise retyped(e, peer_addr, {"conn": conn}) from None
    if rc:
        _fail(rc, "peer_addr")
    return _addr_from_c(a)  # type: ignore[return-value]


def send_queued(conn: int) -> int:
    """Bytes accepted by send and not yet written to the socket."""
    out = ffi.new("uint64_t *")
    try:
        rc = lib.net_send_queued(conn, out)
    except OverflowError:
        raise _out_of_range("send_queued", conn) from None
    except TypeError as e:
        raise retyped(e, send_queued, {"conn": conn}) from None
    if rc:
        _fail(rc, "send_queued")
    return out[0]


def format_addr(addr: Address) -> str:
    """``net_addr_format`` of an :class:`Address`: ``"1.2.3.4:80"`` / ``"[::1]:80"``.
    :class:`AddressError` for a host that is no address of its family
    (``net_addr_parse`` reads it: numeric, or a name it resolves),
    :class:`InvalidArgumentError` for a port or scope out of range."""
    what = "format_addr"
    check_arguments(format_addr, {"addr": addr})
    if not 0 <= addr.scope_id <= 0xFFFFFFFF:
        raise _InvalidRange(Error.INVAL, "%s: scope_id %d out of range" % (what, addr.scope_id))
    a = _parse(addr.host, addr.port, what)
    if addr.family in _FAMILIES and a.family != addr.family:
        raise AddressError(Error.ADDR, "%s: %r is not an address of family %d"
                           % (what, addr.host, addr.family))
    buf = ffi.new("char[]", 80)
    rc = lib.net_addr_format(a, buf, 80)
    if rc < 0:
        _fail(rc, what)
    return ffi.string(buf).decode()


# ---------------------------------------------------------------- UDP

#: What connect, udp_connect and sendto take as an address: a net.Address, a
#: (host, port) tuple, or the text net prints ("127.0.0.1:9", "[::1]:7000").
AddressLike = Union[Address, Tuple[str, int], str]
_ADDR_TEXT_FORM = "address text must be 'host:port' or '[ipv6]:port'"

_sendto = lib.net_sendto


def _port(port: Any, what: str) -> int:
    if type(port) is not int:
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("%s: port must be an int, not %s" % (what, type(port).__name__))
        port = int(port)
    if not 0 <= port <= 0xFFFF:
        raise _InvalidRange(Error.INVAL, "%s: port %d out of range 0..65535" % (what, port))
    return port


def _host(host: Any, what: str, allow_none: bool) -> bytes:
    if host is None and allow_none:
        return b""
    if not isinstance(host, str):
        raise TypeError("%s: host must be a str%s, not %s" % (
            what, " or None" if allow_none else "", type(host).__name__))
    if "\0" in host:
        raise InvalidArgumentError(Error.INVAL, "%s: host contains a NUL character" % what)
    return host.encode()


def _split_addr_text(text: str, what: str) -> Tuple[str, int]:
    """(host, port) of the text str(Address) gives: "1.2.3.4:80",
    "[::1]:80", "name:80" (the rules of Lua's sendto)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or len(port_text) > 5:
        raise InvalidArgumentError(Error.INVAL, "%s: %s, not %r" % (what, _ADDR_TEXT_FORM, text))
    if host.startswith("["):
        if len(host) < 3 or not host.endswith("]"):
            raise InvalidArgumentError(Error.INVAL, "%s: %s, not %r"
                                       % (what, _ADDR_TEXT_FORM, text))
        host = host[1:-1]
    elif ":" in host:
        raise InvalidArgumentError(Error.INVAL, "%s: an IPv6 address needs brackets "
                                   "('[::1]:80'), not %r" % (what, text))
    return host, _port(int(port_text), what)


def _host_port(host: Any, port: Any, what: str) -> Tuple[bytes, int]:
    """The (host, port) of a call that takes ``host, port`` or, with port
    left None, an address in ``host``: a net.Address, a (host, port) tuple
    or the text net prints ("127.0.0.1:9", "[::1]:7000")."""
    if port is None:
        if isinstance(host, str):
            host, port = _split_addr_text(host, what)
        elif isinstance(host, tuple) and len(host) in (2, 4):  # (host, port) or an Address
            host, port = host[0], host[1]
        else:
            raise TypeError("%s: port must be an int (or the address one net.Address, "
                            "(host, port) tuple or 'host:port' text), not NoneType" % what)
    return _host(host, what, False), _port(port, what)


def _parse(host: str, port: int, what: str) -> Any:
    """net_addr_parse into a new cdata (resolves names)."""
    a = ffi.new("net_addr *")
    rc = lib.net_addr_parse(_host(host, what, False), _port(port, what), a)
    if rc:
        _fail(rc, "%s %s:%s" % (what, host, port))
    return a


def _addr_to_c(addr: Any, what: str) -> Any:
    """An Address or (host, port) as a ``net_addr *`` (ffi.NULL for None).
    Numeric hosts are parsed once (see _c_addresses), names every time."""
    if addr is None:
        return ffi.NULL
    t = type(addr)
    if t is str or ((t is Address or (t is tuple and len(addr) == 2)) and type(addr[0]) is str
                    and type(addr[1]) is int):
        try:
            a = _c_addresses.get(addr)
        except TypeError:  # unhashable parts: the checks below name them
            a = None
        if a is not None:
            return a
    if isinstance(addr, Address):
        host, port, family, scope = addr
        if not isinstance(family, int) or not isinstance(scope, int):
            raise TypeError("%s: Address family and scope_id must be ints" % what)
        if family not in (Family.INET, Family.INET6, Family.UNSPEC):
            raise InvalidArgumentError(Error.INVAL, "%s: Address family %r is not 4 or 6"
                                       % (what, family))
    elif isinstance(addr, tuple) and len(addr) == 2:
        host, port = addr
        scope = 0
    elif isinstance(addr, str):
        host, port = _split_addr_text(addr, what)
        scope = 0
    else:
        raise TypeError("%s: addr must be a net.Address, a (host, port) tuple or 'host:port' "
                        "text, not %r" % (what, addr if isinstance(addr, tuple) else type(addr).__name__))
    if not isinstance(host, str):
        raise TypeError("%s: host must be a str, not %s" % (what, type(host).__name__))
    port = _port(port, what)
    if not 0 <= scope <= 0xFFFFFFFF:
        raise InvalidArgumentError(Error.INVAL, "%s: scope_id %d out of range" % (what, scope))
    a = _parse(host, port, what)
    if a.family == Family.INET6:
        a.scope_id = scope
    # A host written as the library writes it was numeric (a name never
    # reads like an address): the same address every time, so cached. A
    # name may resolve differently later.
    if _host_text(a) == host:
        _remember(_c_addresses, addr, a)
    return a


def addr_parse(host: str, port: int) -> Address:
    """Resolve ``host`` (numeric or a name, synchronously) and ``port`` into
    an :class:`Address` (``net_addr_parse``): resolve a name once, then
    hand the result to :func:`sendto` as often as needed. Raises
    :class:`AddressError` when it does not resolve."""
    check_arguments(addr_parse, {"host": host, "port": port})
    return _addr_from_c(_parse(host, port, "addr_parse"))  # type: ignore[return-value]


def sendto(udp: int, addr: Optional[AddressLike], data: BytesLike) -> None:
    """Queue one datagram of ``data`` on UDP socket ``udp`` for ``addr``
    (``net_sendto``), an :class:`Address` (such as a DATAGRAM event's
    ``addr``), a ``(host, port)`` tuple or the text ``str(Address)`` gives
    (``"127.0.0.1:9"``, ``"[::1]:7000"``); ``None`` on a connected socket
    means its peer. The bytes are copied; the I/O loop sends them.

    Raises :class:`MessageSizeError` past the socket's max_datagram,
    :class:`WouldBlockError` when its send queue is full (nothing queued),
    :class:`InvalidArgumentError` for another address than a connected
    socket's peer, :class:`NotConnectedError` for ``None`` on an unconnected
    one, :class:`AddressError` for a name that does not resolve,
    :class:`BadHandleError` for a stale handle, ``TypeError`` for arguments
    of the wrong type.
    """
    try:
        to = _addr_to_c(addr, "sendto")
        if type(data) is bytes:
            n = len(data)
            buf = data
        else:
            buf = _from_buffer(data)
            n = len(buf)
    except TypeError as e:
        raise retyped(e, sendto, {"udp": udp, "addr": addr, "data": data}) from None
    if n > 0xFFFFFFFF:
        raise _MessageSizeRange(Error.MSGSIZE, "sendto: %d bytes" % n)
    try:
        rc = _sendto(udp, to, buf, n)
    except OverflowError:
        raise _out_of_range("sendto", udp) from None
    except TypeError as e:
        raise retyped(e, sendto, {"udp": udp, "addr": addr, "data": data}) from None
    if rc:
        _fail(rc, "sendto")


def udp_connect(udp: int, host: AddressLike, port: Optional[int] = None) -> None:
    """Fix the peer of UDP socket ``udp`` (``net_udp_connect``): then
    :func:`send` sends it one datagram per call, only its datagrams arrive,
    and ICMP errors about it come as ERROR events. At once, no event.
    ``host, port``, or one address (a net.Address, a (host, port) tuple,
    "host:port" text) with ``port`` left out."""
    what = "udp_connect"
    check_arguments(udp_connect, {"udp": udp, "host": host, "port": port})
    h, p = _host_port(host, port, what)
    try:
        rc = lib.net_udp_connect(udp, h, p)
    except OverflowError:
        raise _out_of_range(what, udp) from None
    if rc:
        _fail_with_os_error(rc, "%s %s:%s" % (what, host, port))


# ---------------------------------------------------------------- engine

_CONFIG_FIELDS = tuple(name for name, _ in ffi.typeof("net_config").fields if name != "size")
_TCP_FLAG_ARGS = (("nodelay", TcpFlag.NODELAY), ("reuseaddr", TcpFlag.REUSEADDR),
                  ("keepalive", TcpFlag.KEEPALIVE), ("ipv6only", TcpFlag.IPV6ONLY),
                  ("length_includes_header", TcpFlag.LEN_INCLUDES_HEADER), ("half_open", TcpFlag.HALF_OPEN))

_poll = lib.net_poll
_pack = lib.net_events_pack
_forward = lib.net_forward_data

# ---- packed records (net_events_pack; net.h, "packed events")
#
# Engine.poll has the library pack each polled batch into net_packed_event
# records and payload memory the binding owns, then reads the records with
# one C-level struct.iter_unpack per batch (through cffi it would be nine
# attribute lookups per event). The struct format is not written here: it
# is derived from cffi's view of net_packed_event, that is from net.h
# (test_cdef.py checks that against the C compiler): integers by their C
# type, addr as its raw bytes (the key of the address cache), reserved
# fields and padding skipped.
_STRUCT_CODES = {"uint8_t": "B", "int8_t": "b", "uint16_t": "H", "int16_t": "h",
                 "uint32_t": "I", "int32_t": "i", "uint64_t": "Q", "int64_t": "q"}


def _record_struct(cname: str) -> Tuple[struct.Struct, Tuple[str, ...]]:
    """A struct.Struct reading one C struct of the cdef, and the names of
    the fields it yields."""
    ctype = ffi.typeof(cname)
    codes, pos, names = ["="], 0, []
    for name, field in ctype.fields:
        size = ffi.sizeof(field.type)
        if field.offset > pos:
            codes.append("%dx" % (field.offset - pos))
        if name.endswith("_"):
            codes.append("%dx" % size)
        else:
            kind = field.type.kind
            codes.append(_STRUCT_CODES[field.type.cname] if kind == "primitive" else "%ds" % size)
            names.append(name)
        pos = field.offset + size
    if ffi.sizeof(ctype) > pos:
        codes.append("%dx" % (ffi.sizeof(ctype) - pos))
    record = struct.Struct("".join(codes))
    assert record.size == ffi.sizeof(ctype)
    return record, tuple(names)


_RECORD, _RECORD_FIELDS = _record_struct("net_packed_event")
# Engine.poll unpacks records into these names, in this order.
if _RECORD_FIELDS != ("type", "status", "handle", "parent", "user", "offset", "len", "os_error",
                      "addr"):  # pragma: no cover - caught by tests
    raise ImportError("net_packed_event changed: %r" % (_RECORD_FIELDS,))
_RECORD_SIZE = _RECORD.size
_iter_records = _RECORD.iter_unpack

# ---- a batch of DATA records, read by column
#
# A busy server's batches are mostly DATA. Such a batch is read a field at a
# time, each column a strided memoryview of the records turned into a list
# by one C call, and its Events are built by map and zip (C loops): no
# Python bytecode runs per event, and no addr bytes are made for records
# that have no address. The column indices are derived from cffi's layout of
# net_packed_event (that is, from net.h), in 32- and 64-bit words.
_U32_PER_RECORD = _RECORD_SIZE // 4
_U64_PER_RECORD = _RECORD_SIZE // 8


def _word(field: str, size: int) -> int:
    """The index of a record field in the record seen as words of size bytes."""
    offset = ffi.offsetof("net_packed_event", field)
    assert offset % size == 0, field
    return offset // size


_COL_TYPE, _COL_STATUS = _word("type", 4), _word("status", 4)
_COL_OFFSET, _COL_LEN, _COL_OS_ERROR = _word("offset", 4), _word("len", 4), _word("os_error", 4)
_COL_HANDLE, _COL_PARENT, _COL_USER = _word("handle", 8), _word("parent", 8), _word("user", 8)

_new_event = tuple.__new__
_EVENT_TYPES = tuple(EventType)
_N_TYPES = len(_EVENT_TYPES)
_DATA = EventType.DATA
_DATAGRAM = EventType.DATAGRAM
_EV_DATA = int(EventType.DATA)
_EV_DATAGRAM = int(EventType.DATAGRAM)
_ADDR_TYPES = (EventType.ACCEPT, EventType.CONNECT, EventType.ERROR)
_EMPTY_VIEW = memoryview(b"")


def _other_event(t: int, st: int, h: int, par: int, us: int, ln: int, ose: int,
                 addr: bytes) -> Event:
    """The Event of a record without payload (not DATA or DATAGRAM)."""
    a = _address_of(addr) if t in _ADDR_TYPES else None
    return _new_event(Event, (_EVENT_TYPES[t] if t < _N_TYPES else t,
                              st, h, par, us, None, ln, ose, a))


# Payload memory is allocated without clearing: net_events_pack writes
# every byte that is read.
_new_uncleared = ffi.new_allocator(should_clear_after_alloc=False)

# ---- payload views (views=True)
#
# A memoryview's buffer pointer is fixed when it is made, and everything
# derived from it (slices, memoryview(v), cast, toreadonly, objects that took
# its buffer) shares that pointer: releasing the view handed out does not
# release them. So views cannot point into the engine's memory, which
# net_poll recycles (the C API has no way to keep a payload block past the
# next poll). net_events_pack copies each payload instead, with no
# allocation, into a chunk of binding-owned memory (a bytearray); the view
# handed out is a read-only slice of it. A chunk is written again only when
# nothing outside the binding refers to it any more (its reference count
# says so: every view on a chunk, and anything that reached the bytearray
# through .obj, holds a reference), so a kept derivative reads its original
# bytes for as long as it lives and then frees the chunk like any object.
_CHUNK_SIZE = 256 * 1024          # a chunk (or the bytes buffer) holds many payloads; a bigger payload gets its own
_POOL_MAX = 16                    # free chunks kept for reuse ...
_POOL_MAX_BYTES = 16 * 1024 * 1024  # ... holding at most this many bytes
_RETIRED_MAX = 64                 # chunks still referenced, checked again at each poll
_getrefcount = getattr(sys, "getrefcount", None)


def _refs_when_unreferenced(chunks: List[bytearray]) -> int:
    # The count a chunk has when only the binding refers to it, measured
    # with the same loop shape as the check in Engine._recycle_chunks (list
    # slot, loop variable, argument).
    for c in chunks:
        return _getrefcount(c)  # type: ignore[misc]
    return -1


# Without sys.getrefcount (not CPython) chunks are never reused: always safe.
_FREE_REFS = _refs_when_unreferenced([bytearray(1)]) if _getrefcount else -1


#: The most events one Engine.poll returns: a larger max_events is clamped to
#: it (the binding allocates the event array itself).
_MAX_EVENTS = 65536


# Engine.poll waits at most this long in one C call, so that Python sees
# signals (Ctrl+C) in between; a slice that ends this much earlier without
# events was a wakeup.
_POLL_SLICE_MS = 100
_monotonic = time.monotonic
_INT_MAX = 0x7FFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF
_SLICE_EARLY_MS = 5


def _poll_timeout(timeout_ms: Any, what: str = "Engine.poll") -> int:
    """A timeout that is not a plain int >= -1: an int subclass is taken as
    its value, anything else refused, naming the argument."""
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise TypeError("%s: timeout_ms must be an int (milliseconds, -1 = forever), "
                        "not %s" % (what, type(timeout_ms).__name__))
    timeout_ms = int(timeout_ms)
    if timeout_ms < -_INT_MAX - 1:  # net_poll's int: the error an OverflowError earns
        raise _InvalidRange(Error.INVAL, "%s: timeout_ms %d out of range (must be -1"
                            " or 0..%d)" % (what, timeout_ms, _INT_MAX))
    if timeout_ms < -1:
        raise InvalidArgumentError(Error.INVAL, "%s: timeout_ms must be -1 (forever) or"
                                   " >= 0, not %d" % (what, timeout_ms))
    if timeout_ms > _INT_MAX:  # net_poll's int: the error an OverflowError earns
        raise _InvalidRange(Error.INVAL, "%s: timeout_ms %d out of range (at most %d)"
                            % (what, timeout_ms, _INT_MAX))
    return timeout_ms


def _destroy(handle: int) -> None:
    lib.net_engine_destroy(handle)


def _queue_sender(conns_append: Any, datas_append: Any) -> Any:
    """An engine's queue_send (see Engine.queue_send), bound to its queue."""
    def queue_send(conn: int, data: BytesLike) -> None:
        if type(data) is not bytes or type(conn) is not int:
            conn, data = _queueable(conn, data)
        conns_append(conn)
        datas_append(data)
    queue_send.__doc__ = Engine.queue_send.__doc__
    queue_send.__qualname__ = "Engine.queue_send"
    return queue_send


# Sends in batches (net_send_batch): defined apart, used by Engine below.
from ._batch import (SendFailure, SendQueueError, queueable as _queueable, send_many,  # noqa: E402
                     send_packed)
# Reliable UDP sessions (net_rudp_*): defined apart, used by Engine below.
from ._rudp import (RUDP_MAX_CHANNELS, RudpMode, RudpStats, rudp_connect as _rudp_connect,  # noqa: E402
                    rudp_listen as _rudp_listen, rudp_send, rudp_stats)


class Engine:
    """An engine (``net_engine``): backend, I/O threads, handles, event queue.

    Use it as a context manager, or call :meth:`close` (``destroy`` is the
    same call)::

        with net.Engine(backend="auto", io_threads=0) as eng:
            lst = eng.listen("127.0.0.1", 0, framing="u16le")
            while True:
                for ev in eng.poll(100):
                    if ev.type == net.EV_DATA:
                        eng.send(ev.handle, ev.data)

    Keyword arguments set ``net_config`` fields of the same name
    (``max_connections``, ``max_message``, ``send_cap``, ``send_highwater``,
    ``send_lowwater``, ``recv_limit``, ``idle_timeout_ms``,
    ``close_timeout_ms``, ``event_batch``); unset ones keep the library's
    defaults. ``backend`` is a :class:`Backend` or its name; ``"auto"``
    honours the ``NET_BACKEND`` environment variable. ``max_events`` is the
    most events one :meth:`poll` returns (at most 65536: larger values are
    clamped). A value out of its C field's range raises
    :class:`InvalidArgumentError`.

    DATA and DATAGRAM payloads: with ``views=False`` (the default)
    ``Event.data`` is a ``bytes`` copy (one allocation each), the caller's to
    keep. With ``views=True`` it is a read-only ``memoryview`` into chunks of
    memory the binding reuses from poll to poll: one copy, no allocation per
    payload (cheaper than ``bytes`` for small payloads, about the same for
    large ones). The view is released at the next
    :meth:`poll` on this engine or its destruction (a kept one raises
    ``ValueError``); slices and other objects derived from it keep their
    bytes, and keep their chunk out of reuse, for as long as they live. The
    payload is never a view on the engine's own memory, which the engine
    recycles at the next poll.

    :meth:`poll` must be called from one thread at a time; sends, closes,
    options, :meth:`post` and :meth:`wakeup` are safe from any thread. The
    handle-taking functions of the module (``send``, ``abort``...) are also
    methods here, for convenience, except ``close``: :meth:`close` ends the
    engine (as ``e:close()`` in Lua and ``Close()`` in C#), :func:`net.close`
    closes a handle.
    """

    def __init__(self, backend: Union[int, str] = "auto", io_threads: int = 0, *,
                 max_events: int = 512, views: bool = False, **config: int) -> None:
        self._handle = 0
        self._closing = False
        check_arguments(Engine.__init__, {"backend": backend, "io_threads": io_threads,
                                          "max_events": max_events}, "Engine")
        for k, v in config.items():
            if v is not None and not isinstance(v, int):
                raise TypeError("Engine: %s must be an int, not %s" % (k, type(v).__name__))
        cfg = ffi.new("net_config *")
        lib.net_config_init(cfg)
        for k in config:
            if k not in _CONFIG_FIELDS or k in ("backend", "io_threads"):
                raise TypeError("Engine() got an unexpected keyword argument %r" % k)
        try:
            cfg.backend = _enum_value(Backend, backend, "backend")
            cfg.io_threads = io_threads
            for k, v in config.items():
                if v is not None:
                    setattr(cfg, k, v)
        except OverflowError as e:
            raise _InvalidRange(Error.INVAL, "engine_create: %s" % e) from None
        if max_events < 1:
            raise InvalidArgumentError(Error.INVAL, "max_events must be >= 1")
        max_events = min(max_events, _MAX_EVENTS)
        out = ffi.new("net_engine *")
        rc = lib.net_engine_create(cfg, out)
        if rc == Error.LIMIT:
            # The only count limit engine creation has: engines open at once
            # in this process (net_strerror's text says how many).
            _fail(rc, "engine_create: too many engines open at once (close some)")
        if rc:
            _fail(rc, "engine_create")
        self._handle = int(out[0])
        self._max = max_events
        self._events = ffi.new("net_event[]", max_events)
        # What net_events_pack writes: the records, and how much payload.
        self._records = ffi.new("net_packed_event[]", max_events)
        self._record_bytes = memoryview(ffi.buffer(self._records))
        # The same records as 32-bit words (unsigned and signed) and 64-bit
        # words, for reading a batch by column (_take_data_columns).
        self._record_u32 = self._record_bytes.cast("I")
        self._record_i32 = self._record_bytes.cast("i")
        self._record_u64 = self._record_bytes.cast("Q")
        self._used = ffi.new("uint32_t *")
        # poll_forward's per-event results (net_forward_data), made on first use.
        self._forward_results: Any = None
        # views=False: the payload memory, reused from poll to poll (each
        # payload leaves it as a bytes copy).
        self._payload: Any = None if views else _new_uncleared("char[]", _CHUNK_SIZE)
        self._payload_bytes: Any = None if views else ffi.buffer(self._payload)
        # views=True: the payload views of the last poll (released at the
        # next), the chunk being filled (its address for C, its read-only
        # view, fill offset, size), chunks filled before, free chunks.
        self._views: Optional[List[memoryview]] = [] if views else None
        self._chunk: Optional[bytearray] = None
        self._chunk_c: Any = None
        self._chunk_ro: Any = None
        self._chunk_off = 0
        self._chunk_cap = 0
        self._retired: List[bytearray] = []
        self._pool: List[bytearray] = []
        self._poll_lock = threading.Lock()
        self._wakeups = 0
        # Sends queued by queue_send, in order, until flush (or the next poll).
        self._queued_conns: List[int] = []
        self._queued_datas: List[bytes] = []
        # queue_send runs once per message: this instance's own function,
        # holding the two appends, saves the lookups the method would make.
        self.queue_send = _queue_sender(self._queued_conns.append, self._queued_datas.append)
        self._finalizer = weakref.finalize(self, _destroy, self._handle)
        self.io_threads = io_threads
        #: backend name: "epoll", "io_uring" or "iocp"
        self.backend: str = ffi.string(lib.net_backend_name(self._handle)).decode()

    # -- lifetime

    @property
    def handle(self) -> int:
        """The C ``net_engine`` value (0 once destroyed)."""
        return self._handle

    def _closed(self, what: str) -> BadHandleError:
        return BadHandleError(Error.BADHANDLE, "Engine.%s: the engine is closed" % what)

    def close(self, *handle: int) -> None:
        """End the engine (``net_engine_destroy``): closes every socket at
        once (no graceful flush), stops the I/O threads, frees everything.
        Idempotent. If another thread is inside :meth:`poll`, that poll is
        woken and finishes first. Afterwards every method (and ``with``)
        raises :class:`BadHandleError` ("the engine is closed").

        To close one handle (connection, listener, UDP socket, timer), call
        :func:`net.close(handle) <close>`."""
        if handle:
            raise TypeError("Engine.close() ends the engine and takes no argument: "
                            "close a handle with net.close(handle)")
        self._end()

    def destroy(self) -> None:
        """The same as :meth:`close`, under its earlier name."""
        self._end()

    def _end(self) -> None:
        h = self._handle
        if not h:
            return
        # A poll running on another thread is woken (again and again, should
        # it poll once more) until we hold the poll lock; polls that start
        # after that see the closing flag.
        self._closing = True
        lock = self._poll_lock
        while not lock.acquire(timeout=0.02):
            lib.net_wakeup(h)
        try:
            if not self._handle:
                return  # another thread destroyed it meanwhile
            self._release_views()
            self._finalizer.detach()
            self._handle = 0
            # Queued sends go with the engine, like what its sockets had queued.
            self._queued_conns.clear()
            self._queued_datas.clear()
            rc = lib.net_engine_destroy(h)
        finally:
            lock.release()
        if rc:
            _fail(rc, "engine_destroy")

    def __enter__(self) -> "Engine":
        if not self._handle:
            raise self._closed("__enter__ (with)")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._end()

    def __repr__(self) -> str:
        return "<net.Engine %#x backend=%s io_threads=%d>" % (
            self._handle, getattr(self, "backend", "?"), getattr(self, "io_threads", 0))

    # -- events

    def _release_views(self) -> None:
        """Release the payload views handed out by the last poll, retire the
        chunk they were copied into and recycle the chunks nothing refers to
        any more. Poll lock held."""
        views = self._views
        if views:
            for v in views:
                try:
                    v.release()
                except BufferError:
                    # Exported further (e.g. ffi.from_buffer): it stays valid,
                    # and keeps its chunk out of reuse until that export ends.
                    pass
            views.clear()
        if self._chunk is not None:
            self._retire_chunk()
        if self._retired:
            self._recycle_chunks()

    def _retire_chunk(self) -> None:
        """Stop filling the current chunk: release the binding's own views on
        it (slices made from them stay valid) and queue it for recycling."""
        try:
            self._chunk_ro.release()
        except BufferError:  # pragma: no cover - never exported by the binding
            pass
        ffi.release(self._chunk_c)
        self._chunk_c = self._chunk_ro = None
        self._retired.append(self._chunk)  # type: ignore[arg-type]
        self._chunk = None
        self._chunk_off = self._chunk_cap = 0

    def _recycle_chunks(self) -> None:
        """Move the retired chunks that only the binding refers to into the
        free pool (bounded); keep checking the others, up to a bound past
        which they are left to whoever still refers to them."""
        retired = self._retired
        pool = self._pool
        still = []
        pooled = sum(map(len, pool))
        for c in retired:
            if _getrefcount is not None and _getrefcount(c) <= _FREE_REFS:
                if len(pool) < _POOL_MAX and pooled + len(c) <= _POOL_MAX_BYTES:
                    pool.append(c)
                    pooled += len(c)
            else:
                still.append(c)
        if len(still) > _RETIRED_MAX:
            del still[:len(still) - _RETIRED_MAX]
        self._retired = still

    def _new_chunk(self, need: int) -> None:
        """Retire the current chunk (if any) and start filling a free one of
        at least ``need`` bytes."""
        if self._chunk is not None:
            self._retire_chunk()
        pool = self._pool
        chunk = None
        for i, c in enumerate(pool):
            if len(c) >= need:
                chunk = pool.pop(i)
                break
        if chunk is None:
            chunk = bytearray(max(_CHUNK_SIZE, need))
        self._chunk = chunk
        self._chunk_c = ffi.from_buffer(chunk)
        self._chunk_ro = memoryview(chunk).toreadonly()
        self._chunk_off = 0
        self._chunk_cap = len(chunk)

    def _payload_chunks(self) -> int:
        """How many chunks of payload memory the binding holds (for tests)."""
        return len(self._pool) + len(self._retired) + (self._chunk is not None)

    def poll(self, timeout_ms: int = -1) -> List[Event]:
        """Wait up to ``timeout_ms`` (-1 = forever, 0 = not at all) and return
        the ready events (possibly none), at most ``max_events``. Another
        negative value raises :class:`InvalidArgumentError` (a ``ValueError``),
        a value that is no int ``TypeError``.

        DATA payloads are ``bytes`` copies, or with ``views=True`` read-only
        memoryviews released at the next poll (what was derived from them
        stays valid; see :class:`Engine`). With
        ``io_threads=0`` the I/O itself runs inside this call. The GIL is
        released while waiting. A wait longer than 100 ms waits in slices of
        100 ms, so that Python handles signals in between: Ctrl+C raises
        ``KeyboardInterrupt`` out of ``poll(-1)`` within ~100 ms (events not
        yet taken stay queued for the next poll). :meth:`wakeup` makes it
        return (possibly with no events). Raises :class:`BusyError` if another
        thread is polling this engine.
        """
        return self._poll_batch(timeout_ms, None)

    def poll_columns(self, timeout_ms: int = -1) -> "Columns":
        """:meth:`poll`, with the DATA events by column: returns
        :class:`Columns` (``handles``, ``datas``, ``users``: one entry per
        DATA event, in order, ``datas`` as ``bytes`` whatever ``views``
        says; ``others``: every other event, in order, as :class:`Event`,
        a DATAGRAM's payload as ``bytes`` too).
        No Python object is made per DATA event but its payload and list
        entries, so a server that handles messages in bulk pays no
        per-message bytecode: ``eng.send_many(c.handles, c.datas)`` echoes
        them all with one call.

        The library never reports a DATA after its connection's CLOSE, and a
        connection's ACCEPT or CONNECT comes before its first DATA: so
        ``others`` may hold the ACCEPT of a connection whose DATA is in the
        columns (handle it first), and a CLOSE that ends a connection with
        DATA in the columns (its handle is stale by then: a send to it fails
        with ``BadHandleError``). Same arguments, waits and errors as
        :meth:`poll`."""
        cols = Columns()
        cols.others.extend(self._poll_batch(timeout_ms, cols))
        return cols

    def poll_forward(self, timeout_ms: int = -1, to: Optional[int] = None) -> "Forwarded":
        """:meth:`poll`, with every DATA payload sent on by the library
        (``net_forward_data``) before Python sees the batch: back to the
        connection it came on, or with ``to`` to that handle, each exactly
        as :func:`send` would send it, in order. No Python object is made
        per DATA event and no payload is copied for it (one of 256 bytes or
        more is referenced where it lies): an echo or relay in Python costs
        about what one in C does. Returns :class:`Forwarded`: how many
        payloads went on, every other event in order (``others``, as
        :meth:`poll_columns` gives them) and a :class:`SendFailure` per
        payload not queued (``failures``, with a copy of the payload). Same
        arguments, waits and errors as :meth:`poll`."""
        if to is not None:
            if isinstance(to, bool) or not isinstance(to, int):
                raise TypeError("Engine.poll_forward: to must be an int (a handle) or None, not %s"
                                % type(to).__name__)
            if not 0 < to <= _U64_MAX:
                raise InvalidArgumentError(Error.INVAL, "Engine.poll_forward: to must be a handle (> 0) or None,"
                                           " not %d" % to)
        fwd = Forwarded(0 if to is None else int(to))
        fwd.others.extend(self._poll_batch(timeout_ms, None, fwd))
        return fwd

    def _poll_batch(self, timeout_ms: int, cols: Optional["Columns"],
                    fwd: Optional["Forwarded"] = None) -> List[Event]:
        """poll's body: the events, or with cols the DATA events into cols'
        columns and the others returned, or with fwd the DATA payloads sent
        on (fwd's count and failures) and the others returned."""
        if type(timeout_ms) is not int or not -1 <= timeout_ms <= _INT_MAX:
            name = "Engine.poll" if cols is None and fwd is None else (
                "Engine.poll_columns" if fwd is None else "Engine.poll_forward")
            timeout_ms = _poll_timeout(timeout_ms, name)
        if self._queued_conns:
            failures = self.flush()
            if failures:
                raise SendQueueError(failures)
        if not self._poll_lock.acquire(False):
            if self._closing:
                raise self._closed("poll")
            raise BusyError(Error.BUSY, "poll")
        try:
            if self._closing:
                raise self._closed("poll")
            views = self._views
            if views is not None and views:
                self._release_views()
            if 0 <= timeout_ms <= _POLL_SLICE_MS:
                n = _poll(self._handle, self._events, self._max, timeout_ms)
            else:  # the first slice here: events already there cost one clock read more
                wakeups, start = self._wakeups, _monotonic()
                n = _poll(self._handle, self._events, self._max, _POLL_SLICE_MS)
                if n == 0:
                    n = self._poll_more_slices(timeout_ms, start, wakeups)
            if n <= 0:
                if n < 0:
                    _fail(n, "poll")
                return []
            out: List[Event] = []
            if fwd is not None:
                self._forward_batch(n, fwd, out)
                return out
            if views is None or cols is not None:
                self._payload_memory()  # views=True: bytes for poll_columns
                take = self._take_bytes
            else:
                take = self._take_views
            done = 0
            while done < n:
                done += take(done, n - done, out, cols)
            return out
        finally:
            self._poll_lock.release()

    def _payload_memory(self) -> None:
        """Makes the payload memory bytes copies are cut from, where the
        engine (views=True) began without it."""
        if self._payload is None:
            self._payload = _new_uncleared("char[]", _CHUNK_SIZE)
            self._payload_bytes = ffi.buffer(self._payload)

    def _forward_batch(self, n: int, fwd: "Forwarded", out: List[Event]) -> None:
        """net_forward_data over the n events polled: the DATA payloads go
        on in the library; every other event is appended to ``out`` (runs of
        them packed with one call), every failed send to fwd.failures."""
        results = self._forward_results
        if results is None:
            results = self._forward_results = ffi.new("int[]", self._max)
        events = self._events
        queued = _forward(events, n, fwd._to, results)
        if queued < 0:  # pragma: no cover - its arguments are always valid here
            _fail(queued, "forward_data")
        fwd.forwarded += queued
        if queued == n:
            return
        self._payload_memory()  # views=True: bytes for the others, as poll_columns
        i = 0
        while i < n:
            r = results[i]
            if r == 0:
                i += 1
            elif r == 1:  # not DATA: the caller's
                j = i + 1
                while j < n and results[j] == 1:
                    j += 1
                done = i
                while done < j:
                    done += self._take_bytes(done, j - done, out, None)
                i = j
            else:
                ev = events[i]
                data = ffi.buffer(ev.data, ev.len)[:] if ev.len and ev.data != ffi.NULL else b""
                fwd.failures.append(SendFailure(fwd._to or int(ev.handle), data, error_for(r, "forward_data")))
                i += 1

    def _poll_more_slices(self, timeout_ms: int, now: float, wakeups: int) -> int:
        """After poll's first slice of _POLL_SLICE_MS, begun at ``now``,
        returned no events: net_poll on in slices until timeout_ms (-1:
        forever) from ``now``. Python runs signal handlers between slices (a
        C call that blocks is never interrupted by Ctrl+C). Returns net_poll's
        result; 0 at the timeout, after a :meth:`wakeup` (counted, so that
        one landing at a slice's end is not lost: ``wakeups`` is the count
        before the first slice), when the engine closes, or when a slice
        ended early without events (a wakeup through the flat API)."""
        handle, events, most = self._handle, self._events, self._max
        deadline = None if timeout_ms < 0 else now + timeout_ms / 1000.0
        wait = _POLL_SLICE_MS
        n = 0
        while True:
            if self._closing or self._wakeups != wakeups:
                return n
            start, now = now, _monotonic()
            # A slice that ended well before its time without events was a
            # wakeup: the caller sees it, as with one long wait.
            if (now - start) * 1000.0 < wait - _SLICE_EARLY_MS:
                return 0
            if deadline is not None:
                left = int((deadline - now) * 1000.0 + 0.999)
                if left <= 0:
                    return 0
                wait = min(_POLL_SLICE_MS, left)
            n = _poll(handle, events, most, wait)
            if n != 0:
                return n

    # The event loops below compare a record's type, an int, with ints (an
    # EventType member compares ~30 ns slower); events carry the member.

    def _take_bytes(self, first: int, count: int, out: List[Event], cols: Optional["Columns"]) -> int:
        """Pack events[first:first + count] into the payload buffer and
        append those that fit to ``out`` as Events with ``bytes`` payloads
        (with cols: the DATA events to its columns); returns how many. A
        payload larger than the buffer goes through memory of its own size."""
        events = self._events + first if first else self._events
        k = _pack(events, count, self._records, self._payload, _CHUNK_SIZE, self._used)
        payload = self._payload_bytes  # sliced: a bytes copy
        if k < 0:
            if k != Error.MSGSIZE:
                _fail(k, "events_pack")
            mem = _new_uncleared("char[]", self._used[0])
            k = _pack(events, count, self._records, mem, len(mem), self._used)
            if k < 0:  # pragma: no cover - it was given the room it asked for
                _fail(k, "events_pack")
            payload = ffi.buffer(mem)
        u32 = self._record_u32
        if u32[_COL_TYPE:k * _U32_PER_RECORD:_U32_PER_RECORD].tolist().count(_EV_DATA) == k:
            if cols is None:
                self._take_data_columns(k, payload, out)
            else:
                self._take_columns(k, payload, cols)
            return k
        append, new, Ev, get = out.append, _new_event, Event, _addresses.get
        for t, st, h, par, us, off, ln, ose, addr in _iter_records(
                self._record_bytes[:k * _RECORD_SIZE]):
            if t == _EV_DATA and cols is not None:
                cols.handles.append(h)
                cols.lens.append(ln)
                cols.users.append(us)
                cols._parts.append(payload[off:off + ln])
            elif t == _EV_DATA:  # the hot path (par: a reliable-UDP session's channel, else 0)
                append(new(Ev, (_DATA, st, h, par, us, payload[off:off + ln], ln, ose, None)))
            elif t == _EV_DATAGRAM:
                a = get(addr)
                if a is None:
                    a = _address_of(addr)
                append(new(Ev, (_DATAGRAM, st, h, 0, us, payload[off:off + ln], ln, ose, a)))
            else:
                append(_other_event(t, st, h, par, us, ln, ose, addr))
        return k

    def _take_data_columns(self, k: int, payload: Any, out: List[Event]) -> None:
        """Append the Events of records[0:k], all DATA, to ``out``, with
        ``bytes`` payloads sliced from ``payload``; column by column."""
        end32, step32 = k * _U32_PER_RECORD, _U32_PER_RECORD
        end64, step64 = k * _U64_PER_RECORD, _U64_PER_RECORD
        u32, i32, u64 = self._record_u32, self._record_i32, self._record_u64
        offsets = u32[_COL_OFFSET:end32:step32].tolist()
        lens = u32[_COL_LEN:end32:step32].tolist()
        datas = map(payload.__getitem__, map(slice, offsets, map(_add, offsets, lens)))
        out.extend(map(_new_event, _repeat(Event), zip(
            _repeat(_DATA), i32[_COL_STATUS:end32:step32].tolist(), u64[_COL_HANDLE:end64:step64].tolist(),
            u64[_COL_PARENT:end64:step64].tolist(), u64[_COL_USER:end64:step64].tolist(), datas, lens,
            i32[_COL_OS_ERROR:end32:step32].tolist(), _repeat(None))))

    def _take_columns(self, k: int, payload: Any, cols: "Columns") -> None:
        """Append records[0:k], all DATA, to the columns of cols."""
        end32, step32 = k * _U32_PER_RECORD, _U32_PER_RECORD
        end64, step64 = k * _U64_PER_RECORD, _U64_PER_RECORD
        u32, u64 = self._record_u32, self._record_u64
        # All DATA: their payloads are the packed bytes [0, used), in order.
        cols._parts.append(payload[0:self._used[0]])
        # Copied as raw words: no int object per handle, length or user.
        cols.lens.frombytes(u32[_COL_LEN:end32:step32].tobytes())
        cols.handles.frombytes(u64[_COL_HANDLE:end64:step64].tobytes())
        cols.users.frombytes(u64[_COL_USER:end64:step64].tobytes())

    def _take_views(self, first: int, count: int, out: List[Event], cols: None = None) -> int:
        """Pack events[first:first + count] into what is left of the current
        chunk and append those that fit to ``out`` as Events with payload
        views; returns how many (0 when the first payload needs a new chunk,
        which it then has)."""
        events = self._events + first if first else self._events
        base = self._chunk_off
        room = self._chunk_cap - base
        mem = self._chunk_c + base if room else ffi.NULL
        k = _pack(events, count, self._records, mem, room, self._used)
        if k < 0:
            if k != Error.MSGSIZE:
                _fail(k, "events_pack")
            self._new_chunk(self._used[0])
            return 0
        used = self._used[0]
        self._chunk_off = base + used
        payload = self._chunk_ro[base:base + used] if used else None
        views = self._views
        keep = views.append  # type: ignore[union-attr]
        append, new, Ev, get = out.append, _new_event, Event, _addresses.get
        for t, st, h, par, us, off, ln, ose, addr in _iter_records(
                self._record_bytes[:k * _RECORD_SIZE]):
            if t == _EV_DATA or t == _EV_DATAGRAM:
                if ln:
                    data = payload[off:off + ln]  # type: ignore[index]
                    keep(data)
                else:
                    data = _EMPTY_VIEW
                if t == _EV_DATA:
                    append(new(Ev, (_DATA, st, h, par, us, data, ln, ose, None)))
                else:
                    a = get(addr)
                    if a is None:
                        a = _address_of(addr)
                    append(new(Ev, (_DATAGRAM, st, h, 0, us, data, ln, ose, a)))
            else:
                append(_other_event(t, st, h, par, us, ln, ose, addr))
        return k

    # -- sends in batches

    def queue_send(self, conn: int, data: BytesLike) -> None:
        """Queue ``data`` for connection ``conn`` (as :func:`send` would
        send it) and return at once: the queued sends go to the library
        together, with one call, at :meth:`flush` or at the start of the
        next :meth:`poll`. Several to one connection keep their order.

        The payload is kept as it is now: ``bytes`` by reference, anything
        else (a bytearray, a payload view of ``views=True``) copied. Errors
        of a send (a closed connection, a full send queue...) come from
        :meth:`flush`, or as :class:`SendQueueError` from :meth:`poll`;
        a wrong argument type raises here. For the thread that polls:
        other threads use :func:`send` or :func:`send_many`. Sends still
        queued when the engine is closed are dropped with it.
        """
        if type(data) is not bytes or type(conn) is not int:
            conn, data = _queueable(conn, data)
        self._queued_conns.append(conn)
        self._queued_datas.append(data)

    def flush(self) -> List[SendFailure]:
        """Send what :meth:`queue_send` queued, with one call
        (:func:`send_many`), and return the sends that failed, one
        :class:`SendFailure` (``conn``, ``data``, ``error``) each; an empty
        list when all were queued. The queue is empty afterwards."""
        conns, datas = self._queued_conns, self._queued_datas
        if not conns:
            return []
        if not self._handle:
            raise self._closed("flush")
        try:
            return send_many(conns, datas)
        finally:
            conns.clear()
            datas.clear()

    def wakeup(self) -> None:
        """Make a blocking :meth:`poll` return (possibly with no events). Any thread."""
        if not self._handle:
            raise self._closed("wakeup")
        # Counted before the wakeup itself: a sliced poll (see poll) that
        # sees the count change returns even if the slice the wakeup ended
        # was about to end anyway.
        self._wakeups += 1
        rc = lib.net_wakeup(self._handle)
        if rc:
            _fail(rc, "wakeup")

    def post(self, value: int) -> None:
        """Queue a USER event carrying ``value`` (a 64-bit unsigned int). Any thread."""
        if not self._handle:
            raise self._closed("post")
        try:
            rc = lib.net_post(self._handle, value)
        except OverflowError:
            raise _InvalidRange(Error.INVAL, "post: %d outside 0..2**64-1" % value) from None
        except TypeError as e:
            raise retyped(e, Engine.post, {"value": value}) from None
        if rc:
            _fail(rc, "post")

    def waitable(self) -> int:
        """``net_engine_waitable``: what another event loop waits on instead
        of a blocking :meth:`poll`. Linux: a file descriptor to watch for
        readability only (``loop.add_reader``, ``selectors``, ``select``);
        Windows: an event HANDLE (an int) for ``WaitForSingleObject``. The
        engine owns it: never read, close or reset it, and take it out of
        your loop before :meth:`destroy`. It is ready whenever :meth:`poll`
        has something to return or work due; when ready, call ``poll(0)``
        until it returns fewer than ``max_events`` events, then wait again
        (a spurious readiness, where ``poll(0)`` returns nothing, may
        happen; a missed one never). Sends left in :meth:`queue_send`'s
        queue go out at the next poll only: :meth:`flush` before waiting.
        The same value every call."""
        if not self._handle:
            raise self._closed("waitable")
        out = ffi.new("intptr_t *")
        rc = lib.net_engine_waitable(self._handle, out)
        if rc:
            _fail(rc, "engine_waitable")
        return int(out[0])

    def stats(self) -> Stats:
        """``net_engine_stats``."""
        if not self._handle:
            raise self._closed("stats")
        s = ffi.new("net_stats *")
        s.size = ffi.sizeof("net_stats")
        rc = lib.net_engine_stats(self._handle, s)
        if rc:
            _fail(rc, "engine_stats")
        return Stats(*(getattr(s, f) for f in Stats._fields))

    # -- TCP

    def _tcp_config(self, framing: Union[int, str], flags: Optional[int], max_message: int,
                    backlog: int, user: int, bools: Dict[str, Optional[bool]]) -> Any:
        tc = ffi.new("net_tcp_config *")
        lib.net_tcp_config_init(tc)
        try:
            tc.framing = _enum_value(Framing, framing, "framing")
            f = tc.flags if flags is None else int(flags)
            for name, bit in _TCP_FLAG_ARGS:
                v = bools.get(name)
                if v is not None:
                    f = (f | bit) if v else (f & ~bit)
            tc.flags = f
            tc.max_message = max_message
            tc.backlog = backlog
            tc.user = user
        except OverflowError as e:
            raise _InvalidRange(Error.INVAL, "tcp config: %s" % e) from None
        return tc

    def listen(self, host: Optional[str], port: int, *, framing: Union[int, str] = "raw",
               length_includes_header: Optional[bool] = None, nodelay: Optional[bool] = None,
               reuseaddr: Optional[bool] = None, keepalive: Optional[bool] = None,
               ipv6only: Optional[bool] = None, half_open: Optional[bool] = None,
               flags: Optional[int] = None, max_message: int = 0, backlog: int = 0, user: int = 0) -> int:
        """Listen on ``host:port`` (``net_listen``) and return the listener handle.

        ``host`` is numeric IPv4/IPv6 or a name; ``None`` or ``""`` is any IPv4
        address. Port 0 picks a free port (see :func:`local_addr`). Accepted
        connections inherit ``framing`` (a :class:`Framing` or its name) and
        the flags. Boolean flag arguments left ``None`` keep the library's
        defaults (nodelay and reuseaddr on); ``flags`` sets them all at once.
        ``half_open``: the peer's FIN comes as an EOF event and the connection
        stays open for sending until closed or shut down.
        """
        if not self._handle:
            raise self._closed("listen")
        check_arguments(Engine.listen, {"host": host, "port": port, "framing": framing,
                                        "flags": flags, "max_message": max_message,
                                        "backlog": backlog, "user": user})
        tc = self._tcp_config(framing, flags, max_message, backlog, user, {
            "length_includes_header": length_includes_header, "nodelay": nodelay,
            "reuseaddr": reuseaddr, "keepalive": keepalive, "ipv6only": ipv6only,
            "half_open": half_open})
        out = ffi.new("net_handle *")
        rc = lib.net_listen(self._handle, _host(host, "listen", True), _port(port, "listen"),
                            tc, out)
        if rc:
            _fail_with_os_error(rc, "listen %s:%d" % (host or "", port))
        return int(out[0])

    def connect(self, host: AddressLike, port: Optional[int] = None, *, framing: Union[int, str] = "raw",
                length_includes_header: Optional[bool] = None, nodelay: Optional[bool] = None,
                keepalive: Optional[bool] = None, half_open: Optional[bool] = None,
                flags: Optional[int] = None, max_message: int = 0, user: int = 0) -> int:
        """Start connecting (``net_connect``) and return the connection handle.

        ``host, port``, or one address with ``port`` left out: a
        :class:`Address`, a ``(host, port)`` tuple or the text ``str(Address)``
        gives (``"127.0.0.1:7000"``, ``"[::1]:7000"``). A CONNECT event
        reports the outcome (status 0 = connected); a failed connect is
        followed by a CLOSE event.
        """
        if not self._handle:
            raise self._closed("connect")
        check_arguments(Engine.connect, {"host": host, "port": port, "framing": framing,
                                         "flags": flags, "max_message": max_message,
                                         "user": user})
        host_c, port_c = _host_port(host, port, "Engine.connect")
        tc = self._tcp_config(framing, flags, max_message, 0, user, {
            "length_includes_header": length_includes_header, "nodelay": nodelay,
            "keepalive": keepalive, "half_open": half_open})
        out = ffi.new("net_handle *")
        rc = lib.net_connect(self._handle, host_c, port_c, tc, out)
        if rc:
            _fail_with_os_error(rc, "connect %s:%d" % (host_c.decode(errors="replace"), port_c))
        return int(out[0])

    # -- UDP

    def udp_open(self, host: Optional[str], port: int = 0, *, reuseaddr: Optional[bool] = None,
                 ipv6only: Optional[bool] = None, broadcast: Optional[bool] = None,
                 flags: Optional[int] = None, max_datagram: int = 0, send_cap: int = 0,
                 rcvbuf: int = 0, sndbuf: int = 0, user: int = 0) -> int:
        """Open a UDP socket bound to ``host:port`` (``net_udp_open``) and
        return its handle; DATAGRAM events start at once.

        ``host`` is numeric IPv4/IPv6 or a name; ``None`` or ``""`` is any
        IPv4 address, ``"::"`` any IPv6. Port 0 picks a free port (see
        :func:`local_addr`). ``reuseaddr``, ``ipv6only`` and ``broadcast`` set
        the :class:`UdpFlag` bits (``flags`` sets them all at once).
        ``max_datagram`` (default and maximum :data:`UDP_MAX_PAYLOAD`): larger
        arrivals are counted and dropped, larger sends fail with
        :class:`MessageSizeError`; option ``"max_datagram"`` changes it later,
        up to this value. ``send_cap``: bytes queued (plus 64 per
        datagram) before :func:`sendto` raises :class:`WouldBlockError`
        (default 1 MiB). ``rcvbuf``/``sndbuf``: SO_RCVBUF/SO_SNDBUF, 0 = the
        OS default. Zeros keep the library's defaults.
        """
        what = "udp_open"
        if not self._handle:
            raise self._closed(what)
        check_arguments(Engine.udp_open, {
            "host": host, "port": port, "flags": flags, "max_datagram": max_datagram,
            "send_cap": send_cap, "rcvbuf": rcvbuf, "sndbuf": sndbuf, "user": user})
        uc = ffi.new("net_udp_config *")
        lib.net_udp_config_init(uc)
        f = uc.flags if flags is None else int(flags)
        for v, bit in ((reuseaddr, UdpFlag.REUSEADDR), (ipv6only, UdpFlag.IPV6ONLY),
                       (broadcast, UdpFlag.BROADCAST)):
            if v is not None:
                f = (f | bit) if v else (f & ~bit)
        try:
            uc.flags = f
            if max_datagram:
                uc.max_datagram = max_datagram
            if send_cap:
                uc.send_cap = send_cap
            uc.rcvbuf = rcvbuf
            uc.sndbuf = sndbuf
            uc.user = user
        except OverflowError as e:
            raise _InvalidRange(Error.INVAL, "%s: %s" % (what, e)) from None
        out = ffi.new("net_handle *")
        rc = lib.net_udp_open(self._handle, _host(host, what, True), _port(port, what), uc, out)
        if rc:
            _fail_with_os_error(rc, "%s %s:%s" % (what, host or "", port))
        return int(out[0])

    # -- timers

    def timer(self, delay_ms: int, repeat_ms: int = 0, user: int = 0) -> int:
        """Start a timer (``net_timer_start``): a TIMER event after ``delay_ms``,
        then every ``repeat_ms`` (0 = once). Stop it with :func:`close`."""
        if not self._handle:
            raise self._closed("timer")
        check_arguments(Engine.timer, {"delay_ms": delay_ms, "repeat_ms": repeat_ms, "user": user})
        out = ffi.new("net_handle *")
        try:
            rc = lib.net_timer_start(self._handle, delay_ms, repeat_ms, user, out)
        except OverflowError:
            raise _InvalidRange(Error.INVAL, "timer_start: delay %r / repeat %r (0..2**32-1 ms)"
                                       " or user %r (0..2**64-1) out of range"
                                       % (delay_ms, repeat_ms, user)) from None
        if rc:
            _fail(rc, "timer_start")
        return int(out[0])

    # -- the handle calls, as methods
    send = staticmethod(send)
    send_many = staticmethod(send_many)
    send_packed = staticmethod(send_packed)
    sendv = staticmethod(sendv)
    broadcast = staticmethod(broadcast)
    abort = staticmethod(abort)
    shutdown = staticmethod(shutdown)
    set_user = staticmethod(set_user)
    get_user = staticmethod(get_user)
    set_option = staticmethod(set_option)
    get_option = staticmethod(get_option)
    local_addr = staticmethod(local_addr)
    peer_addr = staticmethod(peer_addr)
    send_queued = staticmethod(send_queued)
    sendto = staticmethod(sendto)
    udp_connect = staticmethod(udp_connect)
    rudp_send = staticmethod(rudp_send)
    rudp_stats = staticmethod(rudp_stats)

    # -- reliable UDP (net/_rudp.py)
    rudp_listen = _rudp_listen
    rudp_connect = _rudp_connect


def backend_available(backend: Union[int, str]) -> bool:
    """Whether an engine with this backend can be created here (built into
    the library and allowed by the kernel)."""
    check_arguments(backend_available, {"backend": backend})
    try:
        Engine(backend).destroy()
    except UnsupportedError:
        return False
    return True


__all__ = [
    # constants
    "Error", "EventType", "Backend", "Framing", "TcpFlag", "UdpFlag", "Option", "Family",
    "EV_NONE", "EV_ACCEPT", "EV_CONNECT", "EV_DATA", "EV_CLOSE", "EV_SEND_HIGHWATER",
    "EV_SEND_DRAINED", "EV_TIMER", "EV_USER", "EV_DATAGRAM", "EV_ERROR", "UDP_MAX_PAYLOAD",
    "RudpMode", "RUDP_MAX_CHANNELS",
    "VERSION_MAJOR", "VERSION_MINOR", "VERSION_PATCH",
    # errors
    "NetError", "BadHandleError", "InvalidArgumentError", "NoMemoryError", "WouldBlockError",
    "ClosedError", "MessageSizeError", "BusyError", "UnsupportedError", "OSFailureError",
    "AddressError", "TimedOutError", "ResetError", "RefusedError", "LimitError", "ProtocolError",
    "AbortedError", "AddressInUseError", "UnreachableError", "NotConnectedError", "error_for",
    # records
    "Address", "Event", "Columns", "Forwarded", "Stats", "SendFailure", "SendQueueError", "RudpStats",
    # functions
    "version", "version_string", "strerror", "send", "send_many", "send_packed", "sendv", "broadcast", "close", "abort",
    "shutdown", "set_user", "get_user", "set_option", "get_option", "local_addr", "peer_addr",
    "send_queued", "format_addr", "backend_available", "sendto", "udp_connect", "addr_parse",
    "rudp_send", "rudp_stats",
    # engine
    "Engine",
]
