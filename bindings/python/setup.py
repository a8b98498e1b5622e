"""Build step of the net-io-engine wheel: the binding is pure Python (cffi in
ABI mode), but the wheel carries the engine's shared library, so it is
platform-tagged and `import net` needs no environment variable.

The library comes from NET_PREBUILT_LIBRARY (the path of a built libnet.so /
net.dll) when set, else it is built here from the repository's C sources with
CMake (only the `net` target, Release). The version is the repository's one
version, project(net VERSION x.y.z) in the top CMakeLists.txt (what
scripts/project-version prints); NET_SOURCE_DIR names the repository when this
directory is not bindings/python inside it.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION_LINE = re.compile(r"^project\(net VERSION ([0-9][0-9.]*)", re.M)
# What the loader (net/_ffi.py) looks for inside the package, per platform.
PACKAGED_NAME = {"win32": "net.dll", "darwin": "libnet.dylib"}.get(sys.platform, "libnet.so")
BUILT_NAMES = ("net.dll", "libnet.dll", "libnet.dylib", "libnet.so")


def source_dir():
    root = os.environ.get("NET_SOURCE_DIR") or os.path.join(HERE, os.pardir, os.pardir)
    root = os.path.abspath(root)
    if not os.path.isfile(os.path.join(root, "CMakeLists.txt")):
        sys.exit("net-io-engine: %s has no CMakeLists.txt: build from a checkout of the net "
                 "repository, or set NET_SOURCE_DIR to one" % root)
    return root


def project_version():
    with open(os.path.join(source_dir(), "CMakeLists.txt"), encoding="utf-8") as f:
        m = VERSION_LINE.search(f.read())
    if not m:
        sys.exit("net-io-engine: no 'project(net VERSION x.y.z)' line in the top CMakeLists.txt")
    return m.group(1)


def run(cmd):
    print("net-io-engine: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def find_built_library(build_dir):
    """The real file (not a symlink) of the net library under build_dir."""
    for name in BUILT_NAMES:
        for path in glob.glob(os.path.join(build_dir, "**", name), recursive=True):
            return os.path.realpath(path)
    sys.exit("net-io-engine: CMake built no %s under %s" % (" / ".join(BUILT_NAMES), build_dir))


def build_library_with_cmake(copy_to):
    """Build the `net` target from the repository into a temporary directory
    and copy the library file to copy_to."""
    cmake = shutil.which("cmake")
    if not cmake:
        sys.exit("net-io-engine: cmake is needed to build the net library "
                 "(or set NET_PREBUILT_LIBRARY to a built libnet.so / net.dll)")
    with tempfile.TemporaryDirectory(prefix="net-io-engine-cmake-") as build_dir:
        run([cmake, "-S", source_dir(), "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
             "-DNET_BUILD_TESTS=OFF", "-DNET_BUILD_SAMPLES=OFF", "-DNET_BUILD_BENCH=OFF"])
        run([cmake, "--build", build_dir, "--config", "Release", "--target", "net",
             "--parallel", str(min(os.cpu_count() or 1, 4))])
        shutil.copyfile(find_built_library(build_dir), copy_to)


class BuildPyWithLibrary(build_py):
    """build_py, plus the shared library copied into the built package."""

    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "net", PACKAGED_NAME)
        prebuilt = os.environ.get("NET_PREBUILT_LIBRARY")
        if prebuilt:
            if not os.path.isfile(prebuilt):
                sys.exit("net-io-engine: NET_PREBUILT_LIBRARY=%s is not a file (from %s: give an "
                     "absolute path)" % (prebuilt, os.getcwd()))
            shutil.copyfile(os.path.realpath(prebuilt), dest)
        else:
            build_library_with_cmake(dest)
        # MIT wants its notice with every copy, the library's included.
        shutil.copyfile(os.path.join(source_dir(), "LICENSE"), os.path.join(self.build_lib, "net", "LICENSE"))

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, "net", name) for name in (PACKAGED_NAME, "LICENSE")]


class DistributionWithLibrary(Distribution):
    """Holds a native library: installed as platform-specific (platlib), and
    the wheel is not "pure"."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """A wheel for this platform (it holds a native library) but any Python 3:
    the binding uses cffi in ABI mode, so no CPython ABI is involved."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(version=project_version(), distclass=DistributionWithLibrary,
      cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
