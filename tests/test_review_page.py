"""The Model Review page under AppTest: run, bad input, save, links, damage, stop, compare, delete.

Oracles: embedlab.evaluate_retrieval on the same prepared data, the ReviewStore file itself
(what the page saved, updated or deleted), sqlite3 (a corrupt record).
"""

from __future__ import annotations

import dataclasses
import sqlite3

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab.markup import markdown_literal
from embedlab.retrieval import traces
from embedlab.reviewing.run import review
from embedlab.reviewing.store import ReviewStore
from ui.state import QUERIES_KEY, TRACES_KEY

PAGE = "pages/model_review.py"
CORPUS = ["a short text to time", "another short text"] * 3


@pytest.fixture(scope="module")
def table():
    return review(["static-64d"], corpus=CORPUS, repeats=1)


def open_page(query: dict | None = None, **state) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.run()
    for key, value in state.items():
        at.session_state[key] = value
    if query:
        at.query_params.update(query)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The shown table that has ``column`` (AppTest finds dataframes by position, not key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_run_marks_a_failing_model_and_the_rest_completes_then_save(tmp_path):
    at = open_page()
    at.multiselect(key="review_models").set_value(["static-64d", "BAAI/bge-large-en-v1.5"])
    at.number_input(key="review_repeats").set_value(1)
    at.radio(key="review_sentence_source").set_value("none")
    at.button(key="review_run").click().run()
    assert not at.exception, at.exception
    current = at.session_state["review_current"]
    assert current.table["model"].tolist() == ["static-64d", "BAAI/bge-large-en-v1.5"]
    assert current.table["status"].tolist() == ["ok", "failed"]
    shown = markdown_literal("BAAI/bge-large-en-v1.5")  # the model name, literal
    assert any(shown in w and "could not load" in w for w in texts(at.warning))
    assert current.decision.labels == {"static-64d": "start here", "BAAI/bge-large-en-v1.5": "failed"}
    assert current.table["verdict"].tolist() == ["start here", "failed"]
    # the page's figure is the Trace Retrieval core's figure on the same (lesson) data
    lesson = traces.prepare(traces.trace_table(), traces.query_table())
    theirs = embedlab.evaluate_retrieval(
        lesson.queries, lesson.texts, lesson.expected, ids=lesson.ids, model="static-64d", k=5
    )
    assert current.table.iloc[0]["accuracy"] == theirs.accuracy and current.table.iloc[0]["mrr"] == theirs.mrr
    assert len(at.get("plotly_chart")) >= 1
    assert any("Upgrade if" in m for m in texts(at.markdown))

    # saving without a name: a clear message, nothing saved, nothing lost
    before = len(ReviewStore().reviews())
    at.button(key="review_save").click().run()
    assert not at.exception
    assert any("Name must not be empty" in e for e in texts(at.error))
    assert len(ReviewStore().reviews()) == before
    assert at.session_state["review_current"] is not None

    at.text_input(key="review_name").set_value("Page review <b>one</b>")
    at.text_input(key="review_decision").set_value("Use static-64d")
    at.text_area(key="review_notes").set_value("Checked on the lesson's data.")
    at.button(key="review_save").click().run()
    assert not at.exception, at.exception
    review_id = int(at.query_params["review"])
    saved = ReviewStore().load(review_id)
    assert saved.name == "Page review <b>one</b>" and saved.decision_text == "Use static-64d"
    pd.testing.assert_frame_equal(saved.table, current.table)
    assert saved.decision == current.decision
    assert any(f"Saved as review #{review_id}" in s for s in texts(at.success))
    assert any(f"Review #{review_id}" in h for h in texts(at.subheader))


def test_a_link_reopens_the_saved_review(table):
    review_id = ReviewStore().save(table, name="Linked review", notes="From a link", decision="Use it")
    at = open_page({"review": str(review_id)})
    current = at.session_state["review_current"]
    assert current.review_id == review_id
    pd.testing.assert_frame_equal(current.table, table.table)
    assert any(f"Review #{review_id}: Linked review" == h for h in texts(at.subheader))
    assert at.text_input(key="review_name").value == "Linked review"
    assert at.text_area(key="review_notes").value == "From a link"
    # the reviewer changes the notes and updates the saved review
    at.text_area(key="review_notes").set_value("Updated after the meeting")
    at.button(key="review_update").click().run()
    assert not at.exception, at.exception
    assert ReviewStore().load(review_id).notes == "Updated after the meeting"


@pytest.mark.parametrize("wanted", ["99999", "abc"])
def test_an_unknown_id_in_a_link_gives_a_clear_message(wanted):
    at = open_page({"review": wanted})
    assert any("No saved review has id" in e for e in texts(at.error))
    assert "review_current" not in at.session_state


def test_a_deleted_review_from_a_link_gives_a_clear_message(table):
    store = ReviewStore()
    review_id = store.save(table, name="Soon gone")
    store.delete(review_id)
    at = open_page({"review": str(review_id)})
    assert any(f"No saved review has id {review_id}" in e for e in texts(at.error))


def test_a_corrupt_record_gives_a_clear_message_and_the_others_still_load(table):
    store = ReviewStore()
    good = store.save(table, name="Still fine")
    bad = store.save(table, name="Will break")
    connection = sqlite3.connect(store.path)
    with connection:
        connection.execute("UPDATE reviews SET document = 'garbage{' WHERE id = ?", (bad,))
    connection.close()
    at = open_page({"review": str(bad)})
    assert any(f"Saved review {bad}" in e and "damaged" in e for e in texts(at.error))
    listed = frame_with(at, "damaged").set_index("id")
    assert bool(listed.loc[bad, "damaged"]) and not bool(listed.loc[good, "damaged"])
    at.selectbox(key="review_pick").set_value(good)
    at.button(key="review_open").click().run()
    assert not at.exception, at.exception
    assert at.session_state["review_current"].review_id == good
    assert at.query_params["review"] == str(good)
    store.delete(bad)


def test_a_stopped_run_keeps_the_models_that_finished(table):
    partial = dataclasses.replace(table)
    at = open_page(review_running=True, review_partial=partial)
    assert any("The review was stopped" in w for w in texts(at.warning))
    current = at.session_state["review_current"]
    assert current.stopped is True
    assert current.table["model"].tolist() == ["static-64d"]


def test_the_trace_retrieval_pages_tables_are_the_review_data():
    trace_rows = [
        {"id": "a", "query_pattern": "User cannot sleep", "approach": "Sleep tips", "tools_used": "coach"},
        {"id": "b", "query_pattern": "User plans a trip", "approach": "Book travel", "tools_used": "planner"},
    ]
    queries = traces.query_table(["I keep waking up at night", "Flights to Rome?"], ["a", "b"])
    at = open_page(**{TRACES_KEY: traces.trace_table(trace_rows), QUERIES_KEY: queries})
    assert at.radio(key="review_retrieval_source").value == "page"
    assert any("2 queries against 2 traces, from the Trace Retrieval page" in c for c in texts(at.caption))
    at.multiselect(key="review_models").set_value(["static-64d"])
    at.number_input(key="review_repeats").set_value(1)
    at.radio(key="review_sentence_source").set_value("none")
    at.button(key="review_run").click().run()
    assert not at.exception, at.exception
    current = at.session_state["review_current"]
    assert (current.settings["n_traces"], current.settings["n_queries"]) == (2, 2)
    prepared = traces.prepare(traces.trace_table(trace_rows), queries)
    theirs = embedlab.evaluate_retrieval(
        prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids, model="static-64d"
    )
    assert current.table.iloc[0]["accuracy"] == theirs.accuracy and current.table.iloc[0]["mrr"] == theirs.mrr


def test_bad_pasted_sentences_and_an_empty_corpus_give_clear_messages():
    at = open_page()
    at.multiselect(key="review_models").set_value(["static-64d"])
    at.radio(key="review_corpus_source").set_value("paste")
    at.radio(key="review_sentence_source").set_value("paste").run()
    at.text_area(key="review_sentences_paste").set_value("no labels here\nnor here")
    at.button(key="review_run").click().run()
    assert not at.exception, at.exception
    errors = texts(at.error)
    assert any("benchmark corpus is empty" in e for e in errors)
    assert any("at least two labels" in e for e in errors)
    assert "review_current" not in at.session_state


def test_compare_two_saved_reviews_and_delete_one(table):
    store = ReviewStore()
    other = review(["static-64d"], corpus=["different corpus text"] * 3, repeats=1, k=3)
    first = store.save(table, name="Compare A")
    second = store.save(other, name="Compare B")
    at = open_page()
    at.selectbox(key="review_compare_a").set_value(first)
    at.selectbox(key="review_compare_b").set_value(second).run()
    assert not at.exception, at.exception
    compared = frame_with(at, "texts_per_s A")
    assert compared["model"].tolist() == ["static-64d"]
    assert compared.iloc[0]["texts_per_s A"] == table.table.iloc[0]["texts_per_s"]
    assert compared.iloc[0]["texts_per_s B"] == other.table.iloc[0]["texts_per_s"]
    assert any("different benchmark corpus" in i for i in texts(at.info))

    at.selectbox(key="review_pick").set_value(second)
    at.button(key="review_delete").click().run()
    assert not at.exception, at.exception
    assert second not in store.reviews()["id"].tolist()
    assert any(f"Deleted review #{second}" in s for s in texts(at.success))
