"""Retrieval evaluation: do queries bring back the trace they should?

:func:`evaluate_retrieval` embeds a corpus (e.g. reasoning traces rendered as text) and a set
of queries, ranks the corpus for each query by cosine similarity, and scores the ranking
against the expected corpus entry of each query. The metric definitions are those of
sentence-transformers' ``InformationRetrievalEvaluator`` (accuracy@k, MRR@k), so the figures
are comparable with anything reported by it.

The lesson's decision rule ("upgrade only if retrieval quality is below 80%") lives in
:mod:`embedlab.decision`; :meth:`RetrievalResult.recommend` applies it to one result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import seed
from ..decision import Candidate, Recommendation, recommend
from ..models.catalog import load_model
from ..models.embedders import Embedder
from ..models.encoding import encode
from ..models.entries import DEFAULT_MODEL
from ..validation import check_positive_int, check_texts
from .ranking import rank

#: The cut-offs accuracy@k is always reported at (plus the ``k`` asked for).
STANDARD_K: tuple[int, ...] = (1, 3, 5, 10)
#: ``progress(stage, done, total)``: ``stage`` is "traces" (the corpus) or "queries"; ``done``
#: of ``total`` texts encoded so far. ``total`` is 0 when every text came from the cache.
Progress = Callable[[str, int, int], None]

__all__ = [
    "STANDARD_K",
    "Recommendation",
    "RetrievalResult",
    "RetrievalSummary",
    "check_ids",
    "evaluate_retrieval",
    "recommend",
    "relevant_positions",
    "summary_table",
]


@dataclass(frozen=True)
class RetrievalResult:
    """How well one model retrieves the expected corpus entries.

    Attributes
    ----------
    model : str
        The model's name.
    k : int
        How many results per query were kept (``per_query`` top-k, MRR@k).
    accuracy_at_k : dict of int to float
        Share of queries with an expected entry among the first k results, for k in
        1, 3, 5, 10 and ``k``.
    mrr : float
        Mean reciprocal rank at ``k``: the mean over queries of 1 / rank of the first expected
        entry, 0 when none is in the top ``k``.
    per_query : pandas.DataFrame
        One row per query, in the order given, with columns

        - ``query`` (str);
        - ``expected_id``: the expected corpus id, or a tuple of ids when several are right;
        - ``top_ids``, ``top_scores``: the top ``k`` corpus ids and their cosine similarities,
          best first;
        - ``top_id``, ``top_score``: the first of those;
        - ``expected_rank`` (nullable Int64): 1-based rank of the best-ranked expected entry,
          ``<NA>`` when it is not in the top ``k`` (its rank over the whole corpus is in ``ranks``);
        - ``expected_score`` (float): cosine similarity of the expected entry (the best one
          when several), computed whatever its rank;
        - ``correct`` (bool): an expected entry ranks first;
        - ``gap`` (float): ``top_score - expected_score``; 0 when correct.
    n_corpus : int
        Corpus size.
    ranks : tuple of int, length n_queries
        Per query, the 1-based rank of the best-ranked expected entry over the whole corpus,
        whatever ``k`` (ties go to the earlier entry); empty for results made without it.
    """

    model: str
    k: int
    accuracy_at_k: dict[int, float]
    mrr: float
    per_query: pd.DataFrame = field(repr=False)
    n_corpus: int
    ranks: tuple[int, ...] = field(default=(), repr=False)

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy: the share of queries whose first result is an expected entry."""
        return self.accuracy_at_k[1]

    @property
    def n_queries(self) -> int:
        return len(self.per_query)

    @property
    def failures(self) -> pd.DataFrame:
        """The rows of :attr:`per_query` whose first result is not an expected entry."""
        return self.per_query[~self.per_query["correct"]]

    def recommend(self, *, threshold: float = seed.GOOD_ENOUGH_ACCURACY) -> Recommendation:
        """The lesson's rule applied to this result (see :func:`recommend`)."""
        return recommend(self.accuracy, self.failures["query"].tolist(), threshold=threshold, model=self.model)

    def summary(self) -> dict:
        """Plain figures for storing or showing: accuracy, accuracy_at_k, mrr, n_queries, k, n_corpus."""
        return {
            "accuracy": self.accuracy,
            "accuracy_at_k": dict(self.accuracy_at_k),
            "mrr": self.mrr,
            "n_queries": self.n_queries,
            "k": self.k,
            "n_corpus": self.n_corpus,
        }

    def __repr__(self) -> str:
        return (
            f"RetrievalResult(model={self.model!r}, k={self.k}, accuracy={self.accuracy:.3f}, "
            f"mrr={self.mrr:.3f}, n_queries={self.n_queries}, n_corpus={self.n_corpus})"
        )


