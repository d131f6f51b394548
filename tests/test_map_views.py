"""embedlab.maps.views and the metadata a table brings: filters, substring highlight, the sentence finder,
density grids and hover text, each checked against an independent oracle (pandas, scikit-learn's
KernelDensity, a direct loop).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedlab.maps import pipeline, sentences, views
from embedlab.maps.sentences import MetadataColumn
from embedlab.maps.views import ColumnFilter


def random_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["cat", "Dog", "CATS", "bird", "naïve café", "Straße", "fish"]
    texts = [f"{rng.choice(words)} number {i} {rng.choice(words)}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "text": texts,
            "label": rng.choice(["a", "b", "c"], n),
            "team": rng.choice(["red", "blue", "green", ""], n),
            "score": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 20, n)),
            "note": [f"note {rng.integers(1000)} {rng.choice(words)}" for _ in range(n)],
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
        }
    )
    return frame


# ------------------------------------------------------------------ metadata from a table
def test_metadata_follows_the_kept_rows_and_reads_its_kind():
    frame = pd.DataFrame(
        {
            "text": ["A cat", " a dog ", "A cat", "", "Cats purr", "x", "y"],
            "label": ["p", "p", "q", "p", "s", "", "p"],
            "year": ["2020", "2021", "2022", "2023", "", "2019", " 7.5 "],
            "team": ["red", "blue", "red", "x", None, "red", "blue"],
            "x": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    got = sentences.from_table(frame, "text", "label")
    # oracle: pandas drops the blank text and the later repeat, keeping the first occurrence's cells
    kept = frame.assign(text=frame["text"].str.strip())
    kept = kept[kept["text"] != ""].drop_duplicates("text", keep="first")
    assert got.texts == kept["text"].tolist()
    columns = {c.name: c for c in got.metadata}
    assert list(columns) == ["year", "team", "x (column)"]  # "x" is the map's own column name
    assert columns["year"].kind == "number" and columns["x (column)"].kind == "number"
    expected_year = pd.to_numeric(kept["year"].str.strip().replace("", np.nan)).to_numpy(dtype=float)
    np.testing.assert_array_equal(np.array(columns["year"].values), expected_year)
    assert columns["team"].kind == "category"
    assert columns["team"].values == tuple(kept["team"].fillna("").tolist())
    assert sentences.from_table(frame, "text", "label", metadata=False).metadata == ()
    assert [c.name for c in sentences.from_table(frame, "text", metadata=["team"]).metadata] == ["team"]
    with pytest.raises(ValueError, match="metadata must name other columns of the table, got 'text'"):
        sentences.from_table(frame, "text", metadata=["text"])


def test_many_distinct_values_are_text_and_too_many_columns_are_cut_with_a_note():
    column = sentences.metadata_column("free", [f"value {i}" for i in range(sentences.MAX_CATEGORIES + 1)])
    assert column.kind == "text"
    assert sentences.metadata_column("few", ["a", "b"] * 40).kind == "category"
    assert sentences.metadata_column("ids", ["a", "b", "c", "d", "a"]).kind == "text"  # values barely repeat
    assert sentences.metadata_column("flags", [True, False, True]).kind == "category"
    wide = pd.DataFrame({"text": ["one", "two"], **{f"c{i}": [i, i] for i in range(sentences.MAX_METADATA + 5)}})
    got = sentences.from_table(wide, "text")
    assert len(got.metadata) == sentences.MAX_METADATA
    assert any(f"first {sentences.MAX_METADATA} of the table's 35 other columns" in n.text for n in got.notes)


def test_map_result_carries_metadata_into_its_points_table_and_key():
    texts = ["The cat sits on the mat", "A kitten naps", "Stocks fell", "Markets rose", "I love pizza"]
    meta = (MetadataColumn("year", "number", (2020.0, 2021.0, float("nan"), 2023.0, 2024.0)),)
    plain = pipeline.build_map(texts, model="static-64d", method="pca")
    with_meta = pipeline.build_map(texts, model="static-64d", method="pca", metadata=meta)
    table = with_meta.points_table([3, 0])
    assert list(table.columns) == ["text", "label", "year", "x", "y"]
    np.testing.assert_array_equal(table["year"].to_numpy(), [2023.0, 2020.0])
    np.testing.assert_array_equal(table[["x", "y"]].to_numpy(), with_meta.points[[3, 0]])
    # metadata never moves a point, but a map of other metadata is another map
    np.testing.assert_array_equal(plain.points, with_meta.points)
    assert plain.key == pipeline.request_key(texts, None, plain.settings) != with_meta.key
    with pytest.raises(ValueError, match="metadata column 'year' must have one value per text"):
        pipeline.build_map(texts[:4], model="static-64d", method="pca", metadata=meta)


# ------------------------------------------------------------------ filters, highlight, finder
def test_filters_agree_with_pandas():
    table = random_table()
    rules = [
        ColumnFilter("team", values=("red", "")),
        ColumnFilter("score", low=40.0, high=70.0),
        ColumnFilter("note", contains="CAT"),
        ColumnFilter("label", values=("a", "c")),
    ]
    got = views.filter_mask(table, rules)
    expected = (
        table["team"].isin(["red", ""])
        & table["score"].between(40.0, 70.0)
        & table["note"].str.contains("cat", case=False, regex=False)
        & table["label"].isin(["a", "c"])
    ).to_numpy()
    np.testing.assert_array_equal(got, expected)
    assert views.filter_mask(table).all()
    only_low = views.filter_mask(table, [ColumnFilter("score", low=60.0)])
    np.testing.assert_array_equal(only_low, (table["score"] >= 60.0).to_numpy())  # NaN fails the range
    with pytest.raises(ValueError, match="got 'nope'"):
        views.filter_mask(table, [ColumnFilter("nope", contains="x")])
    with pytest.raises(ValueError, match="exactly one of values, low/high or contains"):
        ColumnFilter("team", values=("red",), contains="x")
    with pytest.raises(ValueError, match="low must not be above high"):
        ColumnFilter("score", low=3, high=1)


def test_substring_highlight_and_finder_ignore_case():
    table = random_table(500)
    texts = table["text"].tolist()
    for needle in ["cat", "CAT", "  dog ", "café", "number 1"]:
        expected = table["text"].str.contains(needle.strip(), case=False, regex=False).to_numpy()
        np.testing.assert_array_equal(views.substring_mask(texts, needle), expected)
        assert views.find_rows(texts, needle, limit=7) == np.flatnonzero(expected)[:7].tolist()
    assert not views.substring_mask(texts, "   ").any()
    assert views.find_rows(texts, "") == list(range(views.FIND_LIMIT))
    assert views.find_rows(texts, "no such words") == []


def test_a_view_counts_what_is_drawn_and_what_matches():
    table = random_table(200)
    rule = ColumnFilter("label", values=("b",))
    shown = views.view(table, [rule], isolate=[0, 1, 2, 3, 500, -1], highlight="cat")
    expected = table.index.isin([0, 1, 2, 3]) & (table["label"] == "b").to_numpy()
    assert shown.rows_shown == np.flatnonzero(expected).tolist() and shown.n_total == 200
    matches = table["text"].str.contains("cat", case=False).to_numpy()
    np.testing.assert_array_equal(shown.matches, matches)
    assert shown.n_matches == int((matches & expected).sum())
    assert views.view(table).n_shown == 200 and views.view(table).matches is None
    assert views.categories(table, "team") == table["team"].value_counts().to_dict()
    low, high = views.number_range(table, "score")
    assert (low, high) == (table["score"].min(), table["score"].max())


# ------------------------------------------------------------------ density contours
def test_density_grid_is_a_gaussian_kde_as_scikit_learn_computes_it():
    from sklearn.neighbors import KernelDensity

    rng = np.random.default_rng(3)
    points = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal((5, 2), (0.5, 2.0), (200, 2))]).astype(np.float32)
    keep = rng.random(len(points)) < 0.8
    grid = views.density_grid(points, rows=keep, size=40)
    used = points[keep].astype(np.float64)
    h = used.std(axis=0, ddof=1) * len(used) ** (-1 / 6)  # Scott's rule per axis
    np.testing.assert_allclose(grid.bandwidth, h, rtol=1e-6)
    # oracle: an isotropic Gaussian KDE on the points scaled by the bandwidths, rescaled back
    kde = KernelDensity(bandwidth=1.0, kernel="gaussian").fit(used / h)
    gx, gy = np.meshgrid(grid.x, grid.y)
    at = np.column_stack([gx.ravel(), gy.ravel()]) / h
    expected = np.exp(kde.score_samples(at)).reshape(gx.shape) / (h[0] * h[1])
    np.testing.assert_allclose(grid.density, expected, rtol=1e-6, atol=1e-12)
    area = (grid.x[1] - grid.x[0]) * (grid.y[1] - grid.y[0])
    assert abs(grid.density.sum() * area - 1) < 0.03  # a density: it integrates to about 1
    assert views.density_grid(points[:2]) is None
    assert views.density_grid(np.ones((10, 2))) is None
    with pytest.raises(ValueError, match="points must have 2 columns"):
        views.density_grid(np.zeros((5, 3)))


# ------------------------------------------------------------------ hover text
def test_hover_shows_the_chosen_columns_escaped():
    table = pd.DataFrame(
        {
            "text": ["<b>cat</b> & co", "dog"],
            "label": ["pets", "<i>x</i>"],
            "year": [2021.0, float("nan")],
            "score": [0.123456, 3.0],
            "team": ["<script>", ""],
        }
    )
    default = views.hover_labels(table)
    assert default == [
        "&lt;b&gt;cat&lt;/b&gt; &amp; co<br><b>pets</b><br><i>row 1</i>",
        "dog<br><b>&lt;i&gt;x&lt;/i&gt;</b><br><i>row 2</i>",
    ]
    chosen = views.hover_labels(table, ["year", "score", "team", "missing"], groups=["pets", "g"])
    assert chosen[0] == "<b>pets</b><br>year: 2021<br>score: 0.1235<br>team: &lt;script&gt;<br><i>row 1</i>"
    assert chosen[1] == "<b>g</b><br>year: –<br>score: 3<br>team: –<br><i>row 2</i>"
    # the label is not said twice when it is the colour group
    assert views.hover_labels(table, ["label"], groups=["pets", "other"])[0] == "<b>pets</b><br><i>row 1</i>"
