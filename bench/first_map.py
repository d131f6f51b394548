"""The first map of a new server: how long the Space Explorer's first map of its 16 default sentences takes.

Each start is a new ``streamlit run app.py`` on a free port with a fresh EMBEDLAB_HOME (nothing
cached, no backend chosen yet), driven by headless Chromium. Two cases, each over its own starts:

* ``first_map_cold`` — the Space Explorer opened as soon as the server answers: its first visit
  draws the map at once, so it waits for whatever the model warm-up (started by that same first
  page run) has not finished;
* ``first_map_warm`` — the first visit goes to another page (which starts the warm-up, as any first
  page does), the server log says the warm-up is ready, then the Space Explorer's first map is
  timed from the click on its link. Target: under 2 s.

The warm-up's own time (the model loaded and its backend chosen for the machine, one forward
pass, the default sentences cached, t-SNE imported) is read from the server log. Medians of 3
starts (``--quick``: 1).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, Samples, figure, main

sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, free_port

READY = re.compile(r"embedlab warm-up: (\S+) ready \((\S*)\) in ([\d.]+) s: loaded in ([\d.]+) s")
POINTS = """() => { const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                   return p && p.querySelectorAll('.scatterlayer .point').length === 16; }"""


class Server:
    """``streamlit run app.py`` with a fresh data directory, its log kept in a file."""

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="embedlab-first-map-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.home / "server.log"
        env = {**os.environ, "EMBEDLAB_HOME": str(self.home), "HF_HUB_OFFLINE": "1"}
        env.pop("EMBEDLAB_WARMUP", None)  # the warm-up as a real server runs it
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true"]
        command += ["--server.address", "127.0.0.1", "--server.port", str(self.port)]
        command += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as reply:
                    if reply.read() == b"ok":
                        self.up = time.perf_counter() - self.started
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url}; see {self.log}")

    def ready(self, timeout: float = 900) -> dict:
        """Wait for the warm-up's "ready" line; its figures."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = READY.search(self.log.read_text(errors="replace"))
            if found:
                return {"backend": found[2], "warm_up_s": float(found[3]), "load_s": float(found[4])}
            time.sleep(0.2)
        raise RuntimeError(f"the model warm-up did not finish in {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def one_start(browser, warm: bool) -> dict:
    server = Server()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        if warm:
            page.goto(server.url + "/speed_benchmark")
            page.get_by_role("heading", name="Speed Benchmark").first.wait_for(timeout=300_000)
            warm_up = server.ready()
            link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Space Explorer", exact=True)
            started = time.perf_counter()
            link.click()
        else:
            started = time.perf_counter()
            page.goto(server.url)
        page.wait_for_function(POINTS, timeout=900_000, polling=50)
        seconds = time.perf_counter() - started
        if not warm:
            warm_up = server.ready()
        return {"seconds": seconds, "server_up_s": server.up, **warm_up}
    finally:
        context.close()
        server.stop()


def run(quick: bool):
    from playwright.sync_api import sync_playwright

    starts = 1 if quick else 3
    figures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for warm in (False, True):
                results = [one_start(browser, warm) for _ in range(starts)]
                seconds = Samples([r["seconds"] for r in results])
                extra = {
                    "server_up_s": [round(r["server_up_s"], 2) for r in results],
                    "warm_up_s": [round(r["warm_up_s"], 2) for r in results],
                    "model_load_s": [round(r["load_s"], 2) for r in results],
                    "backend": sorted({r["backend"] for r in results}),
                }
                if warm:
                    figures.append(
                        figure(
                            "first_map_warm",
                            "First map of a new server after its warm-up (16 default sentences, click to map)",
                            seconds,
                            target="< 2 s",
                            met=seconds.median < 2.0,
                            **extra,
                        )
                    )
                else:
                    figures.append(
                        figure(
                            "first_map_cold",
                            "First map of a new server, Space Explorer opened as soon as it answers (16 sentences)",
                            seconds,
                            target="(measured: waits for the warm-up that page's run starts)",
                            met=None,
                            **extra,
                        )
                    )
        finally:
            browser.close()
    return figures


if __name__ == "__main__":
    main(run)
