"""The Space Explorer's pipeline in one call: sentences → embeddings → a projection → a map.

:func:`build_map` encodes the sentences (the core's embedding cache answers repeats), plans the
projection (PCA for too few points, a clamped perplexity, one spot when every sentence has the
same embedding), projects through a small in-process cache keyed by the embeddings' digest and
the settings that change the picture, and returns a :class:`MapResult` holding everything a
page, a notebook or the command line needs to draw and question the map.

>>> from embedlab.maps.pipeline import build_map
>>> result = build_map(["The cat sits on the mat", "A kitten naps", "Stocks fell"], method="pca")
>>> result.points.shape, result.plan.method
((3, 2), 'pca')
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..models.catalog import load_model
from ..models.embedders import Embedder
from ..models.encoding import encode, truncated
from ..models.entries import DEFAULT_MODEL, by_name
from ..models.own import OwnVectors
from ..validation import check_choice, check_positive_int, check_texts
from . import explore
from .projection import DEFAULT_PERPLEXITY, METHODS, Method, ProjectionPlan, plan_projection, project
from .sentences import MetadataColumn

__all__ = [
    "CACHE_ENTRIES",
    "MapProgress",
    "MapResult",
    "MapSettings",
    "build_map",
    "clear_cache",
    "describe_plan",
    "request_key",
]

#: Projections kept in the in-process cache (least recently used dropped first).
CACHE_ENTRIES = 32
AXIS_NAMES = {"tsne": "t-SNE", "pca": "PC", "umap": "UMAP", "none": "dimension"}
Stage = Literal["loading", "encoding", "checking", "projecting"]


@dataclass(frozen=True)
class MapSettings:
    """What a map is drawn with, besides the sentences. Validated on creation.

    ``perplexity`` matters to t-SNE only, ``n_neighbors`` to UMAP only, ``random_state`` to
    both (PCA is exact); :meth:`effective` leaves out what does not change the picture.
    ``model_version`` tells apart two sets of vectors with one name (an
    :class:`~embedlab.models.own.OwnVectors`' ``cache_key``); "" for a model given by name.
    """

    model: str = DEFAULT_MODEL
    method: Method = "tsne"
    n_components: int = 2
    perplexity: float = DEFAULT_PERPLEXITY
    n_neighbors: int = 15
    random_state: int = 42
    model_version: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model must be a model name, got {self.model!r}.")
        check_choice(self.method, "method", METHODS)
        if self.n_components not in (2, 3) or isinstance(self.n_components, bool):
            raise ValueError(f"n_components must be 2 or 3, got {self.n_components!r}.")
        if (
            isinstance(self.perplexity, bool)
            or not isinstance(self.perplexity, (int, float))
            or not self.perplexity > 0
        ):
            raise ValueError(f"perplexity must be a positive number, got {self.perplexity!r}.")
        if check_positive_int(self.n_neighbors, "n_neighbors") < 2:
            raise ValueError(f"n_neighbors must be at least 2, got {self.n_neighbors}.")
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, (int, np.integer)):
            raise TypeError(f"random_state must be an int, got {type(self.random_state).__name__}.")
        if not isinstance(self.model_version, str):
            raise TypeError(f"model_version must be a str, got {type(self.model_version).__name__}.")

    def effective(self) -> tuple:
        """The settings that change the picture (perplexity only for t-SNE, neighbours only for UMAP)."""
        return (
            self.model,
            self.method,
            self.n_components,
            float(self.perplexity) if self.method == "tsne" else None,
            self.n_neighbors if self.method == "umap" else None,
            self.random_state if self.method != "pca" else None,
            *((self.model_version,) if self.model_version else ()),
        )


@dataclass(frozen=True)
class MapProgress:
    """Where :func:`build_map` is, passed to its ``progress`` callback.

    ``stage`` is "loading" (the model), "encoding" (``done`` of ``total`` sentences the model has
    to encode; the cache answers the others), "checking" (sentence lengths) or "projecting";
    ``message`` says it in words and ``fraction`` is the share of the encoding done.
    """

    stage: Stage
    message: str
    fraction: float
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class MapResult:
    """A drawn map: the sentences, their embeddings and points, and how they were made.

    Attributes
    ----------
    key : str
        :func:`request_key` of the sentences, labels and settings: equal keys, equal maps.
    texts : tuple of str
    labels : tuple of str, or None when unlabelled
    settings : MapSettings
        As asked; ``plan`` says what ran.
    embeddings : ndarray of shape (n, dim), float32, read-only
    digest : str
        :func:`embedlab.maps.explore.digest` of the embeddings and model (a cache key).
    points : ndarray of shape (n, n_components), float32, read-only
    plan : ProjectionPlan
        What ran; ``plan.note`` explains any change from what was asked.
    n_neighbors : int or None
        UMAP's neighbours as used (clamped for small inputs); None for other methods.
    truncated : tuple of int
        Rows longer than the model's limit (encoded from their first ``max_tokens`` tokens).
    max_tokens : int
    encoded : int
        Sentences the model encoded (the others came from the embedding cache).
    encode_seconds, project_seconds : float
    all_same : bool
        Every sentence has the same embedding: all are drawn at one spot.
    metadata : tuple of MetadataColumn
        An uploaded table's other columns, one value per sentence (to filter by and show on
        hover; never used to project); () for pasted sentences.
    embedder : Embedder or None
        The Embedder given as ``model`` (e.g. the user's own vectors); None when it was a name.
        :attr:`encoder` is what to encode a new text with (a search) for this map.
    """

    key: str
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    settings: MapSettings
    embeddings: np.ndarray = field(repr=False)
    digest: str
    points: np.ndarray = field(repr=False)
    plan: ProjectionPlan
    n_neighbors: int | None
    truncated: tuple[int, ...]
    max_tokens: int
    encoded: int
    encode_seconds: float
    project_seconds: float
    all_same: bool = False
    embedder: Embedder | None = field(default=None, repr=False, compare=False)
    metadata: tuple[MetadataColumn, ...] = field(default=(), repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def encoder(self) -> str | Embedder:
        """The model to encode more text with for this map: the Embedder it was given, or its name."""
        return self.embedder if self.embedder is not None else self.settings.model

    @property
    def plan_changed(self) -> bool:
        """True when what was drawn is not what was asked for (the user must be told plainly)."""
        return self.plan.method != self.plan.requested or self.plan.method == "none" or self.all_same

    @property
    def axis_name(self) -> str:
        """What the axes are called: "t-SNE", "PC", "UMAP" or "dimension"."""
        return AXIS_NAMES.get(self.plan.method, "dimension")

    @property
    def file_stem(self) -> str:
        """A file name stem for downloads, e.g. "space-all-MiniLM-L6-v2-tsne"."""
        return "space-" + "".join(c if c.isalnum() else "-" for c in self.model) + f"-{self.plan.method}"

    def title(self) -> str:
        """The map's title (escaped for plotly), naming everything needed to draw it again."""
        from .figures import map_title

        return map_title(
            self.model,
            self.plan.method,
            n_points=len(self.texts),
            n_components=self.settings.n_components,
            perplexity=self.plan.perplexity,
            random_state=self.settings.random_state,
            n_neighbors=self.n_neighbors,
        )

    def points_table(self, rows: Sequence[int] | None = None, *, clusters: Sequence[str] | None = None):
        """The map as a new DataFrame: text, label, the metadata columns, x, y[, z] (and cluster when given).

        ``rows`` picks rows in that order (all by default); ``clusters`` holds one name per row of the map.
        """
        picked = list(range(len(self.texts))) if rows is None else [int(r) for r in rows]
        labels = [self.labels[i] for i in picked] if self.labels is not None else None
        metadata = [MetadataColumn(c.name, c.kind, tuple(c.values[i] for i in picked)) for c in self.metadata]
        table = explore.points_table([self.texts[i] for i in picked], labels, self.points[picked], metadata)
        if clusters is not None:
            if len(clusters) != len(self.texts):
                raise ValueError(f"clusters must have one entry per point ({len(self.texts)}), got {len(clusters)}.")
            table["cluster"] = [clusters[i] for i in picked]
        return table


def describe_plan(plan: ProjectionPlan) -> str:
    """What will run, for a caption: "t-SNE (perplexity 1.67)", "PCA", "UMAP", "a single point"."""
    if plan.method == "tsne":
        return f"t-SNE (perplexity {plan.perplexity:.3g})"
    return {"pca": "PCA", "umap": "UMAP", "none": "a single point"}.get(plan.method, plan.method)


def request_key(
    texts: Sequence[str],
    labels: Sequence[str] | None,
    settings: MapSettings,
    metadata: Sequence[MetadataColumn] = (),
) -> str:
    """A digest of everything a map depends on: sentences, labels, metadata and the settings that change it.

    Without metadata the key is what it was before metadata existed (saved keys stay valid).
    """
    h = hashlib.blake2b(digest_size=16)
    for text in texts:
        h.update(text.encode("utf-8", "surrogatepass") + b"\x00")
    h.update(b"\x01" + repr(None if labels is None else list(labels)).encode("utf-8", "surrogatepass"))
    h.update(repr(settings.effective()).encode())
    for column in metadata:
        h.update(b"\x02" + repr((column.name, column.kind, column.values)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


# ------------------------------------------------------------------ the projection cache
_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached projection (tests start cold with it)."""
    with _cache_lock:
        _cache.clear()


def _cached_projection(embeddings: np.ndarray, key: tuple, **params) -> np.ndarray:
    """``project(embeddings, **params)``, remembered under ``key`` (a digest and the parameters)."""
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    points = np.asarray(project(embeddings, **params), dtype=np.float32)
    points.setflags(write=False)
    with _cache_lock:
        _cache[key] = points
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return points


def build_map(
    texts: Sequence[str],
    *,
    model: str | Embedder = DEFAULT_MODEL,
    method: Method = "tsne",
    dims: int = 2,
    perplexity: float = DEFAULT_PERPLEXITY,
    n_neighbors: int = 15,
    random_state: int = 42,
    labels: Sequence[str] | None = None,
    metadata: Sequence[MetadataColumn] = (),
    init: np.ndarray | None = None,
    progress: Callable[[MapProgress], None] | None = None,
) -> MapResult:
    """Encode ``texts`` with ``model`` and project them to a 2-D or 3-D map.

    Parameters
    ----------
    texts : sequence of str
        Distinct, non-empty sentences (see :func:`embedlab.maps.sentences.prepare`).
    model : str or Embedder, default DEFAULT_MODEL
        A catalog name (:func:`embedlab.list_models`), or an Embedder such as the user's own
        vectors (:func:`embedlab.models.own.read_vectors`; looked up, not cached).
    method : {"tsne", "pca", "umap"}, default "tsne"
        Asked for; fewer than 4 points get PCA, one point the origin, and sentences that all
        have the same embedding one spot (``result.plan`` and ``result.plan.note`` say so).
    dims : {2, 3}, default 2
    perplexity : float, default 30
        t-SNE's; clamped to ``(n - 1) / 3`` for small inputs.
    n_neighbors : int, default 15
        UMAP's; at most half the points.
    random_state : int, default 42
        The same sentences, settings and seed give the same points.
    labels : sequence of str, optional
        One per text; kept on the result (colours and label measures), not used to project.
    metadata : sequence of MetadataColumn, optional
        Other columns, one value per text (:attr:`Sentences.metadata`); kept on the result to
        filter by and show on hover, not used to project.
    init : array-like of shape (len(texts), dims), optional
        t-SNE's starting points (another model's map of the same texts: the maps come out lined
        up); ignored by PCA and UMAP. See :func:`embedlab.maps.projection.project`.
    progress : callable, optional
        Called with a :class:`MapProgress` as the model loads, encodes, checks and projects.

    Returns
    -------
    MapResult
        ``points`` has shape (len(texts), dims). A second call with the same embeddings and
        settings takes the projection from an in-process cache (:data:`CACHE_ENTRIES` entries).

    Raises
    ------
    ValueError, TypeError
        A setting out of range, or labels not one per text; the message names the parameter.
    embedlab.ModelUnavailable
        The model cannot run on this machine.
    """
    texts = check_texts(texts)
    if labels is not None:
        labels = tuple(str(label) for label in labels)
        if len(labels) != len(texts):
            raise ValueError(f"labels must have one entry per text ({len(texts)}), got {len(labels)}.")
    metadata = tuple(metadata)
    for column in metadata:
        if not isinstance(column, MetadataColumn):
            raise TypeError(f"metadata must hold MetadataColumn objects, got {type(column).__name__}.")
        if len(column) != len(texts):
            raise ValueError(
                f"metadata column {column.name!r} must have one value per text ({len(texts)}), got {len(column)}."
            )
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {type(progress).__name__}.")
    given = model if isinstance(model, Embedder) else None
    if given is None and not isinstance(model, str):
        raise TypeError(f"model must be a model name or an Embedder, got {type(model).__name__}.")
    version = given.cache_key if given is not None else ""
    model = given.name if given is not None else model
    settings = MapSettings(model, method, dims, perplexity, n_neighbors, random_state, version)
    if init is not None:
        init = np.asarray(init, dtype=np.float32)
        if init.shape != (len(texts), dims):
            raise ValueError(f"init must have shape ({len(texts)}, {dims}), one point per text, got {init.shape}.")
    tell = progress or (lambda event: None)
    n = len(texts)

    tell(MapProgress("loading", f"Loading {model}…", 0.0))
    started = time.perf_counter()
    # a name, not a loaded model: texts all in the cache then load no model (the first map after start)
    embedder = given if given is not None else model
    tell(MapProgress("encoding", f"Encoding {n:,} sentences with {model}…", 0.0, 0, n))
    fresh = {"n": 0}

    def encoding(done: int, total: int) -> None:
        fresh["n"] = total
        if total:
            message = f"Encoding with {model}: {done:,} / {total:,} sentences"
            tell(MapProgress("encoding", message, done / total, done, total))

    # vectors brought from elsewhere are looked up, not copied into the embedding cache
    cacheable = not isinstance(given, OwnVectors)
    embeddings = np.asarray(encode(texts, embedder, progress=encoding, use_cache=cacheable))
    embeddings.setflags(write=False)
    encode_seconds = time.perf_counter() - started
    tell(MapProgress("checking", "Checking sentence lengths…", 1.0))
    too_long = tuple(truncated(texts, embedder))

    plan = plan_projection(n, method, n_components=dims, perplexity=float(perplexity))
    same = n > 1 and explore.distinct_rows(embeddings) == 1
    if same:
        # nothing to spread (and scikit-learn's t-SNE divides by zero on identical rows)
        plan = dataclasses.replace(
            plan,
            method="pca",
            perplexity=None,
            note=f"All {n:,} sentences have the same embedding ({model} reads them as the same "
            "text, e.g. emoji or characters it does not know), so they are all drawn at one spot.",
        )
    used_neighbors = explore.umap_neighbours(n, n_neighbors) if plan.method == "umap" else None
    digest = explore.digest(embeddings, model)
    slow = " (UMAP's first run in a new server compiles code: 10–30 s)" if plan.method == "umap" else ""
    tell(MapProgress("projecting", f"Projecting {n:,} points with {describe_plan(plan)}{slow}…", 1.0))
    started = time.perf_counter()
    if same:
        points = np.zeros((n, dims), dtype=np.float32)
        points.setflags(write=False)
    else:
        used_perplexity = plan.perplexity if plan.method == "tsne" else None
        start = init if plan.method == "tsne" else None
        started_from = None if start is None else explore.digest(start)
        key = (digest, method, dims, random_state, used_perplexity, used_neighbors, started_from)
        params = {"perplexity": used_perplexity} if used_perplexity is not None else {}
        if used_neighbors is not None:
            params["n_neighbors"] = used_neighbors
        if start is not None:
            params["init"] = start
        points = _cached_projection(
            embeddings, key, method=method, n_components=dims, random_state=random_state, **params
        )
    return MapResult(
        key=request_key(texts, labels, settings, metadata),
        texts=tuple(texts),
        labels=labels,
        settings=settings,
        embeddings=embeddings,
        digest=digest,
        points=points,
        plan=plan,
        n_neighbors=used_neighbors,
        truncated=too_long,
        max_tokens=_max_tokens(embedder),
        encoded=fresh["n"],
        encode_seconds=encode_seconds,
        project_seconds=time.perf_counter() - started,
        all_same=same,
        embedder=given,
        metadata=metadata,
    )


def _max_tokens(model) -> int:
    """The model's token limit, from the catalog when it is a catalog name (no model loaded)."""
    if isinstance(model, Embedder):
        return model.max_tokens
    entry = by_name(model)
    return entry.max_tokens if entry is not None else load_model(model).max_tokens
