"""The Space Explorer's "This workspace's maps" (AppTest): every map drawn in a workspace is listed;
Open shows one again with its sentences and settings, Delete removes it from disk and from the list
(a shared one only after a yes); another workspace lists none of them; a map deleted elsewhere is
dropped quietly, a damaged one says so and can still be deleted; an old workspace's last map is its list.

Oracles: the ids the page saved (``space_saved_map``), the core's saved files (``saved.load_map``,
``saved.map_exists``) and the chart's own JSON (its points and title).
"""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
from conftest import as_read, open_app, workspace_of
from test_space_persistence import messages, the_map

from embedlab import seed
from embedlab.maps import pipeline, saved
from embedlab.models.own import OwnVectors
from embedlab.workspace import Workspace

PAGE = "pages/space_explorer.py"


@pytest.fixture(autouse=True)
def cold_caches():
    st.cache_data.clear()
    pipeline.clear_cache()


def on_show(at) -> str:
    return at.session_state["space_saved_map"][1]


def label(at) -> str:
    (expander,) = [e for e in at.expander if e.label.startswith("This workspace's maps")]
    return expander.label


def listed(at) -> list[str]:
    """The map ids the list shows, in order (one Open button per row)."""
    prefix = "space_history_open_"
    return [b.key.removeprefix(prefix) for b in at.button if b.key and b.key.startswith(prefix)]


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def test_two_maps_listed_the_first_opened_again_then_deleted_and_private_to_the_workspace():
    at = open_app(PAGE)  # the first visit draws the lesson's sentences (t-SNE)
    ws = workspace_of(at)
    first = on_show(at)
    title, _, points = the_map(at)
    at.radio(key="space_method").set_value("pca")
    at.number_input(key="space_seed").set_value(7)
    click(at, "space_go")
    second = on_show(at)
    assert second != first and "PCA 2-D" in the_map(at)[0]
    assert label(at) == "This workspace's maps (2)" and listed(at) == [second, first]
    assert Workspace.open(ws).get("space_maps") == [second, first]
    assert at.button(key=f"space_history_open_{second}").disabled  # the one on show
    assert sum("on show]" in str(m.value) for m in at.markdown) == 1

    # Open the first: the page shows it again, as saved, with its settings in the inputs
    click(at, f"space_history_open_{first}")
    back = saved.load_map(first).result
    got_title, _, got_points = the_map(at)
    assert got_title == title == back.title() and np.array_equal(got_points, points)
    assert np.array_equal(got_points, np.asarray(back.points))
    assert at.session_state["space_result"].texts == back.texts == tuple(seed.SENTENCES)
    assert at.radio(key="space_method").value == "tsne" and at.number_input(key="space_seed").value == 42
    assert "press **Draw map**" not in messages(at)  # the inputs are the map's own
    assert listed(at) == [second, first] and on_show(at) == first  # opening keeps the order
    assert Workspace.open(ws).get("space_last_map") == first
    assert any("Opened the map" in str(s.value) for s in at.success)

    # Delete the second: gone from disk and from the list
    click(at, f"space_history_delete_{second}")
    assert not saved.map_exists(second) and saved.map_exists(first)
    assert listed(at) == [first] and label(at) == "This workspace's maps (1)"
    assert Workspace.open(ws).get("space_maps") == [first]

    # another workspace (someone else's session) lists only its own map
    other = open_app(PAGE)
    assert workspace_of(other) != ws
    assert listed(other) == [on_show(other)] and first not in listed(other) and second not in listed(other)
    # ... and the same workspace in a new session (a reload) lists this one's
    again = open_app(PAGE, ws)
    assert listed(again) == [first] and on_show(again) == first


