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


def use_threads(monkeypatch, threads):
    """Search with ``threads`` threads whatever the size or the machine (1: the caller's thread alone)."""
    monkeypatch.setattr(ranking, "_threads", lambda: threads)
    monkeypatch.setattr(ranking, "PARALLEL_MIN_WORK", 0)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("order", ["random", "ascending", "descending"])
@pytest.mark.parametrize("k", [1, 7, 50])
def test_every_chunk_order_matches_the_oracle(monkeypatch, order, k, threads):
    rng = np.random.default_rng(2)
    queries, corpus = rng.normal(size=(6, 12)), rng.normal(size=(800, 12)).astype(np.float32)
    if order != "random":  # later chunks always (ascending) or never (descending) beat the best so far
        corpus = corpus[np.argsort(cosine_similarity(queries[:1], corpus)[0])]
        corpus = corpus if order == "ascending" else corpus[::-1].copy()
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 6 * 37)  # 37-row chunks (k rows when k > 37)
    use_threads(monkeypatch, threads)
    idx, scores = embedlab.rank(queries, corpus, k=k)
    want_idx, want_scores = oracle(queries, corpus, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_ties_across_chunks_go_to_the_lower_index(monkeypatch):
    corpus = np.repeat(np.eye(3, dtype=np.float32), 40, axis=0)[np.random.default_rng(0).permutation(120)]
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 2 * 9)
    use_threads(monkeypatch, 3)
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


# --- every core: the corpus split among threads, and the adversarial cases -------------------


def cosines(queries, corpus):
    """Cosine similarities in float64, as the dot product over the norms (0 for a zero row)."""
    q, c = (np.asarray(x, dtype=np.float64) for x in (queries, corpus))
    norms = np.linalg.norm(q, axis=1)[:, None] * np.linalg.norm(c, axis=1)[None, :]
    return np.divide(q @ c.T, norms, out=np.zeros(norms.shape), where=norms > 0)


def argsort_oracle(queries, corpus, k):
    """Cosine top-k by a full stable argsort in float64: ties go to the lower index."""
    sims = cosines(queries, corpus)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, 1)


def assert_same_top_k(queries, corpus, idx, scores, *, exact_ties):
    """The oracle's top-k; rows may differ from it only between scores equal within float noise."""
    k = idx.shape[1]
    want_idx, want_scores = argsort_oracle(queries, corpus, k)
    assert idx.shape == want_idx.shape and idx.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    if exact_ties:  # every tie exact in float32 and float64 alike: the same rows, lower index first
        np.testing.assert_array_equal(idx, want_idx)
        return
    assert all(len(set(row)) == k for row in idx.tolist())
    differ = idx != want_idx
    true_scores = np.take_along_axis(cosines(queries, corpus), idx, 1)
    np.testing.assert_allclose(true_scores[differ], want_scores[differ], atol=1e-6)


def adversarial(case, rng):
    """(queries, corpus, whether every tie is exact) for cases that stress the search."""
    if case == "ties":  # 12 random rows, each repeated at scales 2^-3 … 2^3: the cosines of copies tie exactly
        base = rng.normal(size=(12, 6)).astype(np.float32)
        corpus = base[rng.integers(0, 12, 900)] * np.float32(2.0) ** rng.integers(-3, 4, size=(900, 1))
        return rng.normal(size=(9, 6)), corpus.astype(np.float32), True
    if case == "zero rows":  # most rows zero: they score exactly 0 and fill the top-k after the others
        corpus = np.zeros((900, 4), np.float32)
        corpus[rng.choice(900, 40, replace=False)] = rng.normal(size=(40, 4))
        return np.vstack([np.ones(4), -np.ones(4), np.zeros(4)]), corpus, True
    if case == "norms":  # any norm from 1e-4 to 1e4
        corpus = rng.normal(size=(900, 6)) * 10.0 ** rng.uniform(-4, 4, size=(900, 1))
        return rng.normal(size=(9, 6)) * 1e3, corpus.astype(np.float32), False
    if case == "huge":  # rows whose squares overflow float32
        corpus = rng.normal(size=(900, 6)).astype(np.float32)
        corpus[::7] *= np.float32(1e37)
        return rng.normal(size=(9, 6)), corpus, False
    if case == "ascending":  # sorted by the first query's score: every chunk beats all before it
        corpus = rng.normal(size=(900, 6)).astype(np.float32)
        queries = np.vstack([corpus[:1] + 0.01, corpus[:1] - 0.01])
        return queries, corpus[np.argsort(cosines(queries[:1], corpus)[0])], False
    raise AssertionError(case)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 10, 60, 5000])  # 5000: more than the corpus holds
@pytest.mark.parametrize("case", ["ties", "zero rows", "norms", "huge", "ascending"])
def test_adversarial_corpora_match_a_full_argsort(monkeypatch, case, k, threads):
    queries, corpus, exact_ties = adversarial(case, np.random.default_rng(7))
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", len(queries) * 50)  # 50-row chunks: 18 of them
    use_threads(monkeypatch, threads)
    idx, scores = embedlab.rank(queries, corpus, k=k)
    assert idx.shape == (len(queries), min(k, len(corpus)))
    assert_same_top_k(queries, corpus, idx, scores, exact_ties=exact_ties)


