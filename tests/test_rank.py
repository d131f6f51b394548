"""rank() against scikit-learn's cosine_similarity with a stable sort."""

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

import embedlab
from embedlab import seed
from embedlab.retrieval import ranking


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


# --- the chunked search: pruning by each query's k-th best, no corpus copy --------------------


@pytest.mark.parametrize("block", [8, 256])  # 8: the block-maximum search runs; 256: only the tail
@pytest.mark.parametrize("order", ["random", "ascending", "descending"])
@pytest.mark.parametrize("k", [1, 7, 50])
def test_every_chunk_order_matches_the_oracle(monkeypatch, order, k, block):
    rng = np.random.default_rng(2)
    queries, corpus = rng.normal(size=(6, 12)), rng.normal(size=(800, 12)).astype(np.float32)
    if order != "random":  # later chunks always (ascending) or never (descending) beat the best so far
        corpus = corpus[np.argsort(cosine_similarity(queries[:1], corpus)[0])]
        corpus = corpus if order == "ascending" else corpus[::-1].copy()
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 6 * 37)  # 37-row chunks (k rows when k > 37)
    monkeypatch.setattr(ranking, "BLOCK", block)
    idx, scores = embedlab.rank(queries, corpus, k=k)
    want_idx, want_scores = oracle(queries, corpus, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_ties_across_chunks_go_to_the_lower_index(monkeypatch):
    corpus = np.repeat(np.eye(3, dtype=np.float32), 40, axis=0)[np.random.default_rng(0).permutation(120)]
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 2 * 9)
    monkeypatch.setattr(ranking, "BLOCK", 4)
    idx, _ = embedlab.rank(np.eye(3)[:2], corpus, k=6)
    want, _ = oracle(np.eye(3)[:2], corpus, 6)
    np.testing.assert_array_equal(idx, want)


def test_norms_do_not_matter_and_the_corpus_is_not_changed():
    rng = np.random.default_rng(4)
    queries, corpus = rng.normal(size=(3, 16)), rng.normal(size=(500, 16)).astype(np.float32)
    unit = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    before = corpus.copy()
    scaled = corpus * rng.uniform(0.01, 100, size=(500, 1)).astype(np.float32)
    a, b, c = (embedlab.rank(queries, x, k=9) for x in (corpus, unit, scaled))
    np.testing.assert_array_equal(corpus, before)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[0], c[0])
    np.testing.assert_allclose(a[1], c[1], atol=1e-6)


def test_huge_finite_rows_match_the_oracle():
    corpus = np.array([[3e30, 1e30], [1.0, 0.0], [0.0, 1.0], [-2e38, 1e38]], dtype=np.float32)
    queries = np.array([[1.0, 0.2], [0.0, -1.0]])
    idx, scores = embedlab.rank(queries, corpus, k=4)
    want_idx, want_scores = oracle(queries, corpus.astype(np.float64), 4)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_float32_corpus_names_the_first_bad_row(monkeypatch, bad):
    corpus = np.random.default_rng(5).normal(size=(300, 8)).astype(np.float32)
    corpus[[211, 250], 3] = bad
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 50)  # the bad rows are in a late chunk
    with pytest.raises(ValueError, match="corpus must contain only finite numbers, got NaN or infinity in row 211"):
        embedlab.rank(np.ones(8), corpus, k=3)
