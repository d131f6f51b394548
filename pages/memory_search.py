"""Memory Search: a chatbot's memories — past conversations, facts, events — searched with the current context.

The lesson's second use of embeddings in a chatbot. Reads widgets, calls embedlab.memory, draws.
Collections live in $EMBEDLAB_HOME/collections (LanceDB); the last build, search and evaluation
live in st.session_state; every input is kept in the workspace (see ui/memory_search.py).
"""

import streamlit as st

from embedlab import memory
from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.memory.evaluation import MERGED, REENCODE_ROW_LIMIT
from embedlab.tables import text_columns
from ui import common, runs, workspace
from ui import memory_search as ui

state = st.session_state

st.title("Memory Search")
st.caption(
    "A chatbot remembers by embedding similarity: the current context is the query, and the corpus is its "
    "past conversations, facts and events — often in several collections. Build collections here (or on a "
    "cluster with `python -m embedlab collection build`), search them together, and check with labelled "
    "queries whether one model serves all your memories."
)
common.cache_notices()
if runs.interrupted("memory_build") is not None:
    common.flash(
        "memory",
        "warning",
        "The build was stopped: the collection is as it was; build again to resume where it stopped.",
    )
cut = runs.interrupted("memory_eval")
if cut is not None:
    if cut.partial is not None and len(cut.partial.table):
        state["memory_evaluation"] = cut.partial
    common.flash("memory", "warning", "The evaluation was stopped: the searches that finished are shown.")
common.show_flash("memory")

# ---------------------------------------------------------------- 1. your collections
st.subheader("1. Your collections")
infos = memory.list_collections()
names = [i.name for i in infos]
if not infos:
    st.caption("None yet: build one below, from an example or your own file.")
else:
    st.dataframe(
        ui.collection_rows(infos),
        hide_index=True,
        key="memory_collections",
        column_config={"rows": st.column_config.NumberColumn(format="localized")},
    )
    victim, go = st.columns([2, 1], vertical_alignment="bottom")
    chosen = victim.selectbox("Delete a collection", names, index=None, key="memory_delete_choice")
    if go.button("Delete", key="memory_delete", disabled=chosen is None, icon=":material/delete:"):
        try:
            memory.delete_collection(chosen)
        except ValueError as error:
            st.error(markdown_sentence(error))
        else:
            common.flash("memory", "info", f"{markdown_literal(chosen)} was deleted.")
            st.rerun()

# ---------------------------------------------------------------- 2. build
st.subheader("2. Build a collection")
workspace.restore("memory_source", next(iter(ui.SOURCES)), allowed=list(ui.SOURCES))
source = st.radio("Texts from", list(ui.SOURCES), format_func=ui.SOURCES.get, key="memory_source", horizontal=True)
workspace.keep("memory_source")
frame = None
if source == "upload":
    ui.restore_upload()  # a new session: the file kept in the workspace
    st.file_uploader(
        "A table with one memory per row, or a chat log",
        type=ui.UPLOAD_TYPES,
        key="memory_upload",
        on_change=ui.on_upload,
        help="CSV, TSV, JSON, JSONL or Parquet; a chat log is JSONL of {role, content} messages, or one list of "
        "them per conversation.",
    )
    if state.get("memory_upload_error"):
        st.error(ui.upload_sentence(state["memory_upload_error"]))
    frame = state.get("memory_upload_frame")
    if state.get("memory_upload_restored"):
        rows = f"{len(frame):,} rows" if frame is not None else ""
        ui.restored_notice(state["memory_upload_name"], rows, key="memory_upload_forget", on_forget=ui.forget_upload)
    elif frame is not None:
        st.caption(f"{len(frame):,} rows from {markdown_literal(state['memory_upload_name'])}.")
else:
    frame = ui.example(source)
if frame is not None:
    columns = [str(c) for c in frame.columns]
    texts = [c for c in text_columns(frame) if c != "id"] or columns
    left, middle, right = st.columns(3, gap="large")
    ui.restore_once("memory_name", ui.suggested_name(source))
    name = left.text_input("Collection name", key="memory_name", max_chars=64)
    ui.restore_once("memory_text_column", texts[0], allowed=texts)
    text_column = middle.selectbox(
        "Text column", texts, key="memory_text_column", help="What gets embedded: one memory per row."
    )
    ids = [ui.ROW_NUMBER, *[c for c in columns if c != text_column]]
    ui.restore_once("memory_id_column", "id" if "id" in ids else ids[0], allowed=ids)
    id_column = right.selectbox(
        "Id column",
        ids,
        key="memory_id_column",
        help="Names each memory in results and labelled queries; without one, the row number is the id.",
    )
    with left:
        workspace.restore("memory_model", None)
        model = common.model_picker("memory_model")
    middle.caption(
        "The other columns are kept as metadata, to filter on. Building again with the same name encodes only "
        "new texts."
    )
    workspace.restore("memory_rebuild", False)
    rebuild = middle.checkbox(
        "Rebuild: re-encode every text",
        key="memory_rebuild",
        help="Needed to change the model of an existing collection (two models' vectors never mix); readers "
        "keep the previous collection until the rebuild is complete.",
    )
    workspace.keep("memory_name", "memory_text_column", "memory_id_column", "memory_model", "memory_rebuild")
    with st.expander(f"The first rows ({min(len(frame), 20)} of {len(frame):,})"):
        st.dataframe(frame.head(20), hide_index=True, key="memory_preview")
    if st.button("Build", key="memory_build", type="primary", icon=":material/database:", disabled=not name.strip()):
        try:
            state["memory_built"] = ui.build(
                name.strip(),
                frame,
                text_column=text_column,
                id_column=None if id_column == ui.ROW_NUMBER else id_column,
                model=model,
                rebuild=rebuild,
                example=None if source == "upload" else source,
            )
        except (ValueError, TypeError, LookupError, OSError) as error:
            st.error(markdown_sentence(error))
        else:
            st.rerun()
