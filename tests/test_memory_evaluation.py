"""evaluate_memory() and the labelled-query readers against independent oracles.

Oracles: accuracy@k and MRR@k recomputed here from numpy ranks of the stored vectors (own model)
or of the texts encoded with the other model; sentence-transformers' InformationRetrievalEvaluator
on the Debian collection searched exactly; the merged search recomputed over the vectors of both
collections stacked. Collections are small: the lesson's 3 traces and 200 Debian descriptions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import embedlab
from embedlab import memory
from embedlab.memory import evaluation
from embedlab.memory.evaluation import MERGED, MemoryEvaluation, evaluate_memory
from embedlab.memory.labelled import (
    example_labelled,
    example_memories,
    labelled_from_text,
    labelled_queries,
    read_labelled,
)
from embedlab.memory.results import CollectionError, CollectionNotFound
from embedlab.models import packaged

MINI = "all-MiniLM-L6-v2"
L3 = "paraphrase-MiniLM-L3-v2"
K = 5


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Three collections: 120 Debian descriptions and the lesson's traces with MiniLM, 80 more
    Debian descriptions with paraphrase-MiniLM-L3-v2."""
    folder = tmp_path_factory.mktemp("memory-home")
    debian = example_memories("debian-packages", 200)
    memory.build_collection("packages", debian.iloc[:120], id_column="id", model=MINI, home=folder)
    memory.build_collection("traces", example_memories("lesson-traces"), id_column="id", model=MINI, home=folder)
    memory.build_collection("more-packages", debian.iloc[120:], id_column="id", model=L3, home=folder)
    return folder


def labelled_set() -> pd.DataFrame:
    debian = example_labelled("debian-packages", n=200)
    return pd.concat(
        [
            debian.iloc[:40].assign(collection="packages"),
            example_labelled("lesson-traces", "traces"),
            debian.iloc[120:150].assign(collection="more-packages"),
        ],
        ignore_index=True,
    )


def oracle(queries: list[str], expected: list[str], ids: list[str], query_vectors, corpus_vectors, k: int):
    """accuracy@1, accuracy@k, MRR@k and the ranks (None beyond k) from a full numpy sort."""
    scores = np.asarray(query_vectors, np.float64) @ np.asarray(corpus_vectors, np.float64).T
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = []
    for q, want in enumerate(expected):
        position = [ids[i] for i in order[q]].index(want) + 1
        ranks.append(position if position <= k else None)
    found = np.array([r is not None for r in ranks])
    values = np.array([r or 0 for r in ranks])
    return {
        "accuracy@1": float(np.mean(values == 1)),
        f"accuracy@{k}": float(found.mean()),
        f"MRR@{k}": float(np.mean(np.where(found, 1.0 / np.maximum(values, 1), 0.0))),
        "ranks": ranks,
    }


@pytest.fixture(scope="module")
def evaluated(home):
    return evaluate_memory(labelled_set(), ["packages", "traces", "more-packages"], k=K, models=[L3], home=home)


def row(result: MemoryEvaluation, collection: str, model: str) -> pd.Series:
    table = result.table
    match = table[(table["collection"] == collection) & (table["model"] == model)]
    assert len(match) == 1, table
    return match.iloc[0]


def test_table_has_a_row_per_collection_and_model(evaluated):
    table = evaluated.table
    pairs = list(zip(table["collection"], table["model"], strict=True))
    assert pairs == [
        ("packages", MINI),
        ("traces", MINI),
        ("more-packages", L3),
        ("packages", L3),
        ("traces", L3),
        (MERGED, evaluation.OWN),
    ]  # more-packages already uses L3: not re-encoded with it
    assert table["own"].tolist() == [True, True, True, False, False, False]
    assert table["queries"].tolist() == [40, 3, 30, 40, 3, 73]
    assert table["rows"].tolist() == [120, 3, 80, 120, 3, 203]
    assert set(table.columns) >= {"accuracy@1", f"accuracy@{K}", f"MRR@{K}", "method"}
    assert row(evaluated, MERGED, evaluation.OWN)["method"] == "merged by reciprocal rank"  # the models differ
    assert len(evaluated.per_query) == 40 + 3 + 30 + 40 + 3 + 73
    assert not evaluated.stopped and evaluated.models == (L3,)


@pytest.mark.parametrize("name", ["packages", "traces", "more-packages"])
def test_own_model_matches_numpy_ranks_of_the_stored_vectors(home, evaluated, name):
    rows, vectors = memory.collection_vectors(name, home=home)
    info = memory.collection_info(name, home=home)
    labelled = labelled_set()
    mine = labelled[labelled["collection"] == name]
    queries = embedlab.encode(mine["query"].tolist(), info.model)
    expected = oracle(mine["query"].tolist(), mine["id"].tolist(), rows["id"].astype(str).tolist(), queries, vectors, K)
    got = row(evaluated, name, info.model)
    assert got["method"] == "exact"
    for metric in ("accuracy@1", f"accuracy@{K}", f"MRR@{K}"):
        assert got[metric] == pytest.approx(expected[metric], abs=1e-9), metric
    per_query = evaluated.per_query
    ranks = per_query[(per_query["searched"] == name) & (per_query["model"] == info.model)]["rank"]
    assert [None if pd.isna(r) else int(r) for r in ranks] == expected["ranks"]


