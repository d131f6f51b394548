"""Streamlit-only helpers for the Space Explorer page: caching by inputs, progress, and the kept result.

The computing is in :mod:`embedlab.maps.explore`, :mod:`embedlab.maps.figures` and :mod:`embedlab.maps.arithmetic`;
this module wraps it for Streamlit (``st.cache_data`` keyed by a digest of the embeddings, a
progress bar while encoding) and holds what the page keeps in ``st.session_state``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

import embedlab
from embedlab import seed
from embedlab.maps import explore

#: The text box's starting content: the lesson's sixteen sentences as "Label | sentence" lines.
DEFAULT_TEXT = "\n".join(f"{label} | {text}" for label, text in seed.LABELLED_SENTENCES)
METHOD_NAMES = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP"}
RESULT = "space_result"
PICKED = "space_picked"


@dataclass(frozen=True)
class Settings:
    """What a map is drawn from, besides the sentences."""

    model: str
    method: str
    n_components: int
    perplexity: float
    n_neighbors: int
    random_state: int


@dataclass(frozen=True)
class MapResult:
    """A drawn map, kept in session state so display changes cost no encoding or projection."""

    key: str
    texts: list[str]
    labels: list[str] | None
    settings: Settings
    embeddings: np.ndarray
    digest: str
    points: np.ndarray
    plan: embedlab.ProjectionPlan
    n_neighbors: int | None
    truncated: list[int]
    max_tokens: int
    encoded: int
    encode_seconds: float
    project_seconds: float
    all_same: bool = False

    @property
    def plan_changed(self) -> bool:
        """True when what was drawn is not what was asked for (the user must be told plainly)."""
        return self.plan.method != self.plan.requested or self.plan.method == "none" or self.all_same

    @property
    def model(self) -> str:
        return self.settings.model

    def title(self) -> str:
        from embedlab.maps.figures import map_title

        return map_title(
            self.model,
            self.plan.method,
            n_points=len(self.texts),
            n_components=self.settings.n_components,
            perplexity=self.plan.perplexity,
            random_state=self.settings.random_state,
            n_neighbors=self.n_neighbors,
        )


def request_key(sentences: explore.Sentences, settings: Settings) -> str:
    """A digest of everything a map depends on: sentences, labels and settings."""
    h = hashlib.blake2b(digest_size=16)
    for text in sentences.texts:
        h.update(text.encode("utf-8", "surrogatepass") + b"\x00")
    h.update(b"\x01" + repr(sentences.labels).encode("utf-8", "surrogatepass"))
    h.update(repr(_effective(settings)).encode())
    return h.hexdigest()


def _effective(settings: Settings) -> tuple:
    """Settings that change the picture (perplexity only matters to t-SNE, neighbours to UMAP)."""
    return (
        settings.model,
        settings.method,
        settings.n_components,
        settings.perplexity if settings.method == "tsne" else None,
        settings.n_neighbors if settings.method == "umap" else None,
        settings.random_state if settings.method != "pca" else None,
    )


@st.cache_data(show_spinner=False, max_entries=8)
def read_upload(data: bytes, name: str):
    """embedlab.tables.read_table, cached by the file's bytes."""
    from embedlab.tables import read_table

    return read_table(data, name)


@st.cache_data(show_spinner=False, max_entries=32)
def projection(
    key: str, method: str, n_components: int, random_state: int, perplexity: float | None, n_neighbors: int | None, _x
):
    """embedlab.project, cached by a digest of the embeddings (``key``) and the parameters."""
    params = {}
    if perplexity is not None:
        params["perplexity"] = perplexity
    if n_neighbors is not None:
        params["n_neighbors"] = n_neighbors
    return embedlab.project(_x, method=method, n_components=n_components, random_state=random_state, **params)


@st.cache_data(show_spinner=False, max_entries=32)
def map_quality(key: str, labels: tuple[str, ...] | None, _x, _points) -> explore.MapQuality:
    """explore.map_quality, cached by a digest of the embeddings, the points and the labels."""
    return explore.map_quality(_x, _points, list(labels) if labels is not None else None)


@st.cache_data(show_spinner=False, max_entries=16)
def clusters(key: str, n_clusters: int | None, random_state: int, _x) -> np.ndarray:
    """explore.auto_clusters, cached by a digest of the embeddings and the settings."""
    return explore.auto_clusters(_x, n_clusters=n_clusters, random_state=random_state)


@st.cache_data(show_spinner=False, max_entries=64)
def encode_query(text: str, model: str) -> np.ndarray:
    """One sentence's embedding (the core caches it too; this skips even the model lookup)."""
    return embedlab.encode([text], model)


