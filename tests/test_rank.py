"""rank() against scikit-learn's cosine_similarity with a stable sort."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

import embedlab
from embedlab import ranking, seed


def oracle(queries, corpus, k):
    sims = cosine_similarity(queries, corpus)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, 1)


@pytest.mark.parametrize("k", [1, 3, 10, 500])
def test_matches_sklearn(k):
    rng = np.random.default_rng(0)
    queries, corpus = rng.normal(size=(7, 32)), rng.normal(size=(300, 32)) * 3
    idx, scores = embedlab.rank(queries, corpus, k=k)
    want_idx, want_scores = oracle(queries, corpus, k)
    assert idx.shape == (7, min(k, 300)) and idx.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_chunked_scoring_gives_the_same_answer(monkeypatch):
    rng = np.random.default_rng(1)
    queries, corpus = rng.normal(size=(5, 16)), rng.normal(size=(1000, 16))
    whole = embedlab.rank(queries, corpus, k=8)
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 5 * 37)  # 37-row chunks
    chunked = embedlab.rank(queries, corpus, k=8)
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_allclose(whole[1], chunked[1], atol=1e-6)


def test_ties_go_to_the_lower_index(monkeypatch):
    corpus = np.tile(np.array([[1.0, 0.0], [0.0, 1.0]]), (50, 1))  # rows alternate, many exact ties
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 13)
    idx, scores = embedlab.rank([[1.0, 0.0]], corpus, k=5)
    assert idx.tolist() == [[0, 2, 4, 6, 8]]
    np.testing.assert_allclose(scores, 1.0)


def test_seed_queries_on_real_embeddings_match_the_oracle():
    traces = [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES]
    queries, corpus = embedlab.encode(list(seed.QUERIES)), embedlab.encode(traces)
    idx, scores = embedlab.rank(queries, corpus, k=3)
    want_idx, want_scores = oracle(queries, corpus, 3)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_zero_query_scores_zero():
    idx, scores = embedlab.rank(np.zeros(4), np.eye(4), k=4)
    np.testing.assert_array_equal(scores, 0.0)
    assert idx.tolist() == [[0, 1, 2, 3]]


@pytest.mark.parametrize(
    ("queries", "corpus", "k", "error", "word"),
    [
        (np.ones((1, 3)), np.ones((4, 3)), 0, ValueError, "k must"),
        (np.ones((1, 3)), np.ones((4, 2)), 1, ValueError, "corpus must have 3 columns"),
        (np.ones((1, 3)), np.empty((0, 3)), 1, ValueError, "corpus"),
        ([[np.nan, 1, 1]], np.ones((4, 3)), 1, ValueError, "queries must contain only finite"),
        ("text", np.ones((4, 3)), 1, TypeError, "queries"),
        (np.ones((1, 3)), np.ones((4, 3)), True, TypeError, "k must"),
    ],
)
def test_bad_arguments_name_the_parameter(queries, corpus, k, error, word):
    with pytest.raises(error, match=word):
        embedlab.rank(queries, corpus, k=k)
