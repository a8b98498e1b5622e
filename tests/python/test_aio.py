"""net.aio: the engine inside an asyncio loop (the default loop and uvloop),
through the engine's waitable descriptor, with no thread of its own.

Plain asyncio.run (no pytest-asyncio): each test is one coroutine run on a
fresh loop of the kind its ``loop`` parameter names, bounded by WAIT_S.
"""

import asyncio
import socket
import struct
import threading

import pytest

import net
import net.aio
from harness import pattern

WAIT_S = 10.0
LOOPS = ["asyncio", "uvloop"]


def run(loop_kind, coro):
    """Run ``coro`` to its end on a new loop of ``loop_kind``, within WAIT_S."""
    async def bounded():
        return await asyncio.wait_for(coro, WAIT_S)
    if loop_kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(bounded())
    return asyncio.run(bounded())


async def until(cond, what):
    """Wait (yielding to the loop) until cond() holds."""
    while not cond():
        await asyncio.sleep(0.001)


async def echo(conn):
    async for msg in conn:
        conn.send(msg)
        await conn.drain()


@pytest.fixture(params=LOOPS)
def loop_kind(request):
    return request.param


def test_no_thread_of_its_own(loop_kind):
    async def main():
        before = threading.active_count()
        async with net.aio.Engine() as eng:
            server = await eng.listen("127.0.0.1", 0, echo)
            async with await eng.connect(server.address) as conn:
                conn.send(b"x")
                assert await conn.recv() == b"x"
                assert threading.active_count() == before
    run(loop_kind, main())


def test_an_idle_engine_does_not_keep_the_loop_busy(loop_kind, mode):
    async def main():
        async with net.aio.Engine(mode.backend, mode.io_threads) as eng:
            server = await eng.listen("127.0.0.1", 0, echo)
            async with await eng.connect(server.address) as conn:
                conn.send(b"x")
                assert await conn.recv() == b"x"
                polls = []
                plain_poll = eng.engine.poll
                eng.engine.poll = lambda timeout: polls.append(timeout) or plain_poll(timeout)
                await asyncio.sleep(0.3)  # the time measured: nothing happens in it
                # Housekeeping wakes it every 100 ms while sockets are open
                # (net.h); a descriptor that stayed readable would poll
                # thousands of times.
                assert len(polls) <= 10 and set(polls) <= {0}
    run(loop_kind, main())


def test_echo_client_and_server_in_one_loop(loop_kind, mode):
    ended = []

    async def serve(conn):
        await echo(conn)
        ended.append(conn.close_status)

    async def main():
        async with net.aio.Engine(mode.backend, mode.io_threads) as eng:
            assert eng.backend == mode.backend
            server = await eng.listen("127.0.0.1", 0, serve, framing="u32le")
            async with await eng.connect(server.address, framing="u32le") as conn:
                assert conn.peer == server.address
                msgs = [b"", b"one", pattern(1000, 1), pattern(300000, 2)]
                for m in msgs:
                    conn.send(m)
                for m in msgs:
                    assert await conn.recv() == m
            assert conn.close_status == 0 and conn.close_error is None
            await until(lambda: ended, "the handler's end")
            assert ended == [0]  # the handler saw the orderly end (recv gave None)
            assert eng.engine.stats().connections == 0
    run(loop_kind, main())


def test_many_connections(loop_kind, mode):
    async def client(eng, where, i):
        async with await eng.connect(where, framing="u16le") as conn:
            for k in range(20):
                conn.send(b"%d:%d" % (i, k))
            got = [await conn.recv() for _ in range(20)]
            assert got == [b"%d:%d" % (i, k) for k in range(20)]

    async def main():
        async with net.aio.Engine(mode.backend, mode.io_threads) as eng:
            server = await eng.listen("127.0.0.1", 0, echo, framing="u16le", backlog=256)
            await asyncio.gather(*(client(eng, server.address, i) for i in range(100)))
            stats = eng.engine.stats()
            assert stats.connections_total == 200
            await until(lambda: eng.engine.stats().connections == 0, "every connection closed")
    run(loop_kind, main())


