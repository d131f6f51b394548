"""Cross-page state: what one page leaves in the session for the others, typed, in one module.

A page never reads another page's session keys; it calls a function here and gets a typed
object (or None when the other page has not been used in this session). The keys are
page-prefixed and written only through this module and the page that owns them:

* ``retrieval_traces_table`` / ``retrieval_queries_table``: the Trace Retrieval page's two
  tables as the user last left them (its editors write them on every run, see
  :mod:`ui.trace_retrieval`);
* ``retrieval_template``: that page's template (the key of its text area, kept across pages);
* ``retrieval_figures``: ``{model: RetrievalSummary}`` of that page's last evaluation.

Each is also kept in the session's workspace (:mod:`ui.workspace`) under the same key, so a
reload or the same link in another tab finds them again: the Trace Retrieval page restores them
(:func:`kept_table`, :func:`restore_figures`) and the readers below fall back on them when the
page has not been opened in this session. The lesson's own tables are not kept: nothing to restore.

Readers:

* :func:`trace_data` — the traces, queries, template and last figures, as one :class:`TraceData`
  (Model Review evaluates the same traces); this session's, else the workspace's;
* :func:`retrieval_figures` — the last evaluation's figures per model (Speed Benchmark uses the
  top-1 accuracy in its advice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from embedlab.retrieval.evaluation import RetrievalResult, RetrievalSummary
from embedlab.retrieval.traces import DEFAULT_TEMPLATE, Prepared, cells_by_column, column_cells, prepare
from embedlab.retrieval.traces import query_table as _query_table
from embedlab.retrieval.traces import trace_table as _trace_table
from ui import workspace

__all__ = [
    "FIGURES_KEY",
    "QUERIES_KEY",
    "TABLE_KEYS",
    "TEMPLATE_KEY",
    "TRACES_KEY",
    "RetrievalSummary",
    "TraceData",
    "keep_retrieval_figures",
    "keep_trace_table",
    "kept_figures",
    "kept_table",
    "lesson_table",
    "restore_figures",
    "retrieval_figures",
    "trace_data",
]

TRACES_KEY = "retrieval_traces_table"
QUERIES_KEY = "retrieval_queries_table"
#: The Trace Retrieval page's template text area (a widget key: unchanged).
TEMPLATE_KEY = "retrieval_template"
FIGURES_KEY = "retrieval_figures"
#: The table key of each of the Trace Retrieval page's editors ("traces", "queries").
TABLE_KEYS = {"traces": TRACES_KEY, "queries": QUERIES_KEY}


@dataclass(frozen=True)
class TraceData:
    """What the Trace Retrieval page currently holds.

    Attributes
    ----------
    traces : pandas.DataFrame
        The trace table as edited (columns id, query_pattern, approach, tools_used, …).
    queries : pandas.DataFrame
        The query table as edited (columns query, expected_id).
    template : str
        How a trace becomes text (``str.format`` fields named after trace columns).
    figures : mapping of str to RetrievalSummary
        The last evaluation's figures per model, in the order evaluated; empty before one.
        They may be older than the tables (the page says so when they are).
    """

    traces: pd.DataFrame = field(repr=False)
    queries: pd.DataFrame = field(repr=False)
    template: str = DEFAULT_TEMPLATE
    figures: Mapping[str, RetrievalSummary] = field(default_factory=dict)

    def prepare(self) -> Prepared:
        """The tables checked and rendered with the template (see :func:`embedlab.retrieval.traces.prepare`).

        Raises ValueError (one sentence) when they cannot be used.
        """
        return prepare(self.traces, self.queries, self.template)


def trace_data() -> TraceData | None:
    """What the Trace Retrieval page holds now, or as it was left in this workspace (a reload, another
    tab); None when it was used in neither (its lesson tables untouched and nothing evaluated)."""
    state = st.session_state
    if TRACES_KEY in state and QUERIES_KEY in state:
        return TraceData(
            traces=state[TRACES_KEY],
            queries=state[QUERIES_KEY],
            template=state.get(TEMPLATE_KEY) or DEFAULT_TEMPLATE,
            figures=dict(state.get(FIGURES_KEY) or {}),
        )
    tables = {kind: kept_table(kind) for kind in TABLE_KEYS}
    template = workspace.current().get(TEMPLATE_KEY)
    template = template if isinstance(template, str) and template else None
    figures = kept_figures()
    if all(t is None for t in tables.values()) and template is None and not figures:
        return None
    return TraceData(
        traces=tables["traces"].frame if tables["traces"] is not None else lesson_table("traces"),
        queries=tables["queries"].frame if tables["queries"] is not None else lesson_table("queries"),
        template=template or DEFAULT_TEMPLATE,
        figures=figures,
    )


def retrieval_figures() -> dict[str, RetrievalSummary] | None:
    """The Trace Retrieval page's last evaluation, model → figures (this session's, else the
    workspace's); None before one ran."""
    state = st.session_state
    figures = state[FIGURES_KEY] if FIGURES_KEY in state else kept_figures()
    return dict(figures) if figures else None


