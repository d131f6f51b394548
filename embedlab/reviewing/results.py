"""The typed result of a model review: :class:`Review` (one table row per model, and the rest as fields).

Also the table's columns (:data:`COLUMNS`), the Pareto front of speed × quality, and the
lesson's decision applied to a review table (:func:`decide_table`, through
:func:`embedlab.decision.decide`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import seed
from ..decision import Candidate, Decision, decide
from ..formatting import count
from ..retrieval.storage import StorageTable

__all__ = ["COLUMNS", "Review", "ReviewSettings", "decide_table", "pareto_front", "typed"]

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
    "verdict": "str",  # Decision.labels
    "error": "str",
}


@dataclass(frozen=True)
class ReviewSettings:
    """What a review measures with (checked by :func:`embedlab.review`)."""

    k: int = 5
    label_k: int = 5
    repeats: int = 3
    batch_size: int = 32
    warmup: bool = True
    threshold: float = seed.GOOD_ENOUGH_ACCURACY
    baseline: str | None = None


@dataclass(frozen=True, eq=False)
class Review:
    """A model review: what :func:`embedlab.review` returns and :meth:`ReviewStore.load` gives back.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model, columns :data:`COLUMNS`; ``verdict`` is ``decision.labels``.
    machine : dict
        The machine it ran on (:func:`embedlab.benchmarking.machine.machine_info`).
    settings : dict
        The settings used (models, k, label_k, repeats, batch_size, warmup, threshold, baseline),
        the data's sizes (n_traces, n_queries, n_corpus, distinct_corpus, n_sentences, n_labels)
        and which texts were timed for speed: ``corpus_source`` ("review": the traces and queries
        reviewed, "lesson", "given"; "unknown" in a review saved before it was recorded) and
        ``corpus_name`` (in words; see :attr:`corpus_text`).
    fingerprint : dict
        Digests of the data: ``data`` (all of it), ``traces``, ``queries``, ``corpus``, ``sentences``.
    versions : dict
        Per model: where its weights come from (see :func:`embedlab.reviewing.run.model_version`).
    retrieval : dict
        Per model: ``accuracy_at`` ({"1": …, "3": …}), ``failing`` (queries) and ``per_query``.
    storage : dict of str to StorageTable
        Per model: accuracy@1 and MRR@10 of its vectors truncated and quantised on the review's
        traces, with the storage each needs (:func:`embedlab.retrieval.storage.storage_table`);
        {} for reviews saved before it existed.
    clusters : dict
        Label chance level of the labelled sentences ({} without them).
    decision : embedlab.decision.Decision
        The lesson's rule applied to the rows.
    baseline : str or None
        The model ``relative_speed`` compares with.
    times : dict
        Per model, the encode time of each repeat (s).
    stopped : bool
        True when the review was cut short.
    review_id, name, notes, decision_text, created
        For a saved review: its id, name, the reviewer's notes and decision, when it was saved (UTC).
    """

    table: pd.DataFrame
    decision: Decision
    machine: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    fingerprint: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    retrieval: dict = field(default_factory=dict)
    storage: dict[str, StorageTable] = field(default_factory=dict)
    clusters: dict = field(default_factory=dict)
    baseline: str | None = None
    times: dict = field(default_factory=dict)
    stopped: bool = False
    review_id: int | None = None
    name: str = ""
    notes: str = ""
    decision_text: str = ""
    created: str = ""

    @property
    def models(self) -> list[str]:
        """The models in the table, in order."""
        return list(self.table["model"])

    @property
    def k(self) -> int | str:
        """The retrieval cut-off (``"k"`` when a document did not say)."""
        return self.settings.get("k", "k")

    @property
    def threshold(self) -> float:
        return self.decision.threshold

    @property
    def corpus_text(self) -> str:
        """Which texts the speed was measured on, and how many distinct.

        >>> Review(pd.DataFrame(), None, settings={"corpus_name": "the traces and queries reviewed",
        ...        "n_corpus": 206, "distinct_corpus": 203}).corpus_text
        'the traces and queries reviewed: 206 texts, 203 distinct'
        """
        s = self.settings
        name = s.get("corpus_name") or "a benchmark corpus"
        n, distinct = s.get("n_corpus"), s.get("distinct_corpus")
        if n is None:
            return name
        return f"{name}: {count(n, 'text')}" + ("" if distinct is None else f", {distinct:,} distinct")

    def saved(self, *, review_id: int, name: str, notes: str, decision_text: str, created: str) -> Review:
        """This review as saved under ``review_id``."""
        return dataclasses.replace(
            self, review_id=review_id, name=name, notes=notes, decision_text=decision_text, created=created
        )

    def unsaved(self) -> Review:
        """This review without its saved id (a deleted review still shown)."""
        return dataclasses.replace(self, review_id=None)

    def with_stopped(self) -> Review:
        return dataclasses.replace(self, stopped=True)


# -- table helpers -----------------------------------------------------------------------------------
def missing(value) -> bool:
    """None, NA or NaN."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column of :data:`COLUMNS` in its dtype (missing values as NA/NaN/"")."""
    for column, dtype in COLUMNS.items():
        if dtype == "str":
            frame[column] = frame[column].fillna("").astype(str)
        elif dtype == "boolean":
            frame[column] = pd.array([None if missing(v) else bool(v) for v in frame[column]], dtype="boolean")
        elif dtype == "Int64":
            frame[column] = pd.array([None if missing(v) else int(v) for v in frame[column]], dtype="Int64")
        else:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(dtype)
    return frame


