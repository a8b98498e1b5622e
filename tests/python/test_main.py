"""`python3 -m net`: version, library path, backend, loopback self-test;
exit status 0 only when the self-test passed."""

import os
import subprocess
import sys

import net
from conftest import BACKENDS, ROOT

PKG = os.path.join(ROOT, "bindings", "python")


def _run_main(tmp_path, **env_changes):
    env = dict(os.environ, PYTHONPATH=PKG, NET_LIBRARY=os.path.abspath(net.library_path))
    env.update(env_changes)
    return subprocess.run([sys.executable, "-m", "net"], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=60)


def test_main_prints_version_library_backend_and_passes(tmp_path):
    for backend in BACKENDS:
        r = _run_main(tmp_path, NET_BACKEND=backend)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = r.stdout.splitlines()
        assert lines[0] == "net " + net.version_string()
        assert lines[1] == "library: " + os.path.abspath(net.library_path)
        assert lines[2] == "backend: " + backend
        assert lines[3].startswith("self-test: passed (3 framed messages echoed over TCP, "
                                   "a datagram echoed over UDP)")


def test_main_fails_with_status_1_when_no_engine_can_run(tmp_path):
    # A backend this machine cannot give: the self-test cannot pass.
    missing = [b for b in ("epoll", "io_uring", "iocp") if b not in BACKENDS][0]
    r = _run_main(tmp_path, NET_BACKEND=missing)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "backend: none" in r.stdout
    assert "self-test: FAILED" in r.stdout