def keep_retrieval_figures(results: Mapping[str, RetrievalResult], *, signature: str | None = None) -> None:
    """Record an evaluation's results (model → RetrievalResult) for the other pages, in the session
    and the workspace (``signature``: what they were computed from, see ``ui.trace_retrieval.signature``)."""
    figures = {model: RetrievalSummary.from_result(r) for model, r in results.items()}
    st.session_state[FIGURES_KEY] = figures
    kept = {"signature": signature, "figures": [f.to_dict() for f in figures.values()]}
    with contextlib.suppress(TypeError, ValueError):  # not JSON after all: the session still has them
        workspace.current().put(FIGURES_KEY, kept)


# -- kept in the workspace ---------------------------------------------------------------------------
def lesson_table(kind: str) -> pd.DataFrame:
    """The lesson's trace (``kind="traces"``) or query (``"queries"``) table, in its editable form."""
    return _trace_table() if kind == "traces" else _query_table()


def kept_table(kind: str) -> workspace.StoredTable | None:
    """The trace or query table kept in this workspace, in its editable form, with its file name; None if none.

    A table that no longer has the columns the page needs comes back as it was (every cell text),
    so the page's own check names what is missing in its usual sentence, and nothing is lost.
    """
    stored = workspace.restored_table(TABLE_KEYS[kind])
    if stored is None:
        return None
    editable = _trace_table if kind == "traces" else _query_table
    try:
        frame = editable(stored.frame)
    except (ValueError, TypeError):
        frame = pd.DataFrame({str(c): column_cells(stored.frame[c]) for c in stored.frame.columns}, dtype="string")
    return workspace.StoredTable(frame, stored.name)


def keep_trace_table(kind: str, frame: pd.DataFrame, name: str = "") -> None:
    """Keep the trace or query table as edited, with the uploaded file's ``name`` ("" when pasted or
    the lesson's); written only when it changed. The lesson's own table, unnamed, is not kept."""
    key = TABLE_KEYS[kind]
    if not name and _same_cells(frame, lesson_table(kind)):
        workspace.forget(key)
    else:
        workspace.keep_table(key, frame, name)


def _same_cells(frame: pd.DataFrame, other: pd.DataFrame) -> bool:
    if frame.shape != other.shape or list(map(str, frame.columns)) != list(map(str, other.columns)):
        return False
    return cells_by_column(frame.astype("string")) == cells_by_column(other)


def kept_figures() -> dict[str, RetrievalSummary]:
    """The last evaluation's figures kept in this workspace, model → figures (empty when none)."""
    return _figures_from_json(workspace.current().get(FIGURES_KEY))[0]


def restore_figures() -> str | None:
    """Once per session: put the workspace's last figures in the session (for this page and the
    others); return the signature they were computed from (None when none was kept)."""
    state = st.session_state
    saved = workspace.current().get(FIGURES_KEY)
    figures, signature = _figures_from_json(saved)
    if FIGURES_KEY not in state and figures:
        state[FIGURES_KEY] = figures
    return signature


def _figures_from_json(value) -> tuple[dict[str, RetrievalSummary], str | None]:
    """``(figures, signature)`` from what :func:`keep_retrieval_figures` wrote; empty when damaged."""
    try:
        figures = {}
        for item in value["figures"]:
            summary = RetrievalSummary.from_dict(item)
            figures[summary.model] = summary
        signature = value.get("signature")
        return figures, signature if isinstance(signature, str) else None
    except (TypeError, ValueError, KeyError, AttributeError):
        return {}, None
