"""Reliable UDP sessions (``net_rudp_*``): defined apart, used by Engine.

A session is a handle like a TCP connection: ACCEPT (``parent`` = the
listener, ``addr`` = the peer), CONNECT (status 0, or a failure and then
CLOSE), DATA events carrying one whole message with its channel in
``parent``, exactly one CLOSE with its reason. :func:`send` sends on channel
0, reliable-ordered; :func:`rudp_send` on any channel in any
:class:`RudpMode`; :func:`close` is graceful (queued reliable messages are
delivered first), :func:`abort` is at once. :meth:`Engine.rudp_listen` and
:meth:`Engine.rudp_connect` open them; :func:`rudp_stats` reads a session's
or a listener's figures.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple, Optional, Union

from ._arguments import check_arguments, retyped
from ._core import (AddressLike, BytesLike, Error, _InvalidRange, _MessageSizeRange, _enum_value, _fail,
                    _fail_with_os_error, _host, _host_port, _out_of_range, _port)
from ._ffi import ffi, lib

_rudp_send = lib.net_rudp_send
_from_buffer = ffi.from_buffer


class RudpMode(IntEnum):
    """Delivery modes of :func:`rudp_send` (``NET_RUDP_*``)."""
    RELIABLE_ORDERED = lib.NET_RUDP_RELIABLE_ORDERED        # every message, once, in send order per channel
    RELIABLE_UNORDERED = lib.NET_RUDP_RELIABLE_UNORDERED    # every message, once, in arrival order
    UNRELIABLE_SEQUENCED = lib.NET_RUDP_UNRELIABLE_SEQUENCED  # may be lost; never older than one delivered
    UNRELIABLE = lib.NET_RUDP_UNRELIABLE                    # may be lost, never duplicated, any order


RUDP_MAX_CHANNELS = lib.NET_RUDP_MAX_CHANNELS

_STATS_FIELDS = tuple(name for name, _ in ffi.typeof("net_rudp_stats").fields
                      if name != "size" and not name.endswith("_"))


class RudpStats(NamedTuple):
    """``net_rudp_stats``: a session's figures, or a listener's (its
    socket's packet and byte counters, sessions .. sessions_refused,
    datagrams_dropped and checksum_failures)."""
    rtt_us: int
    rttvar_us: int
    rto_ms: int
    cwnd: int
    bytes_in_flight: int
    send_queued: int
    peer_window: int
    packets_sent: int
    packets_received: int
    retransmits: int
    packets_lost: int
    duplicates_dropped: int
    messages_sent: int
    messages_received: int
    bytes_sent: int
    bytes_received: int
    sessions: int
    handshakes: int
    cookies_rejected: int
    sessions_refused: int
    datagrams_dropped: int
    checksum_failures: int


if _STATS_FIELDS != RudpStats._fields:  # pragma: no cover - caught by tests
    raise ImportError("net.RudpStats is out of date with net_rudp_stats: %r" % (_STATS_FIELDS,))


def rudp_send(session: int, channel: int, mode: Union[int, str], data: BytesLike) -> None:
    """Queue ``data`` as one message on ``channel`` of ``session`` in
    ``mode`` (a :class:`RudpMode` or its name, e.g. ``"unreliable"``)
    (``net_rudp_send``). The bytes are copied; the call returns at once,
    also while the session is still connecting (queued).

    Raises :class:`InvalidArgumentError` for a channel at or past the
    session's channel count or an unknown mode, :class:`MessageSizeError`
    above max_message, :class:`WouldBlockError` when send_cap is reached
    (nothing queued), :class:`ClosedError` once closing,
    :class:`BadHandleError` for a stale handle, ``TypeError`` for
    arguments of the wrong type.
    """
    try:
        m = _enum_value(RudpMode, mode, "mode") if isinstance(mode, str) else mode
        buf = data if type(data) is bytes else _from_buffer(data)
        n = len(buf)
        if n > 0xFFFFFFFF:
            raise _MessageSizeRange(Error.MSGSIZE, "rudp_send: %d bytes" % n)
        rc = _rudp_send(session, channel, m, buf, n)
    except OverflowError:
        raise _out_of_range("rudp_send", session, detail="channel or mode out of range") from None
    except TypeError as e:
        raise retyped(e, rudp_send, {"session": session, "channel": channel, "mode": mode,
                                     "data": data}) from None
    if rc:
        _fail(rc, "rudp_send")


def rudp_stats(handle: int) -> RudpStats:
    """``net_rudp_get_stats`` of a session or a reliable-UDP listener."""
    check_arguments(rudp_stats, {"handle": handle})
    s = ffi.new("net_rudp_stats *")
    s.size = ffi.sizeof("net_rudp_stats")
    try:
        rc = lib.net_rudp_get_stats(handle, s)
    except OverflowError:
        raise _out_of_range("rudp_stats", handle) from None
    if rc:
        _fail(rc, "rudp_stats")
    return RudpStats(*(getattr(s, f) for f in RudpStats._fields))


_CONFIG_FIELDS = ("channels", "mtu", "max_message", "send_cap", "recv_window", "max_sessions",
                  "connect_timeout_ms", "idle_timeout_ms", "keepalive_ms", "close_timeout_ms",
                  "rto_min_ms", "rto_max_ms", "cookie_period_ms", "user")


def _config(what: str, values: dict) -> Any:
    """A ``net_rudp_config *``: the library's defaults, then every value
    given that is not 0 (0 keeps the default, as in C)."""
    cfg = ffi.new("net_rudp_config *")
    lib.net_rudp_config_init(cfg)
    for name in _CONFIG_FIELDS:
        v = values[name]
        if v:
            try:
                setattr(cfg, name, v)
            except OverflowError:
                raise _InvalidRange(Error.INVAL, "%s: %s=%r out of range" % (what, name, v)) from None
    return cfg


def rudp_listen(eng: Any, host: Optional[str], port: int = 0, *, channels: int = 0, mtu: int = 0,
                max_message: int = 0, send_cap: int = 0, recv_window: int = 0, max_sessions: int = 0,
                connect_timeout_ms: int = 0, idle_timeout_ms: int = 0, keepalive_ms: int = 0,
                close_timeout_ms: int = 0, rto_min_ms: int = 0, rto_max_ms: int = 0,
                cookie_period_ms: int = 0, user: int = 0) -> int:
    """Accept reliable-UDP sessions on ``host:port`` (``net_rudp_listen``)
    and return the listener; each session comes as an ACCEPT event.

    ``host`` ``None`` or ``""`` is any IPv4 address; port 0 picks one (see
    :func:`local_addr`). The keyword arguments are ``net_rudp_config``'s
    fields (docs/api-c.md); 0 keeps the library's default. A value the
    library refuses (channels above :data:`RUDP_MAX_CHANNELS`, say) raises
    :class:`InvalidArgumentError`.
    """
    what = "rudp_listen"
    if not eng._handle:
        raise eng._closed(what)
    values = dict(locals())
    check_arguments(rudp_listen, {k: values[k] for k in ("host", "port") + _CONFIG_FIELDS}, "Engine." + what)
    cfg = _config(what, values)
    out = ffi.new("net_handle *")
    rc = lib.net_rudp_listen(eng._handle, _host(host, "Engine." + what, True), _port(port, "Engine." + what), cfg,
                             out)
    if rc:
        _fail_with_os_error(rc, "%s %s:%s" % (what, host or "", port))
    return int(out[0])


def rudp_connect(eng: Any, host: AddressLike, port: Optional[int] = None, *, channels: int = 0, mtu: int = 0,
                 max_message: int = 0, send_cap: int = 0, recv_window: int = 0, max_sessions: int = 0,
                 connect_timeout_ms: int = 0, idle_timeout_ms: int = 0, keepalive_ms: int = 0,
                 close_timeout_ms: int = 0, rto_min_ms: int = 0, rto_max_ms: int = 0,
                 cookie_period_ms: int = 0, user: int = 0) -> int:
    """Start a reliable-UDP session to ``host, port`` (or one address, as
    :meth:`Engine.connect` takes it) (``net_rudp_connect``) and return its
    handle. A CONNECT event reports the outcome; messages sent before it are
    queued. Keyword arguments as :meth:`Engine.rudp_listen`'s.
    """
    what = "rudp_connect"
    if not eng._handle:
        raise eng._closed(what)
    values = dict(locals())
    check_arguments(rudp_connect, {k: values[k] for k in ("host", "port") + _CONFIG_FIELDS}, "Engine." + what)
    host_c, port_c = _host_port(host, port, "Engine." + what)
    cfg = _config(what, values)
    out = ffi.new("net_handle *")
    rc = lib.net_rudp_connect(eng._handle, host_c, port_c, cfg, out)
    if rc:
        _fail_with_os_error(rc, "%s %s:%d" % (what, host_c.decode(errors="replace"), port_c))
    return int(out[0])
