"""Speed benchmark: time embedding models on your texts, on this machine.

The lesson's Experiment 2.1, measured honestly: every model is loaded fresh, warmed up, then
timed over several repeats of the same corpus with the embedding cache bypassed, and the
machine it ran on is recorded with the figures (speeds only compare on the same hardware).

What each figure includes
-------------------------
prepare_s
    Finding the model's files (the first use of all-mpnet-base-v2 assembles them, ~3 s) and
    importing the library that runs it, and for transformer models the code of their
    architecture. Libraries are imported once per process, so only the first model of a kind
    pays for the import (torch + sentence-transformers: ~5 s).
load_s
    Building a fresh instance from the files on disk with the libraries already imported:
    reading the weights (possibly from the OS file cache), building the network and the
    tokenizer. The process-wide instance :func:`embedlab.load_model` keeps is not reused,
    so every model is loaded the same way, whatever ran before. Caveats: the first model
    loaded in a process may still pay a few tenths of a second of one-time set-up, and
    static-64d's compiled encoder keeps its table for the whole process, so only its first
    load in a process includes reading it (~3 s).
warmup_s
    One untimed-for-speed call on the first ``batch_size`` texts (thread pools, memory),
    like the lesson's ``model.encode("warmup")``. NaN when ``warmup=False``.
encode_*_s
    Wall time of ``embedlab.encode(texts, model, use_cache=False)`` over the whole corpus,
    once per repeat: tokenising, the forward passes, pooling and normalising. The cache is
    bypassed, so the model is measured, not the cache.
load_mb, encode_mb
    Approximate: the growth of the process's resident memory (RSS) while loading, and its
    peak while encoding above what it was before. Freed memory the allocator reuses, and
    other threads of the same process, make them approximate.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..storage import sqlite as sqlite_files
from ..storage.home import data_dir
from ..validation import check_positive_int, check_texts

__all__ = [
    "COLUMNS",
    "NOISY_ABOVE",
    "BenchmarkProgress",
    "BenchmarkStore",
    "benchmark",
    "compare_runs",
    "recommend",
    "repeat_to",
    "results_json",
]

#: A run is flagged noisy when (max - min) / median of its encode times is above this.
NOISY_ABOVE = 0.5
MB = float(2**20)

#: The result's columns and their dtypes, in order.
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
_STRING_COLUMNS = [c for c, t in COLUMNS.items() if t == "str"]

# One benchmark at a time per process: two at once would slow each other down and both
# would report wrong figures. A second caller waits (and may stop while waiting).
_RUN_LOCK = threading.Lock()


@dataclass(frozen=True)
class BenchmarkProgress:
    """Where a running benchmark is, passed to the ``progress`` callback.

    Attributes
    ----------
    model_index : int
        1-based index of the model being measured (0 while waiting for another run).
    n_models : int
        Models in the run.
    model : str
        The model being measured ("" while waiting).
    stage : str
        ``"waiting"`` (another benchmark in this process is running), ``"load"``,
        ``"warmup"``, ``"encode"`` (a timed repeat finished) or ``"done"`` (model finished).
    repeat : int
        Timed repeats finished for this model.
    n_repeats : int
        Timed repeats asked for per model.
    fraction : float
        Share of the whole run done, in [0, 1].
    """

    model_index: int
    n_models: int
    model: str
    stage: str
    repeat: int
    n_repeats: int
    fraction: float
    _results: Callable[[], pd.DataFrame] = field(repr=False, compare=False)

    @property
    def message(self) -> str:
        """One line for people, e.g. "Model 1 of 2 · all-MiniLM-L6-v2 · repeat 2 of 3"."""
        if self.stage == "waiting":
            return "Waiting for another benchmark in this process to finish (two at once would skew both)"
        head = f"Model {self.model_index} of {self.n_models} · {self.model}"
        detail = {
            "load": "loading",
            "warmup": "warming up",
            "encode": f"repeat {self.repeat} of {self.n_repeats}",
            "done": "done",
        }[self.stage]
        return f"{head} · {detail}"

    def results(self) -> pd.DataFrame:
        """The rows measured so far (a model cut short shows the repeats it finished)."""
        return self._results()


@dataclass
class _Record:
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


def benchmark(
    models: Sequence[str],
    texts: Iterable[str],
    *,
    batch_size: int = 32,
    repeats: int = 3,
    warmup: bool = True,
    baseline: str | None = None,
    progress: Callable[[BenchmarkProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    noisy_above: float = NOISY_ABOVE,
    threads: int | None = None,
) -> pd.DataFrame:
    """Time each model on ``texts``: load, warm-up, and encoding over ``repeats`` passes.

    Every model is measured the same way, in a fresh state (see the module docstring for what
    each figure includes). A model that cannot load, or fails while encoding, gets a row whose
    ``error`` says why; the others still run.

    Parameters
    ----------
    models : list of str
        Catalog names, Hugging Face ids or allowed local folders, in the order to measure.
    texts : list of str
        The corpus; every repeat encodes all of it.
    batch_size : int, default 32
        Texts per forward pass.
    repeats : int, default 3
        Timed passes over the corpus per model; the median is reported with the min and max.
    warmup : bool, default True
        Encode one batch before timing (the first call of a model is slower).
    baseline : str, optional
        The model others are compared with ("X is 5.8x slower than <baseline>"). Default:
        the first model in ``models`` (or the first one that ran, if it failed).
    progress : callable, optional
        Called with a :class:`BenchmarkProgress` before loading each model and after every
        step; its ``results()`` gives the rows so far, so a caller interrupted mid-run keeps them.
    should_stop : callable, optional
        Called between repeats and between models; when it returns True the run ends and
        the rows measured so far are returned (``results.attrs["stopped"]`` is True).
    noisy_above : float, default 0.5
        Flag a model ``noisy`` when (max - min) / median of its encode times exceeds this.
    threads : int, optional
        Threads torch computes with during the run (restored afterwards); default: torch's
        own choice (one per core). On a machine busy with other work, fewer threads can be
        much faster. Affects sentence-transformers models only; it is process-wide while
        the run lasts.

    Returns
    -------
    pandas.DataFrame
        One row per model measured, columns :data:`COLUMNS`: ``texts_per_s`` is
        ``n_texts / encode_median_s``; ``texts_per_s_low`` / ``_high`` are from the slowest
        and fastest repeat; ``tokens_per_s`` counts tokens the model read (truncated texts
        count up to its maximum); ``slowdown`` is baseline speed / this speed (above 1:
        slower) and ``comparison`` says it in words. ``attrs`` holds ``machine`` (see
        :func:`embedlab.benchmarking.machine.machine_info`), ``settings``, ``times`` (every repeat's
        seconds per model), ``baseline`` and ``stopped``.

    Raises
    ------
    TypeError, ValueError
        Before anything runs, for no models, an empty corpus, a non-positive ``batch_size``
        or ``repeats``, or a ``baseline`` that is not among ``models``; the message names
        the parameter.

    Examples
    --------
    >>> import embedlab
    >>> results = embedlab.benchmark(["all-MiniLM-L6-v2"], ["a short text"] * 10, repeats=2)
    >>> float(results.loc[0, "texts_per_s"]) > 0
    True
    """
    names = _check_models(models)
    texts = check_texts(texts)
    batch_size = check_positive_int(batch_size, "batch_size")
    repeats = check_positive_int(repeats, "repeats")
    if not isinstance(warmup, bool):
        raise TypeError(f"warmup must be True or False, got {type(warmup).__name__} {warmup!r}.")
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the models benchmarked ({', '.join(names)}), got {baseline!r}.")
    for value, name in ((progress, "progress"), (should_stop, "should_stop")):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be a callable or None, got {type(value).__name__}.")
    if isinstance(noisy_above, bool) or not isinstance(noisy_above, (int, float)) or not noisy_above > 0:
        raise ValueError(f"noisy_above must be a positive number, got {noisy_above!r}.")
    if threads is not None:
        threads = check_positive_int(threads, "threads")

    run = _Run(names, texts, batch_size, repeats, warmup, baseline, progress, should_stop, float(noisy_above))
    run.settings["threads"] = threads
    return run.execute(threads)


def _check_models(models: object) -> list[str]:
    if isinstance(models, str):
        raise TypeError(f"models must be a list of model names, got a single str; wrap it in a list: [{models!r}].")
    try:
        names = list(models)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"models must be a list of model names, got {type(models).__name__}.") from None
    if not names:
        raise ValueError("models must name at least one model, got an empty list.")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"models[{i}] must be a model name (a non-empty str), got {name!r}.")
        if name in seen:
            raise ValueError(f"models must not name a model twice, got {name!r} more than once.")
        seen.add(name)
    return names


class _Run:
    """One benchmark run: measures the models in turn and reports progress."""

    def __init__(self, names, texts, batch_size, repeats, warmup, baseline, progress, should_stop, noisy_above):
        self.names = names
        self.texts = texts
        self.batch_size = batch_size
        self.repeats = repeats
        self.warmup = warmup
        self.baseline = baseline
        self.progress = progress
        self.should_stop = should_stop
        self.noisy_above = noisy_above
        self.records: list[_Record] = []
        self.current: _Record | None = None
        self.stopped = False
        self.machine: dict = {}
        self.settings = {
            "n_texts": len(texts),
            "distinct_texts": len(set(texts)),
            "corpus_sha256": _fingerprint(texts),
            "batch_size": batch_size,
            "repeats": repeats,
            "warmup": warmup,
            "baseline": baseline,
            "noisy_above": noisy_above,
            "models": list(names),
        }
        self._steps_per_model = 1 + int(warmup) + repeats
        self._done_steps = 0

    # -- reporting -----------------------------------------------------------------------------
    def _stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def _emit(self, index: int, stage: str, repeat: int = 0) -> None:
        if self.progress is None:
            return
        total = len(self.names) * self._steps_per_model
        self.progress(
            BenchmarkProgress(
                model_index=index + 1 if stage != "waiting" else 0,
                n_models=len(self.names),
                model=self.names[index] if stage != "waiting" else "",
                stage=stage,
                repeat=repeat,
                n_repeats=self.repeats,
                fraction=min(1.0, self._done_steps / total),
                _results=lambda: self.results(partial=True),
            )
        )

    def results(self, *, partial: bool = False) -> pd.DataFrame:
        """The rows so far. ``partial``: as if the run ended now (the model being measured
        is marked "stopped" with the repeats it finished, and ``attrs["stopped"]`` is True
        unless every model is done)."""
        records, stopped = self.records, self.stopped
        if partial:
            current = self.current
            stopped = stopped or current is not None or len(records) < len(self.names)
            if current is not None and current.status == "ok":
                records = [
                    r if r is not current else replace(r, status="stopped", times=list(r.times)) for r in records
                ]
        return _frame(
            records,
            n_texts=len(self.texts),
            batch_size=self.batch_size,
            baseline=self.baseline,
            noisy_above=self.noisy_above,
            attrs={"machine": dict(self.machine), "settings": dict(self.settings), "stopped": stopped},
        )

    # -- measuring -----------------------------------------------------------------------------
    def execute(self, threads: int | None = None) -> pd.DataFrame:
        while not _RUN_LOCK.acquire(timeout=0.25):
            self._emit(0, "waiting")
            if self._stop_requested():
                return self.results()
        restore = None
        try:
            from .machine import machine_info

            if threads is not None:
                import torch  # imported here, not at module level: it costs about a second

                restore = torch.get_num_threads()
                torch.set_num_threads(threads)
            self.settings["started"] = _now()
            # torch is imported only if a model needs it; its thread count is read at the end
            self.machine = machine_info(torch_threads=False)
            for index, name in enumerate(self.names):
                if self._stop_requested():
                    break
                self._done_steps = index * self._steps_per_model
                self._measure(index, name)
                self.current = None
                self._done_steps = (index + 1) * self._steps_per_model
                self._emit(index, "done", len(self.records[-1].times))
            self.settings["finished"] = _now()
            if self.machine.get("torch_threads") is None and "torch" in sys.modules:
                self.machine["torch_threads"] = int(sys.modules["torch"].get_num_threads())
        finally:
            if restore is not None:
                import torch

                torch.set_num_threads(restore)
            _RUN_LOCK.release()
        return self.results()

    def _measure(self, index: int, name: str) -> None:
        record = _Record(model=name)
        self.records.append(record)
        self.current = record
        self._emit(index, "load")
        embedder = self._load(record)
        self._done_steps += 1
        if embedder is None:
            return
        try:
            self._describe(record, embedder)
            self._encode(index, record, embedder)
        except Exception as error:  # a model that fails while encoding: its row says why
            record.status = "failed"
            record.error = f"encoding failed: {_reason(error)}"
        finally:
            del embedder
            gc.collect()

    def _load(self, record: _Record):
        try:
            started = time.perf_counter()
            record.backend = _prepare(record.model)
            record.prepare_s = time.perf_counter() - started
            gc.collect()
            before = _rss()
            started = time.perf_counter()
            embedder = _load_fresh(record.model)
            record.load_s = time.perf_counter() - started
            record.load_mb = max(0.0, (_rss() - before) / MB)
        except Exception as error:  # whatever the loader raises, the row says why in a sentence
            record.status = "failed"
            record.error = f"could not load: {_reason(error)}"
            return None
        return embedder

    def _describe(self, record: _Record, embedder) -> None:
        from ..models.catalog import canonical_name, list_models

        record.backend = embedder.backend
        record.dim = int(embedder.dim)
        record.parameters = embedder.parameters
        record.max_tokens = int(embedder.max_tokens)
        info = {m.name: m for m in list_models()}.get(canonical_name(record.model))
        record.size_bytes = info.size_bytes if info is not None else None
        counts = np.asarray(embedder.token_counts(self.texts))
        record.tokens = int(np.minimum(counts, embedder.max_tokens).sum())

    def _encode(self, index: int, record: _Record, embedder) -> None:
        from ..models.encoding import encode

        memory = _PeakMemory()
        if self.warmup:
            if self._stop_requested():
                record.status = "stopped"
                return
            self._emit(index, "warmup")
            started = time.perf_counter()
            encode(self.texts[: self.batch_size], embedder, batch_size=self.batch_size, use_cache=False)
            record.warmup_s = time.perf_counter() - started
            self._done_steps += 1
        for repeat in range(self.repeats):
            if self._stop_requested():
                record.status = "stopped"
                break
            gc.collect()
            started = time.perf_counter()
            encode(self.texts, embedder, batch_size=self.batch_size, use_cache=False)
            record.times.append(time.perf_counter() - started)
            record.encode_mb = memory.added_mb()
            self._done_steps += 1
            self._emit(index, "encode", repeat + 1)


# -- loading a fresh instance -----------------------------------------------------------------
def _prepare(name: str) -> str:
    """Locate the model's files and import the library that runs it; return the backend."""
    from ..models import catalog

    entry = catalog._BY_NAME.get(catalog.canonical_name(name.strip()))
    backend = entry.backend if entry is not None else "sentence-transformers"
    folder = entry.locate() if entry is not None else None  # all-mpnet-base-v2 is assembled here, once
    if backend == "sentence-transformers":
        import sentence_transformers  # noqa: F401  (imported here: it costs seconds)

        if folder is not None:
            _import_architecture(folder)
    elif backend == "onnxruntime":
        import onnxruntime  # noqa: F401
        import tokenizers
    elif backend == "static":
        import static_model  # noqa: F401
        import tokenizers  # noqa: F401
    return backend


