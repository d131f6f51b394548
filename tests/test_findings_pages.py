"""Issue #13's findings on the pages, under AppTest: the true count of skipped rows on Model Review (3),
colours that follow "Colour by" (5), neighbour tables that show the score first (6), counts with their
plural and a model's "cannot run here" said once (13), the chance level of "nearest neighbour kept" (17),
and one rounding rule on the Trace Retrieval page (8).

Oracles: embedlab.retrieval.traces.prepare (the true count), the catalog's own reason, the lesson's
sixteen sentences' labels, and embedlab.formatting.percent of the figures the core computed.
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from conftest import as_read
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab import seed
from embedlab.formatting import percent
from embedlab.maps import pipeline
from embedlab.retrieval import traces
from ui.state import FIGURES_KEY, QUERIES_KEY, TRACES_KEY


@pytest.fixture(autouse=True)
def cold_streamlit_cache():
    st.cache_data.clear()
    pipeline.clear_cache()


def open_app(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=300)
    if page is None:
        at.run()
    for key, value in state.items():
        at.session_state[key] = value
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


shown = as_read  # messages as a user reads them (tests/conftest.py)


def everything(at: AppTest) -> list[str]:
    return [m for kind in (at.error, at.warning, at.info, at.caption, at.success) for m in shown(kind)]


def draw(at: AppTest, text: str | None = None) -> AppTest:
    if text is not None:
        at.text_area(key="space_sentences").set_value(text)
    at.button(key="space_go").click().run()
    assert not at.exception, at.exception
    return at


def legend(at: AppTest) -> list[str]:
    data = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    return [t["name"] for t in data if t.get("showlegend")]


# ------------------------------------------------------------------ 3: Model Review counts every skipped row
def test_model_review_counts_every_skipped_trace_row():
    rows = [{"id": str(i), "query_pattern": f"User asks {i}", "approach": "", "tools_used": "t"} for i in range(30)]
    rows.append({"id": "ok", "query_pattern": "User cannot sleep", "approach": "Sleep tips", "tools_used": "coach"})
    table = traces.trace_table(rows)
    queries = traces.query_table(["I keep waking up at night"], ["ok"])
    oracle = traces.prepare(table, queries)
    assert oracle.skipped_traces == 30 and len(oracle.problems) == traces.MAX_LISTED + 1
    at = open_app("pages/model_review.py", **{TRACES_KEY: table, QUERIES_KEY: queries})
    assert at.radio(key="review_retrieval_source").value == "page"
    (box,) = [m for m in shown(at.warning) if "skipped" in m]
    assert box.startswith("30 trace rows skipped")


# ------------------------------------------------------------------ 5: colours follow "Colour by"
def test_a_labelled_map_after_an_unlabelled_one_is_coloured_by_label_and_says_so():
    at = open_app()
    draw(at, "\n".join(seed.SENTENCES))  # no labels
    at.selectbox(key="space_color_by").set_value("none").run()
    assert legend(at) == []
    draw(at, "\n".join(f"{label} | {text}" for label, text in seed.LABELLED_SENTENCES))
    labels = list(dict.fromkeys(seed.LABELS))
    assert at.selectbox(key="space_color_by").value == "label"
    assert legend(at) == labels
    at.slider(key="space_point_size").set_value(12).run()  # the next interaction keeps them
    assert at.selectbox(key="space_color_by").value == "label"
    assert legend(at) == labels


# ------------------------------------------------------------------ 6: the score and label before the sentence
def test_neighbour_and_search_tables_show_score_and_label_first():
    at = open_app()
    at.text_input(key="space_query").set_value("A kitten naps on the sofa").run()
    picker = next(w for w in at.selectbox if str(w.key).startswith("space_pick-"))
    picker.set_value(0).run()
    assert not at.exception, at.exception
    for key in ("neighbours", "search_results"):
        frame = at.container("space_" + key).dataframe[0]
        assert list(frame.value.columns) == ["cosine", "label", "sentence"], key
        config = frame.proto.columns
        assert "sentence" in config and '"width":"large"' in config.replace(" ", "")


# ------------------------------------------------------------------ 13: plurals, and why a model cannot run said once
def test_one_sentence_in_one_label_reads_as_one():
    at = open_app()
    at.text_area(key="space_sentences").set_value("Animals | The cat sits on the mat").run()
    assert any(m.startswith("1 sentence in 1 label ·") for m in shown(at.caption)), shown(at.caption)


def test_a_model_that_cannot_run_says_why_once():
    at = open_app()
    at.selectbox(key="space_model").set_value("BAAI/bge-large-en-v1.5")
    draw(at)
    info = next(m for m in embedlab.list_models() if m.name == "BAAI/bge-large-en-v1.5")
    assert not info.available
    said = " | ".join(everything(at))
    assert said.count(info.reason) == 1, said
    assert "cannot run here" in said and "The map below is the last one drawn" in said


# ------------------------------------------------------------------ 17: the chance level beside "nearest neighbour kept"
def test_nearest_neighbour_kept_shows_its_chance_level():
    at = open_app()
    assert any(m.startswith(f"By chance: {percent(10 / 15)}") for m in shown(at.caption)), shown(at.caption)


# ------------------------------------------------------------------ 8: the Trace Retrieval page's one rule
def test_trace_retrieval_summary_and_caption_use_the_one_rule():
    at = open_app("pages/trace_retrieval.py")
    at.multiselect(key="retrieval_models").set_value([embedlab.DEFAULT_MODEL, "static-64d"])
    at.button(key="retrieval_run").click().run()
    assert not at.exception, at.exception
    figures = at.session_state[FIGURES_KEY]
    summary = next(d for d in at.dataframe if "MRR@5" in d.value.columns)
    for row, model in zip(summary.value.itertuples(), figures, strict=True):
        assert "{:.1f}%".format(row[summary.value.columns.get_loc("MRR@5") + 1]) == percent(figures[model].mrr)
    best = next(m for m in shown(at.caption) if m.startswith("Best here"))
    chosen = next(f for f in figures.values() if f.model in best)
    assert f"{percent(chosen.accuracy)} top-1, MRR {percent(chosen.mrr)}" in best


# ------------------------------------------------------------------ 2: Model Review times speed on the user's own texts
def test_model_review_times_speed_on_the_uploaded_traces_and_queries():
    rows = [
        {
            "id": f"t{i}",
            "query_pattern": f"User asks about topic {i}",
            "approach": f"Explain topic {i}",
            "tools_used": "docs",
        }
        for i in range(8)
    ]
    queries = [{"query": f"tell me about topic {i}", "expected_id": f"t{i}"} for i in (1, 4, 6)]
    at = open_app("pages/trace_retrieval.py")
    at.file_uploader(key="traces_upload").upload("traces.json", json.dumps(rows).encode(), "application/json").run()
    at.file_uploader(key="queries_upload").upload(
        "queries.json", json.dumps(queries).encode(), "application/json"
    ).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.switch_page("pages/model_review.py").run()
    assert not at.exception, at.exception
    oracle = traces.prepare(
        traces.trace_table(rows), traces.query_table([q["query"] for q in queries], ["t1", "t4", "t6"])
    )
    own = [*oracle.texts, *oracle.queries]  # 11 texts: cycled to 100, as a handful times too quickly
    timed = [own[i % len(own)] for i in range(100)]
    assert at.radio(key="review_retrieval_source").value == "page"
    assert at.radio(key="review_corpus_source").value == "review"  # the default: the texts reviewed
    said = "Speed measured on the traces and queries reviewed, cycled to 100: 100 texts (11 distinct)."
    assert said in shown(at.caption)
    at.multiselect(key="review_models").set_value(["static-64d"])
    at.number_input(key="review_repeats").set_value(1)
    at.radio(key="review_sentence_source").set_value("none")
    at.button(key="review_run").click().run()
    assert not at.exception, at.exception
    result = at.session_state["review_current"]
    assert result.settings["corpus_source"] == "review" and result.settings["n_corpus"] == 100
    assert result.settings["distinct_corpus"] == len(set(own)) == 11
    import hashlib

    assert result.fingerprint["corpus"] == hashlib.sha256(json.dumps([timed]).encode()).hexdigest()[:16]
    assert any(
        "speed measured on the traces and queries reviewed, cycled to 100: 100 texts" in m for m in shown(at.caption)
    )

    # the other choices: the lesson's texts, and an uploaded file (a table: its text column)
    at.radio(key="review_corpus_source").set_value("upload").run()
    at.file_uploader(key="review_corpus_upload").upload(
        "bench.csv", b"n,text\n1,alpha beta\n2,gamma\n3,alpha beta\n", "text/csv"
    ).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Speed measured on bench.csv, column text: 3 texts (2 distinct)." in shown(at.caption)
    at.button(key="review_run").click().run()
    result = at.session_state["review_current"]
    assert (result.settings["corpus_source"], result.settings["corpus_name"]) == ("given", "bench.csv, column text")
    assert result.settings["n_corpus"] == 3


def test_a_bad_benchmark_corpus_file_is_said_plainly_and_nothing_runs():
    at = open_app("pages/model_review.py")
    at.radio(key="review_corpus_source").set_value("upload").run()
    at.button(key="review_run").click().run()
    assert "Upload a file with the texts to time, or choose another benchmark corpus." in shown(at.error)
    at.file_uploader(key="review_corpus_upload").upload("x.json", b"{not json", "application/json").run()
    assert any(m.startswith("x.json is not valid JSON") for m in shown(at.error)), shown(at.error)
    at.button(key="review_run").click().run()
    assert not at.exception, at.exception
    said = shown(at.error)
    assert "The file x.json cannot be used as the benchmark corpus (see the message under it)." in said
    assert sum(m.startswith("x.json is not valid JSON") for m in said) == 1  # said once
    assert "review_current" not in at.session_state
