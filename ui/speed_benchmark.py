"""Streamlit-only helpers of the Speed Benchmark page: the corpus upload, what the workspace keeps,
the display tables and their column help.

Nothing here measures or plots; the figures come from :func:`embedlab.benchmark` and the charts
from :mod:`embedlab.benchmarking.figures`. A figure a row does not have (a stopped row's speed, a
static model's agreement with torch-fp32) shows as "—", never as "None".

Nothing is lost on a reload: the settings (:data:`SETTINGS`) are kept in the session's workspace
(:mod:`ui.workspace`), an uploaded corpus as its bytes with its file name (:data:`UPLOAD_KEY`),
and the id of the run shown, which a new session with the same ``?ws=`` opens again from the store.
State kept in ``st.session_state``: ``speed_upload_kept`` (the workspace's upload, read once per
session; None when there is none) and ``speed_last_checked`` (the last run was looked for).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from embedlab.markup import markdown_literal, markdown_sentence
from embedlab.tables import TABLE_TYPES, column_texts, read_corpus, read_table, text_columns
from ui import workspace
from ui.state import trace_data

state = st.session_state

#: Text file types the corpus upload reads, one text per line.
LINE_TYPES = ("txt",)
#: Texts one run may time at most (larger corpora are cut, with a warning).
MAX_TEXTS = 50_000
#: What a missing figure shows as.
MISSING = "—"
#: The page's widgets whose values the workspace keeps.
SETTINGS = (
    "speed_models",
    "speed_source",
    "speed_paste",
    "speed_column",
    "speed_size",
    "speed_batch",
    "speed_repeats",
    "speed_warmup",
    "speed_threads",
    "speed_backends",
    "speed_sweep",
    "speed_baseline",
)
#: The uploaded corpus's key: the uploader's and the workspace's (bytes and file name).
UPLOAD_KEY = "speed_upload"
#: The run shown (its id in the benchmark store).
RUN_KEY = "speed_run_id"


# -- the corpus upload ---------------------------------------------------------------------------
@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(data: bytes, name: str) -> pd.DataFrame:
    return read_table(data, name)


def _on_upload() -> None:
    """Keep a new upload in the workspace as it came; a removed one is forgotten there too."""
    # also this session's copy, for when the uploader is not drawn (another corpus source, another page)
    state["speed_upload_kept"] = workspace.keep_upload(UPLOAD_KEY, UPLOAD_KEY)


def _drop_upload() -> None:
    workspace.forget(UPLOAD_KEY)
    state["speed_upload_kept"] = None


def uploaded_texts() -> list[str]:
    """The upload box and, for a table, the column picker; the texts of the file (``[]`` when none).

    While the uploader is empty (after a reload) the file kept in this workspace is used, and a
    caption says so, with a way to drop it. A file that cannot be read is named in one sentence.
    """
    upload = st.file_uploader(
        "A text file (one text per line) or a table",
        type=[*LINE_TYPES, *TABLE_TYPES],
        key=UPLOAD_KEY,
        on_change=_on_upload,
    )
    restored = None
    if upload is not None:
        data, name = upload.getvalue(), upload.name
    else:
        if "speed_upload_kept" not in state:  # read once per session
            state["speed_upload_kept"] = workspace.restored_bytes(UPLOAD_KEY)
        restored = state["speed_upload_kept"]
        if restored is None:
            return []
        data, name = restored.data, restored.name
    texts, rows = [], None
    if name.lower().endswith(tuple(f".{suffix}" for suffix in LINE_TYPES)):
        try:
            texts = read_corpus(data, name)
        except ValueError as error:
            st.error(markdown_sentence(error))
        rows = f"{len(texts):,} texts"
    else:
        try:
            frame = read_upload(data, name)
        except ValueError as error:
            st.error(markdown_literal(str(error)))  # literal: the sentence starts with the file's own name
        else:
            rows = f"{len(frame):,} rows"
            columns = text_columns(frame)
            if not columns:
                st.error(
                    markdown_literal(
                        f"{name} has no column of text; its columns are: {', '.join(map(str, frame.columns))}."
                    )
                )
            else:
                if state.get("speed_column") not in columns:  # the column of another file
                    state.pop("speed_column", None)
                workspace.restore("speed_column", None, allowed=columns)
                column = st.selectbox("Column with the texts", columns, key="speed_column")
                texts = column_texts(frame, column, source=name)
    if restored is not None:
        workspace.restored_notice(name, rows or "", key="speed_upload_drop", on_forget=_drop_upload)
    return texts


def agreement_texts() -> tuple[list[str] | None, list[str] | None]:
    """The Trace Retrieval page's queries and traces, this session's or this workspace's (top-1
    agreement is measured on them), or (None, None)."""
    data = trace_data()
    if data is None:
        return None, None
    try:
        prepared = data.prepare()
    except ValueError:
        return None, None
    if not prepared.queries or not prepared.texts:
        return None, None
    return list(prepared.queries), list(prepared.texts)


# -- the workspace -----------------------------------------------------------------------------------
def restore_last_run(store) -> None:
    """Once per session: open again the run this workspace last showed (a reload), from ``store``."""
    if state.get("speed_last_checked"):
        return
    state["speed_last_checked"] = True
    run_id = workspace.current().get(RUN_KEY)
    if "speed_result" in state or not isinstance(run_id, int):
        return
    try:
        state["speed_result"] = store.load(run_id)
    except (KeyError, ValueError):  # deleted since, or damaged: the page starts without it
        workspace.forget(RUN_KEY)
        return
    state[RUN_KEY] = run_id


def restore_baseline(models: list[str], default: str | None) -> None:
    """Before the baseline picker: the workspace's baseline, else ``default``, and ``default`` again
    when the chosen one left the models (the picker is drawn without an index)."""
    workspace.restore("speed_baseline", default, allowed=models)
    if state.get("speed_baseline") not in models:
        state["speed_baseline"] = default


def keep_inputs() -> None:
    """After the inputs are drawn: keep the settings and the run shown (only what changed is written)."""
    workspace.keep(*SETTINGS, RUN_KEY)


#: Columns shown in the results table, with their headings.
TABLE = {
    "model": "model",
    "backend": "backend",
    "status": "status",
    "repeats_done": "repeats",
    "texts_per_s": "texts/s",
    "vs_fp32": "× torch-fp32",
    "cosine_mean": "cosine (mean)",
    "cosine_min": "cosine (min)",
    "top1_agreement": "top-1 agreement",
    "comparison": "vs baseline",
    "encode_median_s": "encode s (median)",
    "encode_min_s": "min s",
    "encode_max_s": "max s",
    "tokens_per_s": "tokens/s",
    "load_s": "load s",
    "warmup_s": "warm-up s",
    "dim": "dim",
    "parameters": "parameters",
    "size_mb": "size MB",
    "load_mb": "+MB load",
    "encode_mb": "+MB encode",
    "noisy": "noisy",
    "requested": "asked for",
    "error": "error",
}

#: How each number is written (pandas format strings); the rest as they are.
FORMATS = {
    "texts/s": "{:,.1f}",
    "× torch-fp32": "{:.2f}×",
    "cosine (mean)": "{:.4f}",
    "cosine (min)": "{:.4f}",
    "top-1 agreement": "{:.0%}",
    "encode s (median)": "{:.4f}",
    "min s": "{:.4f}",
    "max s": "{:.4f}",
    "tokens/s": "{:,.0f}",
    "load s": "{:.3f}",
    "warm-up s": "{:.3f}",
    "parameters": "{:,.0f}",
    "size MB": "{:,.0f}",
    "+MB load": "{:,.0f}",
    "+MB encode": "{:,.0f}",
    "repeats": "{:.0f}",
    "dim": "{:.0f}",
}

SWEEP = {
    "model": "model",
    "backend": "backend",
    "threads": "threads",
    "batch_size": "batch size",
    "texts_per_s": "texts/s",
    "encode_median_s": "encode s (median)",
    "fastest": "fastest",
}


def display_table(results: pd.DataFrame):
    """The result table (``BenchmarkRun.table``) as shown: sizes in MB, the columns people read
    first, numbers written to a sensible precision and missing figures as "—" (a pandas Styler)."""
    table = results.copy()
    table["size_mb"] = table["size_bytes"].astype("Float64") / 1e6
    table = table[list(TABLE)].rename(columns=TABLE)
    table["noisy"] = table["noisy"].map(lambda v: "" if pd.isna(v) else ("yes" if v else "no"))
    return _styled(table)


def sweep_table(sweep: pd.DataFrame):
    """The thread and batch-size sweep as shown ("—" threads: the backend keeps its own)."""
    table = sweep[list(SWEEP)].rename(columns=SWEEP)
    table["fastest"] = table["fastest"].map(lambda v: "fastest" if not pd.isna(v) and bool(v) else "")
    return _styled(table)


def _styled(table: pd.DataFrame):
    formats = {column: fmt for column, fmt in FORMATS.items() if column in table.columns}
    return table.style.format(formats, na_rep=MISSING).format(
        subset=[c for c in table.columns if c not in formats], na_rep=MISSING
    )


def column_help(agreement: str | None) -> dict:
    """The results table's column tooltips (``agreement``: what top-1 agreement was measured on)."""
    on = agreement or "the lesson's queries and traces"
    column = st.column_config.Column
    return {
        "texts/s": column(help="texts ÷ median encode time"),
        "× torch-fp32": column(help="this speed ÷ the same model's torch-fp32 speed in this run (above 1: faster)"),
        "cosine (mean)": column(help="mean cosine of each text's vector to the same model's torch-fp32 vector"),
        "cosine (min)": column(help="the lowest of those cosines"),
        "top-1 agreement": column(help=f"share of queries whose best trace is torch-fp32's, on {on}"),
        "tokens/s": column(help="tokens the model read ÷ median encode time"),
        "load s": column(help="building a fresh instance from its files, libraries already imported"),
        "size MB": column(help="the weights on disk"),
        "+MB load": column(help="resident memory added by loading (approximate)"),
        "+MB encode": column(help="peak resident memory added while encoding (approximate)"),
        "asked for": column(help="'auto': the backend chosen for this machine; else the backend asked for"),
    }
