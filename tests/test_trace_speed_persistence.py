"""Issue 13, finding 4: a reload loses nothing on the Trace Retrieval and Speed Benchmark pages.

Each test fills a page's inputs in one AppTest session, then opens a NEW session with the same
workspace (``at.query_params["ws"]``, as a reload or the link in another tab does) and checks that
every input is back, compared with what was typed and uploaded (the oracle: the original values,
and for tables the uploaded file read with pandas and the edit applied by hand).
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from conftest import as_read, open_app, workspace_of

import embedlab
from embedlab.retrieval import traces
from embedlab.workspace import Workspace
from ui.state import FIGURES_KEY, QUERIES_KEY, TEMPLATE_KEY, TRACES_KEY

TRACE_PAGE = "pages/trace_retrieval.py"
SPEED_PAGE = "pages/speed_benchmark.py"

TRACES_CSV = (
    "id,query_pattern,approach,tools_used\n"
    "sleep,User cannot sleep,Suggest a wind-down routine,sleep_coach\n"
    'work,User is stressed about work deadlines,Break the tasks into small steps,"planner, empathy_engine"\n'
    "memo,User asks what they said last week,Search past conversations,memory_search\n"
)
QUERIES = [
    {"query": "I keep waking up at 3am", "expected_id": "sleep"},
    {"query": "My deadlines are crushing me", "expected_id": "work"},
    {"query": "What did I tell you on Monday?", "expected_id": "memo"},
]
EDITED_QUERY = "Everything is due tomorrow <b>help</b>"
TEMPLATE = "Query: {query_pattern}\nApproach: {approach}"
CORPUS_CSV = (
    "id,summary,title\n"
    '1,"User asks about a past conversation",first\n'
    "2,Bot suggested a plan,second\n"
    "3,<i>three</i> & more,third\n"
)
PASTED = "User felt relieved after discussing the plan\nBot reminded user to take breaks\n<b>bold</b> & more"


@pytest.fixture(autouse=True)
def widgets_get_their_value_once(monkeypatch, caplog):
    """A restored widget is drawn without its own value: Streamlit's warning about a widget given
    both a default and a Session State value (logged once per process, so re-armed here) never comes."""
    from streamlit.elements.lib import policies

    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    yield
    duplicated = [r.getMessage() for r in caplog.records if "created with a default value but also" in r.getMessage()]
    assert not duplicated


readable = as_read  # messages as a user reads them (tests/conftest.py)


def cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    return [str(c) for c in frame.columns], frame.fillna("").astype(str).values.tolist()


# ------------------------------------------------------------------ Trace Retrieval
def test_trace_inputs_tables_and_figures_come_back_in_a_new_session():
    at = open_app(TRACE_PAGE)
    workspace_id = workspace_of(at)
    at.file_uploader(key="traces_upload").upload("traces.csv", TRACES_CSV.encode(), "text/csv").run()
    at.file_uploader(key="queries_upload").upload("queries.json", json.dumps(QUERIES).encode(), "application/json")
    at.run()
    at.session_state["queries_editor"] = {
        "edited_rows": {1: {"query": EDITED_QUERY}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.text_area(key=TEMPLATE_KEY).set_value(TEMPLATE).run()
    at.multiselect(key="retrieval_models").set_value(["static-64d", embedlab.DEFAULT_MODEL]).run()
    at.number_input(key="retrieval_k").set_value(2).run()
    at.slider(key="retrieval_threshold").set_value(60).run()
    at.text_input(key="retrieval_own_name").set_value("my copy").run()
    at.button(key="retrieval_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    figures = dict(at.session_state[FIGURES_KEY])
    assert list(figures) == ["static-64d", embedlab.DEFAULT_MODEL]
    at.toggle(key="retrieval_failing_only").set_value(True).run()

    # the oracle: the uploaded files as pandas reads them, with the edit applied by hand
    traces_typed = pd.read_csv(io.StringIO(TRACES_CSV), dtype=str)
    queries_typed = pd.DataFrame(QUERIES)
    queries_typed.loc[1, "query"] = EDITED_QUERY

    again = open_app(TRACE_PAGE, workspace_id)
    assert workspace_of(again) == workspace_id
    assert cells(again.data_editor(key="traces_editor").value) == cells(traces_typed)
    assert cells(again.data_editor(key="queries_editor").value) == cells(queries_typed)
    assert cells(again.session_state[TRACES_KEY]) == cells(traces_typed)
    assert cells(again.session_state[QUERIES_KEY]) == cells(queries_typed)
    captions = readable(again.caption)
    assert "Restored from this workspace: traces.csv, 3 rows — upload another file to replace it." in captions
    assert "Restored from this workspace: queries.json, 3 rows — upload another file to replace it." in captions
    assert again.text_area(key=TEMPLATE_KEY).value == TEMPLATE
    assert again.multiselect(key="retrieval_models").value == ["static-64d", embedlab.DEFAULT_MODEL]
    assert again.number_input(key="retrieval_k").value == 2
    assert again.slider(key="retrieval_threshold").value == 60
    assert again.text_input(key="retrieval_own_name").value == "my copy"
    # the last evaluation's figures, for this page and the others
    assert dict(again.session_state[FIGURES_KEY]) == figures
    (note,) = [m for m in readable(again.info) if m.startswith("Last evaluation in this workspace")]
    assert "static-64d" in note and "changed since" not in note
    assert not again.error

    # evaluating the restored inputs gives what evaluate_retrieval gives on the typed ones
    again.button(key="retrieval_run").click().run()
    assert not again.exception
    prepared = traces.prepare(traces.trace_table(traces_typed), traces.query_table(queries_typed), TEMPLATE)
    for model in ("static-64d", embedlab.DEFAULT_MODEL):
        oracle = embedlab.evaluate_retrieval(
            prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids, model=model, k=2
        )
        got = again.session_state[FIGURES_KEY][model]
        assert (got.accuracy, got.mrr, got.n_corpus, got.k) == (oracle.accuracy, oracle.mrr, 3, 2)
        assert got == figures[model]
    assert again.toggle(key="retrieval_failing_only").value is True  # drawn with the results

    # "Drop it" goes back to the lesson's table, and the workspace forgets the upload
    again.button(key="traces_drop").click().run()
    assert not again.exception
    assert cells(again.session_state[TRACES_KEY]) == cells(traces.trace_table())
    third = open_app(TRACE_PAGE, workspace_id)
    assert cells(third.session_state[TRACES_KEY]) == cells(traces.trace_table())
    assert cells(third.session_state[QUERIES_KEY]) == cells(queries_typed)
    assert not any(c.startswith("Restored from this workspace: traces") for c in readable(third.caption))


def test_a_pasted_table_and_the_own_vectors_file_come_back():
    at = open_app(TRACE_PAGE)
    workspace_id = workspace_of(at)
    at.text_area(key="queries_paste").set_value("query,expected_id\nI can't stop worrying,0\nRemind me of Tuesday,2\n")
    at.button(key="queries_paste_load").click().run()
    prepared = traces.prepare(at.session_state[TRACES_KEY], at.session_state[QUERIES_KEY])
    texts = prepared.texts + prepared.queries
    buffer = io.BytesIO()
    vectors = embedlab.encode(texts, "static-64d")
    pd.DataFrame({"text": texts, "embedding": [list(map(float, v)) for v in vectors]}).to_parquet(buffer)
    at.text_input(key="retrieval_own_name").set_value("static copy")
    at.file_uploader(key="retrieval_own_upload").upload("mine.parquet", buffer.getvalue()).run()
    assert not at.exception and not at.error

    again = open_app(TRACE_PAGE, workspace_id)
    assert cells(again.session_state[QUERIES_KEY]) == (
        ["query", "expected_id"],
        [["I can't stop worrying", "0"], ["Remind me of Tuesday", "2"]],
    )
    captions = readable(again.caption)
    assert (
        "Restored from this workspace: the query table as you left it, 2 rows — upload or paste another to replace it."
        in captions
    )
    assert "Restored from this workspace: mine.parquet — upload another file to replace it." in captions
    assert f"static copy: {len(texts)} vectors of 64 dims from your file." in captions
    again.button(key="retrieval_run").click().run()
    assert not again.exception
    figures = again.session_state[FIGURES_KEY]
    assert list(figures) == [embedlab.DEFAULT_MODEL, "static copy"]
    oracle = embedlab.evaluate_retrieval(
        prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids, model="static-64d"
    )
    assert (figures["static copy"].accuracy, figures["static copy"].mrr) == pytest.approx((oracle.accuracy, oracle.mrr))


def test_a_restored_table_that_no_longer_validates_gets_the_usual_sentence():
    at = open_app(TRACE_PAGE)
    workspace_id = workspace_of(at)
    broken = pd.DataFrame(  # every field the template uses, but no id column
        {
            "name": ["a", "b"],
            "query_pattern": ["User asks a", "User asks b"],
            "approach": ["x", "y"],
            "tools_used": ["t", "u"],
        }
    )
    Workspace.open(workspace_id).put_table(TRACES_KEY, broken, "old.csv")

    again = open_app(TRACE_PAGE, workspace_id)
    assert not again.exception
    assert cells(again.session_state[TRACES_KEY]) == cells(broken)  # nothing lost: shown as it was
    assert "Restored from this workspace: old.csv, 2 rows — upload another file to replace it." in readable(
        again.caption
    )
    with pytest.raises(ValueError) as raised:
        traces.prepare(broken, traces.query_table())
    assert readable(again.error) == [str(raised.value)]
    assert again.button(key="retrieval_run").disabled


# ------------------------------------------------------------------ Speed Benchmark
def test_speed_inputs_upload_and_last_run_come_back_in_a_new_session():
    at = open_app(SPEED_PAGE)
    workspace_id = workspace_of(at)
    models = ["static-64d", embedlab.DEFAULT_MODEL]
    at.multiselect(key="speed_models").set_value(models).run()
    at.selectbox(key="speed_baseline").set_value("static-64d")
    at.radio(key="speed_source").set_value("paste").run()
    at.text_area(key="speed_paste").set_value(PASTED).run()
    at.radio(key="speed_source").set_value("upload").run()
    at.file_uploader(key="speed_upload").upload("notes.csv", CORPUS_CSV.encode(), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.selectbox(key="speed_column").set_value("title").run()
    at.radio(key="speed_source").set_value("lesson").run()
    at.radio(key="speed_source").set_value("upload").run()  # the uploader was not drawn meanwhile: emptied
    assert at.selectbox(key="speed_column").value == "title"
    assert "Corpus: 3 texts (3 distinct)." in readable(at.caption)
    at.number_input(key="speed_size").set_value(20)
    at.number_input(key="speed_batch").set_value(8)
    at.number_input(key="speed_repeats").set_value(1)
    at.toggle(key="speed_warmup").set_value(False)
    at.number_input(key="speed_threads").set_value(1).run()
    at.button(key="speed_run").click().run()
    assert not at.exception
    run_id = at.session_state["speed_run_id"]
    run = at.session_state["speed_result"]
    assert run.settings.n_texts == 20 and list(run.table["model"]) == models
    at.radio(key="speed_backends").set_value("all")
    at.toggle(key="speed_sweep").set_value(True).run()  # changed after the run: kept too

    again = open_app(SPEED_PAGE, workspace_id)
    assert workspace_of(again) == workspace_id
    assert again.multiselect(key="speed_models").value == models
    assert again.selectbox(key="speed_baseline").value == "static-64d"
    assert again.radio(key="speed_source").value == "upload"
    captions = readable(again.caption)
    assert "Restored from this workspace: notes.csv, 3 rows — upload another file to replace it." in captions
    assert again.selectbox(key="speed_column").value == "title"
    titles = pd.read_csv(io.StringIO(CORPUS_CSV))["title"].tolist()  # the oracle: the file as pandas reads it
    assert f"Corpus: 20 texts ({len(set(titles))} distinct)." in captions
    assert again.number_input(key="speed_size").value == 20
    assert again.number_input(key="speed_batch").value == 8
    assert again.number_input(key="speed_repeats").value == 1
    assert again.toggle(key="speed_warmup").value is False
    assert again.number_input(key="speed_threads").value == 1
    assert again.radio(key="speed_backends").value == "all"
    assert again.toggle(key="speed_sweep").value is True
    # the last run is opened again from the store, not copied
    assert again.session_state["speed_run_id"] == run_id
    assert list(again.session_state["speed_result"].table["model"]) == models
    assert list(again.dataframe[0].value["model"]) == models
    # the pasted texts too
    again.radio(key="speed_source").set_value("paste").run()
    assert again.text_area(key="speed_paste").value == PASTED
    assert "Corpus: 20 texts (3 distinct)." in readable(again.caption)

    # "Drop it": the file is forgotten here and in the workspace
    again.radio(key="speed_source").set_value("upload").run()
    again.button(key="speed_upload_drop").click().run()
    assert not again.exception
    assert not any(c.startswith("Restored from this workspace") for c in readable(again.caption))
    third = open_app(SPEED_PAGE, workspace_id)
    assert third.radio(key="speed_source").value == "upload"
    assert not any(c.startswith("Restored from this workspace") for c in readable(third.caption))


def test_the_speed_advice_reads_the_trace_figures_kept_in_the_workspace():
    """A reload on the Speed Benchmark page still knows the Trace Retrieval page's last figures."""
    at = open_app(TRACE_PAGE)
    workspace_id = workspace_of(at)
    at.multiselect(key="retrieval_models").set_value(["static-64d"]).run()
    at.button(key="retrieval_run").click().run()
    accuracy = at.session_state[FIGURES_KEY]["static-64d"].accuracy

    speed = open_app(SPEED_PAGE, workspace_id)  # a new session that never opened the trace page
    speed.multiselect(key="speed_models").set_value(["static-64d"])
    speed.number_input(key="speed_repeats").set_value(1)
    speed.button(key="speed_run").click().run()
    assert not speed.exception
    lesson = traces.prepare(traces.trace_table(), traces.query_table())
    oracle = embedlab.evaluate_retrieval(
        lesson.queries, lesson.texts, lesson.expected, ids=lesson.ids, model="static-64d"
    )
    assert accuracy == oracle.accuracy
    assert any(
        c.startswith("Retrieval accuracy (top-1) from the Trace Retrieval page: static-64d")
        and f"{oracle.accuracy:.0%}" in c
        for c in readable(speed.caption)
    )
