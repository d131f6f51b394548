"""The Space Explorer's building blocks over numpy arrays: points table, clusters, map quality,
neighbours, placing a query, the similarity matrix, reading a selection.

:func:`embedlab.maps.pipeline.build_map` strings them together; the input side (pasted lines,
tables) is in :mod:`embedlab.maps.sentences` and re-exported here for older callers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..retrieval.ranking import rank
from ..validation import check_matrix, check_positive_int
from .sentences import (
    MAX_SENTENCES,
    UNLABELLED,
    MetadataColumn,
    Note,
    Sentences,
    from_lines,
    from_table,
    prepare,
    text_like_columns,
)

__all__ = [
    "HEATMAP_MAX",
    "MAX_SENTENCES",
    "METRIC_SAMPLE",
    "UNLABELLED",
    "MapQuality",
    "MetadataColumn",
    "Note",
    "Placement",
    "Sentences",
    "auto_clusters",
    "cluster_names",
    "digest",
    "distinct_rows",
    "from_lines",
    "from_table",
    "label_order",
    "map_quality",
    "neighbours",
    "place",
    "points_table",
    "prepare",
    "selected_rows",
    "similarity_matrix",
    "text_like_columns",
    "umap_neighbours",
]

#: Points drawn in the pairwise similarity heatmap at most.
HEATMAP_MAX = 60
#: Quality measures are computed on a random sample of at most this many points.
METRIC_SAMPLE = 2_000


def digest(embeddings: np.ndarray, *parts: object) -> str:
    """A short hex key for caching results computed from ``embeddings`` (and any extra parts)."""
    h = hashlib.blake2b(digest_size=16)
    array = np.ascontiguousarray(embeddings, dtype=np.float32)
    h.update(repr(array.shape).encode())
    h.update(array.tobytes())
    for part in parts:
        h.update(b"\x00" + repr(part).encode())
    return h.hexdigest()


def distinct_rows(embeddings, *, decimals: int = 5) -> int:
    """How many different rows ``embeddings`` has (rounded to ``decimals``; unit vectors)."""
    x = check_matrix(embeddings, "embeddings")
    return len(np.unique(np.round(x, decimals), axis=0))


def umap_neighbours(n_points: int, asked: int = 15) -> int:
    """UMAP's ``n_neighbors`` for ``n_points``: the asked number, at most half the points (at least 2)."""
    return int(max(2, min(asked, n_points // 2)))


def points_table(
    texts: list[str],
    labels: list[str] | None,
    points: np.ndarray,
    metadata: Sequence[MetadataColumn] = (),
):
    """The map as a table with columns text, label, [metadata columns,] x, y[, z] (label "" when unlabelled).

    ``metadata`` columns hold one value per text (numbers as floats, NaN where empty).
    """
    import pandas as pd

    points = check_matrix(points, "points")
    if len(points) != len(texts):
        raise ValueError(f"points must have one row per text ({len(texts)}), got {len(points)}.")
    table = pd.DataFrame({"text": texts, "label": labels if labels is not None else [""] * len(texts)})
    for column in metadata:
        if len(column) != len(texts):
            raise ValueError(f"metadata column {column.name!r} must have one value per text ({len(texts)}).")
        table[column.name] = np.asarray(column.values, dtype=float if column.kind == "number" else object)
    for axis, column in zip("xyz", points.T, strict=False):
        table[axis] = column.astype(float)
    return table


def auto_clusters(
    embeddings, *, n_clusters: int | None = None, random_state: int = 42, max_clusters: int = 10
) -> np.ndarray:
    """Group unlabelled sentences with k-means in the original space.

    Parameters
    ----------
    embeddings : array-like of shape (n, dim)
        Unit-length rows (so Euclidean k-means follows cosine similarity).
    n_clusters : int, optional
        How many groups; None picks the number in 2..max_clusters with the best cosine silhouette.
        Above METRIC_SAMPLE rows, k-means is fitted on a random sample of that size and every row
        then joins its nearest centre.
    random_state : int, default 42

    Returns
    -------
    ndarray of shape (n,), int
        Cluster number per row, 0-based, numbered by first appearance.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = check_matrix(embeddings, "embeddings")
    n = len(x)
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    # fit on a sample (all rows up to METRIC_SAMPLE), then give every row its nearest centre
    sample = x[_sample(n, METRIC_SAMPLE, random_state)]
    distinct = len(np.unique(sample.round(6), axis=0))
    if n_clusters is not None:
        k = min(check_positive_int(n_clusters, "n_clusters"), distinct)
        model = KMeans(k, n_init=4, random_state=random_state).fit(sample)
    else:
        model, best = None, -2.0
        for k in range(2, min(max_clusters, distinct, len(sample) - 1) + 1):
            candidate = KMeans(k, n_init=2, random_state=random_state).fit(sample)
            if len(np.unique(candidate.labels_)) < 2:
                continue
            score = silhouette_score(sample, candidate.labels_, metric="cosine")
            if score > best:
                model, best = candidate, score
        if model is None:
            return np.zeros(n, dtype=np.int64)
    found = model.predict(x)
    _, first = np.unique(found, return_index=True)
    renumber = np.empty(found.max() + 1, dtype=np.int64)
    renumber[found[np.sort(first)]] = np.arange(len(first))
    return renumber[found]


def cluster_names(embeddings, *, n_clusters: int | None = None, random_state: int = 42) -> list[str]:
    """:func:`auto_clusters` as one group name per row: "cluster 1", "cluster 2", ..."""
    return [f"cluster {c + 1}" for c in auto_clusters(embeddings, n_clusters=n_clusters, random_state=random_state)]


def _sample(n: int, size: int, random_state: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size, replace=False))


@dataclass(frozen=True)
class MapQuality:
    """How faithful a map is, and how well labels group in the original space.

    NaN where a measure is undefined (too few points, a single label). ``n_used`` < ``n_total``
    when the measures were computed on a random sample.
    """

    trustworthiness: float
    neighbour_kept: float
    k: int
    silhouette: float
    label_agreement: float
    label_chance: float
    label_k: int
    n_used: int
    n_total: int
    #: Neighbours (in the original space) "nearest neighbour kept" looks among.
    neighbour_k: int = 0
    #: What "nearest neighbour kept" scores on a random layout (:func:`quality.neighbour_kept_chance`).
    neighbour_chance: float = float("nan")

    @property
    def sampled(self) -> bool:
        return self.n_used < self.n_total


def map_quality(
    embeddings,
    points,
    labels: list[str] | None = None,
    *,
    k: int = 10,
    label_k: int = 5,
    sample: int = METRIC_SAMPLE,
    random_state: int = 0,
) -> MapQuality:
    """Trustworthiness@k and nearest-neighbour kept for the map; silhouette and kNN label agreement.

    Parameters
    ----------
    embeddings : array-like of shape (n, dim)
    points : array-like of shape (n, 2 or 3)
    labels : list of str, optional
        Points labelled UNLABELLED are left out of the label measures.
    k : int, default 10
        Neighbours for trustworthiness and for "nearest neighbour kept".
    label_k : int, default 5
        Neighbours for kNN label agreement.
    sample : int, default METRIC_SAMPLE
        Above this many points, every measure uses the same random sample of this size.

    Returns
    -------
    MapQuality
    """
    from . import quality

    x = check_matrix(embeddings, "embeddings")
    y = check_matrix(points, "points")
    if len(x) != len(y):
        raise ValueError(f"points must have one row per embedding ({len(x)}), got {len(y)}.")
    rows = _sample(len(x), check_positive_int(sample, "sample"), random_state)
    xs, ys = x[rows], y[rows]
    n = len(rows)
    used_k = min(k, (n - 1) // 2)
    trust = quality.trustworthiness(xs, ys, k=k) if used_k >= 1 else float("nan")
    kept = quality.neighbour_kept(xs, ys, k=k) if n >= 3 else float("nan")
    sil = agree = chance = float("nan")
    used_label_k = 0
    if labels is not None:
        lab = np.asarray(labels, dtype=object)[rows]
        keep = lab != UNLABELLED
        xl, ll = xs[keep], lab[keep].astype(str)
        if len(xl) >= 3 and len(np.unique(ll)) >= 2:
            sil = quality.silhouette(xl, ll)
            used_label_k = min(label_k, len(xl) - 1)
            agree = quality.knn_label_agreement(xl, ll, k=label_k)
            _, counts = np.unique(ll, return_counts=True)
            # a random other point shares the label with this probability
            chance = float(((counts * (counts - 1)).sum()) / (len(ll) * (len(ll) - 1)))
    kept_k = min(k, n - 1) if n >= 3 else 0
    kept_chance = quality.neighbour_kept_chance(n, k=k) if n >= 3 else float("nan")
    return MapQuality(trust, kept, max(used_k, 0), sil, agree, chance, used_label_k, n, len(x), kept_k, kept_chance)


def neighbours(queries, embeddings, *, k: int = 5, exclude: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k of each query among ``embeddings``, best first, leaving out row ``exclude[i]`` for query i.

    Parameters
    ----------
    queries : array-like of shape (n_queries, dim)
    embeddings : array-like of shape (n, dim)
    k : int, default 5
    exclude : list of int, optional
        One row per query to leave out (the query's own row when it is a point of the map).

    Returns
    -------
    indices : ndarray of shape (n_queries, min(k, available)), int64
    scores : ndarray of the same shape, float32
    """
    k = check_positive_int(k, "k")
    q = check_matrix(queries, "queries")
    x = check_matrix(embeddings, "embeddings", dim=q.shape[1])
    if exclude is not None and len(exclude) != len(q):
        raise ValueError(f"exclude must have one row per query ({len(q)}), got {len(exclude)}.")
    extra = 1 if exclude is not None else 0
    width = min(k, len(x) - extra)
    if width < 1:
        return np.empty((len(q), 0), dtype=np.int64), np.empty((len(q), 0), dtype=np.float32)
    idx, scores = rank(q, x, k=width + extra)
    if exclude is None:
        return idx, scores
    out_idx = np.empty((len(q), width), dtype=np.int64)
    out_scores = np.empty((len(q), width), dtype=np.float32)
    for i, row in enumerate(idx):
        keep = row != exclude[i]
        out_idx[i] = row[keep][:width]
        out_scores[i] = scores[i][keep][:width]
    return out_idx, out_scores


@dataclass(frozen=True)
class Placement:
    """Where queries would land on a map, and how that was decided (one sentence for the user)."""

    points: np.ndarray
    how: str


def place(queries, embeddings, points, *, method: str, k: int = 10) -> Placement:
    """Where new sentences would land on an existing map.

    Parameters
    ----------
    queries : array-like of shape (n_queries, dim)
    embeddings : array-like of shape (n, dim)
        The mapped sentences' embeddings.
    points : array-like of shape (n, n_components)
        Their positions on the map.
    method : str
        The method that actually ran (``ProjectionPlan.method``). For "pca" the query is
        transformed exactly: PCA is a linear map, recovered here from the points themselves.
        For "tsne" and "umap" (no exact transform) it lands at the similarity-weighted mean of
        the points of its ``k`` nearest sentences. For "none" (one point) at the origin.
    k : int, default 10

    Returns
    -------
    Placement
        ``points`` has shape (n_queries, n_components), float32.
    """
    q = check_matrix(queries, "queries")
    x = check_matrix(embeddings, "embeddings", dim=q.shape[1])
    y = check_matrix(points, "points")
    if len(y) != len(x):
        raise ValueError(f"points must have one row per embedding ({len(x)}), got {len(y)}.")
    if method == "none":
        return Placement(np.zeros((len(q), y.shape[1]), dtype=np.float32), "A single point sits at the origin.")
    if method == "pca":
        return Placement(_linear_map(x, y, q), "PCA is a linear map, so this is exactly where it lands.")
    k = min(check_positive_int(k, "k"), len(x))
    idx, scores = rank(q, x, k=k)
    weights = np.maximum(scores.astype(np.float64), 0.0) + 1e-6
    placed = (y[idx] * weights[:, :, None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
    name = {"tsne": "t-SNE", "umap": "UMAP"}.get(method, method)
    how = (
        f"{name} cannot place a new point exactly, so it is drawn at the similarity-weighted mean of "
        f"its {k} nearest sentences' points."
    )
    return Placement(placed.astype(np.float32), how)


def _linear_map(x: np.ndarray, y: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Apply the affine map that took ``x`` to ``y`` (recovered by least squares) to ``q``.

    For PCA the points are an exact linear function of the centred embeddings, and the
    minimum-norm solution lies in the same row space as PCA's components, so it is PCA's own map.
    """
    xd = x.astype(np.float64)
    mean = xd.mean(axis=0)
    centred_y = y.astype(np.float64) - y.astype(np.float64).mean(axis=0)
    w, *_ = np.linalg.lstsq(xd - mean, centred_y, rcond=None)
    return ((q.astype(np.float64) - mean) @ w + y.astype(np.float64).mean(axis=0)).astype(np.float32)


def similarity_matrix(embeddings) -> np.ndarray:
    """Cosine similarity of every pair of rows, shape (n, n), float32."""
    x = check_matrix(embeddings, "embeddings")
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
    return np.clip(unit @ unit.T, -1.0, 1.0)


def label_order(labels: list[str] | None, n: int) -> np.ndarray:
    """Row order that keeps each label's rows together (labels in first-appearance order)."""
    if labels is None:
        return np.arange(n)
    first: dict[str, int] = {}
    for label in labels:
        first.setdefault(label, len(first))
    return np.array(sorted(range(n), key=lambda i: (first[labels[i]], i)), dtype=np.int64)


def selected_rows(selection: dict | None, n_rows: int) -> list[int]:
    """Map rows picked in a plotly selection event (``{"points": [...]}``) back to table rows.

    Every point of the map carries its row number as ``customdata`` (a number, or a one-item list
    or ``{"0": number}`` as some plotly versions send it); points without one (the search marker) are ignored, and so are numbers outside ``0..n_rows-1``. Order is kept, repeats dropped.
    """
    rows: list[int] = []
    for point in (selection or {}).get("points", []) or []:
        data = point.get("customdata")
        if isinstance(data, dict):  # a typed array element arrives as {"0": value}
            data = next(iter(data.values()), None)
        if isinstance(data, list):
            data = data[0] if data else None
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            continue
        row = int(data)
        if 0 <= row < n_rows and row not in rows:
            rows.append(row)
    return rows
