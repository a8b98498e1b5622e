"""Loading the shared library: cffi in ABI mode, no compiler involved.

The library is looked for, in this order, always by full path:

1. ``NET_LIBRARY``: a path to the library file (or to a directory holding
   it). When set, it is the only place tried: an explicit choice that does
   not load is an error, never a silent fall-back to another copy.
2. Inside this package: ``libnet.so`` (Linux), ``libnet.dylib`` (macOS),
   ``net.dll`` (Windows) in the ``net`` package directory, where the wheel
   (``pip install ./bindings/python``) puts the library it built.

Never the system loader's search path: Debian's libnet1-dev ships an
unrelated packet-injection ``libnet.so``, and a bare name could load it (or
another copy of this library than the one the package was built with).
Whatever is loaded must export the net engine's symbols, and its version must
be this binding's major version and at least its minor version. On failure
:class:`LibraryNotFoundError` lists every place tried and why it failed.
"""

import os
import sys

from cffi import FFI

from ._cdef import CDEF

__all__ = ["ffi", "lib", "library_path", "LibraryNotFoundError", "load_library"]


class LibraryNotFoundError(ImportError):
    """The net shared library could not be found or is not usable."""


ffi = FFI()
ffi.cdef(CDEF)


def _file_names():
    if sys.platform == "win32":
        return ["net.dll", "libnet.dll"]
    if sys.platform == "darwin":
        return ["libnet.dylib", "libnet.0.dylib"]
    return ["libnet.so", "libnet.so.0"]


def _candidates():
    """Yield (where, what_to_dlopen) in lookup order."""
    env = os.environ.get("NET_LIBRARY")
    if env:
        env = os.path.abspath(env)
        if os.path.isdir(env):
            for name in _file_names():
                yield "NET_LIBRARY", os.path.join(env, name)
        else:
            yield "NET_LIBRARY", env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _file_names():
        yield "inside the package", os.path.join(here, name)


def _check(candidate_lib):
    """Raise OSError if candidate_lib is not a compatible net library."""
    for sym in ("net_version", "net_engine_create", "net_poll", "net_timer_start", "net_events_pack",
                "net_addr_host", "net_send_batch", "net_forward_data"):
        try:
            getattr(candidate_lib, sym)
        except AttributeError:
            raise OSError("does not export %s: not the net engine library" % sym) from None
    v = candidate_lib.net_version()
    major, minor = v >> 16, (v >> 8) & 0xFF
    want_major = candidate_lib.NET_VERSION_MAJOR
    want_minor = candidate_lib.NET_VERSION_MINOR
    if major != want_major or minor < want_minor:
        raise OSError("version %d.%d.%d, binding needs %d.%d or a later %d.x"
                      % (major, minor, v & 0xFF, want_major, want_minor, want_major))


def load_library():
    """Load and return (cffi lib, path or name it was loaded from)."""
    tried = []
    for where, what in _candidates():
        if not os.path.exists(what):
            tried.append("  %s: %s (no such file)" % (where, what))
            continue
        try:
            candidate = ffi.dlopen(what)
        except OSError as e:
            tried.append("  %s: %s (%s)" % (where, what, e))
            continue
        try:
            _check(candidate)
        except OSError as e:
            tried.append("  %s: %s (%s)" % (where, what, e))
            try:
                ffi.dlclose(candidate)
            except Exception:  # pragma: no cover - best effort
                pass
            continue
        return candidate, what
    raise LibraryNotFoundError(
        "cannot load the net library; looked in:\n" + "\n".join(tried)
        + "\nInstall the package with pip (pip install ./bindings/python builds the library"
        " into it), or set NET_LIBRARY to the path of libnet.so / net.dll.")


lib, library_path = load_library()
