"""project(): embeddings → 2-D or 3-D points for a map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .validation import check_choice, check_matrix, check_positive_int

Method = Literal["tsne", "pca", "umap"]
METHODS: tuple[str, ...] = ("tsne", "pca", "umap")
#: t-SNE's perplexity unless told otherwise (scikit-learn's default).
DEFAULT_PERPLEXITY = 30.0
#: t-SNE and UMAP need this many points; below it PCA is shown instead.
MIN_POINTS_NONLINEAR = 4


@dataclass(frozen=True)
class ProjectionPlan:
    """What :func:`project` will actually run for a number of points.

    ``note`` explains, in a sentence for the user, any change from what was asked.
    """

    method: str
    requested: str
    n_points: int
    n_components: int
    perplexity: float | None
    note: str

    def describe(self) -> str:
        """A short label naming the method and its parameters, for titles and captions."""
        if self.method == "tsne":
            return f"t-SNE (perplexity {self.perplexity:g})"
        return {"pca": "PCA", "umap": "UMAP", "none": "a single point"}[self.method]


def plan_projection(
    n_points: int, method: str = "tsne", *, n_components: int = 2, perplexity: float | None = None
) -> ProjectionPlan:
    """Decide how ``n_points`` points are projected; see :func:`project` for the rules."""
    n_points = check_positive_int(n_points, "n_points")
    method = check_choice(method, "method", METHODS)
    note = ""
    used = method
    used_perplexity = None
    if n_points == 1:
        used, note = "none", "One point: it is drawn at the origin; add sentences to see a map."
    elif method != "pca" and n_points < MIN_POINTS_NONLINEAR:
        used = "pca"
        name = "t-SNE" if method == "tsne" else "UMAP"
        note = f"{name} needs at least {MIN_POINTS_NONLINEAR} points; with {n_points}, PCA is shown instead."
    if used == "tsne":
        asked = DEFAULT_PERPLEXITY if perplexity is None else float(perplexity)
        if not asked > 0:
            raise ValueError(f"perplexity must be a positive number, got {perplexity!r}.")
        limit = max(1.0, (n_points - 1) / 3)
        used_perplexity = min(asked, limit)
        if used_perplexity < asked:
            note = f"Perplexity {asked:g} is too high for {n_points} points; {used_perplexity:g} was used."
    return ProjectionPlan(used, method, n_points, n_components, used_perplexity, note)


def project(
    embeddings,
    *,
    method: Method = "tsne",
    n_components: int = 2,
    random_state: int | None = 42,
    **params,
) -> np.ndarray:
    """Project embeddings to ``n_components`` dimensions for display.

    Parameters
    ----------
    embeddings : array-like of shape (n_points, dim)
    method : {"tsne", "pca", "umap"}, default "tsne"
        t-SNE with scikit-learn's semantics (PCA initialisation, automatic learning rate);
        PCA; or UMAP (umap-learn).
    n_components : {2, 3}, default 2
    random_state : int or None, default 42
        Seeds every stochastic step: the same input and seed give the same points.
    **params
        Passed to the method. For t-SNE, ``perplexity`` defaults to 30 and is clamped to
        ``(n_points - 1) / 3`` (at least 1) so it stays below the number of points — 5 for
        the lesson's 16 sentences, as the lesson chose by hand.

    Returns
    -------
    ndarray of shape (n_points, n_components), float32

    Small inputs have a documented result, not an exception: one point is placed at the
    origin; two or three points (too few for t-SNE or UMAP) are projected with PCA, padded
    with zeros where they span fewer dimensions. :func:`plan_projection` says which applies.
    """
    x = check_matrix(embeddings, "embeddings").astype(np.float64)
    n_components = check_positive_int(n_components, "n_components")
    if n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3, got {n_components}.")
    if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer))):
        raise TypeError(f"random_state must be an int or None, got {type(random_state).__name__}.")
    plan = plan_projection(len(x), method, n_components=n_components, perplexity=params.pop("perplexity", None))
    if plan.method == "none":
        return np.zeros((1, n_components), dtype=np.float32)
    if plan.method == "pca":
        points = _pca(x, n_components, random_state)
    elif plan.method == "tsne":
        points = _tsne(x, n_components, random_state, plan.perplexity, params)
    else:
        points = _umap(x, n_components, random_state, params)
    return np.asarray(points, dtype=np.float32)


def _pca(x: np.ndarray, n_components: int, random_state) -> np.ndarray:
    from sklearn.decomposition import PCA

    usable = min(n_components, x.shape[0], x.shape[1])
    points = PCA(n_components=usable, random_state=random_state).fit_transform(x)
    if usable < n_components:
        points = np.hstack([points, np.zeros((len(x), n_components - usable))])
    return points


def _tsne(x, n_components, random_state, perplexity, params) -> np.ndarray:
    from sklearn.manifold import TSNE

    options = {"init": "pca", "learning_rate": "auto", **params}
    return TSNE(n_components=n_components, perplexity=perplexity, random_state=random_state, **options).fit_transform(x)


def _umap(x, n_components, random_state, params) -> np.ndarray:
    import umap  # imported here: numba compilation makes the first import slow

    # umap-learn's default of 15 neighbours, fewer for small inputs (half the points, as
    # t-SNE's perplexity is clamped), so a handful of sentences still forms its groups.
    options = {"n_neighbors": min(15, max(2, len(x) // 2)), "metric": "cosine", "n_jobs": 1, **params}
    return umap.UMAP(n_components=n_components, random_state=random_state, **options).fit_transform(x)
