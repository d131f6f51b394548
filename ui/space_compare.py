"""The Space Explorer's second half, Streamlit-only: your own vectors, a second model, and what moved.

The computing is in the core: :func:`embedlab.models.own.read_vectors` reads and checks the vectors,
:func:`embedlab.maps.compare.compare_maps` draws the second model's map lined up with the first and
compares the neighbourhoods, :mod:`embedlab.maps.figures` builds both figures. This module holds the
widgets, what the page keeps in ``st.session_state`` (keys ``space_own`` and ``space_compared``),
and draws the two maps side by side and the "what moved" table, so the page itself stays short.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath

import streamlit as st

from embedlab.maps import compare, figures, views
from embedlab.maps.compare import ALIGNMENTS, DEFAULT_ALIGNMENT, ComparedMaps
from embedlab.maps.explore import Sentences
from embedlab.maps.pipeline import MapResult
from embedlab.markup import markdown_literal
from embedlab.models.embedders import Embedder
from embedlab.models.own import MAX_BYTES, VECTOR_TYPES, OwnVectors, read_vectors
from ui import common
from ui import space_explorer as ui

__all__ = [
    "ALIGNMENT_NAMES",
    "COMPARED",
    "OWN",
    "alignment_picker",
    "compare_picker",
    "current",
    "draw",
    "is_stale",
    "own_vectors",
    "second_model",
    "show_maps",
    "show_moved",
]

OWN = ui.key("own")  # (what was read: file, name, texts) → (OwnVectors or None, error or "")
COMPARED = "space_compared"
NONE = ""
ALIGNMENT_NAMES = {
    "procrustes": "Turn it onto the first (Procrustes)",
    "tsne_init": "Start its t-SNE from the first map",
}
LINED_UP = {
    "procrustes": "its own map turned onto the left one (Procrustes: only rotated, mirrored, scaled)",
    "tsne_init": "its t-SNE started from the left map",
}
ALIGNMENT_HELP = (
    "Procrustes rotates, mirrors and scales the second model's own map onto the first: it stays exactly "
    "as faithful as drawn alone. Starting t-SNE from the first map lines the maps up during the "
    "optimisation instead, and can cost the second map some faithfulness (bench/align.py measures it)."
)


# ---------------------------------------------------------------- bring your own vectors
def own_vectors(sentences: Sentences | None) -> tuple[OwnVectors | None, bool]:
    """The "Bring your own vectors" expander: upload, name, read once per file, name and sentences.

    Shows what was read, or why it cannot be used, in one sentence. Returns the vectors (or None)
    and whether the map is to be drawn from them instead of the sidebar's model.
    """
    kept = st.session_state.get(OWN)
    with st.expander("Bring your own vectors", expanded=kept is not None, icon=":material/upload_file:"):
        upload = st.file_uploader(
            "Vectors made elsewhere: a .parquet file (a text column and a column of vectors) or a .npy "
            "array with one row per sentence above, in order",
            type=list(VECTOR_TYPES),
            key=ui.key("own_upload"),
            max_upload_size=MAX_BYTES // 2**20,
        )
        if upload is None:
            st.session_state.pop(OWN, None)
            st.caption("Then compare them with a model here, or draw the map from them.")
            return None, False
        stem = PurePath(upload.name).stem[:60] or "my vectors"
        name = st.text_input("Call them", stem, key=ui.key("own_name"), max_chars=80).strip() or stem
        kind = PurePath(upload.name).suffix.lower().lstrip(".")
        texts = sentences.texts if kind == "npy" and sentences is not None else None
        if kind == "npy" and texts is None:
            st.warning("A .npy file holds only vectors: put its sentences in the box above, one per row, in order.")
            return None, False
        read = (upload.file_id, name, _digest(texts))
        if kept is None or kept[0] != read:
            st.session_state[OWN] = kept = (read, *_read(upload.getvalue(), upload.name, name, texts))
        _, own, error = kept
        if error:
            st.error(markdown_literal(f"These vectors cannot be used: {error}"))
            return None, False
        if sentences is not None and (missing := own.missing(sentences.texts)):
            st.warning(
                markdown_literal(
                    f"{len(missing):,} of your {len(sentences):,} sentences have no vector in “{own.name}” "
                    f"(the first: “{missing[0][:80]}”): a map of them cannot be drawn from these vectors."
                )
            )
        st.success(
            markdown_literal(f"“{own.name}”: {len(own):,} vectors of {own.dim} dimensions.")
            + " Pick them under **Compare with** in the sidebar, or draw the map from them:"
        )
        as_model = st.toggle(
            "Draw the map from these vectors (instead of the model picked in the sidebar)", key=ui.key("own_as_model")
        )
        return own, as_model


def _digest(texts: list[str] | None) -> str:
    if texts is None:
        return ""
    h = hashlib.blake2b(digest_size=16)
    for text in texts:
        h.update(text.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


def _read(data: bytes, filename: str, name: str, texts: list[str] | None) -> tuple[OwnVectors | None, str]:
    if name in {info.name for info in common.catalog()}:
        return None, f"“{name}” is the name of a model here; call your vectors something else."
    try:
        return read_vectors(data, filename, name=name, texts=texts), ""
    except (ValueError, TypeError) as error:
        return None, str(error)


# ---------------------------------------------------------------- the second model
def compare_picker(own: OwnVectors | None) -> str:
    """The sidebar's "Compare with": "" for none, a catalog name, or the own vectors' name."""
    models = common.catalog()
    by_name = {m.name: m for m in models}
    options = [NONE, *by_name] + ([own.name] if own is not None else [])
    chosen_key = ui.key("compare")
    if st.session_state.get(chosen_key) not in (None, *options):
        st.session_state[chosen_key] = NONE  # their vectors were removed or renamed

    def label(name: str) -> str:
        if name == NONE:
            return "(none)"
        if name in by_name:
            return common.model_label(by_name[name])
        return f"{name} (your vectors, {own.dim}-d)"

    name = st.selectbox(
        "Compare with",
        options,
        format_func=label,
        key=chosen_key,
        help="A second model: its map of the same sentences is drawn beside the first, lined up with it, "
        "and the sentences whose nearest neighbours changed most are listed.",
        persist_state="session",
    )
    if name in by_name and not by_name[name].available:
        st.warning(f"{name} cannot run here: {by_name[name].reason}.")
    return name or NONE


def alignment_picker() -> str:
    """How the second map is lined up with the first (shown only while comparing)."""
    return st.radio(
        "Line the second map up by",
        ALIGNMENTS,
        index=ALIGNMENTS.index(DEFAULT_ALIGNMENT),
        format_func=ALIGNMENT_NAMES.get,
        key=ui.key("alignment"),
        help=ALIGNMENT_HELP,
        persist_state="session",
    )


def second_model(name: str, own: OwnVectors | None) -> str | Embedder | None:
    """What to draw the second map with: a catalog name, the own vectors, or None for no comparison."""
    if not name:
        return None
    return own if own is not None and name == own.name else name


def draw(first: MapResult, model: str | Embedder | None, alignment: str) -> None:
    """Keep ``first`` compared with ``model`` (compare_maps, with the progress bar and spinner), or
    nothing when ``model`` is None. A second model that fails says why; the first map stays."""
    st.session_state.pop(COMPARED, None)
    if model is None:
        return
    name = model.name if isinstance(model, Embedder) else model
    try:
        with ui.progress_bar(name) as progress:
            st.session_state[COMPARED] = compare.compare_maps(first, model, alignment=alignment, progress=progress)
    except LookupError as error:  # embedlab.ModelUnavailable
        st.error(markdown_literal(f"{name} cannot run here: {error}. The first map is drawn alone."))
    except (ValueError, TypeError, MemoryError) as error:
        st.error(markdown_literal(f"The second map ({name}) could not be drawn: {error}"))


def current(first: MapResult) -> ComparedMaps | None:
    """The comparison kept for this first map, or None."""
    kept: ComparedMaps | None = st.session_state.get(COMPARED)
    return kept if kept is not None and kept.first.key == first.key and kept.first.digest == first.digest else None


def is_stale(first: MapResult, model: str | Embedder | None, alignment: str) -> bool:
    """True when the comparison on show is not the one asked for now (press Draw map to update)."""
    kept = current(first)
    if model is None:
        return kept is not None
    return kept is None or kept.key != compare.pair_key(first, model, alignment)


# ---------------------------------------------------------------- the two maps and what moved
def show_maps(
    compared: ComparedMaps, first_figure, look: dict, *, height: int, contours: bool = False, first_table=None
) -> None:
    """The two maps side by side; a selection on either highlights the same sentences on both.

    ``first_figure`` is the page's figure of the first map (with the search star); ``look`` holds the
    display options (colours, sizes, highlighted, drawn and emphasised rows, hover columns) both
    figures share; ``contours``: the second map gets its own density contours too; ``first_table``:
    the first map's points table, whose extra columns (metadata, clusters) the second map's hover shows.
    """
    second = compared.second
    grid = None
    if contours and second.settings.n_components == 2:
        grid = views.density_grid(second.points, rows=look.get("visible"))
    table = second.points_table()
    for column in look.get("hover", ()):  # the first map's metadata and clusters: the same sentences, in order
        if first_table is not None and column not in table.columns and column in first_table.columns:
            table[column] = first_table[column].to_numpy()
    second_figure = figures.scatter_figure(
        table, title=second.title(), axis_name=second.axis_name, height=height, contours=grid, **look
    )
    flat = second.settings.n_components == 2  # 3-D maps have no selection
    left, right = st.columns(2, gap="small")
    for column, result, figure, chart, on_select in (
        (left, compared.first, first_figure, "map", ui.remember_selection),
        (right, second, second_figure, "map2", ui.remember_second_selection),
    ):
        with column:
            st.plotly_chart(
                figure,
                key=ui.key(chart),
                on_select=on_select,
                selection_mode=("points", "box", "lasso"),
                config={"displaylogo": False},
                alt=f"Map of {len(result):,} sentences from {result.model}: {ui.describe_plan(result.plan)}.",
            )
            ui.show_quality(result, result.digest + result.key + compared.key, compact=True)
    st.caption(
        markdown_literal(
            f"Same sentences, same settings. Right: {second.model}, {LINED_UP[compared.alignment]}. "
            + (
                "Select points on either map (click, box or lasso): the same sentences light up on both. "
                if flat
                else ""
            )
            + compared.note
        )
    )
    if second.truncated:
        st.caption(
            markdown_literal(
                f"{len(second.truncated):,} sentence(s) were cut to {second.model}'s {second.max_tokens} tokens."
            )
        )


def show_moved(compared: ComparedMaps, *, top: int = 10) -> None:
    """The overall neighbourhood overlap and the sentences whose neighbourhoods changed most."""
    first, second, near = compared.first, compared.second, compared.neighbours
    st.markdown("**What moved between the two models?**")
    figure, words = st.columns([1, 3], vertical_alignment="center")
    figure.metric(
        f"Neighbourhood overlap@{near.k}",
        ui.fmt(near.mean),
        help=f"Mean over the sentences of the share of their {near.k} nearest neighbours (cosine, each model's own "
        "space) that both models agree on. 1: the same neighbourhoods; near 0: the models see different ones.",
    )
    if near.k:
        words.caption(
            markdown_literal(
                f"On average {near.mean * near.k:.1f} of each sentence's {near.k} nearest neighbours are the same "
                f"under {first.model} and {second.model}. Below: the {min(top, len(first)):,} sentences whose "
                "neighbourhoods changed most, with their neighbours under each model (nearest first)."
            )
        )
    else:
        words.caption("One sentence has no neighbours to compare.")
        return
    st.container(key=ui.key("moved")).dataframe(
        compared.moved(top=top),
        hide_index=True,
        column_config={
            "row": st.column_config.NumberColumn("#", width="small"),
            "overlap": st.column_config.ProgressColumn("overlap", min_value=0.0, max_value=1.0, format="%.2f"),
        },
        key=ui.key("moved_table"),
    )
