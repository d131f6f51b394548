"""The Speed Benchmark page in headless Chromium: a small run draws its charts and its table."""

import json
import re

import pytest
from conftest import ARTIFACTS, open_from_sidebar

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__hacked=1">'


def open_page(page, server):
    open_from_sidebar(page, server, "Speed Benchmark")
    settle(page)


def settle(page):
    """Wait until the script run has finished (the last section is drawn, no "running" indicator)."""
    page.get_by_role("heading", name="Earlier runs").wait_for(timeout=60_000)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)


def test_small_benchmark_shows_charts_and_table(page, server):
    page.set_viewport_size({"width": 1400, "height": 2600})
    open_page(page, server)
    models = page.get_by_test_id("stMultiSelect").first
    models.locator('[aria-label^="Remove all-mpnet-base-v2"]').click()
    models.locator("input").click()
    page.get_by_role("option", name="static-64d").first.click()
    page.keyboard.press("Escape")
    page.get_by_text("Paste texts").click()
    area = page.get_by_role("textbox", name="One text per line")
    area.fill(f"User felt relieved after discussing the plan\nBot reminded user to take breaks\n{HOSTILE}")
    page.get_by_role("spinbutton", name="Repeats").fill("1")
    page.get_by_role("spinbutton", name="Repeat the corpus up to N texts (0: as it is)").fill("30")
    page.keyboard.press("Tab")
    page.get_by_text("Corpus: 30 texts (3 distinct).").wait_for(timeout=30_000)

    page.get_by_role("button", name="Run benchmark").click()
    charts = page.locator("[data-testid=stPlotlyChart] .js-plotly-plot")
    charts.nth(1).wait_for(timeout=180_000)
    assert page.get_by_test_id("stException").count() == 0

    bars = page.evaluate(
        "() => document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot')[0]._fullData[0].x.map(String)"
    )
    assert bars == ["all-MiniLM-L6-v2", "static-64d"]
    title = charts.nth(0).locator(".gtitle").first.text_content()
    assert "Texts per second" in title
    # the bars are drawn: two rectangles with a height
    heights = (
        charts.nth(0)
        .locator(".bars .point path")
        .evaluate_all("paths => paths.map(p => p.getBoundingClientRect().height)")
    )
    assert len(heights) == 2 and all(h > 0 for h in heights)
    # the scatter of speed against dimensions has one point per model
    assert charts.nth(1).locator(".scatterlayer .point").count() == 2

    table = page.get_by_test_id("stDataFrame").first
    table.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
    # the grid draws on a canvas; its accessible cells hold the values
    names = table.locator('[role=gridcell][aria-colindex="1"]').all_text_contents()
    assert names == ["all-MiniLM-L6-v2", "static-64d"]
    # columns: model, backend, status, repeats, texts/s, …
    backends = table.locator('[role=gridcell][aria-colindex="2"]').all_text_contents()
    assert backends[1] == "static" and backends[0]  # MiniLM on the backend chosen for this machine
    speeds = table.locator('[role=gridcell][aria-colindex="5"]').all_text_contents()
    assert all(float(s.replace(",", "")) > 0 for s in speeds)
    assert "None" not in table.locator("[role=gridcell]").all_text_contents()
    assert page.get_by_text("static-64d is", exact=False).first.is_visible()
    assert page.get_by_role("heading", name="Recommendation").is_visible()

    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / "speed-benchmark.png")
    assert page.evaluate("() => window.__hacked") is None
    assert page.outside == []
    assert page.problems == []


def test_json_download_holds_rows_and_machine(page, server, tmp_path):
    """After the run above (same server, fresh session), an earlier run can be reopened and downloaded."""
    page.set_viewport_size({"width": 1400, "height": 2600})
    open_page(page, server)
    page.get_by_role("button", name="Show this run").click(timeout=60_000)
    page.get_by_role("heading", name="Results").wait_for(timeout=60_000)
    settle(page)  # the rerun that draws the reopened run has ended: the button stays put
    with page.expect_download(timeout=60_000) as download_info:
        page.get_by_role("button", name="Download JSON").click()
    path = tmp_path / "run.json"
    download_info.value.save_as(path)
    document = json.loads(path.read_text())
    assert [row["model"] for row in document["results"]] == ["all-MiniLM-L6-v2", "static-64d"]
    assert document["machine"]["device"] == "cpu"
    assert all(row["texts_per_s"] > 0 for row in document["results"])
    assert page.outside == []
    assert page.problems == []


