"""AppTest: the Speed Benchmark page runs a small real benchmark, keeps results, refuses bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab import seed
from embedlab.benchmarking.run import advice
from embedlab.benchmarking.store import BenchmarkStore
from embedlab.markup import markdown_literal
from embedlab.retrieval.evaluation import RetrievalSummary
from ui.state import FIGURES_KEY

PAGE = "pages/speed_benchmark.py"
SMALL = ["all-MiniLM-L6-v2", "static-64d"]
PASTED = "User felt relieved after discussing the plan\nBot reminded user to take breaks\n<b>bold</b> & more"


@pytest.fixture
def store():
    return BenchmarkStore()  # the page's own store, in the tests' EMBEDLAB_HOME


def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def small_run(at: AppTest, models=SMALL, *, size: int = 20) -> AppTest:
    at.multiselect(key="speed_models").set_value(models)
    at.radio(key="speed_source").set_value("paste").run()
    at.text_area(key="speed_paste").set_value(PASTED)
    at.number_input(key="speed_size").set_value(size)
    at.number_input(key="speed_repeats").set_value(1)
    at.number_input(key="speed_threads").set_value(1)
    at.button(key="speed_run").click().run()
    assert not at.exception, at.exception
    return at


def figure(at: AppTest, index: int) -> dict:
    import json

    return json.loads(at.get("plotly_chart")[index].proto.spec)


def values(array) -> np.ndarray:
    if isinstance(array, dict):  # plotly 7 writes numbers as base64
        import base64

        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=float)


def test_defaults_follow_the_lesson():
    at = open_page()
    assert at.multiselect(key="speed_models").value == list(seed.BENCHMARK_MODELS)
    assert at.radio(key="speed_source").value == "lesson"
    assert at.selectbox(key="speed_baseline").value == "all-MiniLM-L6-v2"
    assert at.number_input(key="speed_batch").value == 32 and at.number_input(key="speed_repeats").value == 3
    assert at.toggle(key="speed_warmup").value is True
    assert any("Corpus: 100 texts (5 distinct)." in c.value for c in at.caption)
    assert at.info and "Run benchmark" in at.info[0].value


def test_a_small_run_shows_table_charts_recommendation_and_is_saved(store):
    before = len(store)
    at = small_run(open_page())
    run = at.session_state["speed_result"]
    result = run.table
    assert list(result["model"]) == SMALL and list(result["status"]) == ["ok", "ok"]
    assert run.settings.n_texts == 20 and run.settings.repeats == 1
    table = at.dataframe[0].value
    assert list(table["model"]) == SMALL
    assert (table["texts/s"] > 0).all()
    assert table["texts/s"].tolist() == pytest.approx((20 / result["encode_median_s"]).tolist())
    speed = figure(at, 0)["data"][0]
    assert speed["x"] == SMALL
    assert values(speed["y"]) == pytest.approx(result["texts_per_s"].to_numpy())
    assert "array" in speed["error_y"] and "arrayminus" in speed["error_y"]
    dims = figure(at, 1)["data"][0]
    assert values(dims["x"]).tolist() == [384, 64]
    markdown = " ".join(m.value for m in at.markdown)
    assert "static-64d is" in markdown and "faster than all-MiniLM-L6-v2" in markdown
    decision = advice(run)
    assert decision.baseline == "all-MiniLM-L6-v2" and decision.fastest == "static-64d"
    assert decision.suggestion == "measure quality"
    assert all(markdown_literal(reason) in markdown for reason in decision.reasons)  # the page shows the rule's words
    assert at.get("download_button")  # CSV and JSON
    assert len(store) == before + 1
    assert store.load(at.session_state["speed_run_id"]).models == SMALL


def test_results_survive_other_clicks_and_bad_input_is_refused():
    at = small_run(open_page())
    kept = at.session_state["speed_result"]
    at.multiselect(key="speed_models").set_value([])
    at.button(key="speed_run").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Choose at least one model to benchmark."]
    assert at.session_state["speed_result"] is kept  # nothing lost
    assert at.dataframe  # still shown

    at.multiselect(key="speed_models").set_value(["static-64d"])
    at.text_area(key="speed_paste").set_value(" \n\n ")
    at.button(key="speed_run").click().run()
    assert [e.value for e in at.error] == [
        "The corpus is empty: paste or upload at least one text, or use the lesson's texts."
    ]
    assert at.session_state["speed_result"] is kept


def test_a_model_that_cannot_load_gets_a_row_and_the_others_run():
    at = open_page()
    at.multiselect(key="speed_models").set_value(["BAAI/bge-large-en-v1.5", "static-64d"])
    at.run()
    assert any("cannot run here" in w.value for w in at.warning)  # said before running
    small_run(at, ["BAAI/bge-large-en-v1.5", "static-64d"])
    result = at.session_state["speed_result"].table
    assert list(result["status"]) == ["failed", "ok"]
    assert any(w.value.startswith("BAAI/bge-large-en-v1.5: could not load") for w in at.warning)
    assert figure(at, 0)["data"][0]["x"] == ["static-64d"]


def test_an_interrupted_run_keeps_what_finished(store):
    """Stop (or any click while a run goes) interrupts the script; the rows from the last progress remain."""
    snapshots = []
    embedlab.benchmark(
        ["static-64d", "all-MiniLM-L6-v2"],
        ["a text", "another text"],
        repeats=3,
        progress=lambda e: snapshots.append(e.results()),
    )
    partial = next(s for s in snapshots if len(s.table) == 2 and s.table.loc[1, "repeats_done"] == 1)
    at = open_page()
    at.session_state["speed_running"] = True
    at.session_state["speed_partial"] = partial
    before = len(store)
    at.run()
    assert not at.exception
    assert any(
        w.value
        == "The run was stopped; kept what finished: static-64d, all-MiniLM-L6-v2 (cut short after 1 repeat(s))."
        for w in at.warning
    )
    result = at.session_state["speed_result"]
    assert list(result.table["status"]) == ["ok", "stopped"] and result.stopped is True
    assert len(store) == before + 1 and store.runs().loc[0, "label"] == "stopped"
    assert list(at.dataframe[0].value["repeats"]) == [3, 1]


def test_earlier_runs_compare_show_and_delete(store):
    at = small_run(open_page(), ["static-64d"])
    first = at.session_state["speed_run_id"]
    at.number_input(key="speed_batch").set_value(8)
    at.button(key="speed_run").click().run()
    second = at.session_state["speed_run_id"]
    assert second != first
    assert at.selectbox(key="speed_earlier").value == first
    comparison = at.dataframe[1].value
    assert list(comparison["model"]) == ["static-64d"]
    current = at.session_state["speed_result"]
    earlier = store.load(first)
    now, before = current.table.loc[0, "texts_per_s"], earlier.table.loc[0, "texts_per_s"]
    assert comparison["change"].iloc[0] == pytest.approx(now / before)
    assert any("batch size 8 now, 32 before" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 3

    at.button(key="speed_show").click().run()
    assert at.session_state["speed_run_id"] == first
    assert at.session_state["speed_result"].settings.batch_size == 32
    at.selectbox(key="speed_earlier").set_value(second).run()
    at.button(key="speed_delete").click().run()
    assert not at.exception
    assert second not in store.runs()["id"].tolist()


def test_earlier_runs_are_listed_in_a_new_session(store):
    run_id = store.save(embedlab.benchmark(["static-64d"], ["x", "y"], repeats=1), label="kept")
    at = open_page()
    assert "speed_result" not in at.session_state
    assert any(option.startswith(f"#{run_id} · ") for option in at.selectbox(key="speed_earlier").options)
    at.selectbox(key="speed_earlier").set_value(run_id).run()
    at.button(key="speed_show").click().run()
    assert at.session_state["speed_run_id"] == run_id
    assert list(at.dataframe[0].value["model"]) == ["static-64d"]


def shown_reasons(at: AppTest, decision) -> bool:
    markdown = " ".join(m.value for m in at.markdown)
    return all(markdown_literal(reason) in markdown for reason in decision.reasons)


def test_the_recommendation_uses_the_trace_retrieval_result():
    retrieval = embedlab.evaluate_retrieval(
        list(seed.QUERIES),
        [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES],
        list(seed.EXPECTED),
        model="all-MiniLM-L6-v2",
    )
    at = small_run(open_page(), ["all-MiniLM-L6-v2"])
    run = at.session_state["speed_result"]
    without = advice(run)
    assert without.suggestion == "measure quality" and without.good_enough is None
    assert shown_reasons(at, without)
    figures = {"all-MiniLM-L6-v2": RetrievalSummary.from_result(retrieval)}
    at.session_state[FIGURES_KEY] = figures
    at.run()
    assert not at.exception
    decision = advice(run, figures)
    good = retrieval.accuracy >= seed.GOOD_ENOUGH_ACCURACY
    assert decision.good_enough is good and decision.baseline == "all-MiniLM-L6-v2"
    assert decision.suggestion == ("keep" if good else "fine-tune")  # one model: nothing better to move to
    assert decision.labels == {"all-MiniLM-L6-v2": "start here" if good else "below the bar"}
    assert shown_reasons(at, decision)
    assert any("Retrieval accuracy (top-1)" in c.value for c in at.caption)


def test_display_table_and_figures_escape_html():
    import dataclasses

    from embedlab.benchmarking.figures import dims_figure, speed_figure
    from ui import speed_benchmark as ui

    run = embedlab.benchmark(["static-64d"], ["a"], repeats=1)
    table = run.table.copy()
    table.loc[0, "model"] = table.loc[0, "name"] = "<b>x</b>"
    run = dataclasses.replace(run, table=table, baseline="<b>x</b>")
    figure = speed_figure(run)
    assert figure.data[0].x[0] == "&lt;b&gt;x&lt;/b&gt;"
    assert "<b>" not in figure.data[0].hovertext[0]
    assert "<b>" not in dims_figure(run).data[0].text[0]
    shown = ui.display_table(run.table).data  # a Styler: missing figures are written "—"
    assert shown.loc[0, "size MB"] == pytest.approx(run.table.loc[0, "size_bytes"] / 1e6)
    assert isinstance(shown, pd.DataFrame)


# ------------------------------------------------------------------ issue 13 findings 1, 10, 16; issue 14 backends
def shown_cells(at: AppTest, index: int = 0) -> pd.DataFrame:
    """What the table's cells show (the Styler's display values), as the browser draws them."""
    from streamlit import dataframe_util

    proto = at.dataframe[index].proto
    styler = proto.arrow_data.styler
    assert styler.display_values, "the table has no display values: missing figures would show as None"
    return dataframe_util.convert_arrow_bytes_to_pandas_df(styler.display_values)


def test_a_row_stopped_before_its_first_repeat_shows_dashes_and_the_notice_names_models_never_started(store):
    snapshots = []
    embedlab.benchmark(
        ["static-64d", "all-MiniLM-L6-v2"],
        ["a text", "another text"],
        repeats=2,
        progress=lambda e: snapshots.append((e, e.results())),
    )
    loading = next(r for e, r in snapshots if e.stage == "load" and e.model == "all-MiniLM-L6-v2")
    partial = dataclasses.replace(
        loading, settings=dataclasses.replace(loading.settings, models=("static-64d", "all-MiniLM-L6-v2", "gone"))
    )
    at = open_page()
    at.session_state["speed_running"] = True
    at.session_state["speed_partial"] = partial
    at.run()
    assert not at.exception
    assert any(
        w.value == "The run was stopped; kept what finished: static-64d, all-MiniLM-L6-v2 (stopped before its first "
        "timed repeat: no speed). Not started: gone."
        for w in at.warning
    )
    cells = shown_cells(at)
    stopped = cells.iloc[1]
    assert not any(str(v) in ("None", "nan", "<NA>", "NaN") for v in stopped.tolist()), stopped.tolist()
    assert stopped["texts/s"] == "—" and stopped["status"] == "stopped"
    assert float(cells.iloc[0]["texts/s"].replace(",", "")) > 0


def test_noisy_timing_of_a_short_run_is_put_down_to_timer_resolution_not_load():
    run = embedlab.benchmark(["static-64d"], ["a text"] * 20, repeats=3)
    table = run.table.copy()
    table["noisy"] = pd.array([True], dtype="boolean")
    noisy = dataclasses.replace(run, table=table, machine={**run.machine, "load_average": 0.1})
    at = open_page()
    at.session_state["speed_result"] = noisy
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "too short to time well" in warnings and "not other work on the CPU" in warnings
    assert "Something else was using the CPU" not in warnings


def test_a_run_cut_short_by_a_reload_is_listed_as_interrupted_and_opens(store):
    class TornDown(BaseException):
        pass

    def progress(event):
        if event.stage == "load" and event.model == "all-MiniLM-L6-v2":
            raise TornDown

    with pytest.raises(TornDown):
        embedlab.benchmark(["static-64d", "all-MiniLM-L6-v2"], ["x", "y"], repeats=1, progress=progress, store=store)
    run_id = int(store.runs().loc[0, "id"])
    at = open_page()  # a new session, as after the reload
    option = next(o for o in at.selectbox(key="speed_earlier").options if o.startswith(f"#{run_id} · "))
    assert option.endswith(" · interrupted")
    at.selectbox(key="speed_earlier").set_value(run_id).run()
    at.button(key="speed_show").click().run()
    assert not at.exception
    assert any(w.value.startswith("The run was interrupted; kept what finished: static-64d") for w in at.warning)
    assert list(at.dataframe[0].value["model"]) == ["static-64d", "all-MiniLM-L6-v2"]


def test_a_page_run_is_saved_as_it_goes_and_says_which_backend_ran(store):
    before = len(store)
    at = small_run(open_page(), ["static-64d"])
    run = at.session_state["speed_result"]
    assert run.id == at.session_state["speed_run_id"] and store.runs().loc[0, "state"] == "finished"
    assert len(store) == before + 1  # saved once, as it went; not again at the end
    assert list(at.dataframe[0].value["backend"]) == ["static"]
    assert list(at.dataframe[0].value["asked for"]) == ["auto"]
    assert at.radio(key="speed_backends").value == "auto" and at.toggle(key="speed_sweep").value is False


def test_the_trace_retrieval_pages_texts_can_be_the_corpus():
    """Issue 13: speed on the user's own data — the traces and queries the Trace Retrieval page holds."""
    from embedlab.retrieval.traces import DEFAULT_TEMPLATE, prepare
    from ui.state import QUERIES_KEY, TRACES_KEY

    at = open_page()
    at.radio(key="speed_source").set_value("traces").run()
    assert any("no usable traces" in i.value for i in at.info)  # the trace page not opened yet: said, not empty
    at.switch_page("pages/trace_retrieval.py").run()
    traces = at.session_state[TRACES_KEY].copy()
    traces.loc[0, "query_pattern"] = "Only on this page: <b>a user's own trace</b>"
    at.session_state[TRACES_KEY] = traces
    at.switch_page(PAGE).run()
    at.radio(key="speed_source").set_value("traces").run()
    prepared = prepare(traces, at.session_state[QUERIES_KEY], DEFAULT_TEMPLATE)  # the oracle
    expected = len(prepared.texts) + len(prepared.queries)
    assert any(f"Corpus: {expected} texts" in c.value for c in at.caption), [c.value for c in at.caption]
    at.multiselect(key="speed_models").set_value(["static-64d"])
    at.number_input(key="speed_repeats").set_value(1)
    at.button(key="speed_run").click().run()
    assert not at.exception, at.exception
    run = at.session_state["speed_result"]
    assert run.settings.n_texts == expected
