"""rank(): exact cosine top-k, in bounded memory, on every core.

The corpus is read in place (never copied or normalised): the threads take chunks of rows in
turn, score each (``unit queries @ chunk.T`` into one reused queries × rows buffer, scaled by the
rows' inverse norms unless they are unit length) and keep each query's best k, searching later
chunks only for scores above the k-th best so far. Arrays from ``embedlab.encode`` carry a mark
(:func:`mark_unit_rows`) that spares the pass measuring their rows' norms.

Why this layout: OpenBLAS runs ``queries @ chunk.T`` 10–20% faster than ``chunk @ queries.T`` at
100 × 384 (a 2-core EPYC, one thread, chunks of 1,024–8,192 rows: 74–84 against 67–74 GFLOP/s;
a 4096³ product runs at ~102), and each query's scores are one contiguous row, compared with its
k-th best in one pass.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

from ..validation import check_matrix, check_positive_int

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

#: Scores held at once per chunk and per thread (queries × corpus rows); 2^17 float32 = 512 KB, in
#: the core's cache while they are scaled and searched, and the chunk's rows (1,310 × 384-d for
#: 100 queries: 2 MB) still cached when the product reads them after the norms pass. (Measured for
#: 100 queries × 384-d, one thread: 2^17 is 1–7% faster than 2^16, 2^18 and 2^19; the matrix
#: product takes ~88% of the time.)
CHUNK_ELEMENTS = 1 << 17
#: Each thread's first chunk is searched in two parts, the first this many times smaller: its
#: full top-k search (8 bytes a score) is the costly one, and a rough k-th best is enough to skip
#: most of the rest.
FIRST_CHUNK_DIVISOR = 8
#: Rows whose inverse norm is within this of 1 count as unit length: their scores are used as
#: they come, with no scaling pass (off by under 1e-6). A normalised float32 vector is a few
#: roundings off: 1 row in 300 of all-MiniLM-L6-v2's is 2^-22 away, none further.
UNIT = 2.0**-20
#: A chunk where more than 1 score in this many beats its query's k-th best is cut to its own
#: best k per query at once, rather than keeping every winner (bounds memory on sorted corpora).
DENSE = 16
#: Queries whose best k in a chunk are found at once, when most of a chunk's scores are candidates:
#: argpartition's index array then holds 8 bytes for each score of these queries only.
TOP_K_QUERIES = 16
#: Queries scored together, at most: more would leave too few corpus rows per chunk for an
#: efficient matrix product (a map's neighbours rank every point against every point).
QUERY_GROUP = 512
#: Below this many multiply-adds (queries × corpus rows × dim) one thread does it all: handing
#: work to a second thread costs more than it saves.
PARALLEL_MIN_WORK = 1 << 25


# -- corpora known to have unit rows ----------------------------------------------------------

#: id of a marked array → a weak reference to it (the reference tells a reused id apart).
_unit_arrays: dict[int, weakref.ref] = {}


def mark_unit_rows(vectors: np.ndarray) -> bool:
    """Mark a read-only float32 matrix as having unit rows, if it has: :func:`rank` then trusts it.

    The rows' norms are measured once, here; a marked corpus (or a view of whole rows of it)
    skips that pass in every later :func:`rank`, with the same results. The mark lasts while
    the array lives and stays read-only: made writeable again, it is measured as any other.
    ``embedlab.encode`` returns such arrays (its rows are normalised by construction).

    Parameters
    ----------
    vectors : ndarray of shape (n, dim), float32, read-only
        Rows of norm 1 within float32 rounding (or all-zero rows, which score 0).

    Returns
    -------
    bool
        Whether the array is now marked: False when a row is not of unit length or not finite.

    Raises
    ------
    TypeError, ValueError
        When ``vectors`` is not a 2-D float32 ndarray, or is writeable (a later write could
        break the mark).
    """
    if not (isinstance(vectors, np.ndarray) and vectors.dtype == np.float32 and vectors.ndim == 2):
        raise TypeError(f"vectors must be a 2-D float32 ndarray, got {type(vectors).__name__}.")
    if vectors.flags.writeable:
        raise ValueError("vectors must be read-only (set vectors.flags.writeable = False), so the mark stays true.")
    for start in range(0, len(vectors), 1 << 16):  # measured in blocks: no n-long temporaries beyond one
        inverse, huge = _inverse_norms(vectors[start : start + (1 << 16)], vectors, False)
        if huge or not np.all(np.isfinite(inverse)) or _needs_scaling(inverse):
            return False
    key = id(vectors)

    def forget(_, key=key, arrays=_unit_arrays):
        if arrays.get(key) is ref:  # not a newer array's mark under the same id
            arrays.pop(key, None)

    ref = weakref.ref(vectors, forget)
    _unit_arrays[key] = ref
    return True


def has_unit_rows(corpus: object) -> bool:
    """Whether ``corpus`` is a marked array (:func:`mark_unit_rows`), or a view of whole rows of one, still read-only."""
    array = corpus
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return False
        ref = _unit_arrays.get(id(array))
        if ref is not None and ref() is array:
            return array is corpus or _whole_rows_of(corpus, array)
        array = array.base
    return False


def _whole_rows_of(view: np.ndarray, base: np.ndarray) -> bool:
    """Whether each row of ``view`` is a whole row of ``base`` (``base[a:b:c]``, not columns or a shifted window)."""
    row = base.strides[0]
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return (
        view.dtype == base.dtype
        and view.ndim == 2
        and view.shape[1] == base.shape[1]
        and view.strides[1] == base.strides[1]
        and row != 0
        and offset % row == 0
        and view.strides[0] % row == 0
    )


def _needs_scaling(inverse: np.ndarray) -> bool:
    """Whether scores must be multiplied by these inverse norms: some row is neither unit nor zero."""
    return bool(np.any((np.abs(inverse - 1) > UNIT) & (inverse != 0)))


# -- the search over one range of corpus rows -------------------------------------------------


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


def _merge(best_idx, best_scores, found, k):
    """Each query's best k among its best so far and the ``found`` (rows, queries, scores) candidates.

    The candidates come in the order they were found, rows ascending, all after the best so far;
    so a stable sort by score keeps equal scores in index order, and ties go to the lower index.
    """
    n_queries = best_idx.shape[0]
    new_rows, new_queries, new_scores = zip(*found, strict=True)
    rows = np.concatenate([best_idx.ravel(), *new_rows])
    queries = np.concatenate([np.repeat(np.arange(n_queries), k), *new_queries])
    scores = np.concatenate([best_scores.ravel(), *new_scores])
    order = np.lexsort((-scores, queries))  # by query, then best first (stable: lower index first)
    starts = np.concatenate([[0], np.cumsum(np.bincount(queries, minlength=n_queries))[:-1]])
    take = order[(starts[:, None] + np.arange(k)).ravel()]
    return rows[take].reshape(n_queries, k), scores[take].reshape(n_queries, k)


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


def _score(block, queries, out, unit, corpus, check) -> None:
    """Cosine scores of the unit ``queries`` against the rows of ``block``, into ``out`` (queries × rows)."""
    if unit:
        np.matmul(queries, block.T, out=out)
        return
    inverse, huge = _inverse_norms(block, corpus, check)
    if huge:  # normalise first, so no product overflows
        np.matmul(queries, (block * inverse[:, None]).T, out=out)
        return
    np.matmul(queries, block.T, out=out)  # scale the scores, not the corpus: no copy of it
    if _needs_scaling(inverse):  # a zero row scores 0 either way
        out *= inverse


class _Chunks:
    """The chunks of rows to score, handed out in order to whichever thread asks next.

    Each thread gets ascending rows, so within a thread a later row always has a higher index
    (ties go to the lower index by comparing strictly). A thread slowed by other programs
    takes fewer chunks instead of holding up the others.
    """

    def __init__(self, n: int, rows: int) -> None:
        self._starts = iter(range(0, n, rows))
        self._lock = threading.Lock()
        self.rows, self.n = rows, n

    def next(self) -> int | None:
        """The first row of the next chunk, or None when all are taken (or after :meth:`stop`)."""
        with self._lock:
            return next(self._starts, None)

    def stop(self) -> None:
        """Hand out no more chunks (a thread failed: the others finish their current one and return)."""
        with self._lock:
            self._starts = iter(())


def _candidates(block, start, queries, cut, k, buffers, unit, corpus, check):
    """The rows of ``block`` (``start`` its first row's index) that may enter a query's best k.

    Returns (rows, queries, scores) of the scores above the query's ``cut`` (its k-th best so
    far; a later row wins only by a strictly higher score, so ties go to the lower index) — or,
    when most scores are (a first search, a corpus sorted by score), the block's own best k per
    query — or None. ``buffers``: the scores' float32 buffer and the comparison's bool one.
    """
    n_queries = queries.shape[0]
    scores = buffers[0][: n_queries * len(block)].reshape(n_queries, len(block))
    _score(block, queries, scores, unit, corpus, check)
    mask = np.greater(scores, cut, out=buffers[1][: scores.size].reshape(scores.shape))
    n_hits = np.count_nonzero(mask)
    if n_hits > scores.size // DENSE:  # a few queries at a time: argpartition's indices take 8 bytes a score
        tops = [_chunk_top_k(scores[q : q + TOP_K_QUERIES], k) for q in range(0, n_queries, TOP_K_QUERIES)]
        top, top_scores = (np.concatenate(part) for part in zip(*tops, strict=True))
        return (top + start).ravel(), np.repeat(np.arange(n_queries), top.shape[1]), top_scores.ravel()
    if not n_hits:
        return None
    hits = np.flatnonzero(mask)
    hit_queries, hit_rows = np.divmod(hits, len(block))
    return hit_rows + start, hit_queries, scores.ravel()[hits]


def _search(queries, corpus, chunks, k, unit, check):
    """Best k rows of the chunks this thread takes, for each of the unit ``queries``, best first.

    Each chunk is scored into one buffer of queries × ``chunks.rows``. Only scores above the
    query's k-th best so far are kept, and merged into the best k once there are as many of them
    as best ones. The best start as k placeholders (index -1, score -inf): the first rows of the
    thread's first chunk are searched in full, alone, for a rough cut; a thread that sees fewer
    than k rows returns some placeholders.
    """
    n_queries = queries.shape[0]
    buffers = np.empty(n_queries * chunks.rows, dtype=np.float32), np.empty(n_queries * chunks.rows, dtype=bool)
    best_idx = np.full((n_queries, k), -1, dtype=np.int64)
    best_scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
    found, n_found, first = [], 0, True
    try:
        while (start := chunks.next()) is not None:
            stop = min(chunks.n, start + chunks.rows)
            middle = min(stop, start + max(k, chunks.rows // FIRST_CHUNK_DIVISOR)) if first else start
            first = False
            for begin, end in ((start, middle), (middle, stop)):
                if begin == end:
                    continue
                cut = best_scores[:, -1:]
                hit = _candidates(corpus[begin:end], begin, queries, cut, k, buffers, unit, corpus, check)
                if hit is not None:
                    found.append(hit)
                    n_found += hit[0].size
                if n_found >= best_idx.size:
                    best_idx, best_scores = _merge(best_idx, best_scores, found, k)
                    found, n_found = [], 0
    except BaseException:
        chunks.stop()  # an error (a NaN found): the other threads stop too
        raise
    if found:
        best_idx, best_scores = _merge(best_idx, best_scores, found, k)
    return best_idx, best_scores


# -- threads: one search per core, taking chunks of rows in turn -------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_blas_libraries = None
_parallel_lock = threading.Lock()


def _blas():
    """The BLAS libraries loaded (numpy's), through threadpoolctl: their thread counts, and limits."""
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController  # only once a search is big enough to share

        _blas_libraries = ThreadpoolController().select(user_api="blas")
    return _blas_libraries


def _threads() -> int:
    """Threads to search with: as many as the BLAS library may use (it follows the user's limits), cores allowing."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min([cores, *(library["num_threads"] for library in _blas().info())]))


def _search_in_parallel(queries, corpus, k, rows, unit, check, threads):
    """Search the chunks of rows on ``threads`` threads, each with a one-thread BLAS, and merge their best."""
    from concurrent.futures import ThreadPoolExecutor, wait  # only for searches big enough to share

    global _pool, _pool_size
    chunks = _Chunks(corpus.shape[0], rows)
    with _parallel_lock:  # the BLAS thread count is process-wide: one parallel search at a time
        if _pool_size < threads - 1:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(threads - 1, thread_name_prefix="embedlab-rank"), threads - 1
        with _blas().limit(limits=1):
            others = [_pool.submit(_search, queries, corpus, chunks, k, unit, check) for _ in range(1, threads)]
            try:
                parts = [_search(queries, corpus, chunks, k, unit, check)]
            finally:  # an error (a NaN found) leaves no search running behind it
                chunks.stop()
                wait(others)
            parts += [future.result() for future in others]
    return _best_first(np.concatenate([p[0] for p in parts], 1), np.concatenate([p[1] for p in parts], 1), k)


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

    The corpus is scored in chunks, taken in turn by one thread per core (as many threads as the
    BLAS library may use, each running a one-thread BLAS), so the scores never exist all at once:
    beyond its inputs and outputs a call holds ~8 bytes per score of one chunk per thread
    (``CHUNK_ELEMENTS`` scores: 1 MB a thread; the scores, their comparison, and up to 1 in 16
    of them kept as candidates with their rows), whatever the corpus size — at most 24 (3 MB),
    reached only when most scores beat all before them (a corpus sorted by score). Each thread
    keeps its queries' best k so far; in later chunks only scores above a query's k-th best
    are kept, so little more than the matrix product is left. A corpus that
    ``embedlab.encode`` returned is known to have unit rows (:func:`mark_unit_rows`): its norms
    are not measured again, with the same results. ``bench/rank.py`` compares it with torch,
    numpy and the machine's matrix-multiply bound.

    While a large search runs, numpy's BLAS runs on one thread in the whole process (its thread
    count is process-wide); concurrent large searches take turns.

    Examples
    --------
    >>> import numpy as np
    >>> idx, score = rank(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [2.0, 0.1]]), k=1)
    >>> int(idx[0, 0])
    1
    """
    k = check_positive_int(k, "k")
    queries = check_matrix(queries, "queries")
    unit = has_unit_rows(corpus) and corpus.shape[1] == queries.shape[1] and corpus.shape[0] > 0
    corpus, check = (corpus, False) if unit else _corpus(corpus, queries.shape[1])
    n = corpus.shape[0]
    k = min(k, n)
    unit_queries = queries * _inverse_norms(queries, queries, False)[0][:, None]
    parts = [
        _rank_group(np.ascontiguousarray(unit_queries[start : start + QUERY_GROUP]), corpus, k, unit, check)
        for start in range(0, len(unit_queries), QUERY_GROUP)
    ]
    best_idx, best_scores = parts[0] if len(parts) == 1 else map(np.concatenate, zip(*parts, strict=True))
    return best_idx.astype(np.int64), best_scores.astype(np.float32)


def _rank_group(queries, corpus, k, unit, check):
    """Best k of the corpus rows for each of the unit ``queries``, on as many threads as pay."""
    n = corpus.shape[0]
    threads = min(_threads(), n // k) if n * queries.size >= PARALLEL_MIN_WORK else 1
    rows = max(k, min(CHUNK_ELEMENTS // queries.shape[0], -(-n // threads)))
    if threads > 1:
        return _search_in_parallel(queries, corpus, k, rows, unit, check, threads)
    return _search(queries, corpus, _Chunks(n, rows), k, unit, check)
