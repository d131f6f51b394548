"""The Space Explorer keeps its work (issue 13): a NEW AppTest session opened with the same ``?ws=`` id —
a reload, or the link in another tab — finds the pasted sentences, the uploaded table and its columns,
the settings and the last map; a ``?map=<id>`` link opens a shared map in any session.

The map shown again is read from disk: no model is loaded, nothing is encoded or projected (the
calls are counted). Oracles: numpy (the restored map's points equal the drawn map's, read from the
chart's JSON) and the core's own saved files (embedlab.maps.saved).
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from embedlab import seed
from embedlab.maps import pipeline, saved
from embedlab.markup import markdown_literal
from embedlab.models import encoding
from embedlab.workspace import Workspace

TEXT = (
    "Cats | a cat sleeps on the sofa\nCats | a kitten chases a ball\nDogs | a dog barks at the door\n"
    "Dogs | a puppy runs in the park\nCars | a car drives down the road\nCars | a truck honks in traffic"
)


@pytest.fixture(autouse=True)
def cold_caches():
    """Streamlit's caches and the core's projection cache outlive an AppTest: each test starts without them."""
    st.cache_data.clear()
    pipeline.clear_cache()


def open_page(**params: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
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


def the_map(at: AppTest) -> tuple[str, list[str], np.ndarray]:
    """The map's title, legend names and points in row order, read from the chart's JSON."""
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    rows, coords = [], []
    for trace in figure["data"]:
        if "customdata" in trace:
            rows += array(trace["customdata"]).astype(int).ravel().tolist()
            coords.append(np.column_stack([array(trace[a]) for a in "xyz" if a in trace]))
    stacked = np.vstack(coords)
    points = np.empty_like(stacked)
    points[rows] = stacked
    return figure["layout"]["title"]["text"], [t["name"] for t in figure["data"]], points


def messages(at: AppTest) -> str:
    return " | ".join(str(e.value) for kind in (at.error, at.warning, at.info, at.caption) for e in kind)


def count_heavy_work(monkeypatch) -> dict:
    """Count model loads, encodings and projections from now on."""
    calls = {"load_model": 0, "encode": 0, "project": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(encoding, "load_model", counted("load_model", encoding.load_model))
    monkeypatch.setattr(pipeline, "load_model", counted("load_model", pipeline.load_model))
    monkeypatch.setattr(pipeline, "encode", counted("encode", pipeline.encode))
    monkeypatch.setattr(pipeline, "project", counted("project", pipeline.project))
    return calls


# ------------------------------------------------------------------ the workspace
def test_the_same_workspace_in_a_new_session_restores_text_settings_and_map(monkeypatch):
    at = open_page()
    ws = at.query_params["ws"]
    at.radio(key="space_dims").set_value(3)
    at.slider(key="space_perplexity").set_value(12)
    at.number_input(key="space_seed").set_value(7)
    draw(at, TEXT)
    title, legend, points = the_map(at)
    assert title == "all-MiniLM-L6-v2 · t-SNE 3-D (perplexity 1.67, seed 7) · 6 sentences"
    assert Workspace.open(ws).get("space_last_map") == at.session_state["space_saved_map"][1]

    calls = count_heavy_work(monkeypatch)
    st.cache_data.clear()
    pipeline.clear_cache()
    again = open_page(ws=ws)  # a reload, or the link in another tab: a new session
    assert again.query_params["ws"] == ws
    assert again.text_area(key="space_sentences").value == TEXT
    assert again.radio(key="space_source").value == "paste"
    assert again.radio(key="space_dims").value == 3 and again.radio(key="space_method").value == "tsne"
    assert again.slider(key="space_perplexity").value == 12 and again.number_input(key="space_seed").value == 7
    assert again.selectbox(key="space_model").value == "all-MiniLM-L6-v2"
    got_title, got_legend, got_points = the_map(again)
    assert (got_title, got_legend) == (title, legend) and np.array_equal(got_points, points)
    assert "press **Draw map**" not in messages(again)
    assert calls == {"load_model": 0, "encode": 0, "project": 0}, calls

    # typed after the map was drawn: kept too, and the map says it is out of date
    again.text_area(key="space_sentences").set_value(TEXT + "\nCars | a bus stops").run()
    third = open_page(ws=ws)
    assert third.text_area(key="space_sentences").value == TEXT + "\nCars | a bus stops"
    assert np.array_equal(the_map(third)[2], points)
    assert "press **Draw map**" in messages(third)


def test_an_uploaded_table_its_name_and_columns_come_back():
    at = open_page()
    ws = at.query_params["ws"]
    rows = "\n".join(f'"{t}",{label},{i}' for i, (label, t) in enumerate(seed.LABELLED_SENTENCES))
    at.radio(key="space_source").set_value("upload").run()
    name = "my_lesson*.csv"
    at.get("file_uploader")[0].set_value((name, ("sentence,topic,n\n" + rows).encode(), "text/csv")).run()
    assert not at.exception, at.exception
    at.selectbox(key="space_label_column").set_value("topic")
    draw(at)
    title, legend, points = the_map(at)
    assert legend == ["Animals", "Technology", "Food", "Emotions"]
    kept = Workspace.open(ws).table("space_table")
    assert kept.name == name and len(kept.frame) == 16 and list(kept.frame.columns) == ["sentence", "topic", "n"]

    again = open_page(ws=ws)
    assert again.radio(key="space_source").value == "upload"
    assert again.selectbox(key="space_text_column").value == "sentence"
    assert again.selectbox(key="space_label_column").value == "topic"
    caption = f"Restored from this workspace: {name}, 16 rows — upload another file to replace it."
    assert markdown_literal(caption) in [c.value for c in again.caption]
    assert the_map(again)[:2] == (title, legend) and np.array_equal(the_map(again)[2], points)
    assert "press **Draw map**" not in messages(again)

    # shared: a new workspace gets the map's sentences, labels and other columns as its table
    again.button(key="space_share").click().run()
    map_id = again.query_params["map"]
    assert saved.load_map(map_id).result.metadata[0].name == "n"
    visitor = open_page(map=map_id)
    assert visitor.query_params["ws"] != ws and visitor.radio(key="space_source").value == "upload"
    assert visitor.selectbox(key="space_label_column").value == "label"
    assert markdown_literal("Restored from this workspace: the shared map's sentences, 16 rows") in messages(visitor)
    assert the_map(visitor)[:2] == (title, legend) and np.array_equal(the_map(visitor)[2], points)
    assert "press **Draw map**" not in messages(visitor)


def test_a_new_map_replaces_the_last_one_and_a_shared_map_is_kept():
    at = open_page()
    ws = at.query_params["ws"]
    first = at.session_state["space_saved_map"][1]  # the first visit's map of the lesson's sentences
    draw(at, TEXT)
    second = at.session_state["space_saved_map"][1]
    assert second != first and Workspace.open(ws).get("space_last_map") == second
    assert saved.map_exists(first)  # kept among the workspace's maps (tests/test_space_history.py)
    assert Workspace.open(ws).get("space_maps") == [second, first]
    at.button(key="space_share").click().run()
    draw(at, TEXT + "\nCars | a bus stops")
    third = at.session_state["space_saved_map"][1]
    assert Workspace.open(ws).get("space_last_map") == third
    assert saved.map_exists(second) and saved.is_shared(second)  # its link still opens it
    assert "map" not in at.query_params  # the address no longer names the shared map


# ------------------------------------------------------------------ share links
def test_share_this_map_gives_a_link_that_opens_it_in_any_session():
    at = open_page()
    ws = at.query_params["ws"]
    at.radio(key="space_method").set_value("pca")
    draw(at, TEXT)
    title, legend, points = the_map(at)
    at.button(key="space_share").click().run()
    assert not at.exception, at.exception
    link = at.code[0].value
    map_id = link.rsplit("?map=", 1)[1]
    assert link == f"/?map={map_id}" or link.endswith(f"/?map={map_id}")
    assert at.query_params["map"] == map_id and saved.is_shared(map_id)
    assert np.array_equal(saved.load_map(map_id).result.points, points)

    shared = open_page(map=map_id)  # no ws: someone else's new workspace
    assert shared.query_params["ws"] != ws and shared.query_params["map"] == map_id
    got_title, got_legend, got_points = the_map(shared)
    assert (got_title, got_legend) == (title, legend) and np.array_equal(got_points, points)
    assert shared.text_area(key="space_sentences").value == TEXT  # ready to explore, and to redraw
    assert shared.radio(key="space_method").value == "pca"
    assert "press **Draw map**" not in messages(shared)
    assert any("Opened the shared map" in str(t.value) for t in shared.toast)
    # ready to explore: a search places a sentence on the shared map
    shared.text_input(key="space_query").set_value("a kitten naps").run()
    assert not shared.exception, shared.exception
    traces = json.loads(shared.get("plotly_chart")[0].proto.spec)["data"]
    assert traces[-1]["name"] == "your search"


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("nope", "map_id must be 16 characters from 0-9 and a-f"),
        ("0123456789abcdef", "no saved map has the id 0123456789abcdef on this server"),
    ],
)
def test_a_bad_map_link_says_why_in_one_sentence_and_the_page_goes_on(bad, expected):
    at = open_page(map=bad)
    errors = [str(e.value) for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(markdown_literal("The map in this link cannot be opened: "))
    assert markdown_literal(expected) in errors[0]
    assert "map" not in at.query_params
    assert len(the_map(at)[2]) == 16  # the first visit's map of the lesson's sentences
