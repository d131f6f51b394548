"""A benchmark's typed result: the table of rows, the run's settings and machine, JSON, comparison.

:class:`BenchmarkRun` is what :func:`embedlab.benchmark` and :meth:`embedlab.BenchmarkStore.load`
return; :class:`BenchmarkSettings` is how the run was measured. Nothing here measures anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "NOISY_ABOVE",
    "BenchmarkRun",
    "BenchmarkSettings",
    "Comparison",
    "Record",
    "compare_runs",
    "plain",
    "records",
    "results_json",
    "table_of",
    "typed",
]

#: A run is flagged noisy when (max - min) / median of its encode times is above this.
NOISY_ABOVE = 0.5

#: The result table's columns and their dtypes, in order.
COLUMNS: dict[str, str] = {
    "model": "str",
    "status": "str",  # "ok", "failed" or "stopped"
    "backend": "str",
    "dim": "Int64",
    "parameters": "Int64",
    "size_bytes": "Int64",
    "max_tokens": "Int64",
    "n_texts": "Int64",
    "tokens": "Int64",
    "batch_size": "Int64",
    "repeats_done": "Int64",
    "prepare_s": "float64",
    "load_s": "float64",
    "warmup_s": "float64",
    "encode_median_s": "float64",
    "encode_min_s": "float64",
    "encode_max_s": "float64",
    "texts_per_s": "float64",
    "texts_per_s_low": "float64",
    "texts_per_s_high": "float64",
    "tokens_per_s": "float64",
    "load_mb": "float64",
    "encode_mb": "float64",
    "spread": "float64",
    "noisy": "boolean",
    "slowdown": "float64",
    "comparison": "str",
    "error": "str",
}


@dataclass(frozen=True)
class BenchmarkSettings:
    """How a run was measured (saved with it, as a JSON object of these fields).

    ``started`` / ``finished`` are UTC ISO times (None while the run has not started / ended);
    ``corpus_sha256`` is a short fingerprint of the texts, so two runs on the same corpus can be told.
    """

    n_texts: int | None = None
    distinct_texts: int | None = None
    corpus_sha256: str | None = None
    batch_size: int | None = None
    repeats: int | None = None
    warmup: bool | None = None
    baseline: str | None = None
    noisy_above: float = NOISY_ABOVE
    models: tuple[str, ...] = ()
    threads: int | None = None
    started: str | None = None
    finished: str | None = None

    def as_dict(self) -> dict:
        """The JSON object saved and downloaded (the same keys as ever; unset times left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["models"] = list(self.models)
        for key in ("started", "finished"):
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, value: Mapping) -> BenchmarkSettings:
        """Settings read back from a saved run; keys it does not know are ignored, missing ones left unset."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in dict(value).items() if k in known}
        if "models" in kept:
            kept["models"] = tuple(str(m) for m in kept["models"] or ())
        if kept.get("noisy_above") is None:
            kept.pop("noisy_above", None)
        return cls(**kept)


@dataclass(eq=False)
class Record:
    """One model's measurements while a run goes (mutable; turned into a table row by :func:`table_of`)."""

    model: str
    status: str = "ok"
    backend: str = ""
    dim: int | None = None
    parameters: int | None = None
    size_bytes: int | None = None
    max_tokens: int | None = None
    tokens: int | None = None
    prepare_s: float = math.nan
    load_s: float = math.nan
    warmup_s: float = math.nan
    load_mb: float = math.nan
    encode_mb: float = math.nan
    times: list[float] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True, eq=False)
