"""net.aio: the engine inside a running asyncio loop, with no thread of its own.

::

    import asyncio, net.aio

    async def echo(conn):
        async for msg in conn:              # whole messages; ends at an orderly close
            conn.send(msg)
            await conn.drain()              # waits while the send queue is above its high-water mark

    async def main():
        async with net.aio.Engine() as eng:
            server = await eng.listen("127.0.0.1", 0, echo, framing="u16le")
            async with await eng.connect(server.address, framing="u16le") as conn:
                conn.send(b"hello")
                print(await conn.recv())    # b'hello'

    asyncio.run(main())

How it runs: the engine's waitable descriptor (``net_engine_waitable``) is
registered with ``loop.add_reader``; when it is readable the loop thread
calls ``net_poll`` with timeout 0 until a batch comes back short, and hands
each event to the object that owns its handle (a :class:`Connection`,
:class:`Listener` or :class:`UdpSocket`), which wakes the task waiting on
it. Events of handles made through the plain API (``eng.engine``: timers,
``post``, connections made there) come out of :meth:`Engine.events`.
Works with asyncio's default loop and with uvloop; any loop with
``add_reader`` does.

Errors are the binding's own: a connection that ends with a reason raises
that reason's :class:`net.NetError` subclass (``ResetError``,
``TimedOutError``, ``AbortedError``...) out of ``recv``; an orderly end is
``None``.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from typing import Any, AsyncIterator, Awaitable, Callable, Deque, Dict, Optional, Set, Tuple, Union

from . import _core as core
from ._core import (Address, AddressLike, BytesLike, ClosedError, Error, Event, EventType,
                    NetError, error_for)

__all__ = ["Engine", "Connection", "Listener", "UdpSocket"]

_ACCEPT, _CONNECT, _DATA, _CLOSE = EventType.ACCEPT, EventType.CONNECT, EventType.DATA, EventType.CLOSE
_DRAINED, _EOF = EventType.SEND_DRAINED, EventType.EOF
_DATAGRAM, _ERROR = EventType.DATAGRAM, EventType.ERROR
_GONE = (core.BadHandleError, ClosedError)  # the handle is already closing or closed


def _wake(fut: Optional[asyncio.Future]) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


class _Waiter:
    """The one task at a time that may wait for a queue to fill (``recv``,
    ``accept``, ``recvfrom``, ``events``): :meth:`wait` returns at the next
    :meth:`wake`; a second task waiting meanwhile gets ``RuntimeError(busy)``."""

    __slots__ = ("_loop", "_fut", "_busy")

    def __init__(self, loop: asyncio.AbstractEventLoop, busy: str) -> None:
        self._loop = loop
        self._fut: Optional[asyncio.Future] = None
        self._busy = busy

    def wake(self) -> None:
        _wake(self._fut)

    async def wait(self) -> None:
        if self._fut is not None:
            raise RuntimeError(self._busy)
        self._fut = fut = self._loop.create_future()
        try:
            await fut
        finally:
            self._fut = None


class _Owner:
    """What owns a handle of the engine: the events of that handle come to
    :meth:`_on_event`, and its CLOSE ends it. ``close_status`` is None while
    it is open, then 0 (orderly) or the ``NET_E*`` reason."""

    def __init__(self, eng: "Engine", handle: int) -> None:
        self._eng = eng
        self._loop = eng._loop
        #: the plain API's handle (``net.local_addr(x.handle)`` etc. work on it)
        self.handle = handle
        self.close_status: Optional[int] = None
        self._close_os_error = 0
        self._closing = False
        self._closed = eng._loop.create_future()
        eng._owners[handle] = self

    @property
    def close_error(self) -> Optional[NetError]:
        """Why it ended, as an exception (not raised): None while open and
        after an orderly end."""
        if not self.close_status:
            return None
        return error_for(self.close_status, type(self).__name__, self._close_os_error)

    def _ended(self, status: int, os_error: int = 0) -> None:
        """Its CLOSE (or the engine's end, with NET_E_ABORTED). Subclasses
        provide _on_event (its events) and _wake_all (every task waiting
        on it sees the end)."""
        if self.close_status is None:
            self.close_status = status
            self._close_os_error = os_error
        _wake(self._closed)
        self._wake_all()  # type: ignore[attr-defined]

    # What abort calls: net_abort, or for a listener, which has nothing to
    # drop, net_close.
    _abort_call = staticmethod(core.abort)

    def _call_close(self, how: Callable[[int], None]) -> None:
        if self.close_status is None:
            self._closing = True
            try:
                how(self.handle)
            except _GONE:  # its CLOSE is on its way already
                pass

    async def close(self) -> None:
        """Close gracefully (``net_close``) and wait for the CLOSE: a
        connection delivers what it queued first (bounded by the engine's
        ``close_timeout_ms``). Never raises for the close's own outcome
        (see :attr:`close_error`). Cancelled while waiting, it aborts, so
        nothing is left behind."""
        if not self._closing:
            self._call_close(core.close)
        await self.wait_closed()

    def abort(self) -> None:
        """Close at once (``net_abort``): queued data is dropped, a TCP peer
        gets RST (a listener just closes). The CLOSE (status ``ABORTED``)
        follows; :meth:`wait_closed` waits for it."""
        self._call_close(self._abort_call)

    async def wait_closed(self) -> None:
        """Wait for the CLOSE. Cancelled meanwhile, it aborts the handle."""
        if self.close_status is not None:
            return
        try:
            await asyncio.shield(self._closed)
        except asyncio.CancelledError:
            self.abort()
            raise

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Connection(_Owner):
    """A TCP connection: :meth:`recv` whole messages (a chunk as it came
    with ``framing="raw"``), :meth:`send` and :meth:`drain`, ``async for msg
    in conn``, ``async with conn`` (closes gracefully and waits for the
    CLOSE at the end). Made by :meth:`Engine.connect` and by a
    :class:`Listener`.

    Received messages wait in the connection until ``recv`` takes them: the
    engine's ``recv_limit`` bounds only what it holds before the loop polls,
    so a server that stops reading one connection should close it."""

    def __init__(self, eng: "Engine", handle: int, peer: Optional[Address]) -> None:
        super().__init__(eng, handle)
        #: the peer's address (None until connected)
        self.peer = peer
        self._rx: Deque[Any] = deque()
        self._reader = _Waiter(self._loop, "Connection.recv: another task is already waiting in recv")
        self._eof = False
        self._drainers: list = []
        self._connected: Optional[asyncio.Future] = None

    def _on_event(self, ev: Event) -> None:
        t = ev.type
        if t == _DATA:
            self._rx.append(ev.data)
            self._reader.wake()
        elif t == _DRAINED:
            for f in self._drainers:
                _wake(f)
        elif t == _CONNECT:
            if ev.status == 0:
                self.peer = ev.addr
            if self._connected is not None and not self._connected.done():
                self._connected.set_result(ev)
        elif t == _EOF:
            self._eof = True
            self._reader.wake()
        elif t == _CLOSE:
            self._ended(ev.status, ev.os_error)

    def _wake_all(self) -> None:
        self._reader.wake()
        for f in self._drainers:
            _wake(f)
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(None)

    # -- receiving

    async def recv(self) -> Optional[bytes]:
        """The next message. ``None`` once the connection ended in order
        (the peer closed, or :meth:`close`) or the peer finished sending
        (``half_open=True``); the reason's :class:`net.NetError` when it
        ended otherwise (``ResetError``, ``TimedOutError``,
        ``AbortedError``, ``ProtocolError``...), each time it is called.
        Cancelled (e.g. by ``asyncio.wait_for``), it loses nothing: the
        message it would have returned waits for the next call. One task
        at a time."""
        rx = self._rx
        while not rx:
            if self.close_status is not None or self._eof:
                if self.close_status:
                    raise error_for(self.close_status, "recv", self._close_os_error)
                return None
            await self._reader.wait()
        return rx.popleft()

    def __aiter__(self) -> "Connection":
        return self

    async def __anext__(self) -> bytes:
        msg = await self.recv()
        if msg is None:
            raise StopAsyncIteration
        return msg

    # -- sending

    def send(self, data: BytesLike) -> None:
        """Queue ``data`` as one message (``net_send``; copied, returns at
        once). Raises what :func:`net.send` raises: ``WouldBlockError`` at
        the send cap (await :meth:`drain` between sends to stay under the
        high-water mark), ``ClosedError`` once closing."""
        if self.close_status is not None:
            raise ClosedError(Error.CLOSED, "Connection.send: the connection has ended")
        core.send(self.handle, data)

    def _above_highwater(self) -> bool:
        try:
            return core.send_queued(self.handle) > core.get_option(self.handle, "highwater")
        except _GONE:
            return False

    async def drain(self) -> None:
        """Wait while the send queue is above the high-water mark
        (``send_highwater``, option ``"highwater"``), until it falls to the
        low-water mark (the SEND_DRAINED event). Returns at once below it.
        Raises the reason if the connection ends with one meanwhile (after
        an orderly end, what was queued was delivered, and it returns)."""
        while True:
            if self.close_status is not None:
                if self.close_status:
                    raise error_for(self.close_status, "drain", self._close_os_error)
                return
            if not self._above_highwater():
                return
            fut = self._loop.create_future()
            self._drainers.append(fut)
            try:
                await fut
            finally:
                self._drainers.remove(fut)

    def shutdown(self) -> None:
        """Half-close (``net_shutdown``): FIN after what is queued; receiving goes on."""
        core.shutdown(self.handle)

    @property
    def local(self) -> Address:
        """The local address (``net_local_addr``)."""
        return core.local_addr(self.handle)

    def __repr__(self) -> str:
        return "<net.aio.Connection %#x peer=%s%s>" % (
            self.handle, self.peer, "" if self.close_status is None else " ended")


Handler = Callable[[Connection], Awaitable[Any]]


class Listener(_Owner):
    """A TCP listener: ``await listener.accept()`` or ``async for conn in
    listener`` gives each accepted :class:`Connection`, unless a handler
    was given to :meth:`Engine.listen` (then each connection gets a task
    running it). ``async with listener`` (or :meth:`close`) stops
    listening; connections accepted and never taken are aborted then."""

    _abort_call = staticmethod(core.close)

    def __init__(self, eng: "Engine", handle: int, handler: Optional[Handler]) -> None:
        super().__init__(eng, handle)
        self._handler = handler
        self._accepted: Deque[Connection] = deque()
        self._acceptor = _Waiter(self._loop, "Listener.accept: another task is already waiting in accept")
        #: the bound address (port 0 reveals the port here)
        self.address: Address = core.local_addr(handle)

    def _on_event(self, ev: Event) -> None:
        if ev.type == _CLOSE:
            self._ended(ev.status, ev.os_error)

    def _on_accept(self, ev: Event) -> None:
        conn = Connection(self._eng, ev.handle, ev.addr)
        if self._handler is not None:
            self._eng._serve(self._handler, conn)
        else:
            self._accepted.append(conn)
            self._acceptor.wake()

    def _wake_all(self) -> None:
        self._acceptor.wake()
        while self._accepted:  # nobody will take them now
            self._accepted.popleft().abort()

    async def accept(self) -> Connection:
        """The next accepted connection; ``ClosedError`` once the listener
        has ended. One task at a time."""
        if self._handler is not None:
            raise RuntimeError("Listener.accept: this listener hands connections to its handler")
        while not self._accepted:
            if self.close_status is not None:
                raise ClosedError(Error.CLOSED, "Listener.accept: the listener has ended")
            await self._acceptor.wait()
        return self._accepted.popleft()

    def __aiter__(self) -> "Listener":
        return self

    async def __anext__(self) -> Connection:
        try:
            return await self.accept()
        except ClosedError:
            raise StopAsyncIteration from None

    async def serve_forever(self) -> None:
        """Wait until the listener ends (its handler serves meanwhile)."""
        await asyncio.shield(self._closed)

    def __repr__(self) -> str:
        return "<net.aio.Listener %#x on %s>" % (self.handle, self.address)


class UdpSocket(_Owner):
    """A UDP socket: ``data, addr = await sock.recvfrom()``,
    ``sock.sendto(data, addr)`` (``addr`` None on a connected socket).
    A non-fatal error the engine reports (an ERROR event, e.g.
    ``RefusedError`` from an ICMP port unreachable on a connected socket)
    is raised by the ``recvfrom`` that meets it, in arrival order; the
    socket stays open. Datagrams wait in the socket until taken."""

    def __init__(self, eng: "Engine", handle: int) -> None:
        super().__init__(eng, handle)
        self._rx: Deque[Any] = deque()
        self._reader = _Waiter(self._loop, "UdpSocket.recvfrom: another task is already waiting")
        #: the bound address
        self.address: Address = core.local_addr(handle)

    def _on_event(self, ev: Event) -> None:
        t = ev.type
        if t == _DATAGRAM:
            self._rx.append((ev.data, ev.addr))
        elif t == _ERROR:
            self._rx.append(ev.error)
        elif t == _CLOSE:
            self._ended(ev.status, ev.os_error)
            return
        self._reader.wake()

    def _wake_all(self) -> None:
        self._reader.wake()

    async def recvfrom(self) -> Tuple[bytes, Address]:
        """The next datagram and its sender. ``ClosedError`` (or the reason)
        once the socket has ended. One task at a time; cancelled, it loses
        nothing."""
        rx = self._rx
        while not rx:
            if self.close_status is not None:
                if self.close_status:
                    raise error_for(self.close_status, "recvfrom", self._close_os_error)
                raise ClosedError(Error.CLOSED, "UdpSocket.recvfrom: the socket has ended")
            await self._reader.wait()
        item = rx.popleft()
        if isinstance(item, NetError):
            raise item
        return item

    def sendto(self, data: BytesLike, addr: Optional[AddressLike] = None) -> None:
        """One datagram to ``addr`` (:func:`net.sendto`; None: the connected
        peer). ``WouldBlockError`` when the send queue is full."""
        core.sendto(self.handle, addr, data)

    def connect(self, host: AddressLike, port: Optional[int] = None) -> None:
        """Fix the peer (:func:`net.udp_connect`)."""
        core.udp_connect(self.handle, host, port)

    def __repr__(self) -> str:
        return "<net.aio.UdpSocket %#x on %s>" % (self.handle, self.address)


class _EventStream:
    """``async for ev in eng.events()``: see :meth:`Engine.events`."""

    def __init__(self, eng: "Engine") -> None:
        self._eng = eng

    def __aiter__(self) -> "_EventStream":
        return self

    async def __anext__(self) -> Event:
        eng = self._eng
        while not eng._events:
            if eng._closed_flag:
                raise StopAsyncIteration
            await eng._events_waiter.wait()
        return eng._events.popleft()


class Engine:
    """A :class:`net.Engine` driven by the running asyncio loop. Make it
    inside the loop (``async with net.aio.Engine(...) as eng``); the
    arguments are :class:`net.Engine`'s (``backend``, ``io_threads``,
    ``max_events``, ``net_config`` fields such as ``send_highwater``).
    ``eng.engine`` is the plain engine underneath, for what this layer does
    not wrap (timers, ``post``, raw handles: their events come out of
    :meth:`events`); it is polled by this layer only, and ended by
    :meth:`close`, never by its own ``close``. :meth:`close` (the end of ``async with``) cancels the
    listeners' handler tasks and destroys the engine: every socket closes
    at once and waiting tasks see ``AbortedError``."""

    def __init__(self, backend: Union[int, str] = "auto", io_threads: int = 0, *,
                 max_events: int = 512, **config: int) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("net.aio.Engine must be made inside a running asyncio loop "
                               "(e.g. in the coroutine asyncio.run runs)") from None
        self._closed_flag = False
        #: the plain :class:`net.Engine` underneath
        self.engine = core.Engine(backend, io_threads, max_events=max_events, views=False, **config)
        self._max_events = min(max_events, 65536)
        self._owners: Dict[int, _Owner] = {}
        self._events: Deque[Event] = deque()
        self._events_waiter = _Waiter(self._loop, "Engine.events: another task is already iterating")
        self._tasks: Set[asyncio.Task] = set()
        try:
            self._attach()
        except BaseException:
            self.engine.close()
            raise

    # -- the loop's side

    def _attach(self) -> None:
        """Register the engine's waitable descriptor with the loop."""
        self._fd = -1
        if sys.platform == "win32":
            raise core.UnsupportedError(
                Error.UNSUPPORTED, "net.aio: Windows hands out an event HANDLE, which an asyncio "
                "loop cannot watch with add_reader; drive net.Engine.poll from a thread instead")
        fd = self.engine.waitable()
        self._loop.add_reader(fd, self._on_readable)
        self._fd = fd

    def _detach(self) -> None:
        """Out of the loop, before the engine (and so the descriptor) goes."""
        if self._fd != -1:
            self._loop.remove_reader(self._fd)
            self._fd = -1

    def _on_readable(self) -> None:
        """The descriptor is readable: poll with timeout 0 until a batch
        comes back short (net.h's rule), handing each event on. With
        io_threads=0 the engine's I/O runs in these polls: a send or close
        made between them is work due, which makes the descriptor readable."""
        if self._closed_flag:
            return
        poll, most, dispatch = self.engine.poll, self._max_events, self._dispatch
        while True:
            batch = poll(0)
            for ev in batch:
                try:
                    dispatch(ev)
                except Exception as e:  # pragma: no cover - a bug here must not stop the loop
                    self._loop.call_exception_handler({
                        "message": "net.aio: dispatching %r failed" % (ev,), "exception": e})
            if len(batch) < most:
                return

    def _dispatch(self, ev: Event) -> None:
        owner = self._owners.get(ev.handle)
        if owner is not None:
            owner._on_event(ev)
            if ev.type == _CLOSE:
                del self._owners[ev.handle]
            return
        if ev.type == _ACCEPT:
            listener = self._owners.get(ev.parent)
            if isinstance(listener, Listener):
                listener._on_accept(ev)
                return
        self._events.append(ev)
        self._events_waiter.wake()

    def _serve(self, handler: Handler, conn: Connection) -> None:
        task = self._loop.create_task(self._run_handler(handler, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, handler: Handler, conn: Connection) -> None:
        """A listener's handler for one connection; the connection is closed
        gracefully when it returns, aborted when it raises or is cancelled."""
        try:
            await handler(conn)
        except asyncio.CancelledError:
            conn.abort()
            raise
        except Exception as e:
            conn.abort()
            self._loop.call_exception_handler({
                "message": "net.aio: the handler of %r raised" % (conn,), "exception": e})
            return
        await conn.close()

    # -- what users call

    def events(self) -> AsyncIterator[Event]:
        """``async for ev in eng.events()``: the events of handles this layer
        does not own (made through ``eng.engine``: timers, ``post``'s USER
        events, plain listeners and connections), in order, as
        :class:`net.Event` records. Ends when the engine closes. Events
        wait (in order) until taken; one iterating task at a time."""
        return _EventStream(self)

    async def connect(self, host: AddressLike, port: Optional[int] = None, **tcp: Any) -> Connection:
        """Connect and return the :class:`Connection` once connected. The
        arguments are :meth:`net.Engine.connect`'s (``framing``,
        ``nodelay``, ``half_open``, ``max_message``...). A failed connect
        raises its reason (``RefusedError``, ``TimedOutError``...); cancelled
        (``asyncio.wait_for``), the connection is aborted."""
        self._check_open("connect")
        conn = Connection(self, self.engine.connect(host, port, **tcp), None)
        conn._connected = fut = self._loop.create_future()
        try:
            ev = await fut
        except asyncio.CancelledError:
            conn.abort()
            raise
        if ev is None:  # it ended first (the engine closed)
            raise error_for(conn.close_status or Error.ABORTED, "connect")
        if ev.status:
            raise error_for(ev.status, "connect", ev.os_error)
        return conn

    async def listen(self, host: Optional[str], port: int, handler: Optional[Handler] = None,
                     **tcp: Any) -> Listener:
        """Listen on ``host:port`` and return the :class:`Listener`. With a
        ``handler`` (``async def handler(conn)``), each accepted connection
        gets a task running it, closed gracefully when it returns (aborted
        when it raises, the error going to the loop's exception handler).
        Without one, take connections with ``accept`` / ``async for``. The
        keyword arguments are :meth:`net.Engine.listen`'s (``framing``...)."""
        self._check_open("listen")
        return Listener(self, self.engine.listen(host, port, **tcp), handler)

    async def udp_open(self, host: Optional[str], port: int = 0, **udp: Any) -> UdpSocket:
        """A :class:`UdpSocket` bound to ``host:port``; the arguments are
        :meth:`net.Engine.udp_open`'s."""
        self._check_open("udp_open")
        return UdpSocket(self, self.engine.udp_open(host, port, **udp))

    def _check_open(self, what: str) -> None:
        if self._closed_flag:
            raise core.BadHandleError(Error.BADHANDLE, "net.aio.Engine.%s: the engine is closed" % what)

    async def close(self) -> None:
        """Cancel the handler tasks (each aborts its connection), then
        destroy the engine: the rest closes at once and every task waiting
        on it sees ``AbortedError`` (``None`` from ``accept``'s iteration,
        the end of :meth:`events`). Idempotent."""
        if self._closed_flag:
            return
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._closed_flag = True
        self._detach()
        owners = list(self._owners.values())
        self._owners.clear()
        self.engine.close()
        for o in owners:
            o._ended(Error.ABORTED)
        self._events_waiter.wake()

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def backend(self) -> str:
        return self.engine.backend

    def __repr__(self) -> str:
        return "<net.aio.Engine backend=%s io_threads=%d%s>" % (
            self.engine.backend, self.engine.io_threads, " closed" if self._closed_flag else "")
