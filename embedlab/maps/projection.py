"""project(): embeddings → 2-D or 3-D points for a map.

t-SNE runs on openTSNE with exact nearest neighbours (a blocked matrix product), Barnes-Hut
for small inputs and FFT-accelerated interpolation from :data:`FFT_FROM` points, PCA to
:data:`PCA_DIMS` dimensions before the neighbour search from :data:`PCA_FROM` points, and a
shorter optimisation above :data:`SHORT_FROM` points. Measured in ``bench/tsne.py``: at 20,000
points it is several times faster than scikit-learn's ``TSNE`` at the same trustworthiness.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..validation import check_choice, check_matrix, check_positive_int

Method = Literal["tsne", "pca", "umap"]
METHODS: tuple[str, ...] = ("tsne", "pca", "umap")
#: t-SNE's perplexity unless told otherwise (scikit-learn's default).
DEFAULT_PERPLEXITY = 30.0
#: t-SNE and UMAP need this many points; below it PCA is shown instead.
MIN_POINTS_NONLINEAR = 4
#: From this many points (2-D maps) t-SNE's repulsion uses FFT interpolation instead of Barnes-Hut.
FFT_FROM = 3_000
#: From this many points, inputs wider than PCA_DIMS are reduced by PCA before the neighbour search.
PCA_FROM = 10_000
PCA_DIMS = 50
#: From this many points the optimisation uses every core (below it, threads cost more than they
#: save: 16 points took seconds with 2 threads under load). 5,000 points: 2 threads 4.35 s, 1 thread 5.1 s.
THREADS_FROM = 3_000
#: (early-exaggeration, normal) iterations: scikit-learn-like up to SHORT_FROM points, shorter above —
#: with openTSNE's learning rate the neighbourhoods have settled by then (bench/tsne.py measures it).
#: 5,000 points: 125 + 250 iterations 8.3 s, trustworthiness@10 0.9835; 125 + 150: 5.1 s, 0.9831
#: (scikit-learn's full run: 0.9840).
FULL_SCHEDULE = (250, 500)
SHORT_SCHEDULE = (125, 150)
SHORT_FROM = 1_000


@dataclass(frozen=True)
class ProjectionPlan:
    """What :func:`project` will actually run for a number of points.

    ``note`` explains, in a sentence for the user, any change from what was asked;
    ``implementation`` names the code that runs and how, e.g. ``"openTSNE FFT, PCA-50, 2 threads"``.
    """

    method: str
    requested: str
    n_points: int
    n_components: int
    perplexity: float | None
    note: str
    implementation: str = ""

    def describe(self) -> str:
        """A short label naming the method, its parameters and implementation, for captions."""
        if self.method == "tsne":
            return f"t-SNE (perplexity {self.perplexity:g}; {self.implementation})"
        if self.method == "none":
            return "a single point"
        return f"{ {'pca': 'PCA', 'umap': 'UMAP'}[self.method] } ({self.implementation})"


def plan_projection(
    n_points: int,
    method: str = "tsne",
    *,
    n_components: int = 2,
    perplexity: float | None = None,
    dim: int | None = None,
    **params,
) -> ProjectionPlan:
    """Decide how ``n_points`` points are projected; see :func:`project` for the rules.

    ``dim`` (the embeddings' width, when known) and ``params`` (the extra parameters
    :func:`project` would get) decide the implementation named in the plan.
    """
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
    implementation = _implementation(used, n_points, n_components, dim, params)
    return ProjectionPlan(used, method, n_points, n_components, used_perplexity, note, implementation)


def _threads(n_points: int) -> int:
    if n_points < THREADS_FROM:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _tsne_settings(n_points: int, n_components: int, dim: int | None) -> dict:
    """How the fast t-SNE runs for this input: gradient method, PCA, threads, iterations."""
    return {
        "fft": n_components == 2 and n_points >= FFT_FROM,
        "pca": n_points >= PCA_FROM and dim is not None and dim > PCA_DIMS,
        "threads": _threads(n_points),
        "schedule": FULL_SCHEDULE if n_points <= SHORT_FROM else SHORT_SCHEDULE,
    }


def _implementation(method: str, n_points: int, n_components: int, dim: int | None, params: dict) -> str:
    if method == "pca":
        return "scikit-learn"
    if method == "umap":
        return "umap-learn"
    if method != "tsne":
        return ""
    if params:
        return f"scikit-learn Barnes-Hut, because of {', '.join(sorted(params))}"
    settings = _tsne_settings(n_points, n_components, dim)
    parts = ["openTSNE FFT" if settings["fft"] else "openTSNE Barnes-Hut"]
    if settings["pca"]:
        parts.append(f"PCA-{PCA_DIMS}")
    parts.append(f"{sum(settings['schedule'])} iterations")
    if settings["threads"] > 1:
        parts.append(f"{settings['threads']} threads")
    return ", ".join(parts)


def project(
    embeddings,
    *,
    method: Method = "tsne",
    n_components: int = 2,
    random_state: int | None = 42,
    init: np.ndarray | None = None,
    **params,
) -> np.ndarray:
    """Project embeddings to ``n_components`` dimensions for display.

    Parameters
    ----------
    embeddings : array-like of shape (n_points, dim)
    method : {"tsne", "pca", "umap"}, default "tsne"
        t-SNE with scikit-learn's semantics (exact Euclidean neighbours at the given perplexity,
        PCA initialisation, early exaggeration 12, automatic learning rate); PCA; or UMAP
        (umap-learn).
    n_components : {2, 3}, default 2
    random_state : int or None, default 42
        Seeds every stochastic step: the same input and seed give the same points.
    **params
        Passed to the method. For t-SNE, ``perplexity`` defaults to 30 and is clamped to
        ``(n_points - 1) / 3`` (at least 1) so it stays below the number of points — 5 for
        the lesson's 16 sentences, as the lesson chose by hand. Any other t-SNE parameter runs
        scikit-learn's ``TSNE`` with it; without one, the fast path runs (openTSNE, exact
        neighbours; see the module docstring and :func:`plan_projection`).
    init : array-like of shape (n_points, n_components), optional
        t-SNE only: start from these points (e.g. another model's map of the same sentences, so
        the two maps come out lined up) instead of the principal components. They are centred
        and scaled to a standard deviation of 1e-4 first, as the usual start is. PCA and UMAP,
        and the PCA used for fewer than 4 points, ignore it.

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
    perplexity = params.pop("perplexity", None)
    if init is not None:
        init = check_matrix(init, "init").astype(np.float64)
        init -= init.mean(axis=0)
        if init.shape != (len(x), n_components):
            raise ValueError(
                f"init must have one row per embedding and n_components columns, shape ({len(x)}, {n_components}), "
                f"got {init.shape}."
            )
    plan = plan_projection(len(x), method, n_components=n_components, perplexity=perplexity, dim=x.shape[1], **params)
    if plan.method == "none":
        return np.zeros((1, n_components), dtype=np.float32)
    if plan.method == "pca":
        points = _pca(x, n_components, random_state)
    elif plan.method == "tsne" and params:
        start = {"init": _scaled_start(init, random_state)} if init is not None else {}
        points = _sklearn_tsne(x, n_components, random_state, plan.perplexity, {**params, **start})
    elif plan.method == "tsne":
        points = _tsne(x, n_components, random_state, plan.perplexity, init=init)
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


