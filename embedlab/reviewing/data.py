"""The data a review measures on, checked once at :func:`embedlab.review`'s boundary."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import seed
from ..retrieval.evaluation import check_ids, relevant_positions
from ..validation import check_texts

__all__ = [
    "CORPUS_NAMES",
    "MIN_TIMED",
    "CorpusSource",
    "ReviewData",
    "benchmark_corpus",
    "check_labelled",
    "review_data",
]

#: Where the texts timed for speed come from: the review's own traces and queries, the lesson's
#: benchmark corpus, or texts the caller gave.
CorpusSource = Literal["review", "lesson", "given"]
#: How a report names each source (a given corpus may be named by the caller instead).
CORPUS_NAMES: dict[str, str] = {
    "review": "the traces and queries reviewed",
    "lesson": "the lesson's benchmark texts (5 trace texts × 20)",
    "given": "the texts given",
}
#: Fewer texts time too quickly to measure well: the review's own texts are cycled up to this many
#: (as the lesson's 5 texts are to its 100).
MIN_TIMED = len(seed.BENCHMARK_CORPUS)


@dataclass(frozen=True)
class ReviewData:
    """Traces and queries for retrieval, the corpus timed for speed (and where it comes from, in
    words), labelled sentences (optional)."""

    traces: list[str]
    ids: list
    queries: list[str]
    expected: list
    corpus: list[str]
    sentences: list[str] | None = None
    labels: list[str] | None = None
    corpus_source: CorpusSource = "given"
    corpus_name: str = CORPUS_NAMES["given"]

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
    corpus: Iterable[str] | str | None,
    sentences: Sequence[str] | None,
    labels: Sequence[str] | None,
    corpus_name: str | None = None,
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
    corpus, source, name = benchmark_corpus(corpus, traces, queries, name=corpus_name)
    sentences, labels = check_labelled(sentences, labels)
    return ReviewData(list(traces), ids, list(queries), expected, corpus, sentences, labels, source, name)


def benchmark_corpus(
    corpus: Iterable[str] | str | None,
    traces: Sequence[str],
    queries: Sequence[str],
    *,
    name: str | None = None,
) -> tuple[list[str], CorpusSource, str]:
    """The texts a review times for speed, where they come from, and how a report names them.

    Parameters
    ----------
    corpus : "review", "lesson", list of str, or None
        "review" (or None): the traces, then the queries — speed measured on the very texts
        whose retrieval quality is measured (cycled up to :data:`MIN_TIMED` when fewer);
        "lesson": the lesson's benchmark corpus (:data:`embedlab.seed.BENCHMARK_CORPUS`);
        a list: those texts, as they are.
    traces, queries : list of str
        The review's texts.
    name : str, optional
        What a list of texts is ("pasted texts", "bench.txt"); default "the texts given".

    Returns
    -------
    (list of str, {"review", "lesson", "given"}, str)

    Raises
    ------
    TypeError, ValueError
        Naming ``corpus``: another string, no texts, a text that is not a string; naming
        ``corpus_name``: not a string, or given with "review" or "lesson".

    Examples
    --------
    >>> texts, source, name = benchmark_corpus(None, ["trace a", "trace b"], ["query"])
    >>> texts[:4], len(texts), source, name
    (['trace a', 'trace b', 'query', 'trace a'], 100, 'review', 'the traces and queries reviewed, cycled to 100')
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"corpus_name must be a str, got {type(name).__name__} {name!r}.")
    if isinstance(corpus, str) and corpus not in ("review", "lesson"):
        raise ValueError(f"corpus must be 'review', 'lesson' or a list of texts, got the string {corpus!r}.")
    source: CorpusSource = "given" if corpus is not None and not isinstance(corpus, str) else corpus or "review"
    if name is not None and source != "given":
        raise ValueError(f"corpus_name names a corpus of your own; the {source!r} corpus is named already.")
    words = (name or "").strip() or CORPUS_NAMES[source]
    if source == "given":
        return check_texts(corpus, "corpus"), source, words
    if source == "lesson":
        return list(seed.BENCHMARK_CORPUS), source, words
    own = check_texts([*traces, *queries], "corpus")
    if len(own) >= MIN_TIMED:
        return own, source, words
    from ..benchmarking.run import repeat_to

    return repeat_to(own, MIN_TIMED), source, f"{words}, cycled to {MIN_TIMED}"


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