def _import_architecture(folder) -> None:
    """Import the transformers code for the model's architecture (transformers imports it lazily,
    on the first load of that kind of model), so that one-time cost lands in prepare_s, not load_s."""
    try:
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        MODEL_MAPPING[type(AutoConfig.from_pretrained(str(folder)))]
    except Exception:  # best effort: without it the first load of an architecture is a little slower
        pass


def _load_fresh(name: str):
    """A new Embedder built by the catalog's own loader, bypassing its per-process cache."""
    from ..models import catalog

    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"model must be a model name (a non-empty str), got {name!r}.")
    # catalog._build is what load_model() calls the first time; calling it directly gives a
    # fresh instance, so a model measured after another one used it is loaded all the same.
    return catalog._build(catalog.canonical_name(name.strip()))


def _reason(error: BaseException) -> str:
    from ..models.packaged import ModelUnavailable

    text = str(error).strip().rstrip(".")
    if isinstance(error, ModelUnavailable):
        return text
    text = text.splitlines()[0] if text else ""
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- memory ------------------------------------------------------------------------------------
def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class _PeakMemory:
    """Peak resident memory above the level at creation, in MiB (approximate).

    On Linux the kernel's high-water mark is reset (``/proc/self/clear_refs``) and read back
    (``VmHWM``), so short peaks between samples are seen; elsewhere the current RSS is used.
    """

    def __init__(self):
        self.base = _rss()
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.kernel = _high_water_mark() is not None
        except OSError:
            self.kernel = False

    def added_mb(self) -> float:
        peak = _high_water_mark() if self.kernel else None
        peak = max(peak or 0, _rss())
        return max(0.0, (peak - self.base) / MB)


