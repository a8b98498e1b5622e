"""A blocking poll honours Ctrl+C, wakeup still ends it, and meaningless
timeouts are refused (naming the argument) instead of blocking forever."""

import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import net
from conftest import ROOT

PKG = os.path.join(ROOT, "bindings", "python")

CHILD = """
import sys, time, net
eng = net.Engine(sys.argv[1], int(sys.argv[2]))
print("ready", flush=True)
start = time.monotonic()
try:
    eng.poll(int(sys.argv[3]))
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted %.3f" % (time.monotonic() - start), flush=True)
# The engine is intact after the interrupt.
eng.post(7)
evs = eng.poll(1000)
print("after", [(ev.type.name, ev.user) for ev in evs], flush=True)
eng.close()
"""


@pytest.mark.parametrize("timeout_ms", [-1, 60000])
def test_sigint_interrupts_a_blocking_poll(mode, timeout_ms):
    env = dict(os.environ, PYTHONPATH=PKG, NET_LIBRARY=os.path.abspath(net.library_path))
    p = subprocess.Popen([sys.executable, "-c", CHILD, mode.backend, str(mode.io_threads),
                          str(timeout_ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.2)  # let it enter poll: a SIGINT before would be seen all the same
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        elapsed = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, out + err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted "), out + err
    assert elapsed < 2.0
    assert lines[1] == "after [('USER', 7)]"


def test_wakeup_still_ends_a_poll_forever(mode):
    with net.Engine(mode.backend, mode.io_threads) as eng:
        t = threading.Timer(0.3, eng.wakeup)
        t.start()
        start = time.monotonic()
        try:
            assert eng.poll(-1) == []
        finally:
            t.join()
        # Well before a minute, but after the wakeup, not at a slice end.
        assert 0.25 <= time.monotonic() - start < 5


def test_a_sliced_poll_still_returns_at_its_timeout(mode):
    with net.Engine(mode.backend, mode.io_threads) as eng:
        start = time.monotonic()
        assert eng.poll(350) == []
        assert 0.34 <= time.monotonic() - start < 3


def test_events_arriving_during_a_sliced_wait_end_it(mode):
    with net.Engine(mode.backend, mode.io_threads) as eng:
        t = threading.Timer(0.25, eng.post, (42,))
        t.start()
        try:
            evs = eng.poll(-1)
        finally:
            t.join()
        assert [(ev.type, ev.user) for ev in evs] == [(net.EV_USER, 42)]


@pytest.mark.parametrize("bad", [-5, -2, -2**31])
def test_negative_timeouts_other_than_minus_one_are_refused(bad):
    with net.Engine() as eng:
        with pytest.raises(ValueError) as ei:
            eng.poll(bad)
        assert isinstance(ei.value, net.InvalidArgumentError)
        assert "Engine.poll" in str(ei.value) and "timeout_ms" in str(ei.value)


@pytest.mark.parametrize("bad", [1.5, math.nan, "100", None, True])
def test_timeouts_that_are_no_int_are_refused(bad):
    with net.Engine() as eng:
        with pytest.raises(TypeError) as ei:
            eng.poll(bad)
        assert "Engine.poll" in str(ei.value) and "timeout_ms" in str(ei.value)