built = state.get("memory_built")
if built is not None:
    st.success(
        f"{markdown_literal(built.info.name)}: {built.info.rows:,} memories with {markdown_literal(built.info.model)} — "
        f"{built.added:,} encoded now, {built.skipped:,} already there"
        + (f", at {built.texts_per_second:,.0f} texts/s." if built.texts_per_second >= 1 else ".")
        + (" Stopped before the end; build again to finish." if built.stopped else ""),
        icon=":material/database:",
    )

if infos:
    with st.expander("Approximate index: faster search on large collections, with its recall measured"):
        which, go = st.columns([2, 1], vertical_alignment="bottom")
        target = which.selectbox("Collection", names, key="memory_index_choice")
        if go.button("Build approximate index", key="memory_index_build", icon=":material/bolt:"):
            with st.spinner("Building the index and measuring its recall against exact search…"):
                try:
                    state["memory_index"] = memory.build_index(target)
                except (ValueError, OSError) as error:
                    st.error(markdown_sentence(error))
        report = state.get("memory_index")
        if report is not None:
            a, b, c, d = st.columns(4)
            a.metric("recall@10", f"{report.recall_at_10:.3f}", help="Share of exact search's top 10 it finds.")
            b.metric("approximate", f"{report.approximate_ms:.2f} ms", help="Median time per query.")
            c.metric("exact", f"{report.exact_ms:.2f} ms", help="Median time per query, every row scored.")
            d.metric("built in", f"{report.seconds:.1f} s")
            st.caption(
                f"{markdown_literal(report.name)}: {report.kind} index over {report.rows:,} rows. Recall is measured "
                "on queries drawn from the collection itself; a fast wrong answer is no answer."
            )

# ---------------------------------------------------------------- 3. search
st.subheader("3. Search")
if not infos:
    st.info("Build a collection first.")
else:
    workspace.restore("memory_search_collections", names[:1])
    ui.forget_deleted("memory_search_collections", names)
    chosen = st.multiselect("Collections", names, key="memory_search_collections")
    for key, default in (("memory_query", ""), ("memory_k", 5), ("memory_filter_value", "")):
        workspace.restore(key, default)
    context = st.text_area(
        "Current context",
        key="memory_query",
        height=90,
        placeholder="What the user just said, or a summary of the conversation so far",
    )
    k_col, column_col, value_col = st.columns([1, 2, 2])
    k = int(k_col.number_input("Results (k)", min_value=1, max_value=100, key="memory_k"))
    metadata = sorted({c for i in infos if i.name in chosen for c in i.metadata_columns})
    workspace.restore("memory_filter_column", None, allowed=metadata)
    filter_column = column_col.selectbox(
        "Filter on", metadata, index=None, key="memory_filter_column", placeholder="No filter"
    )
    filter_value = value_col.text_input(
        "equal to", key="memory_filter_value", disabled=filter_column is None, help="Exact match on the metadata."
    )
    workspace.keep(
        "memory_search_collections", "memory_query", "memory_k", "memory_filter_column", "memory_filter_value"
    )
    where = {filter_column: filter_value} if filter_column and filter_value else None
    if st.button("Search", key="memory_search_run", type="primary", icon=":material/search:", disabled=not chosen):
        if not context.strip():
            st.warning("Type the current context to search with.")
        else:
            try:
                state["memory_search"] = ui.search(chosen, context, k=k, where=where, infos=infos)
            except (ValueError, LookupError, OSError) as error:
                st.error(markdown_sentence(error))
    found = state.get("memory_search")
    if found is not None:
        st.caption(f"Results for: {markdown_literal(found['query'][:300])}")
        if found["skipped"]:
            st.caption(
                f"Left out by the filter (no such metadata column): {markdown_literal(', '.join(found['skipped']))}."
            )
        merged = found["merged"]
        tabs = st.tabs(
            ([f"Merged ({len(found['per_collection'])})"] if merged is not None else []) + list(found["per_collection"])
        )
        offset = 0
        if merged is not None:
            offset = 1
            with tabs[0]:
                st.caption(ui.score_caption(merged))
                st.dataframe(
                    ui.hits_table(merged.hits, merged=True),
                    hide_index=True,
                    key="memory_hits_merged",
                    column_config=ui.HIT_COLUMNS,
                )
        for tab, (name, result) in zip(tabs[offset:], found["per_collection"].items(), strict=True):
            with tab:
                st.caption(ui.score_caption(result))
                st.dataframe(
                    ui.hits_table(result.hits, merged=False),
                    hide_index=True,
                    key=f"memory_hits_{name}",
                    column_config=ui.HIT_COLUMNS,
                )

