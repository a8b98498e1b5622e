"""Sends from several Python threads, posts, wake-ups, timers."""

import struct
import threading
import time

import pytest

import net

THREADS = 4
PER_THREAD = 400


def test_sends_from_several_threads(h):
    """Each thread's messages arrive whole and in its order; none is lost."""
    lst, cli, srv = h.pair("u32le")
    barrier = threading.Barrier(THREADS)
    errors = []

    def sender(tid):
        try:
            barrier.wait()
            for seq in range(PER_THREAD):
                body = struct.pack("<II", tid, seq) + bytes([tid]) * (seq % 300)
                while True:
                    try:
                        net.send(cli, body)
                        break
                    except net.WouldBlockError:
                        time.sleep(0.001)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    next_seq = [0] * THREADS
    got = 0
    end = time.monotonic() + 30
    while got < THREADS * PER_THREAD:
        assert time.monotonic() < end, "received %d of %d" % (got, THREADS * PER_THREAD)
        h.pump(5)
        while True:
            ev = h.take(net.EV_DATA, srv)
            if ev is None:
                break
            tid, seq = struct.unpack_from("<II", ev.data)
            assert seq == next_seq[tid], "thread %d: got %d, want %d" % (tid, seq, next_seq[tid])
            assert ev.data[8:] == bytes([tid]) * (seq % 300)
            next_seq[tid] += 1
            got += 1
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert next_seq == [PER_THREAD] * THREADS


def test_close_from_another_thread_while_sending(h):
    lst, cli, srv = h.pair("u16le")
    stop = threading.Event()
    outcome = []

    def sender():
        n = 0
        try:
            while not stop.is_set():
                net.send(cli, b"x" * 100)
                n += 1
        except (net.ClosedError, net.BadHandleError, net.WouldBlockError) as e:
            outcome.append(type(e))
        outcome.append(n)

    t = threading.Thread(target=sender)
    t.start()
    time.sleep(0.05)
    h.pump(5)
    net.close(cli)
    h.wait_close(cli, timeout=20)
    stop.set()
    t.join(10)
    assert outcome and isinstance(outcome[-1], int)
    h.wait_close(srv, timeout=20)


def test_post_values_in_order(h):
    values = [0, 1, 2**32, 2**63, 2**64 - 1] + list(range(100, 200))
    for v in values:
        h.eng.post(v)
    got = [h.wait(net.EV_USER).user for _ in values]
    assert got == values
    with pytest.raises(OverflowError):
        h.eng.post(2**64)
    with pytest.raises(OverflowError):
        h.eng.post(-1)


def test_post_from_threads(h):
    def poster(base):
        for i in range(250):
            h.eng.post(base + i)

    threads = [threading.Thread(target=poster, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    got = [h.wait(net.EV_USER).user for _ in range(1000)]
    for t in threads:
        t.join()
    assert sorted(got) == sorted(k * 1000 + i for k in range(4) for i in range(250))
    for k in range(4):  # per poster, in order
        mine = [v for v in got if k * 1000 <= v < (k + 1) * 1000]
        assert mine == sorted(mine)


def test_wakeup_from_another_thread(h):
    t = threading.Timer(0.2, h.eng.wakeup)
    t0 = time.monotonic()
    t.start()
    evs = h.eng.poll(5000)
    elapsed = time.monotonic() - t0
    t.join()
    assert elapsed < 3, elapsed
    assert all(ev.type == net.EV_USER for ev in evs) or evs == []


def test_post_wakes_blocking_poll(h):
    threading.Timer(0.2, lambda: h.eng.post(42)).start()
    t0 = time.monotonic()
    ev = h.wait(net.EV_USER, timeout=5)
    assert ev.user == 42 and time.monotonic() - t0 < 3


def test_one_shot_timer(h):
    t0 = time.monotonic()
    tm = h.eng.timer(100, 0, user=7)
    ev = h.wait(net.EV_TIMER, tm)
    elapsed = time.monotonic() - t0
    assert ev.user == 7 and ev.handle == tm
    assert 0.09 <= elapsed < 2.0, elapsed
    h.expect_none(net.EV_TIMER, tm, within=0.3)


def test_repeating_timer_and_close(h):
    tm = h.eng.timer(20, 30, user=1)
    t0 = time.monotonic()
    for _ in range(5):
        h.wait(net.EV_TIMER, tm)
    elapsed = time.monotonic() - t0
    assert 0.1 <= elapsed < 3.0, elapsed
    net.close(tm)  # no event for a timer's close
    h.pump_for(0.05)
    h.box = [e for e in h.box if e.handle != tm]  # fired before the close
    h.expect_none(net.EV_TIMER, tm, within=0.2)
    h.expect_none(net.EV_CLOSE, tm, within=0.01)
    with pytest.raises(net.BadHandleError):
        net.close(tm)


def test_timer_user_data_and_order(h):
    tms = [h.eng.timer(d, 0, user=d) for d in (150, 50, 100)]
    got = [h.wait(net.EV_TIMER).user for _ in tms]
    assert got == [50, 100, 150]
    for tm in tms:  # a fired one-shot timer may be gone already: no crash either way
        try:
            net.close(tm)
        except net.BadHandleError:
            pass


def test_timer_from_another_thread_wakes_poll(h):
    out = []
    t = threading.Timer(0.1, lambda: out.append(h.eng.timer(0, 0, user=9)))
    t.start()
    ev = h.wait(net.EV_TIMER, timeout=5)
    # The event can reach the poller before the starting thread has stored
    # the handle net_timer_start returned to it.
    t.join(5)
    assert ev.user == 9 and ev.handle == out[0]


def test_many_timers(h):
    tms = [h.eng.timer(10 + (i % 50), 0, user=i) for i in range(300)]
    closed = set(tms[::3])
    for tm in closed:
        net.close(tm)
    want = {i for i, tm in enumerate(tms) if tm not in closed}
    got = set()
    while len(got) < len(want):
        got.add(h.wait(net.EV_TIMER).user)
    assert got == want
    h.expect_none(net.EV_TIMER, within=0.1)


def test_destroy_while_another_thread_polls(make_h):
    h = make_h()
    out = []

    def poller():
        try:
            while True:
                h.eng.poll(-1)
        except net.BadHandleError as e:
            out.append(e)

    t = threading.Thread(target=poller)
    t.start()
    time.sleep(0.2)
    h.eng.destroy()  # wakes the blocked poll, then destroys
    t.join(5)
    assert not t.is_alive()
    assert out and out[0].code == net.Error.BADHANDLE
