"""evaluate_retrieval() and recommend() against independent oracles.

Oracles: sentence-transformers' InformationRetrievalEvaluator (metric definitions), the
SentenceTransformer model itself + scikit-learn's cosine_similarity (rankings and scores), and
a spy on the real model's ``_encode`` (what the cache saves).
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import cosine_similarity

import embedlab
from embedlab import seed
from embedlab.models import packaged
from embedlab.retrieval import traces
from embedlab.retrieval.evaluation import STANDARD_K, Recommendation, evaluate_retrieval, recommend, summary_table

# The lesson's three traces plus thirteen more, some close to each other on purpose, and queries
# written so that the real model gets some wrong (checked below: the set is not trivial).
MORE_TRACES = [
    (
        3,
        "User cannot sleep at night",
        "Ask about routine -> Suggest wind-down habits -> Check in tomorrow",
        ["sleep_coach", "reminder"],
    ),
    (
        4,
        "User is anxious about an exam",
        "Validate worry -> Make a study plan -> Practice breathing",
        ["empathy_engine", "planner"],
    ),
    (5, "User wants a recipe for dinner", "Ask about ingredients -> Suggest a recipe -> List steps", ["recipe_search"]),
    (
        6,
        "User is grieving a loss",
        "Acknowledge grief -> Listen -> Offer support resources",
        ["empathy_engine", "resource_finder"],
    ),
    (7, "User asks to set a reminder", "Parse time -> Create reminder -> Confirm", ["reminder"]),
    (
        8,
        "User wants to improve fitness",
        "Assess activity level -> Suggest a routine -> Set goal",
        ["goal_setter", "planner"],
    ),
    (
        9,
        "User has a conflict with a coworker",
        "Validate feelings -> Explore perspectives -> Suggest a conversation",
        ["empathy_engine"],
    ),
    (
        10,
        "User asks for book recommendations",
        "Ask about tastes -> Recommend books -> Offer summaries",
        ["resource_finder", "summarizer"],
    ),
    (11, "User wants to save money", "Review spending -> Suggest a budget -> Set goal", ["planner", "goal_setter"]),
    (12, "User feels lonely", "Validate feelings -> Explore connections -> Suggest small step", ["empathy_engine"]),
    (13, "User asks what they said earlier today", "Search memory -> Quote the message", ["memory_search"]),
    (
        14,
        "User wants to learn a language",
        "Assess current level -> Recommend apps -> Set daily goal",
        ["resource_finder", "goal_setter"],
    ),
    (15, "User is overwhelmed by chores", "Validate feelings -> List tasks -> Suggest small step", ["planner"]),
]
TRACES = [*seed.TRACES, *({"id": i, "query_pattern": q, "approach": a, "tools_used": t} for i, q, a, t in MORE_TRACES)]
QUERIES = [
    *zip(seed.QUERIES, seed.EXPECTED, strict=True),
    ("I keep waking up at 3am", 3),
    ("My boss and I keep arguing", 9),
    ("Any good novels you'd suggest?", 10),
    ("How do I start running?", 8),
    ("What was the thing I told you this morning?", 13),
    ("I need to study Spanish", 14),
    ("The test tomorrow scares me", 4),
    ("My dog died yesterday", 6),
    ("Remind me to call mom at 5", 7),
    ("I have no friends to talk to", 12),
    ("I'm drowning in housework", 15),
    ("Help me budget my salary", 11),
    ("What should I cook tonight?", 5),
    ("Work is crushing me lately", 0),
    ("Can you recap our last chat?", 2),
    ("I'd like to pick up the guitar", 1),
    # deliberately mislabelled, so some expected traces rank deep or beyond k
    ("What should I cook tonight?", 12),
    ("Remind me to call mom at 5", 8),
    ("I keep waking up at 3am", 1),
    ("Help me budget my salary", 15),
]
TEXTS = traces.render(traces.trace_table(TRACES))
IDS = [str(t["id"]) for t in TRACES]


def evaluator_metrics(queries, expected_sets, k_values=STANDARD_K, mrr_k=10):
    """sentence-transformers' own evaluator on the same data, with the same packaged weights."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    model = SentenceTransformer(str(packaged.locate_minilm()), device="cpu")
    evaluator = InformationRetrievalEvaluator(
        queries={f"q{i}": q for i, q in enumerate(queries)},
        corpus=dict(zip(IDS, TEXTS, strict=True)),
        relevant_docs={f"q{i}": {str(e) for e in wanted} for i, wanted in enumerate(expected_sets)},
        accuracy_at_k=list(k_values),
        mrr_at_k=[mrr_k],
        precision_recall_at_k=[1],
        ndcg_at_k=[10],
        map_at_k=[10],
        write_csv=False,
        show_progress_bar=False,
    )
    return evaluator(model)


