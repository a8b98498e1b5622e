#!/usr/bin/env python3
"""gen_cdef.py - turn include/net.h into the cffi cdef of the Python binding.

    gen_cdef.py [--header include/net.h] [--output net/_cdef.py] [--check]

The binding never carries a hand-written copy of the C declarations: it
loads net/_cdef.py, which this script writes from the header. With --check
nothing is written; the script exits 1 if net/_cdef.py differs from what the
header gives now (tests/python/test_cdef.py runs the same comparison), so the
header and the binding cannot drift apart unnoticed.

What the transformation does, and nothing more:
  * strips comments;
  * keeps the body of the include guard, drops every other conditional block
    (the NET_API export macros, the extern "C" wrapper);
  * keeps "#define NAME <integer expression>" lines, evaluating expressions
    over earlier integer macros (cffi accepts only literals in #define);
  * removes NET_API and collapses blank lines.
The declarations themselves (typedefs, enums, structs, prototypes) pass
through token for token, so a change in the header is a change in the cdef.
"""

import argparse
import ast
import operator
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_HEADER = os.path.normpath(os.path.join(HERE, "..", "..", "include", "net.h"))
DEFAULT_OUTPUT = os.path.join(HERE, "net", "_cdef.py")

_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_DEFINE_RE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+(.+?)\s*$")
_DIRECTIVE_RE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")
_INT_LITERAL_RE = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b")

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift,
    ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
}
_UNOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}


def _eval_int(expr, known):
    """Evaluate a C integer constant expression over known macros, or None."""
    text = _INT_LITERAL_RE.sub(lambda m: str(int(m.group(1), 0)), expr).replace("/", "//")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and node.id in known:
            return known[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
            return _UNOPS[type(node.op)](ev(node.operand))
        raise ValueError(ast.dump(node))

    try:
        return ev(tree)
    except (ValueError, KeyError, ZeroDivisionError):
        return None


def header_to_cdef(text):
    """Return the cdef source (str) for the text of net.h."""
    text = _COMMENT_RE.sub(" ", text)
    out = []
    known = {}
    # Conditional stack: True = keep this block's lines.
    stack = []
    guard = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        # Join continued lines (none in net.h today, but cheap to support).
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        m = _DIRECTIVE_RE.match(line)
        if not m:
            if all(stack):
                out.append(line.rstrip())
            continue
        word, rest = m.group(1), m.group(2)
        if word in ("if", "ifdef", "ifndef"):
            # The first #ifndef X followed by #define X is the include guard.
            if guard is None and word == "ifndef" and not stack:
                guard = rest
                stack.append(True)
            else:
                stack.append(False)
        elif word in ("elif", "else"):
            if stack and stack[-1] is True and len(stack) == 1:
                raise ValueError("#else on the include guard")
            # Everything conditional other than the guard is dropped.
        elif word == "endif":
            if not stack:
                raise ValueError("unbalanced #endif")
            stack.pop()
        elif word == "define":
            if not all(stack):
                continue
            d = _DEFINE_RE.match(line)
            if not d:
                continue  # "#define NET_H" (the guard) or a function-like macro
            name, value = d.group(1), d.group(2)
            if "(" in name:
                continue
            v = _eval_int(value, known)
            if v is None:
                continue  # not an integer constant: no place in a cdef
            known[name] = v
            out.append("#define %s %d" % (name, v))
        # include, error, pragma, undef: nothing for cffi
    if stack:
        raise ValueError("unbalanced #if")

    src = "\n".join(out)
    src = re.sub(r"\bNET_API\b\s*", "", src)
    src = re.sub(r"[ \t]+\n", "\n", src)
    src = re.sub(r"\n{3,}", "\n\n", src).strip() + "\n"
    return src


def render_module(cdef):
    return (
        '"""The cffi declarations of include/net.h (generated: do not edit).\n\n'
        "Written by bindings/python/gen_cdef.py from include/net.h;\n"
        "tests/python/test_cdef.py fails when the two differ.\n"
        '"""\n\n'
        "CDEF = r'''\n" + cdef + "'''\n"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--header", default=DEFAULT_HEADER)
    ap.add_argument("--output", default=DEFAULT_OUTPUT)
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = ap.parse_args(argv)
    with open(args.header, encoding="utf-8") as f:
        module = render_module(header_to_cdef(f.read()))
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != module:
            print("%s is out of date with %s: run %s" % (args.output, args.header, sys.argv[0]),
                  file=sys.stderr)
            return 1
        return 0
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write(module)
    return 0


if __name__ == "__main__":
    sys.exit(main())
