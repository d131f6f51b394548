"""How closely a backend's vectors agree with the same model's torch-fp32 vectors.

Two measures, on texts the user cares about:

* cosine of each text's vector to its torch-fp32 vector (mean and minimum) over the corpus's
  distinct texts (at most :data:`MAX_TEXTS`), the queries and the traces;
* top-1 agreement: the share of queries whose best trace (highest cosine) is the one torch-fp32
  ranks first — on the Trace Retrieval page's traces and queries when the user has them, else on
  the lesson's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_TEXTS", "Agreement", "AgreementSet", "agreement", "agreement_set"]

#: Corpus texts (distinct, in order) whose cosines are measured.
MAX_TEXTS = 256


@dataclass(frozen=True)
class AgreementSet:
    """The texts a backend is checked on: ``texts`` (cosines only), ``queries`` and ``traces``
    (cosines and top-1), and ``source`` in words ("the lesson's 3 queries over 3 traces")."""

    texts: tuple[str, ...]
    queries: tuple[str, ...]
    traces: tuple[str, ...]
    source: str

    @property
    def all_texts(self) -> list[str]:
        """Every text to encode, in the order :func:`agreement` reads the vectors."""
        return [*self.texts, *self.queries, *self.traces]


@dataclass(frozen=True)
class Agreement:
    """Cosines to torch-fp32 (``cosine_mean``, ``cosine_min``) and ``top1_agreement`` over ``top1_queries``."""

    cosine_mean: float
    cosine_min: float
    top1_agreement: float
    top1_queries: int


def agreement_set(
    corpus: Sequence[str], queries: Sequence[str] | None = None, traces: Sequence[str] | None = None
) -> AgreementSet:
    """The texts to check backends on: the corpus's distinct texts and the given queries and traces,
    or the lesson's (:data:`embedlab.seed.QUERIES` over :data:`embedlab.seed.TRACES`) when none are given.

    >>> agreement_set(["a", "a", "b"]).texts
    ('a', 'b')
    """
    from .. import seed

    distinct = tuple(dict.fromkeys(corpus))[:MAX_TEXTS]
    if queries and traces:
        queries, traces = tuple(queries), tuple(traces)
        source = f"the Trace Retrieval page's {len(queries):,} queries over {len(traces):,} traces"
    else:
        queries = tuple(seed.QUERIES)
        traces = tuple(seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES)
        source = f"the lesson's {len(queries)} queries over {len(traces)} traces"
    return AgreementSet(distinct, queries, traces, source)


def agreement(vectors: np.ndarray, reference: np.ndarray, texts: AgreementSet) -> Agreement:
    """Compare ``vectors`` with ``reference``, both the unit rows of ``texts.all_texts``.

    Parameters
    ----------
    vectors, reference : ndarray of shape (n, dim)
        The backend's vectors and the torch-fp32 vectors of the same texts (normalised here).
    texts : AgreementSet

    Returns
    -------
    Agreement
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if vectors.shape != reference.shape or vectors.shape[0] != len(texts.all_texts):
        raise ValueError(
            f"vectors and reference must both have one row per text ({len(texts.all_texts)}), "
            f"got shapes {vectors.shape} and {reference.shape}."
        )
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    reference = reference / np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    cosines = np.einsum("ij,ij->i", vectors, reference)
    start = len(texts.texts)
    n_queries = len(texts.queries)
    queries = slice(start, start + n_queries)
    traces = slice(start + n_queries, None)
    ours = np.argmax(vectors[queries] @ vectors[traces].T, axis=1)
    theirs = np.argmax(reference[queries] @ reference[traces].T, axis=1)
    return Agreement(float(cosines.mean()), float(cosines.min()), float(np.mean(ours == theirs)), n_queries)