def test_metrics_agree_with_information_retrieval_evaluator():
    queries = [q for q, _ in QUERIES]
    result = evaluate_retrieval(queries, TEXTS, [str(e) for _, e in QUERIES], ids=IDS, k=10)
    # not trivial: some queries fail at top-1, some expected traces only come in deeper
    assert 0.3 < result.accuracy < 0.95
    at = result.accuracy_at_k
    assert at[1] < at[3] < at[5] < at[10] < 1.0, at
    theirs = evaluator_metrics(queries, [[e] for _, e in QUERIES])
    for k in STANDARD_K:
        assert result.accuracy_at_k[k] == pytest.approx(theirs[f"cosine_accuracy@{k}"], abs=1e-6), k
    assert result.mrr == pytest.approx(theirs["cosine_mrr@10"], abs=1e-6)


def test_a_summary_survives_json_and_a_damaged_one_is_refused():
    import json

    from embedlab.retrieval.evaluation import RetrievalSummary

    result = evaluate_retrieval([q for q, _ in QUERIES], TEXTS, [str(e) for _, e in QUERIES], ids=IDS, k=10)
    summary = RetrievalSummary.from_result(result)
    back = RetrievalSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
    assert back == summary and back.accuracy_at_k[10] == result.accuracy_at_k[10]
    assert back.correct == result.n_queries - len(result.failures) and back.failing
    damaged = summary.to_dict() | {"k": "ten"}
    with pytest.raises(ValueError):
        RetrievalSummary.from_dict(damaged)
    with pytest.raises(KeyError):
        RetrievalSummary.from_dict({"model": "m"})


def test_several_relevant_traces_per_query_agree_with_the_evaluator():
    # "any of these is right": accuracy@k counts a hit if one of them is in the top k; MRR uses the first
    expected = [{str(e), str((e + 1) % len(IDS))} if i % 3 == 0 else str(e) for i, (_, e) in enumerate(QUERIES)]
    queries = [q for q, _ in QUERIES]
    result = evaluate_retrieval(queries, TEXTS, expected, ids=IDS, k=10)
    theirs = evaluator_metrics(queries, [sorted(e) if isinstance(e, set) else [e] for e in expected])
    for k in STANDARD_K:
        assert result.accuracy_at_k[k] == pytest.approx(theirs[f"cosine_accuracy@{k}"], abs=1e-6), k
    assert result.mrr == pytest.approx(theirs["cosine_mrr@10"], abs=1e-6)
    assert isinstance(result.per_query.at[0, "expected_id"], tuple)


def test_seed_queries_with_the_default_model_match_sentence_transformers():
    """The lesson expects 3 of 3; whatever the real model gives, we must report the same."""
    from sentence_transformers import SentenceTransformer

    result = evaluate_retrieval(
        list(seed.QUERIES), [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES], seed.EXPECTED
    )
    model = SentenceTransformer(str(packaged.locate_minilm()), device="cpu")
    trace_vectors = model.encode([seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES])
    sims = cosine_similarity(model.encode(list(seed.QUERIES)), trace_vectors)
    oracle_top = sims.argmax(axis=1)
    assert result.per_query["top_id"].tolist() == oracle_top.tolist()
    assert result.accuracy == pytest.approx(np.mean(oracle_top == np.array(seed.EXPECTED)))
    np.testing.assert_allclose(result.per_query["top_score"], sims.max(axis=1), atol=1e-5)
    np.testing.assert_allclose(result.per_query["expected_score"], sims[np.arange(3), list(seed.EXPECTED)], atol=1e-5)
    print(f"seed trace retrieval with {result.model}: {result.accuracy:.0%} ({int(result.accuracy * 3)} of 3)")


