"""Streamlit-only helpers of the Model Review page: where the review data comes from, the table
as shown, the store, and the shared link.

State kept in ``st.session_state``:

* ``review_current``: the review shown (the :class:`~embedlab.reviewing.results.Review` that
  :func:`embedlab.review` returned, or one reopened from the store, whose ``review_id`` is set);
* ``review_running`` / ``review_partial``: a run in progress and what finished so far (kept by
  :mod:`ui.runs`), so a Stop (or any click while it runs) keeps the finished models;
* ``review_flash``: a message to show once after a rerun (saved, deleted, stopped; see ``ui.common.flash``);
* ``review_link_seen``: the ``?review=`` id already handled, so it is opened once per link;
* ``review_restored``: set once this session has looked for the workspace's last review.

Kept in the workspace (:mod:`ui.workspace`, so a reload or the same ``?ws=`` link in another tab
finds them): every input's widget value under its own key, the uploaded benchmark corpus as it
came (:data:`CORPUS_FILE`) and the id of the review last opened or saved (:data:`LAST_REVIEW`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from embedlab import seed
from embedlab.formatting import PERCENT_FORMAT, count, percent_value
from embedlab.maps import explore
from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.retrieval import traces
from embedlab.reviewing.data import benchmark_corpus
from embedlab.reviewing.results import Review
from embedlab.reviewing.store import Comparison, ReviewStore
from embedlab.tables import TABLE_TYPES, column_texts, is_table_file, read_corpus, read_table, text_columns, text_lines
from ui import storage_table as storage_view
from ui import workspace
from ui.state import trace_data

state = st.session_state

#: The page's path in the app's URLs (st.Page derives it from pages/model_review.py).
PAGE_PATH = "model_review"
#: The query parameter a shared link carries.
LINK_PARAM = "review"

RETRIEVAL_SOURCES = {
    "page": "The Trace Retrieval page's traces and queries",
    "lesson": "The lesson's 3 traces and 3 queries",
}
CORPUS_SOURCES = {
    "review": "The traces and queries reviewed",
    "lesson": "The lesson's texts (5 × 20)",
    "paste": "Paste texts",
    "upload": "Upload a file",
}
#: The workspace key of the uploaded benchmark corpus (the file's bytes, with its name).
CORPUS_FILE = "review_corpus_file"
#: The workspace key of the review last opened or saved: a new session of the workspace reopens it.
LAST_REVIEW = "review_last_id"
#: The save form's fields, kept while they are being written.
FORM_KEYS = ("review_name", "review_decision", "review_notes")

SENTENCE_SOURCES = {
    "lesson": "The lesson's 16 labelled sentences",
    "space": "The Space Explorer's sentences",
    "paste": "Paste labelled sentences",
    "none": "None (skip cluster quality)",
}


@st.cache_resource(show_spinner=False)
def store() -> ReviewStore:
    return ReviewStore()


# -- review data ------------------------------------------------------------------------------------
def has_trace_page_data() -> bool:
    return trace_data() is not None


def retrieval_data(source: str) -> tuple[dict, str, traces.Prepared]:
    """``(kwargs for review(), a one-line description, the prepared tables)`` for the chosen source
    (``skipped_traces``, ``skipped_queries`` and ``problems`` say which rows were left out).

    Raises ValueError (one sentence) when the Trace Retrieval page's tables cannot be used.
    """
    page = trace_data() if source == "page" else None
    if page is not None:
        prepared = page.prepare()
        where = "from the Trace Retrieval page"
    else:
        prepared = traces.prepare(traces.trace_table(), traces.query_table())
        where = "from the lesson"
    data = {"traces": prepared.texts, "ids": prepared.ids, "queries": prepared.queries, "expected": prepared.expected}
    text = f"{len(prepared.queries):,} queries against {len(prepared.texts):,} traces, {where}."
    return data, text, prepared


def keep_choice(key: str, offered: dict, usual: dict) -> None:
    """Keep a source choice in the workspace, unless it is the first option only because the one
    saved (another page's data, not there yet in this session) is not offered now."""
    if len(offered) == len(usual) or state.get(key) != next(iter(offered)):
        workspace.keep(key)


def space_sentences() -> tuple[list[str], list[str]] | None:
    """The Space Explorer's last map's sentences, when they carry labels."""
    result = state.get("space_result")
    texts, labels = getattr(result, "texts", None), getattr(result, "labels", None)
    if texts and labels and len(set(labels)) >= 2:
        return list(texts), list(labels)
    return None


def sentence_data(source: str, pasted: str) -> tuple[list[str] | None, list[str] | None]:
    """Labelled sentences for cluster quality, or ``(None, None)``. Raises ValueError when unusable."""
    if source == "lesson":
        return list(seed.SENTENCES), list(seed.LABELS)
    if source == "space":
        found = space_sentences()
        if found is None:
            raise ValueError(
                "The Space Explorer has no labelled sentences in this session; draw a labelled map there first."
            )
        return found
    if source == "paste":
        sentences = explore.from_lines(pasted or "")
        if sentences.labels is None or len(set(sentences.labels)) < 2:
            raise ValueError("Cluster quality needs at least two labels: write “label | sentence” on each line.")
        return sentences.texts, sentences.labels
    return None, None


def corpus_data(source: str, retrieval: dict | None) -> tuple[list[str] | str | None, str | None, str | None]:
    """The benchmark corpus chosen (``source``, a key of :data:`CORPUS_SOURCES`), drawing the paste box or
    the uploader it needs and a caption saying how many texts it holds.

    Returns
    -------
    (corpus, corpus_name, problem)
        ``corpus`` and ``corpus_name`` for :func:`embedlab.review` ("review", "lesson" or the texts,
        with their name); ``corpus`` is None and ``problem`` one sentence when there are no texts yet
        (``problem`` is None when the texts reviewed are chosen but the traces and queries themselves
        cannot be used: the page says why).
    """
    corpus, name = source, None
    if source == "review" and retrieval is None:
        return None, None, None  # the page says why the traces and queries cannot be used
    if source == "paste":
        workspace.restore("review_corpus_paste", "")
        pasted = st.text_area(
            "One text per line",
            key="review_corpus_paste",
            height=110,
            placeholder="User expressed anxiety about work deadlines\nBot suggested breaking down tasks",
            persist_state="session",
        )
        workspace.keep("review_corpus_paste")
        corpus, name = text_lines(pasted), "pasted texts"
        if not corpus:
            return None, None, "The benchmark corpus is empty: paste at least one text, or use the texts reviewed."
    elif source == "upload":
        corpus, name, problem = _uploaded_corpus()
        if problem:
            return None, None, problem
    own = (retrieval["traces"], retrieval["queries"]) if retrieval is not None else ((), ())
    texts, _, words = benchmark_corpus(corpus, *own, name=name)
    st.caption(
        f"Speed measured on {markdown_literal(words)}: {count(len(texts), 'text')} ({len(set(texts)):,} distinct)."
    )
    return corpus, name, None


def _keep_corpus_upload() -> None:
    """The corpus uploader's on_change: keep the new file in the workspace, or forget it when removed."""
    workspace.keep_upload("review_corpus_upload", CORPUS_FILE)


def _uploaded_corpus() -> tuple[list[str] | None, str | None, str | None]:
    upload = st.file_uploader(
        "A text file (one text per line) or a table",
        type=["txt", *TABLE_TYPES],
        key="review_corpus_upload",
        on_change=_keep_corpus_upload,
    )
    if upload is not None:
        data, file_name = upload.getvalue(), upload.name
    else:  # a new session of this workspace: the file uploaded before, if any
        kept = workspace.restored_bytes(CORPUS_FILE)
        if kept is None:
            return None, None, "Upload a file with the texts to time, or choose another benchmark corpus."
        data, file_name = kept.data, kept.name
    texts = name = problem = None
    try:
        if not is_table_file(file_name):
            texts, name = read_corpus(data, file_name), file_name
        else:
            frame = read_table(data, file_name)
            columns = text_columns(frame)
            if not columns:
                raise ValueError(
                    f"{file_name} has no column of text; its columns are: {', '.join(map(str, frame.columns))}."
                )
            if state.get("review_corpus_column") not in columns:  # the column of another file
                state.pop("review_corpus_column", None)
            workspace.restore("review_corpus_column", columns[0], allowed=columns)
            column = st.selectbox("Column with the texts", columns, key="review_corpus_column")
            workspace.keep("review_corpus_column")
            texts, name = column_texts(frame, column, source=file_name), f"{file_name}, column {column}"
    except ValueError as error:  # said under the uploader at once; the Run button refers to it
        st.error(markdown_literal(str(error)))  # literal: the sentence starts with the file's own name
        problem = f"The file {file_name} cannot be used as the benchmark corpus (see the message under it)."
    if upload is None:
        restored_notice(file_name, None if texts is None else count(len(texts), "text"))
    return texts, name, problem


def restored_notice(file_name: str, amount: str | None) -> None:
    """Say that the corpus file is the one kept in the workspace, with a way to drop it."""
    workspace.restored_notice(
        file_name, amount or "", key="review_corpus_forget", on_forget=workspace.forget, args=(CORPUS_FILE,)
    )


# -- the table as shown -------------------------------------------------------------------------------
def display_table(review: Review) -> pd.DataFrame:
    """The review with the columns people read first, shares as percentages (embedlab.formatting's one
    rule: format them with PERCENT_FORMAT), sizes in MB."""
    table, k = review.table, review.k
    shown = pd.DataFrame(
        {
            "model": table["model"],
            "verdict": table["verdict"],
            "dims": table["dim"],
            "texts/s": table["texts_per_s"],
            "spread": table["spread"].map(percent_value),
            "load s": table["load_s"],
            "size MB": table["size_bytes"].astype("Float64") / 1e6,
            "mem MB": table["load_mb"].fillna(0) + table["encode_mb"].fillna(0),
            "acc@1": table["accuracy"].map(percent_value),
            f"acc@{k}": table["accuracy_at_k"].map(percent_value),
            f"MRR@{k}": table["mrr"].map(percent_value),
            "silhouette": table["silhouette"],
            "kNN agree": table["label_agreement"].map(percent_value),
            "Pareto": table["pareto"],
        }
    )
    missing = table["load_mb"].isna() & table["encode_mb"].isna()
    shown.loc[missing, "mem MB"] = float("nan")
    return shown


def storage_section(review: Review) -> None:
    """Per candidate model, what its vectors keep truncated and quantised, on the review's traces."""
    finished = (review.table["status"] == "ok").any()
    with st.expander("Dimensions and storage: smaller vectors, and what they keep", icon=":material/compress:"):
        if not review.storage:
            st.caption(
                "This review has no storage tables: it was saved before they existed, or no model finished. "
                "Run it again to see them."
                if finished
                else "No model finished, so there is nothing to compare."
            )
            return
        tabs = st.tabs([markdown_literal(model) for model in review.storage])
        for tab, (model, table) in zip(tabs, review.storage.items(), strict=True):
            with tab:
                storage_view.show(table, key=f"review_storage_{model}")


def column_config(k) -> dict:
    return {
        "texts/s": st.column_config.NumberColumn(format="%.0f", help="corpus size ÷ median encode time (benchmark)"),
        "spread": st.column_config.NumberColumn(
            format=PERCENT_FORMAT, help="(slowest − fastest) ÷ median encode time; high means a noisy machine"
        ),
        "load s": st.column_config.NumberColumn(format="%.2f", help="building a fresh instance from its files"),
        "size MB": st.column_config.NumberColumn(format="%.0f", help="the weights on disk"),
        "mem MB": st.column_config.NumberColumn(
            format="%.0f", help="resident memory added by loading plus the peak while encoding (approximate)"
        ),
        "acc@1": st.column_config.NumberColumn(
            format=PERCENT_FORMAT, help="accuracy@1: queries whose expected trace comes first"
        ),
        f"acc@{k}": st.column_config.NumberColumn(
            format=PERCENT_FORMAT, help=f"accuracy@{k}: expected trace in the top {k}"
        ),
        f"MRR@{k}": st.column_config.NumberColumn(
            format=PERCENT_FORMAT, help="mean of 1 / rank of the expected trace, as a percentage"
        ),
        "silhouette": st.column_config.NumberColumn(format="%.2f", help="cosine silhouette of the labels (−1 to 1)"),
        "kNN agree": st.column_config.NumberColumn(
            format=PERCENT_FORMAT, help="share of each sentence's nearest neighbours with its label"
        ),
        "Pareto": st.column_config.CheckboxColumn(help="nothing else is both faster and more accurate"),
    }


#: The figures of :func:`embedlab.reviewing.store.compare_reviews` that are shares (shown as percentages),
#: with their column labels.
COMPARED_SHARES = {
    "spread": "spread",
    "accuracy": "accuracy@1",
    "accuracy_at_k": "accuracy@k",
    "mrr": "MRR",
    "label_agreement": "kNN agreement",
}


def compare_table(comparison: Comparison) -> pd.DataFrame:
    """Two reviews side by side as shown: shares as percentages by the one rule (format: compare_config)."""
    shown = comparison.table.copy()
    for figure in COMPARED_SHARES:
        for side in ("A", "B"):
            shown[f"{figure} {side}"] = shown[f"{figure} {side}"].map(percent_value).astype("float64")
    return shown


def compare_config() -> dict:
    """Column settings of :func:`compare_table`."""
    config = {}
    for side in ("A", "B"):
        config[f"texts_per_s {side}"] = st.column_config.NumberColumn(f"texts/s {side}", format="%.1f")
        for figure, label in COMPARED_SHARES.items():
            config[f"{figure} {side}"] = st.column_config.NumberColumn(f"{label} {side}", format=PERCENT_FORMAT)
        config[f"silhouette {side}"] = st.column_config.NumberColumn(f"silhouette {side}", format="%.2f")
        config[f"load_s {side}"] = st.column_config.NumberColumn(f"load s {side}", format="%.2f")
        config[f"verdict {side}"] = st.column_config.TextColumn(f"verdict {side}")
    return config


# -- saved reviews and links ----------------------------------------------------------------------------
def review_label(row) -> str:
    damaged = " · damaged" if row.damaged else ""
    return f"#{row.id} · {row.name} · {row.created.replace('T', ' ')[:16]} · {row.models}{damaged}"


def open_saved(review_id, *, fill_form: bool = True, quiet: bool = False) -> bool:
    """Make a saved review the current one (and the link's, and the workspace's last); False when it can't.

    ``fill_form``: put the review's name, notes and decision into the save form (a new session of
    the workspace that last had this review open keeps what was being written there instead).
    ``quiet``: say nothing when it can't (the workspace's last review, deleted since).
    """
    try:
        review = store().load(review_id)
    except KeyError as error:
        if not quiet:
            st.error(markdown_sentence(error.args[0] if error.args else "no such review."), icon=":material/link_off:")
        return False
    except ValueError as error:
        if not quiet:
            st.error(markdown_sentence(error), icon=":material/broken_image:")
        return False
    state["review_current"] = review
    if fill_form:
        # The form's widgets may already be drawn in this run: their values change at the next run's start.
        state["review_form_pending"] = dict(zip(FORM_KEYS, form_values(review), strict=True))
    st.query_params[LINK_PARAM] = str(review.review_id)
    state["review_link_seen"] = str(review.review_id)
    workspace.current().put(LAST_REVIEW, int(review.review_id))
    return True


def form_values(review: Review) -> tuple[str, str, str]:
    """The save form's ``(name, decision, notes)`` for ``review``: its own when saved, else empty."""
    if review.review_id is None:
        return "", "", ""
    return review.name, review.decision_text, review.notes


def apply_pending_form() -> None:
    """Fill the save form with the opened review's name, notes and decision (before it is drawn)."""
    pending = state.pop("review_form_pending", None)
    if pending:
        state.update(pending)


def open_from_link() -> None:
    """Open the review a shared link names (``?review=<id>``), once per link; without a link, on a
    session's first run, the review last opened or saved in this workspace (a reload, another tab)."""
    wanted = st.query_params.get(LINK_PARAM)
    first = not state.get("review_restored")
    state["review_restored"] = True
    last = workspace.current().get(LAST_REVIEW) if first else None
    if not wanted and last is not None and "review_current" not in state:
        state["review_link_seen"] = str(last)
        if not open_saved(last, fill_form=False, quiet=True):
            workspace.forget(LAST_REVIEW)  # deleted since: nothing to reopen
        return
    if not wanted or state.get("review_link_seen") == wanted:
        return
    state["review_link_seen"] = wanted
    # the workspace's own last review keeps the form as it was being written; another one fills it
    if open_saved(wanted, fill_form=str(last) != wanted):
        st.toast(f"Opened review #{wanted} from the link.", icon=":material/link:")


def share_link(review_id: int) -> str:
    """The address that reopens a saved review on this server: <app>/model_review?review=<id>."""
    base = (st.context.url or "").split("?", 1)[0].split("#", 1)[0].rstrip("/")
    # st.context.url usually ends at the app's root, but may still carry this page's path
    base = base.removesuffix(f"/{PAGE_PATH}")
    return f"{base}/{PAGE_PATH}?{LINK_PARAM}={review_id}"


def forget_link() -> None:
    """The review shown is not a saved one any more: drop the id from the address and the workspace."""
    if LINK_PARAM in st.query_params:
        del st.query_params[LINK_PARAM]
    state.pop("review_link_seen", None)
    workspace.forget(LAST_REVIEW)