@dataclass(frozen=True)
class RetrievalSummary:
    """One model's retrieval figures without the per-query table: what other pages and the
    decision rule read (see :meth:`from_result`).

    Attributes
    ----------
    model : str
    k : int
        The cut-off of MRR@k.
    accuracy : float
        Top-1 accuracy, in [0, 1].
    accuracy_at_k : dict of int to float
        accuracy@1, 3, 5, 10 and @k.
    mrr : float
        MRR@k.
    n_queries, n_corpus : int
    correct : int
        Queries whose first result is an expected entry.
    failing : tuple of str
        The other queries, in the order given.
    """

    model: str
    k: int
    accuracy: float
    accuracy_at_k: dict[int, float]
    mrr: float
    n_queries: int
    n_corpus: int
    correct: int
    failing: tuple[str, ...]

    @classmethod
    def from_result(cls, result: RetrievalResult) -> RetrievalSummary:
        failing = tuple(str(q) for q in result.failures["query"])
        return cls(
            model=result.model,
            k=result.k,
            accuracy=result.accuracy,
            accuracy_at_k=dict(result.accuracy_at_k),
            mrr=result.mrr,
            n_queries=result.n_queries,
            n_corpus=result.n_corpus,
            correct=result.n_queries - len(failing),
            failing=failing,
        )

    def to_dict(self) -> dict:
        """Plain JSON types (for a workspace or a report); :meth:`from_dict` reads them back."""
        return {
            "model": str(self.model),
            "k": int(self.k),
            "accuracy": float(self.accuracy),
            "accuracy_at_k": {str(int(k)): float(v) for k, v in self.accuracy_at_k.items()},
            "mrr": float(self.mrr),
            "n_queries": int(self.n_queries),
            "n_corpus": int(self.n_corpus),
            "correct": int(self.correct),
            "failing": [str(q) for q in self.failing],
        }

    @classmethod
    def from_dict(cls, value: dict) -> RetrievalSummary:
        """The figures :meth:`to_dict` wrote; raises KeyError, TypeError or ValueError when damaged."""
        return cls(
            model=str(value["model"]),
            k=int(value["k"]),
            accuracy=float(value["accuracy"]),
            accuracy_at_k={int(k): float(v) for k, v in value["accuracy_at_k"].items()},
            mrr=float(value["mrr"]),
            n_queries=int(value["n_queries"]),
            n_corpus=int(value["n_corpus"]),
            correct=int(value["correct"]),
            failing=tuple(str(q) for q in value["failing"]),
        )

    def candidate(self) -> Candidate:
        """These figures for :func:`embedlab.decision.decide` (speed not measured here)."""
        return Candidate(
            self.model,
            accuracy=self.accuracy,
            mrr=self.mrr,
            correct=self.correct,
            n_queries=self.n_queries,
            failing=self.failing,
        )


def check_ids(ids: Sequence[Hashable] | None, n: int) -> list:
    """``ids`` as a list of ``n`` unique hashable ids (``0..n-1`` when None).

    Raises TypeError/ValueError naming ``ids`` when it is a single string, has the wrong length,
    or holds an unhashable or repeated id.
    """
    if ids is None:
        return list(range(n))
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"ids must be a list with one id per corpus text, got a single {type(ids).__name__}.")
    ids = list(ids)
    if len(ids) != n:
        raise ValueError(f"ids must hold one id per corpus text: got {len(ids)} ids for {n} texts.")
    seen: dict = {}
    for position, item in enumerate(ids):
        try:
            first = seen.setdefault(item, position)
        except TypeError:
            raise TypeError(f"ids[{position}] must be hashable (a str or int), got {type(item).__name__}.") from None
        if first != position:
            raise ValueError(f"ids must be unique: {item!r} is at positions {first} and {position}.")
    return ids


