"""A benchmark's typed result: the table of rows, the run's settings and machine, JSON, comparison.

:class:`BenchmarkRun` is what :func:`embedlab.benchmark` and :meth:`embedlab.BenchmarkStore.load`
return; :class:`BenchmarkSettings` is how the run was measured. Nothing here measures anything.

Each row is one model on one backend (``torch-fp32``, ``onnx-int8``, …; see
:mod:`embedlab.models.backends`). Runs saved before backends could be chosen still open: their
rows read as what ran then (:func:`upgrade_row`: a sentence-transformers row is ``torch-fp32``).
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
    "SWEEP_COLUMNS",
    "BenchmarkRun",
    "BenchmarkSettings",
    "Record",
    "legacy_backend",
    "plain",
    "records",
    "results_json",
    "row_names",
    "table_of",
    "typed",
    "upgrade_row",
]

#: A run is flagged noisy when (max - min) / median of its encode times is above this.
NOISY_ABOVE = 0.5

#: The result table's columns and their dtypes, in order.
COLUMNS: dict[str, str] = {
    "name": "str",  # the model, or "model · backend" when the run measured it on several backends
    "model": "str",
    "status": "str",  # "ok", "failed" or "stopped"
    "backend": "str",  # what ran it: "torch-fp32", "onnx-int8", "static", …
    "requested": "str",  # "auto" (chosen for this machine) or the backend asked for by name
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
    "vs_fp32": "float64",  # this speed / the same model's torch-fp32 speed in this run (above 1: faster)
    "cosine_mean": "float64",  # mean cosine of its vectors to the same model's torch-fp32 vectors
    "cosine_min": "float64",  # the lowest of those cosines
    "top1_agreement": "float64",  # share of queries whose top-1 trace is the one torch-fp32 ranks first
    "top1_queries": "Int64",  # how many queries that share is of
    "error": "str",
}

#: The thread and batch-size sweep's columns (:attr:`BenchmarkRun.sweep`).
SWEEP_COLUMNS: dict[str, str] = {
    "name": "str",
    "model": "str",
    "backend": "str",
    "threads": "Int64",
    "batch_size": "Int64",
    "encode_median_s": "float64",
    "texts_per_s": "float64",
    "fastest": "boolean",  # the fastest setting of this row's model and backend
}

#: The backend each library of the code before backends ran its models on (see :func:`legacy_backend`).
_LEGACY = {"sentence-transformers": "torch-fp32"}


@dataclass(frozen=True)
class BenchmarkSettings:
    """How a run was measured (saved with it, as a JSON object of these fields).

    ``started`` / ``finished`` are UTC ISO times (None while the run has not started / ended);
    ``corpus_sha256`` is a short fingerprint of the texts, so two runs on the same corpus can be told.
    ``backends``: what was asked per model — ``("auto",)`` (the backend chosen for this machine),
    ``("all",)`` (every backend available for it) or backend names; ``()`` for runs saved before
    backends could be chosen (each model ran on its only backend). ``sweep``: whether thread counts
    and batch sizes were swept; ``agreement``: the queries and traces top-1 agreement was measured on.
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
    backends: tuple[str, ...] = ()
    sweep: bool | None = None
    agreement: str | None = None

    def as_dict(self) -> dict:
        """The JSON object saved and downloaded (the keys of earlier versions; unset newer ones left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["models"] = list(self.models)
        out["backends"] = list(self.backends)
        for key in ("started", "finished", "backends", "sweep", "agreement"):
            if out[key] is None or out[key] == []:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, value: Mapping) -> BenchmarkSettings:
        """Settings read back from a saved run; keys it does not know are ignored, missing ones left unset."""
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in dict(value).items() if k in known}
        for key in ("models", "backends"):
            if key in kept:
                kept[key] = tuple(str(m) for m in kept[key] or ())
        if kept.get("noisy_above") is None:
            kept.pop("noisy_above", None)
        return cls(**kept)


@dataclass(eq=False)
class Record:
    """One model's measurements while a run goes (mutable; turned into a table row by :func:`table_of`)."""

    model: str
    requested: str = "auto"
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
    cosine_mean: float = math.nan
    cosine_min: float = math.nan
    top1_agreement: float = math.nan
    top1_queries: int | None = None
    error: str = ""


