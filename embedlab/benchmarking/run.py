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
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from ..runs import ModelRun, Progress, check_models, reason
from ..validation import check_positive_int, check_texts
from . import loading
from .results import NOISY_ABOVE, BenchmarkRun, BenchmarkSettings, Record, table_of

__all__ = ["NOISY_ABOVE", "BenchmarkProgress", "advice", "benchmark", "repeat_to"]

#: The events a benchmark's ``progress`` callback receives (:class:`embedlab.runs.Progress`).
BenchmarkProgress = Progress

# One benchmark at a time per process: two at once would slow each other down and both
# would report wrong figures. A second caller waits (and may stop while waiting).
_RUN_LOCK = threading.Lock()
WAITING = "Waiting for another benchmark in this process to finish (two at once would skew both)"


def benchmark(
    models: Sequence[str],
    texts: Iterable[str],
    *,
    batch_size: int = 32,
    repeats: int = 3,
    warmup: bool = True,
    baseline: str | None = None,
    progress: Callable[[Progress[BenchmarkRun]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    noisy_above: float = NOISY_ABOVE,
    threads: int | None = None,
) -> BenchmarkRun:
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
        Called with a :class:`embedlab.runs.Progress` before loading each model and after every
        step (stages "waiting", "load", "warmup", "encode", "done"); its ``results()`` gives the
        run so far, so a caller interrupted mid-run keeps it.
    should_stop : callable, optional
        Called between repeats and between models; when it returns True the run ends and
        what was measured so far is returned, with ``stopped`` True.
    noisy_above : float, default 0.5
        Flag a model ``noisy`` when (max - min) / median of its encode times exceeds this.
    threads : int, optional
        Threads torch computes with during the run (restored afterwards); default: torch's
        own choice (one per core). On a machine busy with other work, fewer threads can be
        much faster. Affects sentence-transformers models only; it is process-wide while
        the run lasts.

    Returns
    -------
    BenchmarkRun
        ``table`` has one row per model measured (see :data:`embedlab.benchmarking.results.COLUMNS`);
        ``machine``, ``settings``, ``times``, ``baseline`` and ``stopped`` describe the run.

    Raises
    ------
    TypeError, ValueError
        Before anything runs, for no models, an empty corpus, a non-positive ``batch_size``
        or ``repeats``, or a ``baseline`` that is not among ``models``; the message names
        the parameter.

    Examples
    --------
    >>> import embedlab
    >>> run = embedlab.benchmark(["all-MiniLM-L6-v2"], ["a short text"] * 10, repeats=2)
    >>> float(run.table.loc[0, "texts_per_s"]) > 0
    True
    """
    names = check_models(models)
    texts = check_texts(texts)
    batch_size = check_positive_int(batch_size, "batch_size")
    repeats = check_positive_int(repeats, "repeats")
    if not isinstance(warmup, bool):
        raise TypeError(f"warmup must be True or False, got {type(warmup).__name__} {warmup!r}.")
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the models benchmarked ({', '.join(names)}), got {baseline!r}.")
    if isinstance(noisy_above, bool) or not isinstance(noisy_above, (int, float)) or not noisy_above > 0:
        raise ValueError(f"noisy_above must be a positive number, got {noisy_above!r}.")
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    settings = BenchmarkSettings(
        n_texts=len(texts),
        distinct_texts=len(set(texts)),
        corpus_sha256=_fingerprint(texts),
        batch_size=batch_size,
        repeats=repeats,
        warmup=warmup,
        baseline=baseline,
        noisy_above=float(noisy_above),
        models=tuple(names),
        threads=threads,
    )
    return _Benchmark(texts, settings, progress=progress, should_stop=should_stop).execute()


class _Benchmark(ModelRun[BenchmarkRun]):
    """One benchmark run: measures the models in turn and reports progress."""

    def __init__(self, texts: list[str], settings: BenchmarkSettings, *, progress=None, should_stop=None):
        super().__init__(settings.models, progress=progress, should_stop=should_stop)
        self.texts = texts
        self.settings = settings
        self.records: list[Record] = []
        self.current: Record | None = None
        self.machine: dict = {}
        self._steps_per_model = 1 + int(settings.warmup) + settings.repeats
        self._done_steps = 0

    def _emit(self, index: int, stage: str, detail: str) -> None:
        total = len(self.models) * self._steps_per_model
        self.emit(index, stage, detail, fraction=self._done_steps / total)

    def results(self, *, partial: bool = False) -> BenchmarkRun:
        """The run so far. ``partial``: as if it ended now (the model being measured is marked
        "stopped" with the repeats it finished, and ``stopped`` is True unless every model is done)."""
        records, stopped = self.records, self.stopped
        if partial:
            current = self.current
            stopped = stopped or current is not None or len(records) < len(self.models)
            if current is not None and current.status == "ok":
                records = [
                    r if r is not current else replace(r, status="stopped", times=list(r.times)) for r in records
                ]
        table, chosen = table_of(
            records,
            n_texts=len(self.texts),
            batch_size=self.settings.batch_size,
            baseline=self.settings.baseline,
            noisy_above=self.settings.noisy_above,
        )
        return BenchmarkRun(
            table=table,
            machine=dict(self.machine),
            settings=self.settings,
            times={r.model: [float(t) for t in r.times] for r in records},
            baseline=chosen,
            stopped=stopped,
        )

    def execute(self) -> BenchmarkRun:
        while not _RUN_LOCK.acquire(timeout=0.25):
            self._emit(0, "waiting", WAITING)
            if self.stop_requested():
                return self.results()
        threads, restore = self.settings.threads, None
        try:
            from .machine import machine_info

            if threads is not None:
                import torch  # imported here, not at module level: it costs about a second

                restore = torch.get_num_threads()
                torch.set_num_threads(threads)
            self.settings = replace(self.settings, started=_now())
            # torch is imported only if a model needs it; its thread count is read at the end
            self.machine = machine_info(torch_threads=False)
            for index, name in enumerate(self.models):
                if self.stop_requested():
                    break
                self._done_steps = index * self._steps_per_model
                self._measure(index, name)
                self.current = None
                self._done_steps = (index + 1) * self._steps_per_model
                self._emit(index, "done", "done")
            self.settings = replace(self.settings, finished=_now())
            if self.machine.get("torch_threads") is None and "torch" in sys.modules:
                self.machine["torch_threads"] = int(sys.modules["torch"].get_num_threads())
        finally:
            if restore is not None:
                import torch

                torch.set_num_threads(restore)
            _RUN_LOCK.release()
        return self.results()

    def _measure(self, index: int, name: str) -> None:
        record = Record(model=name)
        self.records.append(record)
        self.current = record
        self._emit(index, "load", "loading")
        embedder = self._load(record)
        self._done_steps += 1
        if embedder is None:
            return
        try:
            self._describe(record, embedder)
            self._encode(index, record, embedder)
        except Exception as error:  # a model that fails while encoding: its row says why
            record.status = "failed"
            record.error = f"encoding failed: {reason(error)}"
        finally:
            del embedder
            gc.collect()

    def _load(self, record: Record):
        try:
            started = time.perf_counter()
            record.backend = loading.prepare(record.model)
            record.prepare_s = time.perf_counter() - started
            gc.collect()
            before = loading.rss()
            started = time.perf_counter()
            embedder = loading.load_fresh(record.model)
            record.load_s = time.perf_counter() - started
            record.load_mb = max(0.0, (loading.rss() - before) / loading.MB)
        except Exception as error:  # whatever the loader raises, the row says why in a sentence
            record.status = "failed"
            record.error = f"could not load: {reason(error)}"
            return None
        return embedder

    def _describe(self, record: Record, embedder) -> None:
        from ..models.catalog import canonical_name, list_models

        record.backend = embedder.backend
        record.dim = int(embedder.dim)
        record.parameters = embedder.parameters
        record.max_tokens = int(embedder.max_tokens)
        info = {m.name: m for m in list_models()}.get(canonical_name(record.model))
        record.size_bytes = info.size_bytes if info is not None else None
        counts = np.asarray(embedder.token_counts(self.texts))
        record.tokens = int(np.minimum(counts, embedder.max_tokens).sum())

    def _encode(self, index: int, record: Record, embedder) -> None:
        from ..models.encoding import encode

        settings = self.settings
        memory = loading.PeakMemory()
        if settings.warmup:
            if self.stop_requested():
                record.status = "stopped"
                return
            self._emit(index, "warmup", "warming up")
            started = time.perf_counter()
            encode(self.texts[: settings.batch_size], embedder, batch_size=settings.batch_size, use_cache=False)
            record.warmup_s = time.perf_counter() - started
            self._done_steps += 1
        for repeat in range(settings.repeats):
            if self.stop_requested():
                record.status = "stopped"
                break
            gc.collect()
            started = time.perf_counter()
            encode(self.texts, embedder, batch_size=settings.batch_size, use_cache=False)
            record.times.append(time.perf_counter() - started)
            record.encode_mb = memory.added_mb()
            self._done_steps += 1
            self._emit(index, "encode", f"repeat {repeat + 1} of {settings.repeats}")


def advice(run: BenchmarkRun, retrieval: Mapping[str, object] | None = None, *, threshold: float | None = None):
    """The lesson's rule (:func:`embedlab.decision.decide`) applied to this run's speeds.

    Parameters
    ----------
    run : BenchmarkRun
    retrieval : mapping of model name to retrieval figures, optional
        Objects with ``accuracy``, ``mrr``, ``correct``, ``n_queries`` and ``failing`` (e.g. the
        Trace Retrieval page's :class:`embedlab.retrieval.evaluation.RetrievalSummary`); without
        them the decision can only say where to start and to measure quality.
    threshold : float, optional
        The accuracy that is good enough (default: the lesson's 80%).

    Returns
    -------
    embedlab.decision.Decision
    """
    from .. import seed
    from ..decision import Candidate, decide

    retrieval = retrieval or {}
    candidates = []
    for row in run.table.itertuples():
        speed = None if row.texts_per_s != row.texts_per_s else float(row.texts_per_s)
        figures = retrieval.get(row.model)
        quality = {}
        if figures is not None:
            quality = {
                "accuracy": getattr(figures, "accuracy", None),
                "mrr": getattr(figures, "mrr", None),
                "correct": getattr(figures, "correct", None),
                "n_queries": getattr(figures, "n_queries", None),
                "failing": tuple(getattr(figures, "failing", ()) or ()),
            }
        status = row.status if row.status in ("ok", "failed", "stopped") else "ok"
        if status == "stopped" and speed is not None:
            status = "ok"  # cut short after some repeats: its speed is measured
        candidates.append(Candidate(row.model, texts_per_s=speed, status=status, error=row.error, **quality))
    limit = seed.GOOD_ENOUGH_ACCURACY if threshold is None else threshold
    return decide(candidates, threshold=limit, baseline=run.baseline)


def repeat_to(texts: Iterable[str], size: int) -> list[str]:
    """The corpus cycled (or cut) to exactly ``size`` texts, e.g. 5 texts → 100 for a steadier timing.

    >>> repeat_to(["a", "b"], 5)
    ['a', 'b', 'a', 'b', 'a']
    """
    texts = check_texts(texts)
    size = check_positive_int(size, "size")
    return [texts[i % len(texts)] for i in range(size)]


def _fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
