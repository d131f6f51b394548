"""Cross-page state: what one page leaves in the session for the others, typed, in one module.

A page never reads another page's session keys; it calls a function here and gets a typed
object (or None when the other page has not been used in this session). The keys are
page-prefixed and written only through this module and the page that owns them:

* ``retrieval_traces_table`` / ``retrieval_queries_table``: the Trace Retrieval page's two
  tables as the user last left them (its editors write them on every run, see
  :mod:`ui.trace_retrieval`);
* ``retrieval_template``: that page's template (the key of its text area, kept across pages);
* ``retrieval_figures``: ``{model: RetrievalSummary}`` of that page's last evaluation.

Readers:

* :func:`trace_data` — the traces, queries, template and last figures, as one :class:`TraceData`
  (Model Review evaluates the same traces);
* :func:`retrieval_figures` — the last evaluation's figures per model (Speed Benchmark uses the
  top-1 accuracy in its advice).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from embedlab.retrieval.evaluation import RetrievalResult, RetrievalSummary
from embedlab.retrieval.traces import DEFAULT_TEMPLATE, Prepared, prepare

__all__ = [
    "FIGURES_KEY",
    "QUERIES_KEY",
    "TABLE_KEYS",
    "TEMPLATE_KEY",
    "TRACES_KEY",
    "RetrievalSummary",
    "TraceData",
    "keep_retrieval_figures",
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
    """What the Trace Retrieval page holds now, or None when it has not been opened this session."""
    state = st.session_state
    if TRACES_KEY not in state or QUERIES_KEY not in state:
        return None
    return TraceData(
        traces=state[TRACES_KEY],
        queries=state[QUERIES_KEY],
        template=state.get(TEMPLATE_KEY) or DEFAULT_TEMPLATE,
        figures=dict(state.get(FIGURES_KEY) or {}),
    )


def retrieval_figures() -> dict[str, RetrievalSummary] | None:
    """The Trace Retrieval page's last evaluation, model → figures; None before one ran."""
    figures = st.session_state.get(FIGURES_KEY)
    return dict(figures) if figures else None


def keep_retrieval_figures(results: Mapping[str, RetrievalResult]) -> None:
    """Record an evaluation's results (model → RetrievalResult) for the other pages."""
    st.session_state[FIGURES_KEY] = {model: RetrievalSummary.from_result(r) for model, r in results.items()}