def test_stop_keeps_the_model_that_was_running(page, server):
    page.set_viewport_size({"width": 1400, "height": 2600})
    open_page(page, server)
    models = page.get_by_test_id("stMultiSelect").first
    models.locator('[aria-label^="Remove all-mpnet-base-v2"]').click()
    models.locator("input").click()
    page.get_by_role("option", name="static-64d").first.click()
    page.keyboard.press("Escape")
    page.get_by_role("spinbutton", name="Repeats").fill("50")
    page.get_by_role("spinbutton", name="Repeat the corpus up to N texts (0: as it is)").fill("300")
    page.get_by_role("spinbutton", name="Torch threads (0: one per core)").fill("1")
    page.keyboard.press("Tab")
    page.get_by_text("Corpus: 300 texts (5 distinct).").wait_for(timeout=30_000)
    page.get_by_role("button", name="Run benchmark").click()
    page.get_by_text("all-MiniLM-L6-v2 · repeat 2 of 50").wait_for(timeout=180_000)
    page.get_by_role("button", name="Stop").click()

    page.get_by_text("The run was stopped").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=ARTIFACTS / "speed-benchmark-stopped.png")
    table = page.get_by_test_id("stDataFrame").first
    table.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
    assert table.locator('[role=gridcell][aria-colindex="1"]').all_text_contents() == ["all-MiniLM-L6-v2"]
    assert table.locator('[role=gridcell][aria-colindex="3"]').all_text_contents() == ["stopped"]
    repeats = int(table.locator('[role=gridcell][aria-colindex="4"]').all_text_contents()[0])
    assert 1 <= repeats < 50  # "repeat 2 of 50" is shown while repeat 2 runs: at least repeat 1 finished
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=ARTIFACTS / "speed-benchmark-stopped.png")
    assert page.outside == []
    assert page.problems == []


def test_stop_after_the_first_model_keeps_that_model(page, server):
    """Stop while the second model runs: the first one, finished, is kept whole (ui/runs.py's account of Stop)."""
    page.set_viewport_size({"width": 1400, "height": 2600})
    open_page(page, server)
    models = page.get_by_test_id("stMultiSelect").first
    models.locator('[aria-label^="Remove all-mpnet-base-v2"]').click()
    models.locator('[aria-label^="Remove all-MiniLM-L6-v2"]').click()
    for name in ("static-64d", "all-MiniLM-L6-v2"):  # the fast one first, so it finishes first
        models.locator("input").click()
        page.get_by_role("option", name=re.compile(rf"^{re.escape(name)} \(")).first.click()  # "name (384-d, …)"
        page.keyboard.press("Escape")
    page.get_by_role("spinbutton", name="Repeats").fill("50")
    page.get_by_role("spinbutton", name="Repeat the corpus up to N texts (0: as it is)").fill("300")
    page.get_by_role("spinbutton", name="Torch threads (0: one per core)").fill("1")
    page.keyboard.press("Tab")
    page.get_by_text("Corpus: 300 texts (5 distinct).").wait_for(timeout=30_000)
    page.get_by_role("button", name="Run benchmark").click()
    # "repeat 2 of 50" is shown as repeat 2 starts: repeat 1 has finished (the words name the step running)
    page.get_by_text("Model 2 of 2 · all-MiniLM-L6-v2 · repeat 2 of 50").wait_for(timeout=600_000)
    page.get_by_role("button", name="Stop").click()

    notice = page.get_by_text("The run was stopped; kept what finished: static-64d, all-MiniLM-L6-v2 (cut short")
    notice.wait_for(timeout=60_000)
    settle(page)
    table = page.get_by_test_id("stDataFrame").first
    table.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
    assert table.locator('[role=gridcell][aria-colindex="1"]').all_text_contents() == ["static-64d", "all-MiniLM-L6-v2"]
    assert table.locator('[role=gridcell][aria-colindex="3"]').all_text_contents() == ["ok", "stopped"]
    repeats = [int(v) for v in table.locator('[role=gridcell][aria-colindex="4"]').all_text_contents()]
    assert repeats[0] == 50 and 1 <= repeats[1] < 50
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=ARTIFACTS / "speed-benchmark-stopped-after-first.png")
    assert page.outside == []
    assert page.problems == []


def test_uploaded_table_becomes_the_corpus(page, server, tmp_path):
    upload = tmp_path / "traces.csv"
    upload.write_text('id,text\n1,"User asks about a past conversation"\n2,Bot suggested a plan\n3,<i>three</i>\n')
    open_page(page, server)
    page.get_by_text("Upload a file").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)
    page.get_by_text("Corpus: 3 texts (3 distinct).").wait_for(timeout=30_000)
    assert page.get_by_test_id("stSelectbox").filter(has_text="Column with the texts").count() == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(broken)
    page.get_by_test_id("stAlertContentError").filter(has_text="broken.json is not valid JSON").wait_for()
    assert page.outside == []
    assert page.problems == []
