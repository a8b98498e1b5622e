"""Engines past the process limit: the error says which limit it is, and
closing them frees their slots. In a child process, so that no engine of
another test counts."""

import os
import subprocess
import sys

import net
from conftest import ROOT

CHILD = """
import time, net
engines, error, start = [], None, time.monotonic()
# epoll: the cheapest engine to create (no io_uring ring each).
while len(engines) < 10000 and time.monotonic() - start < 30:
    try:
        engines.append(net.Engine("epoll"))
    except net.LimitError as e:
        error = e
        break
for e in engines:
    e.close()
net.Engine("epoll").close()  # all closed: engines can be made again
print(len(engines))
print(int(error.code) if error else 0)
print(error)
"""


def test_engine_limit_is_named():
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
               NET_LIBRARY=os.path.abspath(net.library_path))
    r = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    count, code, text = r.stdout.splitlines()
    assert int(code) == net.Error.LIMIT, r.stdout
    assert text.startswith("engine_create: too many engines open at once")
    # net_strerror says how many a process may have: as many as were made.
    assert "the %s engines a process may have open at once" % count in text
