"""rank()'s chunks taken in turn by its threads: any schedule gives the oracle's answer; an error stops them all.

Oracle: a float64 cosine matrix and a stable argsort (ties to the lower index), computed here.
"""

import threading
import time

import numpy as np
import pytest

import embedlab
from embedlab.retrieval import ranking


def argsort_oracle(queries, corpus, k):
    """Cosine top-k by a full stable argsort in float64: ties go to the lower index."""
    q, c = (np.asarray(x, dtype=np.float64) for x in (queries, corpus))
    norms = np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(c, axis=1)[None, :]
    sims = np.divide(q @ c.T, norms, out=np.zeros(norms.shape), where=norms > 0)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, 1)


def use_threads(monkeypatch, threads):
    monkeypatch.setattr(ranking, "_threads", lambda: threads)
    monkeypatch.setattr(ranking, "PARALLEL_MIN_WORK", 0)


def hold_back_pool_threads(monkeypatch, seconds):
    """The pool's threads wait ``seconds`` before each chunk they ask for: the caller's thread takes most."""
    take = ranking._Chunks.next

    def slow_next(self):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(seconds)
        return take(self)

    monkeypatch.setattr(ranking._Chunks, "next", slow_next)


def tied_corpus(n, rng):
    """Rows that are copies of 5 directions at scales 2^-2 … 2^2: every cosine ties with many others, exactly.

    6-d: from 8 dimensions on, OpenBLAS may round one dot product differently by the row's place in
    the product (its edge kernels), in either layout, so copies would no longer tie exactly.
    """
    base = rng.normal(size=(5, 6)).astype(np.float32)
    return base[rng.integers(0, 5, n)] * np.float32(2.0) ** rng.integers(-2, 3, size=(n, 1)).astype(np.float32)


@pytest.mark.parametrize("held_back", [0.0, 0.02])  # 0.02: the caller's thread takes nearly every chunk
@pytest.mark.parametrize("threads", [2, 3])
def test_any_schedule_of_chunks_gives_the_oracle_with_ties_to_the_lower_index(monkeypatch, held_back, threads):
    rng = np.random.default_rng(20)
    corpus, queries = tied_corpus(600, rng), rng.normal(size=(4, 6))
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 4 * 23)  # 23-row chunks: 27 of them
    use_threads(monkeypatch, threads)
    if held_back:
        hold_back_pool_threads(monkeypatch, held_back)
    for k in (1, 9, 40):
        idx, scores = embedlab.rank(queries, corpus, k=k)
        want_idx, want_scores = argsort_oracle(queries, corpus, k)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_allclose(scores, want_scores, atol=1e-6)


@pytest.mark.parametrize("n", [25, 30])  # 25: a 5-row last chunk, fewer rows than k in a thread's hands
def test_threads_that_see_fewer_than_k_rows_or_none_leave_no_placeholder(monkeypatch, n):
    rng = np.random.default_rng(21)
    corpus, queries = rng.normal(size=(n, 6)).astype(np.float32), rng.normal(size=(3, 6))
    use_threads(monkeypatch, 3)
    hold_back_pool_threads(monkeypatch, 0.05)  # the pool's threads find the chunks gone, or take the last one
    idx, scores = embedlab.rank(queries, corpus, k=10)
    assert (idx >= 0).all() and np.isfinite(scores).all()
    want_idx, want_scores = argsort_oracle(queries, corpus, 10)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)


def test_a_single_thread_takes_every_chunk_in_order(monkeypatch):
    rng = np.random.default_rng(22)
    corpus, queries = tied_corpus(500, rng), rng.normal(size=(3, 6))
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 3 * 17)
    use_threads(monkeypatch, 1)
    starts = []
    take = ranking._Chunks.next
    monkeypatch.setattr(ranking._Chunks, "next", lambda self: starts.append(take(self)) or starts[-1])
    idx, _ = embedlab.rank(queries, corpus, k=12)
    assert starts == [*range(0, 500, 17), None]
    np.testing.assert_array_equal(idx, argsort_oracle(queries, corpus, 12)[0])


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_nan_stops_every_thread_and_names_the_first_bad_row(monkeypatch, threads):
    corpus = np.random.default_rng(23).normal(size=(200_000, 8)).astype(np.float32)
    corpus[[30, 150_000], 2] = np.nan  # the first bad row in the second chunk of 10,000
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 20)  # 20-row chunks for 1 query
    use_threads(monkeypatch, threads)
    scored = []
    score = ranking._score
    monkeypatch.setattr(ranking, "_score", lambda block, *a: scored.append(len(block)) or score(block, *a))
    with pytest.raises(ValueError, match="got NaN or infinity in row 30"):
        embedlab.rank(np.ones(8), corpus, k=3)
    # the threads stopped soon after the error (the failing one may wait for the GIL a few ms meanwhile)
    assert len(scored) < 5000
