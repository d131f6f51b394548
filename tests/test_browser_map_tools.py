"""The Space Explorer's map tools in headless Chromium at 1400×1000: the map in the first screen with its
tools beside it; highlight by substring; a box selection that opens as a table whose CSV download holds
exactly the selected rows; Isolate selection and Show all.

Oracles: the rows inside the dragged box are worked out from plotly's own data and axes (``d2p``), the
CSV's cells from the lesson's sentences and labels (embedlab.seed) and the coordinates plotly drew.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from conftest import ARTIFACTS, rerun_after, wait_until_idle
from test_browser_space import wait_for_map

from embedlab import seed

pytestmark = pytest.mark.browser

MAP = ".st-key-space_map .js-plotly-plot"


def drawn(page) -> dict[int, tuple[float, float]]:
    """Row → (x, y) of every marker plotly drew on the map."""
    pairs = page.evaluate(
        """sel => { const g = document.querySelector(sel), out = [];
              for (const t of g._fullData) { if (!t.customdata) continue;
                for (let i = 0; i < t.x.length; i++) out.push([Number(t.customdata[i]), t.x[i], t.y[i]]); }
              return out; }""",
        MAP,
    )
    return {int(r): (x, y) for r, x, y in pairs}


def pixels(page) -> dict[int, tuple[float, float]]:
    """Row → marker position in pixels within the plot area."""
    pairs = page.evaluate(
        """sel => { const g = document.querySelector(sel), L = g._fullLayout, out = [];
              for (const t of g._fullData) { if (!t.customdata) continue;
                for (let i = 0; i < t.x.length; i++)
                  out.push([Number(t.customdata[i]), L.xaxis.d2p(t.x[i]), L.yaxis.d2p(t.y[i])]); }
              return out; }""",
        MAP,
    )
    return {int(r): (x, y) for r, x, y in pairs}


def rows_inside(page, box: tuple[float, float, float, float]) -> list[int]:
    """Rows whose markers lie inside ``box`` (x0, y0, x1, y1, pixels within the plot area)."""
    return page.evaluate(
        """([sel, box]) => { const g = document.querySelector(sel), L = g._fullLayout, rows = [];
              const [x0, y0, x1, y1] = box;
              for (const t of g._fullData) { if (!t.customdata) continue;
                for (let i = 0; i < t.x.length; i++) { const px = L.xaxis.d2p(t.x[i]), py = L.yaxis.d2p(t.y[i]);
                  if (px > x0 && px < x1 && py > y0 && py < y1) rows.push(Number(t.customdata[i])); } }
              return rows.sort((a, b) => a - b); }""",
        [MAP, list(box)],
    )


def wait_for_rows(page, count: int) -> None:
    page.wait_for_function(
        """([sel, n]) => { const g = document.querySelector(sel);
              return g && g._fullData && g._fullData.reduce((s, t) => s + (t.customdata ? t.customdata.length : 0), 0) === n; }""",
        arg=[MAP, count],
        timeout=60_000,
    )


def test_highlight_box_selection_csv_isolate_and_show_all(page, server):
    page.goto(server.url)
    chart = wait_for_map(page, 16)
    wait_until_idle(page)
    plot = chart.locator(".nsewdrag").first.bounding_box()
    assert plot["y"] >= 0 and plot["y"] + plot["height"] <= 1000, plot  # the map in the first screen
    tools = page.locator(".st-key-space_highlight").bounding_box()
    assert tools["x"] > plot["x"] + plot["width"] - 5  # the tools beside it, on the right
    # the map takes 6/7 of the main column (3/4 before the tools moved beside it)
    panel = page.locator(".st-key-space_map").bounding_box()
    main = page.locator("h1").first.bounding_box()  # the width of the content
    assert panel["width"] > 0.8 * main["width"], (panel, main)

    # highlight by substring: the matching sentences drawn on top, counted
    expected = sorted(i for i, text in enumerate(seed.SENTENCES) if "cat" in text.lower())
    box = page.locator(".st-key-space_highlight input")
    box.fill("CAT")
    rerun_after(page, lambda: box.press("Enter"))
    page.wait_for_function(
        """sel => document.querySelector(sel)._fullData.some(t => t.name === 'contains “CAT”')""", arg=MAP
    )
    emphasised = page.evaluate(
        """sel => document.querySelector(sel)._fullData.filter(t => t.name === 'contains “CAT”' && t.customdata)
                   .flatMap(t => Array.from(t.customdata).map(Number)).sort((a, b) => a - b)""",
        MAP,
    )
    assert emphasised == expected
    said = "1 point shown contains" if len(expected) == 1 else f"{len(expected)} points shown contain"
    assert page.get_by_text(f"{said} “CAT”").count() == 1
    page.screenshot(path=ARTIFACTS / "space-explorer-tools.png")

    # a box from the plot's left edge to a gap in its middle: those rows, every column, as a table and as CSV
    area = chart.locator(".nsewdrag").first.bounding_box()
    # the box's right edge in the widest gap between markers in the middle of the plot (none lies near it)
    xs = sorted(x for x, _ in pixels(page).values())
    middle = [(b - a, (a + b) / 2) for a, b in itertools.pairwise(xs)]
    gaps = [gap for gap in middle if 0.3 * area["width"] < gap[1] < 0.7 * area["width"]]
    corners = (2.0, 2.0, max(gaps)[1], area["height"] - 2.0)
    inside = rows_inside(page, corners)
    assert 2 <= len(inside) < 16, inside
    where = drawn(page)
    chart.hover()
    chart.locator('.modebar-btn[data-title="Box Select"]').click(force=True)
    area = chart.locator(".nsewdrag").first.bounding_box()  # again: the click may have scrolled the page

    def drag():
        page.mouse.move(area["x"] + corners[0], area["y"] + corners[1])
        page.mouse.down()
        page.mouse.move(area["x"] + corners[2], area["y"] + corners[3], steps=12)
        page.mouse.up()

    rerun_after(page, drag)
    page.locator(".st-key-space_selection [data-testid=stDataFrame]").wait_for(timeout=60_000)
    assert page.get_by_text(f"{len(inside)} points selected").count() == 1
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Selection as CSV").click()
    saved = pd.read_csv(download.value.path(), keep_default_na=False)
    assert list(saved.columns) == ["text", "label", "x", "y"]
    rows = [seed.SENTENCES.index(text) for text in saved["text"]]
    assert sorted(rows) == inside
    assert saved["label"].tolist() == [seed.LABELS[r] for r in rows]
    for row, x, y in zip(rows, saved["x"], saved["y"], strict=True):
        assert (x, y) == pytest.approx(where[row], abs=1e-4)

    # isolate: only the selection is drawn; Show all brings the others back
    rerun_after(page, lambda: page.get_by_role("button", name="Isolate selection").click())
    wait_for_rows(page, len(inside))
    assert sorted(drawn(page)) == inside
    assert page.get_by_text(f"Showing {len(inside)} of 16 points (the selection isolated).").count() == 1
    rerun_after(page, lambda: page.get_by_role("button", name="Show all").click())
    wait_for_rows(page, 16)
    assert page.get_by_text("Showing all 16 points.").count() == 1
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == [] and page.problems == []
