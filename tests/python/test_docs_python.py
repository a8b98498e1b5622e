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


def test_the_example_runs(tmp_path):
    examples = EXAMPLE.findall(_doc())
    assert [name for name, _ in examples] == ["echo.py"]
    script = tmp_path / "echo.py"
    script.write_text(examples[0][1])
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
               NET_LIBRARY=os.path.abspath(net.library_path))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"server: accepted 127\.0\.0\.1:\d+", lines[0]), r.stdout
    assert lines[1] == "client: got [b'one', b'two', b'three']"


def test_the_reference_names_every_public_name():
    doc = _doc()
    missing = [name for name in net.__all__ if name != "__version__"
               and not re.search(r"\b%s\b" % re.escape(name), doc)
               and not name.startswith("EV_")]  # the EventType members, listed as a group
    assert missing == []
    for method in ("close", "destroy", "poll", "wakeup", "post", "stats", "listen", "connect",
                   "udp_open", "timer"):
        assert "`%s(" % method in doc, method
