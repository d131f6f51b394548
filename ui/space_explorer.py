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

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import streamlit as st

from embedlab import seed
from embedlab.formatting import percent
from embedlab.maps import arithmetic, explore, neighbourhood
from embedlab.maps.pipeline import MapProgress, MapResult, MapSettings, build_map, describe_plan, request_key
from embedlab.markup import markdown_literal
from embedlab.models.embedders import Embedder

__all__ = [
    "DEFAULT_TEXT",
    "KEYS",
    "METHOD_NAMES",
    "NEIGHBOUR_COLUMNS",
    "PICKED",
    "RESULT",
    "TRIED",
    "UPLOAD_LIMIT_MB",
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
    "progress_bar",
    "read_upload",
    "remember_pick",
    "remember_second_selection",
    "remember_selection",
    "request_key",
    "search",
    "show_arithmetic",
    "show_quality",
]

#: The largest upload the server takes (.streamlit/config.toml's server.maxUploadSize), said in the
#: uploader's label: the browser refuses a bigger file with its reason only on hover.
UPLOAD_LIMIT_MB = int(st.get_option("server.maxUploadSize"))
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
        # comparing two models and bringing your own vectors (ui/space_compare.py)
        "compare",
        "alignment",
        "map2",
        "moved",
        "moved_table",
        "own",
        "own_upload",
        "own_name",
        "own_as_model",
        # the map tools (ui/space_tools.py)
        "highlight",
        "filter_box",
        "hover_box",
        "hover",
        "isolate",
        "show_all",
        "selection_csv",
    ]
)
RESULT = "space_result"
PICKED = "space_picked"
TRIED = "space_tried"
#: Prefixes of the widgets that belong to one map (their key ends with the map's): forgotten with it.
PICKERS = (
    "space_pick-",
    "space_pick_row-",
    "space_filter-",
    "space_filter_by-",
    "space_contours-",
    "space_find-",
)


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
    """explore.map_quality of a map, cached by ``key`` (its embeddings' digest, the request, and for a
    second map lined up with a first, the pair: what decides the points)."""
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


@contextmanager
def progress_bar(model: str) -> Iterator[Callable[[MapProgress], None]]:
    """A progress bar while a map's model loads and encodes, then a spinner while it projects;
    yields the ``progress`` callback for build_map (gone when the block ends)."""
    with ExitStack() as shown:
        bar = st.progress(0.0, text=markdown_literal(f"Loading {model}…"))
        shown.callback(bar.empty)

        def progress(event: MapProgress) -> None:
            if event.stage == "projecting":
                bar.empty()
                shown.enter_context(st.spinner(markdown_literal(event.message), show_time=True))
            else:
                bar.progress(event.fraction, text=markdown_literal(event.message))

        yield progress


def draw(sentences: explore.Sentences, settings: MapSettings, model: str | Embedder | None = None) -> MapResult:
    """build_map with a progress bar while encoding and a spinner while projecting; raises what it raises.

    ``model`` is what to encode with when it is not ``settings.model`` by name (the user's own vectors).
    """
    with progress_bar(settings.model) as progress:
        return build_map(
            sentences.texts,
            model=settings.model if model is None else model,
            method=settings.method,
            dims=settings.n_components,
            perplexity=settings.perplexity,
            n_neighbors=settings.n_neighbors,
            random_state=settings.random_state,
            labels=sentences.labels,
            metadata=sentences.metadata,
            progress=progress,
        )


def remember_selection() -> None:
    """on_select callback of the map: keep the rows picked on it (they outlive the chart's own state)."""
    _remember_rows(key("map"))


def remember_second_selection() -> None:
    """on_select callback of the second model's map: its rows are the first map's rows (same sentences)."""
    _remember_rows(key("map2"))


def _remember_rows(chart: str) -> None:
    result: MapResult | None = st.session_state.get(RESULT)
    event = st.session_state.get(chart)
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
    """A new map: rows picked (or isolated) on the old one mean nothing now, nor do its tools' widgets."""
    st.session_state.pop(PICKED, None)
    st.session_state.pop("space_isolated", None)
    for name in [k for k in st.session_state if str(k).startswith(PICKERS)]:
        del st.session_state[name]


#: Column settings of the neighbour and search tables: the score and label narrow, the sentence wide.
NEIGHBOUR_COLUMNS = {
    "cosine": st.column_config.NumberColumn("cosine", format="%.3f", width="small"),
    "label": st.column_config.TextColumn("label", width="small"),
    "sentence": st.column_config.TextColumn("sentence", width="large", help="Hover a cell to read it whole."),
}


def fmt(value: float, style: str = "{:.3f}") -> str:
    """A measure for st.metric; "n/a" when undefined (NaN)."""
    return "n/a" if value != value else style.format(value)


