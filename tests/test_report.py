"""Review exports: the HTML file draws its charts offline in Chromium and shows hostile text
literally; Markdown escapes it; JSON reads back to the same table.

Oracles: a real Chromium (plotly's own rendered SVG points, every request the page makes,
dialogs), the review table itself (pandas equality after a JSON round trip).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re

import pandas as pd
import pytest
from conftest import ARTIFACTS

from embedlab import seed
from embedlab.reviewing import report
from embedlab.reviewing.run import review

XSS_NAME = '<script>alert("name")</script> Q3 review'
XSS_NOTES = 'Line one\n<img src=x onerror="window.__hacked=1">\n| not | a | table |'
XSS_DECISION = "Use <b>static-64d</b> & [link](javascript:alert(1))"


@pytest.fixture(scope="module")
def table():
    result = review(
        ["static-64d", "all-MiniLM-L6-v2", "nosuch/model"],
        corpus=list(seed.TRACE_TEXTS) * 2,
        sentences=list(seed.SENTENCES),
        labels=list(seed.LABELS),
        repeats=1,
    )
    return dataclasses.replace(result, name=XSS_NAME, notes=XSS_NOTES, decision_text=XSS_DECISION)


@pytest.mark.browser
def test_html_export_draws_its_charts_offline_and_shows_hostile_text_literally(table, browser, tmp_path):
    path = report.write(table, tmp_path / "review.html")
    context = browser.new_context(viewport={"width": 1300, "height": 2600})
    requests, problems = [], []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()))
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(path.as_uri())
    plots = page.locator(".js-plotly-plot")
    plots.nth(2).wait_for(timeout=30_000)
    assert plots.count() == 3
    # the speed x quality chart: one drawn point per model that finished (2), plus the ring around
    # the recommended one; the Pareto front marks at least one of them
    points = plots.nth(0).locator(".scatterlayer .point")
    assert points.count() >= 2
    data = page.evaluate("() => document.getElementById('chart-0')._fullData.map(t => t.name)")
    assert "on the front" in data and "recommended" in data
    # bars are drawn with a height
    heights = (
        plots.nth(1)
        .locator(".bars .point path")
        .evaluate_all("paths => paths.map(p => p.getBoundingClientRect().height)")
    )
    assert len(heights) == 2 and all(h > 0 for h in heights)
    # hostile text is shown as text, never run
    assert page.locator("h1").inner_text() == XSS_NAME
    assert XSS_NOTES.splitlines()[1] in page.locator(".notes").inner_text()
    assert XSS_DECISION in page.locator(".decision").inner_text()
    assert page.evaluate("() => window.__hacked") is None
    assert page.title().startswith(XSS_NAME)
    # the failed model is named with why
    assert table.decision.labels["nosuch/model"] == "failed"
    assert table.decision.verdict("nosuch/model").reason in page.locator("ul.reasons").inner_text()
    page.screenshot(path=ARTIFACTS / "model-review-export.png")
    # one file, nothing fetched from anywhere else (not even from this machine)
    assert requests == [path.as_uri()]
    assert problems == []
    context.close()


def test_html_is_self_contained_and_escapes_every_user_text(table):
    text = report.to_html(table)
    assert "<script>alert(" not in text
    assert '<img src=x onerror="window.__hacked=1">' not in text
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in text
    assert 'http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in text
    assert "<script src=" not in text and "<link " not in text  # no external script or stylesheet
    assert len(text) > 1_000_000  # plotly.js is inside the file


def test_markdown_keeps_hostile_text_literal_and_lists_every_model(table):
    from markdown_it import MarkdownIt  # an independent CommonMark renderer (with GitHub tables)

    text = report.to_markdown(table)
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    # every user text renders as itself: no tag, link or image comes out of it
    assert f"<h1>{html.escape(XSS_NAME)}</h1>" in rendered
    assert html.escape(XSS_DECISION) in rendered
    for line in XSS_NOTES.splitlines():
        assert html.escape(line) in rendered  # the notes' pipes do not make a table
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "<a " not in rendered
    rows = [line for line in text.splitlines() if line.startswith("| ") and "verdict" not in line]
    figures = rows[: len(table.table)]
    first_cells = re.findall(r"<tr>\n<td>(.*?)</td>", rendered)[: len(table.table)]
    assert first_cells == ["static-64d", "all-MiniLM-L6-v2", "nosuch/model"]
    assert all(line.count(" | ") == len(report.TABLE) - 1 for line in figures)
    assert "The decision framework recommends:" in text


def test_json_export_reads_back_to_the_same_table(table):
    text = report.to_json(table, name="Named here")
    document = json.loads(text)
    assert document["name"] == "Named here" and document["notes"] == XSS_NOTES
    back = report.from_json(text)
    pd.testing.assert_frame_equal(back.table, table.table)
    assert back.decision == table.decision
    assert (back.name, back.notes, back.decision_text) == ("Named here", XSS_NOTES, XSS_DECISION)
    with pytest.raises(ValueError, match="not JSON"):
        report.from_json("{nope")
    with pytest.raises(ValueError, match="not an embedlab review"):
        report.from_json('{"rows": []}')


def test_write_chooses_the_format_by_suffix(table, tmp_path):
    for suffix, start in ((".html", "<!doctype html>"), (".md", "# "), (".json", "{")):
        path = report.write(table, tmp_path / f"r{suffix}", name="Plain name")
        assert path.read_text(encoding="utf-8").startswith(start)
    with pytest.raises(ValueError, match=r"path must end in \.html, \.md or \.json"):
        report.write(table, tmp_path / "r.txt")
    with pytest.raises(ValueError, match="does not exist"):
        report.write(table, tmp_path / "missing" / "r.html")


def test_every_export_holds_each_finished_models_storage_table(table):
    """The dimensions-and-storage tables: JSON holds them whole, HTML and Markdown show each row."""
    from markdown_it import MarkdownIt

    assert list(table.storage) == ["static-64d", "all-MiniLM-L6-v2"]  # not the model that failed
    text = report.to_json(table)
    document = json.loads(text)
    back = report.from_json(text)
    rendered = MarkdownIt("commonmark").enable("table").render(report.to_markdown(table)).replace("\u2060", "")
    page = report.to_html(table)
    assert "<h2>Dimensions and storage</h2>" in rendered and "<h2>Dimensions and storage</h2>" in page
    for model, storage in table.storage.items():
        assert document["storage"][model] == json.loads(json.dumps(storage.to_plain()))
        pd.testing.assert_frame_equal(back.storage[model].table, storage.table)
        assert html.escape(storage.headline(), quote=False) in rendered
        assert html.escape(storage.headline(), quote=True) in page
    # one row per width × precision, with its bytes per vector (MiniLM: 5 widths, static-64d: 2)
    right = '<td style="text-align:right">'
    cells = re.findall(f"<tr>\n{right}(\\d+)</td>\n<td>(float32|int8|binary)</td>\n{right}([\\d,]+)</td>", rendered)
    expected = [
        (str(r.dims), r.precision, f"{r.bytes_per_vector:,}")
        for storage in table.storage.values()
        for r in storage.table.itertuples()
    ]
    assert cells == expected and len(cells) == 6 + 15