@dataclass(frozen=True, eq=False)
class BenchmarkRun:
    """A benchmark run: one row per model and backend in ``table`` and what the figures depend on.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model and backend measured, columns :data:`COLUMNS`: ``texts_per_s`` is
        ``n_texts / encode_median_s``; ``texts_per_s_low`` / ``_high`` are from the slowest and
        fastest repeat; ``slowdown`` is baseline speed / this speed (above 1: slower) and
        ``comparison`` says it in words; ``vs_fp32`` and the agreement columns compare the row
        with the same model on torch-fp32.
    machine : dict
        See :func:`embedlab.benchmarking.machine.machine_info`.
    settings : BenchmarkSettings
    times : dict of str to list of float
        Every timed repeat's seconds, per row ``name`` (the model's name when it has one row).
    baseline : str or None
        The row the others were compared with (None when no row finished a repeat).
    stopped : bool
        The run ended before every row was measured (Stop, or cut short: see ``state``).
    sweep : pandas.DataFrame or None
        The thread and batch-size sweep (columns :data:`SWEEP_COLUMNS`), None when not asked for.
    id, label, created
        For a saved run: its id in the store, its label and when it was saved (UTC); else None, "", None.
    state : str or None
        For a saved run: "running", "finished", "stopped" (Stop kept what finished) or
        "interrupted" (the page was reloaded or closed, or the process ended, mid-run); else None.
    choices : dict of str to dict
        Per model asked for with ``"auto"``: the backend chosen for this machine and why
        (``backend``, ``reason``, ``texts_per_second``, ``agreement``, ``min_cosine``,
        ``top1_unchanged``, ``calibrated_at``: :func:`embedlab.models.backends.choose_backend`).
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
    sweep: pd.DataFrame | None = field(default=None, repr=False)
    state: str | None = None
    choices: dict[str, dict] = field(default_factory=dict, repr=False)

    @property
    def measured(self) -> pd.DataFrame:
        """The rows with a speed (at least one timed repeat)."""
        return self.table[self.table["texts_per_s"].notna()]

    @property
    def models(self) -> list[str]:
        """The models in the table, in order (each once, whatever the backends it ran on)."""
        return list(dict.fromkeys(str(m) for m in self.table["model"]))

    @property
    def names(self) -> list[str]:
        """The rows' names in order: a model's name, or "model · backend" when it has several rows."""
        return [str(n) for n in self.table["name"]]


def row_names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Each row's name: its model, or "model · backend" when the model has several rows.

    >>> row_names([("a", "torch-fp32"), ("a", "onnx-int8"), ("b", "static")])
    ['a · torch-fp32', 'a · onnx-int8', 'b']
    """
    counts: dict[str, int] = {}
    for model, _ in pairs:
        counts[model] = counts.get(model, 0) + 1
    return [f"{model} · {backend or '?'}" if counts[model] > 1 else model for model, backend in pairs]


def table_of(records: Sequence[Record], *, n_texts: int, batch_size: int, baseline: str | None, noisy_above: float):
    """The result table of ``records`` and the baseline used: ``(DataFrame, baseline or None)``.

    ``baseline`` is a row name or a model (then that model's first row).
    """
    rows = []
    names = row_names([(r.model, r.backend or r.requested) for r in records])
    for record, name in zip(records, names, strict=True):
        times = np.asarray(record.times, dtype=np.float64)
        median = float(np.median(times)) if times.size else math.nan
        fastest = float(times.min()) if times.size else math.nan
        slowest = float(times.max()) if times.size else math.nan
        spread = (slowest - fastest) / median if times.size >= 2 and median > 0 else math.nan
        rows.append(
            {
                "name": name,
                "model": record.model,
                "status": record.status,
                "backend": record.backend,
                "requested": record.requested,
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
                "vs_fp32": math.nan,
                "cosine_mean": record.cosine_mean,
                "cosine_min": record.cosine_min,
                "top1_agreement": record.top1_agreement,
                "top1_queries": record.top1_queries,
                "error": record.error,
            }
        )
    frame = typed(pd.DataFrame(rows, columns=list(COLUMNS)))
    _against_fp32(frame)
    return frame, _compare(frame, baseline)


def _against_fp32(frame: pd.DataFrame) -> None:
    """Fill ``vs_fp32``: each measured row's speed over its model's torch-fp32 row in the same run."""
    reference = frame[(frame["backend"] == "torch-fp32") & frame["texts_per_s"].notna()]
    speeds = dict(zip(reference["model"], reference["texts_per_s"].astype(float), strict=True))
    for i in frame.index[frame["texts_per_s"].notna()]:
        base = speeds.get(frame.at[i, "model"])
        if base:
            frame.at[i, "vs_fp32"] = float(frame.at[i, "texts_per_s"]) / base


def legacy_backend(model: str, library: str) -> str:
    """The backend a row saved before backends existed ran on, from the library it recorded.

    sentence-transformers ran models in float32 torch (``"torch-fp32"``); the catalog's ONNX
    models ran as built (``"onnx-int8"`` for the int8 build, else ``"onnx-fp32"``); a static or
    model2vec model keeps its name.

    >>> legacy_backend("all-MiniLM-L6-v2", "sentence-transformers")
    'torch-fp32'
    >>> legacy_backend("all-MiniLM-L6-v2-int8", "onnxruntime")
    'onnx-int8'
    """
    if library == "onnxruntime":
        return "onnx-int8" if model.endswith("-int8") else "onnx-fp32"
    return _LEGACY.get(library, library)


def upgrade_row(row: Mapping) -> dict:
    """A saved row as the current columns read it: rows saved before backends could be chosen get
    their ``name`` (the model), their ``backend`` in today's names (:func:`legacy_backend`) and
    ``requested`` equal to it (what ran is what there was: no automatic choice was made)."""
    row = dict(row)
    if "requested" in row:
        return row
    model = str(row.get("model") or "")
    row["name"] = row.get("name") or model
    row["backend"] = legacy_backend(model, str(row.get("backend") or ""))
    row["requested"] = row["backend"]
    return row


def typed(frame: pd.DataFrame, columns: Mapping[str, str] = COLUMNS) -> pd.DataFrame:
    """``frame`` with every column of ``columns`` (default :data:`COLUMNS`) in its dtype (strings: "" for missing)."""
    for column, dtype in columns.items():
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
    if baseline is not None and baseline not in set(measured["name"]):
        of_model = measured[measured["model"] == baseline]
        baseline = str(of_model["name"].iloc[0]) if len(of_model) else None
    if baseline is None:
        baseline = str(measured["name"].iloc[0])
    base_speed = float(measured.loc[measured["name"] == baseline, "texts_per_s"].iloc[0])
    for i in measured.index:
        model = frame.at[i, "name"]
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
    if run.sweep is not None:
        document["sweep"] = records(run.sweep)
    if run.choices:
        document["choices"] = plain(run.choices)
    return json.dumps(document, indent=2, ensure_ascii=False)
