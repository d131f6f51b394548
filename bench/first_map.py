"""The first map of a new server: how long the Space Explorer's first map of its 16 default sentences takes.

Each start is a new ``streamlit run server.py`` (what ``make run`` runs) on a free port with a
fresh EMBEDLAB_HOME (no embedding cached, no backend chosen yet), driven by headless Chromium.
server.py starts the warm-up with the server (the default model loaded and its backend chosen
for the machine, one forward pass, the default sentences cached, t-SNE imported; then UMAP's
compilation), before any browser asks. The timed span is a browser's navigation to the app's root
until the map's 16 points are drawn, so it holds the browser's own work too: Streamlit's
front end starting and the plotly bundle (4.7 MB) loading the first time a chart is shown.

* ``first_map_cold`` — the app opened as soon as the server answers: it waits for the warm-up.
* ``first_map_warm`` — opened once the log says the model is ready ("once the server is up"),
  by a browser that has never opened embedlab (nothing in its cache); UMAP's compilation is
  still running in the background then, on one of the two cores. Target: under 2 s.
* ``first_map_settled`` — the same once UMAP's compilation has finished too.
* ``first_map_returning`` — a browser that opened embedlab before (its cache holds Streamlit's
  and plotly's scripts) opens a new server on the same address, once that server has settled:
  ``make run`` again, the browser's tab reloaded.

Reported with each: ``frontend_s``, the time until Streamlit's sidebar is drawn (the front end
up, before the page's script has sent its elements); ``plotly_s``, when the plotly bundle had
arrived (from the server, or from the browser's cache for a returning browser); the warm-up's own times from the log. And
``first_click_*``: on that same page, the first "Draw map" — one sentence added to the 16, then
the click, timed until the 17 points are drawn (the front end and plotly already loaded).
Medians of 3 starts (``--quick``: 1). The starts share one ``models`` folder (the first builds the
ONNX files the backend calibration times, as an installed machine has them).
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
COMPILED = re.compile(r"embedlab warm-up: UMAP compiled in ([\d.]+) s")
POINTS = """() => { const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                   return p && p.querySelectorAll('.scatterlayer .point').length === 16; }"""


class Server:
    """``streamlit run server.py`` with a fresh data directory, its log kept in a file.

    ``models``: a folder of built models to share instead of an empty one; ``port``: the address
    to serve on (default: a free one).
    """

    def __init__(self, models: Path, port: int | None = None):
        self.home = Path(tempfile.mkdtemp(prefix="embedlab-first-map-"))
        models.mkdir(parents=True, exist_ok=True)
        (self.home / "models").symlink_to(models, target_is_directory=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.home / "server.log"
        env = {**os.environ, "EMBEDLAB_HOME": str(self.home), "HF_HUB_OFFLINE": "1"}
        env.pop("EMBEDLAB_WARMUP", None)  # the warm-up as a real server runs it
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "server.py"), "--server.headless", "true"]
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

    def ready(self, timeout: float = 600, *, umap: bool = False) -> dict:
        """Wait for the warm-up's "ready" line (and, with ``umap``, "UMAP compiled"); its figures."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            log = self.log.read_text(errors="replace")
            found, compiled = READY.search(log), COMPILED.search(log)
            if found and (compiled or not umap):
                figures = {"backend": found[2], "warm_up_s": float(found[3]), "load_s": float(found[4])}
                return figures | ({"umap_s": float(compiled[1])} if compiled else {})
            if "Traceback" in log or ("warm-up: " in log and " failed" in log):
                raise RuntimeError(f"the server failed before its warm-up was ready: {log[-1500:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the warm-up did not finish in {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


PLOTLY_LOADED = """() => { const e = performance.getEntriesByType('resource').find(r => r.name.includes('PlotlyChart'));
                          return e ? e.responseEnd / 1000 : null; }"""
EXTRA = "A new sentence the cache has never seen, so the click encodes it"


def points(n: int) -> str:
    return POINTS.replace("=== 16", f"=== {n}")


def idle(page) -> None:
    """Wait until the page's run has finished (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=600_000)


def first_click(page) -> float:
    """The page's first "Draw map": one sentence added to the 16 (pasted and committed first), then the
    click; seconds from the click until the 17 points are drawn."""
    from embedlab import seed

    box = page.locator(".st-key-space_sentences textarea")
    if not box.is_visible():  # folded under "Your sentences" once a map is on show
        page.get_by_text("Your sentences: paste them or upload a table").click()
    box.fill("\n".join([*seed.SENTENCES, EXTRA]))
    box.press("Control+Enter")  # Streamlit commits a text area on Ctrl+Enter: the page reruns, map kept
    idle(page)
    started = time.perf_counter()
    page.get_by_role("button", name="Draw map").click()
    page.wait_for_function(points(17), timeout=900_000, polling=50)
    return time.perf_counter() - started


def first_map(context, url: str) -> dict:
    """Open ``url`` in a new tab of ``context``; seconds until the front end is up, until the plotly
    bundle has arrived, until the map is drawn, and from the first "Draw map" click to its map."""
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.get_by_test_id("stSidebarNav").wait_for(timeout=900_000)
    frontend = time.perf_counter() - started
    page.wait_for_function(POINTS, timeout=900_000, polling=50)
    seconds = time.perf_counter() - started
    if page.get_by_test_id("stException").count():
        raise RuntimeError(f"the page showed an exception: {page.get_by_test_id('stException').first.inner_text()}")
    plotly = page.evaluate(PLOTLY_LOADED)  # None when the browser kept no timing entry for it
    click = first_click(page)
    page.close()
    return {"seconds": seconds, "frontend_s": frontend, "plotly_s": plotly or 0.0, "click_s": click}


def one_start(browser, case: str, models: Path) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    server = Server(models)
    try:
        if case == "cold":
            result = first_map(context, server.url) | server.ready()
        elif case in ("warm", "settled"):
            warm_up = server.ready(umap=case == "settled")
            result = first_map(context, server.url) | warm_up
        else:  # returning: this browser opened a server on this address before; a new server there
            server.ready(umap=True)
            first_map(context, server.url)
            server.stop()
            server = Server(models, port=server.port)
            warm_up = server.ready(umap=True)
            result = first_map(context, server.url) | warm_up
        result["server_up_s"] = server.up
        print(f"   {case}: {result}", flush=True)
        return result
    finally:
        context.close()
        server.stop()


CASES = {
    "cold": ("First map, app opened as soon as the server answers (16 sentences; waits for the warm-up)", None),
    "warm": ("First map once the server is up (model ready, UMAP still compiling), new browser", "< 2 s"),
    "settled": ("First map once the warm-up has finished (UMAP compiled too), new browser", "< 2 s"),
    "returning": ("First map of a new server in a browser that opened embedlab before", "< 2 s"),
}


def run(quick: bool):
    from playwright.sync_api import sync_playwright

    starts = 1 if quick else 3
    figures = []
    models = Path(tempfile.mkdtemp(prefix="embedlab-first-map-models-"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for case, (name, target) in CASES.items():
                results = [one_start(browser, case, models) for _ in range(1 if case == "cold" else starts)]
                seconds = Samples([r["seconds"] for r in results])
                extra = {
                    key: [round(r[key], 2) for r in results]
                    for key in ("frontend_s", "plotly_s", "server_up_s", "warm_up_s", "load_s", "umap_s")
                    if all(key in r for r in results)
                }
                extra["backend"] = sorted({r["backend"] for r in results})
                met = None if target is None else seconds.median < 2.0
                figures.append(
                    figure(f"first_map_{case}", name, seconds, target=target or "(measured)", met=met, **extra)
                )
                if case in ("warm", "settled"):
                    clicks = Samples([r["click_s"] for r in results])
                    figures.append(
                        figure(
                            f"first_click_{case}",
                            f'First "Draw map" on that page ({case}): click → 17 points (one new sentence)',
                            clicks,
                            target="< 2 s",
                            met=clicks.median < 2.0,
                        )
                    )
        finally:
            browser.close()
    return figures


if __name__ == "__main__":
    main(run)
