"""The Fine-tune page in headless Chromium: upload pairs, fine-tune for real, see the held-out
figures, use the model on another page; and Stop saves nothing."""

import csv
import re

import pytest
from conftest import ARTIFACTS, open_from_sidebar, wait_until_idle

from embedlab.models import user
from embedlab.tuning import example_pairs

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__hacked=1">'


def test_upload_fine_tune_and_use_the_model(page, server, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 2400})
    pairs = example_pairs(40)
    pairs[3] = (f"{pairs[3][0]} {HOSTILE}", pairs[3][1])
    upload = tmp_path / "pairs.csv"
    with upload.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "positive"])
        writer.writerows(pairs)

    open_from_sidebar(page, server, "Fine-tune")
    page.get_by_text("Upload a table (query, positive[, negative])").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)
    page.get_by_text("40 pairs: 32 training pairs, 8 held-out queries ranked against 40 documents").wait_for(
        timeout=60_000
    )
    page.get_by_role("spinbutton", name="Batch size").fill("16")
    page.keyboard.press("Tab")
    page.get_by_text("More: name, Matryoshka dimensions, keeping a worse model").click()
    name = page.get_by_role("textbox", name="Name of the new model")
    name.fill("browser-model")
    name.press("Enter")
    wait_until_idle(page)

    page.get_by_role("button", name="Fine-tune").click()
    page.get_by_text(re.compile(r"^(Promoted|Not promoted): held-out MRR")).wait_for(timeout=300_000)
    wait_until_idle(page)
    assert page.get_by_test_id("stException").count() == 0
    table = page.get_by_test_id("stDataFrame").filter(has_text="MRR@10").first
    table.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
    assert table.locator('[role=gridcell][aria-colindex="1"]').all_text_contents() == [
        "all-MiniLM-L6-v2",
        "browser-model",
    ]
    assert page.get_by_text(re.compile(r"\d+ held-out queries improved, \d+ regressed")).is_visible()
    charts = page.locator("[data-testid=stPlotlyChart] .js-plotly-plot")
    charts.nth(1).wait_for(timeout=60_000)  # plotly draws after the script run ends
    assert charts.count() == 2  # before/after, loss
    made = user.find("browser-model")
    assert made is not None and made.card["n_pairs"] == 40
    page.screenshot(path=ARTIFACTS / "fine-tune.png")

    page.get_by_role("button", name="Use it on every page").click()
    page.get_by_text("browser-model is now chosen in the Space Explorer").wait_for(timeout=60_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Trace Retrieval", exact=True).click()
    page.get_by_role("heading", name="Trace Retrieval").first.wait_for(timeout=60_000)
    wait_until_idle(page)
    chosen = page.get_by_test_id("stMultiSelect").first
    assert chosen.get_by_text(re.compile(r"^browser-model \(384-d")).count() == 1

    assert page.evaluate("() => window.__hacked") is None
    assert page.outside == []
    assert page.problems == []


def test_stop_during_training_saves_nothing(page, server):
    page.set_viewport_size({"width": 1400, "height": 2000})
    open_from_sidebar(page, server, "Fine-tune")  # the example's 300 pairs: 15 steps at batch 16
    page.get_by_text("300 pairs: 240 training pairs").wait_for(timeout=60_000)
    page.get_by_role("spinbutton", name="Batch size").fill("16")
    page.keyboard.press("Tab")
    page.get_by_text("More: name, Matryoshka dimensions, keeping a worse model").click()
    name = page.get_by_role("textbox", name="Name of the new model")
    name.fill("stopped-model")
    name.press("Enter")
    wait_until_idle(page)

    page.get_by_role("button", name="Fine-tune").click()
    page.get_by_text(re.compile(r"Training: step [1-9]\d* of 15")).first.wait_for(timeout=300_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("The fine-tune was stopped: nothing was saved, and no model was added.").wait_for(timeout=120_000)
    wait_until_idle(page)
    assert user.find("stopped-model") is None
    assert user.find("stopped-model", rejected=True) is None
    leftovers = [p.name for p in user.folder_for("finetuned", "x").parent.glob("*") if "stopped-model" in p.name]
    assert leftovers == []
    assert page.get_by_test_id("stException").count() == 0
    page.screenshot(path=ARTIFACTS / "fine-tune-stopped.png")
    assert page.outside == []
    assert page.problems == []
