"""Trace Retrieval: do queries bring back the right reasoning trace?

The lesson's Experiment 4.1 for real trace sets. Reads widgets, calls embedlab, draws. Tables,
edits and results live in st.session_state, so nothing is lost on a rerun or a page change; the
tables, their file names, the settings and the last figures are kept in the session's workspace
too (``?ws=`` in the address), so a reload or the same link in another tab finds them again.
"""

import streamlit as st

import embedlab
from embedlab import seed
from embedlab.decision import decide
from embedlab.formatting import percent
from embedlab.markup import markdown_literal
from embedlab.retrieval import figures, traces
from embedlab.retrieval.evaluation import RetrievalSummary, summary_table
from ui import common, workspace
from ui import trace_results as results_ui
from ui import trace_retrieval as ui
from ui.state import FIGURES_KEY, TEMPLATE_KEY, keep_retrieval_figures, restore_figures

state = st.session_state

st.title("Trace Retrieval")
st.caption(
    "A chatbot's memory finds past reasoning traces by embedding similarity: a wrong match means a wrong "
    "answer. Edit the traces and the test queries (each with the trace it should find), then evaluate "
    "one model or several side by side."
)
common.cache_notices()
ui.init_tables()
kept_signature = restore_figures()  # the last evaluation's figures, after a reload

# ---------------------------------------------------------------- settings (sidebar)
with st.sidebar:
    st.subheader("Retrieval settings")
    workspace.restore("retrieval_models", [embedlab.DEFAULT_MODEL])
    models = common.models_picker("retrieval_models")
    workspace.restore("retrieval_k", 5, allowed=range(1, 101))
    workspace.restore("retrieval_threshold", round(seed.GOOD_ENOUGH_ACCURACY * 100), allowed=range(0, 101, 5))
    k = int(
        st.number_input(
            "Top k",
            min_value=1,
            max_value=100,
            key="retrieval_k",
            help="Traces listed per query; MRR is computed at k. Accuracy is always shown at 1, 3, 5 and 10 too.",
            persist_state="session",
        )
    )
    threshold = (
        st.slider(
            "Good enough at (top-1 accuracy)",
            min_value=0,
            max_value=100,
            step=5,
            format="%d%%",
            key="retrieval_threshold",
            help="The lesson's rule: keep the small model if it retrieves the right trace first at least this often.",
            persist_state="session",
        )
        / 100
    )

# ---------------------------------------------------------------- traces
st.subheader("1. Traces")
trace_table = ui.editor("traces")
ui.table_tools("traces", trace_table)

# ---------------------------------------------------------------- template and queries
left, right = st.columns(2, gap="large")
with left:
    st.subheader("2. How a trace becomes text")
    workspace.restore(TEMPLATE_KEY, traces.DEFAULT_TEMPLATE)
    template = st.text_area(
        "Template",
        key=TEMPLATE_KEY,
        height=110,
        help="Fields in braces are filled from each trace's columns: "
        + ", ".join("{" + c + "}" for c in trace_table.columns)
        + ". Tools render as a Python list, as in the lesson. Write a literal brace as {{ or }}.",
        persist_state="session",
    )
    template_error = None
    try:
        traces.template_fields(template, [str(c) for c in trace_table.columns])
    except ValueError as error:
        template_error = str(error)
        st.error(markdown_literal(template_error))
with right:
    st.subheader("3. Test queries")
    query_table = ui.editor("queries")
    ui.table_tools("queries", query_table)

prepared, problem = None, None
if template_error is None:
    try:
        prepared = traces.prepare(trace_table, query_table, template)
    except traces.NothingUsable as error:
        problem = str(error)
        ui.problems_box(error.problems, "table", error.skipped, evaluated=False)
    except ValueError as error:
        problem = str(error)

with left:
    if prepared is not None:
        shown = min(3, len(prepared.texts))
        st.caption(f"What gets embedded: the first {shown} of {len(prepared.texts):,} traces")
        st.code(ui.preview(prepared.ids, prepared.texts, shown), language=None, wrap_lines=True)
if prepared is not None:
    ui.problems_box(prepared.trace_problems, "trace", prepared.skipped_traces)
    ui.problems_box(prepared.query_problems, "query", prepared.skipped_queries)
if problem:
    st.error(markdown_literal(problem))

# ---------------------------------------------------------------- run
st.subheader("4. Evaluate")
own = results_ui.own_vectors(prepared, models)
ui.keep_inputs()  # before a long evaluation: a reload during it loses no input
names = models + ([own.name] if own is not None else [])
ready = prepared is not None and bool(names)
if not names:
    st.info("Choose at least one model in the sidebar (or bring your own vectors).")
elif prepared is not None:
    st.caption(
        f"{len(prepared.queries):,} queries against {len(prepared.texts):,} traces with "
        f"{markdown_literal(', '.join(names))}; encodings are cached, so after an edit only changed texts are encoded again."
    )
signature = ui.signature(prepared, k, names, own) if prepared is not None else None
if st.button("Evaluate", key="retrieval_run", type="primary", disabled=not ready, icon=":material/play_arrow:"):
    state["retrieval_runs"] = results_ui.evaluate(prepared, models, own, k, signature)
    keep_retrieval_figures(state["retrieval_runs"]["results"], signature=signature)

# ---------------------------------------------------------------- results
runs = state.get("retrieval_runs")
if not runs and state.get(FIGURES_KEY):  # figures restored from the workspace: the tables need a new run
    results_ui.kept_figures_caption(state[FIGURES_KEY], changed=kept_signature != signature)
if runs:
    for model, message in runs["errors"].items():
        if common.unavailable(model):  # the sidebar's picker says why: not said twice
            message = "why is said under the models in the sidebar"
        st.error(f"{markdown_literal(model)} could not run: {markdown_literal(message)}.".replace("..", "."))
    results = runs["results"]
    if results and runs["signature"] != signature:
        st.info("The tables, template, k or models changed since these results: press Evaluate to update them.")
    if results:
        st.subheader("Summary")
        summary = summary_table(results)
        st.dataframe(
            ui.shown_summary(summary),
            hide_index=True,
            key="retrieval_summary",
            column_config={**ui.SUMMARY_COLUMNS, **ui.metric_columns(summary)},
        )
        st.plotly_chart(figures.summary_chart(results, threshold), key="retrieval_chart")

        # The one decision rule (embedlab.decision), on quality only: no model is called fast here.
        st.subheader("Recommendation")
        decision = decide([RetrievalSummary.from_result(r).candidate() for r in results.values()], threshold=threshold)
        for verdict in decision.verdicts:
            result = results[verdict.model]
            reaches = result.accuracy >= threshold
            (st.success if reaches else st.warning)(
                markdown_literal(verdict.reason),
                icon=":material/check_circle:" if reaches else ":material/warning:",
            )
            failing = result.failures
            if len(failing):
                st.caption(
                    f"{len(failing)} of {result.n_queries} queries miss at top-1 with {markdown_literal(result.model)}:"
                )
                st.dataframe(
                    figures.per_query_table(result).loc[failing.index, ["query", "expected", "top-1", "rank", "gap"]],
                    hide_index=True,
                    column_config=ui.PER_QUERY_COLUMNS,
                    key=f"retrieval_failing_{result.model}",
                )
        st.markdown(markdown_literal(decision.rule))
        if len(results) > 1 and decision.best_quality:
            best = results[decision.best_quality]
            st.caption(
                f"Best here: {markdown_literal(best.model)} ({percent(best.accuracy)} top-1, MRR {percent(best.mrr)})."
            )

        st.subheader("Per query")
        results_ui.per_query_tabs(runs)
