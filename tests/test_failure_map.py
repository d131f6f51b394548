"""Retrieval failures on the map: the figure's lines connect the right points, its hover texts hold
the per-query table's scores (escaped), and the Trace Retrieval page highlights a selected query.

Oracles: the per-query table (figures.per_query_table: which trace each query got and should have
got, both scores), embedlab.project on the stacked vectors (the points), scikit-learn's
cosine_similarity (which of several right traces scores best), html.escape.
"""

from __future__ import annotations

import base64
import html
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import cosine_similarity
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab.retrieval import traces
from embedlab.retrieval.failure_map import failure_figure, failure_map, selected_query
from embedlab.retrieval.figures import per_query_table

HOSTILE = "<b>I'm feeling stressed</b> & about my job"


def values(array) -> np.ndarray:
    """A plotly array as numbers, whether plain or base64 (``{"dtype", "bdata"}``, as plotly 7 writes it)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray([np.nan if v is None else v for v in array], dtype=np.float64)


def traces_by_name(spec: dict) -> dict[str, dict]:
    return {t["name"]: t for t in spec["data"]}


@pytest.fixture(scope="module")
def lesson():
    """The lesson's traces; the first query made hostile and pointed at the wrong trace; one query
    with two right traces."""
    queries = traces.query_table()
    queries.loc[0, "query"] = HOSTILE
    queries.loc[0, "expected_id"] = "1"
    queries.loc[2, "expected_id"] = "0|1"
    prepared = traces.prepare(traces.trace_table(), queries)
    result = embedlab.evaluate_retrieval(prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids)
    vectors = embedlab.encode(prepared.queries), embedlab.encode(prepared.texts)
    return prepared, result, vectors


def check_figure(spec: dict, table, ids: list, points: np.ndarray, expected_positions: list[int]) -> None:
    """Lines and hover texts of a failure map's JSON against the per-query table."""
    n_queries = len(table)
    found = traces_by_name(spec)
    # markers: traces in corpus order, queries by position, at the projected points
    corpus = found["traces"]
    assert values(corpus["customdata"]).tolist() == list(range(len(ids)))
    np.testing.assert_array_equal(values(corpus["x"]), points[n_queries:, 0])
    np.testing.assert_array_equal(values(corpus["y"]), points[n_queries:, 1])
    wrong = [i for i in range(n_queries) if not table["correct"][i]]
    assert wrong, "the data must have a failure to draw"
    assert values(found["wrong at top-1"]["customdata"]).tolist() == wrong
    got, should = found["got (top-1)"], found["should have got"]
    for n, q in enumerate(wrong):
        row = table.iloc[q]
        top = ids.index(row["top-1"])
        segment = slice(3 * n, 3 * n + 2)
        np.testing.assert_allclose(values(got["x"])[segment], [points[q, 0], points[n_queries + top, 0]])
        np.testing.assert_allclose(values(got["y"])[segment], [points[q, 1], points[n_queries + top, 1]])
        target = n_queries + expected_positions[q]
        np.testing.assert_allclose(values(should["x"])[segment], [points[q, 0], points[target, 0]])
        np.testing.assert_allclose(values(should["y"])[segment], [points[q, 1], points[target, 1]])
        for hover in (*got["hovertext"][segment], *should["hovertext"][segment]):
            assert html.escape(row["query"], quote=False) in hover
            assert f"got trace {row['top-1']} · {row['top score']:.3f}" in hover
            assert f"should have got trace {ids[expected_positions[q]]} · {row['expected score']:.3f}" in hover
    assert got["line"]["dash"] == "solid" and should["line"]["dash"] == "dash"


def test_lines_connect_each_wrong_query_to_what_it_got_and_should_have_got(lesson):
    prepared, result, (queries, corpus) = lesson
    fmap = failure_map(result, queries, corpus, ids=prepared.ids, corpus_texts=prepared.texts)
    spec = json.loads(failure_figure(fmap).to_json())
    points = embedlab.project(np.vstack([queries, corpus]), method="pca", random_state=42)
    table = per_query_table(result)
    # query 2 has two right traces (0 and 1) and gets neither: its dashed line goes to the one that scores higher
    similarity = cosine_similarity(queries, corpus)
    expected = [prepared.ids.index(str(e)) for e in ["1", "1", "0"]]
    expected[2] = [0, 1][int(np.argmax(similarity[2, [0, 1]]))]
    check_figure(spec, table, prepared.ids, points, expected)
    assert not table["correct"][0] and not table["correct"][2]
    # user text stays text: the hostile query is escaped everywhere
    everything = json.dumps(spec)
    assert "<b>I'm feeling" not in everything and "&lt;b&gt;I'm feeling stressed&lt;/b&gt; &amp; about" in everything
    assert "selected query" not in traces_by_name(spec)


