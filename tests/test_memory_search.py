"""embedlab.memory search: exact top-k against embedlab.rank, filters, merging, the approximate index's recall.

Oracles: embedlab.rank (and numpy) over the collection's own vectors, computed in each test; for the
approximate index, exact search on random unit vectors written as a collection.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

# the reference backend, so vectors equal sentence-transformers' own (auto may pick bf16 on this CPU)
os.environ["EMBEDLAB_BACKEND"] = "torch-fp32"

import embedlab
from embedlab.memory import (
    CollectionError,
    build_collection,
    build_index,
    collection_vectors,
    search_collection,
    search_collections,
)

TOPICS = ("cats", "the database", "sourdough bread", "the football match", "rain in Berlin", "a python script")
QUERIES = ("my cat sleeps all day", "the SQL server is slow", "baking at home", "who won the game")


def notes(n: int, offset: int = 0) -> pd.DataFrame:
    rows = range(offset, offset + n)
    return pd.DataFrame(
        {
            "key": [f"n{i}" for i in rows],
            "text": [f"Note {i}: we talked about {TOPICS[i % 6]} after lunch on day {i // 6}." for i in rows],
            "topic": [TOPICS[i % 6] for i in rows],
        }
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    build_collection("notes", notes(60), id_column="key", home=home)
    build_collection("more", notes(30, offset=60), id_column="key", home=home)
    build_collection("static", notes(30, offset=90), id_column="key", model="static-64d", home=home)
    return home


def test_exact_top_k_equals_rank_on_the_same_vectors(home):
    rows, vectors = collection_vectors("notes", home=home)
    for query in QUERIES:
        result = search_collection("notes", query, k=7, home=home)
        idx, scores = embedlab.rank(embedlab.encode([query]), vectors, k=7)
        assert result.method == "exact" and result.recall_at_10 is None
        assert result.hits["id"].tolist() == rows["id"].iloc[idx[0]].tolist()
        np.testing.assert_allclose(result.hits["score"], scores[0], atol=1e-6)
        assert result.hits["rank"].tolist() == list(range(1, 8))
        assert list(result.hits.columns) == ["rank", "id", "text", "score", "collection", "topic"]
        assert (result.hits["text"] == rows.set_index("id").loc[result.hits["id"], "text"].to_numpy()).all()
        by_vector = search_collection("notes", embedlab.encode([query])[0], k=7, home=home)
        assert by_vector.hits["id"].tolist() == result.hits["id"].tolist() and by_vector.query == ""


def test_where_ranks_only_the_matching_rows(home):
    rows, vectors = collection_vectors("notes", home=home)
    keep = np.flatnonzero(rows["topic"] == "cats")
    q = embedlab.encode(["the SQL server is slow"])
    idx, scores = embedlab.rank(q, vectors[keep], k=5)
    result = search_collection("notes", "the SQL server is slow", k=5, where={"topic": "cats"}, home=home)
    assert result.hits["id"].tolist() == rows["id"].iloc[keep[idx[0]]].tolist()
    np.testing.assert_allclose(result.hits["score"], scores[0], atol=1e-6)
    assert search_collection("notes", "cats", where={"topic": "tea"}, home=home).hits.empty
    with pytest.raises(CollectionError, match="has no column 'colour' to filter on; its columns are: id, text, topic"):
        search_collection("notes", "cats", where={"colour": "red"}, home=home)


def test_merged_by_cosine_when_one_model(home):
    merged = search_collections(["notes", "more"], "baking at home", k=8, home=home)
    singles = pd.concat([search_collection(n, "baking at home", k=8, home=home).hits for n in ("notes", "more")])
    expected = singles.sort_values("score", ascending=False, kind="stable").head(8)
    assert merged.merged_by == "cosine"
    assert merged.hits["id"].tolist() == expected["id"].tolist()
    assert merged.hits["rank"].tolist() == list(range(1, 9))
    assert set(merged.hits["collection"]) <= {"notes", "more"}


def test_merged_by_reciprocal_rank_when_models_differ(home):
    merged = search_collections(["notes", "static"], "baking at home", k=6, home=home)
    assert merged.merged_by == "reciprocal rank"
    first = {n: search_collection(n, "baking at home", k=6, home=home).hits["id"].tolist() for n in ("notes", "static")}
    # each collection's best first, alternating: 1/(60+1) twice, then 1/(60+2) twice, ...
    assert sorted(merged.hits["id"].tolist()[:2]) == sorted([first["notes"][0], first["static"][0]])
    assert merged.hits["fused_score"].is_monotonic_decreasing


def test_approximate_needs_an_index_and_enough_rows(home):
    with pytest.raises(CollectionError, match="has no approximate index; build one first"):
        search_collection("notes", "cats", method="approximate", home=home)
    with pytest.raises(CollectionError, match="has 60 rows; an approximate index needs at least 1,000"):
        build_index("notes", home=home)


def random_collection(home, n: int, seed: int = 0) -> np.ndarray:
    """Random unit vectors written as collection "random", as build_collection stores one (for speed)."""
    import pyarrow as pa

    from embedlab.memory.build import _identity
    from embedlab.memory.store import Settings, collections_dir, connect, now, write_settings

    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    folder = collections_dir(home)
    ids = [f"r{i}" for i in range(n)]
    table = connect(folder).create_table(
        "random.1",
        pa.table(
            {
                "row": pa.array(np.arange(n), pa.int64()),
                "id": ids,
                "text": [f"row {i}" for i in range(n)],
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 384),
                "text_hash": ids,
            }
        ),
    )
    key, dim = _identity("all-MiniLM-L6-v2")
    record = dict(model="all-MiniLM-L6-v2", model_key=key, dim=dim, text_column="text", id_column=None)
    record |= dict(metadata_columns=[], source="test", table="random.1", version=table.version, rows=n)
    record |= dict(data_version=table.version, created=now(), updated=now(), index=None, pending=None, generation=1)
    write_settings(Settings("random", folder, {}), record)
    return vectors


@pytest.mark.parametrize("kind", ["IVF", "HNSW", "IVF_PQ", "IVF_HNSW_SQ"])
def test_approximate_recall_is_measured_against_exact_search(tmp_path, kind):
    vectors = random_collection(tmp_path, 2000)
    report = build_index("random", home=tmp_path, kind=kind)
    assert report.kind == kind and report.rows == 2000 and report.seconds > 0
    queries = ["cats on the mat", "a slow database", "bread", "football", "rain", "python code", "tea", "music"]
    q = embedlab.encode(queries)
    exact_idx = embedlab.rank(q, vectors, k=10)[0]
    found = []
    for text, want in zip(queries, exact_idx, strict=True):
        result = search_collection("random", text, k=10, method="approximate", home=tmp_path)
        assert result.method == "approximate" and result.recall_at_10 == pytest.approx(report.recall_at_10)
        found.append(len({f"r{i}" for i in want} & set(result.hits["id"])) / 10)
        auto = search_collection("random", text, k=10, home=tmp_path)
        assert auto.method == "exact"  # below EXACT_LIMIT rows exact search is used
        assert auto.hits["id"].tolist() == [f"r{i}" for i in want]
    # random 384-d vectors are the hardest case for an index; re-scoring keeps recall high
    assert np.mean(found) >= 0.8
    assert abs(np.mean(found) - report.recall_at_10) <= 0.2
    assert 0.8 <= report.recall_at_10 <= 1.0
