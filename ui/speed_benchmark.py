"""Drawing helpers for the Speed Benchmark page: the display table and the corpus inputs.

Nothing here measures or plots; the figures come from :func:`embedlab.benchmark` and the charts
from :mod:`embedlab.benchmarking.figures`.
"""

from __future__ import annotations

import pandas as pd

#: Text file types the corpus upload reads, one text per line.
LINE_TYPES = ("txt",)
#: Texts one run may time at most (larger corpora are cut, with a warning).
MAX_TEXTS = 50_000


#: Columns shown in the results table, with their headings.
TABLE = {
    "model": "model",
    "status": "status",
    "repeats_done": "repeats",
    "texts_per_s": "texts/s",
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
    "backend": "backend",
    "error": "error",
}


def display_table(results: pd.DataFrame) -> pd.DataFrame:
    """The result table (``BenchmarkRun.table``) with sizes in MB and the columns people read first."""
    table = results.copy()
    table["size_mb"] = table["size_bytes"].astype("Float64") / 1e6
    return table[list(TABLE)].rename(columns=TABLE)