@pytest.mark.parametrize("threads", [2, 3])
def test_many_random_rows_on_threads_match_a_full_argsort(monkeypatch, threads):
    rng = np.random.default_rng(8)
    corpus = rng.normal(size=(20_000, 24)).astype(np.float32)
    queries = corpus[rng.choice(20_000, 40, replace=False)] + 0.3 * rng.normal(size=(40, 24))
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", 40 * 256)
    use_threads(monkeypatch, threads)
    idx, scores = embedlab.rank(queries, corpus, k=10)
    assert_same_top_k(queries, corpus, idx, scores, exact_ties=False)


def test_more_queries_than_a_group_match_the_oracle(monkeypatch):
    rng = np.random.default_rng(9)
    x = rng.normal(size=(700, 16)).astype(np.float32)
    monkeypatch.setattr(ranking, "QUERY_GROUP", 64)  # 11 groups of queries, the last one short
    idx, scores = embedlab.rank(x, x, k=4)
    assert_same_top_k(x, x, idx, scores, exact_ties=False)


# --- corpora known to have unit rows: encode's output skips the norm pass, same results -------


def read_only(array):
    array = np.array(array, dtype=np.float32)
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("threads", [1, 2])
def test_a_marked_corpus_gives_the_same_result_as_measuring_it(monkeypatch, threads):
    texts = [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES] + [f"note {i} about the cache" for i in range(200)]
    corpus, queries = np.array(embedlab.encode(texts)), embedlab.encode(list(seed.QUERIES))
    corpus[17] = 0.0  # a zero row scores 0 on both paths
    corpus = read_only(corpus)
    measured = read_only(corpus)  # the same values, unmarked
    assert ranking.mark_unit_rows(corpus) and ranking.has_unit_rows(corpus) and not ranking.has_unit_rows(measured)
    monkeypatch.setattr(ranking, "CHUNK_ELEMENTS", len(queries) * 16)
    use_threads(monkeypatch, threads)
    calls = []
    monkeypatch.setattr(ranking, "_inverse_norms", lambda *a, f=ranking._inverse_norms: calls.append(a) or f(*a))
    fast = embedlab.rank(queries, corpus, k=7)
    assert len(calls) == 1  # the queries' norms only
    slow = embedlab.rank(queries, measured, k=7)
    assert len(calls) > 2
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])
    want_idx, want_scores = oracle(queries, corpus, 7)
    np.testing.assert_array_equal(fast[0], want_idx)
    np.testing.assert_allclose(fast[1], want_scores, atol=1e-5)


def test_the_mark_holds_only_while_it_is_true():
    rng = np.random.default_rng(10)
    unit = rng.normal(size=(50, 8))
    unit = read_only(unit / np.linalg.norm(unit, axis=1, keepdims=True))
    assert ranking.mark_unit_rows(unit)
    assert ranking.has_unit_rows(unit[5:20]) and ranking.has_unit_rows(unit[::-3])  # whole rows of it
    assert not ranking.has_unit_rows(unit[:, :4])  # a column slice has shorter rows
    shifted = unit.reshape(-1)[1:393].reshape(49, 8)  # rows straddling two of the marked rows
    assert not ranking.has_unit_rows(shifted)
    assert not ranking.has_unit_rows(unit.copy())  # a copy is writeable: anyone may change it
    unit.flags.writeable = True
    assert not ranking.has_unit_rows(unit)
    unit.flags.writeable = False
    assert ranking.has_unit_rows(unit)

    assert not ranking.mark_unit_rows(read_only(np.ones((3, 8))))  # rows of norm √8
    assert not ranking.mark_unit_rows(read_only(np.full((3, 8), np.nan)))
    with pytest.raises(ValueError, match="read-only"):
        ranking.mark_unit_rows(np.eye(3, dtype=np.float32))
    with pytest.raises(TypeError, match="float32"):
        ranking.mark_unit_rows(np.eye(3))


def test_a_mark_ends_with_its_array():
    array = read_only(np.eye(4))
    assert ranking.mark_unit_rows(array)
    key = id(array)
    assert key in ranking._unit_arrays
    del array
    assert key not in ranking._unit_arrays


# --- memory: bounded whatever the corpus size --------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("order", ["random", "ascending"])  # ascending: every score beats all before it
def test_memory_stays_bounded_for_a_large_corpus(monkeypatch, order, threads):
    import tracemalloc

    rng = np.random.default_rng(11)
    corpus = rng.normal(size=(400_000, 4)).astype(np.float32)  # 6.4 MB; all its scores would be 160 MB
    queries = rng.normal(size=(100, 4))
    if order == "ascending":
        queries = np.repeat(queries[:1], 100, axis=0)
        corpus = corpus[np.argsort(cosines(queries[:1], corpus)[0], kind="stable")]
    use_threads(monkeypatch, threads)
    tracemalloc.start()
    try:
        idx, scores = embedlab.rank(queries, corpus, k=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_score = 8 if order == "random" else 24  # bytes per score of a chunk, per thread (rank's docstring)
    bound = threads * per_score * ranking.CHUNK_ELEMENTS + 2**20
    assert peak < bound, f"peak {peak / 2**20:.1f} MB"
    assert peak < 100 * 400_000 * 4 / 4  # far from the score matrix
    assert_same_top_k(queries, corpus, idx, scores, exact_ties=False)
