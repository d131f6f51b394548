"""Memory evaluation: do labelled queries find the memory they should — per collection, per model?

A labelled query names the collection its memory lives in and the memory's id there.
:func:`evaluate_memory` searches each collection with its own model (what Memory Search returns,
exact or approximate), re-encodes the collection's texts with every other model asked for and
ranks them exactly (:func:`embedlab.rank`), and — with several collections — searches all of them
merged, as a chatbot would. It answers "does one model serve all your memories?"
(:meth:`MemoryEvaluation.verdict`).

The metrics are those of sentence-transformers' ``InformationRetrievalEvaluator`` and
:func:`embedlab.evaluate_retrieval`: accuracy@k is the share of queries whose memory is among
the first k results, MRR@k the mean of 1/rank (0 beyond k).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..models.encoding import encode
from ..retrieval.ranking import rank
from ..runs import Progress, check_callback
from ..validation import check_positive_int
from .labelled import labelled_queries
from .results import CollectionError, CollectionNotFound
from .search import search_collection, search_collections
from .store import collection_info, collection_rows

__all__ = [
    "MERGED",
    "OWN",
    "REENCODE_ROW_LIMIT",
    "SERVES_WITHIN",
    "MemoryEvaluation",
    "evaluate_memory",
]

#: Re-encoding a collection with another model is refused above this many rows: on this machine
#: (2 cores, ~150-300 texts/s for MiniLM, ~30 for mpnet) 20,000 texts take 1-11 minutes.
REENCODE_ROW_LIMIT = 20_000
#: A model "serves" a collection when its MRR@k is within this of the best model's there.
SERVES_WITHIN = 0.05
#: The ``collection`` of the rows for the search over every collection at once.
MERGED = "all (merged)"
#: The ``model`` of the rows searched with each collection's own model.
OWN = "each collection's own"


@dataclass(frozen=True)
class MemoryEvaluation:
    """How well labelled queries find their memories, per collection × model.

    Attributes
    ----------
    k : int
        Results kept per query; the cut-off of accuracy@k and MRR@k.
    table : pandas.DataFrame
        One row per collection × model, in the order evaluated: ``collection`` (:data:`MERGED`
        for the search over all of them), ``model``, ``own`` (bool: the collection's own model,
        searched as Memory Search does), ``method`` ("exact", "approximate", "re-encoded, exact",
        "merged by cosine" or "merged by reciprocal rank"), ``rows``, ``queries``,
        ``accuracy@1``, ``accuracy@k``, ``MRR@k`` (fractions).
    per_query : pandas.DataFrame
        One row per labelled query × table row: ``query``, ``collection`` (where its memory is),
        ``expected id``, ``searched`` (the collection searched, or :data:`MERGED`), ``model``,
        ``rank`` (nullable Int64: 1-based rank of the memory, ``<NA>`` beyond k), ``top hit``
        (the first result's id), ``top collection``, ``top score``.
    collections : tuple of str
        The collections searched.
    models : tuple of str
        The other models each collection was re-encoded with.
    seconds : float
        Wall time of the evaluation.
    stopped : bool
        True when Stop ended the run early: the tables hold the steps that finished.
    """

    k: int
    table: pd.DataFrame = field(repr=False)
    per_query: pd.DataFrame = field(repr=False)
    collections: tuple[str, ...]
    models: tuple[str, ...]
    seconds: float
    stopped: bool = False

    @property
    def metric_columns(self) -> list[str]:
        """The figure columns of :attr:`table`: accuracy@1, accuracy@k (when k > 1), MRR@k."""
        return [c for c in self.table.columns if c.startswith(("accuracy@", "MRR@"))]

    @property
    def misses(self) -> pd.DataFrame:
        """The rows of :attr:`per_query` whose expected memory did not come first."""
        return self.per_query[self.per_query["rank"].fillna(0) != 1]

    def verdict(self) -> str | None:
        """Does one model serve all your memories? One sentence; None with fewer than two collections
        evaluated per model or no comparison possible.

        A model serves a collection when its MRR@k there is within :data:`SERVES_WITHIN` of the
        best model's. Only models evaluated on every collection are candidates.
        """
        rows = self.table[self.table["collection"] != MERGED]
        if rows.empty or rows["model"].nunique() < 2:
            return None
        mrr = f"MRR@{self.k}"
        names = list(dict.fromkeys(rows["collection"]))
        grid = rows.pivot_table(index="collection", columns="model", values=mrr, aggfunc="first").loc[names]
        everywhere = [m for m in dict.fromkeys(rows["model"]) if grid[m].notna().all()]
        if not everywhere:
            return None
        best = grid.max(axis=1)
        serving = [m for m in everywhere if bool(((best - grid[m]) <= SERVES_WITHIN + 1e-9).all())]
        if serving:
            first = max(serving, key=lambda m: grid[m].mean())
            others = [m for m in serving if m != first]
            also = f" (so does {', '.join(others)})" if others else ""
            where = "your collection" if len(names) == 1 else f"each of your {len(names)} collections"
            return (
                f"{first} serves all your memories: on {where} its MRR@{self.k} is within "
                f"{SERVES_WITHIN:.2f} of the best model's{also}."
            )
        leaders = "; ".join(f"{name}: {grid.loc[name].idxmax()} ({best[name]:.2f})" for name in names)
        return (
            f"No one model is within {SERVES_WITHIN:.2f} of the best MRR@{self.k} on every collection; "
            f"the best per collection — {leaders}."
        )

    def csv(self, *, per_query: bool = False) -> str:
        """The table (or, with ``per_query``, the per-query table) as CSV text."""
        return (self.per_query if per_query else self.table).to_csv(index=False)


# -- the evaluation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationProgress(Progress):
    """A :class:`embedlab.runs.Progress` whose steps are collection × model searches."""

    @property
    def message(self) -> str:
        if self.model_index == 0:
            return self.detail
        head = f"Step {self.model_index} of {self.n_models} · {self.model}"
        return f"{head} · {self.detail}" if self.detail else head


def evaluate_memory(
    labelled,
    collections: Sequence[str] | None = None,
    *,
    k: int = 10,
    models: Sequence[str] | None = None,
    home=None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> MemoryEvaluation:
    """Search every labelled query and score where its memory comes, per collection × model.

    Parameters
    ----------
    labelled : pandas.DataFrame, str or path-like
        Labelled queries (see :func:`labelled_queries`): columns query, collection, id.
    collections : list of str, optional
        The collections searched (default: those the labelled queries name). Every labelled
        query's collection must be among them; one without queries still takes part in the
        merged search, as a distractor.
    k : int, default 10
        Results per query; the cut-off of accuracy@k and MRR@k.
    models : list of str, optional
        Other models to try: each collection's texts are re-encoded with each (through
        :func:`embedlab.encode`'s cache) and ranked exactly with :func:`embedlab.rank`.
        Refused for a collection above :data:`REENCODE_ROW_LIMIT` rows.
    home : path-like, optional
        The data directory (default: ``$EMBEDLAB_HOME``).
    progress : callable, optional
        Called with a :class:`embedlab.runs.Progress` before each step and while texts are
        encoded; ``event.results()`` is the evaluation so far.
    should_stop : callable, optional
        Asked between steps; True returns what finished, marked ``stopped``.

    Returns
    -------
    MemoryEvaluation

    Raises
    ------
    CollectionError
        One sentence: bad labelled queries, a collection that does not exist or is not
        searched, an expected id missing from its collection, a collection too large to re-encode.
    TypeError, ValueError
        Naming the argument: ``k`` < 1, ``models`` not a list of names.
    LookupError
        A model that cannot be loaded here.
    """
    started = time.perf_counter()
    k = check_positive_int(k, "k")
    check_callback(progress, "progress")
    check_callback(should_stop, "should_stop")
    frame = labelled_queries(labelled)
    extra = _check_models(models)
    named = list(dict.fromkeys(frame["collection"]))
    searched = named if collections is None else _check_collections(collections)
    infos = {}
    for name in searched:
        try:
            infos[name] = collection_info(name, home=home)
        except CollectionNotFound:
            raise CollectionNotFound(f"There is no collection named {name!r}; build it first.") from None
    ids = {}
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        if row.collection not in infos:
            raise CollectionError(
                f"Labelled query {number} expects collection {row.collection!r}, which is not among those "
                f"searched ({', '.join(searched)})."
            )
        if row.collection not in ids:
            ids[row.collection] = collection_rows(row.collection, home=home)
        if not (ids[row.collection]["id"].astype(str) == row.id).any():
            raise CollectionError(
                f"Labelled query {number} expects id {row.id!r}, which is not in collection {row.collection!r}."
            )
    for name in named:
        info = infos[name]
        if info.rows > REENCODE_ROW_LIMIT and any(m != info.model for m in extra):
            raise CollectionError(
                f"Collection {name!r} has {info.rows:,} rows; re-encoding it with another model is limited to "
                f"{REENCODE_ROW_LIMIT:,} rows here — evaluate its own model, or build a copy with the other model."
            )
    steps = [(name, None) for name in named]
    steps += [(name, model) for name in named for model in extra if model != infos[name].model]
    if len(searched) > 1:
        steps.append((MERGED, None))
    run = _Run(frame, infos, ids, k, steps, home, progress, started)
    for index, (name, model) in enumerate(steps):
        if should_stop is not None and should_stop():
            run.stopped = True
            break
        run.step(index, name, model)
    return run.result()


def _check_models(models) -> list[str]:
    if models is None:
        return []
    if isinstance(models, str):
        raise TypeError(f"models must be a list of model names, got a single str; wrap it in a list: [{models!r}].")
    names = list(models)
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"models[{i}] must be a model name (a non-empty str), got {name!r}.")
    return list(dict.fromkeys(names))


def _check_collections(collections) -> list[str]:
    if isinstance(collections, str):
        raise TypeError(
            f"collections must be a list of collection names, got a single str; wrap it in a list: [{collections!r}]."
        )
    names = list(dict.fromkeys(collections))
    if not names:
        raise ValueError("collections must name at least one collection, got an empty list.")
    return names


class _Run:
    """The evaluation's steps and what they found so far."""

    def __init__(self, frame, infos, ids, k, steps, home, progress, started):
        self.frame, self.infos, self.ids, self.k = frame, infos, ids, k
        self.steps, self.home, self.progress, self.started = steps, home, progress, started
        self.rows: list[dict] = []
        self.per_query: list[pd.DataFrame] = []
        self.stopped = False

    def emit(self, index: int, detail: str, fraction: float) -> None:
        if self.progress is None:
            return
        name, model = self.steps[index]
        label = f"{name} · {OWN if name == MERGED else model or self.infos[name].model}"
        self.progress(
            EvaluationProgress(
                model_index=index + 1,
                n_models=len(self.steps),
                model=label,
                stage="search",
                detail=detail,
                fraction=min(1.0, (index + fraction) / len(self.steps)),
                _partial=lambda: self.result(partial=True),
            )
        )

    def step(self, index: int, name: str, model: str | None) -> None:
        queries = self.frame if name == MERGED else self.frame[self.frame["collection"] == name]
        self.emit(index, f"{len(queries):,} queries", 0.0)
        if model is None:  # searched as Memory Search searches
            found, method = [], "exact"
            for position, row in enumerate(queries.itertuples(index=False)):
                if name == MERGED:
                    result = search_collections(list(self.infos), row.query, k=self.k, home=self.home)
                    method = f"merged by {result.merged_by}"
                else:
                    result = search_collection(name, row.query, k=self.k, home=self.home)
                    method = result.method
                found.append(_hits(result.hits, name))
                if position % 20 == 19:
                    self.emit(index, f"query {position + 1:,} of {len(queries):,}", (position + 1) / len(queries))
            label = OWN if name == MERGED else self.infos[name].model
        else:  # re-encoded with another model, ranked exactly
            rows = self.ids[name]
            texts = rows["text"].astype(str).tolist()
            bar = lambda done, total: self.emit(
                index, f"encoding {done:,} / {total:,} texts", 0.9 * done / max(total, 1)
            )
            vectors = encode(texts, model, progress=bar)
            asked = encode(queries["query"].tolist(), model)
            top, scores = rank(asked, vectors, k=self.k)
            found = [
                [(str(rows["id"].iat[i]), name, float(s)) for i, s in zip(t, sc, strict=True)]
                for t, sc in zip(top, scores, strict=True)
            ]
            label, method = model, "re-encoded, exact"
        self._score(name, label, method, queries, found, own=model is None and name != MERGED)

    def _score(self, name, model, method, queries, found, *, own) -> None:
        ranks = [_rank(hits, row.collection, row.id) for row, hits in zip(queries.itertuples(), found, strict=True)]
        reached = np.array([r is not None for r in ranks])
        values = np.array([r or 0 for r in ranks])
        row = {
            "collection": name,
            "model": model,
            "own": own,
            "method": method,
            "rows": sum(i.rows for i in self.infos.values()) if name == MERGED else self.infos[name].rows,
            "queries": len(queries),
            "accuracy@1": float(np.mean(values == 1)),
        }
        if self.k > 1:
            row[f"accuracy@{self.k}"] = float(np.mean(reached))
        row[f"MRR@{self.k}"] = float(np.mean(np.where(reached, 1.0 / np.maximum(values, 1), 0.0)))
        self.rows.append(row)
        self.per_query.append(
            pd.DataFrame(
                {
                    "query": queries["query"].tolist(),
                    "collection": queries["collection"].tolist(),
                    "expected id": queries["id"].tolist(),
                    "searched": name,
                    "model": model,
                    "rank": pd.array(ranks, dtype="Int64"),
                    "top hit": [h[0][0] if h else None for h in found],
                    "top collection": [h[0][1] if h else None for h in found],
                    "top score": [h[0][2] if h else np.nan for h in found],
                }
            )
        )

    def result(self, *, partial: bool = False) -> MemoryEvaluation:
        columns = ["query", "collection", "expected id", "searched", "model", "rank", "top hit", "top collection"]
        return MemoryEvaluation(
            k=self.k,
            table=pd.DataFrame(self.rows),
            per_query=(
                pd.concat(self.per_query, ignore_index=True)
                if self.per_query
                else pd.DataFrame(columns=[*columns, "top score"])
            ),
            collections=tuple(self.infos),
            models=tuple(dict.fromkeys(m for _, m in self.steps if m is not None)),
            seconds=time.perf_counter() - self.started,
            stopped=self.stopped or partial,
        )


def _hits(hits: pd.DataFrame, name: str) -> list[tuple[str, str, float]]:
    """(id, collection, score) of a search's hits, best first."""
    where = hits["collection"].astype(str) if "collection" in hits.columns else [name] * len(hits)
    return list(zip(hits["id"].astype(str), where, hits["score"].astype(float), strict=True))


def _rank(hits: list[tuple[str, str, float]], collection: str, expected: str) -> int | None:
    for position, (ident, where, _) in enumerate(hits, start=1):
        if ident == expected and where == collection:
            return position
    return None