def test_a_highlighted_query_is_ringed_with_thick_lines(lesson):
    prepared, result, vectors = lesson
    fmap = failure_map(result, *vectors, ids=prepared.ids)
    found = traces_by_name(json.loads(failure_figure(fmap, highlight=0).to_json()))
    ring = found["selected query"]
    np.testing.assert_allclose(values(ring["x"]), fmap.query_points[[0], 0])
    assert values(ring["customdata"]).tolist() == [0]
    assert found["selected: got (top-1)"]["line"]["width"] > found["got (top-1)"]["line"]["width"]
    top = prepared.ids.index(str(result.per_query["top_id"][0]))
    np.testing.assert_allclose(
        values(found["selected: got (top-1)"]["x"])[:2], [fmap.query_points[0, 0], fmap.corpus_points[top, 0]]
    )
    assert "selected: should have got" in found
    with pytest.raises(ValueError, match="highlight must be a query position between 0 and 2, got 3"):
        failure_figure(fmap, highlight=3)


def test_tsne_bad_arguments_and_the_table_selection(lesson):
    prepared, result, vectors = lesson
    fmap = failure_map(result, *vectors, ids=prepared.ids, method="tsne")
    assert fmap.method.startswith("t-SNE") and fmap.query_points.shape == (3, 2)
    with pytest.raises(ValueError, match="method must be one of 'pca', 'tsne'"):
        failure_map(result, *vectors, ids=prepared.ids, method="umap")
    with pytest.raises(ValueError, match=r"query_vectors must have one row per query \(3\), got 2"):
        failure_map(result, vectors[0][:2], vectors[1], ids=prepared.ids)
    # a selected row of a filtered table names the query at that row
    shown = pd.Index([0, 2])
    assert selected_query([1], shown) == 2 and selected_query([], shown) is None and selected_query([5], shown) is None


# -- the page ----------------------------------------------------------------------------------------
def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.switch_page("pages/trace_retrieval.py").run()
    assert not at.exception, at.exception
    return at


def map_spec(at: AppTest) -> dict:
    (chart,) = [c for c in at.get("plotly_chart") if "queries and traces" in c.proto.spec]
    return json.loads(chart.proto.spec)


def test_the_page_draws_the_failure_map_and_highlights_a_selected_query():
    at = open_page()
    # the lesson's data has no failure: point the first query at another trace
    at.session_state["queries_editor"] = {
        "edited_rows": {0: {"expected_id": "1"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.button(key="retrieval_run").click().run()
    assert not at.exception, at.exception
    queries = traces.query_table()
    queries.loc[0, "expected_id"] = "1"
    prepared = traces.prepare(traces.trace_table(), queries)
    oracle = embedlab.evaluate_retrieval(prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids)
    table = per_query_table(oracle)
    vectors = np.vstack([embedlab.encode(prepared.queries), embedlab.encode(prepared.texts)])
    points = embedlab.project(vectors, method="pca", random_state=42)
    expected = [prepared.ids.index(e) for e in table["expected"]]
    spec = map_spec(at)
    check_figure(spec, table, prepared.ids, points, expected)
    assert "selected query" not in traces_by_name(spec)

    # a click on the first row of the per-query table (single-row selection) rings that query
    key = f"retrieval_per_query_{embedlab.DEFAULT_MODEL}"
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    ring = traces_by_name(map_spec(at))["selected query"]
    np.testing.assert_allclose(values(ring["x"]), points[[0], 0])
    assert values(ring["customdata"]).tolist() == [0]
    # only the failing queries shown: that table has its own selection (none yet), so nothing is ringed
    at.toggle(key="retrieval_failing_only").set_value(True).run()
    assert not at.exception and "selected query" not in traces_by_name(map_spec(at))
