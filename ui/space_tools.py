"""The Space Explorer's map tools, Streamlit-only: filter, highlight, hover columns, contours, the
selection as a table (CSV, isolate), the sentence finder and the two neighbour tables.

The computing is in the core: :mod:`embedlab.maps.views` (filter masks, substring matches, the
finder, density grids, hover text) and :mod:`embedlab.maps.figures`. Filtering and isolating change
what is drawn, never the projection: nothing here encodes or projects.

Widgets whose options belong to one map (filters, contours, the finder) carry that map's key
(:func:`map_key`), so a new map starts them afresh; :func:`ui.space_explorer.forget_picks` drops them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from embedlab.formatting import count
from embedlab.maps import neighbourhood, views
from embedlab.maps.views import ColumnFilter
from embedlab.markup import markdown_literal
from ui import space_explorer as ui

__all__ = [
    "ISOLATED",
    "Tools",
    "isolated_rows",
    "map_key",
    "say_view",
    "selection_panel",
    "sentence_picker",
    "show_neighbours",
    "toolbar",
]

ISOLATED = "space_isolated"  # (map key, rows) drawn alone after "Isolate selection"
#: Above this many sentences the picker is a finder (a text box and its first matches), not one long list.
PICKER_LIST_MAX = 2_000
HOVER_NAMES = {"text": "sentence", "label": "label", "cluster": "cluster (k-means)"}


@dataclass(frozen=True)
class Tools:
    """What the tools ask for: the table to draw (with the columns they need), filters, highlight,
    hover columns and contours."""

    table: object = field(repr=False)
    filters: tuple[ColumnFilter, ...]
    highlight: str
    hover: tuple[str, ...]
    contours: bool


def map_key(result: ui.MapResult, name: str) -> str:
    """Key of a tool widget that belongs to one map: ``space_<name>-<map key>``."""
    return f"{ui.PREFIX}{name}-{result.key[:16]}"


def isolated_rows(result: ui.MapResult) -> list[int] | None:
    """Rows isolated on this map, or None when every (filtered) point is drawn."""
    kept = st.session_state.get(ISOLATED)
    return list(kept[1]) if kept is not None and kept[0] == result.key else None


def _isolate(key: str, rows: list[int]) -> None:
    st.session_state[ISOLATED] = (key, tuple(rows))


def _show_all() -> None:
    st.session_state.pop(ISOLATED, None)


def toolbar(result: ui.MapResult, cluster_names: Callable[[], list[str]], *, flat: bool) -> Tools:
    """Highlight, Filter, Hover and Contours, drawn where the caller is (a column beside the map).

    ``cluster_names`` gives the k-means group of each point, computed only when a tool needs it;
    ``flat``: a 2-D map (contours exist only there).
    """
    n = len(result)
    highlight = st.text_input(
        "Highlight text",
        key=ui.key("highlight"),
        placeholder="e.g. cat",
        max_chars=200,
        help="Points whose sentence contains this (any case) are drawn emphasised, the rest faded.",
    )
    metadata = [c.name for c in result.metadata]
    hover_options = ["text", *(["label"] if result.labels else []), *metadata, *(["cluster"] if n >= 3 else [])]
    chosen = st.session_state.get(ui.key("hover"))
    if chosen is None:  # the first map: the sentence and its label (set here, so no widget default is needed)
        st.session_state[ui.key("hover")] = [c for c in views.DEFAULT_HOVER if c in hover_options]
    elif not set(chosen) <= set(hover_options):  # a new map without some of the columns chosen
        st.session_state[ui.key("hover")] = [c for c in chosen if c in hover_options]
    filter_box = st.popover("Filter", icon=":material/filter_alt:", width="stretch", key=ui.key("filter_box"))
    with filter_box:
        kinds = views.column_kinds(result.labels, result.metadata)
        by = st.multiselect(
            "Filter by",
            [*kinds, *(["cluster"] if n >= 3 else [])],
            key=map_key(result, "filter_by"),
            format_func=lambda c: HOVER_NAMES.get(c, c),
            placeholder="label or a column",
        )
        if "cluster" in by:
            kinds["cluster"] = "category"
    with st.popover("Hover", icon=":material/mouse:", width="stretch", key=ui.key("hover_box")):
        hover = st.multiselect(
            "Show on hover",
            hover_options,
            format_func=lambda c: HOVER_NAMES.get(c, c),
            key=ui.key("hover"),
        )
    contours = False
    if flat:
        contours = st.toggle(
            "Contours",
            value=n > views.CONTOUR_THRESHOLD,
            key=map_key(result, "contours"),
            help=f"Density contours under the points: where they crowd. On by default above "
            f"{views.CONTOUR_THRESHOLD:,} points.",
        )
    clusters = cluster_names() if "cluster" in by or "cluster" in hover else None
    table = result.points_table(clusters=clusters)
    filters = []
    with filter_box:  # each filtered column's control, under "Filter by"
        for column in by:
            rule = _filter_widget(result, table, column, kinds[column])
            if rule is not None:
                filters.append(rule)
    return Tools(table, tuple(filters), highlight.strip(), tuple(hover), contours)


def _filter_widget(result: ui.MapResult, table, column: str, kind: str) -> ColumnFilter | None:
    """The control for one filtered column (inside the Filter popover): values, a range or a substring."""
    name = markdown_literal(HOVER_NAMES.get(column, column))  # a column's name is the user's text
    key = map_key(result, "filter") + "-" + str(list(table.columns).index(column))
    if kind == "category":
        counts = views.categories(table, column)
        picked = st.multiselect(
            name,
            list(counts),
            format_func=lambda v: f"{v or '(empty)'} ({counts[v]:,})",
            key=key,
            placeholder="all values",
        )
        return ColumnFilter(column, values=tuple(picked)) if picked else None
    if kind == "number":
        span = views.number_range(table, column)
        if span is None or span[0] == span[1]:
            st.caption(f"{name}: one value only" if span else f"{name}: no numbers")
            return None
        low, high = span
        whole = float(low).is_integer() and float(high).is_integer()
        bounds = (int(low), int(high)) if whole else (low, high)
        chosen = st.slider(name, *bounds, value=bounds, key=key, step=None if whole else (high - low) / 100)
        if tuple(chosen) == tuple(bounds):
            return None
        return ColumnFilter(column, low=float(chosen[0]), high=float(chosen[1]))
    needle = st.text_input(f"{name} contains", key=key, max_chars=200).strip()
    return ColumnFilter(column, contains=needle) if needle else None


def say_view(result: ui.MapResult, shown: views.View, tools: Tools) -> None:
    """How many points are drawn of how many, how many match the highlight; "Show all" when isolated."""
    isolated = isolated_rows(result) is not None
    if shown.n_shown < shown.n_total or isolated:
        why = " (the selection isolated)" if isolated else " (filtered)"
        st.caption(f"Showing {shown.n_shown:,} of {shown.n_total:,} points{why}.")
    else:
        st.caption(f"Showing all {shown.n_total:,} points.")
    if tools.highlight:
        if shown.n_matches:
            verb = "contains" if shown.n_matches == 1 else "contain"
            st.caption(markdown_literal(f"{count(shown.n_matches, 'point')} shown {verb} “{tools.highlight}”."))
        else:
            st.caption(markdown_literal(f"No point shown contains “{tools.highlight}”."))
    if isolated:
        st.button("Show all", key=ui.key("show_all"), on_click=_show_all, icon=":material/select_all:")


def selection_panel(result: ui.MapResult, picked: list[int], table) -> None:
    """Several points picked: their rows (every column) as a table, as CSV, and "Isolate selection"."""
    if len(picked) < 2:
        return
    chosen = table.iloc[picked].reset_index(drop=True)
    head, isolate, download = st.columns([3, 1, 1], vertical_alignment="center")
    head.caption(f"{len(picked):,} points selected: every column below; the neighbours further down are the first's.")
    isolate.button(
        "Isolate selection",
        key=ui.key("isolate"),
        on_click=_isolate,
        args=(result.key, list(picked)),
        icon=":material/filter_center_focus:",
        help="Draw only these points (Show all, beside the map, brings the others back).",
        width="stretch",
    )
    download.download_button(
        "Selection as CSV",
        lambda: chosen.to_csv(index=False).encode("utf-8"),
        file_name=f"{result.file_stem}-selection.csv",
        mime="text/csv",
        key=ui.key("selection_csv"),
        on_click="ignore",
        icon=":material/table:",
        width="stretch",
    )
    st.container(key=ui.key("selection")).dataframe(
        chosen,
        hide_index=True,
        height=min(300, 40 + 35 * len(picked)),
        key=ui.key("selection_table"),
        column_config={"text": st.column_config.TextColumn("text", width="large")},
    )


def sentence_picker(result: ui.MapResult) -> None:
    """Pick a sentence for its neighbours: a list up to PICKER_LIST_MAX sentences, else a finder
    (a text box and the first matches); both follow a point picked on the map."""
    n = len(result)
    current = st.session_state.get(ui.pick_key(result))
    if n <= PICKER_LIST_MAX:
        options = list(range(n))
        placeholder = "Pick a sentence, or select one on the map"
    else:
        found = st.text_input(
            f"Find a sentence (among {n:,}) by a word or phrase in it",
            key=map_key(result, "find"),
            placeholder="e.g. kitten",
            max_chars=200,
        )
        options = views.find_rows(result.texts, found)
        if current is not None and current not in options:
            options = [int(current), *options]
        if not found.strip():
            placeholder = f"Pick one of the first {len(options)}, or find one above"
        elif options:
            placeholder = f"{count(len(options), 'match', 'matches')}: pick one"
        else:
            placeholder = "No sentence contains that; try another word"
        if found.strip() and len(options) >= views.FIND_LIMIT:
            st.caption(f"The first {views.FIND_LIMIT} matches; type more to narrow them.")
    st.selectbox(
        "Sentence",
        options,
        index=None,
        format_func=lambda i: f"{i + 1}. {result.texts[i][:120]}",
        key=ui.pick_key(result),
        placeholder=placeholder,
        on_change=ui.remember_pick,
        label_visibility="collapsed",
    )


def show_neighbours(result: ui.MapResult, picked: list[int], searched: neighbourhood.Search | None, k: int) -> None:
    """Two columns: the picker and the picked sentence's ``k`` nearest neighbours; the search's."""
    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Nearest neighbours of a sentence** (cosine, original space)")
        sentence_picker(result)
        if picked:
            first = picked[0]
            st.caption(f"Neighbours of: {result.texts[first][:300]}")
            st.container(key=ui.key("neighbours")).dataframe(
                neighbourhood.neighbour_table(result, k=k, row=first),
                hide_index=True,
                column_config=ui.NEIGHBOUR_COLUMNS,
                key=ui.key("neighbours_table"),
            )
    with right:
        st.markdown("**Nearest neighbours of your search**")
        if searched is None:
            st.caption("Type a sentence in the search box above the map.")
        else:
            st.caption(f"It lands at the star on the map. {searched.how}")
            st.container(key=ui.key("search_results")).dataframe(
                searched.neighbours,
                hide_index=True,
                column_config=ui.NEIGHBOUR_COLUMNS,
                key=ui.key("search_table"),
            )
