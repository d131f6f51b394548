"""The Trace Retrieval page in headless Chromium: edit a real data-editor cell and see the
accuracy change; hostile text stays text.

The data editor draws on a canvas, so a cell is edited the way a keyboard user does it: click the
first cell, move with the arrow keys, type, press Enter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ARTIFACTS, open_from_sidebar

import embedlab
from embedlab import seed
from embedlab.decision import decide
from embedlab.retrieval.evaluation import RetrievalSummary

pytestmark = pytest.mark.browser
TIMEOUT = 90_000


def open_trace_page(page, server):
    page.set_viewport_size({"width": 1400, "height": 2600})
    open_from_sidebar(page, server, "Trace Retrieval", timeout=TIMEOUT)
    page.get_by_test_id("stDataFrame").nth(1).wait_for(timeout=TIMEOUT)


def evaluate(page):
    page.get_by_role("button", name="Evaluate").click()
    page.get_by_text("changed since these results").wait_for(state="hidden", timeout=TIMEOUT)
    page.get_by_role("heading", name="Recommendation").wait_for(timeout=TIMEOUT)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=TIMEOUT)  # the run has finished


def summary_accuracy(page) -> float:
    """Top-1 accuracy as the chart draws it (first bar of the first model)."""
    # plotly draws after Streamlit's run ends: wait for the chart itself
    page.wait_for_function(
        "() => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
        " return g && g._fullData && g._fullData.some(t => t.type === 'bar'); }",
        timeout=TIMEOUT,
    )
    data = page.evaluate(
        "() => document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')._fullData"
        ".filter(t => t.type === 'bar').map(t => Array.from(t.y))"
    )
    return float(data[0][0])


def advice(result):
    """The decision rule's verdict on one model's result: what the page must say."""
    return decide([RetrievalSummary.from_result(result).candidate()]).verdicts[0]


def alerts(page) -> str:
    page.get_by_test_id("stAlertContainer").first.wait_for(timeout=TIMEOUT)
    return " ".join(page.get_by_test_id("stAlertContainer").all_inner_texts()).replace("\u2060", "")


def edit_cell(page, grid, row: int, column: int, value: str):
    """Type ``value`` into a data-editor cell (0-based data row and column).

    glide mirrors the grid in an accessible table (``#glide-cell-<col>-<row>``, data columns from 1,
    0 is the row marker), which tells whether a click selected the cell and an edit landed.
    """
    first = grid.locator("#glide-cell-1-0[aria-selected=true]")
    target = grid.locator(f"#glide-cell-{column + 1}-{row}")
    for _ in range(10):
        # The grid caches where it sits on the page and a rerun can move it: let it measure again.
        page.evaluate("window.dispatchEvent(new Event('resize'))")
        page.wait_for_timeout(300)
        box = grid.bounding_box()
        x, y = box["x"] + 80, box["y"] + 35 + 17  # the first data cell, below the 35-px header
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.wait_for_timeout(200)
        if first.count():
            break
    else:
        raise AssertionError("the data editor's first cell could not be selected")
    for _ in range(row):
        page.keyboard.press("ArrowDown")
    for _ in range(column):
        page.keyboard.press("ArrowRight")
    grid.locator(f"#glide-cell-{column + 1}-{row}[aria-selected=true]").wait_for(state="attached", timeout=5_000)
    page.keyboard.type(value)  # typing opens the cell's overlay editor with what was typed
    page.wait_for_function(
        "want => document.activeElement.matches('textarea.gdg-input') && document.activeElement.value === want",
        arg=value,
        timeout=10_000,
    )
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([el, want]) => el.textContent === want", arg=[target.element_handle(), value], timeout=10_000
    )


def test_editing_a_query_in_the_grid_changes_the_accuracy(page, server):
    open_trace_page(page, server)
    evaluate(page)
    oracle = embedlab.evaluate_retrieval(
        list(seed.QUERIES), [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES], list(seed.EXPECTED)
    )
    assert summary_accuracy(page) == pytest.approx(oracle.accuracy)
    assert advice(oracle).reason in alerts(page)

    # "What did I mention last Tuesday?" should now find trace 0: the model's top answer is another trace
    queries = page.get_by_test_id("stDataFrame").nth(1)
    edit_cell(page, queries, row=2, column=1, value="0")
    page.get_by_text("changed since these results").wait_for(timeout=TIMEOUT)
    evaluate(page)
    expected = [*seed.EXPECTED[:2], 0]
    edited = embedlab.evaluate_retrieval(
        list(seed.QUERIES), [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES], expected
    )
    assert edited.accuracy != oracle.accuracy
    page.wait_for_function(
        "want => Math.abs(document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')"
        "._fullData.find(t => t.type === 'bar').y[0] - want) < 1e-9",
        arg=edited.accuracy,
        timeout=TIMEOUT,
    )
    assert summary_accuracy(page) == pytest.approx(edited.accuracy)
    assert advice(edited).reason in alerts(page)
    if edited.accuracy < seed.GOOD_ENOUGH_ACCURACY:
        assert "1 of 3 queries miss at top-1" in page.locator("body").inner_text()
    page.screenshot(path=ARTIFACTS / "trace-retrieval.png")
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    assert page.problems == []


def test_hostile_text_in_a_pasted_table_stays_text(page, server):
    open_trace_page(page, server)
    expander = page.get_by_test_id("stExpander").filter(has_text="Upload or paste a query table")
    expander.get_by_text("Upload or paste a query table").click()
    hostile = '<img src="http://example.invalid/x.png" onerror="alert(1)"> ![x](http://example.invalid/y.png) **bold**'
    pasted = json.dumps([{"query": hostile, "expected_id": 42}, {"query": seed.QUERIES[0], "expected_id": 0}])
    expander.locator("textarea").fill(pasted)
    page.get_by_role("button", name="Replace the query table with the pasted one").click()
    page.get_by_text("Loaded 2 pasted rows").wait_for(timeout=TIMEOUT)
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="Query row 1")
    warning.wait_for(timeout=TIMEOUT)
    text = warning.inner_text().replace("\u2060", "")  # the page keeps URLs from becoming links with it
    assert '<img src="http://example.invalid/x.png"' in text  # shown literally (cut at 40 characters)
    assert re.search(r"expects trace id 42, which is not in the trace table", text)
    assert warning.locator("img, strong, a").count() == 0
    # what was pasted downloads back unchanged
    with page.expect_download() as download:
        page.get_by_role("button", name="JSON").nth(1).click()
    saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert saved == [{"query": hostile, "expected_id": 42}, {"query": seed.QUERIES[0], "expected_id": 0}]
    evaluate(page)
    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    assert page.problems == []
