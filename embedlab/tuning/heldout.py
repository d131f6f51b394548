"""Judging a made model on the held-out queries: its retrieval figures and what changed per query."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..models.embedders import Embedder
from ..retrieval.evaluation import RetrievalResult, evaluate_retrieval
from .pairs import Split

#: MRR and the per-query ranks are computed at this cut-off (MRR@10, as the field reports it).
K = 10


def evaluate(split: Split, model: str | Embedder, *, progress: Callable | None = None) -> RetrievalResult:
    """Rank every document of ``split.corpus`` for each held-out query (accuracy@k, MRR@10)."""
    return evaluate_retrieval(
        list(split.test.queries), list(split.corpus), list(split.expected), model=model, k=K, progress=progress
    )


def query_changes(before: RetrievalResult, after: RetrievalResult) -> pd.DataFrame:
    """One row per held-out query: its expected document's rank before and after, and the change.

    Returns
    -------
    pandas.DataFrame
        Columns ``query``, ``rank_before``, ``rank_after`` (1-based; ``<NA>`` beyond the top
        :data:`K`), ``score_before``, ``score_after`` (cosine of the expected document) and
        ``change``: "improved" when the expected document ranks higher after (or enters the
        top K), "regressed" when lower, "same" otherwise.
    """
    depth = K + 1  # a rank beyond the list counts as K + 1 for the comparison
    rank_before = before.per_query["expected_rank"].fillna(depth).to_numpy(dtype=np.int64)
    rank_after = after.per_query["expected_rank"].fillna(depth).to_numpy(dtype=np.int64)
    change = np.where(rank_after < rank_before, "improved", np.where(rank_after > rank_before, "regressed", "same"))
    return pd.DataFrame(
        {
            "query": before.per_query["query"].to_numpy(),
            "rank_before": before.per_query["expected_rank"].to_numpy(),
            "rank_after": after.per_query["expected_rank"].to_numpy(),
            "score_before": before.per_query["expected_score"].to_numpy(),
            "score_after": after.per_query["expected_score"].to_numpy(),
            "change": change,
        }
    )


def figures(result: RetrievalResult) -> dict:
    """The figures recorded in a model's card: accuracy@1/3/5/10, MRR@10, queries, documents."""
    return {
        "k": result.k,
        "accuracy_at_k": {str(k): round(v, 6) for k, v in result.accuracy_at_k.items()},
        "mrr": round(result.mrr, 6),
        "n_queries": result.n_queries,
        "n_corpus": result.n_corpus,
    }
