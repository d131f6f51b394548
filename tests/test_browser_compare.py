"""Two models, one map, in headless Chromium: 1,000 sentences drawn by all-MiniLM-L6-v2 and by
static-64d side by side; hover shows the sentence on both maps, and a box selection on the first
map lights up the same sentences on the second.

The oracle for the selection is the first map itself: which of its points lie inside the dragged
box (a marker within a pixel of its edge may go either way), read from plotly's own axes (``d2p``). Waiting follows
tests/test_browser_space.py: Streamlit's script state, never a fixed sleep.
"""

from __future__ import annotations

import itertools
import re
import time

import pytest
from conftest import ARTIFACTS, rerun_after, wait_until_idle
from test_browser_space import paste

pytestmark = pytest.mark.browser

MAPS = "[data-testid=stPlotlyChart] .js-plotly-plot"
FIRST = ".st-key-space_map .js-plotly-plot"
SECOND = ".st-key-space_map2 .js-plotly-plot"


def thousand_sentences() -> list[str]:
    """1,000 distinct sentences that read like real ones (four slots, shuffled deterministically)."""
    who = ["The support team", "A new user", "My manager", "The city council", "A local bakery", "Our teacher",
           "The football club", "A research group", "The delivery driver", "My neighbour"]  # fmt: skip
    did = ["fixed", "delayed", "reviewed", "cancelled", "celebrated", "questioned", "explained", "approved",
           "forgot", "measured"]  # fmt: skip
    what = ["the login problem", "a late invoice", "the holiday schedule", "an unexpected outage",
            "the recipe for sourdough", "a broken elevator", "the marketing plan", "a flaky test",
            "the travel policy", "a customer complaint"]  # fmt: skip
    combos = list(itertools.product(who, did, what))
    return [f"{a} {b} {c}." for a, b, c in combos][:1000]


def points_on(page, selector: str) -> int:
    return page.evaluate(f"() => document.querySelector('{selector}').querySelectorAll('.scatterlayer .point').length")


def rows_highlighted(page, selector: str) -> list[int]:
    """Rows plotly draws as selected on a map (selectedpoints are positions in each trace)."""
    return page.evaluate(
        """sel => { const g = document.querySelector(sel); const rows = [];
                    for (const t of g._fullData) { if (!t.customdata || !t.selectedpoints) continue;
                      for (const i of t.selectedpoints) rows.push(Number(t.customdata[i])); }
                    return rows.sort((a, b) => a - b); }""",
        selector,
    )


def rows_inside(page, selector: str, box: tuple[float, float, float, float]) -> list[int]:
    """Rows whose markers lie inside ``box`` (x0, y0, x1, y1, pixels within the plot area)."""
    return page.evaluate(
        """([sel, box]) => { const g = document.querySelector(sel), L = g._fullLayout, rows = [];
              const [x0, y0, x1, y1] = box;
              for (const t of g._fullData) { if (!t.customdata) continue;
                for (let i = 0; i < t.x.length; i++) { const px = L.xaxis.d2p(t.x[i]), py = L.yaxis.d2p(t.y[i]);
                  if (px > x0 && px < x1 && py > y0 && py < y1) rows.push(Number(t.customdata[i])); } }
              return rows.sort((a, b) => a - b); }""",
        [selector, list(box)],
    )


def hover_sentence(page, selector: str) -> str:
    """Hover the first marker of a map and return its hover label's text."""
    chart = page.locator(selector)
    page.mouse.move(0, 0)
    point = chart.locator(".scatterlayer .trace").first.locator(".point").first
    point.hover(force=True)
    label = chart.locator(".hoverlayer .hovertext").first
    label.wait_for(timeout=10_000)
    return label.text_content()


