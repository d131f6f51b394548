"""The Space Explorer in headless Chromium: the map draws, hover shows sentences, a click lists
neighbours, and pasted HTML/script is shown as text, never run."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS

from embedlab import seed

pytestmark = pytest.mark.browser

CHART = "[data-testid=stPlotlyChart] .js-plotly-plot"
MAP = f".st-key-map {CHART}, {CHART}"
HOSTILE = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]


def wait_for_map(page, n_points: int):
    page.wait_for_function(
        """n => { const p = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
                  return p && p.querySelectorAll('.scatterlayer .point').length === n; }""",
        arg=n_points,
        timeout=120_000,
    )
    return page.locator(CHART).first


def hover_text_of(page, chart, trace: int, point: int) -> str:
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
    chart = wait_for_map(page, 16)
    assert "t-SNE 2-D (perplexity 5, seed 42) · 16 sentences" in chart.locator(".gtitle").text_content()

    # hover: the whole sentence, as text
    shown = hover_text_of(page, chart, 0, 0)
    assert "Animals" in shown and any(s in shown for s in seed.SENTENCES[:4])

    # click a point: its neighbours are listed below the map
    trace, point = find_point(page, "Dogs are loyal companions")
    chart.locator(".scatterlayer .trace").nth(trace).locator(".point").nth(point).click(force=True)
    page.get_by_text("Neighbours of: Dogs are loyal companions").wait_for(timeout=30_000)
    assert page.locator(".st-key-neighbours [data-testid=stDataFrame]").count() == 1

    # paste hostile text: it is drawn and shown literally, and nothing runs
    lines = [*HOSTILE, "The cat sits on the mat", "猫がマットの上に座っている", "I love pizza 🍕", "Dogs bark at night"]
    page.locator(".st-key-sentences textarea").fill("\n".join(lines))
    page.get_by_role("button", name="Draw map").click()
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
