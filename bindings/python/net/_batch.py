"""Sends in batches: many messages through one ``net_send_batch`` call.

A cffi call costs more than the ``net_send`` it makes, and a Python
function call around it as much again: a server that answers many small
messages per poll pays that per message. :func:`send_many` sends a whole
list with one call; :meth:`Engine.queue_send` collects sends that
:meth:`Engine.flush` (or the next :meth:`Engine.poll`) hands to it.

The C layout (net.h, "batched sends") is three flat arrays and one payload
buffer: ``array('Q')`` of handles, ``array('I')`` of lengths, the payloads
joined into one ``bytes`` with no offsets (they follow one another). All of
that is built by C loops (``array``, ``map``, ``bytes.join``): the Python
cost per message is a list append or two.

Every failed item is reported, never dropped: :func:`send_many` and
:meth:`Engine.flush` return one :class:`SendFailure` per failed item, and a
flush inside :meth:`Engine.poll` that had failures raises
:class:`SendQueueError` carrying them, before polling (no event is lost).
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from typing import Any, List, NamedTuple, Sequence, Tuple

from ._arguments import argument_error
from ._core import (BytesLike, Error, InvalidArgumentError, NetError, _MessageSizeRange, _U64_END,
                    _fail, error_for)
from ._ffi import ffi, lib

_send_batch = lib.net_send_batch
_from_buffer = ffi.from_buffer
_NULL = ffi.NULL
_U32_MAX = 0xFFFFFFFF


class SendFailure(NamedTuple):
    """One item of a batch that was not queued: its connection, its payload
    (as sent: a ``bytes`` copy for a queued non-bytes payload) and the
    error, an instance of the :class:`NetError` subclass ``send`` would
    have raised (not raised)."""
    conn: int
    data: BytesLike
    error: NetError


class SendQueueError(NetError):
    """Raised by :meth:`Engine.poll` when flushing the sends queued with
    :meth:`Engine.queue_send` left some unsent. ``failures`` lists them
    (:class:`SendFailure`); every other queued send was queued, and the
    queue is empty. The poll itself did not happen: poll again."""

    failures: List[SendFailure]

    def __init__(self, failures: List[SendFailure]) -> None:
        first = failures[0].error
        more = " (and %d more)" % (len(failures) - 1) if len(failures) > 1 else ""
        super().__init__(first.code, "queued send to %#x failed%s" % (failures[0].conn, more))
        self.failures = failures

    def __reduce__(self):  # keep pickling (multiprocessing) working
        return (SendQueueError, (self.failures,))


def _handles(conns: Sequence[Any], what: str) -> Any:
    """conns as array('Q') (as it is when it is one: Engine.poll_columns'
    handles). An int that is no 64-bit value becomes 0, which no handle
    is: its item fails with BADHANDLE like any other non-handle."""
    if type(conns) is array and conns.typecode == "Q":
        return conns
    try:
        return array("Q", conns)
    except OverflowError:
        return array("Q", [c if not isinstance(c, int) or 0 <= c < _U64_END else 0 for c in conns])
    except TypeError:
        for i, c in enumerate(conns):
            if isinstance(c, bool) or not isinstance(c, int):
                raise TypeError("%s: conns[%d] must be an int, not %s" % (what, i, type(c).__name__)) from None
        raise


def _lengths(datas: Sequence[BytesLike], payload: bytes) -> Any:
    """The byte length of each of datas as array('I') (join counts bytes;
    len() of a memoryview of another format counts items)."""
    try:
        lens = array("I", map(len, datas))
        if sum(lens) == len(payload):
            return lens
        return array("I", (memoryview(d).nbytes for d in datas))
    except OverflowError:
        for i, d in enumerate(datas):
            if memoryview(d).nbytes > _U32_MAX:
                raise _MessageSizeRange(Error.MSGSIZE, "send_many: datas[%d] over 4 GiB" % i) from None
        raise


def _joined(datas: Sequence[BytesLike]) -> bytes:
    try:
        return b"".join(datas)
    except TypeError:
        for i, d in enumerate(datas):
            if not _is_buffer(d):
                raise TypeError("send_many: datas[%d] must be bytes-like (bytes, bytearray, memoryview), "
                                "not %s" % (i, type(d).__name__)) from None
        raise


def _is_buffer(value: Any) -> bool:
    try:
        memoryview(value).release()
    except TypeError:
        return False
    return True


def _send_all(handles, lens, payload, n: int, what: str):
    """One ``net_send_batch`` over n payloads one after another in
    ``payload``: None when every item was queued, else the per-item
    results (0 or a NET_E_* code)."""
    results = array("i", [0]) * n
    rc = _send_batch(_from_buffer("net_handle[]", handles), _NULL, _from_buffer("uint32_t[]", lens), n,
                     payload, len(payload), _from_buffer("int[]", results))
    if rc == n:
        return None
    if rc < 0:  # pragma: no cover - arguments built above are always whole
        _fail(rc, what)
    return results


def send_many(conns: Sequence[int], datas: Sequence[BytesLike]) -> List[SendFailure]:
    """Send ``datas[i]`` to ``conns[i]`` for every i, in order, with one
    call into the library (``net_send_batch``): each exactly as
    :func:`send` sends it (copied, returns at once), and several to one
    connection arrive in order.

    Returns the items that failed as :class:`SendFailure` records (an
    empty list when all were queued): one failing item stops nothing.
    Raises only for arguments that are wrong as a whole (``conns`` and
    ``datas`` of different lengths, an item of the wrong type).
    """
    try:
        n = len(conns)
        m = len(datas)
    except TypeError as e:
        raise argument_error(send_many, {"conns": conns, "datas": datas}) or e from None
    if m != n:
        err = argument_error(send_many, {"conns": conns, "datas": datas})
        if err is not None:
            raise err
        raise InvalidArgumentError(Error.INVAL, "send_many: conns has %d items, datas %d: one payload per "
                                   "connection" % (n, len(datas)))
    if not n:
        return []
    handles = _handles(conns, "send_many")
    payload = _joined(datas)
    lens = _lengths(datas, payload)
    results = _send_all(handles, lens, payload, n, "send_many")
    if results is None:
        return []
    return [SendFailure(conns[i], datas[i], error_for(r, "send"))
            for i, r in enumerate(results) if r]


def send_packed(conns: Sequence[int], lens: Sequence[int], payload: BytesLike) -> List[SendFailure]:
    """Send ``payload`` cut in consecutive pieces, ``lens[i]`` bytes to
    ``conns[i]``, in order, with one call (``net_send_batch`` with the
    payloads one after another): :func:`send_many` without a payload object
    per message. ``Engine.poll_columns``' ``handles, lens, payload`` go in
    as they are (an echo of the whole batch).

    Returns the pieces that failed as :class:`SendFailure` (``data``: that
    piece), ``[]`` when all were queued; a piece past the end of
    ``payload`` fails with ``InvalidArgumentError``. Raises for arguments
    wrong as a whole (a type, ``conns`` and ``lens`` of different lengths).
    """
    try:
        n = len(conns)
        m = len(lens)
        buf = payload if type(payload) is bytes else _from_buffer(payload)
        lens_c = lens if type(lens) is array and lens.typecode == "I" else array("I", lens)
    except (TypeError, OverflowError) as e:
        err = argument_error(send_packed, {"conns": conns, "lens": lens, "payload": payload})
        if err is not None:
            raise err from None
        if isinstance(e, OverflowError):
            raise _MessageSizeRange(Error.MSGSIZE, "send_packed: a length outside 0..2**32-1") from None
        raise
    handles = _handles(conns, "send_packed")
    if m != n:
        raise InvalidArgumentError(Error.INVAL, "send_packed: conns has %d items, lens %d: one length per "
                                   "connection" % (n, m))
    if not n:
        return []
    results = _send_all(handles, lens_c, buf, n, "send_packed")
    if results is None:
        return []
    whole = memoryview(payload).cast("B") if type(payload) is not bytes else payload
    ends = list(accumulate(lens_c))
    return [SendFailure(conns[i], bytes(whole[ends[i] - lens_c[i]:ends[i]]), error_for(r, "send"))
            for i, r in enumerate(results) if r]


def queueable(conn: Any, data: Any) -> Tuple[int, bytes]:
    """What Engine.queue_send keeps of (conn, data): the handle, checked to
    be an int, and the payload as bytes: a copy when it is not bytes, since
    a bytearray may change and a payload view is released at the next poll
    while the send waits in the queue."""
    if isinstance(conn, bool) or not isinstance(conn, int):
        raise TypeError("Engine.queue_send: conn must be an int, not %s" % type(conn).__name__)
    if type(data) is not bytes:
        if not _is_buffer(data):
            raise TypeError("Engine.queue_send: data must be bytes-like (bytes, bytearray, memoryview), "
                            "not %s" % type(data).__name__)
        data = memoryview(data).tobytes()
    if len(data) > _U32_MAX:
        raise _MessageSizeRange(Error.MSGSIZE, "Engine.queue_send: message over 4 GiB")
    # An int that is no handle (negative, beyond 64 bits) is queued like any
    # other: its send fails with BADHANDLE at the flush, as in send_many.
    return int(conn), data
