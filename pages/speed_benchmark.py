"""Speed Benchmark: models timed on your texts, on this machine (the lesson's Experiment 2.1).

Reads widgets, calls embedlab.benchmark, draws. The current run lives in st.session_state and
every run is saved in embedlab's data directory, so a Stop, a rerun or a restart loses nothing;
the inputs (texts pasted or uploaded, models, settings) and the run shown are kept in the
session's workspace (``?ws=`` in the address), so a reload or the same link in another tab finds them.
"""

from dataclasses import replace

import streamlit as st

import embedlab
from embedlab import seed
from embedlab.benchmarking import loading, notes
from embedlab.benchmarking.comparison import compare_runs
from embedlab.benchmarking.figures import compare_figure, dims_figure, speed_figure
from embedlab.benchmarking.machine import describe
from embedlab.benchmarking.measure import choice_dict
from embedlab.benchmarking.results import results_json
from embedlab.benchmarking.run import advice, repeat_to
from embedlab.markup import markdown_literal
from embedlab.tables import text_lines
from ui import common, runs, workspace
from ui import speed_benchmark as ui
from ui.state import retrieval_figures

state = st.session_state
SOURCES = {
    "lesson": "The lesson's trace texts (5 × 20)",
    "traces": "The Trace Retrieval page's traces and queries",
    "paste": "Paste texts",
    "upload": "Upload a file",
}
BACKENDS = {
    "auto": "The one chosen for this machine (auto)",
    "all": "Every backend available, side by side",
}


@st.cache_resource(show_spinner=False)
def store() -> embedlab.BenchmarkStore:
    return embedlab.BenchmarkStore()


def keep_interrupted_run() -> None:
    """A run cut short (Stop, or any click while it ran) keeps the rows it finished (see ui/runs.py).

    The core saved the run as it went (as "interrupted" when the script was cut); here it is
    marked "stopped" with the rows of the last progress event, and shown.
    """
    cut = runs.interrupted("speed")
    if cut is None:
        return
    partial = cut.partial
    if partial is None:
        state["speed_notice"] = "The run was stopped before any model was measured."
        return
    partial = replace(partial, stopped=True)
    previous = state.get("speed_run_id")
    if partial.id is not None and store().update(partial.id, partial, state="stopped"):
        run_id = partial.id
    else:
        run_id = store().save(partial, label="stopped", state="stopped")
    state["speed_result"] = replace(partial, id=run_id)
    state["speed_run_id"] = run_id
    if previous is not None and previous != run_id:
        state["speed_earlier"] = previous
    state["speed_notice"] = notes.stop_notice(partial)


st.title("Speed Benchmark")
st.caption(
    "How fast is each model on your texts, on this machine? Speeds depend on the hardware, which is why "
    "leaderboards don't list them: measure here. Each model is loaded fresh, warmed up, then timed over "
    "several repeats with the embedding cache bypassed."
)
common.cache_notices()
for notice in store().notices:
    if not state.get(f"_notice_{notice}"):
        state[f"_notice_{notice}"] = True
        st.toast(notice, icon=":material/warning:")
keep_interrupted_run()
ui.restore_last_run(store())  # after a reload: the run this workspace last showed

