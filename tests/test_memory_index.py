"""embedlab.memory's approximate indexes in files beside the table: usearch's HNSW graph and FAISS's
IVF, their recall, their staleness.

Oracles: numpy cosines and top-k over the collection's own vectors, computed in each test; the
collection's files on disk. Collections are encoded by the packaged static model (fast enough
for the 1,000+ rows an index needs); the recall test writes random unit vectors as a collection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedlab.memory import (
    CollectionError,
    build_collection,
    build_index,
    collection_info,
    collection_vectors,
    delete_collection,
    search_collection,
)
from embedlab.memory import search as search_module
from embedlab.memory.index import index_state
from embedlab.memory.store import collections_dir, complete_settings

MODEL = "static-64d"
#: 36 made-up words: random triples of them give distinct texts with distinct vectors
WORDS = [a + b for a in ("ka", "lo", "mi", "ne", "su", "ta") for b in ("ber", "dun", "fip", "gol", "ran", "tev")]


def notes(n: int, offset: int = 0, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of distinct texts (random word triples), ids ``n<i>`` and a ``shelf`` column."""
    rng = np.random.default_rng(seed)
    words = rng.integers(0, len(WORDS), size=(n, 3))
    rows = range(offset, offset + n)
    return pd.DataFrame(
        {
            "key": [f"n{i}" for i in rows],
            "text": [f"{WORDS[a]} {WORDS[b]} {WORDS[c]} note {i}" for i, (a, b, c) in zip(rows, words, strict=True)],
            "shelf": [f"s{i % 4}" for i in rows],
        }
    )


def cosine_top(q: np.ndarray, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy's exact top ``k`` by cosine: indices and scores, best first."""
    scores = (vectors @ q) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def hnsw_files(home) -> list[str]:
    return sorted(p.name for p in (collections_dir(home) / ".exact").glob("*.usearch"))


def ivf_files(home) -> list[str]:
    return sorted(p.name for p in (collections_dir(home) / ".exact").glob("*.faiss"))


@pytest.fixture()
def home(tmp_path):
    build_collection("memo", notes(1200), id_column="key", model=MODEL, home=tmp_path)
    return tmp_path


def test_hnsw_index_finds_the_exact_neighbours_with_exact_scores(home):
    report = build_index("memo", home=home, kind="HNSW")
    assert report.kind == "HNSW" and report.rows == 1200 and report.seconds > 0
    assert 0.9 <= report.recall_at_10 <= 1.0 and report.approximate_ms > 0 and report.exact_ms > 0
    settings = complete_settings("memo", home)
    assert collection_info("memo", home=home).index == "HNSW" and index_state(settings) == "current"
    # the index file lives in the collection's folder, named after its table and data version
    assert hnsw_files(home) == [settings["index"]["file"]]
    assert settings["index"]["file"].startswith(f"{settings['table']}.v{settings['data_version']}.hnsw-")

    rows, vectors = collection_vectors("memo", home=home)
    rng = np.random.default_rng(1)
    found = []
    for a, b in rng.integers(0, len(vectors), size=(20, 2)):
        q = vectors[a] + vectors[b]
        result = search_collection("memo", q, k=10, method="approximate", home=home)
        want, want_scores = cosine_top(q, vectors, 10)
        assert result.method == "approximate" and result.recall_at_10 == pytest.approx(report.recall_at_10)
        # scores are exact cosines of the rows returned (re-scored with float32), best first
        got = rows.set_index("id").index.get_indexer(result.hits["id"])
        expected = (vectors[got] @ q) / (np.linalg.norm(vectors[got], axis=1) * np.linalg.norm(q))
        np.testing.assert_allclose(result.hits["score"], expected, atol=1e-5)
        assert result.hits["score"].is_monotonic_decreasing
        assert (result.hits["text"].to_numpy() == rows["text"].iloc[got].to_numpy()).all()
        found.append(len(set(got) & set(want)) / 10)
        if set(got) == set(want):
            np.testing.assert_allclose(result.hits["score"], want_scores, atol=1e-5)
    assert np.mean(found) >= 0.9


def test_rows_changed_make_the_index_stale_until_it_is_built_again(home, monkeypatch):
    build_index("memo", home=home, kind="HNSW")
    old_file = hnsw_files(home)
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 500)  # "auto" would search this collection approximately
    assert search_collection("memo", "kaber lodun mifip", home=home).method == "approximate"

    build_collection(
        "memo", pd.concat([notes(1200), notes(50, offset=1200, seed=7)]), id_column="key", model=MODEL, home=home
    )
    settings = complete_settings("memo", home)
    assert index_state(settings) == "stale"
    assert hnsw_files(home) == []  # the build removed the index of the old rows
    auto = search_collection("memo", "kaber lodun mifip", home=home)
    assert auto.method == "exact" and auto.recall_at_10 is None  # never a stale approximate answer
    with pytest.raises(
        CollectionError, match="has no up-to-date approximate index; its rows changed since it was built"
    ):
        search_collection("memo", "kaber lodun mifip", method="approximate", home=home)

    report = build_index("memo", home=home, kind="HNSW")
    assert report.rows == 1250 and hnsw_files(home) != old_file and len(hnsw_files(home)) == 1
    rows, vectors = collection_vectors("memo", home=home)
    for i in range(1200, 1250, 10):  # the new rows are found through the new index
        position = rows.index[rows["id"] == f"n{i}"][0]
        result = search_collection("memo", vectors[position], k=3, method="approximate", home=home)
        assert result.hits["score"].iloc[0] == pytest.approx(1.0, abs=1e-5)
        assert f"n{i}" in result.hits["id"][result.hits["score"] >= result.hits["score"].iloc[0] - 1e-6].tolist()


