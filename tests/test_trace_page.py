"""The Trace Retrieval page under AppTest: edit, upload, paste, evaluate, and bad input.

AppTest cannot type into an ``st.data_editor``; cell edits are driven the way AppTest supports
them — by assigning the editor's edit state (edited_rows / added_rows / deleted_rows) in
session state before a run — and through the page's own upload and paste inputs. The browser
test (test_browser_trace.py) edits a real cell.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import as_read
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab import seed
from embedlab.decision import decide
from embedlab.retrieval import traces
from embedlab.retrieval.evaluation import RetrievalSummary
from ui.state import FIGURES_KEY, QUERIES_KEY, TRACES_KEY

PAGE = "pages/trace_retrieval.py"


def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.switch_page(PAGE).run()  # straight to this page: the default page would load its own model first
    assert not at.exception, at.exception
    return at


def edit(at: AppTest, key: str, edited=None, added=None, deleted=None) -> None:
    at.session_state[key] = {"edited_rows": edited or {}, "added_rows": added or [], "deleted_rows": deleted or []}


def evaluate(at: AppTest) -> AppTest:
    at.button(key="retrieval_run").click().run()
    assert not at.exception, at.exception
    return at


texts = as_read  # messages as a user reads them (tests/conftest.py)


def tables(at: AppTest, column: str) -> list:
    """The shown (read-only) tables that have ``column``, in page order.

    ``st.dataframe`` without selections carries no key in AppTest, so tables are found by column.
    """
    return [d.value for d in at.dataframe if d.editing_mode == "read_only" and column in d.value.columns]


def per_query(at: AppTest) -> list:
    return tables(at, "correct")


def failing(at: AppTest) -> list:
    return [t for t in tables(at, "gap") if "correct" not in t.columns]


def seed_texts():
    return [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES]


def test_seed_evaluates_like_the_library():
    at = evaluate(open_page())
    oracle = embedlab.evaluate_retrieval(list(seed.QUERIES), seed_texts(), list(seed.EXPECTED))
    summary = at.session_state[FIGURES_KEY]
    assert list(summary) == [embedlab.DEFAULT_MODEL]
    got = summary[embedlab.DEFAULT_MODEL]
    assert got.accuracy == oracle.accuracy and got.mrr == oracle.mrr and got.n_queries == 3
    assert got.accuracy_at_k == oracle.accuracy_at_k
    assert got.correct == round(oracle.accuracy * 3) and got.failing == tuple(oracle.failures["query"])
    # the advice is the one decision rule's verdict on these figures
    decision = decide([RetrievalSummary.from_result(oracle).candidate()])
    assert decision.good_enough == (oracle.accuracy >= seed.GOOD_ENOUGH_ACCURACY)
    shown = texts(at.success if decision.good_enough else at.warning)
    assert shown == [decision.verdicts[0].reason]
    assert decision.rule in [m.replace("\u2060", "") for m in texts(at.markdown)]
    # the chart draws the same figures
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = [t for t in spec["data"] if t["type"] == "bar"]
    y = bars[0]["y"]
    values = np.frombuffer(__import__("base64").b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else y
    assert values[0] == pytest.approx(oracle.accuracy) and values[-1] == pytest.approx(oracle.mrr)
    (shown,) = per_query(at)
    assert shown["query"].tolist() == list(seed.QUERIES)
    assert shown["top-1"].tolist() == [str(i) for i in oracle.per_query["top_id"]]


def test_editing_a_query_changes_the_accuracy():
    at = evaluate(open_page())
    before = at.session_state[FIGURES_KEY][embedlab.DEFAULT_MODEL].accuracy
    edit(at, "queries_editor", edited={2: {"expected_id": "0"}})  # "What did I mention last Tuesday?" → trace 0
    at.run()
    assert any("changed since these results" in m for m in texts(at.info))
    evaluate(at)
    queries = traces.query_table()
    queries.loc[2, "expected_id"] = "0"
    prepared = traces.prepare(traces.trace_table(), queries)
    oracle = embedlab.evaluate_retrieval(prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids)
    after = at.session_state[FIGURES_KEY][embedlab.DEFAULT_MODEL].accuracy
    assert after == oracle.accuracy != before
    assert at.session_state[QUERIES_KEY].loc[2, "expected_id"] == "0"
    if not oracle.per_query.loc[2, "correct"]:
        assert "What did I mention last Tuesday?" in failing(at)[0]["query"].tolist()


def test_threshold_changes_the_verdict_without_evaluating_again():
    at = open_page()
    edit(at, "queries_editor", edited={0: {"expected_id": "2"}, 1: {"expected_id": "2"}})
    at.run()
    evaluate(at)
    accuracy = at.session_state[FIGURES_KEY][embedlab.DEFAULT_MODEL].accuracy
    assert accuracy < 0.8
    figures = at.session_state[FIGURES_KEY][embedlab.DEFAULT_MODEL]
    below = decide([figures.candidate()], threshold=0.8)
    assert below.good_enough is False and texts(at.warning)[0] == below.verdicts[0].reason
    assert not at.success
    lowered = int(accuracy * 100) // 5 * 5
    at.slider(key="retrieval_threshold").set_value(lowered).run()
    assert not at.exception
    reached = decide([figures.candidate()], threshold=lowered / 100)
    assert reached.good_enough is True and reached.suggestion == "keep"
    assert texts(at.success) == [reached.verdicts[0].reason]
    assert not any("changed since" in m for m in texts(at.info))


def test_bad_rows_are_named_and_the_rest_still_evaluates():
    at = open_page()
    edit(
        at,
        "traces_editor",
        added=[
            {"id": "1", "query_pattern": "duplicate", "approach": "x", "tools_used": "t"},
            {"id": "5", "query_pattern": "", "approach": "x", "tools_used": "t"},
        ],
    )
    edit(at, "queries_editor", added=[{"query": "Where is trace 42?", "expected_id": "42"}])
    at.run()
    warnings = " ".join(texts(at.warning))
    assert "Trace row 4 repeats the id 1 of row 2" in warnings
    assert "Trace row 5 (id 5) has an empty query_pattern" in warnings
    assert "Query row 4" in warnings and "trace id 42, which is not in the trace table" in warnings
    evaluate(at)
    summary = at.session_state[FIGURES_KEY][embedlab.DEFAULT_MODEL]
    assert summary.n_queries == 3 and summary.n_corpus == 3


def test_unknown_template_field_is_named_and_nothing_is_lost():
    at = open_page()
    edit(at, "queries_editor", edited={0: {"query": "My job is stressing me out"}})
    at.run()
    at.text_area(key="retrieval_template").set_value("Query: {query_pattern}\nOutcome: {outcome}").run()
    assert not at.exception
    assert any("unknown field {outcome}" in m for m in texts(at.error))
    assert at.button(key="retrieval_run").disabled
    assert at.session_state[QUERIES_KEY].loc[0, "query"] == "My job is stressing me out"
    at.text_area(key="retrieval_template").set_value("{query_pattern}").run()
    assert not at.error and not at.button(key="retrieval_run").disabled


def test_upload_replaces_a_table_and_a_malformed_one_is_refused():
    at = open_page()
    table = traces.trace_table()
    table.loc[3] = ["sleep", "User cannot sleep", "Suggest a wind-down routine", "sleep_coach"]
    at.file_uploader(key="traces_upload").upload("traces.json", traces.traces_to_json(table), "application/json").run()
    assert not at.exception
    assert at.session_state[TRACES_KEY]["id"].tolist() == ["0", "1", "2", "sleep"]
    assert any("Loaded 4 rows from traces.json" in m for m in texts(at.success))

    at.file_uploader(key="queries_upload").upload("queries.json", b"{not json", "application/json").run()
    assert not at.exception
    assert any("queries.json is not valid JSON" in m for m in texts(at.error))
    assert at.session_state[QUERIES_KEY]["query"].tolist() == list(seed.QUERIES)  # unchanged
    evaluate(at)
    assert at.session_state[FIGURES_KEY][embedlab.DEFAULT_MODEL].n_corpus == 4


def test_pasted_queries_replace_the_table_and_survive_a_page_change():
    at = open_page()
    at.text_area(key="queries_paste").set_value(
        "query,expected_id\nI can't stop worrying about deadlines,0\nRemind me what we discussed,2\n"
    )
    at.button(key="queries_paste_load").click().run()
    assert not at.exception
    assert at.session_state[QUERIES_KEY]["expected_id"].tolist() == ["0", "2"]
    evaluate(at)
    result = dict(at.session_state[FIGURES_KEY])
    at.switch_page("pages/space_explorer.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.session_state[QUERIES_KEY]["query"].tolist()[0] == "I can't stop worrying about deadlines"
    assert at.data_editor(key="queries_editor").value["expected_id"].tolist() == ["0", "2"]
    assert at.session_state[FIGURES_KEY] == result
    assert per_query(at)[0]["query"].tolist()[1] == "Remind me what we discussed"

    at.text_area(key="queries_paste").set_value("just,some,words\n1,2,3").run()
    at.button(key="queries_paste_load").click().run()
    assert any("The pasted table has no 'query' or 'expected_id' column" in m for m in texts(at.error))
    assert at.session_state[QUERIES_KEY]["expected_id"].tolist() == ["0", "2"]


def test_empty_tables_say_so():
    at = open_page()
    edit(at, "queries_editor", deleted=[0, 1, 2])
    at.run()
    assert not at.exception
    assert any("The query table is empty" in m for m in texts(at.error))
    assert at.button(key="retrieval_run").disabled
    at.button(key="queries_reset").click().run()
    assert not at.error and len(at.session_state[QUERIES_KEY]) == 3


def test_two_models_side_by_side():
    at = open_page()
    at.multiselect(key="retrieval_models").set_value([embedlab.DEFAULT_MODEL, "static-64d"]).run()
    at.number_input(key="retrieval_k").set_value(2).run()
    evaluate(at)
    summary = at.session_state[FIGURES_KEY]
    assert list(summary) == [embedlab.DEFAULT_MODEL, "static-64d"]
    oracle = embedlab.evaluate_retrieval(list(seed.QUERIES), seed_texts(), list(seed.EXPECTED), model="static-64d", k=2)
    assert summary["static-64d"].accuracy == oracle.accuracy and summary["static-64d"].mrr == oracle.mrr
    (table,) = tables(at, "model")
    assert table["model"].tolist() == [embedlab.DEFAULT_MODEL, "static-64d"] and "MRR@2" in table.columns
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"] if t["type"] == "bar"] == [embedlab.DEFAULT_MODEL, "static-64d"]
    shown = per_query(at)
    assert len(shown) == 2 and all(len(items) == 2 for items in shown[1]["top 2"])


def test_an_unavailable_model_is_reported_and_the_others_still_run():
    at = open_page()
    at.multiselect(key="retrieval_models").set_value(["BAAI/bge-large-en-v1.5", embedlab.DEFAULT_MODEL]).run()
    evaluate(at)
    assert any("BAAI/bge-large-en-v1.5 could not run" in m for m in texts(at.error))
    assert list(at.session_state[FIGURES_KEY]) == [embedlab.DEFAULT_MODEL]


def test_ten_thousand_traces_and_a_thousand_queries_upload_and_evaluate():
    """The page at scale, with the fast static model (the library test covers the metrics)."""
    records = [
        {
            "id": i,
            "query_pattern": f"User talks about topic {i % 50}, case {i}",
            "approach": f"Step {i}",
            "tools_used": ["planner"],
        }
        for i in range(10_000)
    ]
    queries = [{"query": f"Help with topic {j % 50}, case {j * 10}", "expected_id": j * 10} for j in range(1000)]
    at = open_page()
    at.file_uploader(key="traces_upload").upload("traces.json", json.dumps(records).encode(), "application/json").run()
    at.file_uploader(key="queries_upload").upload(
        "queries.json", json.dumps(queries).encode(), "application/json"
    ).run()
    assert not at.exception and not at.error
    assert len(at.session_state[TRACES_KEY]) == 10_000 and len(at.session_state[QUERIES_KEY]) == 1000
    at.multiselect(key="retrieval_models").set_value(["static-64d"]).run()
    evaluate(at)
    summary = at.session_state[FIGURES_KEY]["static-64d"]
    assert summary.n_corpus == 10_000 and summary.n_queries == 1000
    assert len(per_query(at)[0]) == 1000


def test_progress_bar_moves_forward_through_traces_then_queries():
    from ui.trace_retrieval import ProgressBar

    class Bar:
        def __init__(self):
            self.seen = []

        def progress(self, value, text):
            self.seen.append((value, text))

    bar = Bar()
    report = ProgressBar(bar, "m", n_traces=900, n_queries=100)
    for done in (0, 256, 512, 900):
        report("traces", done, 900)
    report("queries", 0, 0)  # all queries came from the cache
    values = [v for v, _ in bar.seen]
    assert values == sorted(values) and values[0] == 0 and values[-1] == pytest.approx(1.0)
    assert values[3] == pytest.approx(0.9)
    assert bar.seen[1][1] == "m: encoding traces 256 / 900" and "cache" in bar.seen[-1][1]


def test_per_query_table_shows_ranks_beyond_k_plainly():
    from embedlab.retrieval.figures import per_query_table

    result = embedlab.evaluate_retrieval(list(seed.QUERIES), seed_texts(), [2, 2, 2], k=1)
    shown = per_query_table(result)
    ranks = shown["rank"].tolist()  # issue #13 item 14: the true rank over all traces, an integer
    assert all(isinstance(r, int) for r in ranks) and set(ranks) <= {1, 2, 3} and max(ranks) > 1
    assert all(len(items) == 1 for items in shown["top 1"])


def test_two_good_enough_models_the_slower_one_is_not_called_fast():
    """Issue #11: with MiniLM and mpnet both good enough, the page said mpnet was "the fast choice".

    The advice is the decision rule's: MiniLM is the one to use, mpnet is not needed, and as
    the page measures no speed, no model is called the fast one.
    """
    slow = "all-mpnet-base-v2"
    oracles = {
        m: RetrievalSummary.from_result(
            embedlab.evaluate_retrieval(list(seed.QUERIES), seed_texts(), list(seed.EXPECTED), model=m)
        )
        for m in (embedlab.DEFAULT_MODEL, slow)
    }
    threshold = min(5 * int(f.accuracy * 20) for f in oracles.values())  # both reach it, in the slider's steps
    at = open_page()
    at.multiselect(key="retrieval_models").set_value([slow, embedlab.DEFAULT_MODEL]).run()
    at.slider(key="retrieval_threshold").set_value(threshold).run()
    evaluate(at)
    decision = decide([f.candidate() for f in oracles.values()], threshold=threshold / 100)
    assert decision.good_enough is True and decision.suggestion == "keep"
    assert decision.recommended == embedlab.DEFAULT_MODEL and decision.fastest is None
    assert decision.labels == {embedlab.DEFAULT_MODEL: "start here", slow: "not needed"}
    assert texts(at.success) == [v.reason for v in decision.verdicts]
    assert not at.warning
    assert not any("fast" in m for m in texts(at.success))


def test_all_rows_skipped_says_how_many():
    """Issue #13 item 3: 200 traces with empty approach and tools_used were reported as 20 skipped."""
    rows = [{"id": str(i), "query_pattern": f"User asks {i}", "approach": "", "tools_used": ""} for i in range(200)]
    at = open_page()
    at.file_uploader(key="traces_upload").upload("traces.json", json.dumps(rows).encode(), "application/json").run()
    assert not at.exception
    (box,) = [m for m in texts(at.warning) if "skipped" in m.split("\n")[0]]
    assert box.startswith("200 table rows skipped.")
    assert "the rest are evaluated" not in box
    assert any("No trace can be used" in m for m in texts(at.error))
    assert at.button(key="retrieval_run").disabled


