"""The Memory Search page under AppTest: build from the example, search (one collection, merged,
filtered), a bad upload in one sentence with the previous upload kept, the evaluation table equal
to evaluate_memory's, and delete. Collections are the lesson's 3 traces (under three names)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import as_read
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab import memory
from embedlab.memory.evaluation import MERGED, evaluate_memory
from embedlab.memory.labelled import labelled_from_text

PAGE = "pages/memory_search.py"
HOSTILE = "stressed about work <img src=x onerror=alert(1)> [link](http://x) *bold*"
NOTES = b"note,topic,author\nBuy milk on the way home,errands,ana\nThe meeting moved to Friday,work,bo\n"


@pytest.fixture(scope="module", autouse=True)
def own_home(tmp_path_factory):
    """This module's own data directory: the collections listed are exactly the ones it builds
    (other test files build theirs in the session's shared one)."""
    before = os.environ.get("EMBEDLAB_HOME")
    os.environ["EMBEDLAB_HOME"] = str(tmp_path_factory.mktemp("memory-page-home"))
    yield
    if before is None:
        os.environ.pop("EMBEDLAB_HOME", None)
    else:
        os.environ["EMBEDLAB_HOME"] = before


def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=600)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


plain = as_read  # messages as a user reads them (tests/conftest.py)