def relative_speeds(table: pd.DataFrame, baseline: str | None) -> str | None:
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


def pareto_mask(table: pd.DataFrame) -> list[bool]:
    """The Pareto front of the table's finished models (speed × top-1 accuracy)."""
    ok = ((table["status"] == "ok") & table["accuracy"].notna()).to_numpy(dtype=bool)
    speed = table["texts_per_s"].astype("float64").to_numpy(na_value=np.nan).copy()
    quality = table["accuracy"].astype("float64").to_numpy(na_value=np.nan).copy()
    speed[~ok] = np.nan
    return pareto_front(speed, quality).tolist()


def _number(value) -> float | None:
    return None if missing(value) else float(value)


def _count(value) -> int | None:
    return None if missing(value) else int(value)


def candidates(table: pd.DataFrame, retrieval: dict | None = None) -> list[Candidate]:
    """The review rows as :class:`embedlab.decision.Candidate` (failing queries from ``retrieval``)."""
    retrieval = retrieval or {}
    out = []
    for r in table.itertuples(index=False):
        status = str(r.status)
        if status == "ok" and (missing(r.texts_per_s) or missing(r.accuracy)):
            status = "stopped"  # not both figures: cannot be compared
        failing = (retrieval.get(r.model) or {}).get("failing") or ()
        out.append(
            Candidate(
                str(r.model),
                accuracy=_number(r.accuracy),
                mrr=_number(r.mrr),
                texts_per_s=_number(r.texts_per_s),
                correct=_count(r.correct),
                n_queries=_count(r.n_queries),
                failing=tuple(str(q) for q in failing),
                label_agreement=_number(r.label_agreement),
                silhouette=_number(r.silhouette),
                status=status,
                error=str(r.error or ""),
            )
        )
    return out


def decide_table(
    table: pd.DataFrame,
    *,
    threshold: float = seed.GOOD_ENOUGH_ACCURACY,
    baseline: str | None = None,
    retrieval: dict | None = None,
) -> Decision:
    """The lesson's rule (:func:`embedlab.decision.decide`) applied to a review table."""
    return decide(candidates(table, retrieval), threshold=threshold, baseline=baseline)


def finish_table(table: pd.DataFrame, *, baseline: str | None, threshold: float, retrieval: dict):
    """Fill ``relative_speed``, ``pareto`` and ``verdict``; return (baseline used, Decision)."""
    used = relative_speeds(table, baseline)
    table["pareto"] = pd.array(pareto_mask(table), dtype="boolean")
    decision = decide_table(table, threshold=threshold, baseline=used, retrieval=retrieval)
    labels = decision.labels
    table["verdict"] = [labels.get(m, "") for m in table["model"]]
    return used, decision
