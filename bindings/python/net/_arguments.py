"""Naming the bad argument of a call.

Every public call's annotations say what each argument takes. When a call
meets a value of the wrong Python type (cffi's own TypeError, "an integer is
required", names neither the call nor the argument), :func:`argument_error`
reads the annotations again and builds the TypeError a user can act on:
``"send: data must be bytes-like (bytes, bytearray, memoryview), not str"``.

It runs only after something refused a value (off the fast path of send,
sendto and poll) or, for calls that are not hot, before the call
(:func:`check_arguments`).
"""

from __future__ import annotations

import collections.abc
import operator
import typing
from typing import Any, Callable, Dict, Optional

_NoneType = type(None)
_BUFFER_TYPES = (bytes, bytearray, memoryview)
_hints_cache: Dict[Callable[..., Any], Dict[str, Any]] = {}


def _hints(func: Callable[..., Any]) -> Dict[str, Any]:
    hints = _hints_cache.get(func)
    if hints is None:
        hints = typing.get_type_hints(func)
        hints.pop("return", None)
        _hints_cache[func] = hints
    return hints


def _is_buffer_union(args: tuple) -> bool:
    return bool(args) and all(a in _BUFFER_TYPES for a in args)


def _describe(tp: Any) -> str:
    """What a value of annotation ``tp`` is, in words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _BUFFER_TYPES or (origin is typing.Union and _is_buffer_union(args)):
        return "bytes-like (bytes, bytearray, memoryview)"
    if origin is typing.Union:
        parts = [a for a in args if a is not _NoneType]
        text = " or ".join(_describe(a) for a in parts)
        return text + " or None" if len(parts) < len(args) else text
    if origin is tuple:
        return "a (host, port) tuple" if args == (str, int) else "a tuple"
    if origin in (list, collections.abc.Sequence):
        if not args:
            return "a sequence"
        item = _describe(args[0])
        return "a sequence of " + (item.split(" ", 1)[1] + "s" if item in ("an int", "a str")
                                   else item)
    if tp is int:
        return "an int"
    if tp is str:
        return "a str"
    if isinstance(tp, type):
        return "a " + (tp.__module__.split(".")[0] + "." if tp.__module__.startswith("net")
                       else "") + tp.__name__
    return str(tp)


def _is_int(value: Any) -> bool:
    if isinstance(value, int):
        return True
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _is_buffer(value: Any) -> bool:
    if isinstance(value, str):
        return False
    try:
        memoryview(value).release()
    except TypeError:
        return False
    return True


def _bad_part(tp: Any, value: Any, name: str) -> Optional[tuple]:
    """None if ``value`` fits ``tp``, else (name of the bad part, its type, value)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is bool or tp is object:
        return None
    if tp in _BUFFER_TYPES or (origin is typing.Union and _is_buffer_union(args)):
        return None if _is_buffer(value) else (name, tp, value)
    if origin is typing.Union:
        if value is None:
            return None if _NoneType in args else (name, tp, value)
        for a in args:
            if a is not _NoneType and _bad_part(a, value, name) is None:
                return None
        return name, tp, value
    if origin is tuple:
        if not isinstance(value, tuple) or (args and len(value) != len(args)):
            return name, tp, value
        return None if all(_bad_part(a, v, name) is None for a, v in zip(args, value)) \
            else (name, tp, value)
    if origin in (list, collections.abc.Sequence):
        if isinstance(value, (str, bytes, bytearray, memoryview)) or not hasattr(value, "__len__") \
                or not hasattr(value, "__getitem__"):
            return name, tp, value
        for i, v in enumerate(value):
            bad = _bad_part(args[0], v, "%s[%d]" % (name, i)) if args else None
            if bad is not None:
                return bad
        return None
    if tp is int:
        return None if _is_int(value) else (name, tp, value)
    if isinstance(tp, type):
        return None if isinstance(value, tp) else (name, tp, value)
    return None


def argument_error(func: Callable[..., Any], values: Dict[str, Any],
                   name: Optional[str] = None) -> Optional[TypeError]:
    """The TypeError naming the first of ``values`` (argument name -> value)
    that does not fit ``func``'s annotation, or None if they all fit.
    Keyword arguments collected by ``**config: int`` are checked one by one."""
    hints = _hints(func)
    what = name or func.__qualname__
    for arg, value in values.items():
        tp = hints.get(arg)
        if tp is None:
            continue
        bad = _bad_part(tp, value, arg)
        if bad is not None:
            part, part_tp, part_value = bad
            return TypeError("%s: %s must be %s, not %s" % (
                what, part, _describe(part_tp), type(part_value).__name__))
    return None


def check_arguments(func: Callable[..., Any], values: Dict[str, Any],
                    name: Optional[str] = None) -> None:
    """Raise :func:`argument_error`'s TypeError if there is one."""
    err = argument_error(func, values, name)
    if err is not None:
        raise err


def retyped(exc: TypeError, func: Callable[..., Any], values: Dict[str, Any],
            name: Optional[str] = None) -> TypeError:
    """After ``exc`` was raised inside ``func``: the TypeError naming the bad
    argument, or ``exc`` itself when every argument fits (a bug elsewhere)."""
    return argument_error(func, values, name) or exc