def test_other_model_matches_numpy_ranks_of_the_reencoded_texts(home, evaluated):
    rows = memory.collection_rows("packages", home=home)
    labelled = labelled_set()
    mine = labelled[labelled["collection"] == "packages"]
    texts = embedlab.encode(rows["text"].tolist(), L3)
    queries = embedlab.encode(mine["query"].tolist(), L3)
    expected = oracle(mine["query"].tolist(), mine["id"].tolist(), rows["id"].astype(str).tolist(), queries, texts, K)
    got = row(evaluated, "packages", L3)
    assert got["method"] == "re-encoded, exact" and not got["own"]
    for metric in ("accuracy@1", f"accuracy@{K}", f"MRR@{K}"):
        assert got[metric] == pytest.approx(expected[metric], abs=1e-9), metric
    # not trivial: the evaluation tells the models apart somewhere
    assert 0.3 < got["accuracy@1"] < 1.0


def test_own_model_agrees_with_information_retrieval_evaluator(home, evaluated):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    rows = memory.collection_rows("packages", home=home)
    labelled = labelled_set()
    mine = labelled[labelled["collection"] == "packages"].reset_index(drop=True)
    theirs = InformationRetrievalEvaluator(
        queries={f"q{i}": q for i, q in enumerate(mine["query"])},
        corpus=dict(zip(rows["id"].astype(str), rows["text"], strict=True)),
        relevant_docs={f"q{i}": {want} for i, want in enumerate(mine["id"])},
        accuracy_at_k=[1, K],
        mrr_at_k=[K],
        precision_recall_at_k=[1],
        ndcg_at_k=[K],
        map_at_k=[K],
        write_csv=False,
        show_progress_bar=False,
    )(SentenceTransformer(str(packaged.locate_minilm()), device="cpu"))
    got = row(evaluated, "packages", MINI)
    assert got["accuracy@1"] == pytest.approx(theirs["cosine_accuracy@1"], abs=1e-6)
    assert got[f"accuracy@{K}"] == pytest.approx(theirs[f"cosine_accuracy@{K}"], abs=1e-6)
    assert got[f"MRR@{K}"] == pytest.approx(theirs[f"cosine_mrr@{K}"], abs=1e-6)


def test_merged_by_cosine_matches_the_stacked_vectors(home):
    labelled = labelled_set()
    labelled = labelled[labelled["collection"].isin(["packages", "traces"])]
    result = evaluate_memory(labelled, ["packages", "traces"], k=K, home=home)
    merged = row(result, MERGED, evaluation.OWN)
    assert merged["method"] == "merged by cosine"
    keys, stacked = [], []
    for name in ("packages", "traces"):
        rows, vectors = memory.collection_vectors(name, home=home)
        keys += [f"{name}/{i}" for i in rows["id"].astype(str)]
        stacked.append(vectors)
    queries = embedlab.encode(labelled["query"].tolist(), MINI)
    wanted = [f"{c}/{i}" for c, i in zip(labelled["collection"], labelled["id"], strict=True)]
    expected = oracle(labelled["query"].tolist(), wanted, keys, queries, np.vstack(stacked), K)
    for metric in ("accuracy@1", f"accuracy@{K}", f"MRR@{K}"):
        assert merged[metric] == pytest.approx(expected[metric], abs=1e-9), metric


def test_a_collection_without_labelled_queries_is_a_distractor_in_the_merged_search(home):
    labelled = labelled_set()
    result = evaluate_memory(labelled[labelled["collection"] == "traces"], ["traces", "packages"], k=3, home=home)
    assert result.table["collection"].tolist() == ["traces", MERGED]
    assert result.table["rows"].tolist() == [3, 123]
    assert list(result.table.columns[-3:]) == ["accuracy@1", "accuracy@3", "MRR@3"]


def test_stop_keeps_the_steps_that_finished_and_progress_reports_them(home):
    events, asked = [], []

    def should_stop():
        asked.append(1)
        return len(asked) > 1  # after the first step

    result = evaluate_memory(
        labelled_set(),
        ["packages", "traces", "more-packages"],
        k=K,
        home=home,
        progress=events.append,
        should_stop=should_stop,
    )
    assert result.stopped and result.table["collection"].tolist() == ["packages"]
    assert events and events[0].message.startswith("Step 1 of 4 · packages · all-MiniLM-L6-v2")
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    partial = events[-1].results()
    assert isinstance(partial, MemoryEvaluation) and partial.stopped


def test_verdict_says_whether_one_model_serves_all(evaluated):
    sentence = evaluated.verdict()
    assert sentence is not None
    mrr = f"MRR@{K}"
    table = evaluated.table[evaluated.table["collection"] != MERGED]
    grid = table.pivot_table(index="collection", columns="model", values=mrr)
    best = grid.max(axis=1)
    serving = [m for m in grid.columns if ((best - grid[m]) <= evaluation.SERVES_WITHIN + 1e-9).all()]
    if serving:
        assert sentence.split(" serves all your memories")[0] in serving
    else:
        assert sentence.startswith("No one model is within 0.05 of the best MRR@5 on every collection")


