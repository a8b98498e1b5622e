"""bench/loads.py and its tools (connrate, idle_client, bcast_client,
net_broadcast) at a tiny size against net's servers: each load runs to the
end with no error, and the figures it reports are there and add up.

The build directory is the one NET_LIBRARY's libnet.so lives in
(BUILD/dll/libnet.so); the bench tools must have been built in it."""

import os
import subprocess
import sys

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
    assert res["server_cpu_us_per_tick"] > 0


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