# ---------------------------------------------------------------- 4. evaluate
st.subheader("4. Evaluate: does one model serve all your memories?")
st.caption(
    "Labelled queries name the collection their memory is in and its id there. Each collection is searched "
    "with its own model; other models re-encode its texts (up to "
    f"{REENCODE_ROW_LIMIT:,} rows) and rank them exactly; with several collections, all are also searched merged."
)
workspace.restore("memory_labelled_source", next(iter(ui.LABELLED_SOURCES)), allowed=list(ui.LABELLED_SOURCES))
labelled_source = st.radio(
    "Labelled queries from",
    list(ui.LABELLED_SOURCES),
    format_func=ui.LABELLED_SOURCES.get,
    key="memory_labelled_source",
    horizontal=True,
)
workspace.keep("memory_labelled_source")
queries, problem = None, None
if labelled_source == "paste":
    workspace.restore("memory_labelled_paste", "")
    pasted = st.text_area(
        "One query a line: query | collection | id",
        key="memory_labelled_paste",
        height=140,
        placeholder="I'm feeling stressed about my job | lesson-traces | 0",
    )
    workspace.keep("memory_labelled_paste")
    if pasted.strip():
        try:
            queries = ui.labelled.labelled_from_text(pasted)
        except ValueError as error:
            problem = str(error)
elif labelled_source == "upload":
    ui.restore_labelled()  # a new session: the file kept in the workspace
    st.file_uploader(
        "A table with columns query, collection and id",
        type=ui.UPLOAD_TYPES,
        key="memory_labelled_upload",
        on_change=ui.on_labelled_upload,
    )
    problem = state.get("memory_labelled_error")
    queries = state.get("memory_labelled")
    if state.get("memory_labelled_restored"):
        amount = f"{len(queries):,} labelled queries" if queries is not None else ""
        ui.restored_notice(
            state["memory_labelled_name"], amount, key="memory_labelled_forget", on_forget=ui.forget_labelled
        )
else:
    queries = ui.example_labelled(infos)
    if queries is None:
        st.info("Build one of the examples first: their labelled queries come with them.")
if problem:
    st.error(markdown_sentence(problem))
if queries is not None:
    st.caption(
        f"{len(queries):,} labelled queries in {markdown_literal(', '.join(dict.fromkeys(queries['collection'])))}."
    )
left, right = st.columns([3, 1])
workspace.restore("memory_eval_models", [])
workspace.restore("memory_eval_k", 10)
with left:
    extra = common.models_picker("memory_eval_models", label="Other models to try", default=())
eval_k = int(right.number_input("k", min_value=1, max_value=100, key="memory_eval_k"))
workspace.keep("memory_eval_models", "memory_eval_k")
if st.button(
    "Evaluate",
    key="memory_eval_run",
    type="primary",
    icon=":material/play_arrow:",
    disabled=queries is None or not infos,
):
    try:
        state["memory_evaluation"] = ui.evaluate(queries, None, k=eval_k, models=extra)
    except (ValueError, TypeError, LookupError, OSError) as error:
        st.error(markdown_sentence(error))
evaluation = state.get("memory_evaluation")
if evaluation is not None:
    verdict = evaluation.verdict()
    if verdict:
        st.info(markdown_literal(verdict), icon=":material/lightbulb:")
    st.dataframe(
        evaluation.table,
        hide_index=True,
        key="memory_eval_table",
        column_config={c: ui.PERCENT for c in evaluation.metric_columns},
    )
    st.caption(
        f"{len(evaluation.misses):,} of {len(evaluation.per_query):,} searches did not bring the expected memory first"
        + (
            f" ({markdown_literal(MERGED)} rows: all collections searched together)."
            if (evaluation.table["collection"] == MERGED).any()
            else "."
        )
    )
    st.dataframe(evaluation.per_query, hide_index=True, key="memory_eval_per_query", column_config=ui.PER_QUERY_COLUMNS)
    downloads = st.container(horizontal=True)
    downloads.download_button(
        "Table as CSV",
        lambda: evaluation.csv(),
        file_name="memory-evaluation.csv",
        mime="text/csv",
        key="memory_eval_csv",
        icon=":material/download:",
        on_click="ignore",
    )
    downloads.download_button(
        "Per query as CSV",
        lambda: evaluation.csv(per_query=True),
        file_name="memory-evaluation-per-query.csv",
        mime="text/csv",
        key="memory_eval_csv_queries",
        icon=":material/download:",
        on_click="ignore",
    )
