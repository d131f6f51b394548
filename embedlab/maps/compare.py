"""Two models, one map: the second model's map lined up with the first, and what moved between them.

* :func:`neighbour_overlap` — per sentence, the share of its ``k`` nearest neighbours (cosine) that
  both models agree on; :func:`compare_neighbours` keeps the neighbours too, for
  :meth:`NeighbourComparison.moved` (the sentences whose neighbourhoods changed most);
* :func:`procrustes_align` — rotate, reflect, scale and shift one map onto another (orthogonal
  Procrustes), which leaves every distance ratio — and so the map's faithfulness — unchanged;
* :func:`compare_maps` — draw the second model's map of a :class:`~embedlab.maps.pipeline.MapResult`'s
  sentences, lined up with it, and compare the two neighbourhoods.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = rng.normal(size=(50, 8))
>>> float(neighbour_overlap(a, 2 * a, k=5).mean())  # the same directions: the same neighbours
1.0
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from ..models.embedders import Embedder
from ..validation import check_choice, check_matrix, check_positive_int
from .pipeline import MapProgress, MapResult, build_map
from .quality import cosine_neighbours

__all__ = [
    "ALIGNMENTS",
    "DEFAULT_ALIGNMENT",
    "DEFAULT_K",
    "Alignment",
    "ComparedMaps",
    "NeighbourComparison",
    "compare_maps",
    "compare_neighbours",
    "neighbour_overlap",
    "pair_key",
    "procrustes_align",
]

Alignment = Literal["procrustes", "tsne_init"]
#: "procrustes": project the second model on its own, then rotate/reflect/scale it onto the first map;
#: "tsne_init": start the second model's t-SNE from the first map (then rotate it the last bit).
ALIGNMENTS: tuple[str, ...] = ("procrustes", "tsne_init")
#: Measured in bench/align.py (its docstring has the table): the second map's trustworthiness@10 is
#: the same either way within a few thousandths (less than a change of seed moves it), but Procrustes
#: keeps it *exactly* as faithful as that model's map drawn alone, reuses the cached projection (0.1 s
#: against up to 8 s at 1,000 points) and works for every method, so it is the default.
DEFAULT_ALIGNMENT: Alignment = "procrustes"
#: Neighbours compared per sentence unless told otherwise.
DEFAULT_K = 10


def _clamped_k(k: object, n: int) -> int:
    """``k`` checked (an int ≥ 1) and clamped to ``n - 1``: a row has only ``n - 1`` others."""
    return min(check_positive_int(k, "k"), n - 1)


def _checked_pair(vectors_a, vectors_b) -> tuple[np.ndarray, np.ndarray]:
    a = check_matrix(vectors_a, "vectors_a")
    b = check_matrix(vectors_b, "vectors_b")
    if len(a) != len(b):
        raise ValueError(
            f"vectors_a and vectors_b must have one row per sentence each, the same count; got {len(a)} and {len(b)}."
        )
    return a, b


@dataclass(frozen=True)
class NeighbourComparison:
    """Each sentence's ``k`` nearest neighbours under two models, and how many they share.

    Attributes
    ----------
    overlap : ndarray of shape (n,), float64
        Shared neighbours ÷ ``k`` per row, in [0, 1] (NaN for every row when n = 1).
    neighbours_a, neighbours_b : ndarray of shape (n, k), int64
        Row numbers of each row's neighbours under each model, nearest first.
    k : int
        Neighbours compared: the ``k`` asked for, clamped to n − 1.
    """

    overlap: np.ndarray = field(repr=False)
    neighbours_a: np.ndarray = field(repr=False)
    neighbours_b: np.ndarray = field(repr=False)
    k: int

    @property
    def mean(self) -> float:
        """The overall figure: mean overlap over the sentences (NaN when n = 1)."""
        return float(self.overlap.mean()) if self.k else float("nan")

    def moved(
        self,
        texts: Sequence[str],
        *,
        names: tuple[str, str] = ("first model", "second model"),
        top: int = 10,
        labels: Sequence[str] | None = None,
    ):
        """The ``top`` sentences whose neighbourhoods changed most (lowest overlap; ties in row order).

        Parameters
        ----------
        texts : sequence of str
            One per row.
        names : (str, str)
            The two models, used in the neighbour columns' names.
        top : int, default 10
        labels : sequence of str, optional
            One per row; adds a label column.

        Returns
        -------
        DataFrame with columns row (1-based), sentence, [label,] overlap (float),
        shared (int), "neighbours under <name a>", "neighbours under <name b>" (lists of
        sentences, nearest first).
        """
        import pandas as pd

        n = len(self.overlap)
        if len(texts) != n:
            raise ValueError(f"texts must have one entry per row ({n}), got {len(texts)}.")
        if labels is not None and len(labels) != n:
            raise ValueError(f"labels must have one entry per row ({n}), got {len(labels)}.")
        top = check_positive_int(top, "top")
        column_a, column_b = (f"neighbours under {name}" for name in names)
        if column_a == column_b:
            column_a, column_b = column_a + " (1)", column_b + " (2)"
        rows = np.argsort(self.overlap, kind="stable")[:top] if self.k else np.arange(min(top, n))
        table = {"row": rows + 1, "sentence": [texts[i] for i in rows]}
        if labels is not None:
            table["label"] = [labels[i] for i in rows]
        table["overlap"] = self.overlap[rows]
        table["shared"] = np.rint(self.overlap[rows] * self.k).astype(int) if self.k else 0
        table[column_a] = [[texts[j] for j in self.neighbours_a[i]] for i in rows]
        table[column_b] = [[texts[j] for j in self.neighbours_b[i]] for i in rows]
        return pd.DataFrame(table)


def compare_neighbours(vectors_a, vectors_b, *, k: int = DEFAULT_K) -> NeighbourComparison:
    """Each row's ``k`` nearest neighbours (cosine, itself excluded) under two sets of vectors.

    Parameters
    ----------
    vectors_a, vectors_b : array-like of shape (n, d_a) and (n, d_b)
        The same n sentences embedded by two models (widths may differ); finite numbers.
    k : int, default 10
        At least 1. Clamped to n − 1, the number of other rows; with one row there is nothing to
        compare and the overlap is NaN.

    Returns
    -------
    NeighbourComparison

    Raises
    ------
    ValueError, TypeError
        Row counts that differ, NaN or infinity, a ``k`` below 1; the message names the parameter.
    """
    a, b = _checked_pair(vectors_a, vectors_b)
    n = len(a)
    used = _clamped_k(k, n)
    if used == 0:
        empty = np.empty((n, 0), dtype=np.int64)
        return NeighbourComparison(np.full(n, np.nan), empty, empty, 0)
    near_a, near_b = cosine_neighbours(a, used), cosine_neighbours(b, used)
    # |N_a ∩ N_b| per row: a row's neighbours are distinct under each model, so after sorting
    # both lists together every shared neighbour is one pair of equal neighbours side by side
    both = np.sort(np.concatenate([near_a, near_b], axis=1), axis=1)
    shared = (both[:, 1:] == both[:, :-1]).sum(axis=1).astype(np.float64)
    for array in (near_a, near_b):
        array.setflags(write=False)
    overlap = shared / used
    overlap.setflags(write=False)
    return NeighbourComparison(overlap, near_a, near_b, used)


def neighbour_overlap(vectors_a, vectors_b, *, k: int = DEFAULT_K) -> np.ndarray:
    """Per row, the share of its ``k`` nearest neighbours (cosine, itself excluded) both models agree on.

    Parameters
    ----------
    vectors_a, vectors_b : array-like of shape (n, d_a) and (n, d_b)
        The same n sentences under two models, in the same order.
    k : int, default 10
        Clamped to n − 1 (each row has only n − 1 others); NaN for every row when n = 1.

    Returns
    -------
    ndarray of shape (n,), float64
        Values in {0, 1/k, ..., 1}: 1 where both models give a sentence the same ``k`` neighbours.

    Raises
    ------
    ValueError, TypeError
        ``vectors_a`` and ``vectors_b`` with different row counts, NaN or infinity, ``k`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1.0, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    >>> neighbour_overlap(a, a[:, ::-1], k=1).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return compare_neighbours(vectors_a, vectors_b, k=k).overlap


def procrustes_align(points, reference) -> np.ndarray:
    """``points`` rotated (or reflected), scaled and shifted to lie as close as possible over ``reference``.

    Orthogonal Procrustes (:func:`scipy.linalg.orthogonal_procrustes`) on both point sets centred
    and scaled to unit size; the result takes ``reference``'s centre and size. Only rotation,
    reflection, one uniform scale and a shift are used, so every ratio of distances in ``points``
    is kept: the map's neighbourhoods, and its trustworthiness, do not change.

    Parameters
    ----------
    points : array-like of shape (n, d)
        The map to move (d = 2 or 3).
    reference : array-like of shape (n, d)
        The map to line it up with; row i of both is the same sentence.

    Returns
    -------
    ndarray of shape (n, d), float32

    Examples
    --------
    >>> import numpy as np
    >>> square = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1]])
    >>> turned = square @ np.array([[0.0, -1], [1, 0]]) * 3 + 5
    >>> bool(np.allclose(procrustes_align(turned, square), square, atol=1e-6))
    True
    """
    from scipy.linalg import orthogonal_procrustes

    p = check_matrix(points, "points").astype(np.float64)
    r = check_matrix(reference, "reference").astype(np.float64)
    if p.shape != r.shape:
        raise ValueError(f"points must have the shape of reference {r.shape}, got {p.shape}.")
    p_centred, r_centre = p - p.mean(axis=0), r.mean(axis=0)
    r_centred = r - r_centre
    p_size, r_size = np.linalg.norm(p_centred), np.linalg.norm(r_centred)
    if p_size == 0 or r_size == 0:  # a single spot: nothing to turn
        return (p_centred + r_centre).astype(np.float32)
    rotation, _ = orthogonal_procrustes(p_centred / p_size, r_centred / r_size)
    return ((p_centred / p_size) @ rotation * r_size + r_centre).astype(np.float32)


@dataclass(frozen=True)
class ComparedMaps:
    """Two models' maps of the same sentences, the second lined up with the first, and what moved.

    Attributes
    ----------
    first : MapResult
    second : MapResult
        The second model's map; its ``points`` are lined up with ``first.points``.
    alignment : {"procrustes", "tsne_init"}
        What lined them up (t-SNE's start only when t-SNE ran; otherwise Procrustes).
    note : str
        A sentence for the user when ``alignment`` differs from what was asked, else "".
    neighbours : NeighbourComparison
        Cosine neighbours in each model's own space (not on the maps).
    key : str
        Identifies the pair: the first map, the second model and the alignment asked for.
    """

    first: MapResult
    second: MapResult
    alignment: str
    note: str
    neighbours: NeighbourComparison = field(repr=False)
    key: str

    @property
    def overlap(self) -> np.ndarray:
        """Per sentence, the share of its neighbours both models agree on; shape (n,)."""
        return self.neighbours.overlap

    def moved(self, *, top: int = 10):
        """The sentences whose neighbourhoods changed most: :meth:`NeighbourComparison.moved`."""
        return self.neighbours.moved(
            self.first.texts, names=(self.first.model, self.second.model), top=top, labels=self.first.labels
        )


def pair_key(first: MapResult, model: str | Embedder, alignment: str, k: int = DEFAULT_K) -> str:
    """:attr:`ComparedMaps.key` of comparing ``first`` with ``model`` (a page compares it with what it holds)."""
    name = model.cache_key if isinstance(model, Embedder) else str(model)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((first.key, first.digest, name, alignment, k)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def compare_maps(
    first: MapResult,
    model: str | Embedder,
    *,
    alignment: Alignment = DEFAULT_ALIGNMENT,
    k: int = DEFAULT_K,
    progress: Callable[[MapProgress], None] | None = None,
) -> ComparedMaps:
    """Draw ``model``'s map of ``first``'s sentences with ``first``'s settings, lined up with it.

    Parameters
    ----------
    first : MapResult
        The map to compare with (:func:`embedlab.maps.pipeline.build_map`).
    model : str or Embedder
        The second model: a catalog name or an Embedder (e.g. the user's own vectors).
    alignment : {"procrustes", "tsne_init"}, default DEFAULT_ALIGNMENT
        "procrustes": project on its own, then :func:`procrustes_align`. "tsne_init": start the
        second t-SNE from ``first.points``, then :func:`procrustes_align` (removes what is left of
        a turn without changing the map). Without t-SNE (PCA, UMAP, tiny inputs) Procrustes runs
        and ``note`` says so.
    k : int, default 10
        Neighbours compared per sentence (:func:`compare_neighbours`).
    progress : callable, optional
        As for :func:`build_map`.

    Returns
    -------
    ComparedMaps

    Raises
    ------
    ValueError, TypeError, embedlab.ModelUnavailable
        As :func:`build_map` does for the second model; a bad ``alignment`` or ``k``.
    """
    if not isinstance(first, MapResult):
        raise TypeError(f"first must be a MapResult (from build_map), got {type(first).__name__}.")
    alignment = check_choice(alignment, "alignment", ALIGNMENTS)
    check_positive_int(k, "k")
    settings = first.settings
    init = first.points if alignment == "tsne_init" and first.plan.method == "tsne" else None
    second = build_map(
        first.texts,
        model=model,
        method=settings.method,
        dims=settings.n_components,
        perplexity=settings.perplexity,
        n_neighbors=settings.n_neighbors,
        random_state=settings.random_state,
        labels=first.labels,
        init=init,
        progress=progress,
    )
    used, note = alignment, ""
    if alignment == "tsne_init" and init is None:
        used = "procrustes"
        note = "Only t-SNE can start from the first map; the second map was turned onto it instead (Procrustes)."
    points = procrustes_align(second.points, first.points)
    points.setflags(write=False)
    return ComparedMaps(
        first=first,
        second=replace(second, points=points),
        alignment=used,
        note=note,
        neighbours=compare_neighbours(first.embeddings, second.embeddings, k=k),
        key=pair_key(first, model, alignment, k),
    )