def test_per_query_table_is_consistent_with_the_similarity_matrix():
    queries = [q for q, _ in QUERIES]
    expected = [str(e) for _, e in QUERIES]
    k = 3
    result = evaluate_retrieval(queries, TEXTS, expected, ids=IDS, k=k)
    table = result.per_query
    assert list(table.columns) == [
        "query",
        "expected_id",
        "top_ids",
        "top_scores",
        "top_id",
        "top_score",
        "expected_rank",
        "expected_score",
        "correct",
        "gap",
    ]
    vectors = embedlab.encode(queries), embedlab.encode(TEXTS)
    sims = cosine_similarity(*vectors)
    position = {ident: i for i, ident in enumerate(IDS)}
    for row, q in zip(table.itertuples(), range(len(queries)), strict=True):
        order = np.argsort(-sims[q], kind="stable")
        assert row.top_ids == [IDS[i] for i in order[:k]]
        np.testing.assert_allclose(row.top_scores, sims[q, order[:k]], atol=1e-5)
        true_rank = int(np.flatnonzero(order == position[row.expected_id])[0]) + 1
        assert (pd.isna(row.expected_rank) and true_rank > k) or row.expected_rank == true_rank
        assert row.expected_score == pytest.approx(sims[q, position[row.expected_id]], abs=1e-5)
        assert row.correct == (true_rank == 1)
        assert row.gap == pytest.approx(0.0 if row.correct else sims[q].max() - row.expected_score, abs=1e-5)
        assert row.gap >= 0
    assert table["expected_rank"].isna().any(), "the mislabelled queries rank beyond k=3"
    assert result.failures["query"].tolist() == table.loc[~table["correct"], "query"].tolist()
    assert sorted(result.accuracy_at_k) == [1, 3, 5, 10]
    assert result.mrr == pytest.approx(np.mean([1 / r if not pd.isna(r) else 0 for r in table["expected_rank"]]))


def test_positions_are_the_default_ids_and_k_is_capped_by_the_corpus():
    result = evaluate_retrieval(["stressed at work", "learning python"], TEXTS[:2], [0, 1], k=7)
    assert result.k == 7 and sorted(result.accuracy_at_k) == [1, 3, 5, 7, 10]
    assert all(len(ids) == 2 for ids in result.per_query["top_ids"])
    assert result.accuracy_at_k[10] == 1.0
    assert result.summary() == {
        "accuracy": result.accuracy,
        "accuracy_at_k": result.accuracy_at_k,
        "mrr": result.mrr,
        "n_queries": 2,
        "k": 7,
        "n_corpus": 2,
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"expected": [0]}, ValueError, "expected must hold one entry per query: got 1 for 2"),
        ({"expected": [0, 5]}, ValueError, "expected[1] is 5, which is not a corpus id (ids are 0..2)"),
        ({"expected": ["a", "zzz"], "ids": ["a", "b", "c"]}, ValueError, "expected[1] is 'zzz'"),
        (
            {"ids": ["a", "b", "a"], "expected": ["a", "b"]},
            ValueError,
            "ids must be unique: 'a' is at positions 0 and 2",
        ),
        ({"ids": ["a"], "expected": ["a", "a"]}, ValueError, "ids must hold one id per corpus text: got 1 ids for 3"),
        ({"expected": [0, set()]}, ValueError, "expected[1] is an empty collection"),
        ({"expected": [0, True]}, TypeError, "expected[1] must be a corpus id"),
        ({"k": 0}, ValueError, "k must be a positive integer, got 0."),
        ({"queries": []}, ValueError, "queries must contain at least one text"),
        ({"corpus": "one text"}, TypeError, "corpus must be a list of strings"),
        ({"progress": "yes"}, TypeError, "progress must be a callable"),
    ],
)
def test_bad_arguments_name_what_is_wrong(kwargs, error, words):
    args = {"queries": ["q1", "q2"], "corpus": ["a", "b", "c"], "expected": [0, 1], **kwargs}
    with pytest.raises(error) as caught:
        evaluate_retrieval(args.pop("queries"), args.pop("corpus"), args.pop("expected"), **args)
    assert words in str(caught.value)


def test_unavailable_model_raises_lookup_error():
    with pytest.raises(LookupError):
        evaluate_retrieval(["q"], ["a"], [0], model="BAAI/bge-large-en-v1.5")


def test_editing_one_trace_re_encodes_only_that_trace(monkeypatch):
    embedder = embedlab.load_model(embedlab.DEFAULT_MODEL)
    seen: list[str] = []
    original = embedder._encode

    def spy(texts, batch_size):
        seen.extend(texts)
        return original(texts, batch_size)

    monkeypatch.setattr(embedder, "_encode", spy)
    tag = uuid.uuid4().hex[:8]  # texts no earlier test (or run) has cached
    table = traces.trace_table(TRACES)
    table["approach"] = table["approach"] + f" [{tag}]"
    queries = traces.query_table([f"{q} ({tag})" for q, _ in QUERIES], [e for _, e in QUERIES])
    prepared = traces.prepare(table, queries)
    first = evaluate_retrieval(prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids)
    assert len(seen) == len(set(prepared.texts)) + len(set(prepared.queries))

    seen.clear()
    table.loc[4, "approach"] = f"Calm the user -> Suggest a walk [{tag}]"
    prepared = traces.prepare(table, queries)
    second = evaluate_retrieval(prepared.queries, prepared.texts, prepared.expected, ids=prepared.ids)
    assert seen == [prepared.texts[4]]
    assert second.n_queries == first.n_queries


