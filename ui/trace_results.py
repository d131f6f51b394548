"""Streamlit-only helpers of the Trace Retrieval page's evaluation and results: vectors brought by
the user, the evaluation loop with its progress bars, and each model's tab — the per-query table
(select a row to highlight its query), the failure map and the dimensions-and-storage table.

Everything drawn is computed in the core (:mod:`embedlab.retrieval`). State kept in
``st.session_state``:

* ``retrieval_runs``: the last evaluation — ``results`` and ``errors`` per model, ``signature``
  (what it was computed from), ``ids`` and ``texts`` (the traces evaluated), ``vectors`` (per model: query and trace vectors), ``storage``
  (per model: a StorageTable, or the sentence saying why not) and ``maps`` (failure maps per
  model and projection, made when first shown);
* ``retrieval_own``: the last vectors file read — ``(upload id, name)``, the OwnVectors or None,
  and the sentence saying why not;
* ``retrieval_own_kept``: the vectors file kept in the workspace (:data:`OWN_KEY`), read once per
  session, used while the uploader is empty (after a reload); None when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

import embedlab
from embedlab.formatting import percent
from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.models.own import MAX_BYTES, OwnVectors, read_vectors
from embedlab.retrieval import figures, traces
from embedlab.retrieval.evaluation import RetrievalSummary, relevant_positions
from embedlab.retrieval.failure_map import failure_figure, failure_map, selected_query
from embedlab.retrieval.own_vectors import own_vectors_problem
from embedlab.retrieval.storage import storage_table
from ui import storage_table as storage_view
from ui import workspace
from ui.trace_retrieval import ProgressBar, per_query_columns

state = st.session_state

MAP_METHODS = {"pca": "PCA", "tsne": "t-SNE"}
CHART_CONFIG = {"displaylogo": False}
#: The workspace key of the vectors file as uploaded (bytes and file name).
OWN_KEY = "retrieval_own_upload"


# -- vectors brought by the user -----------------------------------------------------------------
def own_vectors(prepared: traces.Prepared | None, models: list[str]) -> OwnVectors | None:
    """The upload box for a Parquet file of vectors; returns them when they can be evaluated here.

    Reads the file once per upload and name; a file that cannot be used, or whose texts do not
    cover the traces and queries, is named in one sentence (the tables and the name stay).
    """
    with st.expander("Bring your own vectors", icon=":material/upload_file:"):
        st.caption(
            "Embeddings made elsewhere, evaluated beside the models above: one Parquet file with a text column and "
            "a vector column (lists of numbers), holding every trace as the template renders it and every query."
        )
        upload = st.file_uploader(
            "Vectors (Parquet)",
            type=["parquet"],
            key="retrieval_own_upload",
            max_upload_size=MAX_BYTES // 2**20,  # the core's own limit, above the app's 50 MB for tables
            on_change=_on_own_upload,
        )
        workspace.restore("retrieval_own_name", "my vectors")
        name = st.text_input("Call them", key="retrieval_own_name", max_chars=100)
        if upload is None:
            upload = _restored_own()
    if upload is None:
        state.pop("retrieval_own", None)
        return None
    wanted = (upload.file_id, name.strip())
    kept = state.get("retrieval_own")
    if kept is None or kept[0] != wanted:
        try:
            if not name.strip():
                raise ValueError("Give your vectors a name: it labels them in the tables and charts.")
            kept = (wanted, read_vectors(upload.getvalue(), upload.name, name=name.strip()), None)
        except (ValueError, TypeError) as error:
            kept = (wanted, None, str(error))
        state["retrieval_own"] = kept
    _, vectors, problem = kept
    if vectors is not None and prepared is not None:
        problem = own_vectors_problem(vectors, traces=prepared.texts, queries=prepared.queries, taken=models)
    if problem:
        st.error(markdown_sentence(problem), icon=":material/error:")
        return None
    if vectors is not None:
        st.caption(f"{markdown_literal(vectors.name)}: {len(vectors):,} vectors of {vectors.dim} dims from your file.")
    return vectors


class _Upload:
    """An uploaded vectors file as this module reads it (from the uploader or the workspace)."""

    def __init__(self, data: bytes, name: str, file_id: str):
        self.data, self.name, self.file_id = data, name, file_id

    def getvalue(self) -> bytes:
        return self.data


def _on_own_upload() -> None:
    """Keep a new vectors file in the workspace (a removed one is forgotten there too)."""
    # also this session's copy, for when the uploader is not drawn (back from another page)
    state["retrieval_own_kept"] = workspace.keep_upload("retrieval_own_upload", OWN_KEY)


def _drop_own() -> None:
    workspace.forget(OWN_KEY)
    state["retrieval_own_kept"] = None


def _restored_own() -> _Upload | None:
    """The vectors file kept in this workspace (read once per session), with a caption and a way to drop it."""
    if "retrieval_own_kept" not in state:
        state["retrieval_own_kept"] = workspace.restored_bytes(OWN_KEY)
    kept = state["retrieval_own_kept"]
    if kept is None:
        return None
    workspace.restored_notice(kept.name, key="retrieval_own_drop", on_forget=_drop_own)
    return _Upload(kept.data, kept.name, f"workspace:{kept.name}")


def kept_figures_caption(figures: Mapping[str, RetrievalSummary], *, changed: bool) -> None:
    """The last evaluation's figures found in the workspace (a reload keeps figures, not tables and maps)."""
    shown = ", ".join(f"{model} {percent(f.accuracy)} top-1 (MRR {percent(f.mrr)})" for model, f in figures.items())
    since = " The tables, template, k or models have changed since." if changed else ""
    st.info(
        f"Last evaluation in this workspace: {markdown_literal(shown)}.{since} "
        "Press **Evaluate** to see its tables and maps again.",
        icon=":material/history:",
    )


