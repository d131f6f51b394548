"""project(): quality against the lesson's topics and scikit-learn's trustworthiness."""

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sk_trustworthiness

import embedlab
from embedlab import seed


@pytest.fixture(scope="module")
def seed_vectors():
    return embedlab.encode(list(seed.SENTENCES))


def nearest_shares_topic(points, labels):
    d = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    labels = np.asarray(labels)
    return int((labels[d.argmin(1)] == labels).sum())


@pytest.mark.parametrize("method", ["tsne", "pca", "umap"])
def test_seed_topics_stay_together(seed_vectors, method):
    points = embedlab.project(seed_vectors, method=method)
    assert points.shape == (16, 2) and points.dtype == np.float32
    minimum = 14 if method == "tsne" else 12
    assert nearest_shares_topic(points, seed.LABELS) >= minimum


def test_tsne_is_deterministic_and_trustworthy(seed_vectors):
    a = embedlab.project(seed_vectors, random_state=7)
    b = embedlab.project(seed_vectors, random_state=7)
    np.testing.assert_array_equal(a, b)
    assert sk_trustworthiness(seed_vectors, a, n_neighbors=5, metric="cosine") > 0.8
    assert embedlab.trustworthiness(seed_vectors, a, k=5) == pytest.approx(
        sk_trustworthiness(seed_vectors, a, n_neighbors=5, metric="cosine")
    )


def test_three_components(seed_vectors):
    assert embedlab.project(seed_vectors, n_components=3).shape == (16, 3)


def test_perplexity_is_clamped_below_the_number_of_points():
    plan = embedlab.plan_projection(16, "tsne")
    assert plan.perplexity == 5.0 and "5" in plan.note
    assert embedlab.plan_projection(1000, "tsne").perplexity == 30.0


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("method", ["tsne", "umap", "pca"])
def test_tiny_inputs_have_a_documented_result(n, method):
    x = np.random.default_rng(0).normal(size=(n, 8))
    points = embedlab.project(x, method=method, n_components=3)
    assert points.shape == (n, 3) and np.isfinite(points).all()
    plan = embedlab.plan_projection(n, method)
    if method != "pca" or n == 1:
        assert plan.note


def test_two_points_stay_apart():
    points = embedlab.project(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert np.linalg.norm(points[0] - points[1]) > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"method": "mds"}, ValueError, "method must be one of"),
        ({"n_components": 4}, ValueError, "n_components"),
        ({"n_components": 0}, ValueError, "n_components"),
        ({"random_state": "x"}, TypeError, "random_state"),
        ({"perplexity": -1}, ValueError, "perplexity"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, error, word):
    with pytest.raises(error, match=word):
        embedlab.project(np.ones((10, 4)) + np.arange(10)[:, None], **kwargs)


def test_nan_rows_are_refused():
    x = np.ones((5, 3))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        embedlab.project(x)
