"""The README's library example runs as written."""

import contextlib
import io
import re

from conftest import ROOT


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no python example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], "README.md", "exec"), {})
    printed = out.getvalue()
    assert "all-MiniLM-L6-v2 384 True" in printed
    assert "[0 1 2] (0, 1, 2)" in printed