def _sklearn_tsne(x, n_components, random_state, perplexity, params) -> np.ndarray:
    from sklearn.manifold import TSNE

    options = {"init": "pca", "learning_rate": "auto", **params}
    return TSNE(n_components=n_components, perplexity=perplexity, random_state=random_state, **options).fit_transform(x)


def _exact_neighbours(x: np.ndarray, k: int, *, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows (Euclidean), nearest first: (indices, distances).

    Squared distances come from one matrix product per block of rows (into a reused buffer);
    only ``|x_j|^2 - 2 x_i.x_j`` is needed to choose, the row's own norm is added afterwards.
    """
    n = len(x)
    x = x - x.mean(axis=0)  # smaller norms: less cancellation in the expansion
    if n > 4096:
        x = x.astype(np.float32)
    norms = np.einsum("ij,ij->i", x, x)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float64)
    buffer = np.empty((min(block, n), n), dtype=x.dtype)
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = np.arange(stop - start)
        d = buffer[: stop - start]
        np.matmul(x[start:stop], x.T, out=d)
        d *= -2
        d += norms[None, :]
        d[rows, rows + start] = np.inf  # not its own neighbour
        near = np.argpartition(d, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(d, axis=1)[:, :k]
        squared = np.take_along_axis(d, near, 1).astype(np.float64) + norms[start:stop, None]
        order = np.lexsort((near, squared), axis=1)  # nearest first, ties to the lower index
        indices[start:stop] = np.take_along_axis(near, order, 1)
        distances[start:stop] = np.sqrt(np.maximum(np.take_along_axis(squared, order, 1), 0.0))
    return indices, distances


def _initial_points(x: np.ndarray, n_components: int, random_state) -> np.ndarray:
    """scikit-learn's t-SNE start: the first principal components scaled to std 1e-4, plus jitter."""
    from sklearn.decomposition import PCA

    usable = min(n_components, x.shape[0], x.shape[1])
    start = np.zeros((len(x), n_components))
    if np.ptp(x, axis=0).max() > 0:
        start[:, :usable] = PCA(n_components=usable, random_state=random_state).fit_transform(x)
    return _scaled_start(start, random_state)


def _scaled_start(points: np.ndarray, random_state) -> np.ndarray:
    """A t-SNE start from centred ``points``: first column's std scaled to 1e-4, plus jitter.

    Both the principal-component start and a given ``init`` (another map, centred first) go
    through it, so an initialised run differs from the usual one only in where its points begin.
    """
    rng = np.random.RandomState(random_state)
    start = np.array(points, dtype=np.float64)
    spread = np.std(start[:, 0])
    if spread > 0:
        start *= 1e-4 / spread
    else:  # all points equal: nothing to orient by
        start = rng.normal(0.0, 1e-4, start.shape)
    start += rng.normal(0.0, 1e-6, start.shape)  # points that coincide must not stay together
    return np.ascontiguousarray(start)


def _tsne(
    x: np.ndarray, n_components: int, random_state, perplexity: float, *, init: np.ndarray | None = None
) -> np.ndarray:
    from openTSNE import TSNEEmbedding, affinity
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = len(x)
    settings = _tsne_settings(n, n_components, x.shape[1])
    if settings["pca"]:
        from sklearn.decomposition import PCA

        x = PCA(n_components=PCA_DIMS, svd_solver="covariance_eigh", random_state=random_state).fit_transform(x)
    k = min(n - 1, int(3 * perplexity + 1))  # scikit-learn's number of neighbours
    indices, distances = _exact_neighbours(x, k)
    threads = settings["threads"]
    affinities = affinity.PerplexityBasedNN(
        perplexity=perplexity, knn_index=PrecomputedNeighbors(indices, distances), n_jobs=threads
    )
    gradient = {"negative_gradient_method": "fft", "min_num_intervals": 10} if settings["fft"] else {}
    start = _initial_points(x, n_components, random_state) if init is None else _scaled_start(init, random_state)
    embedding = TSNEEmbedding(
        start,
        affinities,
        n_jobs=threads,
        random_state=random_state,
        **({"negative_gradient_method": "bh"} | gradient),
    )
    exaggerated, normal = settings["schedule"]
    # scikit-learn's automatic learning rate (its floor included), in openTSNE's units
    embedding = embedding.optimize(exaggerated, exaggeration=12, momentum=0.5, learning_rate=max(n / 12, 200))
    embedding = embedding.optimize(normal, momentum=0.8, learning_rate=max(n, 200))
    return np.asarray(embedding)


def _umap(x, n_components, random_state, params) -> np.ndarray:
    import umap  # imported here: numba compilation makes the first import slow

    # umap-learn's default of 15 neighbours, fewer for small inputs (half the points, as
    # t-SNE's perplexity is clamped), so a handful of sentences still forms its groups.
    options = {"n_neighbors": min(15, max(2, len(x) // 2)), "metric": "cosine", "n_jobs": 1, **params}
    return umap.UMAP(n_components=n_components, random_state=random_state, **options).fit_transform(x)
