"""Dimensions and storage: storage_table() against a table computed by hand, on the pages and in reviews.

Oracles: numpy (truncation, renormalisation, scores, a stable sort for ranks), sentence-transformers'
``quantize_embeddings`` called here for the quantised rows (int8 calibrated on the corpus and
scored by an integer dot product in int64; binary by Hamming distance from XOR and bit counts),
the byte sizes by definition, and reasoning about exact ties.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sentence_transformers.util.quantization import quantize_embeddings
from streamlit.testing.v1 import AppTest
from test_retrieval import IDS, QUERIES, TEXTS

import embedlab
from embedlab.formatting import percent, percent_value
from embedlab.retrieval import traces
from embedlab.retrieval.storage import StorageOption, StorageTable, default_dims, storage_for, storage_table
from embedlab.reviewing.document import FORMAT_VERSION, from_document, to_document
from embedlab.reviewing.run import review


# -- the oracle --------------------------------------------------------------------------------------
def hand_ranks(scores: np.ndarray, relevant: list[list[int]]) -> np.ndarray:
    """1-based rank of the first relevant entry, ordering by score descending, then position."""
    ranks = []
    for row, wanted in zip(scores, relevant, strict=True):
        order = np.lexsort((np.arange(len(row)), -row))
        ranks.append(1 + int(np.flatnonzero(np.isin(order, wanted))[0]))
    return np.array(ranks)


def hand_table(queries: np.ndarray, corpus: np.ndarray, relevant: list[list[int]], dims, k: int = 10) -> pd.DataFrame:
    full = queries.shape[1]
    rows = []
    for d in dims:
        q = queries[:, :d] / np.linalg.norm(queries[:, :d], axis=1, keepdims=True)
        c = corpus[:, :d] / np.linalg.norm(corpus[:, :d], axis=1, keepdims=True)
        q8 = quantize_embeddings(q, "int8", calibration_embeddings=c).astype(np.int64)
        c8 = quantize_embeddings(c, "int8", calibration_embeddings=c).astype(np.int64)
        qb = quantize_embeddings(q, "binary").view(np.uint8)
        cb = quantize_embeddings(c, "binary").view(np.uint8)
        hamming = np.bitwise_count(qb[:, None, :] ^ cb[None, :, :]).sum(axis=2).astype(np.float64)
        scores = {
            "float32": q.astype(np.float64) @ c.astype(np.float64).T,
            "int8": (q8 @ c8.T).astype(np.float64),
            "binary": -hamming,  # fewest differing bits first
        }
        for precision, size in (("float32", 4 * d), ("int8", d), ("binary", math.ceil(d / 8))):
            ranks = hand_ranks(scores[precision], relevant)
            rows.append(
                {
                    "dims": d,
                    "precision": precision,
                    "bytes_per_vector": size,
                    "mb_per_million": size * 1_000_000 / 1_000_000,
                    "storage_share": size / (4 * full),
                    "accuracy": sum(ranks == 1) / len(ranks),
                    "mrr": sum(1 / r for r in ranks if r <= k) / len(ranks),
                }
            )
    table = pd.DataFrame(rows)
    reference = table[(table["dims"] == full) & (table["precision"] == "float32")].iloc[0]
    table["accuracy_kept"] = table["accuracy"] / reference["accuracy"]
    table["mrr_kept"] = table["mrr"] / reference["mrr"]
    return table


def hand_best(table: pd.DataFrame, keep: float = 0.99) -> tuple[int, str]:
    full = table.iloc[-3]["accuracy"]
    good = [r for r in table.itertuples() if r.accuracy >= keep * full - 1e-12]
    best = min(good, key=lambda r: (r.bytes_per_vector, -r.accuracy, -r.mrr, -r.dims))
    return best.dims, best.precision


@pytest.fixture(scope="module")
def minilm():
    queries = [q for q, _ in QUERIES]
    relevant = [[IDS.index(str(e))] for _, e in QUERIES]
    return embedlab.encode(queries), embedlab.encode(TEXTS), relevant, queries


# -- the core ----------------------------------------------------------------------------------------
def test_minilm_table_equals_the_one_computed_by_hand(minilm):
    query_vectors, corpus_vectors, relevant, _ = minilm
    result = storage_table(query_vectors, corpus_vectors, relevant, model="all-MiniLM-L6-v2")
    assert default_dims(384) == [32, 64, 128, 256, 384]
    expected = hand_table(query_vectors, corpus_vectors, relevant, [32, 64, 128, 256, 384])
    pd.testing.assert_frame_equal(result.table, expected, check_dtype=False, rtol=1e-12)
    assert (result.best.dims, result.best.precision) == hand_best(expected)
    # the full-width float32 row is evaluate_retrieval's figure
    full = embedlab.evaluate_retrieval([q for q, _ in QUERIES], TEXTS, [str(e) for _, e in QUERIES], ids=IDS, k=10)
    assert result.full.accuracy == full.accuracy and result.full.mrr == pytest.approx(full.mrr, rel=1e-12)
    # the data is not trivial: some rows lose accuracy
    assert expected["accuracy"].min() < expected["accuracy"].max()


def test_ties_and_several_relevant_entries_match_the_hand_table():
    """Random vectors, narrow widths: binary scores tie often; ties go to the earlier corpus entry."""
    rng = np.random.default_rng(7)
    corpus = rng.normal(size=(300, 64)).astype(np.float32)
    relevant = [[int(i)] if i % 3 else [int(i), int((i * 7) % 300)] for i in rng.choice(300, 40, replace=False)]
    queries = np.stack([corpus[r[0]] + rng.normal(scale=0.9, size=64) for r in relevant]).astype(np.float32)
    result = storage_table(queries, corpus, relevant, dims=[8, 16], k=5)
    expected = hand_table(queries, corpus, relevant, [8, 16, 64], k=5)
    pd.testing.assert_frame_equal(result.table, expected, check_dtype=False, rtol=1e-12)
    assert (result.best.dims, result.best.precision) == hand_best(expected)


def test_an_exact_duplicate_earlier_in_the_corpus_wins_the_tie():
    rng = np.random.default_rng(3)
    corpus = rng.normal(size=(20, 32)).astype(np.float32)
    corpus[12] = corpus[4]  # the same vector twice: the earlier one (4) ranks first
    result = storage_table(corpus[[12]], corpus, [[12]], dims=[32])
    quantised = result.table[result.table["precision"] != "float32"]  # exact integer scores: an exact tie
    assert quantised["accuracy"].tolist() == [0.0, 0.0] and quantised["mrr"].tolist() == [0.5, 0.5]


def test_nothing_to_keep_when_full_precision_finds_nothing():
    rng = np.random.default_rng(4)
    corpus = rng.normal(size=(10, 32)).astype(np.float32)
    corpus[5] = -corpus[0]  # the opposite direction: last at every precision
    result = storage_table(corpus[[0]], corpus, [[5]])
    assert result.table["accuracy"].tolist() == [0.0, 0.0, 0.0]
    assert result.best is None and "no top-1 accuracy to keep" in result.headline()
    assert result.table["accuracy_kept"].isna().all() and not result.marked()["best"].any()


def test_sizes_shares_and_the_headline():
    option = StorageOption(256, "int8", 256, 256 / 1536, 0.9, 0.95, 1.0)
    assert option.storage_fraction == "1/6"
    assert StorageOption(32, "binary", 4, 4 / 1536, 1, 1, 1).storage_fraction == "1/384"
    assert StorageOption(100, "float32", 400, 400 / 1536, 1, 1, 1).storage_fraction == "1/3.8"
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(50, 384)).astype(np.float32)
    result = storage_table(corpus[:20] * 2 + 0.01, corpus, list(range(20)))
    sizes = result.table.set_index(["dims", "precision"])["bytes_per_vector"]
    assert sizes[(256, "int8")] == 256 and sizes[(384, "float32")] == 1536 and sizes[(32, "binary")] == 4
    best = result.best
    text = result.headline()
    full = result.table.set_index(["dims", "precision"])["accuracy"][(384, "float32")]
    kept = percent(result.table.set_index(["dims", "precision"])["accuracy"][(best.dims, best.precision)] / full)
    assert text.startswith(f"{best.dims} dims in {best.precision} keep {kept} of the top-1 accuracy at ")
    assert f"{best.bytes_per_vector:,} bytes per vector, {best.bytes_per_vector:,} MB per million vectors" in text


@pytest.mark.parametrize("correct", [1999, 1997])
def test_the_headline_rounds_by_the_one_rule_and_a_share_below_one_never_reads_100_percent(correct):
    """1,999 of 2,000 kept (99.95%) and 1,997 (99.85%) both read 99.9% (one decimal, half up; never 100%
    below 1), as in the table and the reports (embedlab.formatting)."""
    row = {"mb_per_million": 0.0, "mrr": 1.0, "mrr_kept": 1.0}
    rows = [
        {**row, "dims": 32, "precision": "binary", "bytes_per_vector": 4, "storage_share": 4 / 256},
        {**row, "dims": 64, "precision": "float32", "bytes_per_vector": 256, "storage_share": 1.0},
    ]
    rows[0].update(accuracy=correct / 2000, accuracy_kept=correct / 2000)
    rows[1].update(accuracy=1.0, accuracy_kept=1.0)
    plain = {"model": "m", "dim": 64, "k": 10, "keep": 0.99, "n_queries": 2000, "n_corpus": 2000, "rows": rows}
    text = StorageTable.from_plain(plain).headline()
    assert text.startswith("32 dims in binary keep 99.9% of the top-1 accuracy at 1/64 of the storage ")
    assert "accuracy@1 99.9%, at full precision 100.0%" in text and "keep 100%" not in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"relevant": [0]}, "relevant must hold one entry per query: got 1 for 2 queries"),
        ({"relevant": [0, 9]}, r"relevant\[1\] is 9, outside the corpus positions 0..4"),
        ({"relevant": [0, []]}, r"relevant\[1\] is empty"),
        ({"dims": [8, 64]}, r"dims\[1\] must be at most the vectors' width 16, got 64"),
        ({"dims": [0]}, r"dims\[0\] must be a positive integer, got 0"),
        ({"k": 0}, "k must be a positive integer, got 0"),
        ({"keep": 0}, "keep must be a share above 0"),
        ({"keep": 1.5}, "keep must be a number between 0 and 1"),
        ({"corpus_vectors": np.ones((5, 8))}, "corpus_vectors must have 16 columns"),
        ({"query_vectors": np.full((2, 16), np.nan)}, "query_vectors must contain only finite numbers"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"query_vectors": np.ones((2, 16)), "corpus_vectors": np.eye(5, 16), "relevant": [0, 1], **kwargs}
    with pytest.raises((TypeError, ValueError), match=message):
        storage_table(**arguments)


def test_plain_data_round_trip_and_storage_for(minilm):
    query_vectors, corpus_vectors, relevant, queries = minilm
    result = storage_table(query_vectors, corpus_vectors, relevant, model="m")
    back = StorageTable.from_plain(json.loads(json.dumps(result.to_plain(), allow_nan=False)))
    pd.testing.assert_frame_equal(back.table, result.table)
    assert (back.model, back.dim, back.k, back.keep, back.best) == ("m", 384, 10, 0.99, result.best)
    with pytest.raises(ValueError, match="storage table"):
        StorageTable.from_plain({"rows": []})
    # from texts: the same table (the vectors come from the embedding cache)
    by_text = storage_for(queries, TEXTS, [str(e) for _, e in QUERIES], ids=IDS)
    pd.testing.assert_frame_equal(by_text.table, result.table)
    assert by_text.model == embedlab.DEFAULT_MODEL


# -- reviews -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reviewed():
    return review(["static-64d", "nosuch/model"], corpus=["a short text", "another"], repeats=1)


def test_a_review_holds_each_finished_models_table_and_old_documents_still_open(reviewed):
    assert list(reviewed.storage) == ["static-64d"]  # the failed model has none
    lesson = traces.prepare(traces.trace_table(), traces.query_table())
    theirs = storage_for(lesson.queries, lesson.texts, lesson.expected, ids=lesson.ids, model="static-64d")
    pd.testing.assert_frame_equal(reviewed.storage["static-64d"].table, theirs.table)
    document = json.loads(json.dumps(to_document(reviewed)))
    assert document["version"] == FORMAT_VERSION == 3  # 3: the benchmark corpus recorded (issue #13 item 2)
    assert document["storage"]["static-64d"]["rows"] == json.loads(json.dumps(theirs.to_plain()))["rows"]
    back = from_document(document)
    pd.testing.assert_frame_equal(back.storage["static-64d"].table, theirs.table)
    # a version-1 document (before storage tables) opens, without them
    old = {key: value for key, value in document.items() if key != "storage"} | {"version": 1}
    opened = from_document(old)
    assert opened.storage == {} and opened.models == reviewed.models
    with pytest.raises(ValueError, match="reads versions 1 to 3"):
        from_document({**document, "version": 4})


SHARES = ["storage_share", "accuracy", "mrr", "accuracy_kept", "mrr_kept"]


def as_shown(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the pages show it: shares as percentages by the one rule (embedlab.formatting)."""
    return table.assign(**{c: table[c].map(percent_value).astype("float64") for c in SHARES})


