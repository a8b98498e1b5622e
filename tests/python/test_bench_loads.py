"""bench/loads.py and its tools (connrate, idle_client, bcast_client,
net_broadcast) at a tiny size against net's servers: each load runs to the
end with no error, and the figures it reports are there and add up.

The build directory is the one NET_LIBRARY's libnet.so lives in
(BUILD/dll/libnet.so); the bench tools must have been built in it."""

import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from conftest import BACKENDS, ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import loads  # noqa: E402

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["NET_LIBRARY"])))
TOOLS = ["bench/connrate", "bench/idle_client", "bench/bcast_client", "bench/net_broadcast", "samples/echo_server"]
MISSING = [t for t in TOOLS if not os.access(os.path.join(BUILD, t), os.X_OK)]
BACKEND = "io_uring" if "io_uring" in BACKENDS else BACKENDS[0]

pytestmark = pytest.mark.skipif(bool(MISSING), reason="not built in %s: %s" % (BUILD, ", ".join(MISSING)))


def echo_server():
    return [os.path.join(BUILD, "samples", "echo_server"), "--backend", BACKEND]


def test_connrate_completes_cycles_without_errors():
    res = loads.measure_connrate(echo_server(), 1, parallel=8, build=BUILD)
    assert res["errors"] == 0
    assert res["cycles"] > 0
    assert res["cycles_per_s"] == pytest.approx(res["cycles"] / res["seconds"], rel=0.01)
    assert res["server_cpu_us_per_cycle"] > 0


def test_idle_holds_every_connection_and_reports_memory():
    # Exactly max_connections must be allowed (as 100,000 is by default).
    res = loads.measure_idle(echo_server() + ["--max-connections", "200"], 200, build=BUILD)
    assert res["connections"] == 200
    # Every connection costs the server something, and far less than a MiB.
    assert 0 < res["rss_after_kib"] - res["rss_before_kib"]
    assert res["rss_bytes_per_conn"] == pytest.approx(
        (res["rss_after_kib"] - res["rss_before_kib"]) * 1024 / 200)
    assert res["private_dirty_bytes_per_conn"] < 1 << 20
    # 200 accepts may take less than one clock tick (10 ms) of CPU: present, maybe 0.
    assert res["server_cpu_us_per_conn_setup"] >= 0


def test_idle_fails_past_max_connections():
    with pytest.raises(loads.RunError, match="idle_client"):
        loads.measure_idle(echo_server() + ["--max-connections", "200"], 201, build=BUILD)


def test_broadcast_delivers_every_tick_to_every_connection():
    argv = [os.path.join(BUILD, "bench", "net_broadcast"), "--backend", BACKEND]
    res = loads.measure_broadcast_argv(argv, BUILD, 20, 1, tick_ms=10, size=64)
    assert res["errors"] == 0 and res["missed"] == 0
    assert res["conns"] == 20 and res["ticks"] > 0
    assert res["delivered"] == res["ticks"] * 20
    # Measured from the kernel's CPU clock ticks (10 ms): a second of 20
    # connections can cost less than one, so 0 is a valid figure here.
    assert res["server_cpu_us_per_tick"] >= 0


def test_broadcast_by_name_matches_the_backend():
    name = "net-uring" if BACKEND == "io_uring" else "net-epoll"
    res = loads.measure_broadcast(name, BUILD, 5, 0.5)
    assert res["errors"] == 0 and res["missed"] == 0 and res["delivered"] == res["ticks"] * 5


@pytest.mark.parametrize("args,bad", [
    (["idle", "--count", "0"], "--count"),
    (["broadcast", "--server", "nosuch"], "nosuch"),
])
def test_cli_names_the_bad_argument(args, bad):
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "loads.py"), BUILD] + args,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert bad in p.stderr


class FakeServer:
    """A listening socket on 127.0.0.1 whose connections a thread serves with serve(conn, index)."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.serve = serve
        self.stop = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            self.conns.append(c)
            threading.Thread(target=self.serve_one, args=(c, len(self.conns) - 1), daemon=True).start()

    def serve_one(self, c, index):
        try:
            self.serve(self, c, index)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            c.close()


def tick_frame(tick, size=64):
    payload = struct.pack("<Q", tick) + bytes((tick + i) & 0xff for i in range(8, size))
    return struct.pack("<H", size + 2) + payload


def run_tool(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("fault", ["skip", "corrupt"])
def test_bcast_client_catches_a_missed_or_corrupted_tick(fault):
    # Connection 0 misses (or gets a damaged copy of) every 10th tick.
    def serve(srv, c, index):
        while len(srv.conns) < 2 and not srv.stop.is_set():
            time.sleep(0.01)
        for tick in range(1, 400):
            if srv.stop.is_set():
                return
            f = tick_frame(tick)
            if index == 0 and tick % 10 == 0:
                if fault == "skip":
                    time.sleep(0.01)
                    continue
                f = f[:-1] + bytes([f[-1] ^ 0xff])
            c.sendall(f)
            time.sleep(0.01)

    srv = FakeServer(serve)
    try:
        p = run_tool([os.path.join(BUILD, "bench", "bcast_client"), "--port", str(srv.port), "--connections", "2",
                      "--seconds", "0.5", "--length-includes-header"])
    finally:
        srv.close()
    assert p.returncode == 1, p.stdout + p.stderr
    res = loads.parse_fields(p.stdout.splitlines()[-1])
    if fault == "skip":
        assert res["missed"] > 0 and res["errors"] == 0
    else:
        assert res["errors"] > 0 and "malformed" in p.stderr


def test_connrate_catches_a_wrong_echo():
    # Echoes each message with its last byte changed.
    def serve(srv, c, index):
        data = c.recv(4096)
        if data:
            c.sendall(data[:-1] + bytes([data[-1] ^ 1]))

    srv = FakeServer(serve)
    try:
        p = run_tool([os.path.join(BUILD, "bench", "connrate"), "--port", str(srv.port), "--parallel", "2",
                      "--seconds", "0.5", "--length-includes-header"])
    finally:
        srv.close()
    assert p.returncode == 1
    assert loads.parse_fields(p.stdout.strip())["errors"] > 0
    assert "echo differs" in p.stderr
