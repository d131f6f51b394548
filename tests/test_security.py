"""What the server exposes and what the code refuses to do."""

import re
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest
from conftest import ROOT, free_port

SOURCES = [p for folder in ("embedlab", "pages", "ui") for p in (ROOT / folder).rglob("*.py")] + [ROOT / "app.py"]


def test_server_binds_to_loopback_by_default():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        listening = [
            c.laddr
            for c in psutil.Process(process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        assert listening and {address.ip for address in listening} == {"127.0.0.1"}
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(
    "pattern",
    [r"\bpickle\b", r"\bjoblib\b", r"torch\.load\(", r"trust_remote_code\s*=\s*True", r"unsafe_allow_html\s*=\s*True"],
)
def test_no_unsafe_loading_or_html(pattern):
    offenders = [str(p.relative_to(ROOT)) for p in SOURCES if re.search(pattern, p.read_text())]
    assert offenders == []


def test_usage_statistics_are_off():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert re.search(r"gatherUsageStats\s*=\s*false", config)
    assert re.search(r'address\s*=\s*"127\.0\.0\.1"', config)
