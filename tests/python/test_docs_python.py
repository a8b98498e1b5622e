"""docs/api-python.md: its complete example (between the marked fences)
runs and does what it says; the reference names every public name."""

import os
import re
import subprocess
import sys

import net
from conftest import ROOT

DOC = os.path.join(ROOT, "docs", "api-python.md")
EXAMPLE = re.compile(r"<!-- example: (\S+) -->\n```python\n(.*?)```\n<!-- end example -->", re.S)


def _doc():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def _run_example(tmp_path, index, name):
    examples = EXAMPLE.findall(_doc())
    assert [n for n, _ in examples] == ["echo.py", "aio_echo.py"]
    assert examples[index][0] == name
    script = tmp_path / name
    script.write_text(examples[index][1])
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
               NET_LIBRARY=os.path.abspath(net.library_path))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_the_example_runs(tmp_path):
    lines = _run_example(tmp_path, 0, "echo.py")
    assert re.fullmatch(r"server: accepted 127\.0\.0\.1:\d+", lines[0]), lines
    assert lines[1] == "client: got [b'one', b'two', b'three']"


def test_the_asyncio_example_runs(tmp_path):
    lines = _run_example(tmp_path, 1, "aio_echo.py")
    assert lines == ["client: got [b'one', b'two', b'three', 'timeout'] closed in order: True"]


def test_the_reference_names_every_public_name():
    doc = _doc()
    missing = [name for name in net.__all__ if name != "__version__"
               and not re.search(r"\b%s\b" % re.escape(name), doc)
               and not name.startswith("EV_")]  # the EventType members, listed as a group
    assert missing == []
    for method in ("close", "destroy", "poll", "wakeup", "post", "stats", "listen", "connect",
                   "udp_open", "timer"):
        assert "`%s(" % method in doc, method


def test_the_reference_names_net_aio():
    import net.aio
    doc = _doc()
    for name in net.aio.__all__:
        assert re.search(r"\b%s\b" % name, doc), name
    for member in ("connect(", "listen(", "udp_open(", "events()", "recv()", "send(", "drain()",
                   "close()", "abort()", "wait_closed()", "accept()", "serve_forever()",
                   "recvfrom()", "sendto(", "close_status", "close_error"):
        assert member in doc, member
