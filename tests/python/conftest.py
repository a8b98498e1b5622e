"""Shared fixtures of the Python integration suite.

Every test that takes the ``mode`` fixture (directly or through ``h`` /
``make_h``) runs once per backend built on this machine and per thread mode
(io_threads 0 and 1); ids look like ``[epoll-t0]``.

Backends: ``NET_TEST_BACKENDS="epoll;io_uring"`` (``;`` or ``,``) names them;
a named backend that cannot be created fails the run. Without it, each known
backend is tried: one whose engine creation says NET_E_UNSUPPORTED is not
built (or not allowed by this kernel) and is left out.

The binding is imported from bindings/python of this tree. The library: the
binding's own lookup (NET_LIBRARY first); when NET_LIBRARY is unset and
build/dll/libnet.so exists, that one.
"""

import collections
import os
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if not os.environ.get("NET_LIBRARY"):
    _default = os.path.join(ROOT, "build", "dll", "libnet.so")
    if os.path.exists(_default):
        os.environ["NET_LIBRARY"] = _default

import net  # noqa: E402  (after the path set-up)

from harness import Harness  # noqa: E402

KNOWN_BACKENDS = ("epoll", "io_uring", "iocp")
THREAD_MODES = (0, 1)

Mode = collections.namedtuple("Mode", "backend io_threads")


def _discover_backends():
    env = os.environ.get("NET_TEST_BACKENDS", "").replace(",", ";")
    named = [b.strip() for b in env.split(";") if b.strip()]
    if named:
        return named, True
    found = []
    for b in KNOWN_BACKENDS:
        try:
            net.Engine(b).destroy()
        except net.UnsupportedError:
            continue
        found.append(b)
    return found, False


BACKENDS, BACKENDS_FROM_ENV = _discover_backends()
MODES = [Mode(b, t) for b in BACKENDS for t in THREAD_MODES]


def pytest_report_header(config):
    return ["net %s from %s; backends %s (%s); io_threads %s" % (
        net.version_string(), net.library_path, ",".join(BACKENDS) or "NONE",
        "NET_TEST_BACKENDS" if BACKENDS_FROM_ENV else "discovered",
        ",".join(map(str, THREAD_MODES))),
        "api fuzz (test_api_fuzz.py): %s examples per mode, %s" % (
            os.environ.get("NET_FUZZ_EXAMPLES", "50"),
            "seed %s" % os.environ["NET_FUZZ_SEED"] if os.environ.get("NET_FUZZ_SEED")
            else "derandomized (hypothesis' fixed per-test seed)")]


def pytest_generate_tests(metafunc):
    if "mode" in metafunc.fixturenames:
        metafunc.parametrize("mode", MODES, ids=["%s-t%d" % m for m in MODES])


def pytest_sessionfinish(session, exitstatus):
    # A run that collected nothing tested nothing: make it fail (pytest's
    # exit code 5 would otherwise be easy to mistake for success).
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def make_h(mode):
    """Factory: make_h(**engine_config) -> Harness on this test's mode.
    Every harness made is destroyed (and its invariants checked) at the end."""
    made = []

    def make(**cfg):
        hh = Harness(mode.backend, mode.io_threads, **cfg)
        made.append(hh)
        return hh

    yield make
    errors = []
    for hh in made:
        try:
            hh.finish()
        except Exception as e:  # report all, fail once
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture
def h(make_h):
    """A Harness with the library's default configuration."""
    return make_h()


@pytest.fixture
def deadline():
    """deadline(seconds) -> a monotonic time limit."""
    return lambda s: time.monotonic() + s
