"""Streamlit-only helpers of the Fine-tune page: where its pairs come from, and using a new model.

Session keys are ``tune_``-prefixed. The pairs are read from one of four sources (the Trace
Retrieval page's test queries, the example pairs, an upload, a paste); the last result is kept in
``tune_result`` (a :class:`embedlab.tuning.FinetuneResult`) and ``tune_distil``.

Kept in the workspace (:mod:`ui.workspace`: a reload or the same ``?ws=`` link in another tab finds
them): every input's widget value under its key, and the uploaded pairs file as it came
(:data:`UPLOAD_FILE`, with its name). Made models are saved on disk already: nothing more to keep.
"""

from __future__ import annotations

import streamlit as st

from embedlab import DEFAULT_MODEL, seed, tuning
from embedlab.retrieval import traces
from embedlab.tuning.pairs import Pairs
from ui import common, workspace
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
#: The workspace key of the uploaded pairs file (its bytes, with its name).
UPLOAD_FILE = "tune_upload_file"


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(data: bytes, name: str) -> Pairs:
    return tuning.read_pairs(data, name)


@st.cache_data(max_entries=1, show_spinner=False)
def example() -> Pairs:
    return tuning.check_pairs(tuning.example_pairs())


def keep_upload() -> None:
    """The pairs uploader's on_change: keep the new file in the workspace, or forget it when removed."""
    workspace.keep_upload("tune_upload", UPLOAD_FILE)


def uploaded_pairs(upload) -> tuple[Pairs | None, str | None]:
    """``(pairs, problem)`` from the uploaded file, or in a new session from the one kept in the
    workspace (said in a caption, with a way to forget it); ``(None, None)`` when there is neither."""
    if upload is not None:
        data, name = upload.getvalue(), upload.name
    else:
        kept = workspace.restored_bytes(UPLOAD_FILE)
        if kept is None:
            return None, None
        data, name = kept.data, kept.name
    pairs, problem = None, None
    try:
        pairs = read_upload(data, name)
    except ValueError as error:
        problem = str(error)
    if upload is None:
        amount = f"{len(pairs):,} pairs" if pairs is not None else ""
        workspace.restored_notice(
            name, amount, key="tune_upload_forget", on_forget=workspace.forget, args=(UPLOAD_FILE,)
        )
    return pairs, problem


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
    """Put ``name`` into every page's model picker (the other pages read these keys when drawn, from
    the session or, restored, from the workspace: both are written)."""
    common.catalog.clear()
    kept = workspace.current()
    for key, default in MULTI_PICKERS.items():
        chosen = list(state.get(f"_kept_{key}") or state.get(key) or kept.get(key) or default)
        if name not in chosen:
            chosen.append(name)
        state[f"_kept_{key}"] = chosen
        state.pop(key, None)
        kept.put(key, chosen)
    for key in SINGLE_PICKERS:
        state[f"_kept_{key}"] = name
        state.pop(key, None)
        kept.put(key, name)