def test_some_rows_skipped_counts_every_one():
    rows = [{"id": str(i), "query_pattern": f"User asks {i}", "approach": "", "tools_used": "t"} for i in range(30)]
    rows += [{"id": "ok", "query_pattern": "User cannot sleep", "approach": "Sleep tips", "tools_used": "coach"}]
    at = open_page()
    at.file_uploader(key="traces_upload").upload("traces.json", json.dumps(rows).encode(), "application/json").run()
    at.text_area(key="queries_paste").set_value("query,expected_id\nI keep waking up at night,ok\n")
    at.button(key="queries_paste_load").click().run()
    assert not at.exception
    prepared = traces.prepare(at.session_state[TRACES_KEY], at.session_state[QUERIES_KEY])
    assert prepared.skipped_traces == 30 and len(prepared.trace_problems) == traces.MAX_LISTED + 1
    assert any(m.startswith("30 trace rows skipped; the rest are evaluated.") for m in texts(at.warning))


# -- vectors brought by the user ---------------------------------------------------------------------
OWN_NAME = "my <i>MiniLM</i> copy"


def own_parquet(texts: list[str], vectors) -> bytes:
    """A Parquet file as a user would make it: a text column and a list-of-numbers column."""
    import io

    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"text": texts, "embedding": [list(map(float, v)) for v in vectors]}).to_parquet(buffer)
    return buffer.getvalue()