def relevant_positions(expected, ids: list, n_queries: int) -> list[list[int]]:
    """Corpus positions that count as right, per query (sorted, unique).

    ``ids`` is a list checked by :func:`check_ids`; ``expected`` holds one id, or a collection
    of ids, per query. Raises TypeError/ValueError naming ``expected[q]`` when an entry is not
    a corpus id, is empty or is a bool, and when the length is not ``n_queries``.
    """
    if isinstance(expected, (str, bytes)):
        raise TypeError("expected must be a list with one id (or a set of ids) per query, got a single string.")
    expected = list(expected)
    if len(expected) != n_queries:
        raise ValueError(f"expected must hold one entry per query: got {len(expected)} for {n_queries} queries.")
    position = {item: i for i, item in enumerate(ids)}
    out = []
    for q, item in enumerate(expected):
        many = isinstance(item, Collection) and not isinstance(item, (str, bytes))
        wanted = list(item) if many else [item]
        if not wanted:
            raise ValueError(f"expected[{q}] is an empty collection; give at least one corpus id.")
        positions = []
        for one in wanted:
            if isinstance(one, (bool, np.bool_)):
                raise TypeError(f"expected[{q}] must be a corpus id, got {one!r}.")
            if isinstance(one, np.integer):
                one = int(one)
            try:
                positions.append(position[one])
            except (KeyError, TypeError):
                shown = f"0..{len(ids) - 1}" if ids == list(range(len(ids))) else "the ids given"
                raise ValueError(f"expected[{q}] is {one!r}, which is not a corpus id (ids are {shown}).") from None
        out.append(sorted(set(positions)))
    return out


