"""rank(): exact cosine top-k, in bounded memory."""

from __future__ import annotations

import numpy as np

from .validation import check_matrix, check_positive_int

#: Scores held at once per chunk (queries × corpus rows); 16M float32 = 64 MB.
CHUNK_ELEMENTS = 1 << 24


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, np.float32(1e-12))


def _best_first(indices: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by score descending, index ascending; keep the first k."""
    order = np.lexsort((indices, -scores), axis=1)[:, :k]
    return np.take_along_axis(indices, order, 1), np.take_along_axis(scores, order, 1)


def _chunk_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k column indices per row of ``scores``; ties at the cut go to the lower index."""
    top = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    top_scores = np.take_along_axis(scores, top, 1)
    cut = top_scores.min(axis=1)
    crowded = np.flatnonzero((scores >= cut[:, None]).sum(axis=1) > k)
    for row in crowded:  # more than k scores reach the cut: keep the lowest indices among the ties
        candidates = np.flatnonzero(scores[row] >= cut[row])
        keep = candidates[np.lexsort((candidates, -scores[row, candidates]))[:k]]
        top[row], top_scores[row] = keep, scores[row, keep]
    return top, top_scores


def rank(queries, corpus, *, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k of each query among the corpus rows, best first.

    Parameters
    ----------
    queries : array-like of shape (n_queries, dim) or (dim,)
        Query vectors (any norm; a zero vector scores 0 against everything).
    corpus : array-like of shape (n_corpus, dim)
        Corpus vectors.
    k : int, default 5
        How many to return per query; above ``n_corpus`` the whole corpus is returned.

    Returns
    -------
    indices : ndarray of shape (n_queries, min(k, n_corpus)), int64
        Corpus rows, best first; equal scores go to the lower index.
    scores : ndarray of shape (n_queries, min(k, n_corpus)), float32
        Their cosine similarities, as scikit-learn's ``cosine_similarity`` gives them (to 1e-5).

    The corpus is scored in chunks with a reused buffer, so memory stays bounded for any size.

    Examples
    --------
    >>> import numpy as np
    >>> idx, score = rank(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [2.0, 0.1]]), k=1)
    >>> int(idx[0, 0])
    1
    """
    k = check_positive_int(k, "k")
    queries = check_matrix(queries, "queries")
    corpus = check_matrix(corpus, "corpus", dim=queries.shape[1])
    n = corpus.shape[0]
    k = min(k, n)
    q = _unit(queries)
    rows = max(k, min(n, CHUNK_ELEMENTS // max(1, q.shape[0])))
    buffer = np.empty((q.shape[0], rows), dtype=np.float32)
    best_idx = np.empty((q.shape[0], 0), dtype=np.int64)
    best_scores = np.empty((q.shape[0], 0), dtype=np.float32)
    for start in range(0, n, rows):
        block = _unit(corpus[start : start + rows])
        scores = buffer[:, : block.shape[0]]
        np.matmul(q, block.T, out=scores)
        if block.shape[0] > k:
            idx, top = _chunk_top_k(scores, k)
        else:
            idx = np.broadcast_to(np.arange(block.shape[0]), scores.shape)
            top = scores.copy()
        best_idx = np.concatenate([best_idx, idx + start], axis=1)
        best_scores = np.concatenate([best_scores, top], axis=1)
        best_idx, best_scores = _best_first(best_idx, best_scores, k)
    return best_idx.astype(np.int64), best_scores.astype(np.float32)