def upload_own(at: AppTest, data: bytes, name: str = OWN_NAME) -> AppTest:
    at.text_input(key="retrieval_own_name").set_value(name)
    at.file_uploader(key="retrieval_own_upload").upload("mine.parquet", data, "application/octet-stream").run()
    assert not at.exception, at.exception
    return at


def test_own_vectors_evaluate_beside_the_catalog_model_with_its_figures():
    """The page's own rendered traces and queries, encoded by MiniLM and brought back as a file."""
    prepared = traces.prepare(traces.trace_table(), traces.query_table())
    texts_in_file = prepared.texts + prepared.queries
    at = upload_own(open_page(), own_parquet(texts_in_file, embedlab.encode(texts_in_file)))
    assert not at.error
    evaluate(at)
    figures = at.session_state[FIGURES_KEY]
    assert list(figures) == [embedlab.DEFAULT_MODEL, OWN_NAME]
    mine, theirs = figures[OWN_NAME], figures[embedlab.DEFAULT_MODEL]
    assert (mine.accuracy, mine.accuracy_at_k, mine.mrr, mine.failing) == (
        theirs.accuracy,
        theirs.accuracy_at_k,
        theirs.mrr,
        theirs.failing,
    )
    (summary,) = tables(at, "model")
    assert summary["model"].tolist() == [embedlab.DEFAULT_MODEL, OWN_NAME]
    assert summary.drop(columns="model").iloc[0].tolist() == summary.drop(columns="model").iloc[1].tolist()
    ours, minilm = per_query(at)[1], per_query(at)[0]
    assert ours[["query", "expected", "top-1", "rank"]].equals(minilm[["query", "expected", "top-1", "rank"]])
    assert ours["top score"].tolist() == pytest.approx(minilm["top score"].tolist(), abs=1e-6)
    storage = [d.value for d in at.dataframe if "bytes_per_vector" in d.value.columns]
    assert storage[1][["dims", "precision", "accuracy"]].equals(storage[0][["dims", "precision", "accuracy"]])
    # the name is user text: shown literally in the chart's legend
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in spec["data"] if t["type"] == "bar"][1] == "my &lt;i&gt;MiniLM&lt;/i&gt; copy"


