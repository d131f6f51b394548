"""Streamlit-only helpers of the Trace Retrieval page: editable tables that survive reruns and
page changes, uploads and pastes, progress, and the column settings results are shown with
(the figures and display tables themselves are built in :mod:`embedlab.retrieval.figures`).

State kept in ``st.session_state`` (one home per kind):

* ``<kind>_base``: the table the editor starts from (changes only on upload, paste or reset);
* ``<kind>_editor``: Streamlit's own edit state of the ``st.data_editor``;
* ``<kind>_name``: the uploaded file the table came from ("" when pasted or the lesson's);
* ``<kind>_restored``: ``(name, rows)`` of a table this session found in its workspace, until replaced;
* ``retrieval_runs``: the last evaluation (kept by :mod:`ui.trace_results`, which describes it).

What other pages read — the tables as the user last left them, the template and the last
evaluation's figures — lives under the keys of :mod:`ui.state`, which is how they read it.

Nothing is lost on a reload: the tables (as edited, with their file names) and the figures are
kept in the session's workspace through :mod:`ui.state`, the settings through :mod:`ui.workspace`
(:data:`SETTINGS`, :func:`keep_inputs`), and a new session with the same ``?ws=`` starts from them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from embedlab.formatting import PERCENT_FORMAT, percent_value
from embedlab.markup import markdown_literal
from embedlab.retrieval import traces
from ui import workspace
from ui.state import TABLE_KEYS, TEMPLATE_KEY, keep_trace_table, kept_table, lesson_table

state = st.session_state

KINDS = ("traces", "queries")
TITLES = {"traces": "trace", "queries": "query"}
READERS = {"traces": traces.read_traces, "queries": traces.read_queries}
TEXT_READERS = {"traces": traces.read_traces_text, "queries": traces.read_queries_text}
#: The page's settings kept in the workspace (widget keys; each restored before its widget is drawn).
SETTINGS = (
    "retrieval_models",
    "retrieval_k",
    "retrieval_threshold",
    TEMPLATE_KEY,
    "retrieval_own_name",
    "retrieval_failing_only",
    "retrieval_map_method",
)
UPLOAD_TYPES = ["json", "csv", "tsv", "jsonl", "parquet"]

TRACE_COLUMNS = {
    "id": st.column_config.TextColumn("id", help="Unique; queries name it in expected_id.", width="small"),
    "query_pattern": st.column_config.TextColumn("query_pattern", help="What the user asked."),
    "approach": st.column_config.TextColumn("approach", help="How the assistant answered."),
    "tools_used": st.column_config.TextColumn(
        "tools_used", help="Comma-separated tool names, e.g. planner, memory_search."
    ),
}
QUERY_COLUMNS = {
    "query": st.column_config.TextColumn("query", help="What a user might ask."),
    "expected_id": st.column_config.TextColumn(
        "expected_id", help="The id of the trace that should come back first (several: 0|2).", width="small"
    ),
}


# -- editable tables ---------------------------------------------------------------------------
def init_tables() -> None:
    """Start from the tables kept in this workspace (a reload, the link in another tab), else from
    the lesson's traces and queries (once per session)."""
    for kind in KINDS:
        if TABLE_KEYS[kind] not in state:
            kept = kept_table(kind)
            if kept is None:
                state[TABLE_KEYS[kind]] = lesson_table(kind)
            else:
                state[TABLE_KEYS[kind]] = kept.frame
                state[f"{kind}_name"] = kept.name
                state[f"{kind}_restored"] = (kept.name, len(kept.frame))
        if f"{kind}_editor" not in state:  # the editor is new (first visit, or back from another page)
            state[f"{kind}_base"] = state[TABLE_KEYS[kind]]


def replace_table(kind: str, frame: pd.DataFrame, name: str = "") -> None:
    """Load a new table into the editor (drops the editor's pending edits, keeps nothing stale);
    ``name``: the uploaded file's."""
    state[f"{kind}_base"] = frame
    state[TABLE_KEYS[kind]] = frame
    state[f"{kind}_name"] = name
    state.pop(f"{kind}_editor", None)
    state.pop(f"{kind}_restored", None)


def keep_inputs() -> None:
    """After the widgets are drawn: keep both tables as edited and the settings in the workspace
    (only what changed is written)."""
    for kind in KINDS:
        keep_trace_table(kind, state[TABLE_KEYS[kind]], state.get(f"{kind}_name", ""))
    workspace.keep(*SETTINGS)


