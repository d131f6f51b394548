"""Model Review: choose a model with your team, and keep the decision.

Reads widgets, calls embedlab.review (which runs the Speed Benchmark's, Trace Retrieval's and
Space Explorer's core functions on the same data), draws the table, the speed × quality chart
and the decision framework's reasons; saves, reopens, compares and exports reviews. The review
shown lives in st.session_state; saved reviews in embedlab's data directory.
"""

from functools import partial

import streamlit as st

from embedlab import seed
from embedlab.formatting import count
from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.reviewing.figures import quality_figure, speed_figure, tradeoff_figure
from embedlab.reviewing.report import to_html, to_json, to_markdown
from embedlab.reviewing.run import review
from embedlab.reviewing.store import compare_reviews
from ui import common, runs, workspace
from ui import model_review as ui

state = st.session_state
CHART_CONFIG = {"displaylogo": False}
#: The run settings' widget keys and defaults (restored from the workspace; see ui/workspace.py).
SETTINGS = {
    "review_repeats": 3,
    "review_batch": 32,
    "review_k": 5,
    "review_threshold": round(seed.GOOD_ENOUGH_ACCURACY * 100),
}


def keep_interrupted_run() -> None:
    """A run cut short (Stop, or any click while it ran) keeps the models that finished."""
    cut = runs.interrupted("review")
    if cut is None:
        return
    finished = cut.partial
    if finished is None or finished.table.empty:
        common.flash("review", "warning", "The review was stopped before any model finished.")
        return
    state["review_current"] = finished.with_stopped()
    ui.forget_link()
    done = int((finished.table["status"] == "ok").sum())
    common.flash(
        "review",
        "warning",
        f"The review was stopped: {done} model(s) finished and are compared; a model cut short is marked “stopped”.",
    )


st.title("Model Review")
st.caption(
    "Choose an embedding model with your team: speed and quality side by side on your own data, the lesson's "
    "decision framework applied with its reasons, and the decision saved so it can be shared and revisited."
)
common.cache_notices()
for notice in ui.store().notices:
    if not state.get(f"_notice_{notice}"):
        state[f"_notice_{notice}"] = True
        st.toast(notice, icon=":material/warning:")
keep_interrupted_run()
ui.open_from_link()
ui.apply_pending_form()
common.show_flash("review")

