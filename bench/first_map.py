"""The first map of a new server: how long the Space Explorer's first map of its 16 default sentences takes.

Each start is a new ``streamlit run app.py`` on a free port with a fresh EMBEDLAB_HOME (nothing
cached, no backend chosen yet), driven by headless Chromium. Two cases, each over its own starts:

* ``first_map_cold`` — the Space Explorer opened as soon as the server answers: its first visit
  draws the map at once, so it waits for whatever the model warm-up (started by that same first
  page run) has not finished;
* ``first_map_warm`` — the first visit opens the app (whose first run starts the warm-up) and goes
  on at once to another page, the server log says the warm-up is ready, then a new user's first
  map is timed: a new browser session opens the Space Explorer until its 16 points are drawn. Target: under 2 s.

The warm-up's own time (the model loaded and its backend chosen for the machine, one forward
pass, the default sentences cached, t-SNE imported) is read from the server log. Medians of 3
starts (``--quick``: 1). The starts share one ``models`` folder (the first builds the ONNX files
the backend calibration times, as an installed machine has them), so a start's warm-up is the
calibration and the load, not the builds. Each start's figures are printed as it ends.
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
    """``streamlit run app.py`` with a fresh data directory, its log kept in a file (``env``: more
    variables; ``models``: a folder of built models to share instead of an empty one)."""

    def __init__(self, env: dict | None = None, models: Path | None = None):
        self.home = Path(tempfile.mkdtemp(prefix="embedlab-first-map-"))
        if models is not None:
            models.mkdir(parents=True, exist_ok=True)
            (self.home / "models").symlink_to(models, target_is_directory=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.home / "server.log"
        env = {**os.environ, "EMBEDLAB_HOME": str(self.home), "HF_HUB_OFFLINE": "1", **(env or {})}
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

    def ready(self, timeout: float = 600) -> dict:
        """Wait for the warm-up's "ready" line; its figures."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            log = self.log.read_text(errors="replace")
            found = READY.search(log)
            if found:
                return {"backend": found[2], "warm_up_s": float(found[3]), "load_s": float(found[4])}
            if "Traceback" in log or ("warm-up: " in log and " failed" in log):
                raise RuntimeError(f"the server failed before its warm-up was ready: {log[-1500:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the model warm-up did not finish in {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def one_start(browser, warm: bool, models: Path) -> dict:
    server = Server(models=models)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        if warm:
            # A new server serves pages/*.py by their own URLs until app.py has run once, and then
            # app.py (which starts the warm-up) is skipped: the first visit goes to the app's root,
            # leaves the Space Explorer at once for another page (as conftest.open_from_sidebar does)
            page.goto(server.url)
            other = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Speed Benchmark", exact=True)
            other.wait_for(timeout=300_000)
            other.click()
            page.get_by_role("heading", name="Speed Benchmark").first.wait_for(timeout=300_000)
            if page.get_by_test_id("stException").count():
                shown = page.get_by_test_id("stException").first.inner_text()[:1500]
                raise RuntimeError(f"the first page showed an exception: {shown}")
            warm_up = server.ready()
            context.close()  # the timed map is a new user's: a new session, nothing kept from that visit
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(server.url)
        else:
            started = time.perf_counter()
            page.goto(server.url)
        page.wait_for_function(POINTS, timeout=900_000, polling=50)
        seconds = time.perf_counter() - started
        if not warm:
            warm_up = server.ready()
        result = {"seconds": seconds, "server_up_s": server.up, **warm_up}
        print(f"   {'warm' if warm else 'cold'} start: {result}", flush=True)
        return result
    finally:
        context.close()
        server.stop()


def run(quick: bool):
    from playwright.sync_api import sync_playwright

    starts = 1 if quick else 3
    figures = []
    models = Path(tempfile.mkdtemp(prefix="embedlab-first-map-models-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for warm in (False, True):
                results = [one_start(browser, warm, models) for _ in range(starts)]
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
