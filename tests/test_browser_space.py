"""The Space Explorer in headless Chromium: the map draws, hover shows sentences, a click lists
neighbours, and pasted HTML/script is shown as text, never run.

Nothing here waits for a fixed time. Streamlit says on its root element whether a script run is
going on (``data-test-script-state``): a test acts once the run it waits for has ended
(:func:`conftest.wait_until_idle`), and an action that makes the app rerun is followed until that
rerun has ended (:func:`rerun_after`). A click on a map point waits until the point has stopped
moving (as Playwright's own "stable" check does, which ``force=True`` skips).
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, rerun_after, wait_until_idle

from embedlab import seed

pytestmark = pytest.mark.browser

CHART = "[data-testid=stPlotlyChart] .js-plotly-plot"
MAP = f".st-key-space_map {CHART}, {CHART}"
HOSTILE = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]


def wait_for_map(page, n_points: int, timeout: int = 120_000):
    """Wait until the page's first map shows ``n_points`` points; the map."""
    page.wait_for_function(
        """n => { const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                  return p && p.querySelectorAll('.scatterlayer .point').length === n; }""",
        arg=n_points,
        timeout=timeout,
    )
    return page.locator(CHART).first


def paste(page, text: str) -> None:
    """Put ``text`` in the sentences box as a paste would (one input event), then leave the box."""
    box = page.locator(".st-key-space_sentences textarea")
    if not box.is_visible():  # folded under "Your sentences" once a map is on show (issue #13 item 15)
        page.get_by_text("Your sentences: paste them or upload a table").click()
    box.focus()
    box.evaluate(
        """(el, value) => {
             const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set;
             set.call(el, value);
             el.dispatchEvent(new Event('input', { bubbles: true }));
           }""",
        text,
    )
    # Streamlit commits a text area on Ctrl+Enter (or on blur); a new value reruns the page
    rerun_after(page, lambda: box.press("Control+Enter"))


def settle(page, timeout: float = 120_000):
    """Wait until the app says no script run is going on (kept for callers; prefer :func:`rerun_after`)."""
    wait_until_idle(page, timeout)


def click_point(page, chart, trace: int, point: int) -> None:
    """Click one marker once it has stopped moving: its box unchanged over two animation frames."""
    target = chart.locator(".scatterlayer .trace").nth(trace).locator(".point").nth(point)
    target.evaluate(
        """el => new Promise(done => {
               let last = null;
               const check = () => { const r = el.getBoundingClientRect();
                   const box = [r.x, r.y, r.width, r.height].join();
                   if (box === last && r.width > 0) done(); else { last = box; requestAnimationFrame(check); } };
               requestAnimationFrame(check); })"""
    )
    target.click(force=True)  # force: plotly's drag layer lies over the points and takes the events


def hover_text_of(page, chart, trace: int, point: int) -> str:
    """The hover label plotly draws for one marker (the previous label gone first, so never stale)."""
    page.mouse.move(0, 0)
    chart.locator(".hoverlayer .hovertext").first.wait_for(state="detached", timeout=10_000)
    target = chart.locator(".scatterlayer .trace").nth(trace).locator(".point").nth(point)
    target.hover(force=True)
    label = chart.locator(".hoverlayer .hovertext").first
    label.wait_for(timeout=10_000)
    return label.text_content()


def find_point(page, fragment: str) -> tuple[int, int]:
    """(trace, point) of the marker whose hover text holds ``fragment`` (as plotly stores it)."""
    return tuple(
        page.evaluate(
            """frag => { const data = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')._fullData;
                for (let t = 0; t < data.length; t++) { const h = data[t].hovertext || [];
                  for (let i = 0; i < h.length; i++) if (h[i].includes(frag)) return [t, i]; }
                return null; }""",
            fragment,
        )
    )


def test_map_hover_click_and_hostile_text(page, server):
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto(server.url)
    chart = wait_for_map(page, 16)  # the first run has drawn its map ...
    wait_until_idle(page)  # ... and ended: nothing more will move the chart
    assert "t-SNE 2-D (perplexity 5, seed 42) · 16 sentences" in chart.locator(".gtitle").text_content()

    # hover: the whole sentence, as text
    shown = hover_text_of(page, chart, 0, 0)
    assert "Animals" in shown and any(s in shown for s in seed.SENTENCES[:4])

    # click a point: its neighbours are listed below the map
    trace, point = find_point(page, "Dogs are loyal companions")
    rerun_after(page, lambda: click_point(page, chart, trace, point))  # the selection reruns the page
    assert page.get_by_text("Neighbours of: Dogs are loyal companions").count() == 1
    assert page.locator(".st-key-space_neighbours [data-testid=stDataFrame]").count() == 1

    # paste hostile text: it is drawn and shown literally, and nothing runs
    lines = [*HOSTILE, "The cat sits on the mat", "猫がマットの上に座っている", "I love pizza 🍕", "Dogs bark at night"]
    paste(page, "\n".join(lines))
    rerun_after(page, lambda: page.get_by_role("button", name="Draw map").click())
    chart = wait_for_map(page, len(lines))
    page.wait_for_function(
        "() => document.querySelector('.gtitle').textContent.includes('6 sentences')", timeout=60_000
    )
    for text in HOSTILE:
        trace, point = find_point(page, text.replace("<", "&lt;").replace(">", "&gt;"))
        assert text in hover_text_of(page, chart, trace, point)
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("() => document.querySelectorAll('.js-plotly-plot script').length") == 0
    page.screenshot(path=ARTIFACTS / "space-explorer.png")
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    assert page.problems == []  # no dialog (alert), no page error, no console error


