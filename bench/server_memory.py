"""server_memory: the server's resident memory through one user's session (issue 13, finding 18).

A new ``streamlit run app.py`` on a free port with a fresh EMBEDLAB_HOME (its warm-up on, as a
real server runs it), driven by headless Chromium through a session like issue 13's:

1. the Space Explorer's first map (16 default sentences);
2. maps of 60 sentences with all-MiniLM-L6-v2, then with all-mpnet-base-v2;
3. maps of 400 sentences with all-mpnet-base-v2, then with all-MiniLM-L6-v2;
4. a Speed Benchmark of the lesson's two models on its corpus;
5. a Trace Retrieval evaluation of the lesson's traces with both models;
6. a few seconds idle.

After each step the server's resident memory (RSS, its process and any children) is read from
``/proc`` through psutil, and its peak so far from ``VmHWM``. Figures: the peak and the final RSS
(one session; ``--quick``: 20 and 60 sentences, one benchmark repeat, and the backend pinned to
torch-fp32 so no backend is calibrated). Models are bounded by :func:`embedlab.models.catalog.model_limits`
(3 models, 1.5 GB of weights by default); the embedding cache's memory level holds at most 512 MiB of vectors.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path

from bench.common import ROOT, Samples, figure, main, sentences

sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM, CHROMIUM_ARGS, IDLE, rerun_after
from test_browser_space import wait_for_map

from bench.first_map import Server

MINILM, MPNET = "all-MiniLM-L6-v2", "all-mpnet-base-v2"
#: What a long step may take on a loaded 2-core machine (calibrating mpnet builds its ONNX files).
STEP_MS = 900_000
#: Targets: issue 13 measured 2.5 GB at the end of such a session, before models were bounded.
PEAK_TARGET_MB = 2500
FINAL_TARGET_MB = 2000


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident MB now of the process and its children, the process's peak resident MB since it started)."""
    import psutil

    process = psutil.Process(pid)
    rss = process.memory_info().rss
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
            rss += child.memory_info().rss
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return rss / 2**20, peak


def idle(page) -> None:
    page.locator(IDLE).wait_for(state="attached", timeout=STEP_MS)


def after(page, action, *, start_within: float = 10.0) -> None:
    """Do ``action``; if it makes the app rerun within ``start_within`` seconds, wait until that rerun
    has ended (a choice that changes nothing makes no rerun)."""
    rerun_after(page, action, STEP_MS, start_within=start_within)


#: What each model picker holds now (a new session's defaults), so that a choice already made is not made again.
_chosen = {"space_model": MINILM}


def choose_model(page, key: str, name: str, *, multiple: bool = False) -> None:
    """Pick ``name`` in the selectbox (or multiselect) whose Streamlit key is ``key``."""
    if _chosen.get(key) == name:
        return
    page.locator(f".st-key-{key}").locator("input").first.click()
    option = page.get_by_role("option", name=re.compile(rf"^{re.escape(name)} \("))
    option.first.wait_for(timeout=30_000)
    after(page, lambda: option.first.click())
    if multiple:  # its list stays open
        page.keyboard.press("Escape")
    _chosen[key] = name


def type_sentences(page, texts: list[str]) -> None:
    """Put ``texts`` in the sentences box and commit them (Ctrl+Enter), waiting for the run that starts."""
    box = page.locator(".st-key-space_sentences textarea")
    if not box.is_visible():  # folded once a map is on show
        page.get_by_text("Your sentences: paste them or upload a table").click()
    box.fill("\n".join(texts))
    after(page, lambda: box.press("Control+Enter"))


def draw(page, n: int) -> None:
    """Click Draw map and wait until a map of ``n`` points is drawn and the run has ended."""
    button = page.get_by_role("button", name="Draw map")
    if not button.is_visible():  # in the sentences' fold, closed again by the run that committed them
        page.get_by_text("Your sentences: paste them or upload a table").click()
    button.wait_for(timeout=60_000)
    after(page, lambda: button.click(timeout=STEP_MS), start_within=30)
    page.wait_for_function(
        """n => { const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                  return p && p.querySelectorAll('.scatterlayer .point').length === n; }""",
        arg=n,
        timeout=STEP_MS,
    )
    idle(page)


def open_page(page, name: str) -> None:
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    link.click()
    page.get_by_role("heading", name=name).first.wait_for(timeout=STEP_MS)
    idle(page)


