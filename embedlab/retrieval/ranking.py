"""rank(): exact cosine top-k, in bounded memory."""

from __future__ import annotations

import numpy as np

from ..validation import check_matrix, check_positive_int

#: Scores held at once per chunk (queries × corpus rows); 2M float32 = 8 MB, so a chunk's
#: scores stay in the processor's cache while they are scaled and searched.
CHUNK_ELEMENTS = 1 << 21
#: The first chunk is this many times smaller: its full top-k search is the costly one, and a
#: rough k-th best is enough to skip most of the later chunks.
FIRST_CHUNK_DIVISOR = 8


def _best_first(indices: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by score descending, index ascending; keep the first k."""
    order = np.lexsort((indices, -scores), axis=1)[:, :k]
    return np.take_along_axis(indices, order, 1), np.take_along_axis(scores, order, 1)


def _chunk_top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k column indices per row of ``scores``, best first; ties at the cut go to the lower index."""
    if k >= scores.shape[1]:
        indices = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
        return _best_first(indices, scores, k)
    top = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    top_scores = np.take_along_axis(scores, top, 1)
    cut = top_scores.min(axis=1)
    crowded = np.flatnonzero((scores >= cut[:, None]).sum(axis=1) > k)
    for row in crowded:  # more than k scores reach the cut: keep the lowest indices among the ties
        candidates = np.flatnonzero(scores[row] >= cut[row])
        keep = candidates[np.lexsort((candidates, -scores[row, candidates]))[:k]]
        top[row], top_scores[row] = keep, scores[row, keep]
    return _best_first(top, top_scores, k)


def _merge(best_idx, best_scores, rows, columns, scores, k):
    """Merge new candidates (``rows``, ``columns`` with ``scores``) into each row's best k."""
    n_queries = best_idx.shape[0]
    all_rows = np.concatenate([np.repeat(np.arange(n_queries), k), rows])
    all_idx = np.concatenate([best_idx.ravel(), columns])
    all_scores = np.concatenate([best_scores.ravel(), scores])
    order = np.lexsort((all_idx, -all_scores, all_rows))  # by row; best first; lower index first
    starts = np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=n_queries))[:-1]])
    take = order[(starts[:, None] + np.arange(k)).ravel()]
    return all_idx[take].reshape(n_queries, k), all_scores[take].reshape(n_queries, k)


#: Rows whose inverse norm is within this of 1 count as unit length (float32 rounding of a
#: normalised vector): their scores are used as they come, with no scaling pass.
UNIT = 2.0**-23
#: Columns per block when looking for scores that beat a query's k-th best: the maximum of
#: each block is compared first, so only the few blocks holding a winner are searched.
BLOCK = 256


