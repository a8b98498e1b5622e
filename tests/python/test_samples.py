"""samples/python/echo_server.py, aio_echo_server.py (net.aio) and the asyncio benchmark peer keep the
echo-server CLI of docs/CONVENTIONS.md: the "listening on" line, echo in the
chosen framing, exit 0 on SIGTERM or after --seconds."""

import os
import re
import signal
import socket
import subprocess
import sys

import pytest

from conftest import ROOT
from harness import frame, pattern

ECHO = os.path.join(ROOT, "samples", "python", "echo_server.py")
AIO_ECHO = os.path.join(ROOT, "samples", "python", "aio_echo_server.py")
ASYNCIO_ECHO = os.path.join(ROOT, "bench", "python", "asyncio_echo.py")
LISTEN_RE = re.compile(r"^listening on (\[[^\]]+\]|[^\s:]+):(\d+) backend=(\S+) io_threads=(\d+) "
                       r"framing=(\S+)$")


def _start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().rstrip("\n")
    m = LISTEN_RE.match(line)
    if not m:
        p.kill()
        raise AssertionError("bad first line %r; stderr: %s" % (line, p.stderr.read()))
    return p, m


def _echo_over_socket(host, port, framing, inc=False):
    with socket.create_connection((host.strip("[]"), port), timeout=10) as s:
        msgs = [b"x", pattern(1000, 1), pattern(60000, 2)]
        wire = b"".join(frame(framing, m, inc) for m in msgs)
        # Send in awkward pieces: the server must not care.
        for i in range(0, len(wire), 777):
            s.sendall(wire[i:i + 777])
        got = b""
        while len(got) < len(wire):
            chunk = s.recv(65536)
            assert chunk, "EOF after %d of %d bytes" % (len(got), len(wire))
            got += chunk
        assert got == wire


def _stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    assert rc == 0, p.stderr.read()


@pytest.mark.parametrize("framing,inc", [("raw", False), ("u16le", False), ("u32be", True)])
def test_python_echo_server(mode, framing, inc):
    cmd = [sys.executable, ECHO, "--port", "0", "--framing", framing,
           "--backend", mode.backend, "--io-threads", str(mode.io_threads)]
    if inc:
        cmd.append("--length-includes-header")
    p, m = _start(cmd)
    try:
        assert m.group(1) == "127.0.0.1"
        assert (m.group(3), int(m.group(4)), m.group(5)) == (mode.backend, mode.io_threads, framing)
        _echo_over_socket(m.group(1), int(m.group(2)), framing, inc)
    finally:
        _stop(p)


def test_python_echo_server_seconds_and_stats():
    p, m = _start([sys.executable, ECHO, "--port", "0", "--seconds", "2.5"])
    rc = p.wait(20)
    err = p.stderr.read()
    assert rc == 0, err
    assert "stats: conns=" in err


def test_python_echo_server_bad_arguments():
    r = subprocess.run([sys.executable, ECHO, "--framing", "u24"], capture_output=True, text=True)
    assert r.returncode == 2
    r = subprocess.run([sys.executable, ECHO, "--port", "70000"], capture_output=True, text=True)
    assert r.returncode == 2


def test_python_echo_server_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, ECHO, "--port", str(port)], capture_output=True,
                           text=True, timeout=20)
    assert r.returncode == 1
    assert "NET_E_ADDRINUSE" in r.stderr


@pytest.mark.parametrize("loop,framing,inc", [("asyncio", "raw", False), ("uvloop", "u32be", True)])
def test_python_aio_echo_server(mode, loop, framing, inc):
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    cmd = [sys.executable, AIO_ECHO, "--port", "0", "--framing", framing, "--loop", loop,
           "--backend", mode.backend, "--io-threads", str(mode.io_threads)]
    if inc:
        cmd.append("--length-includes-header")
    p, m = _start(cmd)
    try:
        assert (m.group(1), m.group(3), int(m.group(4)), m.group(5)) == (
            "127.0.0.1", mode.backend, mode.io_threads, framing)
        _echo_over_socket(m.group(1), int(m.group(2)), framing, inc)
    finally:
        _stop(p)


def test_python_aio_echo_server_bad_arguments():
    r = subprocess.run([sys.executable, AIO_ECHO, "--loop", "trio"], capture_output=True, text=True)
    assert r.returncode == 2 and "--loop" in r.stderr


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_asyncio_peer(loop):
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    p, m = _start([sys.executable, ASYNCIO_ECHO, "--loop", loop, "--port", "0",
                   "--framing", "u16le"])
    try:
        assert m.group(3) == loop
        _echo_over_socket(m.group(1), int(m.group(2)), "u16le")
    finally:
        _stop(p)
