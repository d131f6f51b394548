"""embedlab.maps.figures: escaping, palette, WebGL switch, titles, heatmap values, standalone HTML."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from embedlab.maps import figures

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "a & b <b>bold</b>",
    "<a href='javascript:x'>x</a>",
]


def table(texts, dims=2, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"text": texts, "label": [""] * len(texts)})
    for axis in "xyz"[:dims]:
        frame[axis] = rng.normal(size=len(texts))
    return frame


def all_hover(fig) -> list[str]:
    return [h for trace in fig.data for h in (trace.hovertext or [])]


def test_hover_and_point_text_never_carry_markup():
    fig = figures.scatter_figure(table(HOSTILE), groups=["<i>grp</i>"] * 4, show_text=True, title="t")
    ours = re.compile(r"</?(br|b|i)>")  # the only tags the builder writes itself
    for text in [*all_hover(fig), *fig.data[0].text, fig.data[0].name]:
        assert "<" not in ours.sub("", text), text
    joined = " ".join(all_hover(fig))
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    assert "a &amp; b &lt;b&gt;bold&lt;/b&gt;" in joined


def test_hover_shows_the_whole_sentence_wrapped_and_long_ones_cut():
    sentence = "The quick brown fox jumps over the lazy dog " * 3
    shown = figures.hover_text(sentence)
    assert shown.replace("<br>", " ").split() == sentence.split()
    long = "x" * 10_000
    cut = figures.hover_text(long)
    assert "(+9,400 characters)" in cut and cut.count("x") == figures.HOVER_CHARS


def test_one_trace_per_group_in_first_seen_order_with_okabe_ito_colours_and_row_numbers():
    groups = ["b", "a", "b", "c", "a"]
    fig = figures.scatter_figure(table(list("vwxyz")), groups=groups)
    assert [t.name for t in fig.data] == ["b", "a", "c"]
    assert [t.marker.color for t in fig.data] == list(figures.OKABE_ITO[:3])
    rows = {t.name: np.asarray(t.customdata).ravel().tolist() for t in fig.data}
    assert rows == {"b": [0, 2], "a": [1, 4], "c": [3]}
    for trace in fig.data:  # coordinates follow the rows
        np.testing.assert_allclose(trace.x, table(list("vwxyz"))["x"].to_numpy()[rows[trace.name]])


def test_palette_is_colour_blind_safe_and_distinct():
    assert figures.OKABE_ITO[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert len(set(figures.PALETTE)) == len(figures.PALETTE) == 17
    assert figures.colours([str(i) for i in range(20)])["17"] == figures.PALETTE[0]


def test_webgl_above_threshold_and_3d_scene():
    small = figures.scatter_figure(table([f"s{i}" for i in range(50)]))
    big = figures.scatter_figure(table([f"s{i}" for i in range(figures.WEBGL_THRESHOLD + 1)]))
    assert isinstance(small.data[0], go.Scatter) and isinstance(big.data[0], go.Scattergl)
    three = figures.scatter_figure(table(["a", "b", "c"], dims=3))
    assert isinstance(three.data[0], go.Scatter3d)
    assert three.layout.scene.zaxis.title.text == "dimension 3"


def test_query_star_is_its_own_trace_without_row_numbers():
    query = table(["<b>find me</b>"])
    fig = figures.scatter_figure(table(["a", "b", "c"]), query=query)
    star = fig.data[-1]
    assert star.name == "your search" and star.customdata is None and star.marker.symbol == "star"
    assert "&lt;b&gt;find me&lt;/b&gt;" in star.hovertext[0]


def test_title_names_model_method_and_parameters():
    title = figures.map_title("all-MiniLM-L6-v2", "tsne", n_points=16, perplexity=5.0, random_state=7)
    assert title == "all-MiniLM-L6-v2 · t-SNE 2-D (perplexity 5, seed 7) · 16 sentences"
    umap = figures.map_title("m", "umap", n_points=100, n_components=3, n_neighbors=15, random_state=1)
    assert "UMAP 3-D (15 neighbours, cosine, seed 1)" in umap
    assert figures.map_title("<m>", "pca", n_points=1).startswith("&lt;m&gt; · PCA 2-D · 1 sentence")


def test_heatmap_holds_the_cosine_matrix_and_escaped_names():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 8))
    matrix = cosine_similarity(x)
    fig = figures.heatmap_figure(matrix, [*HOSTILE, "plain"], ["L"] * 5)
    np.testing.assert_allclose(np.asarray(fig.data[0].z), matrix)
    assert all("<img" not in name and "<script" not in name for name in fig.data[0].y)
    assert "cosine" in fig.data[0].text[0][1]
    with pytest.raises(ValueError, match="matrix must have shape"):
        figures.heatmap_figure(matrix, ["a"])


def test_standalone_html_embeds_plotly_and_fetches_nothing():
    page = figures.standalone_html(figures.scatter_figure(table(["<script>alert(1)</script>", "b"])), title="<t>")
    assert len(page) > 1_000_000  # plotly.js is inside
    sources = re.findall(r"<script[^>]*\bsrc=", page, flags=re.I)
    links = re.findall(r"<link[^>]*\bhref=[\"']?https?:", page, flags=re.I)
    assert sources == [] and links == []
    assert "<title>&lt;t&gt;</title>" in page
    assert "<script>alert(1)</script>" not in page


# ------------------------------------------------------------------ the map tools: what is drawn, emphasised, under
def rows_of(fig, name=None) -> list[int]:
    return sorted(
        int(r)
        for t in fig.data
        if t.customdata is not None and (name is None or t.name == name)
        for r in np.asarray(t.customdata).ravel()
    )


def test_a_filter_leaves_rows_out_and_keeps_colours_and_row_numbers():
    groups = ["b", "a", "b", "c", "a"]
    frame = table(list("vwxyz"))
    visible = np.array([True, False, True, False, True])
    fig = figures.scatter_figure(frame, groups=groups, visible=visible)
    assert [t.name for t in fig.data] == ["b", "a"]  # "c" has no point left: no empty trace
    assert [t.marker.color for t in fig.data] == list(figures.OKABE_ITO[:2])  # colours do not shift
    assert rows_of(fig) == [0, 2, 4]
    for trace in fig.data:
        np.testing.assert_allclose(trace.x, frame["x"].to_numpy()[np.asarray(trace.customdata).ravel()])
    with pytest.raises(ValueError, match="visible must have one entry per row"):
        figures.scatter_figure(frame, visible=[True])


def test_a_highlight_is_one_outlined_trace_on_top_and_the_rest_faded():
    groups = ["b", "a", "b", "c", "a"]
    highlight = np.array([True, False, False, True, True])
    visible = np.array([True, True, True, True, False])
    fig = figures.scatter_figure(
        table(list("vwxyz")), groups=groups, highlight=highlight, visible=visible, highlight_name="has <x>"
    )
    top, swatch = fig.data[-2], fig.data[-1]
    assert top.name == swatch.name == "has &lt;x&gt;" and rows_of(fig, top.name) == [0, 3]  # drawn rows that match
    palette = figures.colours(["b", "a", "c"])
    assert list(top.marker.color) == [palette["b"], palette["c"]] and top.marker.line.width > 0
    assert swatch.showlegend is not False and swatch.customdata is None and top.showlegend is False
    faded = [t for t in fig.data[:-2]]
    assert all(t.marker.opacity == figures.DIMMED_OPACITY for t in faded)
    assert sorted(int(r) for t in faded for r in np.asarray(t.customdata).ravel()) == [1, 2]
    assert rows_of(figures.scatter_figure(table(list("vwxyz")), highlight=[False] * 5)) == [0, 1, 2, 3, 4]


def test_contours_are_drawn_under_the_points_on_2d_maps_only():
    from embedlab.maps import views

    frame = table([f"s{i}" for i in range(50)])
    grid = views.density_grid(frame[["x", "y"]].to_numpy())
    fig = figures.scatter_figure(frame, contours=grid)
    contour = [t for t in fig.data if t.type == "contour"]
    assert len(contour) == 1 and contour[0].hoverinfo == "skip" and contour[0].showlegend is False
    np.testing.assert_allclose(np.asarray(contour[0].z), grid.density)
    assert fig.data[0].type == "scatter"  # the first trace is still the points
    three = figures.scatter_figure(table(["a", "b", "c", "d"], dims=3), contours=grid)
    assert [t.type for t in three.data] == ["scatter3d"]


def test_hover_columns_reach_the_figure():
    frame = table(["a <b>", "b"]).assign(year=[2021.0, 1999.0])
    fig = figures.scatter_figure(frame, hover=["text", "year"])
    assert fig.data[0].hovertext == ("a &lt;b&gt;<br>year: 2021<br><i>row 1</i>", "b<br>year: 1999<br><i>row 2</i>")
