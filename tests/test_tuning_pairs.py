"""Training pairs: checked, split by positive, read from pasted text and files (no model involved).

Oracles: the rules written out in each test (sets of positives, positions looked up by hand),
hypothesis for the split's invariants over many shapes of input.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embedlab import tuning
from embedlab.tuning import Pairs, check_pairs, pairs_from_text, read_pairs, split_pairs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def numbered(n: int, *, negatives: bool = False) -> list[tuple[str, ...]]:
    """``n`` distinct pairs (triplets with ``negatives``), query i → document i."""
    rows = [(f"question {i}", f"document {i}") for i in range(n)]
    return [(q, p, f"unrelated {i}") for i, (q, p) in enumerate(rows)] if negatives else rows


def one_sentence(error: BaseException) -> str:
    message = str(error)
    assert message and "\n" not in message and len(message) < 400, message
    return message


# ---------------------------------------------------------------- check_pairs: what is accepted


def test_tuples_are_checked_and_stripped():
    rows = [(f"  question {i} ", f"document {i}\n") for i in range(12)]
    pairs = check_pairs(rows)
    assert isinstance(pairs, Pairs) and len(pairs) == 12
    assert pairs.queries == tuple(f"question {i}" for i in range(12))
    assert pairs.positives == tuple(f"document {i}" for i in range(12))
    assert pairs.negatives is None and pairs.dropped == 0


def test_lists_and_triplets_are_accepted():
    triplets = check_pairs([list(row) for row in numbered(10, negatives=True)])
    assert triplets.negatives == tuple(f"unrelated {i}" for i in range(10))
    assert triplets.queries[3] == "question 3" and triplets.positives[3] == "document 3"


@pytest.mark.parametrize("query_column", ["query", "anchor", "Anchor ", "question"])
def test_a_dataframe_is_read_by_column_name(query_column):
    frame = pd.DataFrame(
        {
            "positive": [f"document {i}" for i in range(11)],  # columns out of order on purpose
            query_column: [f"question {i}" for i in range(11)],
        }
    )
    pairs = check_pairs(frame)
    assert pairs.queries == tuple(f"question {i}" for i in range(11))
    assert pairs.positives == tuple(f"document {i}" for i in range(11))
    assert pairs.negatives is None


def test_a_dataframe_with_negatives_gives_triplets():
    frame = pd.DataFrame(numbered(10, negatives=True), columns=["query", "positive", "negative"])
    pairs = check_pairs(frame)
    assert pairs.negatives == tuple(f"unrelated {i}" for i in range(10))


def test_exact_repeats_are_dropped_and_counted():
    rows = numbered(10)
    repeated = [*rows, rows[2], rows[7], (" question 7", "document 7 ")]  # the last one only after stripping
    pairs = check_pairs(repeated)
    assert len(pairs) == 10 and pairs.dropped == 3
    assert pairs.queries == tuple(q for q, _ in rows)


def test_repeats_do_not_count_towards_the_minimum():
    rows = numbered(9)
    with pytest.raises(ValueError, match=r"at least 10 distinct pairs.*got 9") as caught:
        check_pairs(rows + rows)
    one_sentence(caught.value)


def test_one_query_may_appear_twice_with_the_same_positive_only_once():
    # the same query with the same positive but another negative is a distinct triplet, accepted
    rows = [*numbered(10, negatives=True), ("question 0", "document 0", "another unrelated")]
    pairs = check_pairs(rows)
    assert len(pairs) == 11 and pairs.queries.count("question 0") == 2


# ---------------------------------------------------------------- check_pairs: what is refused


def replaced(rows, index, row):
    rows = list(rows)
    rows[index] = row
    return rows


@pytest.mark.parametrize(
    ("rows", "error", "words"),
    [
        (replaced(numbered(12), 3, ("question 3", "")), ValueError, ["pair 4", "positive", "empty"]),
        (replaced(numbered(12), 0, ("   ", "document 0")), ValueError, ["pair 1", "query", "empty"]),
        (replaced(numbered(12), 5, (None, "document 5")), TypeError, ["pair 6", "query", "missing"]),
        (replaced(numbered(12), 6, ("question 6", float("nan"))), TypeError, ["pair 7", "positive", "missing"]),
        (replaced(numbered(12), 7, ("question 7", 42)), TypeError, ["pair 8", "positive", "int"]),
        (replaced(numbered(12), 8, ("question 8", b"document 8")), TypeError, ["pair 9", "bytes"]),
        (replaced(numbered(12, negatives=True), 9, ("q", "p", None)), TypeError, ["pair 10", "negative"]),
        (replaced(numbered(12), 2, ("question 2", "document 2", "extra")), ValueError, ["pair 3", "3 texts"]),
        (replaced(numbered(12, negatives=True), 4, ("q", "p")), ValueError, ["pair 5", "2 texts"]),
        (replaced(numbered(12), 4, "question 4"), TypeError, ["pair 5", "tuple", "str"]),
        ([*numbered(12), ("question 3", "another document")], ValueError, ["question 3", "pairs 4 and 13"]),
        (numbered(9), ValueError, ["at least 10", "got 9"]),
        ([], ValueError, ["at least 10", "got 0"]),
        ("question\tdocument", TypeError, ["single string"]),
        (b"question\tdocument", TypeError, ["single string"]),
        (42, TypeError, ["int"]),
    ],
    ids=[
        "empty-positive",
        "blank-query",
        "none",
        "nan",
        "int",
        "bytes-text",
        "none-negative",
        "three-in-pairs",
        "two-in-triplets",
        "bare-string-row",
        "two-positives",
        "too-few",
        "empty",
        "single-string",
        "single-bytes",
        "not-iterable",
    ],
)
def test_bad_pairs_are_refused_in_one_sentence_naming_the_pair(rows, error, words):
    with pytest.raises(error) as caught:
        check_pairs(rows)
    message = one_sentence(caught.value)
    for word in words:
        assert word in message, (word, message)


def test_a_dataframe_missing_a_value_names_its_row():
    frame = pd.DataFrame(numbered(12), columns=["query", "positive"])
    frame.loc[4, "positive"] = np.nan
    with pytest.raises(TypeError, match=r"pair 5's positive must be text, got missing\."):
        check_pairs(frame)


def test_a_dataframe_without_the_positive_column_names_the_columns():
    frame = pd.DataFrame({"query": ["a"] * 12, "text": ["b"] * 12})
    with pytest.raises(ValueError) as caught:
        check_pairs(frame)
    message = one_sentence(caught.value)
    assert "missing positive" in message and "query, text" in message


# ---------------------------------------------------------------- digest


def test_digest_follows_the_texts_their_order_and_their_boundaries():
    rows = numbered(10)
    digest = check_pairs(rows).digest
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert check_pairs(list(rows)).digest == digest
    assert check_pairs(rows[::-1]).digest != digest
    assert check_pairs(replaced(rows, 0, ("question 0", "document 0 changed"))).digest != digest
    # moving a word across the query/positive boundary is another pair set
    assert check_pairs(replaced(rows, 0, ("question", "0 document 0"))).digest != digest


# ---------------------------------------------------------------- pasted text and files


def test_pasted_pairs_take_a_tab_or_a_bar():
    lines = [f"question {i}\tdocument {i}" if i % 2 else f"question {i} | document {i}" for i in range(10)]
    lines.insert(4, "")  # blank lines are skipped
    lines.append("question 10\tdocument 10 | with a bar inside")  # the first separator splits
    pairs = pairs_from_text("\n".join(lines))
    assert pairs.queries == tuple(f"question {i}" for i in range(11))
    assert pairs.positives == (*(f"document {i}" for i in range(10)), "document 10 | with a bar inside")


def test_a_pasted_line_without_separator_is_named_by_its_line_number():
    text = "\n".join(["question 0\tdocument 0", "", "question 1 | document 1", "question 2 without a separator"])
    with pytest.raises(ValueError) as caught:
        pairs_from_text(text)
    message = one_sentence(caught.value)
    assert message.startswith("line 4 has no separator"), message  # the line as the user sees it


@pytest.mark.parametrize("line", ["question 10\t", "question 10 | ", "\tdocument 10"])
def test_a_pasted_line_with_one_side_empty_says_which_side(line):
    text = "\n".join([*(f"question {i}\tdocument {i}" for i in range(10)), line])
    with pytest.raises(ValueError, match=r"pair 11's (query|positive) is empty"):
        pairs_from_text(text)


def test_pasted_text_is_checked_like_pairs():
    text = "\n".join(f"question {i}\tdocument {i}" for i in range(5))
    with pytest.raises(ValueError, match="at least 10 distinct pairs"):
        pairs_from_text(text)


def test_csv_and_jsonl_files_are_read():
    rows = numbered(12)
    csv = "anchor,positive\n" + "".join(f'"{q}","{p}, with a comma"\n' for q, p in rows)
    from_csv = read_pairs(csv.encode(), "pairs.csv")
    jsonl = "\n".join(json.dumps({"query": q, "positive": f"{p}, with a comma"}) for q, p in rows)
    from_jsonl = read_pairs(jsonl.encode(), "pairs.jsonl")
    for pairs in (from_csv, from_jsonl):
        assert pairs.queries == tuple(q for q, _ in rows)
        assert pairs.positives == tuple(f"{p}, with a comma" for _, p in rows)
    assert from_csv.digest == from_jsonl.digest


def test_a_jsonl_file_with_negatives_gives_triplets():
    jsonl = "\n".join(
        json.dumps(dict(zip(["query", "positive", "negative"], r, strict=True))) for r in numbered(10, negatives=True)
    )
    assert read_pairs(jsonl.encode(), "t.jsonl").negatives == tuple(f"unrelated {i}" for i in range(10))


def test_a_file_without_the_positive_column_names_the_file_and_its_columns():
    csv = "query,text\n" + "".join(f"question {i},document {i}\n" for i in range(12))
    with pytest.raises(ValueError) as caught:
        read_pairs(csv.encode(), "my pairs.csv")
    message = one_sentence(caught.value)
    assert message.startswith("my pairs.csv: ") and "positive" in message and "query, text" in message


def test_a_bad_row_in_a_file_names_the_file_and_the_pair():
    csv = "query,positive\n" + "".join(f"question {i},document {i}\n" for i in range(12)) + "question 12,\n"
    with pytest.raises(ValueError) as caught:
        read_pairs(csv.encode(), "pairs.csv")
    message = one_sentence(caught.value)
    assert message.startswith("pairs.csv: ") and "pair 13" in message


def test_the_example_pairs_are_real_distinct_pairs():
    rows = tuning.example_pairs(48)
    assert len(rows) == 48 and tuning.example_pairs()[:48] == rows
    pairs = check_pairs(rows)
    assert len(pairs) == 48 and pairs.dropped == 0
    assert len(set(pairs.positives)) == 48
    assert all(len(p) > len(q) for q, p in rows)  # a summary and its (longer) description


# ---------------------------------------------------------------- split_pairs


@st.composite
def pair_sets(draw):
    """30-60 distinct positives, each with 1-3 distinct queries, in a shuffled order."""
    n_docs = draw(st.integers(30, 60))
    rows = [(f"question {d}.{j}", f"document {d}") for d in range(n_docs) for j in range(draw(st.integers(1, 3)))]
    order = draw(st.permutations(range(len(rows))))
    return check_pairs([rows[i] for i in order])


@SETTINGS
@given(pair_sets(), st.floats(0.1, 0.5), st.integers(0, 2**32 - 1))
def test_split_invariants(pairs, held_out, random_state):
    # 30+ positives at 10-50% held out: always at least 3 held out and 15 to train, so this never refuses
    split = split_pairs(pairs, held_out=held_out, random_state=random_state)
    train_docs, test_docs = set(split.train.positives), set(split.test.positives)
    assert not train_docs & test_docs
    # every pair is in exactly one part, with its own query
    assert sorted(
        zip(split.train.queries + split.test.queries, split.train.positives + split.test.positives, strict=True)
    ) == sorted(zip(pairs.queries, pairs.positives, strict=True))
    distinct = set(pairs.positives)
    assert set(split.corpus) == distinct and len(split.corpus) == len(distinct)
    assert len(split.expected) == len(split.test)
    for query, positive, position in zip(split.test.queries, split.test.positives, split.expected, strict=True):
        assert split.corpus[position] == positive
        assert pairs.positives[pairs.queries.index(query)] == positive
    # the share of distinct positives held out is the one asked for, to the nearest document
    assert abs(len(test_docs) - held_out * len(distinct)) <= 0.5 + 1e-9
    again = split_pairs(pairs, held_out=held_out, random_state=random_state)
    assert again == split


def test_split_depends_on_the_seed():
    pairs = check_pairs(tuning.example_pairs(100))
    held = {seed: set(split_pairs(pairs, random_state=seed).test.positives) for seed in range(4)}
    assert held[0] == set(split_pairs(pairs, random_state=0).test.positives)
    assert len({frozenset(s) for s in held.values()}) == 4, "four seeds, four different held-out sets"
    assert all(len(s) == 20 for s in held.values())


def test_split_keeps_the_triplets_negatives_with_their_pairs():
    pairs = check_pairs(numbered(20, negatives=True))
    split = split_pairs(pairs, held_out=0.25, random_state=3)
    for part in (split.train, split.test):
        assert part.negatives == tuple(f"unrelated {q.split()[-1]}" for q in part.queries)


def test_extra_corpus_is_added_once_after_the_positives():
    pairs = check_pairs(numbered(20))
    extra = ["distractor a", "  distractor b ", "document 3", "distractor a", "", "   ", 7, "distractor c"]
    split = split_pairs(pairs, held_out=0.25, random_state=1, extra_corpus=extra)
    assert split.corpus[:20] == tuple(dict.fromkeys(pairs.positives))
    assert split.corpus[20:] == ("distractor a", "distractor b", "distractor c")
    assert [split.corpus[i] for i in split.expected] == list(split.test.positives)
    assert "ranked against 23 documents" in split.describe()


@pytest.mark.parametrize("held_out", [0, 0.0, -0.1, 0.95, 1, 1.5, float("nan")])
def test_held_out_out_of_range_is_refused(held_out):
    with pytest.raises(ValueError, match=r"held_out must be a fraction between 0 and 0\.9") as caught:
        split_pairs(check_pairs(numbered(20)), held_out=held_out)
    one_sentence(caught.value)


@pytest.mark.parametrize("held_out", ["0.2", None, True])
def test_held_out_of_another_type_is_refused(held_out):
    with pytest.raises(TypeError, match="held_out must be a fraction"):
        split_pairs(check_pairs(numbered(20)), held_out=held_out)


@pytest.mark.parametrize(
    ("n", "held_out", "words"),
    [
        (10, 0.1, ["1 to judge"]),  # one held-out query: at least 2 are needed
        (10, 0.9, ["1 to train"]),
        (12, 0.5, ["6 to train"]),  # fewer than 8 training pairs
    ],
)
def test_too_few_pairs_for_the_split_are_refused(n, held_out, words):
    with pytest.raises(ValueError, match="too few") as caught:
        split_pairs(check_pairs(numbered(n)), held_out=held_out)
    message = one_sentence(caught.value)
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    ("random_state", "error"), [(-1, ValueError), (None, TypeError), (1.5, TypeError), ("0", TypeError)]
)
def test_split_needs_a_seed_to_be_reproducible(random_state, error):
    with pytest.raises(error, match="random_state must be a non-negative int") as caught:
        split_pairs(check_pairs(numbered(20)), random_state=random_state)
    one_sentence(caught.value)