def editor(kind: str) -> pd.DataFrame:
    """The data editor of one table; returns the edited table (also kept in session state)."""
    edited = st.data_editor(
        state[f"{kind}_base"],
        key=f"{kind}_editor",
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config=TRACE_COLUMNS if kind == "traces" else QUERY_COLUMNS,
    )
    state[TABLE_KEYS[kind]] = edited
    return edited


def _on_upload(kind: str) -> None:
    upload = state.get(f"{kind}_upload")
    state.pop(f"{kind}_message", None)
    if upload is None:
        return
    try:
        frame = READERS[kind](upload.getvalue(), upload.name)
    except ValueError as error:
        state[f"{kind}_message"] = ("error", str(error))
        return
    replace_table(kind, frame, upload.name)
    state[f"{kind}_message"] = ("success", f"Loaded {len(frame):,} rows from {upload.name}.")


def _on_paste(kind: str) -> None:
    try:
        frame = TEXT_READERS[kind](state.get(f"{kind}_paste", ""))
    except ValueError as error:
        state[f"{kind}_message"] = ("error", str(error))
        return
    replace_table(kind, frame)
    state[f"{kind}_message"] = ("success", f"Loaded {len(frame):,} pasted rows.")


def _on_reset(kind: str) -> None:
    replace_table(kind, lesson_table(kind))
    state[f"{kind}_message"] = ("success", f"Back to the lesson's {len(state[TABLE_KEYS[kind]])} {kind}.")


def table_tools(kind: str, table: pd.DataFrame) -> None:
    """Download, reset, upload and paste for one table, and the message of the last of those."""
    title = TITLES[kind]
    restored = state.get(f"{kind}_restored")
    if restored:
        name, rows = restored
        workspace.restored_notice(
            name or f"the {title} table as you left it",
            f"{rows:,} rows",
            key=f"{kind}_drop",
            on_forget=_on_reset,
            args=(kind,),
            replace="upload another file" if name else "upload or paste another",
            help=f"Forget the restored table and go back to the lesson's {kind}.",
        )
    buttons = st.container(horizontal=True)
    # Generated when clicked (a large table costs a moment to write), from the table as it is now.
    if kind == "traces":
        as_json = lambda: traces.traces_to_json(table)
        as_csv = lambda: traces.to_csv(traces.trace_table(table))
    else:
        as_json = lambda: traces.queries_to_json(table)
        as_csv = lambda: traces.to_csv(traces.query_table(table))
    buttons.download_button(
        "JSON",
        as_json,
        f"{kind}.json",
        "application/json",
        key=f"{kind}_json",
        icon=":material/download:",
        on_click="ignore",
        help=f"Download the {title} table as JSON.",
    )
    buttons.download_button(
        "CSV",
        as_csv,
        f"{kind}.csv",
        "text/csv",
        key=f"{kind}_csv",
        icon=":material/download:",
        on_click="ignore",
        help=f"Download the {title} table as CSV.",
    )
    buttons.button(
        "Reset",
        key=f"{kind}_reset",
        on_click=_on_reset,
        args=(kind,),
        icon=":material/restart_alt:",
        help=f"Back to the lesson's {kind} (your edits are discarded).",
    )
    with st.expander(f"Upload or paste a {title} table"):
        st.file_uploader(
            f"Upload a {title} table",
            type=UPLOAD_TYPES,
            key=f"{kind}_upload",
            on_change=_on_upload,
            args=(kind,),
            help=f"JSON (a list of objects), CSV, TSV, JSONL or Parquet with the columns {_columns_text(kind)}.",
        )
        st.text_area(
            "…or paste one (CSV, TSV or JSON)",
            key=f"{kind}_paste",
            height=120,
            placeholder=",".join(_columns(kind)) + "\n…",
            help="A header row, then one row per line; tabs work too (copied from a spreadsheet).",
        )
        st.button(
            f"Replace the {title} table with the pasted one", key=f"{kind}_paste_load", on_click=_on_paste, args=(kind,)
        )
    message = state.get(f"{kind}_message")
    if message:
        (st.error if message[0] == "error" else st.success)(markdown_literal(message[1]))


def _columns(kind: str) -> tuple[str, ...]:
    return traces.TRACE_COLUMNS if kind == "traces" else traces.QUERY_COLUMNS


def _columns_text(kind: str) -> str:
    if kind == "traces":
        return "id and the fields your template uses (the lesson's: query_pattern, approach, tools_used)"
    return ", ".join(traces.QUERY_COLUMNS)