# ---------------------------------------------------------------- candidates and data
with st.expander("**1. Candidates and review data**", expanded="review_current" not in state, icon=":material/tune:"):
    left, right = st.columns([1, 1], gap="large")
    with left:
        workspace.restore("review_models", list(seed.BENCHMARK_MODELS))
        models = common.models_picker("review_models", label="Candidate models", default=seed.BENCHMARK_MODELS)
        settings = st.columns(4)
        for key, default in SETTINGS.items():
            workspace.restore(key, default)
        repeats = settings[0].number_input(
            "Repeats",
            min_value=1,
            max_value=20,
            key="review_repeats",
            help="Timed passes over the corpus per model; the median speed is reported with the spread.",
            persist_state="session",
        )
        batch_size = settings[1].number_input(
            "Batch size", min_value=1, max_value=1024, key="review_batch", persist_state="session"
        )
        k = settings[2].number_input(
            "Top k",
            min_value=1,
            max_value=100,
            key="review_k",
            help="Retrieval cut-off for accuracy@k and MRR@k.",
            persist_state="session",
        )
        threshold = (
            settings[3].number_input(
                "Good enough (%)",
                min_value=0,
                max_value=100,
                step=5,
                key="review_threshold",
                help="The lesson's rule: keep the small model if its top-1 accuracy reaches this.",
                persist_state="session",
            )
            / 100
        )
        workspace.keep("review_models", *SETTINGS)
    with right:
        sources = dict(ui.RETRIEVAL_SOURCES)
        if not ui.has_trace_page_data():
            sources.pop("page")
        workspace.restore("review_retrieval_source", next(iter(sources)), allowed=list(sources))
        retrieval_source = st.radio(
            "Traces and test queries",
            list(sources),
            format_func=sources.get,
            key="review_retrieval_source",
            persist_state="session",
        )
        ui.keep_choice("review_retrieval_source", sources, ui.RETRIEVAL_SOURCES)
        retrieval, retrieval_problem = None, None
        try:
            retrieval, description, prepared = ui.retrieval_data(retrieval_source)
        except ValueError as error:
            retrieval_problem = str(error)
            st.error(markdown_sentence(error))
        else:
            st.caption(description + ("" if "page" in sources else " Edit your own on the Trace Retrieval page."))
            skipped = [
                count(n, f"{what} row")
                for n, what in ((prepared.skipped_traces, "trace"), (prepared.skipped_queries, "query"))
                if n
            ]
            if skipped:
                st.warning(f"{' and '.join(skipped)} skipped: " + markdown_literal(" ".join(prepared.problems[:3])))
        workspace.restore("review_corpus_source", next(iter(ui.CORPUS_SOURCES)), allowed=list(ui.CORPUS_SOURCES))
        corpus_source = st.radio(
            "Benchmark corpus (speed)",
            list(ui.CORPUS_SOURCES),
            format_func=ui.CORPUS_SOURCES.get,
            key="review_corpus_source",
            horizontal=True,
            help="The texts each model is timed on. By default the traces and queries reviewed, so speed and "
            "quality come from the same data.",
            persist_state="session",
        )
        workspace.keep("review_corpus_source")
        corpus, corpus_name, corpus_problem = ui.corpus_data(corpus_source, retrieval)
        sentence_sources = dict(ui.SENTENCE_SOURCES)
        if ui.space_sentences() is None:
            sentence_sources.pop("space")
        workspace.restore("review_sentence_source", next(iter(sentence_sources)), allowed=list(sentence_sources))
        sentence_source = st.radio(
            "Labelled sentences (cluster quality)",
            list(sentence_sources),
            format_func=sentence_sources.get,
            key="review_sentence_source",
            persist_state="session",
        )
        ui.keep_choice("review_sentence_source", sentence_sources, ui.SENTENCE_SOURCES)
        pasted = ""
        if sentence_source == "paste":
            workspace.restore("review_sentences_paste", "")
            pasted = st.text_area(
                "One “label | sentence” per line",
                key="review_sentences_paste",
                height=110,
                placeholder="Animals | The cat sits on the mat\nFood | The pizza tastes delicious",
                persist_state="session",
            )
            workspace.keep("review_sentences_paste")

run = st.button("Run review", key="review_run", type="primary", icon=":material/play_arrow:")

# ---------------------------------------------------------------- running
if run:
    problems = []
    if not models:
        problems.append("Choose at least one candidate model.")
    if retrieval is None:
        problems.append(f"The traces and queries cannot be used: {retrieval_problem}")
    if corpus_problem:
        problems.append(corpus_problem)
    sentences = labels = None
    try:
        sentences, labels = ui.sentence_data(sentence_source, pasted)
    except ValueError as error:
        problems.append(str(error))
    for problem in problems:
        st.error(markdown_sentence(problem))
    if not problems:

        def start(progress):
            return review(
                models,
                **retrieval,
                corpus=corpus,
                corpus_name=corpus_name,
                sentences=sentences,
                labels=labels,
                k=int(k),
                repeats=int(repeats),
                batch_size=int(batch_size),
                threshold=float(threshold),
                progress=progress,
            )

        try:
            result = runs.run(
                "review",
                start,
                stop_help="Stop now; the models that finished are kept.",
                done=lambda r: f"Done: {len(r.table)} model(s) reviewed.",
            )
        except (ValueError, TypeError) as error:
            st.error(markdown_sentence(error))
        else:
            state["review_current"] = result
            ui.forget_link()
            for key in ui.FORM_KEYS:
                state.pop(key, None)
            workspace.forget(*ui.FORM_KEYS)

# ---------------------------------------------------------------- the review
current = state.get("review_current")
if current is None:
    st.info(
        "Choose candidate models and the review data, then **Run review** — or open a saved review below. "
        "One run measures each model's speed, retrieval quality and (with labelled sentences) cluster quality."
    )