def table(at: AppTest, *columns: str):
    """The first table shown with these columns (AppTest finds dataframes by content, not key)."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def hits(at: AppTest) -> dict:
    """The search results shown, by tab label ("Merged (2)", or a collection's name)."""
    return {tab.label: tab.dataframe[0].value for tab in at.tabs}


def build(at: AppTest, name: str, *, model: str = "all-MiniLM-L6-v2") -> AppTest:
    at.radio(key="memory_source").set_value("lesson-traces").run()
    at.text_input(key="memory_name").set_value(name).run()
    at.selectbox(key="memory_model").set_value(model).run()
    at.button(key="memory_build").click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def built():
    """The example built three times: twice with MiniLM, once with paraphrase-MiniLM-L3-v2."""
    at = open_page()
    for name, model in (("traces", "all-MiniLM-L6-v2"), ("traces-copy", "all-MiniLM-L6-v2")):
        build(at, name, model=model)
    build(at, "traces-l3", model="paraphrase-MiniLM-L3-v2")
    return at


def test_build_from_the_example_lists_the_collection(built):
    at = built
    assert not at.exception
    info = memory.collection_info("traces")
    assert (info.rows, info.model, info.id_column) == (3, "all-MiniLM-L6-v2", "id")
    assert "tools_used" in info.metadata_columns
    shown = table(at, "index", "model", "name")
    assert shown["name"].tolist() == [i.name for i in memory.list_collections()]
    assert set(shown["name"]) == {"traces", "traces-copy", "traces-l3"}
    assert shown.set_index("name").loc["traces-l3", "model"] == "paraphrase-MiniLM-L3-v2"
    done = plain(at.success)
    assert any(t.startswith("traces-l3: 3 memories with paraphrase-MiniLM-L3-v2") for t in done), done


def search(at: AppTest, names: list[str], text: str, k: int = 3) -> AppTest:
    at.multiselect(key="memory_search_collections").set_value(names).run()
    at.text_area(key="memory_query").set_value(text).run()
    at.number_input(key="memory_k").set_value(k).run()
    at.button(key="memory_search_run").click().run()
    assert not at.exception, at.exception
    return at


def test_search_one_collection_matches_numpy_ranks(built):
    at = search(built, ["traces"], HOSTILE)
    found = hits(at)["traces"]
    rows, vectors = memory.collection_vectors("traces")
    scores = vectors @ embedlab.encode([HOSTILE])[0]
    order = np.argsort(-scores, kind="stable")
    assert found["id"].tolist() == rows["id"].iloc[order].tolist()
    np.testing.assert_allclose(found["score"].to_numpy(float), scores[order], atol=1e-5)
    captions = plain(at.caption)
    assert f"Results for: {HOSTILE}" in captions  # the user's text, shown as typed
    assert any(c.startswith("Scores are cosine similarities") for c in captions)


def test_search_merged_says_how_the_scores_compare(built):
    at = search(built, ["traces", "traces-copy"], "I want to learn how to code python", k=4)
    merged = hits(at)["Merged (2)"]
    assert len(merged) == 4 and set(merged["collection"]) <= {"traces", "traces-copy"}
    assert merged["score"].is_monotonic_decreasing
    assert any(c.startswith("Merged by cosine") for c in plain(at.caption))
    at = search(at, ["traces", "traces-l3"], "I want to learn how to code python")
    assert any(c.startswith("Merged by reciprocal rank") for c in plain(at.caption))
    assert hits(at)["traces-l3"]["id"].iloc[0] == "1"


def test_filter_on_metadata(built):
    at = built
    at.multiselect(key="memory_search_collections").set_value(["traces"]).run()
    at.selectbox(key="memory_filter_column").set_value("tools_used").run()
    at.text_input(key="memory_filter_value").set_value("memory_search, summarizer").run()
    at = search(at, ["traces"], "What did I say last week?")
    assert hits(at)["traces"]["id"].tolist() == ["2"]
    at.selectbox(key="memory_filter_column").set_value(None).run()


def test_empty_context_asks_for_one_and_keeps_the_last_results(built):
    at = search(built, ["traces"], "I'm feeling stressed about my job")
    at.text_area(key="memory_query").set_value("   ").run()
    at.button(key="memory_search_run").click().run()
    assert "Type the current context to search with." in plain(at.warning)
    assert hits(at)["traces"]["id"].iloc[0] == "0"


def test_a_bad_upload_says_why_and_keeps_the_previous_one():
    at = open_page()
    at.radio(key="memory_source").set_value("upload").run()
    at.file_uploader(key="memory_upload").set_value(("notes.csv", NOTES, "text/csv")).run()
    assert not at.exception, at.exception
    assert "2 rows from notes.csv." in plain(at.caption)
    at.selectbox(key="memory_text_column").set_value("note").run()
    at.text_input(key="memory_name").set_value("my-notes").run()
    at.file_uploader(key="memory_upload").set_value(("broken.jsonl", b'{"text": "ok"}\n{not json\n', "")).run()
    assert not at.exception, at.exception
    errors = plain(at.error)
    assert errors == ["Line 2 of broken.jsonl is not valid JSON (Expecting property name enclosed in double quotes)."]
    # what was there stays: the previous file, its columns and the name typed
    assert "2 rows from notes.csv." in plain(at.caption)
    assert at.selectbox(key="memory_text_column").value == "note"
    assert at.text_input(key="memory_name").value == "my-notes"
    at.button(key="memory_build").click().run()
    assert not at.exception, at.exception
    rows = memory.collection_rows("my-notes")
    assert rows["text"].tolist() == ["Buy milk on the way home", "The meeting moved to Friday"]
    assert rows["id"].tolist() == ["0", "1"] and {"topic", "author"} <= set(rows.columns)


def test_upload_without_text_is_refused_in_one_sentence():
    at = open_page()
    at.radio(key="memory_source").set_value("upload").run()
    at.file_uploader(key="memory_upload").set_value(("empty.csv", b"", "text/csv")).run()
    assert plain(at.error) == ["empty.csv is empty."]  # and nothing to build from: no build form

    assert not [b for b in at.button if b.key == "memory_build"]


LABELLED = """I'm feeling stressed about my job | traces | 0
I want to learn how to code python | traces | 1
What did I mention last Tuesday? | traces | 2
What did I mention last Tuesday? | traces-l3 | 2
I want to learn a new skill | traces-l3 | 1"""


def test_evaluation_table_matches_evaluate_memory(built):
    at = built
    at.radio(key="memory_labelled_source").set_value("paste").run()
    at.text_area(key="memory_labelled_paste").set_value(LABELLED).run()
    at.multiselect(key="memory_eval_models").set_value(["static-64d"]).run()
    at.number_input(key="memory_eval_k").set_value(2).run()
    at.button(key="memory_eval_run").click().run()
    assert not at.exception, at.exception
    shown = table(at, "own", "method")
    expected = evaluate_memory(labelled_from_text(LABELLED), None, k=2, models=["static-64d"]).table
    assert shown[["collection", "model", "method", "queries"]].values.tolist() == (
        expected[["collection", "model", "method", "queries"]].values.tolist()
    )
    np.testing.assert_allclose(
        shown[["accuracy@1", "accuracy@2", "MRR@2"]].to_numpy(float),
        expected[["accuracy@1", "accuracy@2", "MRR@2"]].to_numpy(float),
    )
    assert MERGED in shown["collection"].tolist()
    per_query = table(at, "expected id", "searched")
    assert len(per_query) == len(at.session_state["memory_evaluation"].per_query)
    assert any(t.startswith(("static-64d serves", "all-MiniLM", "paraphrase", "No one model")) for t in plain(at.info))


def test_bad_labelled_lines_keep_the_text(built):
    at = built
    at.radio(key="memory_labelled_source").set_value("paste").run()
    text = "I'm feeling stressed | traces | 0\njust a query without parts"
    at.text_area(key="memory_labelled_paste").set_value(text).run()
    assert plain(at.error) == ["Line 2 needs three parts, query | collection | id; it has 1."]
    assert at.text_area(key="memory_labelled_paste").value == text
    assert at.button(key="memory_eval_run").disabled
    at.text_area(key="memory_labelled_paste").set_value("I'm feeling stressed | nowhere | 0").run()
    at.button(key="memory_eval_run").click().run()
    assert not at.exception, at.exception
    assert any("no collection named 'nowhere'" in e for e in plain(at.error))


def test_a_model_change_is_refused_then_rebuilt_when_asked(built):
    at = build(built, "traces-copy", model="paraphrase-MiniLM-L3-v2")
    errors = plain(at.error)
    assert len(errors) == 1 and errors[0].startswith(
        "Collection 'traces-copy' was built with all-MiniLM-L6-v2; building it with paraphrase-MiniLM-L3-v2 would mix"
    )
    assert memory.collection_info("traces-copy").model == "all-MiniLM-L6-v2"  # intact
    assert at.text_input(key="memory_name").value == "traces-copy"  # nothing typed is lost
    at.checkbox(key="memory_rebuild").check().run()
    at.button(key="memory_build").click().run()
    assert not at.exception, at.exception
    assert memory.collection_info("traces-copy").model == "paraphrase-MiniLM-L3-v2"
    at.checkbox(key="memory_rebuild").uncheck().run()


def test_delete_removes_the_collection(built):
    at = built
    at.selectbox(key="memory_delete_choice").set_value("traces-copy").run()
    at.button(key="memory_delete").click().run()
    assert not at.exception, at.exception
    assert "traces-copy was deleted." in plain(at.info)
    assert "traces-copy" not in [i.name for i in memory.list_collections()]