def _high_water_mark() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# -- the result table --------------------------------------------------------------------------
def _frame(records, *, n_texts, batch_size, baseline, noisy_above, attrs) -> pd.DataFrame:
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
    frame = _typed(pd.DataFrame(rows, columns=list(COLUMNS)))
    chosen = _compare(frame, baseline)
    frame.attrs.update(attrs)
    frame.attrs["times"] = {r.model: [float(t) for t in r.times] for r in records}
    frame.attrs["baseline"] = chosen
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
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


def _fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- helpers for callers -------------------------------------------------------------------------
def repeat_to(texts: Iterable[str], size: int) -> list[str]:
    """The corpus cycled (or cut) to exactly ``size`` texts, e.g. 5 texts → 100 for a steadier timing.

    >>> repeat_to(["a", "b"], 5)
    ['a', 'b', 'a', 'b', 'a']
    """
    texts = check_texts(texts)
    size = check_positive_int(size, "size")
    return [texts[i % len(texts)] for i in range(size)]


def _plain(value):
    """A JSON-ready copy: NaN/NA become None, numpy scalars Python numbers, tuples and arrays lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    return value


def _records(results: pd.DataFrame) -> list[dict]:
    return [_plain(dict(zip(results.columns, row, strict=True))) for row in results.itertuples(index=False)]


def results_json(results: pd.DataFrame) -> str:
    """The results, the machine and the settings as one JSON document (NaN written as null)."""
    document = {
        "machine": _plain(results.attrs.get("machine", {})),
        "settings": _plain(results.attrs.get("settings", {})),
        "baseline": results.attrs.get("baseline"),
        "stopped": bool(results.attrs.get("stopped", False)),
        "times": _plain(results.attrs.get("times", {})),
        "results": _records(results),
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def compare_runs(current: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """Models measured in both runs, side by side.

    Returns
    -------
    pandas.DataFrame
        One row per model measured in both: ``texts_per_s`` and ``texts_per_s_before``,
        ``change`` (now / before: above 1 means faster now), encode and load medians of both
        runs, and ``noisy`` for either. ``attrs["differences"]`` lists, in words, settings or
        machine details that differ between the runs (figures compare best when it is empty).
    """
    keep = ["model", "texts_per_s", "encode_median_s", "load_s", "noisy"]
    now = current.loc[current["texts_per_s"].notna(), keep]
    before = earlier.loc[earlier["texts_per_s"].notna(), keep]
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
    both = both[columns].reset_index(drop=True)
    both.attrs["differences"] = _differences(current.attrs, earlier.attrs)
    return both


def _differences(now: dict, before: dict) -> list[str]:
    out = []
    settings_now, settings_before = now.get("settings", {}), before.get("settings", {})
    if settings_now.get("corpus_sha256") != settings_before.get("corpus_sha256"):
        out.append(
            f"different corpora ({settings_now.get('n_texts')} texts now, {settings_before.get('n_texts')} before)"
        )
    for key, label in (("batch_size", "batch size"), ("warmup", "warm-up"), ("repeats", "repeats")):
        if settings_now.get(key) != settings_before.get(key):
            out.append(f"{label} {settings_now.get(key)} now, {settings_before.get(key)} before")
    machine_now, machine_before = now.get("machine", {}), before.get("machine", {})
    for key, label in (
        ("cpu_model", "CPU"),
        ("usable_cores", "cores"),
        ("torch_threads", "torch threads"),
        ("torch", "torch version"),
        ("sentence-transformers", "sentence-transformers version"),
    ):
        if machine_now.get(key) != machine_before.get(key):
            out.append(f"{label} {machine_now.get(key)} now, {machine_before.get(key)} before")
    return out


def recommend(
    results: pd.DataFrame, *, accuracy: dict[str, float] | None = None, good_enough: float = 0.8
) -> list[str]:
    """The lesson's advice applied to these figures, as sentences.

    The rule (Experiment 2.1 and 4.1): start with the small, fast model (the baseline) and
    upgrade only if retrieval quality is insufficient — speed matters for real-time answers.

    Parameters
    ----------
    results : DataFrame
        What :func:`benchmark` returned.
    accuracy : dict, optional
        Top-1 retrieval accuracy per model (e.g. from :func:`embedlab.evaluate_retrieval`
        on your traces). Without it the advice says to measure it.
    good_enough : float, default 0.8
        Accuracy at or above which the small model is good enough (the lesson's 80%).
    """
    measured = results[results["texts_per_s"].notna()]
    baseline = results.attrs.get("baseline")
    if measured.empty or baseline is None:
        return ["No model finished a timed repeat, so there is nothing to recommend yet."]
    base = measured[measured["model"] == baseline].iloc[0]
    lines = [
        f"Start with {baseline} ({base['dim']}-d, {base['texts_per_s']:,.0f} texts/s on this machine): "
        "speed matters for real-time answers."
    ]
    slower = measured[measured["slowdown"] > 1.05]
    if len(slower):
        names = ", ".join(f"{r.model} ({r.slowdown:.1f}x slower)" for r in slower.itertuples())
        lines.append(f"Upgrade to {names} only if retrieval quality with {baseline} is insufficient.")
    faster = measured[measured["slowdown"] < 1 / 1.05]
    if len(faster):
        names = ", ".join(f"{r.model} ({1 / r.slowdown:.1f}x faster)" for r in faster.itertuples())
        lines.append(f"Faster: {names}; check its retrieval quality on your traces before switching.")
    if accuracy and baseline in accuracy:
        score = accuracy[baseline]
        if score >= good_enough:
            lines.append(
                f"On your traces {baseline} retrieves the right trace first {score:.0%} of the time "
                f"(at least {good_enough:.0%}): it is good enough, use it."
            )
        else:
            better = [m for m, a in accuracy.items() if a > score]
            hint = f" {', '.join(better)} did better there." if better else ""
            lines.append(
                f"On your traces {baseline} retrieves the right trace first only {score:.0%} of the time "
                f"(below {good_enough:.0%}): consider a larger model or fine-tuning.{hint}"
            )
    else:
        lines.append(f"Whether {baseline} is good enough depends on retrieval quality on your traces: measure it.")
    return lines


# -- saved runs ----------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL,
    stopped INTEGER NOT NULL,
    machine TEXT NOT NULL,
    settings TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""


class BenchmarkStore:
    """Benchmark runs kept in SQLite (``benchmarks.sqlite3`` in :func:`embedlab.data_dir`).

    A run — its machine, settings and rows — is saved in one transaction, so a crash while
    saving leaves either the whole run or nothing. Safe to use from several threads and
    processes (one connection per call, WAL journal, busy timeout). A file that fails SQLite's
    integrity check when opened is set aside (renamed, never deleted), started afresh, and
    a line about it is added to :attr:`notices`.

    Examples
    --------
    >>> store = BenchmarkStore()                                  # doctest: +SKIP
    >>> run_id = store.save(embedlab.benchmark(["static-64d"], ["some text"]))  # doctest: +SKIP
    >>> store.load(run_id)                                        # doctest: +SKIP
    """

    FILE_NAME = "benchmarks.sqlite3"

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else data_dir() / self.FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.notices: list[str] = []
        self._open()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite_files.connect(self.path)
        connection.executescript(_SCHEMA)  # cheap, and a file removed while the app runs comes back whole
        return connection

    def _open(self) -> None:
        notice = sqlite_files.open_checked(self.path, _SCHEMA, "saved benchmark runs")
        if notice:
            self.notices.append(notice)

    def save(self, results: pd.DataFrame, *, label: str = "") -> int:
        """Save a run (rows, ``attrs`` machine/settings/times) in one transaction; return its id."""
        if not isinstance(results, pd.DataFrame):
            raise TypeError(f"results must be the DataFrame benchmark() returned, got {type(results).__name__}.")
        missing = [c for c in ("model", "texts_per_s") if c not in results.columns]
        if missing:
            raise ValueError(f"results must be the DataFrame benchmark() returned; it lacks {', '.join(missing)}.")
        if not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}.")
        attrs = results.attrs
        extra = {"times": attrs.get("times", {}), "baseline": attrs.get("baseline")}
        connection = self._connect()
        try:
            with connection:  # one transaction: the run and all its rows, or nothing
                cursor = connection.execute(
                    "INSERT INTO runs (created, label, models, stopped, machine, settings, extra)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        _now(),
                        label.strip()[:200],
                        json.dumps([str(m) for m in results["model"]]),
                        int(bool(attrs.get("stopped", False))),
                        json.dumps(_plain(attrs.get("machine", {}))),
                        json.dumps(_plain(attrs.get("settings", {}))),
                        json.dumps(_plain(extra)),
                    ),
                )
                run_id = int(cursor.lastrowid)
                connection.executemany(
                    "INSERT INTO results (run_id, position, row) VALUES (?, ?, ?)",
                    [(run_id, i, json.dumps(row)) for i, row in enumerate(_records(results))],
                )
        finally:
            connection.close()
        return run_id

    def runs(self) -> pd.DataFrame:
        """Saved runs, newest first: id, created (UTC), label, models, n_texts, batch_size,
        repeats, stopped, cpu."""
        connection = self._connect()
        try:
            rows = connection.execute(
                "SELECT id, created, label, models, stopped, machine, settings FROM runs ORDER BY id DESC"
            ).fetchall()
        finally:
            connection.close()
        out = []
        for run_id, created, label, models, stopped, machine, settings in rows:
            machine, settings, models = _loads(machine, {}), _loads(settings, {}), _loads(models, [])
            out.append(
                {
                    "id": run_id,
                    "created": created,
                    "label": label,
                    "models": ", ".join(map(str, models)) if isinstance(models, list) else "(damaged)",
                    "n_texts": settings.get("n_texts") if isinstance(settings, dict) else None,
                    "batch_size": settings.get("batch_size") if isinstance(settings, dict) else None,
                    "repeats": settings.get("repeats") if isinstance(settings, dict) else None,
                    "stopped": bool(stopped),
                    "cpu": machine.get("cpu_model") if isinstance(machine, dict) else None,
                }
            )
        columns = ["id", "created", "label", "models", "n_texts", "batch_size", "repeats", "stopped", "cpu"]
        frame = pd.DataFrame(out, columns=columns)
        for column in ("id", "n_texts", "batch_size", "repeats"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def load(self, run_id: int) -> pd.DataFrame:
        """The saved run as :func:`benchmark` returned it (``attrs`` included).

        Raises
        ------
        KeyError
            No run has this id (never saved, or deleted).
        ValueError
            The record is damaged (it cannot be read back).
        """
        run_id = _check_id(run_id)
        connection = self._connect()
        try:
            head = connection.execute(
                "SELECT created, label, stopped, machine, settings, extra FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            rows = connection.execute(
                "SELECT row FROM results WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        finally:
            connection.close()
        if head is None:
            raise KeyError(f"no saved benchmark run has id {run_id}; it may have been deleted.")
        created, label, stopped, machine, settings, extra = head
        try:
            records = [json.loads(row) for (row,) in rows]
            machine, settings, extra = json.loads(machine), json.loads(settings), json.loads(extra)
            frame = _typed(pd.DataFrame(records, columns=list(COLUMNS)))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"saved benchmark run {run_id} is damaged and cannot be read ({error}).") from None
        frame.attrs.update(
            {
                "machine": machine,
                "settings": settings,
                "stopped": bool(stopped),
                "times": extra.get("times", {}),
                "baseline": extra.get("baseline"),
                "run_id": run_id,
                "created": created,
                "label": label,
            }
        )
        return frame

    def delete(self, run_id: int) -> bool:
        """Delete a run and its rows (one transaction). Returns False when there was no such run."""
        run_id = _check_id(run_id)
        connection = self._connect()
        try:
            with connection:
                deleted = connection.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount
                connection.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
        finally:
            connection.close()
        return bool(deleted)

    def __len__(self) -> int:
        connection = self._connect()
        try:
            return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        finally:
            connection.close()

    def __repr__(self) -> str:
        return f"BenchmarkStore({str(self.path)!r})"


def _check_id(run_id: object) -> int:
    if isinstance(run_id, bool) or not isinstance(run_id, (int, np.integer)):
        raise TypeError(f"run_id must be an integer, got {type(run_id).__name__} {run_id!r}.")
    return int(run_id)


def _loads(text: str, default):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default
