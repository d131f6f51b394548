"""``python -m embedlab collection ...``: build, list, search (JSON shape), delete, index; bad input in one line.

Oracle for search: embedlab.rank over the collection's vectors, with ids from the file.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

import embedlab
from embedlab.cli.main import main
from embedlab.memory import collection_vectors

os.environ["EMBEDLAB_BACKEND"] = "torch-fp32"  # the reference backend (see tests/test_memory.py)

TOPICS = ("cats", "the database", "sourdough bread", "the football match")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path / "home"))
    return tmp_path


def write_notes(folder, n=24, with_ids=True):
    frame = pd.DataFrame(
        {
            "body": [f"Note {i}: a chat about {TOPICS[i % 4]} on day {i // 4}." for i in range(n)],
            "who": ["ana" if i % 2 else "ben" for i in range(n)],
        }
    )
    if with_ids:
        frame.insert(0, "note_id", [f"note-{i}" for i in range(n)])
    path = folder / "notes.csv"
    frame.to_csv(path, index=False)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_build_search_list_delete(home, capsys):
    source = write_notes(home)
    code, out, err = run(
        capsys, "collection", "build", "notes", "--from", str(source), "--text-column", "body", "--id-column", "note_id"
    )
    assert code == 0, err
    assert "Collection notes: 24 rows, all-MiniLM-L6-v2 (384-d)" in out and "24 texts encoded" in out
    assert "encode" in err  # progress on stderr

    code, out, _ = run(capsys, "collection", "search", "notes", "baking bread at home", "-k", "5", "--json")
    hits = json.loads(out)
    rows, vectors = collection_vectors("notes")
    idx, scores = embedlab.rank(embedlab.encode(["baking bread at home"]), vectors, k=5)
    assert code == 0 and [h["id"] for h in hits] == rows["id"].iloc[idx[0]].tolist()
    assert all({"id", "text", "score", "collection", "who"} <= set(h) for h in hits)
    assert [h["score"] for h in hits] == pytest.approx(scores[0].tolist(), abs=1e-5)
    assert {h["collection"] for h in hits} == {"notes"} and hits[0]["id"].startswith("note-")

    code, out, _ = run(capsys, "collection", "search", "notes", "bread", "--where", "who=ana", "--json")
    assert code == 0 and {h["who"] for h in json.loads(out)} == {"ana"}

    code, out, _ = run(capsys, "collection", "search", "notes", "bread", "-k", "3")
    assert code == 0 and "3 nearest in notes (exact" in out

    code, out, _ = run(
        capsys, "collection", "build", "notes", "--from", str(source), "--text-column", "body", "--id-column", "note_id"
    )
    assert code == 0 and "0 texts encoded" in out and "24 already there" in out

    code, out, _ = run(capsys, "collection", "list", "--json")
    listed = json.loads(out)
    assert [c["name"] for c in listed] == ["notes"] and listed[0]["rows"] == 24

    code, out, _ = run(capsys, "collection", "delete", "notes")
    assert code == 0 and "Deleted collection notes" in out
    code, out, _ = run(capsys, "collection", "list")
    assert "No collections yet" in out


def test_ids_are_row_numbers_without_an_id_column(home, capsys):
    source = write_notes(home, n=8, with_ids=False)
    assert run(capsys, "collection", "build", "plain", "--from", str(source), "--text-column", "body")[0] == 0
    _, out, _ = run(capsys, "collection", "search", "plain", "Note 3: a chat about the football match", "--json")
    hits = json.loads(out)
    assert hits[0]["id"] == "3" and sorted(h["id"] for h in hits) == [str(i) for i in range(8)]


def test_bad_input_is_one_line(home, capsys):
    source = write_notes(home, n=4)
    with pytest.raises(SystemExit) as stop:
        main(["collection", "build", "notes", "--from", str(source), "--text-column", "content"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.strip().endswith("text_column 'content' is not in notes.csv; its columns are: note_id, body, who.")
    assert err.count("error:") == 1
    with pytest.raises(SystemExit) as stop:
        main(["collection", "search", "missing", "cats"])
    assert stop.value.code == 2 and "There is no collection named 'missing'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["collection", "build", "notes", "--from", str(home / "nope.csv")])
    assert stop.value.code == 2 and "--from" in capsys.readouterr().err
    main(["collection", "build", "notes", "--from", str(source), "--text-column", "body", "--quiet"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["collection", "index", "notes"])
    assert stop.value.code == 2 and "an approximate index needs at least 1,000" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["collection", "build", "notes", "--from", str(source), "--text-column", "body", "--model", "static-64d"])
    assert stop.value.code == 2 and "--rebuild" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["collection", "search", "notes", "cats", "--where", "nocolumn"])
    assert stop.value.code == 2 and "--where must be COLUMN=VALUE" in capsys.readouterr().err