def test_five_thousand_sentences_draw_with_webgl_and_stay_responsive(page, server):
    import re
    import time

    subjects = ["The cat", "A dog", "My sister", "The robot", "Our teacher", "A chef", "The pilot", "His friend"]
    verbs = ["likes", "paints", "studies", "repairs", "watches", "cooks", "sells", "draws", "reads", "finds"]
    things = ["apples", "boats", "clouds", "engines", "forests", "guitars", "houses", "islands", "jars", "kites"]
    sentences = [f"{s} {v} {t} in town {i}" for s in subjects for v in verbs for t in things for i in range(7)][:5000]
    page.set_viewport_size({"width": 1400, "height": 1600})
    page.goto(server.url)
    wait_for_map(page, 16)
    wait_until_idle(page)
    page.locator(".st-key-space_model").click()
    rerun_after(page, lambda: page.get_by_role("option", name=re.compile("static-64d")).click())
    rerun_after(page, lambda: page.locator(".st-key-space_method").get_by_text("PCA").click())
    paste(page, "\n".join(sentences))
    started = time.perf_counter()
    page.get_by_role("button", name="Draw map").click()
    page.wait_for_function(
        """() => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                   return g && g._fullData && g._fullData[0].type === 'scattergl'
                     && g._fullData.reduce((n, t) => n + (t.customdata ? t.customdata.length : 0), 0) === 5000; }""",
        timeout=180_000,
    )
    drawn = time.perf_counter() - started
    chart = page.locator(CHART).first
    assert "static-64d · PCA 2-D · 5,000 sentences" in chart.locator(".gtitle").text_content()

    # hover a WebGL point (found from plotly's own axes): its sentence shows
    x, y = page.evaluate(
        """() => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                   const t = g._fullData[0], L = g._fullLayout;
                   return [L.xaxis.d2p(t.x[0]), L.yaxis.d2p(t.y[0])]; }"""
    )
    area = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + x, area["y"] + y)
    label = chart.locator(".hoverlayer .hovertext").first
    label.wait_for(timeout=10_000)
    content = label.text_content()
    assert any(sentence in content for sentence in sentences), content

    # a display-only change re-draws from what is kept: no encoding, no projection
    started = time.perf_counter()
    slider = page.locator(".st-key-space_point_size input[type=range]")
    size = int(slider.get_attribute("value"))
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        """size => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                     return g && g._fullData[0].marker.size === size; }""",
        arg=size + 1,
        timeout=60_000,
    )
    restyled = time.perf_counter() - started
    # density contours lie under the 5,000 points (on by default above 2,000)
    assert (
        page.evaluate(
            "() => document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')._fullData"
            ".filter(t => t.type === 'contour').length"
        )
        == 1
    )

    # the sentence picker finds one sentence among 5,000 by a phrase in it
    wanted = "The pilot finds kites in town 3"
    started = time.perf_counter()
    finder = page.locator("[class*='st-key-space_find-'] input")
    finder.fill("pilot finds KITES in town 3")
    rerun_after(page, lambda: finder.press("Enter"))
    box = page.locator("[class*='st-key-space_pick-']").get_by_role("combobox")
    box.click()
    box.press("ArrowDown")  # opens the list (a click on the box only focuses it)
    option = page.get_by_role("option", name=f"{sentences.index(wanted) + 1}. {wanted}")
    rerun_after(page, option.click)
    page.get_by_text(f"Neighbours of: {wanted}").wait_for(timeout=60_000)
    found = time.perf_counter() - started
    (ARTIFACTS / "space-explorer-5000.txt").write_text(
        f"5,000 sentences, static-64d + PCA: drawn in {drawn:.1f} s; point size changed in {restyled:.1f} s; "
        f"a sentence found by text and its neighbours listed in {found:.1f} s\n"
    )
    page.screenshot(path=ARTIFACTS / "space-explorer-5000.png")
    assert restyled < drawn or restyled < 10
    assert page.outside == [] and page.problems == []
