"""`pip wheel ./bindings/python` gives a platform-tagged wheel named
net-io-engine that carries the library: installed into a fresh directory it
imports, echoes and self-tests with no environment variable, from another
directory, and its versions agree with the repository's one version.

Fast: the library inside the wheel is the one under test
(NET_PREBUILT_LIBRARY), not a new CMake build; scripts/check-python.sh does
the full from-source build. The sources are copied (NET_SOURCE_DIR names the
repository), so the tree stays clean; no index, no build isolation.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

import net
from conftest import ROOT

PKG = os.path.join(ROOT, "bindings", "python")
DEBIAN_LIBNET = "/usr/lib/x86_64-linux-gnu/libnet.so"


def _project_version():
    return subprocess.run([os.path.join(ROOT, "scripts", "project-version")], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    for module in ("pip", "setuptools", "wheel"):
        if importlib.util.find_spec(module) is None:
            pytest.fail("python3-%s is missing (scripts/install-deps.sh installs it)" % module)
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info", "libnet.so*", "net.dll"))
    env = dict(os.environ, NET_SOURCE_DIR=ROOT,
               NET_PREBUILT_LIBRARY=os.path.abspath(net.library_path))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index",
                        "--no-deps", "--quiet", "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list((tmp / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel installed with --target into a fresh directory."""
    target = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                        "--quiet", "--target", str(target), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return target


def _run_installed(target, code_or_args, cwd, extra_env=None):
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("NET_LIBRARY", None)
    env.pop("LD_LIBRARY_PATH", None)
    env.update(extra_env or {})
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, env=env,
                          cwd=str(cwd), timeout=60)


def test_wheel_is_platform_tagged_and_named_net_io_engine(wheel):
    name, version, py, abi, plat = wheel.name[:-len(".whl")].split("-")
    assert name == "net_io_engine"
    assert version == _project_version()
    assert plat != "any"
    assert plat == sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert (py, abi) == ("py3", "none")  # cffi ABI mode: any Python 3


def test_wheel_contains_the_library(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "net/libnet.so" in names, names
        with open(os.path.realpath(net.library_path), "rb") as f:
            assert z.read("net/libnet.so") == f.read()
        metadata = z.read("net_io_engine-%s.dist-info/METADATA" % _project_version()).decode()
        wheel_info = z.read("net_io_engine-%s.dist-info/WHEEL" % _project_version()).decode()
    assert "Name: net-io-engine\n" in metadata
    assert "Version: %s\n" % _project_version() in metadata
    assert "Root-Is-Purelib: false" in wheel_info
    assert "License: MIT\n" in metadata
    assert "net/LICENSE" in names


def test_wheel_carries_the_license_text(wheel):
    with zipfile.ZipFile(wheel) as z:
        shipped = z.read("net/LICENSE").decode()
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        assert shipped == f.read()
    assert shipped.startswith("MIT License")


ECHO = """
import importlib.metadata, net
print(net.library_path)
print(net.__version__, importlib.metadata.version("net-io-engine"), net.version_string())
with net.Engine() as eng:
    lst = eng.listen("127.0.0.1", 0, framing="u16le")
    c = eng.connect(str(net.local_addr(lst)), framing="u16le")
    got = None
    for _ in range(500):
        for ev in eng.poll(10):
            if ev.type == net.EV_CONNECT and ev.handle == c:
                net.send(c, b"hello wheel")
            elif ev.type == net.EV_DATA and ev.handle != c:
                net.send(ev.handle, ev.data)
            elif ev.type == net.EV_DATA:
                got = ev.data
        if got is not None:
            break
print(got)
"""


def _check_echo_output(r, target):
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == str(target / "net" / "libnet.so")
    assert lines[1].split() == [_project_version()] * 3
    assert lines[2] == "b'hello wheel'"


def test_installed_wheel_imports_and_echoes_without_environment(installed, tmp_path):
    assert (installed / "net" / "libnet.so").is_file()
    _check_echo_output(_run_installed(installed, ECHO, cwd=tmp_path), installed)


def test_installed_wheel_self_test(installed, tmp_path):
    r = _run_installed(installed, ["-m", "net"], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "library: %s" % (installed / "net" / "libnet.so") in r.stdout
    assert "self-test: passed" in r.stdout
    assert r.stdout.startswith("net %s\n" % _project_version())


def test_net_library_still_overrides_the_packaged_one(installed, tmp_path):
    lib = os.path.abspath(net.library_path)
    r = _run_installed(installed, "import net; print(net.library_path)", cwd=tmp_path,
                       extra_env={"NET_LIBRARY": lib})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == lib


def test_debian_libnet_installed_and_loaded_does_not_replace_ours(installed, tmp_path):
    # libnet1-dev's libnet.so (packet injection) is on the system search path
    # and even loaded into the process first: the package still loads its own.
    assert os.path.exists(DEBIAN_LIBNET), "libnet1-dev is not installed (scripts/install-deps.sh)"
    code = "import ctypes; ctypes.CDLL('libnet.so'); " + ECHO
    _check_echo_output(_run_installed(installed, code, cwd=tmp_path), installed)


def test_version_is_the_repository_version():
    assert net.__version__ == net.version_string() == _project_version()
