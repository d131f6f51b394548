"""The Memory Search page in headless Chromium: build a small collection from an uploaded CSV,
search it with the current context, see the results; a screenshot for the README."""

import csv
import re
import shutil

import numpy as np
import pytest
from conftest import ARTIFACTS, ROOT, wait_until_idle
from playwright.sync_api import expect

import embedlab
from embedlab import memory
from embedlab.memory.labelled import example_labelled, example_memories

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.__hacked=1">'
N = 60


def open_memory_search(page, server, timeout: int = 60_000) -> None:
    """Open the app and go to Memory Search through the sidebar (its URL path is memory-search)."""
    page.goto(server.url)
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Memory Search", exact=True)
    link.wait_for(timeout=timeout)
    link.click()
    page.wait_for_url(re.compile(r"/memory-search(\?|$)"), timeout=timeout)  # ?ws=<id> follows the path
    page.get_by_role("heading", name="Memory Search").first.wait_for(timeout=timeout)


def test_upload_build_and_search(page, server, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 2600})
    packages = example_memories("debian-packages", N)
    upload = tmp_path / "packages.csv"
    with upload.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["package", "description", "section"])
        for i, (ident, text) in enumerate(zip(packages["id"], packages["text"], strict=True)):
            writer.writerow(
                [ident, text + (f" {HOSTILE}" if i == 3 else ""), "libs" if ident.startswith("lib") else "other"]
            )

    open_memory_search(page, server)
    wait_until_idle(page)
    page.get_by_text("Upload a file", exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)
    page.get_by_text(f"{N} rows from packages.csv.").wait_for(timeout=60_000)
    wait_until_idle(page)
    # the pickers guessed the text (longest) and id columns; the name comes from the file
    expect(page.get_by_role("combobox", name="Text column")).to_have_value("description")
    id_picker = page.get_by_role("combobox", name="Id column")
    expect(id_picker).to_have_value("(row number)")
    expect(page.get_by_role("textbox", name="Collection name")).to_have_value("packages")
    id_picker.click()
    page.get_by_role("option", name="package", exact=True).click()
    wait_until_idle(page)

    page.get_by_role("button", name="Build", exact=True).click()
    page.get_by_text(re.compile(rf"^packages: {N} memories with all-MiniLM-L6-v2")).wait_for(timeout=300_000)
    wait_until_idle(page)
    info = memory.collection_info("packages")
    assert (info.rows, info.id_column, info.metadata_columns) == (N, "package", ("section",))

    # a package's summary (one without "--": Streamlit's Markdown typesets an escaped "--" as a dash)
    query = next(q for q in example_labelled("debian-packages", n=N)["query"] if "--" not in q)
    context = page.get_by_role("textbox", name="Current context")
    context.fill(f"{query} {HOSTILE}")
    page.get_by_test_id("stBaseButton-primary").filter(has_text="Search").click()
    page.get_by_text(re.compile(r"^Scores are cosine similarities")).wait_for(timeout=120_000)
    wait_until_idle(page)
    hits = page.get_by_test_id("stDataFrame").filter(has_text="score").last
    hits.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
    first_id = hits.locator('[role=gridcell][aria-colindex="2"]').first.text_content()
    rows, vectors = memory.collection_vectors("packages")
    best = int(np.argmax(vectors @ embedlab.encode([f"{query} {HOSTILE}"])[0]))
    assert first_id == rows["id"].iloc[best]
    shown = page.get_by_text(re.compile(r"^Results for: ")).inner_text()
    assert shown == f"Results for: {query} {HOSTILE}", shown  # as typed

    assert page.get_by_test_id("stException").count() == 0

    # the README's screenshot: a plain question, its results in view
    context.fill("Which library lets my programs find printers on the local network?")
    page.get_by_test_id("stBaseButton-primary").filter(has_text="Search").click()
    page.get_by_text("Results for: Which library").wait_for(timeout=120_000)
    wait_until_idle(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_role("heading", name="3. Search").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    page.screenshot(path=ARTIFACTS / "memory-search.png")
    shutil.copyfile(ARTIFACTS / "memory-search.png", ROOT / "docs" / "memory-search.png")

    assert page.evaluate("() => window.__hacked") is None
    assert page.outside == []
    assert page.problems == []