else:
    table = current.table
    settings_used = current.settings
    rule = current.decision
    st.divider()
    if current.review_id is not None:
        st.subheader(f"Review #{current.review_id}: {current.name}", anchor=False)
        st.caption(f"Saved {current.created.replace('T', ' ')} · share this link to reopen it:")
        st.code(ui.share_link(current.review_id), language=None)
    else:
        st.subheader("This review (not saved yet)", anchor=False)
    st.caption(
        f"{settings_used.get('n_queries', '?')} queries against {settings_used.get('n_traces', '?')} traces · "
        f"speed measured on {markdown_literal(current.corpus_text)} · {settings_used.get('repeats', '?')} "
        f"repeats · k {settings_used.get('k', '?')}"
        + (f" · {settings_used['n_sentences']} labelled sentences" if settings_used.get("n_sentences") else "")
        + f" · data fingerprint {current.fingerprint.get('data', '?')}"
    )
    for row in table[table["error"] != ""].itertuples():
        st.warning(markdown_sentence(f"{row.model}: {row.error}."), icon=":material/error:")
    if current.stopped:
        st.warning("This review was stopped early: only the models that finished are compared.")

    st.dataframe(
        ui.display_table(current),
        key="review_table",
        hide_index=True,
        column_config=ui.column_config(current.k),
    )
    chart, decision = st.columns([3, 2], gap="large")
    measured = table["texts_per_s"].notna() & table["accuracy"].notna()
    with chart:
        if measured.any():
            st.plotly_chart(tradeoff_figure(current), key="review_tradeoff", config=CHART_CONFIG)
        else:
            st.info("No model finished both measurements, so there is nothing to chart.")
    with decision, st.container(border=True):
        st.subheader("Decision framework", anchor=False)
        st.caption(
            "Start here: all-MiniLM-L6-v2 — fast, proven, a good baseline. Upgrade if: retrieval quality "
            f"< {rule.threshold:.0%}, queries return wrong traces, speed not critical."
        )
        if rule.recommended:
            st.success(f"Recommended: **{markdown_literal(rule.recommended)}**", icon=":material/thumb_up:")
        st.markdown("\n".join(f"- {markdown_literal(reason)}" for reason in rule.reasons))

    with st.expander("Speed and retrieval charts, queries that return wrong traces", icon=":material/bar_chart:"):
        one, two = st.columns(2)
        if table["texts_per_s"].notna().any():
            one.plotly_chart(speed_figure(current), key="review_speed_chart", config=CHART_CONFIG)
        if table["accuracy"].notna().any():
            two.plotly_chart(quality_figure(current), key="review_quality_chart", config=CHART_CONFIG)
        wrong = [
            {"model": model, "query": q["query"], "returned": q["top_id"], "expected": q["expected_id"]}
            for model, result in current.retrieval.items()
            for q in result.get("per_query", [])
            if not q.get("correct")
        ]
        if wrong:
            st.dataframe(wrong, key="review_wrong", hide_index=True)
        else:
            st.caption("Every model that finished put the expected trace first for every query.")
    ui.storage_section(current)

    # ------------------------------------------------------------ save and export
    st.subheader("Record the decision", anchor=False)
    # Not a form: each field reaches the workspace when it is left, so a reload keeps what was being written.
    for key, default in zip(ui.FORM_KEYS, ui.form_values(current), strict=True):
        workspace.restore(key, default)
    with st.container(border=True, key="review_save_form"):
        name_col, decision_col = st.columns([1, 1])
        name = name_col.text_input(
            "Review name",
            key="review_name",
            persist_state="session",
            max_chars=200,
            placeholder="e.g. Trace search model, May",
        )
        decision_text = decision_col.text_input(
            "Decision",
            key="review_decision",
            persist_state="session",
            max_chars=2000,
            placeholder=f"e.g. Use {rule.recommended or 'all-MiniLM-L6-v2'}",
        )
        notes = st.text_area(
            "Reviewer's notes",
            key="review_notes",
            persist_state="session",
            height=100,
            placeholder="Who reviewed, what was discussed, what to check next…",
        )
        buttons = st.container(horizontal=True)
        save_new = buttons.button("Save as a new review", key="review_save", type="primary", icon=":material/save:")
        update = False
        if current.review_id is not None:
            update = buttons.button(f"Update review #{current.review_id}", key="review_update", icon=":material/edit:")
    workspace.keep(*ui.FORM_KEYS)
    if save_new or update:
        try:
            if update:
                ui.store().update(current.review_id, name=name, notes=notes, decision=decision_text)
                review_id = current.review_id
            else:
                review_id = ui.store().save(current, name=name, notes=notes, decision=decision_text)
        except (ValueError, KeyError) as error:
            st.error(markdown_sentence(error.args[0] if error.args else error))
        else:
            if ui.open_saved(review_id):
                common.flash(
                    "review",
                    "success",
                    f"{'Updated' if update else 'Saved as'} review #{review_id}; its link is below.",
                )
                st.rerun()

    meta = {"name": name.strip() or current.name or "Model review", "notes": notes, "decision": decision_text}
    stem = f"model-review-{current.review_id}" if current.review_id is not None else "model-review"
    downloads = st.container(horizontal=True)
    downloads.download_button(
        "Download HTML",
        partial(to_html, current, **meta),  # made when clicked: the HTML carries plotly.js (~5 MB)
        file_name=f"{stem}.html",
        mime="text/html",
        key="review_download_html",
        icon=":material/download:",
        on_click="ignore",
        help="One self-contained file: charts included, readable offline.",
    )
    downloads.download_button(
        "Download Markdown",
        partial(to_markdown, current, **meta),
        file_name=f"{stem}.md",
        mime="text/markdown",
        key="review_download_md",
        icon=":material/download:",
        on_click="ignore",
        help="For a pull request or a wiki page.",
    )
    downloads.download_button(
        "Download JSON",
        partial(to_json, current, **meta),
        file_name=f"{stem}.json",
        mime="application/json",
        key="review_download_json",
        icon=":material/download:",
        on_click="ignore",
        help="Every figure, the settings, the machine and the model versions.",
    )