def session(page, server: Server, sizes: tuple[int, int], quick: bool):
    """The steps, each a (name, action) pair, run in order."""
    small, large = (sentences(n, seed=11 + i) for i, n in enumerate(sizes))

    def first_map():
        page.goto(server.url)
        wait_for_map(page, 16)
        idle(page)

    shown: list[str] = []  # the sentences in the box now

    def map_of(texts, model):
        def step():
            if page.locator(".st-key-space_model").count() == 0:
                open_page(page, "Space Explorer")
            choose_model(page, "space_model", model)
            if shown != texts:
                type_sentences(page, texts)
                shown[:] = texts
            draw(page, len(texts))

        return step

    def speed_benchmark():
        open_page(page, "Speed Benchmark")
        if quick:
            page.get_by_role("spinbutton", name="Repeats").fill("1")
            page.keyboard.press("Tab")
            idle(page)
        page.get_by_role("button", name="Run benchmark").click()
        page.locator("[data-testid=stPlotlyChart] .js-plotly-plot").nth(1).wait_for(timeout=STEP_MS)
        idle(page)

    def trace_retrieval():
        open_page(page, "Trace Retrieval")
        choose_model(page, "retrieval_models", MPNET, multiple=True)
        page.get_by_role("button", name="Evaluate").click()
        page.get_by_role("heading", name="Recommendation").wait_for(timeout=STEP_MS)
        idle(page)

    return [
        ("first map (16 sentences)", first_map),
        (f"map of {sizes[0]}, {MINILM}", map_of(small, MINILM)),
        (f"map of {sizes[0]}, {MPNET}", map_of(small, MPNET)),
        (f"map of {sizes[1]}, {MPNET}", map_of(large, MPNET)),
        (f"map of {sizes[1]}, {MINILM}", map_of(large, MINILM)),
        ("Speed Benchmark, 2 models", speed_benchmark),
        ("Trace Retrieval, 2 models", trace_retrieval),
        ("idle 5 s", lambda: time.sleep(5)),
    ]


def run(quick: bool):
    from playwright.sync_api import sync_playwright

    sizes = (20, 60) if quick else (60, 400)
    env = {"EMBEDLAB_BACKEND": "torch-fp32"} if quick else {}
    server = Server(env=env)
    steps: list[dict] = []
    up_mb, _ = memory_mb(server.process.pid)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1400})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            try:
                for name, action in session(page, server, sizes, quick):
                    started = time.perf_counter()
                    try:
                        action()
                    except Exception:
                        shot = Path(server.home) / "failed-step.png"
                        page.screenshot(path=shot)
                        print(f"   step {name!r} failed; the page: {shot}", flush=True)
                        raise
                    rss, peak = memory_mb(server.process.pid)
                    exceptions = page.get_by_test_id("stException").count()
                    steps.append(
                        {
                            "step": name,
                            "seconds": round(time.perf_counter() - started, 1),
                            "rss_mb": round(rss),
                            "peak_mb": round(peak),
                            "exceptions_on_page": exceptions,
                        }
                    )
                    print(f"   {name}: {rss:.0f} MB now, peak {peak:.0f} MB ({steps[-1]['seconds']} s)", flush=True)
            finally:
                context.close()
                browser.close()
        log = server.log.read_text(errors="replace")
    finally:
        server.stop()
    if page_errors := [s for s in steps if s["exceptions_on_page"]]:
        print(f"   steps that showed an exception: {[s['step'] for s in page_errors]}", flush=True)
    peak, final = steps[-1]["peak_mb"], steps[-1]["rss_mb"]
    extra = {
        "steps": steps,
        "server_up_mb": round(up_mb),
        "sizes": list(sizes),
        "backend": env.get("EMBEDLAB_BACKEND", "auto"),
        "page_errors": errors,
        "warm_up": _warm_up_line(log),
    }
    return [
        figure(
            "server_memory_peak",
            f"Server peak RSS over one user's session (maps of {sizes[0]} and {sizes[1]}, benchmark, trace retrieval)",
            Samples([peak], unit="MB"),
            target=f"< {PEAK_TARGET_MB:,} MB (issue 13: 2.5 GB at the end)",
            met=peak < PEAK_TARGET_MB,
            **extra,
        ),
        figure(
            "server_memory_final",
            "Server RSS at the end of that session",
            Samples([final], unit="MB"),
            target=f"< {FINAL_TARGET_MB:,} MB",
            met=final < FINAL_TARGET_MB,
        ),
    ]


def _warm_up_line(log: str) -> str:
    found = re.search(r"embedlab warm-up: .* ready .*", log)
    return found[0] if found else ""


if __name__ == "__main__":
    main(run)