def evaluate_retrieval(
    queries: Sequence[str],
    corpus: Sequence[str],
    expected: Sequence,
    *,
    ids: Sequence[Hashable] | None = None,
    model: str | Embedder = DEFAULT_MODEL,
    k: int = 5,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> RetrievalResult:
    """Embed queries and corpus, rank the corpus per query by cosine, and score the ranking.

    Parameters
    ----------
    queries : list of str, length n_queries
        What users ask.
    corpus : list of str, length n_corpus
        The texts to retrieve (e.g. traces rendered with a template).
    expected : list, length n_queries
        For each query, the corpus id that should come first — or a set/list/tuple of ids when
        any of them is right. Without ``ids``, a corpus id is a position in ``corpus``
        (0-based int).
    ids : list of hashable, length n_corpus, optional
        Unique ids naming the corpus texts (e.g. trace ids), used in ``expected`` and in the
        results instead of positions.
    model : str or Embedder, default "all-MiniLM-L6-v2"
        A catalog name, Hugging Face id or allowed folder (see :func:`embedlab.load_model`), or
        a loaded Embedder.
    k : int, default 5
        Results kept per query, and the cut-off of MRR@k. accuracy@k is reported at 1, 3, 5,
        10 and ``k``.
    batch_size : int, default 32
        Texts per forward pass.
    progress : callable, optional
        ``progress(stage, done, total)`` while encoding; ``stage`` is "traces" then "queries".

    Returns
    -------
    RetrievalResult

    Raises
    ------
    TypeError, ValueError
        Naming the argument: empty or non-text queries/corpus, ``expected`` of the wrong length
        or naming an id not in the corpus, duplicate ``ids``, ``k`` < 1.
    LookupError
        (:class:`embedlab.ModelUnavailable`) when the model cannot be loaded here.

    Notes
    -----
    Encodings go through :func:`embedlab.encode`'s cache, so evaluating again after changing
    one corpus text encodes only that text. Ties in score go to the earlier corpus entry.

    Examples
    --------
    >>> from embedlab import evaluate_retrieval
    >>> result = evaluate_retrieval(
    ...     ["I'm feeling stressed about my job", "I want to learn how to code python"],
    ...     ["Query: User is stressed about work", "Query: User wants to learn a new skill"],
    ...     [0, 1],
    ... )
    >>> result.accuracy
    1.0
    """
    queries = check_texts(queries, "queries")
    corpus = check_texts(corpus, "corpus")
    k = check_positive_int(k, "k")
    batch_size = check_positive_int(batch_size, "batch_size")
    ids = check_ids(ids, len(corpus))
    relevant = relevant_positions(expected, ids, len(queries))
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(stage, done, total), got {type(progress).__name__}.")
    embedder = model if isinstance(model, Embedder) else load_model(model)

    def stage(name: str):
        return None if progress is None else (lambda done, total: progress(name, done, total))

    corpus_vectors = encode(corpus, embedder, batch_size=batch_size, progress=stage("traces"))
    query_vectors = encode(queries, embedder, batch_size=batch_size, progress=stage("queries"))
    depth = min(max((k, *STANDARD_K)), len(corpus))
    top, top_scores = rank(query_vectors, corpus_vectors, k=depth)

    ranks = np.zeros(len(queries), dtype=np.int64)  # 1-based rank within `depth`; 0 = not there
    expected_scores = np.empty(len(queries), dtype=np.float64)
    for q, wanted in enumerate(relevant):
        hits = np.flatnonzero(np.isin(top[q], wanted))
        if hits.size:
            ranks[q] = hits[0] + 1
            expected_scores[q] = float(top_scores[q, hits[0]])
        else:  # beyond the list: score it directly (rows are unit length)
            expected_scores[q] = float((corpus_vectors[wanted] @ query_vectors[q]).max())
    true_ranks = ranks.copy()  # over the whole corpus: beyond the list, count the traces ahead
    for q in np.flatnonzero(ranks == 0):
        scores = corpus_vectors @ query_vectors[q]
        best = relevant[q][int(np.argmax(scores[relevant[q]]))]
        ahead = int((scores > scores[best]).sum() + (scores[:best] == scores[best]).sum())
        true_ranks[q] = max(ahead + 1, depth + 1)

    cutoffs = sorted({*STANDARD_K, k})
    found = ranks > 0
    accuracy_at_k = {c: float(np.mean(found & (ranks <= c))) for c in cutoffs}
    reciprocal = np.where(found & (ranks <= k), 1.0 / np.maximum(ranks, 1), 0.0)
    mrr = float(reciprocal.mean())

    kept = min(k, len(corpus))
    correct = ranks == 1
    top_first = top_scores[:, 0].astype(np.float64)
    per_query = pd.DataFrame(
        {
            "query": queries,
            "expected_id": [_expected_label(expected_item) for expected_item in expected],
            "top_ids": [[ids[i] for i in row[:kept]] for row in top],
            "top_scores": [[round(float(s), 6) for s in row[:kept]] for row in top_scores],
            "top_id": [ids[row[0]] for row in top],
            "top_score": top_first,
            "expected_rank": pd.array([int(r) if 0 < r <= k else None for r in ranks], dtype="Int64"),
            "expected_score": expected_scores,
            "correct": correct,
            "gap": np.where(correct, 0.0, top_first - expected_scores),
        }
    )
    name = getattr(embedder, "name", str(model))
    return RetrievalResult(name, k, accuracy_at_k, mrr, per_query, len(corpus), tuple(map(int, true_ranks)))


def _expected_label(item):
    if isinstance(item, Collection) and not isinstance(item, (str, bytes)):
        values = [int(v) if isinstance(v, np.integer) else v for v in item]
        with contextlib.suppress(TypeError):  # ids of mixed types stay in the order given
            values = sorted(values)
        return values[0] if len(values) == 1 else tuple(values)
    return int(item) if isinstance(item, np.integer) else item


def summary_table(results: Mapping[str, RetrievalResult] | Sequence[RetrievalResult]) -> pd.DataFrame:
    """One row per model — queries, traces, accuracy@1/3/5/10 (and @k), MRR@k — in the order given.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``queries``, ``traces``, ``accuracy@1`` …, ``MRR@k`` (fractions).
    """
    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    rows = []
    for result in items:
        row = {"model": result.model, "queries": result.n_queries, "traces": result.n_corpus}
        row.update({f"accuracy@{c}": v for c, v in result.accuracy_at_k.items()})
        row[f"MRR@{result.k}"] = result.mrr
        rows.append(row)
    return pd.DataFrame(rows)
