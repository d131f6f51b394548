"""The Trace Retrieval page's failure map in headless Chromium: a wrong query (its expected trace
changed through the page's paste box) draws its two lines, and clicking the query's row in the
per-query table rings it on the map.

Oracles: embedlab.evaluate_retrieval on the same edited data (which query is wrong, what it got and
should have got, both scores), plotly's own rendered data and SVG in the page.
"""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, wait_until_idle
from test_browser_trace import evaluate, open_trace_page

import embedlab
from embedlab.retrieval import traces
from embedlab.retrieval.figures import per_query_table

pytestmark = pytest.mark.browser
TIMEOUT = 90_000
MAP = "[data-testid=stPlotlyChart] .js-plotly-plot"
FAILURE_MAP = f"Array.from(document.querySelectorAll('{MAP}')).find(g => g._fullData && g._fullData.some(t => t.name === 'got (top-1)'))"


def names(page) -> list[str]:
    return page.evaluate(f"() => {FAILURE_MAP}._fullData.map(t => t.name)")


def test_a_wrong_query_draws_its_lines_and_a_clicked_row_is_ringed(page, server):
    open_trace_page(page, server)
    # "I'm feeling stressed about my job" should find trace 1 ("learn a new skill"): a sure miss
    queries = traces.query_table()
    queries.loc[0, "expected_id"] = "1"
    expander = page.get_by_test_id("stExpander").filter(has_text="Upload or paste a query table")
    expander.get_by_text("Upload or paste a query table").click()
    expander.locator("textarea").fill(traces.queries_to_json(queries).decode("utf-8"))
    page.get_by_role("button", name="Replace the query table with the pasted one").click()
    page.get_by_text("Loaded 3 pasted rows").wait_for(timeout=TIMEOUT)
    evaluate(page)
    prepared = traces.prepare(traces.trace_table(), queries)
    oracle = per_query_table(
        embedlab.evaluate_retrieval(prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids)
    )
    assert not oracle["correct"][0]

    page.wait_for_function(f"() => {FAILURE_MAP} !== undefined", timeout=TIMEOUT)
    drawn = names(page)
    assert {"traces", "wrong at top-1", "got (top-1)", "should have got"} <= set(drawn)
    assert "selected query" not in drawn
    # each line is drawn (an SVG path with a length) and its hover text names both traces with their scores
    plot = page.locator(MAP).filter(has=page.locator(".legendtext", has_text="should have got"))
    for name in ("got (top-1)", "should have got"):
        index = drawn.index(name)
        length = (
            plot.locator(".scatterlayer .trace").nth(index).locator("path.js-line").evaluate("p => p.getTotalLength()")
        )
        assert length > 0, name
        hover = page.evaluate(f"() => {FAILURE_MAP}._fullData[{index}].hovertext[0]")
        row = oracle.iloc[0]
        assert f"got trace {row['top-1']} · {row['top score']:.3f}" in hover
        assert f"should have got trace 1 · {row['expected score']:.3f}" in hover

    # click the first row's selection box in the per-query table
    table = page.get_by_test_id("stTabs").first.get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed()
    for _ in range(5):
        box = table.bounding_box()
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
        try:
            page.wait_for_function(
                f"() => {FAILURE_MAP} && {FAILURE_MAP}._fullData.some(t => t.name === 'selected query')", timeout=15_000
            )
            break
        except Exception:  # the grid may still have been measuring itself: click again
            page.evaluate("window.dispatchEvent(new Event('resize'))")
    ring = page.evaluate(
        f"() => {{ const g = {FAILURE_MAP}; const t = g._fullData.find(t => t.name === 'selected query');"
        " const q = g._fullData.find(t => t.name === 'wrong at top-1');"
        " return [Array.from(t.customdata), Array.from(t.x), Array.from(q.x)[Array.from(q.customdata).indexOf(0)]]; }"
    )
    assert ring[0] == [0] and ring[1][0] == pytest.approx(ring[2])
    assert plot.locator(".legendtext", has_text="selected: should have got").count() == 1
    wait_until_idle(page)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=stTabs]').length === 1", timeout=TIMEOUT)
    page.get_by_test_id("stTabs").first.screenshot(path=ARTIFACTS / "trace-failure-map.png")
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    assert page.problems == []