def test_a_filter_on_an_hnsw_index_ranks_the_matching_rows_exactly(home, monkeypatch):
    build_index("memo", home=home, kind="HNSW")
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 500)
    rows, vectors = collection_vectors("memo", home=home)
    keep = np.flatnonzero(rows["shelf"] == "s2")
    q = vectors[5] + vectors[17]
    for method in ("auto", "approximate"):
        result = search_collection("memo", q, k=8, where={"shelf": "s2"}, method=method, home=home)
        order, scores = cosine_top(q, vectors[keep], 8)
        assert result.method == "exact" and result.recall_at_10 is None
        assert set(result.hits["id"]) == set(rows["id"].iloc[keep[order]])
        np.testing.assert_allclose(result.hits["score"], scores, atol=1e-5)


def test_another_kind_replaces_the_hnsw_file_and_delete_removes_it(home):
    build_index("memo", home=home, kind="HNSW")
    assert len(hnsw_files(home)) == 1
    report = build_index("memo", home=home, kind="IVF_PQ")
    assert report.kind == "IVF_PQ" and hnsw_files(home) == []
    assert search_collection("memo", "kaber lodun", method="approximate", home=home).method == "approximate"
    build_index("memo", home=home, kind="HNSW")
    assert len(hnsw_files(home)) == 1
    delete_collection("memo", home=home)
    assert hnsw_files(home) == []


def test_bad_kind_names_the_parameter(home):
    with pytest.raises(ValueError, match="kind must be one of 'HNSW', 'IVF', 'IVF_PQ', 'IVF_HNSW_SQ', got 'FLAT'"):
        build_index("memo", home=home, kind="FLAT")


