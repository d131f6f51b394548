"""A benchmark run on the terminal and in files (shared by the ``bench`` and ``runs`` commands)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..benchmarking.notes import noise_notes
from .common import table, write_out

__all__ = ["megabytes", "print_run", "write_run"]


def print_run(run) -> None:
    """The run's table, comparisons, noisy models and errors, as plain text on stdout."""
    results = run.table
    rows = []
    for r in results.itertuples():
        measured = pd.notna(r.texts_per_s)
        rows.append(
            {
                "model": r.model,
                "backend": getattr(r, "backend", "") or "-",
                "status": r.status,
                "dim": "-" if pd.isna(r.dim) else str(r.dim),
                "load s": _seconds(r.load_s),
                "warm-up s": _seconds(r.warmup_s),
                "encode s median [min-max]": (
                    f"{r.encode_median_s:.3f} [{r.encode_min_s:.3f}-{r.encode_max_s:.3f}]" if measured else "-"
                ),
                "texts/s": f"{r.texts_per_s:,.1f}" if measured else "-",
                "tokens/s": f"{r.tokens_per_s:,.0f}" if pd.notna(r.tokens_per_s) else "-",
                "size MB": "-" if pd.isna(r.size_bytes) else megabytes(r.size_bytes),
                "+MB load/encode": f"{_number(r.load_mb)}/{_number(r.encode_mb)}",
                "noisy": "yes" if pd.notna(r.noisy) and bool(r.noisy) else "",
            }
        )
    print(table(rows))
    comparisons = [c for c in results["comparison"] if c and c != "baseline"]
    if comparisons:
        print("\nComparison:")
        for line in comparisons:
            print(f"  {line}")
    notes = noise_notes(run)
    if notes:
        print("\nTiming:")
        for line in notes:
            print(f"  {line}")
    failed = results[results["error"] != ""]
    if len(failed):
        print("\nErrors:")
        for r in failed.itertuples():
            print(f"  {r.model}: {r.error}")


def write_run(run, path: Path) -> None:
    """Write the run as CSV (one row per model) or JSON (rows, machine, settings), atomically."""
    from ..benchmarking.results import results_json

    text = run.table.to_csv(index=False) if path.suffix.lower() == ".csv" else results_json(run)
    write_out(path, text)


def megabytes(size) -> str:
    return f"{size / 1e6:,.0f}"


def _seconds(value) -> str:
    return "-" if value != value else f"{value:.3f}"


def _number(value) -> str:
    return "-" if value != value else f"{value:.0f}"
