"""Drawing helpers for the Speed Benchmark page: the display tables and their column help.

Nothing here measures or plots; the figures come from :func:`embedlab.benchmark` and the charts
from :mod:`embedlab.benchmarking.figures`. A figure a row does not have (a stopped row's speed, a
static model's agreement with torch-fp32) shows as "—", never as "None".
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

#: Text file types the corpus upload reads, one text per line.
LINE_TYPES = ("txt",)
#: Texts one run may time at most (larger corpora are cut, with a warning).
MAX_TEXTS = 50_000
#: What a missing figure shows as.
MISSING = "—"

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
