"""The binding and include/net.h cannot drift apart.

* net/_cdef.py is exactly what gen_cdef.py makes of the header now;
* every NET_* constant group of the header has its Python enum, member for
  member, and every struct field is known to the Pythonic layer;
* the cffi layouts equal the C compiler's (sizeof/offsetof of every public
  struct, printed by tests/csharp/layout.c, the same program the C# layout
  check compares against).
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

import net
from conftest import ROOT

HEADER = os.path.join(ROOT, "include", "net.h")
GEN = os.path.join(ROOT, "bindings", "python", "gen_cdef.py")
LAYOUT_C = os.path.join(ROOT, "tests", "csharp", "layout.c")


def _gen():
    spec = importlib.util.spec_from_file_location("gen_cdef", GEN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cdef_is_generated_from_header():
    gen = _gen()
    with open(HEADER, encoding="utf-8") as f:
        want = gen.render_module(gen.header_to_cdef(f.read()))
    path = os.path.join(ROOT, "bindings", "python", "net", "_cdef.py")
    with open(path, encoding="utf-8") as f:
        have = f.read()
    assert have == want, ("bindings/python/net/_cdef.py is out of date with include/net.h: "
                          "run python3 bindings/python/gen_cdef.py")


def test_gen_check_mode_agrees():
    r = subprocess.run([sys.executable, GEN, "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_every_header_function_is_callable():
    with open(HEADER, encoding="utf-8") as f:
        names = set(re.findall(r"NET_API\s+[^;(]*?\b(net_\w+)\s*\(", f.read()))
    assert len(names) >= 29
    for name in sorted(names):
        assert callable(getattr(net.lib, name)), name


def _header_constants(prefix):
    with open(HEADER, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
    return {m: getattr(net.lib, m) for m in re.findall(r"\b(%s\w+)\s*=" % prefix, text)}


@pytest.mark.parametrize("prefix,enum", [
    ("NET_E_", net.Error), ("NET_EV_", net.EventType), ("NET_BACKEND_", net.Backend),
    ("NET_FRAMING_", net.Framing), ("NET_TCP_", net.TcpFlag), ("NET_UDP_", net.UdpFlag),
    ("NET_OPT_", net.Option), ("NET_AF_", net.Family)])
def test_python_enums_match_header(prefix, enum):
    consts = _header_constants(prefix)
    assert consts, prefix
    want = {k[len(prefix):]: v for k, v in consts.items()}
    have = {m.name: int(m.value) for m in enum if not (enum is net.Error and m.name == "OK")}
    assert have == want


def test_every_error_code_has_an_exception_class():
    for code in net.Error:
        if code == 0:
            continue
        e = net.error_for(code, "ctx", 7)
        assert type(e) is not net.NetError, code
        assert isinstance(e, net.NetError)
        assert e.code == code and e.os_error == 7
        assert e.message == net.strerror(code)
        assert net.strerror(code) in str(e) and "ctx" in str(e)


def test_records_cover_struct_fields():
    stats = [n for n, _ in net.ffi.typeof("net_stats").fields if n != "size" and not n.endswith("_")]
    assert list(net.Stats._fields) == stats
    ev = [n for n, _ in net.ffi.typeof("net_event").fields if not n.endswith("_")]
    assert ev == ["type", "status", "handle", "parent", "user", "data", "len", "os_error", "addr"]
    assert list(net.Event._fields) == ev


def test_udp_max_payload_constant():
    assert net.UDP_MAX_PAYLOAD == net.lib.NET_UDP_MAX_PAYLOAD == 65507


def test_event_is_72_bytes():
    assert net.ffi.sizeof("net_event") == 72


def _c_layout(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to print the C layout")
    exe = str(tmp_path / "layout")
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), LAYOUT_C, "-o", exe],
                   check=True)
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        name, value = line.split()
        rows[name] = int(value)
    return rows


def test_cffi_layout_matches_c_compiler(tmp_path):
    c = _c_layout(tmp_path)
    consts = {k[len("const."):]: v for k, v in c.items() if k.startswith("const.")}
    c = {k: v for k, v in c.items() if not k.startswith("const.")}
    text = re.sub(r"/\*.*?\*/", " ", open(HEADER).read(), flags=re.S)
    structs = sorted(set(re.findall(r"typedef struct (net_\w+)", text)))
    seen = set()
    for s in structs:
        assert c.pop(s + ".sizeof") == net.ffi.sizeof(s), s
        for field, _ in net.ffi.typeof(s).fields:
            if s == "net_event" and field == "data":
                continue  # the union's pointer member: layout.c prints data_bits_
            assert c.pop("%s.%s" % (s, field)) == net.ffi.offsetof(s, field), (s, field)
        seen.add(s)
    assert not c, "layout.c prints members the cdef lacks: %r" % c
    assert seen == set(structs)
    # Constants: layout.c prints every one the header defines, cffi agrees.
    header_consts = set(re.findall(r"\b(NET_\w+)\s*=", text))
    header_consts |= {"NET_VERSION_MAJOR", "NET_VERSION_MINOR", "NET_VERSION_PATCH"}
    assert set(consts) == header_consts
    for name, value in consts.items():
        assert getattr(net.lib, name) == value, name


def test_csharp_declares_every_function():
    """bindings/csharp/Net.cs has a DllImport for each function of net.h
    (tests/csharp's csharp.layout checks that each one resolves)."""
    with open(HEADER, encoding="utf-8") as f:
        header = set(re.findall(r"NET_API\s+[^;(]*?\b(net_\w+)\s*\(", f.read()))
    with open(os.path.join(ROOT, "bindings", "csharp", "Net.cs"), encoding="utf-8") as f:
        cs = set(re.findall(r"static\s+extern\s+[^;(]*?\b(net_\w+)\s*\(", f.read()))
    assert cs == header, {"missing in Net.cs": header - cs, "not in net.h": cs - header}
