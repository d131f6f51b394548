"""The public API exists, imports fast, and the core never imports streamlit."""

import subprocess
import sys

import embedlab


def test_every_public_name_exists():
    for name in embedlab.__all__:
        assert getattr(embedlab, name) is not None, name
    assert embedlab.DEFAULT_MODEL == "all-MiniLM-L6-v2"


def test_core_imports_neither_streamlit_nor_torch():
    code = (
        "import sys, pkgutil, importlib, embedlab\n"
        "for m in pkgutil.walk_packages(embedlab.__path__, 'embedlab.'):\n"
        "    if m.name != 'embedlab.__main__': importlib.import_module(m.name)\n"
        "print('streamlit' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
