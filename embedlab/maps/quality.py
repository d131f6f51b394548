"""How faithful a projection is, and how well labels cluster in the original space."""

from __future__ import annotations

import numpy as np

from ..retrieval.ranking import rank
from ..validation import check_matrix, check_positive_int


def cosine_neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` nearest other rows by cosine, nearest first; shape (n, k), int64.

    Exact (:func:`embedlab.rank`, bounded memory); ties go to the lower row. A row is never its
    own neighbour, even when another row has the same vector. Expects a checked matrix and k < n.
    """
    indices, _ = rank(x, x, k=k + 1)
    out = np.empty((len(x), k), dtype=np.int64)
    for i, row in enumerate(indices):
        others = row[row != i]
        out[i] = others[:k]
    return out


def trustworthiness(embeddings, points, *, k: int = 10) -> float:
    """scikit-learn's trustworthiness of ``points`` (the projection) to ``embeddings``, cosine.

    ``k`` is clamped below half the number of points, as the measure requires. 1.0 is perfect.
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    x = check_matrix(embeddings, "embeddings")
    y = check_matrix(points, "points")
    if len(x) != len(y):
        raise ValueError(f"points must have one row per embedding ({len(x)}), got {len(y)}.")
    k = check_positive_int(k, "k")
    k = min(k, (len(x) - 1) // 2)
    if k < 1:
        return float("nan")
    return float(sk_trustworthiness(x, y, n_neighbors=k, metric="cosine"))


def neighbour_kept(embeddings, points, *, k: int = 10) -> float:
    """Share of points whose nearest neighbour in the projection is among their ``k`` nearest
    (cosine) in the original space."""
    x = check_matrix(embeddings, "embeddings")
    y = check_matrix(points, "points")
    if len(x) < 2:
        return float("nan")
    k = min(check_positive_int(k, "k"), len(x) - 1)
    original = cosine_neighbours(x, k)
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1) if len(y) <= 4000 else None
    if d is None:
        from sklearn.neighbors import NearestNeighbors

        nearest = NearestNeighbors(n_neighbors=2).fit(y).kneighbors(y, return_distance=False)[:, 1]
    else:
        np.fill_diagonal(d, np.inf)
        nearest = d.argmin(axis=1)
    return float(np.mean([nearest[i] in original[i] for i in range(len(x))]))


def neighbour_kept_chance(n: int, *, k: int = 10) -> float:
    """What :func:`neighbour_kept` scores on a random layout of ``n`` points: its chance level.

    On a layout that ignores the embeddings, a point's nearest neighbour on the map is any of
    the ``n - 1`` others with equal probability, and ``k`` of them (clamped to ``n - 1``, as
    :func:`neighbour_kept` clamps it) are among its nearest in the original space, so the
    expected share is ``k / (n - 1)``: 10 / 15 ≈ 67% for 16 sentences. NaN below 2 points.

    >>> round(neighbour_kept_chance(16), 4)
    0.6667
    """
    n = check_positive_int(n, "n")
    if n < 2:
        return float("nan")
    return min(check_positive_int(k, "k"), n - 1) / (n - 1)


def silhouette(embeddings, labels) -> float:
    """Silhouette of the labels in the original space (cosine); NaN when undefined."""
    from sklearn.metrics import silhouette_score

    x = check_matrix(embeddings, "embeddings")
    labels = np.asarray(labels)
    if len(labels) != len(x):
        raise ValueError(f"labels must have one entry per embedding ({len(x)}), got {len(labels)}.")
    n_labels = len(np.unique(labels))
    if not 2 <= n_labels <= len(x) - 1:
        return float("nan")
    return float(silhouette_score(x, labels, metric="cosine"))


def knn_label_agreement(embeddings, labels, *, k: int = 5) -> float:
    """Mean share of each point's ``k`` nearest neighbours (cosine) that carry its label."""
    x = check_matrix(embeddings, "embeddings")
    labels = np.asarray(labels)
    if len(labels) != len(x):
        raise ValueError(f"labels must have one entry per embedding ({len(x)}), got {len(labels)}.")
    if len(x) < 2:
        return float("nan")
    k = min(check_positive_int(k, "k"), len(x) - 1)
    neighbours = cosine_neighbours(x, k)
    return float((labels[neighbours] == labels[:, None]).mean())