def test_the_model_review_page_shows_the_storage_tables(reviewed):
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.run()
    at.session_state["review_current"] = reviewed
    at.switch_page("pages/model_review.py").run()
    assert not at.exception, at.exception
    shown = [d.value for d in at.dataframe if "bytes_per_vector" in d.value.columns]
    assert len(shown) == 1
    table = reviewed.storage["static-64d"]
    pd.testing.assert_frame_equal(shown[0].drop(columns="best"), as_shown(table.table), check_dtype=False)
    assert shown[0]["best"].tolist() == table.marked()["best"].tolist()
    assert any(table.headline().split(" (")[0] in m.value.replace("\\", "") for m in at.markdown)


def test_the_trace_page_shows_each_models_storage_table_after_evaluate():
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.switch_page("pages/trace_retrieval.py").run()
    at.multiselect(key="retrieval_models").set_value([embedlab.DEFAULT_MODEL, "static-64d"]).run()
    at.button(key="retrieval_run").click().run()
    assert not at.exception, at.exception
    shown = [d.value for d in at.dataframe if "bytes_per_vector" in d.value.columns]
    assert len(shown) == 2  # one per model, in its tab
    lesson = traces.prepare(traces.trace_table(), traces.query_table())
    relevant = [[lesson.ids.index(e)] for e in lesson.expected]
    for frame, model in zip(shown, [embedlab.DEFAULT_MODEL, "static-64d"], strict=True):
        queries, corpus = embedlab.encode(lesson.queries, model), embedlab.encode(lesson.texts, model)
        expected = hand_table(queries, corpus, relevant, default_dims(corpus.shape[1]))
        pd.testing.assert_frame_equal(frame.drop(columns="best"), as_shown(expected), check_dtype=False, rtol=1e-12)
        best = frame[frame["best"]]
        assert list(zip(best["dims"], best["precision"], strict=True)) == [hand_best(expected)]
