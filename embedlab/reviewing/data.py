"""The data a review measures on, checked once at :func:`embedlab.review`'s boundary."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import seed
from ..retrieval.evaluation import check_ids, relevant_positions
from ..validation import check_texts

__all__ = ["ReviewData", "check_labelled", "review_data"]


@dataclass(frozen=True)
class ReviewData:
    """Traces and queries for retrieval, the corpus timed for speed, labelled sentences (optional)."""

    traces: list[str]
    ids: list
    queries: list[str]
    expected: list
    corpus: list[str]
    sentences: list[str] | None = None
    labels: list[str] | None = None

    def clusters_info(self, label_k: int) -> dict:
        """The labelled sentences' sizes and the chance level of kNN label agreement ({} without them)."""
        if self.labels is None:
            return {}
        _, counts = np.unique(np.asarray(self.labels), return_counts=True)
        n = len(self.labels)
        chance = float((counts * (counts - 1)).sum() / (n * (n - 1)))
        return {"n_sentences": n, "n_labels": len(counts), "label_chance": chance, "label_k": label_k}


def review_data(
    traces: Sequence[str] | None,
    queries: Sequence[str] | None,
    expected: Sequence | None,
    ids: Sequence[Hashable] | None,
    corpus: Iterable[str] | None,
    sentences: Sequence[str] | None,
    labels: Sequence[str] | None,
) -> ReviewData:
    """The review's data, checked; the lesson's traces and queries when none are given.

    Raises TypeError/ValueError naming the argument (see :func:`embedlab.review`).
    """
    given = {"traces": traces is not None, "queries": queries is not None, "expected": expected is not None}
    if not any(given.values()):
        if ids is not None:
            raise ValueError("ids goes with traces; give traces, queries and expected together.")
        from ..retrieval.traces import prepare, query_table, trace_table

        lesson = prepare(trace_table(), query_table())
        traces, ids, queries, expected = lesson.texts, lesson.ids, lesson.queries, lesson.expected
    elif not all(given.values()):
        missing = ", ".join(name for name, there in given.items() if not there)
        raise ValueError(f"traces, queries and expected go together (or none, for the lesson's); missing: {missing}.")
    traces = check_texts(traces, "traces")
    queries = check_texts(queries, "queries")
    if isinstance(expected, (str, bytes)):
        raise TypeError("expected must be a list with one id (or a set of ids) per query, got a single string.")
    expected = list(expected)
    ids = list(ids) if ids is not None else list(range(len(traces)))
    relevant_positions(expected, check_ids(ids, len(traces)), len(queries))  # raises on a bad expected id
    corpus = check_texts(seed.BENCHMARK_CORPUS if corpus is None else corpus, "corpus")
    sentences, labels = check_labelled(sentences, labels)
    return ReviewData(list(traces), ids, list(queries), expected, corpus, sentences, labels)


def check_labelled(sentences, labels) -> tuple[list[str] | None, list[str] | None]:
    """Labelled sentences for cluster quality, both or neither; at least 3 sentences and 2 labels."""
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
