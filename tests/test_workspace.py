"""Workspaces: values, tables and bytes kept under an id survive a new process and a new session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from embedlab.cli.main import main
from embedlab.workspace import MAX_BYTES, Workspace, list_workspaces, prune_workspaces, workspaces_dir


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    return tmp_path


def test_values_round_trip_and_reach_another_process(home):
    ws = Workspace.open()
    value = {"text": "Animals | The cat <script>alert(1)</script>\nÜber", "k": 5, "models": ["a", "b"], "on": True}
    ws.put("space_sentences", value)
    assert Workspace.open(ws.id).get("space_sentences") == value
    code = f"from embedlab.workspace import Workspace; import json; print(json.dumps(Workspace.open({ws.id!r}).get('space_sentences')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**_env(home)})
    assert json.loads(out.stdout) == value


def _env(home):
    import os

    return {**os.environ, "EMBEDLAB_HOME": str(home)}


def test_new_ids_differ_and_missing_keys_give_the_default(home):
    a, b = Workspace.open(), Workspace.open()
    assert a.id != b.id
    assert a.get("nothing", 7) == 7 and a.table("nothing") is None and a.bytes("nothing") is None


@pytest.mark.parametrize("bad", ["../etc", "a/b/c/d/e", "short", "x" * 65, "", "ws id with spaces", 12345678])
def test_malformed_ids_are_refused_and_name_the_parameter(home, bad):
    with pytest.raises(ValueError, match="workspace_id"):
        Workspace.open(bad)
    assert [p.name for p in workspaces_dir().iterdir()] == []


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "k" * 101])
def test_malformed_keys_are_refused(home, bad):
    with pytest.raises(ValueError, match="key"):
        Workspace.open().put(bad, 1)


def test_tables_keep_dtypes_and_name_and_mixed_columns_fall_back_to_json(home):
    ws = Workspace.open()
    frame = pd.DataFrame({"id": [1, 2, 3], "text": ["a", "b", None], "score": [0.5, np.nan, 1.25]})
    ws.put_table("traces", frame, "traces.csv")
    back = ws.table("traces")
    assert back.name == "traces.csv"
    pd.testing.assert_frame_equal(back.frame, frame)
    mixed = pd.DataFrame({"cell": [1, "two", 3.0]})  # pyarrow cannot write one column of int, str and float
    ws.put_table("mixed", mixed, "m.json")
    assert ws.table("mixed").frame["cell"].tolist() == [1, "two", 3.0]
    assert sorted(ws.keys()) == ["mixed", "traces"]
    ws.put_table("traces", frame.head(1), "again.csv")  # replaced, not added to
    assert len(ws.table("traces").frame) == 1 and ws.table("traces").name == "again.csv"


def test_bytes_delete_and_damaged_files(home):
    ws = Workspace.open()
    ws.put_bytes("upload", b"id,text\n1,hi\n", "pairs.csv")
    assert ws.bytes("upload").data == b"id,text\n1,hi\n" and ws.bytes("upload").name == "pairs.csv"
    ws.put("setting", 3)
    (ws.folder / "setting.json").write_text("{not json")
    assert ws.get("setting", "default") == "default"  # damaged: the default, never an error
    ws.delete("upload")
    assert ws.bytes("upload") is None and "upload" not in list(ws.keys())


def test_values_that_are_not_json_or_too_big_are_refused(home, monkeypatch):
    ws = Workspace.open()
    with pytest.raises(TypeError, match="JSON"):
        ws.put("x", object())
    monkeypatch.setattr("embedlab.workspace.MAX_BYTES", 10)
    with pytest.raises(ValueError, match="more than a workspace keeps"):
        ws.put("x", "a" * 100)
    assert ws.get("x") is None
    assert MAX_BYTES >= 50 * 2**20  # the dashboard's largest upload fits


SCRIPT = textwrap.dedent(
    """
    import streamlit as st
    from ui import workspace

    workspace.ensure_in_url()
    workspace.restore("demo_text", "default text")
    workspace.restore("demo_method", "tsne", allowed=["tsne", "pca"])
    workspace.restore("demo_range", [2, 8])
    st.text_area("Text", key="demo_text")
    st.radio("Method", ["tsne", "pca"], key="demo_method")
    st.slider("Range", 0, 10, key="demo_range")
    workspace.keep("demo_text", "demo_method", "demo_range")
    """
)


def test_a_new_session_with_the_same_link_restores_the_widgets(home):
    first = AppTest.from_string(SCRIPT).run()
    ws_id = first.query_params["ws"][0] if isinstance(first.query_params["ws"], list) else first.query_params["ws"]
    assert first.text_area(key="demo_text").value == "default text"
    first.text_area(key="demo_text").set_value("Animals | The cat sits").run()
    first.radio(key="demo_method").set_value("pca").run()
    first.slider(key="demo_range").set_value((3, 9)).run()
    assert not first.exception

    second = AppTest.from_string(SCRIPT)
    second.query_params["ws"] = ws_id
    second.run()
    assert not second.exception and not second.warning
    assert second.text_area(key="demo_text").value == "Animals | The cat sits"
    assert second.radio(key="demo_method").value == "pca"
    assert tuple(second.slider(key="demo_range").value) == (3, 9)

    other = AppTest.from_string(SCRIPT).run()  # no link: a new workspace, the defaults
    assert other.text_area(key="demo_text").value == "default text"


def test_a_saved_value_no_longer_offered_gives_the_default(home):
    ws = Workspace.open()
    ws.put("demo_method", "umap-that-was-removed")
    at = AppTest.from_string(SCRIPT)
    at.query_params["ws"] = ws.id
    at.run()
    assert not at.exception and at.radio(key="demo_method").value == "tsne"


def test_a_malformed_link_starts_a_new_workspace_and_says_so(home):
    at = AppTest.from_string(SCRIPT)
    at.query_params["ws"] = "../../etc"
    at.run()
    assert not at.exception
    assert at.query_params["ws"] != "../../etc"
    assert any("new workspace" in t.value for t in at.toast)


# ------------------------------------------------------------------ listing and pruning
def _age(ws: Workspace, days: float) -> None:
    """Make ``ws`` look last used ``days`` ago (its folder's modification time)."""
    then = time.time() - days * 86400
    os.utime(ws.folder, (then, then))


def test_list_and_prune_remove_only_the_workspaces_unused_long_enough(home):
    old, stale, fresh = Workspace.open(), Workspace.open(), Workspace.open()
    old.put_bytes("upload", b"x" * 5000, "notes.csv")
    stale.put("space_sentences", "A | b")
    fresh.put("space_sentences", "C | d")
    _age(old, 40)
    _age(stale, 31)
    _age(fresh, 29)

    listed = list_workspaces()
    assert [info.id for info in listed] == [fresh.id, stale.id, old.id]  # most recently used first
    by_id = {info.id: info for info in listed}
    assert by_id[old.id].size_bytes >= 5000 and by_id[old.id].keys == 1

    would = prune_workspaces(timedelta(days=30), dry_run=True)
    assert sorted(info.id for info in would) == sorted([old.id, stale.id])
    assert all(ws.folder.exists() for ws in (old, stale, fresh))  # a dry run removes nothing

    removed = prune_workspaces(timedelta(days=30))
    assert sorted(info.id for info in removed) == sorted([old.id, stale.id])
    assert [info.id for info in list_workspaces()] == [fresh.id]
    assert Workspace.open(fresh.id).get("space_sentences") == "C | d"
    assert Workspace.open(old.id).get("upload") is None  # its link now opens an empty workspace


def test_opening_a_workspace_counts_as_using_it(home):
    ws = Workspace.open()
    ws.put("k", 1)
    _age(ws, 60)
    assert Workspace.open(ws.id).get("k") == 1  # a reload reads it: used today
    assert prune_workspaces(timedelta(days=30)) == []
    assert Workspace.open(ws.id).get("k") == 1


@pytest.mark.parametrize("older_than", [0, -1, "30", None])
def test_prune_needs_a_positive_timedelta(home, older_than):
    value = timedelta(days=older_than) if isinstance(older_than, int) else older_than
    with pytest.raises(ValueError, match="older_than"):
        prune_workspaces(value)


def test_the_command_line_lists_and_prunes(home, capsys):
    assert main(["workspaces"]) == 0
    assert "No workspaces yet" in capsys.readouterr().out
    kept, gone = Workspace.open(), Workspace.open()
    gone.put_bytes("upload", b"y" * 2500, "big.csv")
    _age(gone, 10)
    assert main(["workspaces"]) == 0
    out = capsys.readouterr().out
    assert out.index(kept.id) < out.index(gone.id) and "2 workspaces" in out and "kB" in out
    assert main(["workspaces", "--prune-days", "7", "--dry-run"]) == 0
    assert "Would remove 1 workspace" in capsys.readouterr().out and gone.folder.exists()
    assert main(["workspaces", "--prune-days", "7"]) == 0
    assert "Removed 1 workspace (2.5 kB" in capsys.readouterr().out
    assert not gone.folder.exists() and kept.folder.exists()
    with pytest.raises(SystemExit) as stopped:
        main(["workspaces", "--prune-days", "-3"])
    assert stopped.value.code == 2 and "--prune-days must be a number of days above 0" in capsys.readouterr().err