def test_deleting_the_map_on_show_keeps_it_drawn_and_a_shared_one_asks_first():
    at = open_app(PAGE)
    ws = workspace_of(at)
    shown = on_show(at)
    _, _, points = the_map(at)
    click(at, "space_share")
    assert saved.is_shared(shown) and at.query_params["map"] == shown
    assert any("· shared (its link opens it) ·" in m for m in as_read(at.markdown))  # listed as shared at once
    click(at, f"space_history_delete_{shown}")
    assert saved.map_exists(shown)  # not yet: a shared map's link would break
    assert any("deleting it breaks its link" in str(w.value) for w in at.warning)
    click(at, "space_history_keep")
    assert saved.map_exists(shown) and not any("breaks its link" in str(w.value) for w in at.warning)
    click(at, f"space_history_delete_{shown}")
    click(at, "space_history_confirmed")
    assert not saved.map_exists(shown) and listed(at) == []
    assert Workspace.open(ws).get("space_last_map") is None and "map" not in at.query_params
    assert np.array_equal(the_map(at)[2], points)  # still drawn here
    assert any("stays drawn here" in str(s.value) for s in at.success)
    assert label(at) == "This workspace's maps (0)"
    # a reload draws it anew from the sentences and settings, as the caption says: saved and listed again
    again = open_app(PAGE, ws)
    redrawn = on_show(again)
    assert redrawn != shown and listed(again) == [redrawn] and np.array_equal(the_map(again)[2], points)
    # drawing again in the first tab saves and lists the map again, in front of the reload's
    click(at, "space_go")
    assert listed(at) == [on_show(at), redrawn] and saved.map_exists(on_show(at)) and on_show(at) != shown


def test_a_map_deleted_elsewhere_is_dropped_and_a_damaged_one_can_still_be_deleted():
    at = open_app(PAGE)
    ws = workspace_of(at)
    first = on_show(at)
    at.radio(key="space_method").set_value("pca")
    click(at, "space_go")
    second = on_show(at)
    at.number_input(key="space_seed").set_value(3)
    at.radio(key="space_dims").set_value(3)
    click(at, "space_go")
    third = on_show(at)
    assert listed(at) == [third, second, first]

    saved.delete_map(first)  # another tab of this workspace deleted it
    (saved.maps_dir() / second / "map.json").write_text("{ damaged", encoding="utf-8")
    at.run()
    assert not at.exception, at.exception
    assert listed(at) == [third, second] and Workspace.open(ws).get("space_maps") == [third, second]
    assert not at.error  # dropped quietly
    assert f"**Map {second}: cannot be read**" in " ".join(as_read(at.markdown))
    assert at.button(key=f"space_history_open_{second}").disabled
    click(at, f"space_history_delete_{second}")
    assert not saved.map_exists(second) and listed(at) == [third]


def test_an_old_workspace_with_only_its_last_map_lists_that_map():
    map_id = saved.save_map(pipeline.build_map(list(seed.SENTENCES[:8]), method="pca"))
    old = Workspace.open()
    old.put("space_last_map", map_id)  # from before workspaces kept a list
    at = open_app(PAGE, old.id)
    assert on_show(at) == map_id and listed(at) == [map_id]
    assert Workspace.open(old.id).get("space_maps") == [map_id]


def test_a_name_the_user_gave_shows_as_typed():
    """A map drawn from vectors brought from elsewhere is named by the user: listed literally, never as markup."""
    name = "my <b>vectors</b> :red[x] *y* [link](http://example.com)"
    texts = [f"note number {i}" for i in range(8)]
    vectors = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    map_id = saved.save_map(pipeline.build_map(texts, model=OwnVectors(name, texts, vectors), method="pca"))
    ws = Workspace.open()
    ws.put("space_maps", [map_id])
    at = open_app(PAGE, ws.id)  # a new session of the workspace; the list names the map
    shown = as_read(at.markdown)
    assert any(f"**{name} · PCA 2-D · 8 sentences · no labels**" in m for m in shown), shown
    raw = " ".join(str(m.value) for m in at.markdown)
    assert "<b>" not in raw and ":red[" not in raw and "](http" not in raw