def draw(sentences: explore.Sentences, settings: Settings, key: str) -> MapResult:
    """Encode (with a progress bar) and project (with a spinner); raises what the core raises."""
    texts = sentences.texts
    n = len(texts)
    bar = st.progress(0.0, text=f"Loading {settings.model}…")
    fresh = {"n": 0}

    def progress(done: int, total: int) -> None:
        fresh["n"] = total
        if total:
            bar.progress(done / total, text=f"Encoding with {settings.model}: {done:,} / {total:,} sentences")

    try:
        started = time.perf_counter()
        embedder = embedlab.load_model(settings.model)
        bar.progress(0.0, text=f"Encoding {n:,} sentences with {settings.model}…")
        embeddings = embedlab.encode(texts, embedder, progress=progress)
        encode_seconds = time.perf_counter() - started
        bar.progress(1.0, text="Checking sentence lengths…")
        too_long = embedlab.truncated(texts, embedder)
    finally:
        bar.empty()
    plan = embedlab.plan_projection(
        n, settings.method, n_components=settings.n_components, perplexity=float(settings.perplexity)
    )
    same = n > 1 and explore.distinct_rows(embeddings) == 1
    if same:
        # nothing to spread (and scikit-learn's t-SNE divides by zero on identical rows)
        plan = dataclasses.replace(
            plan,
            method="pca",
            perplexity=None,
            note=f"All {n:,} sentences have the same embedding ({settings.model} reads them as the same "
            "text, e.g. emoji or characters it does not know), so they are all drawn at one spot.",
        )
    n_neighbors = explore.umap_neighbours(n, settings.n_neighbors) if plan.method == "umap" else None
    digest = explore.digest(embeddings, settings.model)
    slow = " (UMAP's first run in a new server compiles code: 10–30 s)" if plan.method == "umap" else ""
    started = time.perf_counter()
    with st.spinner(f"Projecting {n:,} points with {describe(plan)}{slow}…", show_time=True):
        if same:
            points = np.zeros((n, settings.n_components), dtype=np.float32)
        else:
            points = projection(
                digest,
                settings.method,
                settings.n_components,
                settings.random_state,
                plan.perplexity if plan.method == "tsne" else None,
                n_neighbors,
                embeddings,
            )
    return MapResult(
        key=key,
        texts=list(texts),
        labels=sentences.labels,
        settings=settings,
        embeddings=embeddings,
        digest=digest,
        points=np.asarray(points),
        plan=plan,
        n_neighbors=n_neighbors,
        truncated=too_long,
        max_tokens=embedder.max_tokens,
        encoded=fresh["n"],
        encode_seconds=encode_seconds,
        project_seconds=time.perf_counter() - started,
        all_same=same,
    )


def remember_selection(chart_key: str) -> None:
    """on_select callback: keep the rows picked on the map (they outlive the chart's own state)."""
    result: MapResult | None = st.session_state.get(RESULT)
    event = st.session_state.get(chart_key)
    if result is None or event is None:
        return
    rows = explore.selected_rows(event.get("selection"), len(result.texts))
    st.session_state[PICKED] = (result.key, rows)
    if rows:
        st.session_state[pick_key(result)] = rows[0]


def pick_key(result: MapResult, widget: str = "pick") -> str:
    """Key of a sentence picker on this map. A new map gets new pickers: the browser would
    otherwise go on showing the old map's sentence in a picker whose options are numbers."""
    return f"{widget}-{result.key[:16]}"


def remember_pick() -> None:
    """on_change callback of the sentence picker: it replaces the map's selection."""
    result: MapResult | None = st.session_state.get(RESULT)
    if result is not None:
        row = st.session_state.get(pick_key(result))
        st.session_state[PICKED] = (result.key, [] if row is None else [int(row)])


def picked_rows(result: MapResult) -> list[int]:
    """Rows picked on the current map (by selection or by the picker); [] for none."""
    key, rows = st.session_state.get(PICKED, (None, []))
    if key != result.key:
        return []
    return [r for r in rows if 0 <= r < len(result.texts)]


def describe(plan: embedlab.ProjectionPlan) -> str:
    """What will run, for a caption: "t-SNE (perplexity 1.67)", "PCA", ..."""
    if plan.method == "tsne":
        return f"t-SNE (perplexity {plan.perplexity:.3g})"
    return {"pca": "PCA", "umap": "UMAP", "none": "a single point"}.get(plan.method, plan.method)


def forget_picks() -> None:
    """A new map: rows picked on the old one mean nothing now."""
    st.session_state.pop(PICKED, None)
    for key in [k for k in st.session_state if str(k).startswith(("pick-", "pick_row-"))]:
        del st.session_state[key]


def fmt(value: float, style: str = "{:.3f}") -> str:
    """A measure for st.metric; "n/a" when undefined (NaN)."""
    return "n/a" if value != value else style.format(value)