def test_ten_thousand_traces_and_a_thousand_queries_with_progress():
    """Scale, with a real (fast, static) model so the test stays short; see the report for MiniLM."""
    info = {m.name: m for m in embedlab.list_models()}["static-64d"]
    if not info.available:
        pytest.skip(info.reason)
    rng = np.random.default_rng(0)
    topics = ["work stress", "learning a skill", "past conversation", "sleep", "money", "fitness", "cooking", "grief"]
    tools = ["planner", "memory_search", "empathy_engine", "goal_setter", "summarizer"]
    records = [
        {
            "id": f"t{i}",
            "query_pattern": f"User talks about {topics[i % 8]} case {i}",
            "approach": f"Step {rng.integers(100)} -> Step {i}",
            "tools_used": list(rng.choice(tools, 2, replace=False)),
        }
        for i in range(10_000)
    ]
    corpus = traces.render(traces.trace_table(records))
    queries = [f"I want help with {topics[j % 8]} case {j * 7}" for j in range(1000)]
    expected = [f"t{j * 7}" for j in range(1000)]
    calls: list[tuple[str, int, int]] = []
    started = time.perf_counter()
    result = evaluate_retrieval(
        queries,
        corpus,
        expected,
        ids=[r["id"] for r in records],
        model="static-64d",
        k=10,
        progress=lambda *a: calls.append(a),
    )
    elapsed = time.perf_counter() - started
    assert result.n_queries == 1000 and result.n_corpus == 10_000
    trace_calls = [c for c in calls if c[0] == "traces"]
    assert trace_calls and trace_calls[-1][1] == trace_calls[-1][2] == 10_000
    assert len(trace_calls) > 10  # news arrives along the way, not only at the end
    assert any(c[0] == "queries" for c in calls)
    assert elapsed < 60, elapsed
    assert 0.0 <= result.accuracy <= result.accuracy_at_k[10] <= 1.0


# -- the lesson's decision rule ------------------------------------------------------------------
def test_recommend_follows_the_lessons_rule():
    good = recommend(0.8, [], model="all-MiniLM-L6-v2")  # the lesson: >= 0.8 is good enough
    assert good.good_enough and "all-MiniLM-L6-v2 is good enough" in good.headline
    assert good.message == good.headline
    bad = recommend(2 / 3, ["What did I mention last Tuesday?"], model="all-MiniLM-L6-v2")
    assert not bad.good_enough
    assert bad.headline.startswith("Consider a larger model or fine-tuning")
    assert "'What did I mention last Tuesday?'" in bad.message and "1 query fails" in bad.message
    assert recommend(2 / 3, threshold=0.6).good_enough
    assert not recommend(0.99, threshold=1.0).good_enough


def test_recommend_names_at_most_a_few_queries():
    many = recommend(0.1, [f"query {i}" for i in range(12)])
    assert isinstance(many, Recommendation)
    assert "12 queries fail" in many.message and "'query 4'" in many.message and "'query 5'" not in many.message
    assert "and 7 more" in many.message


@pytest.mark.parametrize(
    ("accuracy", "threshold", "words"),
    [
        (1.5, 0.8, "accuracy must be a number between 0 and 1"),
        (0.5, -0.1, "threshold must be a number between 0 and 1"),
        (0.5, float("nan"), "threshold"),
    ],
)
def test_recommend_checks_its_numbers(accuracy, threshold, words):
    with pytest.raises(ValueError, match=words):
        recommend(accuracy, threshold=threshold)


def test_result_recommend_and_summary_table():
    queries = [q for q, _ in QUERIES]
    result = evaluate_retrieval(queries, TEXTS, [str(e) for _, e in QUERIES], ids=IDS, k=5)
    verdict = result.recommend(threshold=0.8)
    assert verdict.good_enough == (result.accuracy >= 0.8)
    assert verdict.failing == tuple(result.failures["query"])
    table = summary_table({"a": result})
    assert table.loc[0, "model"] == result.model and table.loc[0, "accuracy@1"] == result.accuracy
    assert table.loc[0, "MRR@5"] == result.mrr and table.loc[0, "queries"] == len(queries)
