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
    # the lesson's topics group far better than chance in MiniLM's space
    assert quality.label_agreement > 2 * quality.label_chance


def test_map_quality_samples_large_inputs_and_skips_unlabelled():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16)).astype(np.float32)
    labels = [explore.UNLABELLED] * 100 + ["a"] * 100 + ["b"] * 100
    quality = explore.map_quality(x, x[:, :2], labels, sample=120)
    assert quality.sampled and quality.n_used == 120 and quality.n_total == 300
    assert 0 <= quality.trustworthiness <= 1 and quality.silhouette == quality.silhouette
    tiny = explore.map_quality(x[:2], x[:2, :2], ["a", "b"])
    assert np.isnan(tiny.trustworthiness) and np.isnan(tiny.silhouette)


def test_auto_clusters_recover_the_lessons_topics(vectors):
    found = explore.auto_clusters(vectors, n_clusters=4)
    assert found[0] == 0 and set(found) == {0, 1, 2, 3}  # numbered by first appearance
    assert adjusted_rand_score(seed.LABELS, found) > 0.35
    chosen = explore.auto_clusters(vectors)
    assert 2 <= len(set(chosen)) <= 10 and adjusted_rand_score(seed.LABELS, chosen) > 0.35
    assert explore.auto_clusters(vectors[:2]).tolist() == [0, 0]


def test_auto_clusters_on_a_large_input_fit_a_sample_and_label_every_row():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 32))
    x = np.vstack([c + 0.25 * rng.normal(size=(700, 32)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(5), 700)
    found = explore.auto_clusters(x)  # 3,500 rows: fitted on 2,000
    assert len(found) == 3500 and adjusted_rand_score(truth, found) > 0.95
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