def test_two_maps_side_by_side_hover_and_linked_box_selection(page, server):
    sentences = thousand_sentences()
    assert len(set(sentences)) == 1000
    page.set_viewport_size({"width": 1600, "height": 2000})
    page.goto(server.url)
    page.wait_for_function("() => document.querySelectorAll('.scatterlayer .point').length === 16", timeout=120_000)
    wait_until_idle(page)

    page.locator(".st-key-space_compare").click()
    rerun_after(page, lambda: page.get_by_role("option", name=re.compile(r"^static-64d")).click())
    paste(page, "\n".join(sentences))
    started = time.perf_counter()
    rerun_after(page, lambda: page.get_by_role("button", name="Draw map").click(), timeout=300_000)
    page.wait_for_function(
        """() => { const m = document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot');
                   return m.length >= 2 && [...m].slice(0, 2).every(g => g.querySelectorAll('.scatterlayer .point').length === 1000); }""",
        timeout=300_000,
    )
    drawn = time.perf_counter() - started
    assert points_on(page, FIRST) == points_on(page, SECOND) == 1000  # SVG: one element per sentence
    first_title = page.locator(FIRST).locator(".gtitle").text_content()
    second_title = page.locator(SECOND).locator(".gtitle").text_content()
    assert first_title.startswith("all-MiniLM-L6-v2 · t-SNE 2-D") and "1,000 sentences" in first_title
    assert second_title.startswith("static-64d · t-SNE 2-D") and "1,000 sentences" in second_title
    left, right = page.locator(FIRST).bounding_box(), page.locator(SECOND).bounding_box()
    assert right["x"] >= left["x"] + left["width"] - 1 and abs(right["y"] - left["y"]) < 5  # side by side
    overlap = page.get_by_test_id("stMetric").filter(has_text="Neighbourhood overlap@10")
    assert re.search(r"0\.\d{3}", overlap.text_content())
    assert page.locator(".st-key-space_moved [data-testid=stDataFrame]").count() == 1

    # hover shows the whole sentence on both maps
    for selector in (FIRST, SECOND):
        shown = hover_sentence(page, selector)
        assert any(sentence in shown for sentence in sentences), shown

    # a box on the first map: the same sentences light up on the second
    area = page.locator(FIRST).locator(".nsewdrag").first.bounding_box()
    box = (area["width"] * 0.3, area["height"] * 0.3, area["width"] * 0.65, area["height"] * 0.65)
    inside = rows_inside(page, FIRST, box)
    assert 5 <= len(inside) < 1000, len(inside)
    page.locator(FIRST).hover()
    page.locator(FIRST).locator('.modebar-btn[data-title="Box Select"]').click(force=True)

    def drag():
        page.mouse.move(area["x"] + box[0], area["y"] + box[1])
        page.mouse.down()
        page.mouse.move(area["x"] + box[2], area["y"] + box[3], steps=12)
        page.mouse.up()

    rerun_after(page, drag, timeout=120_000)
    page.wait_for_function(
        """sel => { const g = document.querySelector(sel);
                    return g && g._fullData && g._fullData.some(t => t.selectedpoints && t.selectedpoints.length); }""",
        arg=SECOND,
        timeout=60_000,
    )
    # The browser hands the drag to plotly in whole pixels, so a marker within a pixel of the box's
    # edge may fall either way: every marker clearly inside is selected, none clearly outside.
    selected = rows_highlighted(page, FIRST)
    clearly_in = rows_inside(page, FIRST, (box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1))
    maybe_in = rows_inside(page, FIRST, (box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1))
    assert set(clearly_in) <= set(selected) <= set(maybe_in), (len(clearly_in), len(selected), len(maybe_in))
    assert rows_highlighted(page, SECOND) == selected  # the same sentences light up on the second map
    faded = page.evaluate(f"() => document.querySelector('{SECOND}')._fullData[0].unselected.marker.opacity")
    assert faded < 1
    assert page.get_by_text(re.compile(rf"{len(selected):,} points selected")).count() == 1

    (ARTIFACTS / "space-compare.txt").write_text(
        f"1,000 sentences, all-MiniLM-L6-v2 vs static-64d, t-SNE: both maps drawn in {drawn:.1f} s; "
        f"box selection of {len(selected)} points lit up on both maps.\n"
    )
    page.mouse.move(0, 0)  # no hover label or mode bar over the titles
    page.screenshot(path=ARTIFACTS / "space-compare.png")
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    assert page.problems == []