def test_verdict_on_a_hand_made_table():
    def made(rows):
        table = pd.DataFrame(rows, columns=["collection", "model", "MRR@10"])
        return MemoryEvaluation(10, table, pd.DataFrame(), ("a", "b"), ("m2",), 0.0)

    assert (
        made([("a", "m1", 0.9), ("b", "m1", 0.7), ("a", "m2", 0.88), ("b", "m2", 0.8)]).verdict()
        == "m2 serves all your memories: on each of your 2 collections its MRR@10 is within 0.05 of the best model's."
    )
    assert made([("a", "m1", 0.9), ("b", "m1", 0.6), ("a", "m2", 0.7), ("b", "m2", 0.8)]).verdict() == (
        "No one model is within 0.05 of the best MRR@10 on every collection; the best per collection — "
        "a: m1 (0.90); b: m2 (0.80)."
    )
    assert made([("a", "m1", 0.9), ("b", "m1", 0.6)]).verdict() is None  # nothing to compare


@pytest.mark.parametrize(
    ("labelled", "collections", "message"),
    [
        (pd.DataFrame({"query": ["x"], "collection": ["nowhere"], "id": ["1"]}), None, "no collection named 'nowhere'"),
        (
            pd.DataFrame({"query": ["x"], "collection": ["packages"], "id": ["1"]}),
            ["traces"],
            "Labelled query 1 expects collection 'packages', which is not among those searched (traces).",
        ),
        (
            pd.DataFrame({"query": ["x", "y"], "collection": ["traces", "traces"], "id": ["0", "7"]}),
            None,
            "Labelled query 2 expects id '7', which is not in collection 'traces'.",
        ),
        (pd.DataFrame({"query": ["x"], "id": ["1"]}), None, "missing collection"),
    ],
)
def test_bad_labelled_queries_get_one_sentence(home, labelled, collections, message):
    with pytest.raises(CollectionError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        evaluate_memory(labelled, collections, home=home)
    assert str(caught.value).endswith(".")
    if "no collection" in message:
        assert isinstance(caught.value, CollectionNotFound)


def test_reencoding_a_large_collection_is_refused_before_any_work(home, monkeypatch):
    monkeypatch.setattr(evaluation, "REENCODE_ROW_LIMIT", 100)
    with pytest.raises(
        CollectionError, match=r"Collection 'packages' has 120 rows; re-encoding .* limited to 100 rows"
    ):
        evaluate_memory(labelled_set(), None, models=[L3], home=home)
    # its own model alone is fine
    assert len(evaluate_memory(labelled_set().head(3), None, home=home).table) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"k": 0}, ValueError, "k must be a positive integer, got 0."),
        ({"models": MINI}, TypeError, "models must be a list of model names, got a single str"),
        ({"progress": 3}, TypeError, "progress must be a callable or None"),
    ],
)
def test_argument_errors_name_the_parameter(home, kwargs, error, message):
    with pytest.raises(error, match=message):
        evaluate_memory(labelled_set().head(3), None, home=home, **kwargs)


def test_labelled_queries_from_paste_upload_and_aliases():
    pasted = labelled_from_text("where is | the pipe? | notes | 12\n\nreset password\tfaq\t3\n")
    assert pasted.values.tolist() == [["where is | the pipe?", "notes", "12"], ["reset password", "faq", "3"]]
    uploaded = read_labelled(b"Query,Collection,expected_id\nhello,notes,7\n", "labelled.csv")
    assert uploaded.values.tolist() == [["hello", "notes", "7"]]
    floats = labelled_queries(pd.DataFrame({"query": ["a"], "collection": ["c"], "id": [3.0]}))
    assert floats["id"].tolist() == ["3"]  # ids read as floats are ids, not "3.0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a query | notes", "Line 1 needs three parts, query | collection | id; it has 2."),
        ("a | b | 1\n | b | 2", "Labelled query 2 has an empty query."),
        ("\n\n", "There are no labelled queries"),
    ],
)
def test_bad_pasted_labelled_queries(text, message):
    with pytest.raises(CollectionError, match=message.replace("|", r"\|")):
        labelled_from_text(text)


def test_bad_uploaded_labelled_queries():
    with pytest.raises(CollectionError, match=r"labelled\.csv is empty"):
        read_labelled(b"", "labelled.csv")
    with pytest.raises(CollectionError, match=r"missing id \(the columns there: query, collection\)"):
        read_labelled(b"query,collection\nx,y\n", "labelled.csv")


def test_examples_come_with_their_labelled_queries():
    traces = example_memories("lesson-traces")
    assert traces["id"].tolist() == ["0", "1", "2"] and traces["text"].str.startswith("Query: ").all()
    assert example_labelled("lesson-traces")["id"].tolist() == ["0", "1", "2"]
    debian = example_memories("debian-packages", 10)
    assert set(example_labelled("debian-packages", n=10)["id"]) == set(debian["id"])
    with pytest.raises(ValueError, match="name must be one of"):
        example_memories("nope")
