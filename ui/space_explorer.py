"""Streamlit-only helpers for the Space Explorer page: caching, the progress bar, and the kept map.

The computing is in the core: :func:`embedlab.maps.pipeline.build_map` (encode, plan, cached
projection), :mod:`embedlab.maps.neighbourhood` (neighbours, search, heatmap rows),
:mod:`embedlab.maps.explore` and :mod:`embedlab.maps.figures`. This module wraps those calls
in ``st.cache_data`` where a rerun would otherwise repeat them, draws the progress bar and
spinner while a map is built, and holds what the page keeps in ``st.session_state``.

Every widget and state key of the page is prefixed ``space_`` (see :data:`KEYS`), so no other
page reads them by accident.
"""

from __future__ import annotations

from contextlib import ExitStack

import streamlit as st

from embedlab import seed
from embedlab.maps import explore
from embedlab.maps.pipeline import MapProgress, MapResult, MapSettings, build_map, describe_plan, request_key

__all__ = [
    "DEFAULT_TEXT",
    "KEYS",
    "METHOD_NAMES",
    "PICKED",
    "RESULT",
    "TRIED",
    "MapResult",
    "MapSettings",
    "clusters",
    "describe_plan",
    "draw",
    "encode_query",
    "fmt",
    "forget_picks",
    "key",
    "map_quality",
    "pick_key",
    "picked_rows",
    "read_upload",
    "remember_pick",
    "remember_selection",
    "request_key",
]

#: The text box's starting content: the lesson's sixteen sentences as "Label | sentence" lines.
DEFAULT_TEXT = "\n".join(f"{label} | {text}" for label, text in seed.LABELLED_SENTENCES)
METHOD_NAMES = {"tsne": "t-SNE", "pca": "PCA", "umap": "UMAP"}
PREFIX = "space_"
#: The page's widget and element keys, each ``space_<name>``.
KEYS = tuple(
    PREFIX + name
    for name in [
        "model",
        "method",
        "dims",
        "perplexity",
        "n_neighbors",
        "seed",
        "source",
        "sentences",
        "upload",
        "text_column",
        "label_column",
        "go",
        "color_by",
        "n_clusters",
        "point_size",
        "show_text",
        "k",
        "query",
        "map",
        "selection",
        "selection_table",
        "neighbours",
        "neighbours_table",
        "search_results",
        "search_table",
        "heatmap",
        "expression",
        "among",
        "candidates",
        "exclude_terms",
        "arithmetic",
        "arithmetic_table",
        "download_csv",
        "download_html",
    ]
)
RESULT = "space_result"
PICKED = "space_picked"
TRIED = "space_tried"
PICKERS = ("space_pick-", "space_pick_row-")


def key(name: str) -> str:
    """The page's key for widget ``name``: "k" → "space_k"."""
    full = PREFIX + name
    if full not in KEYS:
        raise KeyError(f"{name!r} is not a Space Explorer widget; add it to KEYS.")
    return full


@st.cache_data(show_spinner=False, max_entries=8)
def read_upload(data: bytes, name: str):
    """embedlab.tables.read_table, cached by the file's bytes."""
    from embedlab.tables import read_table

    return read_table(data, name)


@st.cache_data(show_spinner=False, max_entries=32)
def map_quality(key: str, _result: MapResult) -> explore.MapQuality:
    """explore.map_quality of a map, cached by its key (the embeddings' digest and the request)."""
    return explore.map_quality(_result.embeddings, _result.points, list(_result.labels) if _result.labels else None)


@st.cache_data(show_spinner=False, max_entries=16)
def clusters(key: str, n_clusters: int | None, random_state: int, _result: MapResult) -> list[str]:
    """explore.cluster_names of a map's embeddings, cached by their digest and the settings."""
    return explore.cluster_names(_result.embeddings, n_clusters=n_clusters, random_state=random_state)


@st.cache_data(show_spinner=False, max_entries=64)
def encode_query(text: str, model: str):
    """One sentence's embedding (the core caches it too; this skips even the model lookup)."""
    import embedlab

    return embedlab.encode([text], model)


def draw(sentences: explore.Sentences, settings: MapSettings) -> MapResult:
    """build_map with a progress bar while encoding and a spinner while projecting; raises what it raises."""
    with ExitStack() as shown:
        bar = st.progress(0.0, text=f"Loading {settings.model}…")
        shown.callback(bar.empty)

        def progress(event: MapProgress) -> None:
            if event.stage == "projecting":
                bar.empty()
                shown.enter_context(st.spinner(event.message, show_time=True))
            else:
                bar.progress(event.fraction, text=event.message)

        return build_map(
            sentences.texts,
            model=settings.model,
            method=settings.method,
            dims=settings.n_components,
            perplexity=settings.perplexity,
            n_neighbors=settings.n_neighbors,
            random_state=settings.random_state,
            labels=sentences.labels,
            progress=progress,
        )


def remember_selection() -> None:
    """on_select callback of the map: keep the rows picked on it (they outlive the chart's own state)."""
    result: MapResult | None = st.session_state.get(RESULT)
    event = st.session_state.get(key("map"))
    if result is None or event is None:
        return
    rows = explore.selected_rows(event.get("selection"), len(result.texts))
    st.session_state[PICKED] = (result.key, rows)
    if rows:
        st.session_state[pick_key(result)] = rows[0]


def pick_key(result: MapResult, widget: str = "pick") -> str:
    """Key of a sentence picker on this map. A new map gets new pickers: the browser would
    otherwise go on showing the old map's sentence in a picker whose options are numbers."""
    return f"{PREFIX}{widget}-{result.key[:16]}"


def remember_pick() -> None:
    """on_change callback of the sentence picker: it replaces the map's selection."""
    result: MapResult | None = st.session_state.get(RESULT)
    if result is not None:
        row = st.session_state.get(pick_key(result))
        st.session_state[PICKED] = (result.key, [] if row is None else [int(row)])


def picked_rows(result: MapResult) -> list[int]:
    """Rows picked on the current map (by selection or by the picker); [] for none."""
    kept, rows = st.session_state.get(PICKED, (None, []))
    if kept != result.key:
        return []
    return [r for r in rows if 0 <= r < len(result.texts)]


def forget_picks() -> None:
    """A new map: rows picked on the old one mean nothing now."""
    st.session_state.pop(PICKED, None)
    for name in [k for k in st.session_state if str(k).startswith(PICKERS)]:
        del st.session_state[name]


def fmt(value: float, style: str = "{:.3f}") -> str:
    """A measure for st.metric; "n/a" when undefined (NaN)."""
    return "n/a" if value != value else style.format(value)