def test_own_vectors_missing_texts_are_counted_and_nothing_is_lost():
    prepared = traces.prepare(traces.trace_table(), traces.query_table())
    at = open_page()
    edit(at, "queries_editor", edited={1: {"query": "I want to learn how to code in Rust"}})
    at.run()
    at = upload_own(at, own_parquet(prepared.texts, embedlab.encode(prepared.texts)), name="traces only")
    first = "I'm feeling stressed about my job"
    assert texts(at.error) == [
        f"3 of the 6 trace and query texts have no vector in “traces only”, e.g. “{first}”: the file must hold "
        "every trace as the template renders it, and every query, exactly."
    ]
    assert at.text_input(key="retrieval_own_name").value == "traces only"
    assert at.session_state[QUERIES_KEY].loc[1, "query"] == "I want to learn how to code in Rust"
    evaluate(at)
    assert list(at.session_state[FIGURES_KEY]) == [embedlab.DEFAULT_MODEL]  # the catalog model still runs


@pytest.mark.parametrize("case", ["nan", "ragged", "flat", "huge"])
def test_a_bad_vectors_file_gets_the_cores_sentence(case, monkeypatch):
    from embedlab.models import own

    prepared = traces.prepare(traces.trace_table(), traces.query_table())
    texts_in_file = prepared.texts + prepared.queries
    vectors = [list(map(float, v)) for v in embedlab.encode(texts_in_file)]
    if case == "nan":
        vectors[4][7] = float("nan")
    elif case == "ragged":
        vectors[2] = vectors[2][:100]
    elif case == "huge":
        monkeypatch.setattr(own, "MAX_BYTES", 1000)
    import io

    import pandas as pd

    buffer = io.BytesIO()
    column = [v[0] for v in vectors] if case == "flat" else vectors  # "flat": one number per text (1-D)
    pd.DataFrame({"text": texts_in_file, "embedding": column}).to_parquet(buffer)
    data = buffer.getvalue()
    with pytest.raises(ValueError) as raised:
        own.read_vectors(data, "mine.parquet", name="mine")
    sentence = str(raised.value)
    at = open_page()
    at.multiselect(key="retrieval_models").set_value(["static-64d"]).run()
    at = upload_own(at, data, name="mine")
    assert texts(at.error) == [sentence[:1].upper() + sentence[1:]]
    assert at.text_input(key="retrieval_own_name").value == "mine"
    assert at.multiselect(key="retrieval_models").value == ["static-64d"]
    assert not at.button(key="retrieval_run").disabled