# -- evaluating --------------------------------------------------------------------------------------
def evaluate(prepared: traces.Prepared, models: list[str], own: OwnVectors | None, k: int, signature: str) -> dict:
    """Evaluate each model (and the user's vectors), keep their vectors and storage tables; the run record."""
    candidates: dict[str, str | OwnVectors] = {m: m for m in models}
    if own is not None:
        candidates[own.name] = own
    relevant = relevant_positions(prepared.expected, prepared.ids, len(prepared.queries))
    run = {
        "results": {},
        "errors": {},
        "signature": signature,
        "ids": list(prepared.ids),
        "texts": list(prepared.texts),
    }
    run.update({"vectors": {}, "storage": {}, "maps": {}})
    for name, model in candidates.items():
        bar = st.progress(0.0, text=f"{name}: loading the model…")
        try:
            run["results"][name] = embedlab.evaluate_retrieval(
                prepared.queries,
                prepared.texts,
                prepared.expected,
                ids=prepared.ids,
                model=model,
                k=k,
                progress=ProgressBar(bar, name, len(prepared.texts), len(prepared.queries)),
            )
        except (LookupError, ValueError, TypeError) as error:
            run["errors"][name] = str(error)
        except Exception as error:  # a model failing mid-run must not take the page (or other models) down
            run["errors"][name] = f"{type(error).__name__}: {error}"
        else:
            bar.progress(1.0, text=f"{name}: truncating and quantising the vectors…")
            vectors = (embedlab.encode(prepared.queries, model), embedlab.encode(prepared.texts, model))
            run["vectors"][name] = vectors
            try:
                run["storage"][name] = storage_table(*vectors, relevant, model=name)
            except Exception as error:  # the results stand without it
                run["storage"][name] = f"The storage table could not be made: {type(error).__name__}: {error}"
        bar.empty()
    return run


# -- each model's results ---------------------------------------------------------------------------
def per_query_tabs(run: dict) -> None:
    """One tab per model: the per-query table (a row selects its query on the map), the failure map
    and the dimensions-and-storage table."""
    results = run["results"]
    top = st.container(horizontal=True, vertical_alignment="bottom")
    workspace.restore("retrieval_failing_only", False, allowed=(True, False))
    workspace.restore("retrieval_map_method", "pca", allowed=list(MAP_METHODS))
    failing_only = top.toggle("Only queries that miss at top-1", key="retrieval_failing_only")
    method = top.segmented_control(
        "Map projection",
        list(MAP_METHODS),
        format_func=MAP_METHODS.get,
        key="retrieval_map_method",
        help="How queries and traces are laid out on one map: PCA is instant, t-SNE keeps neighbours together.",
    )
    tabs = st.tabs([markdown_literal(name) for name in results])
    for tab, (name, result) in zip(tabs, results.items(), strict=True):
        with tab:
            frame = figures.per_query_table(result)
            if failing_only:
                frame = frame[~frame["correct"]]
            event = st.dataframe(
                frame,
                hide_index=True,
                column_config=per_query_columns(result.k),
                key=f"retrieval_per_query_{name}" + ("_failing" if failing_only else ""),
                on_select="rerun",
                selection_mode="single-row",
            )
            st.download_button(
                "Per-query results (CSV)",
                figures.per_query_csv(result),
                f"retrieval-{name.replace('/', '_')}.csv",
                "text/csv",
                key=f"retrieval_download_{name}",
                icon=":material/download:",
            )
            _failure_map(run, name, method or "pca", selected_query(event.selection.rows, frame.index))
            storage = run.get("storage", {}).get(name)
            with st.expander("Dimensions and storage: smaller vectors, and what they keep", icon=":material/compress:"):
                if isinstance(storage, str):
                    st.warning(markdown_sentence(storage))
                elif storage is not None:
                    storage_view.show(storage, key=f"retrieval_storage_{name}")


def _failure_map(run: dict, name: str, method: str, selected: int | None) -> None:
    result = run["results"][name]
    vectors = run.get("vectors", {}).get(name)
    if vectors is None:
        return
    maps = run.setdefault("maps", {})
    if (name, method) not in maps:
        with st.spinner(f"Projecting {result.n_queries + result.n_corpus:,} points with {MAP_METHODS[method]}…"):
            maps[(name, method)] = failure_map(
                result, *vectors, ids=run["ids"], corpus_texts=run["texts"], method=method
            )
    fmap = maps[(name, method)]
    st.plotly_chart(failure_figure(fmap, highlight=selected), key=f"retrieval_failure_map_{name}", config=CHART_CONFIG)
    wrong = len(fmap.wrong)
    hint = (
        "select a row of the table above to highlight its query" if selected is None else "the selected query is ringed"
    )
    if wrong:
        st.caption(
            f"{wrong} quer{'y misses' if wrong == 1 else 'ies miss'} at top-1: a solid line goes to the trace each got, a "
            f"dashed one to the trace it should have got (hover for both scores); {hint}. "
            + markdown_literal(f"{fmap.method}. {fmap.note}".strip())
        )
    else:
        st.caption(f"Every query finds its trace first: no lines to draw; {hint}. {markdown_literal(fmap.method)}.")
