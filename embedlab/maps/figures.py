"""Plotly figures for the Space Explorer: the map, the similarity heatmap, and a standalone HTML export.

Pure builders: each returns a ``plotly.graph_objects.Figure``. User text is escaped before it
reaches plotly, which renders a subset of HTML in hover and point text: pasted markup shows
literally and is never interpreted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..markup import html_literal
from .views import DEFAULT_HOVER, HOVER_CHARS, POINT_TEXT_CHARS, hover_labels, hover_text, row_mask, short_text

__all__ = [
    "DEFAULT_HOVER",
    "DIMMED_OPACITY",
    "HOVER_CHARS",
    "MAX_GROUPS",
    "OKABE_ITO",
    "PALETTE",
    "POINT_TEXT_CHARS",
    "TOL_MUTED",
    "WEBGL_THRESHOLD",
    "colours",
    "escape",
    "heatmap_figure",
    "hover_labels",
    "hover_text",
    "map_title",
    "scatter_figure",
    "short_text",
    "standalone_html",
]

#: ``text`` with ``&``, ``<`` and ``>`` escaped, so plotly shows it literally (one home: embedlab.markup).
escape = html_literal

#: Okabe & Ito's colour-blind-safe palette (black swapped for grey so it shows on dark themes too).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#999999",  # grey
)
#: Paul Tol's "muted" palette, also colour-blind safe, its two darkest first: after Okabe-Ito's
#: eight, wine and indigo keep the first ten labels at least 26 CIE76 ΔE apart (its light blue
#: #88CCEE, once ninth, was 14 from Okabe-Ito's sky blue: two labels read as one).
TOL_MUTED: tuple[str, ...] = (
    "#882255",
    "#332288",
    "#117733",
    "#CC6677",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#DDCC77",
    "#88CCEE",
)
PALETTE: tuple[str, ...] = OKABE_ITO + TOL_MUTED
#: Colour groups a map shows at most (more would be one trace per point and an unreadable legend).
MAX_GROUPS = 40
#: Above this many points the map is drawn with WebGL (scattergl).
WEBGL_THRESHOLD = 1_000
QUERY_COLOUR = "#000000"
#: How points are drawn when some are emphasised (a highlight): the others faded.
DIMMED_OPACITY = 0.15


def colours(groups: list[str]) -> dict[str, str]:
    """A palette colour per group, in the given order; colours repeat after ``len(PALETTE)`` groups."""
    return {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}


def map_title(
    model: str,
    method: str,
    *,
    n_points: int,
    n_components: int = 2,
    perplexity: float | None = None,
    random_state: int | None = None,
    n_neighbors: int | None = None,
) -> str:
    """A title naming everything needed to draw the same map again.

    >>> map_title("all-MiniLM-L6-v2", "tsne", n_points=16, perplexity=5, random_state=42)
    'all-MiniLM-L6-v2 · t-SNE 2-D (perplexity 5, seed 42) · 16 sentences'
    """
    if method == "tsne":
        how = f"t-SNE {n_components}-D (perplexity {perplexity:.3g}, seed {random_state})"
    elif method == "umap":
        how = f"UMAP {n_components}-D ({n_neighbors} neighbours, cosine, seed {random_state})"
    elif method == "pca":
        how = f"PCA {n_components}-D"
    else:
        how = "a single point"
    noun = "sentence" if n_points == 1 else "sentences"
    return f"{escape(model)} · {how} · {n_points:,} {noun}"


def scatter_figure(
    table,
    *,
    groups: list[str] | None = None,
    title: str = "",
    axis_name: str = "dimension",
    point_size: int = 9,
    show_text: bool = False,
    webgl: bool | None = None,
    query=None,
    legend_title: str = "Label",
    height: int = 620,
    values: Sequence[float] | np.ndarray | None = None,
    value_title: str = "",
    value_range: tuple[float, float] | None = None,
    selected: Sequence[int] | None = None,
    hover: Sequence[str] = DEFAULT_HOVER,
    visible: Sequence[bool] | np.ndarray | None = None,
    highlight: Sequence[bool] | np.ndarray | None = None,
    highlight_name: str = "matches",
    contours=None,
):
    """The map: one marker per sentence, coloured by group or value, hover showing the whole sentence.

    Parameters
    ----------
    table : DataFrame with columns text, x, y[, z]
        One row per sentence (see :func:`embedlab.maps.explore.points_table`); a ``z`` column makes a 3-D map.
    groups : list of str, optional
        One group name per row (label or cluster) for colour and legend; None draws one colour.
    title : str
        Already escaped (see :func:`map_title`).
    axis_name : str
        Axis titles read "<axis_name> 1", "<axis_name> 2", ...
    point_size : int, default 9
    show_text : bool, default False
        Write the start of each sentence beside its point.
    webgl : bool, optional
        Draw 2-D maps with scattergl; None chooses it above WEBGL_THRESHOLD points.
    query : DataFrame with columns text, x, y[, z], optional
        Searched sentences, drawn as stars.
    values : array-like of shape (n,), optional
        One number per row, drawn on a continuous colour scale (colour-blind safe, with a colour
        bar titled ``value_title``, shown in the hover too) instead of ``groups`` (give one, not both).
    value_title : str
        What the values are (plain text; escaped here).
    value_range : (float, float), optional
        The ends of the colour scale; the values' own range by default.
    selected : sequence of int, optional
        Rows to highlight (drawn as plotly's selected points, the others faded), e.g. the rows
        picked on another map of the same sentences. None or empty: no highlight; 2-D maps only.
    hover : sequence of str, default ("text", "label")
        The table's columns the hover box shows (see :func:`hover_labels`).
    visible : boolean mask of shape (n,), optional
        Rows to draw (a filter, an isolated selection); the others are left out, colours and
        row numbers unchanged. None draws all.
    highlight : boolean mask of shape (n,), optional
        Rows to emphasise: drawn on top as their own trace (named ``highlight_name``, in their
        group's colours, outlined), the other rows faded. None: no highlight.
    contours : DensityGrid, optional
        Density contours drawn under the points (:func:`embedlab.maps.views.density_grid`); 2-D only.

    Returns
    -------
    plotly.graph_objects.Figure
        Every sentence marker carries its row number in ``customdata``, so a selection maps back
        to rows (:func:`embedlab.maps.explore.selected_rows`).
    """
    import plotly.graph_objects as go

    three_d = "z" in table.columns
    n = len(table)
    if webgl is None:
        webgl = n > WEBGL_THRESHOLD
    group_of = list(groups) if groups is not None else [""] * n
    if len(group_of) != n:
        raise ValueError(f"groups must have one entry per row ({n}), got {len(group_of)}.")
    if values is not None:
        if groups is not None:
            raise ValueError("give groups or values, not both: a map has one colouring.")
        values = np.asarray(values, dtype=float).ravel()
        if len(values) != n:
            raise ValueError(f"values must have one entry per row ({n}), got {len(values)}.")
    picked = _picked(selected, n)
    shown = row_mask(visible, n, "visible")
    emphasised = row_mask(highlight, n, "highlight") if highlight is not None else None
    order = list(dict.fromkeys(group_of))
    palette = colours(order)
    texts = table["text"].tolist()
    labels = hover_labels(table, hover, groups=group_of if groups is not None else None)
    fig = go.Figure()
    all_groups = np.asarray(group_of, dtype=object)
    plain = shown & ~emphasised if emphasised is not None else shown  # emphasised rows get their own trace
    for group in order:
        rows = np.flatnonzero((all_groups == group) & plain)
        if not len(rows):
            continue
        name = escape(group) if group else "sentences"
        hover_boxes = [labels[i] for i in rows]
        marker = {"size": point_size, "color": palette[group], "line": {"width": 0.5, "color": "#ffffff"}}
        if values is not None:
            hover_boxes = [
                h + f"<br>{escape(value_title)}: {values[i]:.2f}" for h, i in zip(hover_boxes, rows, strict=True)
            ]
            marker.update(_value_colours(values[rows], value_title, value_range, values))
        if emphasised is not None:
            marker["opacity"] = DIMMED_OPACITY
        common = {
            "name": name,
            "legendgroup": name,
            "hovertext": hover_boxes,
            "hoverinfo": "text",
            "customdata": rows,
            "showlegend": groups is not None,
            "mode": "markers+text" if show_text else "markers",
            "text": [short_text(texts[i]) for i in rows] if show_text else None,
        }
        if picked is not None and not three_d:  # 3-D traces have no selected points
            common["selectedpoints"] = np.flatnonzero(picked[rows]).tolist()
            common["selected"] = {"marker": {"opacity": 1.0}}
            common["unselected"] = {"marker": {"opacity": 0.15}}
        x, y = table["x"].to_numpy()[rows], table["y"].to_numpy()[rows]
        if three_d:
            marker["size"] = max(2, point_size * 0.6)
            fig.add_trace(go.Scatter3d(x=x, y=y, z=table["z"].to_numpy()[rows], marker=marker, **common))
        else:
            trace = go.Scattergl if webgl else go.Scatter
            fig.add_trace(trace(x=x, y=y, marker={"opacity": 0.85, **marker}, textposition="top center", **common))
    if emphasised is not None:
        rows = np.flatnonzero(emphasised & shown)
        if len(rows):
            _add_highlight(fig, table, rows, labels, [palette[group_of[i]] for i in rows], three_d, webgl, point_size)
            fig.data[-2].name = fig.data[-1].name = escape(highlight_name)
            if values is not None:
                fig.data[-2].marker.update(_value_colours(values[rows], value_title, value_range, values))
                fig.data[-2].marker.showscale = False  # one colour bar: the faded points' trace has it
    if query is not None and len(query):
        _add_query(fig, query, three_d, point_size)
    if contours is not None and not three_d:  # the last trace, drawn under the points (plotly's contour layer)
        _add_contours(fig, contours)
    fig.update_layout(
        # the title sits just above the plot area, below the strip at the top where plotly's toolbar floats
        title={
            "text": title,
            "x": 0,
            "xanchor": "left",
            "xref": "paper",
            "y": 1,
            "yanchor": "bottom",
            "yref": "paper",
            "pad": {"b": 8},
            "font": {"size": 15},
        },
        height=height,
        margin={"l": 10, "r": 10, "t": 76, "b": 10},
        legend={"title": {"text": escape(legend_title)}, "itemsizing": "constant"},
        hoverlabel={"align": "left"},
        uirevision="map",
    )
    if three_d:
        fig.update_layout(
            scene={
                "xaxis_title": f"{axis_name} 1",
                "yaxis_title": f"{axis_name} 2",
                "zaxis_title": f"{axis_name} 3",
            }
        )
    else:
        # automargin: the margins grow to hold tick labels and axis titles (none is clipped)
        fig.update_xaxes(title=f"{axis_name} 1", zeroline=False, automargin=True)
        fig.update_yaxes(title=f"{axis_name} 2", zeroline=False, automargin=True)
        # no dragmode="select": in it Streamlit turns click-to-select off (a click picks a point);
        # several points are picked with Box or Lasso from the toolbar, as the caption says
    return fig


def _picked(selected, n: int) -> np.ndarray | None:
    """A boolean mask of the ``selected`` rows (numbers outside 0..n-1 ignored); None for no highlight."""
    if selected is None:
        return None
    rows = np.asarray(list(selected), dtype=np.int64)
    rows = rows[(rows >= 0) & (rows < n)]
    if not len(rows):
        return None
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _add_highlight(fig, table, rows, labels, colour_of, three_d: bool, webgl: bool, point_size: int) -> None:
    """The emphasised rows as one trace on top (their group colours, larger, outlined in black), then
    an empty trace that gives the legend a neutral swatch for them."""
    import plotly.graph_objects as go

    marker = {
        "size": point_size + 3,
        "color": colour_of,
        "opacity": 1.0,
        "line": {"width": 1.5, "color": QUERY_COLOUR},
    }
    common = {
        "legendgroup": "highlight",
        "hovertext": [labels[i] for i in rows],
        "hoverinfo": "text",
        "customdata": rows,
        "showlegend": False,  # the legend shows a neutral swatch instead of the first match's colour
        "mode": "markers",
    }
    x, y = table["x"].to_numpy()[rows], table["y"].to_numpy()[rows]
    if three_d:
        marker["size"] = max(3, (point_size + 3) * 0.6)
        fig.add_trace(go.Scatter3d(x=x, y=y, z=table["z"].to_numpy()[rows], marker=marker, **common))
    else:
        fig.add_trace((go.Scattergl if webgl else go.Scatter)(x=x, y=y, marker=marker, **common))
    swatch = {"size": point_size + 3, "color": "#ffffff", "line": {"width": 1.5, "color": QUERY_COLOUR}}
    legend = {"mode": "markers", "marker": swatch, "legendgroup": "highlight", "hoverinfo": "skip", "showlegend": True}
    if three_d:
        fig.add_trace(go.Scatter3d(x=[None], y=[None], z=[None], **legend))
    else:
        fig.add_trace(go.Scatter(x=[None], y=[None], **legend))


def _add_contours(fig, grid) -> None:
    """Density contours in light greys under the points (plotly draws contours below scatter traces)."""
    import plotly.graph_objects as go

    fig.add_trace(
        go.Contour(
            x=grid.x,
            y=grid.y,
            z=grid.density,
            name="density",
            showscale=False,
            hoverinfo="skip",
            ncontours=8,
            contours={"coloring": "fill", "showlines": True},
            colorscale=[[0.0, "rgba(120,120,120,0)"], [1.0, "rgba(120,120,120,0.35)"]],
            line={"width": 0.5, "color": "rgba(90,90,90,0.5)"},
            showlegend=False,
        )
    )


def _value_colours(
    values: np.ndarray, title: str, value_range: tuple[float, float] | None, every: np.ndarray | None = None
) -> dict:
    """Marker settings for a continuous colour: Cividis (colour-blind safe) with a colour bar.

    ``values`` are the trace's own; the scale's ends come from ``value_range``, else from ``every``
    value of the map (so a filter or highlight does not change what a colour means).
    """
    every = values if every is None else every
    finite = every[np.isfinite(every)]
    low, high = value_range if value_range is not None else (finite.min(), finite.max()) if len(finite) else (0, 1)
    return {
        "color": values,
        "colorscale": "Cividis",
        "cmin": float(low),
        "cmax": float(high),
        "showscale": True,
        "colorbar": {"title": {"text": escape(title)}, "thickness": 12},
    }


def _add_query(fig, query, three_d: bool, point_size: int) -> None:
    import plotly.graph_objects as go

    hover = ["<b>Your search</b><br>" + hover_text(t) for t in query["text"]]
    marker = {"size": point_size * 2.2, "color": "#FFFFFF", "symbol": "star" if not three_d else "diamond"}
    marker["line"] = {"width": 2, "color": QUERY_COLOUR}
    common = {"name": "your search", "hovertext": hover, "hoverinfo": "text", "mode": "markers", "marker": marker}
    if three_d:
        fig.add_trace(go.Scatter3d(x=query["x"], y=query["y"], z=query["z"], **common))
    else:
        fig.add_trace(go.Scatter(x=query["x"], y=query["y"], **common))


def heatmap_figure(matrix, texts: list[str], labels: list[str] | None = None, *, title: str = ""):
    """Pairwise cosine similarity as a heatmap; axes name each sentence, hover shows both in full.

    Parameters
    ----------
    matrix : array-like of shape (n, n)
    texts : list of str, length n
    labels : list of str, optional
        Shown before each axis name.
    """
    import plotly.graph_objects as go

    z = np.asarray(matrix, dtype=float)
    n = len(texts)
    if z.shape != (n, n):
        raise ValueError(f"matrix must have shape ({n}, {n}) to match texts, got {z.shape}.")
    names = [
        f"{i + 1}. " + (f"[{short_text(labels[i], 14)}] " if labels else "") + short_text(texts[i], 36)
        for i in range(n)
    ]
    numbers = [str(i + 1) for i in range(n)]
    full = [hover_text(t, width=60, limit=300) for t in texts]
    hover = [
        [f"{r + 1}. {full[r]}<br><b>vs</b><br>{c + 1}. {full[c]}<br>cosine {z[r, c]:.3f}" for c in range(n)]
        for r in range(n)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=numbers,
            y=names,
            text=hover,
            hoverinfo="text",
            colorscale="Cividis",
            zmin=min(0.0, float(z.min())),
            zmax=1.0,
            colorbar={"title": {"text": "cosine"}},
        )
    )
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=max(360, min(1300, 120 + 20 * n)),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        hoverlabel={"align": "left"},
    )
    fig.update_yaxes(autorange="reversed", tickfont={"size": 11}, tickmode="array", tickvals=names, ticktext=names)
    fig.update_xaxes(tickfont={"size": 10}, tickmode="array", tickvals=numbers, title="sentence number")
    return fig


def standalone_html(fig, *, title: str = "embedlab map") -> str:
    """The figure as one HTML file with plotly.js inside it: it opens offline, fetching nothing."""
    page = fig.to_html(include_plotlyjs=True, full_html=True, include_mathjax=False, config={"displaylogo": False})
    return page.replace("<head>", f"<head><title>{escape(title)}</title>", 1)
