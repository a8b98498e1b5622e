"""Loading the library, versions, backends, engine creation arguments."""

import os
import shutil
import subprocess
import sys

import pytest

import net
from conftest import BACKENDS, BACKENDS_FROM_ENV, KNOWN_BACKENDS, ROOT

PKG = os.path.join(ROOT, "bindings", "python")


def _import_in_child(env_changes, cwd=None, pythonpath=PKG):
    env = dict(os.environ)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    env["PYTHONPATH"] = pythonpath
    return subprocess.run([sys.executable, "-c", "import net; print(net.library_path)"],
                          capture_output=True, text=True, env=env, cwd=cwd or "/")


def test_some_backend_is_available():
    assert BACKENDS, "no backend could create an engine"
    for b in BACKENDS:
        if not BACKENDS_FROM_ENV:
            assert b in KNOWN_BACKENDS


def test_named_backends_create_engines():
    for b in BACKENDS:
        with net.Engine(b) as e:
            assert e.backend == b


def test_unbuilt_backends_say_unsupported():
    for b in KNOWN_BACKENDS:
        if b not in BACKENDS:
            with pytest.raises(net.UnsupportedError) as ei:
                net.Engine(b)
            assert ei.value.code == net.Error.UNSUPPORTED
            assert not net.backend_available(b)


def test_version():
    v = net.version()
    assert v >> 16 == net.VERSION_MAJOR
    assert (v >> 8) & 0xFF >= net.VERSION_MINOR
    assert net.version_string() == "%d.%d.%d" % (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def test_strerror_every_code():
    for code in net.Error:
        s = net.strerror(code)
        assert s and isinstance(s, str)
    assert net.strerror(-12345)  # unknown codes still give text


def test_library_from_env_path():
    lib = net.library_path
    assert os.path.exists(lib)
    r = _import_in_child({"NET_LIBRARY": os.path.abspath(lib)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.abspath(lib)


def test_library_from_env_directory():
    d = os.path.dirname(os.path.abspath(net.library_path))
    r = _import_in_child({"NET_LIBRARY": d})
    assert r.returncode == 0, r.stderr
    assert os.path.dirname(r.stdout.strip()) == d


def test_library_env_wrong_path_is_an_error_listing_it():
    r = _import_in_child({"NET_LIBRARY": "/nonexistent/libnet.so"})
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr
    assert "NET_LIBRARY: /nonexistent/libnet.so" in r.stderr


def test_library_not_the_engine_is_refused(tmp_path):
    # Any shared object without the net symbols: the C library itself will do.
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(libc):
        pytest.skip("no known foreign shared object here")
    r = _import_in_child({"NET_LIBRARY": libc})
    assert r.returncode != 0
    assert "not the net engine library" in r.stderr


def test_library_inside_the_package(tmp_path):
    pkg = tmp_path / "site"
    shutil.copytree(os.path.join(PKG, "net"), pkg / "net",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
    shutil.copy(net.library_path, pkg / "net" / "libnet.so")
    r = _import_in_child({"NET_LIBRARY": None, "LD_LIBRARY_PATH": None}, pythonpath=str(pkg))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "net" / "libnet.so")


def test_library_never_from_the_system_search_path(tmp_path):
    # A copy of this very library where the system loader would find it is
    # still not used: the package loads only by full path (a bare name could
    # pick Debian's unrelated libnet.so, or another copy of this one).
    pkg = tmp_path / "site"
    shutil.copytree(os.path.join(PKG, "net"), pkg / "net",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(net.library_path, libdir / "libnet.so.0")
    shutil.copy(net.library_path, libdir / "libnet.so")
    r = _import_in_child({"NET_LIBRARY": None, "LD_LIBRARY_PATH": str(libdir)},
                         pythonpath=str(pkg))
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr


def test_library_missing_everywhere_lists_all_places(tmp_path):
    pkg = tmp_path / "site"
    shutil.copytree(os.path.join(PKG, "net"), pkg / "net",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so*"))
    r = _import_in_child({"NET_LIBRARY": None, "LD_LIBRARY_PATH": None}, pythonpath=str(pkg))
    assert r.returncode != 0
    assert "inside the package: %s (no such file)" % (pkg / "net" / "libnet.so") in r.stderr
    assert "system loader" not in r.stderr
    assert "NET_LIBRARY" in r.stderr  # the hint
    assert "pip install" in r.stderr


def test_engine_bad_arguments():
    with pytest.raises(net.InvalidArgumentError):
        net.Engine("no-such-backend")
    with pytest.raises(TypeError):
        net.Engine(no_such_option=1)
    with pytest.raises(TypeError):
        net.Engine(size=4)  # the struct size is not the caller's
    with pytest.raises(net.InvalidArgumentError):
        net.Engine(max_events=0)
    with pytest.raises(net.NetError) as ei:
        net.Engine(backend=99)
    assert ei.value.code in (net.Error.INVAL, net.Error.UNSUPPORTED)


def test_engine_context_manager_and_destroy_idempotent():
    with net.Engine() as e:
        h = e.handle
        assert h
        assert e.backend in KNOWN_BACKENDS
    assert e.handle == 0
    e.destroy()
    # The old engine value is stale now: the flat API says so.
    assert net.lib.net_post(h, 1) == net.Error.BADHANDLE
    assert net.lib.net_engine_destroy(h) == net.Error.BADHANDLE
    assert net.ffi.string(net.lib.net_backend_name(h)) == b""


def test_engine_freed_by_garbage_collection():
    import gc
    e = net.Engine()
    h = e.handle
    del e
    gc.collect()
    assert net.lib.net_post(h, 1) == net.Error.BADHANDLE


def test_calls_on_destroyed_engine_raise():
    e = net.Engine()
    e.destroy()
    with pytest.raises(net.BadHandleError):
        e.poll(0)
    with pytest.raises(net.BadHandleError):
        e.post(1)
    with pytest.raises(net.BadHandleError):
        e.listen("127.0.0.1", 0)
    with pytest.raises(net.BadHandleError):
        e.timer(10)
    with pytest.raises(net.BadHandleError):
        e.stats()