# ---------------------------------------------------------------- inputs
left, right = st.columns([3, 2], gap="large")
with left:
    workspace.restore("speed_models", list(seed.BENCHMARK_MODELS))
    models = common.models_picker("speed_models", label="Models", default=seed.BENCHMARK_MODELS)
    for model in models:  # the choice already made for this machine (never calibrates here)
        choice = loading.recorded(model)
        if choice is not None:
            st.caption(markdown_literal(notes.choice_sentence(model, choice_dict(choice))))
    workspace.restore("speed_source", "lesson", allowed=list(SOURCES))
    source = st.radio(
        "Corpus",
        list(SOURCES),
        format_func=SOURCES.get,
        key="speed_source",
        horizontal=True,
        persist_state="session",
    )
    texts: list[str] = []
    if source == "lesson":
        texts = list(seed.BENCHMARK_CORPUS)
        with st.expander("The lesson's five chatbot-trace texts"):
            for text in seed.TRACE_TEXTS:
                st.text(text)
    elif source == "traces":
        queries, traces = ui.agreement_texts()
        if traces is None:
            st.info(
                "The Trace Retrieval page has no usable traces in this workspace yet: open it (its lesson tables "
                "load at once) or upload yours there, then come back."
            )
        else:
            texts = [*traces, *queries]
            st.caption(
                f"{len(traces):,} traces (rendered with that page's template) and {len(queries):,} queries: "
                "the texts your retrieval will encode."
            )
    elif source == "paste":
        workspace.restore("speed_paste", "")
        pasted = st.text_area(
            "One text per line",
            key="speed_paste",
            height=180,
            placeholder="User expressed anxiety about work deadlines\nBot suggested breaking down tasks",
            persist_state="session",
        )
        texts = text_lines(pasted or "")
    else:
        texts = ui.uploaded_texts()  # the file uploaded, or the one kept in this workspace
    workspace.restore("speed_size", 0, allowed=range(0, ui.MAX_TEXTS + 1))
    size = st.number_input(
        "Repeat the corpus up to N texts (0: as it is)",
        min_value=0,
        max_value=ui.MAX_TEXTS,
        step=100,
        key="speed_size",
        help="A handful of texts times too quickly to measure well: repeating them to a few hundred steadies "
        "the figures. A larger number cuts the corpus to N.",
        persist_state="session",
    )
    if texts and size:
        texts = repeat_to(texts, int(size))
    if len(texts) > ui.MAX_TEXTS:
        st.warning(f"The corpus has {len(texts):,} texts; the first {ui.MAX_TEXTS:,} are timed.")
        texts = texts[: ui.MAX_TEXTS]
    if texts:
        st.caption(f"Corpus: {len(texts):,} texts ({len(set(texts)):,} distinct).")

with right:
    for key, default, allowed in (
        ("speed_batch", 32, range(1, 4097)),
        ("speed_repeats", 3, range(1, 51)),
        ("speed_warmup", True, (True, False)),
        ("speed_threads", 0, range(0, 257)),
        ("speed_backends", "auto", list(BACKENDS)),
        ("speed_sweep", False, (True, False)),
    ):
        workspace.restore(key, default, allowed=allowed)
    batch_size = st.number_input(
        "Batch size",
        min_value=1,
        max_value=4096,
        key="speed_batch",
        help="Texts per forward pass.",
        persist_state="session",
    )
    repeats = st.number_input(
        "Repeats",
        min_value=1,
        max_value=50,
        key="speed_repeats",
        help="Timed passes over the whole corpus per model; the median is reported with the fastest and slowest.",
        persist_state="session",
    )
    warmup = st.toggle(
        "Warm up before timing",
        key="speed_warmup",
        help="Encode one batch first (the first call of a model is slower), as the lesson does.",
        persist_state="session",
    )
    threads = st.number_input(
        "Torch threads (0: one per core)",
        min_value=0,
        max_value=256,
        key="speed_threads",
        help="On a machine busy with other work, fewer threads can be much faster. Applies to "
        "sentence-transformers models.",
        persist_state="session",
    )
    backends = st.radio(
        "Backends",
        list(BACKENDS),
        format_func=BACKENDS.get,
        key="speed_backends",
        help="How each model runs: torch-fp32 is the reference; torch-bf16, ONNX fp32/int8 and others can be "
        "faster on some CPUs. 'auto' runs the backend embedlab chose for this machine; 'every backend' measures "
        "them side by side, each with how closely its vectors agree with torch-fp32.",
        persist_state="session",
    )
    sweep = st.toggle(
        "Sweep thread counts and batch sizes",
        key="speed_sweep",
        help="After the run, time each model again with 1, 2, 4 … threads up to the cores here and batch sizes "
        "16, 32, 64 and 128, and say which setting is fastest on this machine. Takes a while.",
        persist_state="session",
    )
    default_baseline = embedlab.DEFAULT_MODEL if embedlab.DEFAULT_MODEL in models else (models or [None])[0]
    ui.restore_baseline(models, default_baseline)
    baseline = st.selectbox(
        "Baseline",
        models,
        key="speed_baseline",
        help='Others are compared with it: "all-mpnet-base-v2 is 5.8x slower than all-MiniLM-L6-v2".',
        placeholder="Choose models first",
    )