def test_ivf_index_finds_the_exact_neighbours_with_exact_scores(tmp_path):
    # 3,000 texts of 36 words: clustered vectors, 76 inverted lists
    build_collection("big", notes(3000, seed=3), id_column="key", model=MODEL, home=tmp_path)
    report = build_index("big", home=tmp_path, kind="IVF")
    assert report.kind == "IVF" and report.rows == 3000 and report.seconds > 0
    assert 0.95 <= report.recall_at_10 <= 1.0 and report.approximate_ms > 0
    settings = complete_settings("big", tmp_path)
    index = settings["index"]
    assert collection_info("big", home=tmp_path).index == "IVF" and index_state(settings) == "current"
    assert ivf_files(tmp_path) == [index["file"]] and hnsw_files(tmp_path) == []
    assert index["file"].startswith(f"{settings['table']}.v{settings['data_version']}.ivf-")
    assert 1 <= index["nprobe"] <= index["partitions"] and index["nprobe_recall_at_10"] >= 0.97

    rows, vectors = collection_vectors("big", home=tmp_path)
    found = []
    for a, b in np.random.default_rng(11).integers(0, len(vectors), size=(40, 2)):
        q = vectors[a] + vectors[b]
        result = search_collection("big", q, k=10, method="approximate", home=tmp_path)
        want, want_scores = cosine_top(q, vectors, 10)
        assert result.method == "approximate" and result.recall_at_10 == pytest.approx(report.recall_at_10)
        got = rows.set_index("id").index.get_indexer(result.hits["id"])
        expected = (vectors[got] @ q) / (np.linalg.norm(vectors[got], axis=1) * np.linalg.norm(q))
        np.testing.assert_allclose(result.hits["score"], expected, atol=1e-5)  # exact cosines, float32
        assert result.hits["score"].is_monotonic_decreasing
        assert (result.hits["text"].to_numpy() == rows["text"].iloc[got].to_numpy()).all()
        # a hit counts when it is as near as numpy's 10th (rows tied at the 10th score are equally right)
        found.append(np.sum(result.hits["score"].to_numpy() >= want_scores[-1] - 1e-6) / len(want))
    assert np.mean(found) >= 0.95
    # a filter ranks the matching rows exactly (an inverted file cannot skip the others)
    keep = np.flatnonzero(rows["shelf"] == "s1")
    q = vectors[3] + vectors[30]
    result = search_collection("big", q, k=5, where={"shelf": "s1"}, method="approximate", home=tmp_path)
    scores = cosine_top(q, vectors[keep], 5)[1]
    assert result.method == "exact"
    np.testing.assert_allclose(result.hits["score"], scores, atol=1e-5)


def test_ivf_index_goes_stale_when_rows_change_and_its_file_is_replaced_or_removed(home, monkeypatch):
    build_index("memo", home=home, kind="IVF")
    first = ivf_files(home)
    monkeypatch.setattr(search_module, "EXACT_LIMIT", 500)
    assert search_collection("memo", "kaber lodun mifip", home=home).method == "approximate"

    build_collection(
        "memo", pd.concat([notes(1200), notes(60, offset=1200, seed=7)]), id_column="key", model=MODEL, home=home
    )
    assert index_state(complete_settings("memo", home)) == "stale" and ivf_files(home) == []
    auto = search_collection("memo", "kaber lodun mifip", home=home)
    assert auto.method == "exact" and auto.recall_at_10 is None  # never a stale approximate answer
    with pytest.raises(CollectionError, match="its rows changed since it was built: build it again"):
        search_collection("memo", "kaber lodun mifip", method="approximate", home=home)

    report = build_index("memo", home=home, kind="IVF")
    assert report.rows == 1260 and len(ivf_files(home)) == 1 and ivf_files(home) != first
    rows, vectors = collection_vectors("memo", home=home)
    for i in range(1200, 1260, 15):  # the new rows are found through the new index
        position = rows.index[rows["id"] == f"n{i}"][0]
        result = search_collection("memo", vectors[position], k=3, method="approximate", home=home)
        assert result.hits["score"].iloc[0] == pytest.approx(1.0, abs=1e-5)

    # another kind replaces the file; building IVF again writes a new one
    build_index("memo", home=home, kind="HNSW")
    assert ivf_files(home) == [] and len(hnsw_files(home)) == 1
    build_index("memo", home=home, kind="IVF")
    assert len(ivf_files(home)) == 1 and hnsw_files(home) == []
    # a file removed by hand: the index is stale, "auto" goes exact, "approximate" asks for a build
    (collections_dir(home) / ".exact" / ivf_files(home)[0]).unlink()
    assert index_state(complete_settings("memo", home)) == "stale"
    assert search_collection("memo", "kaber lodun", home=home).method == "exact"
    build_index("memo", home=home, kind="IVF")
    delete_collection("memo", home=home)
    assert ivf_files(home) == []
