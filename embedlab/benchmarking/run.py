"""Speed benchmark: time embedding models on your texts, on this machine, on each backend.

The lesson's Experiment 2.1, measured honestly: every model is loaded fresh, warmed up, then
timed over several repeats of the same corpus with the embedding cache bypassed, and the
machine it ran on is recorded with the figures (speeds only compare on the same hardware).
A model can be measured on the backend chosen for this machine (``"auto"``), on every backend
available to it (``"all"``: torch-fp32 beside torch-bf16, onnx-int8, …), with how closely each
agrees with torch-fp32, and with a sweep of thread counts and batch sizes.

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

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..runs import Progress, check_models
from ..validation import check_positive_int, check_texts
from . import loading
from .agreement import agreement_set
from .measure import WAITING, Measurement
from .results import NOISY_ABOVE, BenchmarkRun, BenchmarkSettings

__all__ = ["NOISY_ABOVE", "WAITING", "BenchmarkProgress", "advice", "benchmark", "repeat_to"]

#: The events a benchmark's ``progress`` callback receives (:class:`embedlab.runs.Progress`).
BenchmarkProgress = Progress


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
    backends: str | Sequence[str] = "auto",
    sweep: bool = False,
    queries: Sequence[str] | None = None,
    traces: Sequence[str] | None = None,
    store=None,
    label: str = "",
) -> BenchmarkRun:
    """Time each model on ``texts``, on each backend asked for: load, warm-up, and encoding over ``repeats`` passes.

    Every row is measured the same way, in a fresh state (see the module docstring for what
    each figure includes). A row that cannot load, or fails while encoding, says why in its
    ``error``; the others still run.

    Parameters
    ----------
    models : list of str
        Catalog names, Hugging Face ids or allowed local folders, in the order to measure.
    texts : list of str
        The corpus; every repeat encodes all of it.
    batch_size : int, default 32
        Texts per forward pass.
    repeats : int, default 3
        Timed passes over the corpus per row; the median is reported with the min and max.
    warmup : bool, default True
        Encode one batch before timing (the first call of a model is slower).
    baseline : str, optional
        The model (or row name) others are compared with ("X is 5.8x slower than <baseline>").
        Default: the first row (or the first one that ran, if it failed).
    progress : callable, optional
        Called with a :class:`embedlab.runs.Progress` before each step starts (stages
        "waiting", "choose", "load", "warmup", "encode", "agreement", "sweep") and when a row is
        done ("done"); its ``results()`` gives the run so far, so a caller interrupted mid-run keeps it.
    should_stop : callable, optional
        Called between steps; when it returns True the run ends and what was measured so far
        is returned, with ``stopped`` True.
    noisy_above : float, default 0.5
        Flag a row ``noisy`` when (max - min) / median of its encode times exceeds this.
    threads : int, optional
        Threads torch computes with during the run (restored afterwards); default: torch's
        own choice (one per core). Affects torch backends only; process-wide while the run lasts.
    backends : "auto", "all" or list of str, default "auto"
        ``"auto"``: each model on the backend chosen for this machine
        (:func:`embedlab.models.backends.choose_backend`; chosen once per machine).
        ``"all"``: one row per backend available to the model. A list of backend names
        (``"torch-fp32"``, ``"onnx-int8"``, …): those of them available to each model.
    sweep : bool, default False
        Also time each finished row with every thread count (1, 2, 4, … the usable cores) and
        batch size (16, 32, 64, 128): :attr:`BenchmarkRun.sweep`.
    queries, traces : list of str, optional
        Where top-1 agreement with torch-fp32 is measured (the Trace Retrieval page's); default:
        the lesson's queries and traces.
    store : BenchmarkStore, optional
        Save the run there as it goes: when it starts, after each row, and at the end, so a run
        cut short (a reload, a closed tab, a killed process) keeps its finished rows; the result's
        ``id`` is the saved run's.
    label : str, default ""
        The saved run's label (with ``store``).

    Returns
    -------
    BenchmarkRun
        ``table`` has one row per model and backend measured (see
        :data:`embedlab.benchmarking.results.COLUMNS`); ``machine``, ``settings``, ``times``,
        ``baseline``, ``stopped``, ``sweep`` and ``choices`` describe the run.

    Raises
    ------
    TypeError, ValueError
        Before anything runs, for no models, an empty corpus, a non-positive ``batch_size``
        or ``repeats``, a ``baseline`` that is not among ``models``, or an unknown backend;
        the message names the parameter.

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
    if not isinstance(sweep, bool):
        raise TypeError(f"sweep must be True or False, got {type(sweep).__name__} {sweep!r}.")
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the models benchmarked ({', '.join(names)}), got {baseline!r}.")
    if isinstance(noisy_above, bool) or not isinstance(noisy_above, (int, float)) or not noisy_above > 0:
        raise ValueError(f"noisy_above must be a positive number, got {noisy_above!r}.")
    if threads is not None:
        threads = check_positive_int(threads, "threads")
    asked = _check_backends(backends)
    if (queries is None) != (traces is None):
        raise ValueError("queries and traces must be given together (top-1 agreement ranks the traces per query).")
    if queries is not None:
        queries, traces = check_texts(queries, "queries"), check_texts(traces, "traces")
    if store is not None and not hasattr(store, "update"):
        raise TypeError(f"store must be a BenchmarkStore, got {type(store).__name__}.")
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}.")
    checks = agreement_set(texts, queries, traces)
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
        backends=asked,
        sweep=sweep,
        agreement=checks.source,
    )
    rows = loading.rows_for(names, asked)
    return Measurement(
        texts, settings, rows, checks, progress=progress, should_stop=should_stop, store=store, label=label
    ).execute()


def _check_backends(backends: object) -> tuple[str, ...]:
    if isinstance(backends, str):
        backends = (backends,)
    try:
        asked = tuple(backends)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"backends must be 'auto', 'all' or a list of backend names, got {backends!r}.") from None
    if not asked or not all(isinstance(b, str) and b for b in asked):
        raise ValueError(f"backends must be 'auto', 'all' or a list of backend names, got {backends!r}.")
    if len(asked) > 1 and ("auto" in asked or "all" in asked):
        raise ValueError(f"backends must be 'auto', 'all' or a list of backend names, not a mix, got {list(asked)}.")
    known = _known_backends()
    unknown = [b for b in asked if b not in ("auto", "all") and known and b not in known]
    if unknown:
        raise ValueError(f"backends must be 'auto', 'all' or among {', '.join(known)}, got {unknown[0]!r}.")
    return asked


def _known_backends() -> tuple[str, ...]:
    try:
        from ..models.backends import BACKENDS
    except ImportError:
        return ()
    return tuple(BACKENDS)


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
        candidates.append(Candidate(row.name, texts_per_s=speed, status=status, error=row.error, **quality))
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