class BenchmarkRun:
    """A benchmark run: one row per model in ``table`` and what the figures depend on.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model measured, columns :data:`COLUMNS`: ``texts_per_s`` is
        ``n_texts / encode_median_s``; ``texts_per_s_low`` / ``_high`` are from the slowest and
        fastest repeat; ``slowdown`` is baseline speed / this speed (above 1: slower) and
        ``comparison`` says it in words.
    machine : dict
        See :func:`embedlab.benchmarking.machine.machine_info`.
    settings : BenchmarkSettings
    times : dict of str to list of float
        Every timed repeat's seconds, per model.
    baseline : str or None
        The model the others were compared with (None when no model finished a repeat).
    stopped : bool
        The run ended before every model was measured.
    id, label, created
        For a saved run: its id in the store, its label and when it was saved (UTC); else None, "", None.
    """

    table: pd.DataFrame = field(repr=False)
    machine: dict = field(default_factory=dict, repr=False)
    settings: BenchmarkSettings = field(default_factory=BenchmarkSettings)
    times: dict[str, list[float]] = field(default_factory=dict, repr=False)
    baseline: str | None = None
    stopped: bool = False
    id: int | None = None
    label: str = ""
    created: str | None = None

    @property
    def measured(self) -> pd.DataFrame:
        """The rows with a speed (at least one timed repeat)."""
        return self.table[self.table["texts_per_s"].notna()]

    @property
    def models(self) -> list[str]:
        """The models in the table, in order."""
        return [str(m) for m in self.table["model"]]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two runs side by side (:func:`compare_runs`).

    ``table``: one row per model measured in both (``texts_per_s`` and ``texts_per_s_before``,
    ``change`` = now / before, above 1: faster now; encode and load medians of both; ``noisy``
    for either). ``differences``: settings or machine details that differ, in words (figures
    compare best when there are none).
    """

    table: pd.DataFrame = field(repr=False)
    differences: tuple[str, ...] = ()


def table_of(records: Sequence[Record], *, n_texts: int, batch_size: int, baseline: str | None, noisy_above: float):
    """The result table of ``records`` and the baseline used: ``(DataFrame, baseline or None)``."""
    rows = []
    for record in records:
        times = np.asarray(record.times, dtype=np.float64)
        median = float(np.median(times)) if times.size else math.nan
        fastest = float(times.min()) if times.size else math.nan
        slowest = float(times.max()) if times.size else math.nan
        spread = (slowest - fastest) / median if times.size >= 2 and median > 0 else math.nan
        rows.append(
            {
                "model": record.model,
                "status": record.status,
                "backend": record.backend,
                "dim": record.dim,
                "parameters": record.parameters,
                "size_bytes": record.size_bytes,
                "max_tokens": record.max_tokens,
                "n_texts": n_texts,
                "tokens": record.tokens,
                "batch_size": batch_size,
                "repeats_done": int(times.size),
                "prepare_s": record.prepare_s,
                "load_s": record.load_s,
                "warmup_s": record.warmup_s,
                "encode_median_s": median,
                "encode_min_s": fastest,
                "encode_max_s": slowest,
                "texts_per_s": n_texts / median if median > 0 else math.nan,
                "texts_per_s_low": n_texts / slowest if slowest > 0 else math.nan,
                "texts_per_s_high": n_texts / fastest if fastest > 0 else math.nan,
                "tokens_per_s": record.tokens / median if median > 0 and record.tokens is not None else math.nan,
                "load_mb": record.load_mb,
                "encode_mb": record.encode_mb,
                "spread": spread,
                "noisy": bool(spread > noisy_above) if not math.isnan(spread) else None,
                "slowdown": math.nan,
                "comparison": "",
                "error": record.error,
            }
        )
    frame = typed(pd.DataFrame(rows, columns=list(COLUMNS)))
    return frame, _compare(frame, baseline)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of :data:`COLUMNS` in its dtype (strings: "" for missing)."""
    for column, dtype in COLUMNS.items():
        if dtype == "str":
            frame[column] = frame[column].fillna("").astype(str)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def _compare(frame: pd.DataFrame, baseline: str | None) -> str | None:
    """Fill ``slowdown`` and ``comparison`` against the baseline; return the baseline used."""
    measured = frame[frame["texts_per_s"].notna()]
    if measured.empty:
        return None
    if baseline is None or baseline not in set(measured["model"]):
        baseline = str(measured["model"].iloc[0])
    base_speed = float(measured.loc[measured["model"] == baseline, "texts_per_s"].iloc[0])
    for i in measured.index:
        model = frame.at[i, "model"]
        ratio = base_speed / float(frame.at[i, "texts_per_s"])
        frame.at[i, "slowdown"] = ratio
        if model == baseline:
            frame.at[i, "comparison"] = "baseline"
        elif f"{ratio:.1f}" == "1.0" and f"{1 / ratio:.1f}" == "1.0":
            frame.at[i, "comparison"] = f"{model} is about as fast as {baseline}"
        elif ratio >= 1:
            frame.at[i, "comparison"] = f"{model} is {ratio:.1f}x slower than {baseline}"
        else:
            frame.at[i, "comparison"] = f"{model} is {1 / ratio:.1f}x faster than {baseline}"
    return baseline


def plain(value):
    """A JSON-ready copy: NaN/NA become None, numpy scalars Python numbers, tuples and arrays lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    return value


def records(table: pd.DataFrame) -> list[dict]:
    """The table's rows as JSON-ready dicts."""
    return [plain(dict(zip(table.columns, row, strict=True))) for row in table.itertuples(index=False)]


def results_json(run: BenchmarkRun) -> str:
    """The run's rows, machine and settings as one JSON document (NaN written as null)."""
    document = {
        "machine": plain(run.machine),
        "settings": plain(run.settings.as_dict()),
        "baseline": run.baseline,
        "stopped": bool(run.stopped),
        "times": plain(run.times),
        "results": records(run.table),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def compare_runs(current: BenchmarkRun, earlier: BenchmarkRun) -> Comparison:
    """The models measured in both runs, side by side, and what differs between the runs."""
    keep = ["model", "texts_per_s", "encode_median_s", "load_s", "noisy"]
    now = current.measured[keep]
    before = earlier.measured[keep]
    both = now.merge(before, on="model", suffixes=("", "_before"))
    both.insert(3, "change", both["texts_per_s"] / both["texts_per_s_before"])
    both["noisy"] = both["noisy"].fillna(False) | both.pop("noisy_before").fillna(False)
    columns = [
        "model",
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
