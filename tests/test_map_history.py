"""A workspace's maps (embedlab.maps.history): newest first, each once, at most a limit, the oldest
deleted unless shared; vanished maps dropped, damaged ones listed as such and still deletable.

Oracles: the ids :func:`saved.save_map` gave, :func:`saved.map_exists` on disk, the map's own title
(``MapResult.title``, as its chart shows it) and the files' sizes read with ``os.stat``.
"""

from __future__ import annotations

import dataclasses
import html
import os
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from embedlab import seed
from embedlab.cli.main import main
from embedlab.formatting import file_size
from embedlab.maps import history, saved
from embedlab.maps.pipeline import MapResult, build_map
from embedlab.workspace import Workspace, prune_workspaces


@pytest.fixture(scope="module")
def small() -> MapResult:
    return build_map(list(seed.SENTENCES[:6]), method="pca")


@pytest.fixture(scope="module")
def labelled() -> MapResult:
    return build_map(seed.SENTENCES, labels=seed.LABELS, method="tsne", random_state=5)


def save(result: MapResult, n: int, home) -> list[str]:
    """``n`` saves of ``result`` (each a map of its own), oldest first."""
    return [saved.save_map(result, home=home) for _ in range(n)]


def test_drawn_maps_go_to_the_front_once_and_opened_ones_stay_where_they_are(tmp_path, small):
    a, b, c = save(small, 3, tmp_path)
    ids: tuple[str, ...] = ()
    for map_id in (a, b, c):
        ids = history.add_map(ids, map_id, home=tmp_path).ids
    assert ids == (c, b, a)
    assert history.add_map(ids, b, home=tmp_path).ids == (b, c, a)  # drawn again: to the front, once
    assert history.add_map(ids, a, to_front=False, home=tmp_path).ids == (c, b, a)  # opened: stays put
    d = saved.save_map(small, home=tmp_path)
    assert history.add_map(ids, d, to_front=False, home=tmp_path).ids == (d, c, b, a)  # new here: first
    assert all(saved.map_exists(i, home=tmp_path) for i in (a, b, c, d))  # nothing deleted under the limit


def test_past_the_limit_the_oldest_go_and_are_deleted_unless_shared(tmp_path, small):
    ids = save(small, 6, tmp_path)
    saved.mark_shared(ids[0], home=tmp_path)  # the oldest had a link given out
    listed: tuple[str, ...] = ()
    evicted, deleted = [], []
    for map_id in ids:
        kept = history.add_map(listed, map_id, limit=3, home=tmp_path)
        listed = kept.ids
        evicted += kept.evicted
        deleted += kept.deleted
    assert listed == tuple(reversed(ids[-3:]))
    assert evicted == ids[:3] and deleted == ids[1:3]
    assert saved.map_exists(ids[0], home=tmp_path) and saved.is_shared(ids[0], home=tmp_path)  # its link works
    assert [saved.map_exists(i, home=tmp_path) for i in ids[1:]] == [False, False, True, True, True]
    assert history.MAX_WORKSPACE_MAPS == 20
    long = save(small, history.MAX_WORKSPACE_MAPS + 1, tmp_path)
    listed = ()
    for map_id in long:
        listed = history.add_map(listed, map_id, home=tmp_path).ids
    assert len(listed) == history.MAX_WORKSPACE_MAPS and long[0] not in listed
    assert not saved.map_exists(long[0], home=tmp_path)


def test_vanished_maps_are_dropped_and_damaged_ones_listed_as_such(tmp_path, small, labelled):
    gone, damaged, fine, shown = save(small, 2, tmp_path) + save(labelled, 1, tmp_path) + save(small, 1, tmp_path)
    ids = (shown, fine, damaged, gone)
    saved.delete_map(gone, home=tmp_path)  # another tab deleted it
    (saved.maps_dir(tmp_path) / damaged / "map.json").write_text("{ not json", encoding="utf-8")
    found = history.workspace_maps(ids, on_show=shown, home=tmp_path)
    assert found.dropped == (gone,) and found.ids == (shown, fine, damaged)
    assert [row.map_id for row in found.rows] == [shown, fine, damaged]
    assert [row.on_show for row in found.rows] == [True, False, False]
    row = found.rows[2]
    assert not row.readable and row.summary == f"Map {damaged}: cannot be read" and "cannot be read" in row.problem
    assert history.add_map(ids, shown, to_front=False, home=tmp_path).ids == (shown, fine, damaged)
    # a damaged map can still be deleted
    assert history.remove_map(found.ids, damaged, home=tmp_path) == (shown, fine)
    assert not saved.map_exists(damaged, home=tmp_path)
    assert history.remove_map((shown, fine), gone, home=tmp_path) == (shown, fine)  # gone already: no error


