"""A reload loses nothing on Fine-tune, Memory Search and Model Review, in headless Chromium.

Each page is filled in as a person would (an uploaded file, typed text, changed settings), the
browser reloads it (the address carries ``?ws=<id>``), and the inputs are back: the uploaded
file's table with its name (said in a caption), the typed text, the settings. The oracle is what
was typed and uploaded.
"""

from __future__ import annotations

import csv
import re

import pytest
from conftest import rerun_after, wait_until_idle
from playwright.sync_api import expect

from embedlab.tuning import example_pairs

pytestmark = pytest.mark.browser

NOTES = "note,topic,author\nBuy milk on the way home,errands,ana\nThe meeting moved to Friday,work,bo\n"
CORPUS = "User expressed anxiety about work deadlines\nBot suggested breaking down tasks\nUser asked for a recipe"


def go_to(page, name: str, path: str) -> None:
    """Go to page ``name`` through the sidebar; its address keeps the workspace (``?ws=``)."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
    link.wait_for(timeout=60_000)
    link.click()
    page.wait_for_url(re.compile(rf"/{path}\?(.*&)?ws=[0-9a-f]+"), timeout=60_000)
    page.get_by_role("heading", name=name).first.wait_for(timeout=60_000)
    wait_until_idle(page)


def reload(page, heading: str) -> None:
    """Reload the page (a new session of the same workspace) and wait until its run has ended."""
    assert "ws=" in page.url, page.url
    page.reload()
    page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
    wait_until_idle(page)


def commit(page) -> None:
    """Leave the field being typed in (Streamlit commits a text area on blur) and wait for the run."""
    rerun_after(page, lambda: page.keyboard.press("Tab"))


def test_reload_restores_uploads_text_and_settings(page, server, tmp_path):
    page.set_viewport_size({"width": 1400, "height": 2400})
    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "positive"])
        writer.writerows(example_pairs(40))
    notes = tmp_path / "notes.csv"
    notes.write_text(NOTES, encoding="utf-8")

    # ---- Fine-tune: an uploaded pairs file and a batch size
    page.goto(server.url)
    go_to(page, "Fine-tune", "fine-tune")
    page.get_by_text("Upload a table (query, positive[, negative])").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(pairs)
    split = page.get_by_text("40 pairs: 32 training pairs, 8 held-out queries ranked against 40 documents")
    split.wait_for(timeout=60_000)
    page.get_by_role("spinbutton", name="Batch size").fill("16")
    commit(page)
    reload(page, "Fine-tune")
    page.get_by_text(re.compile(r"^Restored from this workspace: pairs\.csv, 40 pairs — upload another")).wait_for(
        timeout=60_000
    )
    split.wait_for(timeout=60_000)  # the same pairs, split the same way
    expect(page.get_by_role("radio", name="Upload a table (query, positive[, negative])")).to_be_checked()
    expect(page.get_by_role("spinbutton", name="Batch size")).to_have_value("16")

    # ---- Memory Search: an uploaded table, its text column and a collection name
    go_to(page, "Memory Search", "memory-search")
    page.get_by_text("Upload a file", exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(notes)
    page.get_by_text("2 rows from notes.csv.").wait_for(timeout=60_000)
    wait_until_idle(page)
    page.get_by_role("combobox", name="Text column").click()
    page.get_by_role("option", name="note", exact=True).click()
    wait_until_idle(page)
    name = page.get_by_role("textbox", name="Collection name")
    name.fill("kept-notes")
    name.press("Enter")
    wait_until_idle(page)
    reload(page, "Memory Search")
    page.get_by_text(re.compile(r"^Restored from this workspace: notes\.csv, 2 rows — upload another")).wait_for(
        timeout=60_000
    )
    expect(page.get_by_role("radio", name="Upload a file")).to_be_checked()
    expect(page.get_by_role("textbox", name="Collection name")).to_have_value("kept-notes")
    expect(page.get_by_role("combobox", name="Text column")).to_have_value("note")
    preview = page.get_by_text("The first rows (2 of 2)")  # the table itself is back
    expect(preview).to_have_count(1)

    # ---- Model Review: pasted corpus texts and a setting
    go_to(page, "Model Review", "model_review")
    page.get_by_text("Paste texts", exact=True).click()
    wait_until_idle(page)
    page.get_by_role("textbox", name="One text per line").fill(CORPUS)
    commit(page)
    page.get_by_role("spinbutton", name="Top k").fill("3")
    commit(page)
    reload(page, "Model Review")
    expect(page.get_by_role("radio", name="Paste texts")).to_be_checked()
    expect(page.get_by_role("textbox", name="One text per line")).to_have_value(CORPUS)
    expect(page.get_by_role("spinbutton", name="Top k")).to_have_value("3")
    expect(page.get_by_text(re.compile(r"^Speed measured on .+: 3 texts \(3 distinct\)\.$"))).to_have_count(1)

    assert page.get_by_test_id("stException").count() == 0
    assert page.outside == []
    # a reload of a page's own address first probes /<page>/_stcore/… (404, then the fallback): allowed
    assert [p for p in page.problems if "status of 404" not in p] == []