def search(result: MapResult, query: str, k: int) -> tuple[neighbourhood.Search | None, str]:
    """Where ``query`` lands on the map and its neighbours, or (None, why not) in one sentence.

    A catalog model encodes any text (cached by :func:`encode_query`); vectors brought from
    elsewhere only know their own texts.
    """
    if not query:
        return None, ""
    try:
        if result.embedder is None:
            vector = encode_query(query, result.model)
        else:
            import embedlab

            vector = embedlab.encode([query], result.embedder, use_cache=False)
    except ValueError as error:
        return None, f"This search cannot be placed: {error}"
    return neighbourhood.search(result, query, vector, k=k), ""


def show_quality(result: MapResult, cache_key: str, *, compact: bool = False) -> None:
    """The map's faithfulness (and, with labels, how they group) as metrics; ``compact``: side by side."""
    with st.spinner("Measuring the map…"):
        quality = map_quality(cache_key, result)
    cells = iter(st.columns(4 if result.labels else 2)) if compact else None
    place = (lambda: next(cells)) if compact else (lambda: st.container())
    if not compact:
        st.markdown("**How faithful is this map?**")
    place().metric(
        f"Trustworthiness@{quality.k}",
        fmt(quality.trustworthiness),
        help="1.0: every sentence's neighbours on the map are also among its neighbours in the original space "
        "(scikit-learn's trustworthiness, cosine). Below about 0.9, read the map's distances with care.",
    )
    kept = place()
    kept.metric(
        "Nearest neighbour kept",
        percent(quality.neighbour_kept) if quality.neighbour_kept == quality.neighbour_kept else "n/a",
        help=f"Share of sentences whose nearest point on the map is among their {quality.neighbour_k or 10} "
        "nearest sentences in the original space. A random layout scores the chance level below.",
    )
    if quality.neighbour_chance == quality.neighbour_chance:
        kept.caption(f"By chance: {percent(quality.neighbour_chance)} (a random layout).")
    if result.labels:
        if not compact:
            st.markdown("**Do the labels group?** (original space)")
        place().metric(
            "Silhouette (cosine)",
            fmt(quality.silhouette),
            help="From −1 to 1: above 0, sentences are nearer their own label than the next one (original space).",
        )
        place().metric(
            f"kNN label agreement (k={quality.label_k})",
            percent(quality.label_agreement) if quality.label_agreement == quality.label_agreement else "n/a",
            help="Share of each sentence's nearest neighbours that carry its label (original space).",
        )
        if quality.label_chance == quality.label_chance:
            st.caption(f"Label agreement by chance: {percent(quality.label_chance)}.")
    if quality.sampled:
        st.caption(f"Measured on a random sample of {quality.n_used:,} of the {quality.n_total:,} sentences.")
    elif len(result) < 5:
        st.caption("Too few sentences for these measures to mean much.")


def show_arithmetic(result: MapResult, k: int) -> None:
    """The "Vector arithmetic" tab: an expression, the candidates to search among, the nearest ``k``."""
    st.caption(
        "Add and subtract meanings: each text is embedded, the vectors are combined, and the nearest "
        "candidates are listed. Put a space on each side of + and −."
    )
    expression = st.text_input("Expression", "king - man + woman", key=key("expression"), max_chars=2000)
    among = st.radio(
        "Search among",
        ["words", "map"],
        format_func={"words": "Words or phrases I list", "map": "The sentences on the map"}.get,
        key=key("among"),
        horizontal=True,
    )
    candidates = list(result.texts)
    if among == "words":
        listed = st.text_area(
            "Candidates, separated by commas or new lines",
            "queen, princess, prince, monarch, woman, man, king, girl, boy, castle",
            key=key("candidates"),
            height=80,
        )
        candidates = [c.strip() for c in listed.replace("\n", ",").split(",") if c.strip()]
    exclude = st.checkbox("Leave out the expression's own texts", True, key=key("exclude_terms"))
    if not candidates:
        st.warning("List at least one candidate to search among.")
    elif expression.strip():
        try:
            found = arithmetic.evaluate(
                expression,
                candidates,
                model=result.encoder,
                k=k,
                candidate_embeddings=result.embeddings if among == "map" else None,
                exclude_terms=exclude,
            )
        except ValueError as error:
            st.warning(markdown_literal(str(error)))
        else:
            if found.note:
                st.info(found.note)
            st.caption("Computed: " + found.expression)
            st.container(key=key("arithmetic")).dataframe(
                found.table(candidates),
                hide_index=True,
                column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
                key=key("arithmetic_table"),
            )
    else:
        st.caption("Type an expression such as: king - man + woman")