def test_rows_say_what_each_map_is(tmp_path, small, labelled):
    plain_id, labelled_id = saved.save_map(small, home=tmp_path), saved.save_map(labelled, home=tmp_path)
    saved.mark_shared(labelled_id, home=tmp_path)
    rows = {row.map_id: row for row in history.workspace_maps([labelled_id, plain_id], home=tmp_path).rows}
    for map_id, result in ((plain_id, small), (labelled_id, labelled)):
        row = rows[map_id]
        title = html.unescape(result.title())  # the chart's title, plotly's escapes undone
        assert row.summary == f"{title} · {'labelled' if result.labels else 'no labels'}"
        folder = saved.maps_dir(tmp_path) / map_id
        on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert row.info.size_bytes == on_disk and row.size == file_size(on_disk)
        created = datetime.fromisoformat(saved.load_map(map_id, home=tmp_path).created)
        local = created.astimezone(ZoneInfo("Asia/Kolkata"))
        assert row.drawn("Asia/Kolkata") == f"{local.day} {local:%b %Y, %H:%M}"
        assert row.drawn(None).endswith(" UTC") and row.drawn("Not/A_zone").endswith(" UTC")
    assert rows[labelled_id].shared and not rows[plain_id].shared
    assert "t-SNE 2-D" in rows[labelled_id].summary and "16 sentences" in rows[labelled_id].summary


def test_stored_lists_are_read_defensively():
    a, b = "0123456789abcdef", "fedcba9876543210"
    assert history.stored_ids([a, b, a]) == [a, b]
    assert history.stored_ids([a, "../../etc", 7, None, b]) == [a, b]
    assert history.stored_ids(None, b) == [b]  # a workspace from before the list: its last map
    assert history.stored_ids([], b) == []  # a list, even empty, is the list
    assert history.stored_ids({"a": 1}) == [] and history.stored_ids("0123456789abcdef") == []
    assert history.drawn_at("yesterday") == "yesterday"


def test_bad_arguments_name_the_parameter(tmp_path, small):
    with pytest.raises(ValueError, match=r"^map_id must be 16 characters"):
        history.add_map([], "nope", home=tmp_path)
    with pytest.raises(ValueError, match=r"^map_id must be 16 characters"):
        history.remove_map([], "../x", home=tmp_path)
    map_id = saved.save_map(small, home=tmp_path)
    with pytest.raises(ValueError, match=r"^limit must be a positive integer, got 0"):
        history.add_map([], map_id, limit=0, home=tmp_path)
    with pytest.raises(TypeError, match=r"^limit must be a positive integer"):
        history.add_map([], map_id, limit=2.5, home=tmp_path)


def test_map_info_reads_one_map_and_says_when_it_cannot(tmp_path, small):
    map_id = saved.save_map(small, name="mine", home=tmp_path)
    info = saved.map_info(map_id, home=tmp_path)
    assert info == next(m for m in saved.list_maps(home=tmp_path) if m.map_id == map_id)
    assert dataclasses.asdict(info)["n_points"] == len(small.texts) and info.name == "mine"
    (saved.maps_dir(tmp_path) / map_id / "map.json").write_text("[]", encoding="utf-8")
    with pytest.raises(saved.MapDamaged, match=f"^The saved map {map_id} cannot be read"):
        saved.map_info(map_id, home=tmp_path)
    saved.delete_map(map_id, home=tmp_path)
    with pytest.raises(saved.MapNotFound):
        saved.map_info(map_id, home=tmp_path)


def test_pruning_a_workspace_deletes_the_maps_it_drew_but_not_shared_or_others(tmp_path, monkeypatch, small):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    drawn, shared, old_last, other = save(small, 4, None)
    saved.mark_shared(shared)
    old, kept, legacy = Workspace.open(), Workspace.open(), Workspace.open()
    old.put(history.MAPS_KEY, [drawn, shared])
    old.put(history.LAST_MAP_KEY, drawn)
    legacy.put(history.LAST_MAP_KEY, old_last)  # a workspace from before the list: its last map only
    kept.put(history.MAPS_KEY, [other])
    then = time.time() - 40 * 86400
    for ws in (old, legacy):
        os.utime(ws.folder, (then, then))

    assert sorted(i.id for i in prune_workspaces(timedelta(days=30), dry_run=True)) == sorted([old.id, legacy.id])
    assert all(saved.map_exists(m) for m in (drawn, shared, old_last, other))  # a dry run deletes nothing

    assert main(["workspaces", "--prune-days", "30"]) == 0
    assert not saved.map_exists(drawn) and not saved.map_exists(old_last)  # went with their workspaces
    assert saved.map_exists(shared)  # its link still opens it
    assert saved.map_exists(other)  # another workspace's map
    assert kept.folder.exists() and not old.folder.exists() and not legacy.folder.exists()