ui.keep_inputs()  # before a long run: a reload during it loses no input
run = st.button("Run benchmark", key="speed_run", type="primary", icon=":material/speed:")

# ---------------------------------------------------------------- running
if run:
    problems = []
    if not models:
        problems.append("Choose at least one model to benchmark.")
    if not texts:
        problems.append("The corpus is empty: paste or upload at least one text, or use the lesson's texts.")
    for problem in problems:
        st.error(problem)
    if not problems:
        state.pop("speed_notice", None)
        queries, traces = ui.agreement_texts()
        try:
            result = runs.run(
                "speed",
                lambda progress: embedlab.benchmark(
                    models,
                    texts,
                    batch_size=int(batch_size),
                    repeats=int(repeats),
                    warmup=bool(warmup),
                    baseline=baseline if baseline in models else None,
                    threads=int(threads) or None,
                    backends=backends,
                    sweep=bool(sweep),
                    queries=queries,
                    traces=traces,
                    progress=progress,
                    store=store(),  # saved as it goes: a reload or a closed tab keeps the finished rows
                ),
                stop_help="Stop after the current step; the models that finished are kept.",
                done=lambda run: f"Done: {len(run.table)} row(s) measured on {len(texts):,} texts.",
            )
        except (ValueError, TypeError) as error:
            st.error(str(error))
        else:
            previous = state.get("speed_run_id")
            state["speed_result"] = result
            state["speed_run_id"] = result.id if result.id is not None else store().save(result)
            if previous is not None:  # compare the new run with the one it replaces
                state["speed_earlier"] = previous
            else:
                state.pop("speed_earlier", None)


# ---------------------------------------------------------------- results
def show_results(result) -> None:
    st.divider()
    settings, table = result.settings, result.table
    st.subheader("Results")
    run_id = result.id if result.id is not None else state.get("speed_run_id")

    def shown(value) -> object:
        return "?" if value is None else value

    st.caption(
        (f"Run #{run_id} · " if run_id is not None else "")
        + f"{shown(settings.n_texts)} texts ({shown(settings.distinct_texts)} distinct) · batch size "
        f"{shown(settings.batch_size)} · {shown(settings.repeats)} repeats · warm-up "
        f"{'on' if settings.warmup else 'off'} · {settings.started or ''}"
    )
    if result.state == "interrupted":
        st.warning(notes.stop_notice(result, how="interrupted"))
    for row in table[table["error"] != ""].itertuples():
        st.warning(f"{row.name}: {row.error}.")
    for note in notes.noise_notes(result):
        st.warning(note)
    for model, choice in result.choices.items():
        st.caption(markdown_literal(notes.choice_sentence(model, choice, result)))
    comparisons = [c for c in table["comparison"] if c and c != "baseline"]
    if comparisons:
        st.markdown("\n".join(f"- {c}" for c in comparisons))

    st.dataframe(
        ui.display_table(table),
        key="speed_table",
        hide_index=True,
        column_config=ui.column_help(settings.agreement),
    )
    if result.sweep is not None:
        st.markdown("**Fastest settings on this machine** (threads and batch size, each timed as the run was)")
        for line in notes.sweep_sentence(result):
            st.markdown(f"- {markdown_literal(line)}")
        st.dataframe(ui.sweep_table(result.sweep), key="speed_sweep_table", hide_index=True)

    if result.measured.empty:
        st.info("No model finished a timed repeat, so there is nothing to chart.")
    else:
        chart_left, chart_right = st.columns(2)
        chart_left.plotly_chart(speed_figure(result), key="speed_chart", config={"displaylogo": False})
        chart_right.plotly_chart(dims_figure(result), key="speed_dims_chart", config={"displaylogo": False})

    with st.container(border=True):
        st.subheader("Recommendation")
        figures = retrieval_figures() or {}
        decision = advice(result, figures, threshold=seed.GOOD_ENOUGH_ACCURACY)
        st.markdown("\n".join(f"- {markdown_literal(line)}" for line in decision.reasons))
        if figures:
            st.caption(
                "Retrieval accuracy (top-1) from the Trace Retrieval page: "
                + markdown_literal(", ".join(f"{model} {f.accuracy:.0%}" for model, f in figures.items()))
            )
        else:
            st.caption("No retrieval result in this session yet: run the Trace Retrieval page to measure quality.")
        st.page_link("pages/trace_retrieval.py", label="Check retrieval quality", icon=":material/manage_search:")

    with st.expander("Machine", icon=":material/memory:"):
        st.write(describe(result.machine))
        st.json(result.machine, expanded=False)

    downloads = st.container(horizontal=True)
    downloads.download_button(
        "Download CSV",
        table.to_csv(index=False),
        file_name="speed-benchmark.csv",
        mime="text/csv",
        key="speed_download_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    downloads.download_button(
        "Download JSON",
        results_json(result),
        file_name="speed-benchmark.json",
        mime="application/json",
        key="speed_download_json",
        icon=":material/download:",
        on_click="ignore",
    )