def test_accept_by_iteration_ends_with_the_listener(loop_kind):
    async def main():
        async with net.aio.Engine() as eng:
            listener = await eng.listen("127.0.0.1", 0)
            clients = [await eng.connect(listener.address) for _ in range(3)]
            accepted = []
            async for conn in listener:
                accepted.append(conn)
                if len(accepted) == 3:
                    await listener.close()
            assert sorted(c.peer for c in accepted) == sorted(c.local for c in clients)
            with pytest.raises(net.ClosedError):
                await listener.accept()
            for c in clients + accepted:
                await c.close()
    run(loop_kind, main())


def test_drain_holds_the_writer_while_a_slow_reader_does_not_read(loop_kind):
    high, low, msg_size, total = 256 * 1024, 64 * 1024, 32 * 1024, 8 * 1024 * 1024

    def piece(i):  # each message its own bytes, so order and loss show
        return bytes([i & 0xFF, i >> 8]) * (msg_size // 2)

    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket() as lsock:
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
            lsock.bind(("127.0.0.1", 0))
            lsock.listen()
            lsock.setblocking(False)
            async with net.aio.Engine(send_highwater=high, send_lowwater=low) as eng:
                conn = await eng.connect(lsock.getsockname())
                peer, _ = await loop.sock_accept(lsock)
                blocked = asyncio.Event()
                most_queued = 0

                async def writer():
                    nonlocal most_queued
                    for i in range(total // msg_size):
                        conn.send(piece(i))
                        queued = net.send_queued(conn.handle)
                        most_queued = max(most_queued, queued)
                        if queued > high:
                            blocked.set()
                        await conn.drain()
                        assert net.send_queued(conn.handle) <= high

                async def slow_reader():
                    await blocked.wait()  # reads nothing until the writer had to wait
                    got = bytearray()
                    while len(got) < total:
                        got += await loop.sock_recv(peer, 65536)
                    return got

                with peer:
                    peer.setblocking(False)
                    _, got = await asyncio.gather(writer(), slow_reader())
                assert got == b"".join(piece(i) for i in range(total // msg_size))
                # drain kept the queue within one message of the high-water mark
                assert high < most_queued <= high + msg_size
                await conn.close()
    run(loop_kind, main())


def test_a_drain_ended_by_a_reset_raises_it(loop_kind):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket() as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen()
            lsock.setblocking(False)
            async with net.aio.Engine(send_highwater=64 * 1024, send_lowwater=16 * 1024) as eng:
                conn = await eng.connect(lsock.getsockname())
                peer, _ = await loop.sock_accept(lsock)
                with pytest.raises(asyncio.TimeoutError):
                    while True:  # nobody reads: the kernel's buffers fill, then the queue
                        conn.send(b"r" * 65536)
                        await asyncio.wait_for(conn.drain(), 0.05)
                drain = asyncio.ensure_future(conn.drain())
                await asyncio.sleep(0)
                assert not drain.done()
                peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                peer.close()  # an RST
                with pytest.raises(net.ResetError):
                    await drain
                assert conn.close_status == net.Error.RESET
    run(loop_kind, main())


def test_close_delivers_what_was_queued_then_waits_for_the_close(loop_kind):
    got = []

    async def collect(conn):
        async for msg in conn:
            got.append(msg)

    async def main():
        async with net.aio.Engine() as eng:
            server = await eng.listen("127.0.0.1", 0, collect, framing="u32le")
            async with await eng.connect(server.address, framing="u32le") as conn:
                for i in range(64):
                    conn.send(bytes([i]) * 16384)  # 1 MiB queued, none of it drained yet
            assert conn.close_status == 0
            await until(lambda: not eng._tasks, "the handler's end")
            assert got == [bytes([i]) * 16384 for i in range(64)]
    run(loop_kind, main())


def test_a_handler_that_raises_aborts_its_connection_only(loop_kind):
    async def handler(conn):
        first = await conn.recv()
        if first == b"boom":
            raise ValueError("bad request")
        conn.send(first)
        await echo(conn)

    async def main():
        loop = asyncio.get_running_loop()
        reported = []
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        async with net.aio.Engine() as eng:
            server = await eng.listen("127.0.0.1", 0, handler)
            bad = await eng.connect(server.address)
            good = await eng.connect(server.address)
            bad.send(b"boom")
            with pytest.raises(net.ResetError):
                await bad.recv()
            good.send(b"hello")
            good.send(b"again")  # raw: the two may come as one chunk
            echoed = b""
            while echoed != b"helloagain":
                echoed += await good.recv()
            await good.close()
        assert [type(c["exception"]) for c in reported] == [ValueError]
    run(loop_kind, main())


def test_wait_for_a_drain_that_times_out_leaves_the_connection_usable(loop_kind):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket() as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen()
            lsock.setblocking(False)
            async with net.aio.Engine(send_highwater=64 * 1024, send_lowwater=16 * 1024) as eng:
                conn = await eng.connect(lsock.getsockname(), framing="u16le")
                peer, _ = await loop.sock_accept(lsock)
                with peer:
                    peer.setblocking(False)
                    sent = 0
                    with pytest.raises(asyncio.TimeoutError):
                        while True:  # nobody reads: drain must block at last
                            conn.send(b"z" * 60000)
                            sent += 60002
                            await asyncio.wait_for(conn.drain(), 0.05)
                    assert conn._drainers == []
                    got = 0
                    while got < sent:
                        got += len(await loop.sock_recv(peer, 1 << 20))
                    await conn.drain()
                    assert got == sent
                await conn.close()
    run(loop_kind, main())


def test_close_reasons(loop_kind):
    async def main():
        async with net.aio.Engine(idle_timeout_ms=0) as eng:
            listener = await eng.listen("127.0.0.1", 0)

            # An orderly close by the peer: recv gives None, every time.
            client = await eng.connect(listener.address)
            server_side = await listener.accept()
            await client.close()
            assert await server_side.recv() is None
            assert await server_side.recv() is None
            assert [m async for m in server_side] == []

            # An abort: RST to the peer (ResetError), ABORTED here.
            client = await eng.connect(listener.address)
            server_side = await listener.accept()
            client.abort()
            with pytest.raises(net.ResetError) as e:
                await server_side.recv()
            assert e.value.code == net.Error.RESET
            with pytest.raises(net.AbortedError):
                await client.recv()
            assert isinstance(client.close_error, net.AbortedError)
            with pytest.raises(net.ClosedError):
                client.send(b"late")

            # The idle timeout: TimedOutError here, and an RST to the peer.
            client = await eng.connect(listener.address)
            server_side = await listener.accept()
            net.set_option(server_side.handle, "idle_timeout", 50)
            with pytest.raises(net.TimedOutError):
                await server_side.recv()
            with pytest.raises(net.ResetError):
                await client.recv()

            # A refused connect raises its reason.
            port = listener.address.port
            await listener.close()
            with pytest.raises(net.RefusedError):
                await eng.connect("127.0.0.1", port)
    run(loop_kind, main())


def test_a_bad_frame_header_ends_the_connection_with_its_reason(loop_kind):
    async def bad_header(eng, header, error, **tcp):
        loop = asyncio.get_running_loop()
        listener = await eng.listen("127.0.0.1", 0, framing="u16le", **tcp)
        with socket.socket() as s:
            s.setblocking(False)
            await loop.sock_connect(s, tuple(listener.address[:2]))
            conn = await listener.accept()
            await loop.sock_sendall(s, struct.pack("<H", header) + b"x" * 10)
            with pytest.raises(error):
                await conn.recv()
        await listener.close()

    async def main():
        async with net.aio.Engine(max_message=1000) as eng:
            await bad_header(eng, 5000, net.MessageSizeError)  # over max_message
            # shorter than its own header
            await bad_header(eng, 1, net.ProtocolError, length_includes_header=True)
    run(loop_kind, main())


def test_cancellation_leaves_nothing_behind(loop_kind):
    async def main():
        async with net.aio.Engine() as eng:
            listener = await eng.listen("127.0.0.1", 0)
            client = await eng.connect(listener.address)
            server_side = await listener.accept()

            # A recv that times out loses nothing: the next one gets the message.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(server_side.recv(), 0.02)
            client.send(b"after the timeout")
            assert await server_side.recv() == b"after the timeout"

            # A connect cancelled before its CONNECT is aborted: the
            # listener's side sees its end, the engine holds nothing of it.
            task = asyncio.ensure_future(eng.connect(listener.address))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            accepted = await listener.accept()
            assert await _end_of(accepted) in (None, net.ResetError)

            # A close whose wait is cancelled aborts.
            task = asyncio.ensure_future(client.close())
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await client.wait_closed()
            assert client.close_status in (0, net.Error.ABORTED)
            assert await _end_of(server_side) in (None, net.ResetError)

            # The same for a listener (which has nothing to abort: it closes).
            task = asyncio.ensure_future(listener.close())
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await listener.wait_closed()
            await until(lambda: eng.engine.stats().connections == 0, "no connection left")
            assert eng._owners == {}
    run(loop_kind, main())


async def _end_of(conn):
    """None for an orderly end, else the class of the error recv raised."""
    try:
        while await conn.recv() is not None:
            pass
        return None
    except net.NetError as e:
        return type(e)


def test_the_engine_closing_ends_every_wait(loop_kind):
    async def main():
        eng = net.aio.Engine()
        cancelled = []

        async def handler(conn):
            try:
                await conn.recv()
            except asyncio.CancelledError:
                cancelled.append(conn)
                raise

        server = await eng.listen("127.0.0.1", 0, handler)
        client = await eng.connect(server.address)
        waiting = asyncio.ensure_future(client.recv())
        events = asyncio.ensure_future(_drain_events(eng))
        await until(lambda: eng._tasks, "the handler's task")
        await asyncio.sleep(0)
        await eng.close()
        # Aborted by the engine's end, or reset first by the handler's abort.
        with pytest.raises((net.AbortedError, net.ResetError)):
            await waiting
        assert await events == []
        assert len(cancelled) == 1
        await eng.close()  # idempotent
        with pytest.raises(net.BadHandleError):
            await eng.connect(server.address)
    run(loop_kind, main())


async def _drain_events(eng):
    return [ev async for ev in eng.events()]


def test_events_of_the_plain_api(loop_kind):
    async def main():
        async with net.aio.Engine() as eng:
            eng.engine.timer(5, user=7)  # once: its handle ends with its TIMER
            eng.engine.post(42)
            seen = []
            async for ev in eng.events():
                seen.append((ev.type, ev.user))
                if len(seen) == 2:
                    break
            assert sorted(seen) == [(net.EV_TIMER, 7), (net.EV_USER, 42)]
    run(loop_kind, main())


def test_udp(loop_kind):
    async def main():
        async with net.aio.Engine() as eng:
            a = await eng.udp_open("127.0.0.1")
            b = await eng.udp_open("127.0.0.1")
            for i in range(10):
                a.sendto(b"ping %d" % i, b.address)
            for i in range(10):
                data, sender = await b.recvfrom()
                assert (data, sender) == (b"ping %d" % i, a.address)
                b.sendto(data, sender)
            got = [(await a.recvfrom())[0] for _ in range(10)]
            assert got == [b"ping %d" % i for i in range(10)]
            # A connected socket whose peer has no socket: the ICMP error is
            # raised by recvfrom, and the socket stays open.
            port = b.address.port
            await b.close()
            a.connect("127.0.0.1", port)
            a.sendto(b"nobody")
            with pytest.raises(net.RefusedError):
                await a.recvfrom()
            await a.close()
            with pytest.raises(net.ClosedError):
                await a.recvfrom()
    run(loop_kind, main())


def test_made_outside_a_loop_is_refused():
    with pytest.raises(RuntimeError, match="running asyncio loop"):
        net.aio.Engine()
