"""Property-based tests: any input either meets the contract or raises ValueError/TypeError."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import embedlab

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["", " ", "\t\n", "\x00\x1f", "🙂" * 50, "日本語", "<script>alert(1)</script>", "a " * 3000]
)
FLOATS = st.floats(-1e3, 1e3, width=32) | st.sampled_from([np.nan, np.inf, -np.inf, 0.0])


def settles(call):
    """Run ``call``; return its result, or None when it refused with ValueError/TypeError."""
    try:
        return call()
    except (ValueError, TypeError) as error:
        assert str(error), "a refusal must carry a message"
        return None


@SETTINGS
@given(st.lists(ANY_TEXT, max_size=12) | st.lists(ANY_TEXT | st.integers() | st.none(), max_size=4))
def test_encode_contract(texts):
    vectors = settles(lambda: embedlab.encode(texts))
    if vectors is None:
        return
    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    duplicates = {}
    for text, row in zip(texts, vectors, strict=True):
        duplicates.setdefault(text, row)
        np.testing.assert_array_equal(duplicates[text], row)


@SETTINGS
@given(
    arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(0, 5)), elements=FLOATS),
    arrays(np.float32, st.tuples(st.integers(0, 40), st.integers(0, 5)), elements=FLOATS),
    st.integers(-2, 60),
)
def test_rank_contract(queries, corpus, k):
    result = settles(lambda: embedlab.rank(queries, corpus, k=k))
    if result is None:
        return
    idx, scores = result
    assert idx.shape == scores.shape == (len(queries), min(k, len(corpus)))
    assert ((idx >= 0) & (idx < len(corpus))).all()
    assert all(len(set(row)) == len(row) for row in idx)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    assert (np.abs(scores) <= 1 + 1e-5).all()


@settings(max_examples=25, deadline=None)
@given(
    arrays(np.float32, st.tuples(st.integers(0, 30), st.integers(0, 6)), elements=FLOATS),
    st.sampled_from(["tsne", "pca", "umap", "mds", ""]),
    st.integers(0, 4),
)
def test_project_contract(points, method, n_components):
    if method == "umap" and len(points) > 8:
        method = "pca"  # UMAP's contract is the same; keep the property run fast
    result = settles(lambda: embedlab.project(points, method=method, n_components=n_components))
    if result is None:
        return
    assert result.shape == (len(points), n_components) and np.isfinite(result).all()


@pytest.mark.parametrize("k", [0, -1])
def test_rank_refuses_k_below_one(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        embedlab.rank(np.ones((1, 2)), np.ones((3, 2)), k=k)