# ---------------------------------------------------------------- earlier runs
def show_earlier_runs(result) -> None:
    st.divider()
    st.subheader("Earlier runs")
    runs = store().runs()
    current_id = state.get("speed_run_id") if result is not None else None
    earlier = runs[runs["id"] != current_id] if current_id is not None else runs
    if earlier.empty:
        st.caption("Every run is saved in embedlab's data directory; the next one can be compared with this one.")
        return
    labels = {
        int(r.id): f"#{r.id} · {r.created} · {r.models} · {r.n_texts} texts"
        + (f" · {r.state}" if r.state != "finished" else "")
        for r in earlier.itertuples()
    }
    chosen = st.selectbox(
        "Compare with" if result is not None else "Saved run",
        list(labels),
        format_func=labels.get,
        key="speed_earlier",
    )
    try:
        before = store().load(chosen)
    except (KeyError, ValueError) as error:
        st.error(str(error.args[0] if error.args else error))
        before = None
    if before is not None and result is not None:
        comparison = compare_runs(result, before)
        if comparison.differences:
            st.info(f"Not like for like: {'; '.join(comparison.differences)}.")
        if comparison.table.empty:
            st.caption("No model was measured in both runs.")
        else:
            st.dataframe(
                comparison.table,
                key="speed_compare_table",
                hide_index=True,
                column_config={
                    "backend_before": st.column_config.TextColumn(f"backend #{chosen}"),
                    "texts_per_s": st.column_config.NumberColumn("texts/s now", format="%.1f"),
                    "texts_per_s_before": st.column_config.NumberColumn(f"texts/s #{chosen}", format="%.1f"),
                    "change": st.column_config.NumberColumn("now ÷ before", format="%.2fx"),
                    "encode_median_s": st.column_config.NumberColumn("encode s now", format="%.4f"),
                    "encode_median_s_before": st.column_config.NumberColumn(f"encode s #{chosen}", format="%.4f"),
                    "load_s": st.column_config.NumberColumn("load s now", format="%.3f"),
                    "load_s_before": st.column_config.NumberColumn(f"load s #{chosen}", format="%.3f"),
                },
            )
            st.plotly_chart(
                compare_figure(comparison, now="this run", before=f"run #{chosen}"),
                key="speed_compare_chart",
                config={"displaylogo": False},
            )
    actions = st.container(horizontal=True)
    if before is not None and actions.button("Show this run", key="speed_show", icon=":material/open_in_new:"):
        state["speed_result"] = before
        state["speed_run_id"] = chosen
        state.pop("speed_notice", None)
        st.rerun()
    if actions.button("Delete this run", key="speed_delete", icon=":material/delete:"):
        store().delete(chosen)
        if current_id == chosen:
            state.pop("speed_run_id", None)
        st.toast(f"Deleted run #{chosen}.")
        st.rerun()


current = state.get("speed_result")
if state.get("speed_notice"):
    st.warning(state["speed_notice"])
if current is None:
    st.info("Choose models and a corpus, then **Run benchmark**. Results appear here and are kept for comparison.")
else:
    show_results(current)
show_earlier_runs(current)
workspace.keep(ui.RUN_KEY)  # the run shown now, opened again after a reload
