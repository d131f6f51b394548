"""Streamlit-only helpers of the Fine-tune page: where its pairs come from, and using a new model.

Session keys are ``tune_``-prefixed. The pairs are read from one of four sources (the Trace
Retrieval page's test queries, the example pairs, an upload, a paste); the last result is kept in
``tune_result`` (a :class:`embedlab.tuning.FinetuneResult`) and ``tune_distil``.
"""

from __future__ import annotations

import streamlit as st

from embedlab import DEFAULT_MODEL, seed, tuning
from embedlab.retrieval import traces
from embedlab.tuning.pairs import Pairs
from ui import common
from ui.state import TraceData, trace_data

state = st.session_state

SOURCES = {
    "example": "Example: 300 Debian package summaries → descriptions",
    "retrieval": "Trace Retrieval page: each test query → its expected trace",
    "upload": "Upload a table (query, positive[, negative])",
    "paste": "Paste pairs",
}
#: The pickers of the other pages (their session keys, with their defaults) that "Use it" adds a new model to.
MULTI_PICKERS = {
    "retrieval_models": (DEFAULT_MODEL,),
    "speed_models": seed.BENCHMARK_MODELS,
    "review_models": seed.BENCHMARK_MODELS,
}
SINGLE_PICKERS = ("space_model",)


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(data: bytes, name: str) -> Pairs:
    return tuning.read_pairs(data, name)


@st.cache_data(max_entries=1, show_spinner=False)
def example() -> Pairs:
    return tuning.check_pairs(tuning.example_pairs())


def retrieval_pairs() -> tuple[Pairs | None, str]:
    """Pairs from the Trace Retrieval page (its tables as left, or the lesson's when it was not opened),
    and a sentence saying where they came from (or why there are not enough)."""
    data = trace_data() or TraceData(traces.trace_table(), traces.query_table())
    try:
        prepared = data.prepare()
    except ValueError as error:
        return None, f"The Trace Retrieval page's tables cannot be used: {error}"
    pairs = tuning.pairs.retrieval_pairs(prepared.queries, prepared.expected, prepared.ids, prepared.texts)
    where = f"{len(pairs)} test queries with their expected traces from the Trace Retrieval page"
    try:
        return tuning.check_pairs(pairs), where + "."
    except ValueError as error:
        return None, f"{where}: {error} Add queries there, or choose another source."


def use_everywhere(name: str) -> None:
    """Put ``name`` into every page's model picker (the other pages read these keys when drawn)."""
    common.catalog.clear()
    for key, default in MULTI_PICKERS.items():
        chosen = list(state.get(f"_kept_{key}") or state.get(key) or default)
        if name not in chosen:
            chosen.append(name)
        state[f"_kept_{key}"] = chosen
        state.pop(key, None)
    for key in SINGLE_PICKERS:
        state[f"_kept_{key}"] = name
        state.pop(key, None)