def _winners(scores: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every score strictly above its row's ``cut``."""
    n_rows, n_columns = scores.shape
    whole = n_columns - n_columns % BLOCK
    rows, columns = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    if whole:
        blocks = scores[:, :whole].reshape(n_rows, whole // BLOCK, BLOCK)  # a view
        block_rows, block_ids = np.nonzero(blocks.max(axis=2) > cut[:, None])
        if block_rows.size:
            hit, offset = np.nonzero(blocks[block_rows, block_ids] > cut[block_rows, None])
            rows.append(block_rows[hit])
            columns.append(block_ids[hit] * BLOCK + offset)
    if whole < n_columns:
        hit, offset = np.nonzero(scores[:, whole:] > cut[:, None])
        rows.append(hit)
        columns.append(offset + whole)
    return np.concatenate(rows), np.concatenate(columns)


def _corpus(corpus, dim: int) -> tuple[np.ndarray, bool]:
    """The corpus as a 2-D float32 array, and whether its finiteness is still to be checked.

    A float32 array of the right shape is used as it is — no copy, no extra pass: its rows'
    norms, computed anyway, reveal any NaN or infinity (see :func:`_inverse_norms`).
    """
    if (
        isinstance(corpus, np.ndarray)
        and corpus.dtype == np.float32
        and corpus.ndim == 2
        and corpus.shape[0] > 0
        and corpus.shape[1] == dim
    ):
        return corpus, True
    return check_matrix(corpus, "corpus", dim=dim), False


def _inverse_norms(block: np.ndarray, corpus: np.ndarray, check: bool) -> tuple[np.ndarray, bool]:
    """1 / ‖row‖ for each row of ``block`` (0 for all-zero rows), and whether a row is huge.

    A non-finite squared norm means a NaN or infinity in the row — then ``check_matrix``
    raises its usual error for the whole corpus — or a finite row too large to square in
    float32 ("huge"), whose norm is recomputed in float64.
    """
    squared = np.einsum("ij,ij->i", block, block)
    bad = ~np.isfinite(squared)
    huge = bool(bad.any())
    if huge:
        if check and not np.isfinite(block[bad]).all():
            check_matrix(corpus, "corpus")  # names the first row holding NaN or infinity
        squared = squared.astype(np.float64)
        squared[bad] = np.square(np.linalg.norm(block[bad].astype(np.float64), axis=1))
    norms = np.sqrt(squared)
    return (1.0 / np.maximum(norms, 1e-12)).astype(np.float32) * (norms > 0), huge


def rank(queries, corpus, *, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k of each query among the corpus rows, best first.

    Parameters
    ----------
    queries : array-like of shape (n_queries, dim) or (dim,)
        Query vectors (any norm; a zero vector scores 0 against everything).
    corpus : array-like of shape (n_corpus, dim)
        Corpus vectors (any norm). A float32 array is read in place, never copied.
    k : int, default 5
        How many to return per query; above ``n_corpus`` the whole corpus is returned.

    Returns
    -------
    indices : ndarray of shape (n_queries, min(k, n_corpus)), int64
        Corpus rows, best first; equal scores go to the lower index.
    scores : ndarray of shape (n_queries, min(k, n_corpus)), float32
        Their cosine similarities, as scikit-learn's ``cosine_similarity`` gives them (to 1e-5).

    The corpus is scored in chunks into a reused buffer, so memory stays bounded for any size.
    Each query keeps its best k so far; a later chunk is searched only where a score beats
    the query's current k-th best, so after the first chunk little more than the matrix
    product is left. ``bench/rank.py`` compares it with scikit-learn and with the machine's bound.

    Examples
    --------
    >>> import numpy as np
    >>> idx, score = rank(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [2.0, 0.1]]), k=1)
    >>> int(idx[0, 0])
    1
    """
    k = check_positive_int(k, "k")
    queries = check_matrix(queries, "queries")
    corpus, check = _corpus(corpus, queries.shape[1])
    n = corpus.shape[0]
    k = min(k, n)
    q = queries * _inverse_norms(queries, queries, False)[0][:, None]
    rows = max(k, min(n, CHUNK_ELEMENTS // max(1, q.shape[0])))
    first = max(k, rows // FIRST_CHUNK_DIVISOR)
    buffer = np.empty((q.shape[0], rows), dtype=np.float32)
    best_idx = best_scores = None
    for start in [0, *range(first, n, rows)]:
        block = corpus[start : start + (first if start == 0 else rows)]
        scores = buffer[:, : block.shape[0]]
        inverse, huge = _inverse_norms(block, corpus, check)
        if huge:  # normalise first, so no product overflows
            np.matmul(q, (block * inverse[:, None]).T, out=scores)
        else:  # scale the scores, not the corpus: no copy of it
            np.matmul(q, block.T, out=scores)
            if np.abs(inverse - 1).max() > UNIT:
                scores *= inverse[None, :]
        if best_idx is None:
            best_idx, best_scores = _chunk_top_k(scores, k)
            continue
        # a later row wins only by a strictly higher score: ties go to the lower index
        hit_rows, columns = _winners(scores, best_scores[:, -1])
        if hit_rows.size:
            found = scores[hit_rows, columns]
            best_idx, best_scores = _merge(best_idx, best_scores, hit_rows, columns + start, found, k)
    return best_idx.astype(np.int64), best_scores.astype(np.float32)