def problems_box(problems: list[str], what: str, skipped: int, *, evaluated: bool = True) -> None:
    """Rows skipped: how many (``skipped``, the true count), then the listed reasons (user text made literal).

    ``evaluated``: whether the other rows are evaluated (False when no row can be used).
    """
    if not problems:
        return
    lines = "\n".join(f"- {markdown_literal(p)}" for p in problems)
    rest = "; the rest are evaluated." if evaluated else "."
    st.warning(f"{skipped:,} {what} row{'s' if skipped != 1 else ''} skipped{rest}\n\n{lines}")


# -- running -----------------------------------------------------------------------------------
def signature(prepared: traces.Prepared, k: int, models: list[str], own=None) -> str:
    """Identifies what a result was computed from, to tell when it is out of date (``own``: the
    user's vectors, by their contents' digest)."""
    payload = json.dumps([prepared.texts, prepared.ids, prepared.queries, list(map(str, prepared.expected)), k])
    mine = f"|{own.digest}" if own is not None else ""
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest() + "|" + ",".join(models) + mine


@dataclass
class ProgressBar:
    """Turns ``progress(stage, done, total)`` from evaluate_retrieval into one st.progress bar."""

    bar: object
    model: str
    n_traces: int
    n_queries: int

    def __call__(self, stage: str, done: int, total: int) -> None:
        share = self.n_traces / (self.n_traces + self.n_queries)
        start, width = (0.0, share) if stage == "traces" else (share, 1 - share)
        if total == 0:
            self.bar.progress(start + width, text=f"{self.model}: {stage} already encoded (cache)")
            return
        self.bar.progress(
            min(1.0, start + width * done / total), text=f"{self.model}: encoding {stage} {done:,} / {total:,}"
        )


# -- drawing -----------------------------------------------------------------------------------
PER_QUERY_COLUMNS = {
    "query": st.column_config.TextColumn("query", width="medium"),
    "expected": st.column_config.TextColumn("expected id", help="The trace that should come first."),
    "correct": st.column_config.CheckboxColumn("correct", help="The expected trace came first (top-1)."),
    "rank": st.column_config.NumberColumn(
        "rank", format="%d", help="Where the expected trace came among all traces (1 = first)."
    ),
    "expected score": st.column_config.NumberColumn("expected score", format="%.3f", help="Its cosine similarity."),
    "top-1": st.column_config.TextColumn("top-1 id"),
    "top score": st.column_config.NumberColumn("top score", format="%.3f"),
    "gap": st.column_config.NumberColumn(
        "gap", format="%.3f", help="Top score − expected score: how far the right trace was from winning."
    ),
}


def per_query_columns(k: int) -> dict:
    """Column settings of the per-query table, the top-k list included."""
    top = st.column_config.ListColumn(f"top {k}", help="Trace id · cosine similarity, best first.", width="large")
    return {**PER_QUERY_COLUMNS, f"top {k}": top}


SUMMARY_COLUMNS = {
    "model": st.column_config.TextColumn("model"),
    "queries": st.column_config.NumberColumn("queries", format="localized"),
    "traces": st.column_config.NumberColumn("traces", format="localized"),
}


def _metric(column: str) -> bool:
    return str(column).startswith(("accuracy@", "MRR@"))


def shown_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary table with accuracy@k and MRR@k as the percentages shown everywhere
    (:func:`embedlab.formatting.percent_value`; format them with :func:`metric_columns`)."""
    return summary.assign(**{c: summary[c].map(percent_value) for c in summary.columns if _metric(c)})


def metric_columns(summary: pd.DataFrame) -> dict:
    """Percent formatting (the one rule, embedlab.formatting) for the summary's accuracy@k and MRR@k."""
    return {
        c: st.column_config.NumberColumn(c, format=PERCENT_FORMAT, help=METRIC_HELP[c.split("@")[0]])
        for c in summary.columns
        if _metric(c)
    }


METRIC_HELP = {
    "accuracy": "Share of queries whose expected trace is among the first k results.",
    "MRR": "Mean reciprocal rank: 1 when the expected trace comes first, 1/2 second, …, 0 beyond k.",
}


def preview(ids: list[str], texts: list[str], shown: int = 3) -> str:
    """The first rendered traces as one plain block, each under its id."""
    return "\n\n".join(f"── trace {i} ──\n{t}" for i, t in zip(ids[:shown], texts[:shown], strict=True))
