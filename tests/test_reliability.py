"""Faults: a process killed mid-save, a model that breaks while encoding. Nothing whole is lost."""

import json
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest

import embedlab
from embedlab.models import packaged

SAVE_LOOP = {
    "benchmarks": (
        "import sys, embedlab\n"
        "results = embedlab.benchmark(['static-64d'], ['a text', 'another text'], repeats=1)\n"
        "store = embedlab.BenchmarkStore()\n"
        "for i in range(100000):\n"
        "    store.save(results, label=f'run {i}')\n"
        "    print(i, flush=True)\n"
    ),
    "reviews": (
        "import sys, embedlab\n"
        "reviewed = embedlab.review(['static-64d'], repeats=1, corpus=['a short text'] * 4)\n"
        "store = embedlab.ReviewStore()\n"
        "for i in range(100000):\n"
        "    store.save(reviewed, name=f'review {i}', notes='x' * 2000)\n"
        "    print(i, flush=True)\n"
    ),
}


@pytest.mark.parametrize("kind", ["benchmarks", "reviews"])
def test_sigkill_while_saving_leaves_only_whole_records(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", SAVE_LOOP[kind]], stdout=subprocess.PIPE, text=True)
    saved = [process.stdout.readline() for _ in range(20)]  # twenty saves done, more under way
    assert saved[-1].strip() == "19", saved
    process.send_signal(signal.SIGKILL)
    process.wait()

    path = tmp_path / f"{kind}.sqlite3"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if kind == "benchmarks":
        store = embedlab.BenchmarkStore()
        listed = store.runs()
        assert len(listed) >= 20
        for run_id in listed["id"]:
            assert len(store.load(int(run_id)).table) == 1  # every record opens, whole
    else:
        store = embedlab.ReviewStore()
        listed = store.reviews()
        assert len(listed) >= 20
        for review_id in listed["id"]:
            assert list(store.load(int(review_id)).table["model"]) == ["static-64d"]


@pytest.fixture
def breaks_while_encoding(tmp_path, monkeypatch):
    """A real model that loads but raises on long inputs: MiniLM told it may read 2,048 tokens,
    while it has position embeddings for 512 (torch raises an IndexError past them)."""
    source = packaged.locate_minilm()
    folder = tmp_path / "models" / "minilm-too-long"
    shutil.copytree(source, folder)
    config = folder / "sentence_bert_config.json"
    settings = json.loads(config.read_text())
    settings["max_seq_length"] = 2048
    config.write_text(json.dumps(settings))
    monkeypatch.setenv("EMBEDLAB_MODEL_DIRS", str(tmp_path / "models"))
    return str(folder)


def test_model_raising_while_encoding_gets_a_row_saying_why(breaks_while_encoding):
    texts = ["word " * 800, "another long text " * 300]
    results = embedlab.benchmark([breaks_while_encoding, "static-64d"], texts, repeats=1, warmup=False)
    rows = results.table.set_index("model")
    assert rows.loc[breaks_while_encoding, "error"]  # says why
    assert not rows.loc["static-64d", "error"] and rows.loc["static-64d", "texts_per_s"] > 0


def test_model_raising_while_encoding_in_a_review(breaks_while_encoding):
    traces = ["trace about work stress " * 200, "trace about learning " * 200, "trace about memory " * 200]
    reviewed = embedlab.review(
        [breaks_while_encoding, "static-64d"],
        traces=traces,
        queries=["stress at work", "learning to code"],
        expected=[0, 1],
        corpus=["a short text"] * 4,
        repeats=1,
    )
    rows = reviewed.table.set_index("model")
    assert rows.loc[breaks_while_encoding, "error"]
    assert rows.loc["static-64d", "status"] == "ok"