# ---------------------------------------------------------------- saved reviews
st.divider()
st.subheader("Saved reviews", anchor=False)
saved = ui.store().reviews()
if saved.empty:
    st.caption("Reviews you save are kept in embedlab's data directory and listed here, newest first.")
    st.stop()
labels = {int(r.id): ui.review_label(r) for r in saved.itertuples()}
st.dataframe(
    saved.drop(columns=["fingerprint"]),
    key="review_saved_table",
    hide_index=True,
    column_config={
        "id": st.column_config.NumberColumn("#", format="%d", width="small"),
        "damaged": st.column_config.CheckboxColumn("damaged", help="the record cannot be read back"),
    },
)
pick_col, open_col = st.columns([3, 2], vertical_alignment="bottom")
chosen = pick_col.selectbox("Saved review", list(labels), format_func=labels.get, key="review_pick")
actions = open_col.container(horizontal=True)
if actions.button("Open", key="review_open", icon=":material/open_in_new:") and ui.open_saved(chosen):
    st.rerun()
with actions.popover("Delete", icon=":material/delete:", key="review_delete_menu"):
    st.write(f"Delete review #{chosen} for good?")
    if st.button(f"Delete review #{chosen}", key="review_delete", type="primary"):
        ui.store().delete(chosen)
        shown = state.get("review_current")
        if shown is not None and shown.review_id == chosen:
            state["review_current"] = shown.unsaved()
            ui.forget_link()
        common.flash("review", "success", f"Deleted review #{chosen}.")
        st.rerun()

if len(labels) >= 2:
    st.subheader("Compare two reviews", anchor=False)
    ids = list(labels)
    col_a, col_b = st.columns(2)
    a = col_a.selectbox("Review A", ids, index=1, format_func=labels.get, key="review_compare_a")
    b = col_b.selectbox("Review B", ids, index=0, format_func=labels.get, key="review_compare_b")
    loaded = {}
    for side, review_id in (("A", a), ("B", b)):
        try:
            loaded[side] = ui.store().load(review_id)
        except (KeyError, ValueError) as error:
            st.error(markdown_sentence(f"review {side}: {error.args[0] if error.args else error}"))
    if len(loaded) == 2:
        comparison = compare_reviews(loaded["A"], loaded["B"])
        for difference in comparison.differences:
            st.info(f"Not like for like: {markdown_literal(difference)}.")
        st.dataframe(
            ui.compare_table(comparison), key="review_compare_table", hide_index=True, column_config=ui.compare_config()
        )
        side_a, side_b = st.columns(2)
        for column, side in ((side_a, "A"), (side_b, "B")):
            other = loaded[side]
            with column:
                st.markdown(
                    f"**{side}: #{other.review_id} {markdown_literal(other.name)}** — "
                    f"decision: {markdown_literal(other.decision_text or 'not recorded')}; framework: "
                    f"{markdown_literal(other.decision.recommended or '–')}"
                )
                if (other.table["texts_per_s"].notna() & other.table["accuracy"].notna()).any():
                    st.plotly_chart(tradeoff_figure(other), key=f"review_compare_chart_{side}", config=CHART_CONFIG)
