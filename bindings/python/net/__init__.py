"""net: Python binding of the net networking engine (cffi, ABI mode).

The shared library is loaded at import, by full path (see :mod:`net._ffi`):
``NET_LIBRARY`` when set, else the library the wheel put inside this package.
Installing and the whole API: docs/api-python.md.

The Pythonic layer:

* :class:`Engine` (a context manager; :meth:`Engine.close` ends it, ``destroy``
  is the same call) creates listeners, connections and timers, and
  :meth:`Engine.poll` returns a list of :class:`Event` records.
* Handles are plain ``int`` values; :func:`send`, :func:`close`,
  :func:`abort`, :func:`shutdown`, options and addresses take a handle (and
  are also methods of :class:`Engine`).
* A ``DATA`` event's ``data`` is ``bytes``, or with ``Engine(views=True)``
  a read-only ``memoryview`` released at the next ``poll`` on that engine
  (slices and other objects derived from it keep their bytes).
* Failures raise :class:`NetError` subclasses carrying ``code`` (``NET_E*``),
  ``message`` and ``os_error``.

The flat C API stays reachable as :data:`ffi` and :data:`lib` (cffi objects,
declarations generated from include/net.h).
"""

from ._ffi import LibraryNotFoundError, ffi, lib, library_path
from ._core import *  # noqa: F401,F403
from ._core import __all__ as _core_all

# The loaded library's own version (net_version_string): what runs. A wheel
# carries the library it was built with, so this is also the distribution's
# version (tests/python/test_packaging.py checks that they agree).
__version__ = version_string()

__all__ = ["ffi", "lib", "library_path", "LibraryNotFoundError", "__version__"] + list(_core_all)
