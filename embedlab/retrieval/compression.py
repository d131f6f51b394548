"""Truncated and quantised vectors, scored: where each query's right answer ranks.

The scoring behind :func:`embedlab.retrieval.storage.storage_table`, one precision at a time:

* float32 — cosine similarity of the truncated vectors (:func:`embedlab.rank`, as
  :func:`embedlab.evaluate_retrieval` ranks);
* int8 — sentence-transformers' ``quantize_embeddings(..., "int8")`` with ranges calibrated on
  the corpus (queries use the corpus's ranges), scored by the integer dot product of the codes;
* binary — ``quantize_embeddings(..., "binary")`` (sign bits), scored by Hamming distance, fewest
  differing bits first, computed as the dot product of the ±1 vectors (``dims − 2 × Hamming``:
  the same order).

Integer scores are exact (sums of integers, in float32 below 2**24 and float64 above); equal scores
go to the earlier corpus entry, as everywhere in embedlab.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np

from .ranking import rank

__all__ = ["PRECISIONS", "SCORING", "bytes_per_vector", "check_relevant", "precision_ranks", "unit_truncation"]

#: The precisions compared at every width, cheapest last.
PRECISIONS: tuple[str, ...] = ("float32", "int8", "binary")
#: How each precision is scored.
SCORING: dict[str, str] = {
    "float32": "cosine similarity of the truncated vectors",
    "int8": "integer dot product of the int8 codes (ranges calibrated on the corpus)",
    "binary": "Hamming distance of the sign bits (fewest differing bits first)",
}
#: Scores held at once when scoring integer codes (queries × corpus rows).
CHUNK_ELEMENTS = 1 << 21


def bytes_per_vector(dims: int, precision: str) -> int:
    """Bytes one vector of ``dims`` numbers takes: 4 each in float32, 1 in int8, 1 bit in binary."""
    return {"float32": 4 * dims, "int8": dims, "binary": math.ceil(dims / 8)}[precision]


def unit_truncation(vectors: np.ndarray, dims: int) -> np.ndarray:
    """The first ``dims`` columns of float32 ``vectors``, each row divided by its norm (zero rows stay zero)."""
    part = np.ascontiguousarray(vectors[:, :dims], dtype=np.float32)
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    return part / np.where(norms > 0, norms, 1)


def check_relevant(relevant, n_queries: int, n_corpus: int) -> list[np.ndarray]:
    """``relevant`` as one sorted int array of corpus positions per query; TypeError/ValueError naming it."""
    if isinstance(relevant, (str, bytes)) or not isinstance(relevant, (Sequence, np.ndarray)):
        raise TypeError(f"relevant must be a list with one corpus position per query, got {type(relevant).__name__}.")
    if len(relevant) != n_queries:
        raise ValueError(f"relevant must hold one entry per query: got {len(relevant)} for {n_queries} queries.")
    out = []
    for q, item in enumerate(relevant):
        many = isinstance(item, (Collection, np.ndarray)) and not isinstance(item, (str, bytes))
        values = list(item) if many else [item]
        if not values:
            raise ValueError(f"relevant[{q}] is empty; give at least one corpus position.")
        for value in values:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"relevant[{q}] must be a corpus position (an int), got {value!r}.")
            if not 0 <= value < n_corpus:
                raise ValueError(f"relevant[{q}] is {value}, outside the corpus positions 0..{n_corpus - 1}.")
        out.append(np.unique(np.asarray(values, dtype=np.int64)))
    return out


def precision_ranks(q: np.ndarray, c: np.ndarray, relevant: list[np.ndarray], *, k: int) -> dict[str, np.ndarray]:
    """Per precision, the 1-based rank of each query's first relevant entry (0: not in the top ``k``).

    ``q`` and ``c`` are unit-length float32 rows of one width (:func:`unit_truncation`),
    ``relevant`` is :func:`check_relevant`'s. float32 ranks only within the top ``k`` (enough
    for accuracy@1 and MRR@k); int8 and binary give every rank exactly.
    """
    from sentence_transformers.util.quantization import quantize_embeddings  # imports torch: only here

    width = q.shape[1]
    # Integer codes as floats: every partial sum is an integer of at most width × 128² (int8) or
    # width (±1), so float32 sums are exact below 2**24 and float64 ones below 2**53.
    exact = np.float32 if width * 128 * 128 <= 2**24 else np.float64
    return {
        "float32": _float_ranks(q, c, relevant, k),
        "int8": _exact_ranks(
            quantize_embeddings(q, "int8", calibration_embeddings=c).astype(exact),
            quantize_embeddings(c, "int8", calibration_embeddings=c).astype(exact),
            relevant,
        ),
        "binary": _exact_ranks(
            _signs(quantize_embeddings(q, "binary"), width), _signs(quantize_embeddings(c, "binary"), width), relevant
        ),
    }


def _signs(codes: np.ndarray, dims: int) -> np.ndarray:
    """±1 (float32: exact for sums below 2**24) from ``quantize_embeddings(..., "binary")``'s packed bits
    (stored as int8 − 128)."""
    bits = np.unpackbits((codes.astype(np.int16) + 128).astype(np.uint8), axis=1, count=dims)
    return bits.astype(np.float32) * 2 - 1


def _float_ranks(q: np.ndarray, c: np.ndarray, relevant: list[np.ndarray], k: int) -> np.ndarray:
    """1-based rank of each query's first relevant entry within the top k by cosine; 0 beyond."""
    top, _ = rank(q, c, k=k)
    ranks = np.zeros(len(q), dtype=np.int64)
    for i, wanted in enumerate(relevant):
        hits = np.flatnonzero(np.isin(top[i], wanted))
        if hits.size:
            ranks[i] = hits[0] + 1
    return ranks


def _exact_ranks(q: np.ndarray, c: np.ndarray, relevant: list[np.ndarray]) -> np.ndarray:
    """1-based rank of each query's best relevant entry by exact integer score (ties: lower index first).

    rank = 1 + (entries scoring higher) + (entries scoring the same at an earlier position).
    """
    ranks = np.empty(len(q), dtype=np.int64)
    step = max(1, CHUNK_ELEMENTS // len(c))
    positions = np.arange(len(c))
    for start in range(0, len(q), step):
        scores = q[start : start + step] @ c.T  # exact: see precision_ranks
        best = np.empty(len(scores), dtype=np.int64)
        for offset, row in enumerate(scores):
            wanted = relevant[start + offset]  # sorted: argmax picks the lowest position among equals
            best[offset] = wanted[0] if len(wanted) == 1 else wanted[np.argmax(row[wanted])]
        top = scores[np.arange(len(scores)), best][:, None]
        ahead = (scores > top).sum(axis=1) + ((scores == top) & (positions < best[:, None])).sum(axis=1)
        ranks[start : start + len(scores)] = 1 + ahead
    return ranks
