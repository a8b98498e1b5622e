"""`pip install ./bindings/python` gives an importable package (no compiler:
cffi ABI mode). Built from a copy so the source tree stays clean, without
build isolation so no index is needed."""

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

import net
from conftest import ROOT


def test_pip_install(tmp_path):
    if importlib.util.find_spec("pip") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("pip or setuptools missing")
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "bindings", "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    # Ship the library inside the package (the "next to the package" lookup).
    shutil.copy(net.library_path, src / "net" / "libnet.so")
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                        "--no-index", "--quiet", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "net" / "py.typed").exists()
    assert (target / "net" / "libnet.so").exists()
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("NET_LIBRARY", None)
    r = subprocess.run([sys.executable, "-c",
                        "import net; e = net.Engine(); print(net.library_path, e.backend); e.destroy()"],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(target / "net" / "libnet.so")
