"""Two benchmark runs side by side: :func:`compare_runs` and its :class:`Comparison`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .results import BenchmarkRun

__all__ = ["Comparison", "compare_runs"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two runs side by side (:func:`compare_runs`).

    ``table``: one row per model (row name) measured in both, with the backend it ran on in each
    (``backend``, ``backend_before``), ``texts_per_s`` and ``texts_per_s_before``,
    ``change`` = now / before, above 1: faster now; encode and load medians of both; ``noisy``
    for either). ``differences``: settings or machine details that differ, in words (figures
    compare best when there are none).
    """

    table: pd.DataFrame = field(repr=False)
    differences: tuple[str, ...] = ()


def compare_runs(current: BenchmarkRun, earlier: BenchmarkRun) -> Comparison:
    """The models measured in both runs, side by side, and what differs between the runs."""
    keep = ["name", "backend", "texts_per_s", "encode_median_s", "load_s", "noisy"]
    now = current.measured[keep]
    before = earlier.measured[keep]
    both = now.merge(before, on="name", suffixes=("", "_before"))
    both.insert(2, "backend_before", both.pop("backend_before"))
    both.insert(3, "change", both["texts_per_s"] / both["texts_per_s_before"])
    both["noisy"] = both["noisy"].fillna(False) | both.pop("noisy_before").fillna(False)
    both = both.rename(columns={"name": "model"})
    columns = [
        "model",
        "backend",
        "backend_before",
        "texts_per_s",
        "texts_per_s_before",
        "change",
        "encode_median_s",
        "encode_median_s_before",
        "load_s",
        "load_s_before",
        "noisy",
    ]
    return Comparison(both[columns].reset_index(drop=True), tuple(_differences(current, earlier)))


def _differences(now: BenchmarkRun, before: BenchmarkRun) -> list[str]:
    out = []
    settings_now, settings_before = now.settings, before.settings
    if settings_now.corpus_sha256 != settings_before.corpus_sha256:
        out.append(f"different corpora ({settings_now.n_texts} texts now, {settings_before.n_texts} before)")
    for key, label in (("batch_size", "batch size"), ("warmup", "warm-up"), ("repeats", "repeats")):
        value_now, value_before = getattr(settings_now, key), getattr(settings_before, key)
        if value_now != value_before:
            out.append(f"{label} {value_now} now, {value_before} before")
    backends_now = dict(zip(now.table["name"], now.table["backend"], strict=True))
    for name, backend in zip(before.table["name"], before.table["backend"], strict=True):
        if name in backends_now and backends_now[name] != backend:
            out.append(f"{name} on {backends_now[name]} now, {backend} before")
    for key, label in (
        ("cpu_model", "CPU"),
        ("usable_cores", "cores"),
        ("torch_threads", "torch threads"),
        ("torch", "torch version"),
        ("sentence-transformers", "sentence-transformers version"),
    ):
        if now.machine.get(key) != before.machine.get(key):
            out.append(f"{label} {now.machine.get(key)} now, {before.machine.get(key)} before")
    return out
