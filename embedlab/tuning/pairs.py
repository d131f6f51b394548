"""Training pairs: check them, split them into training and held-out parts, read them from files.

A *pair* is a query and the text it should find (its *positive*), optionally with a text it
should not find (a *negative*; then the pairs are triplets). The held-out split is made by
positive, so no document is both trained on and evaluated: the held-out queries are judged
against every positive, as a real corpus would be.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..tables import read_table

#: Fewer pairs than this cannot train and hold out anything meaningful.
MIN_PAIRS = 10
#: The held-out part must keep at least this many queries, the training part this many pairs.
MIN_HELD_OUT = 2
MIN_TRAIN = 8
PAIR_COLUMNS = ("query", "positive")
#: 300 real pairs: Debian packages' one-line summaries and their descriptions (embedlab/data/README.md).
EXAMPLE_FILE = Path(__file__).resolve().parent.parent / "data" / "debian_pairs.jsonl"
#: Other spellings of the columns accepted in files (sentence-transformers' own names first).
_ALIASES = {"anchor": "query", "question": "query", "document": "positive", "negative_text": "negative"}

__all__ = [
    "MIN_PAIRS",
    "PAIR_COLUMNS",
    "Pairs",
    "Split",
    "check_pairs",
    "check_seed",
    "example_pairs",
    "pairs_from_text",
    "read_pairs",
    "retrieval_pairs",
    "split_pairs",
]


@dataclass(frozen=True)
class Pairs:
    """Checked pairs: equal-length lists of non-empty texts, no pair twice.

    Attributes
    ----------
    queries, positives : tuple of str
    negatives : tuple of str or None
        One per pair when the pairs are triplets.
    dropped : int
        Exact repeats of a pair that were dropped.
    """

    queries: tuple[str, ...]
    positives: tuple[str, ...]
    negatives: tuple[str, ...] | None = None
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.queries)

    @property
    def digest(self) -> str:
        """SHA-256 of the pairs in order (recorded in a model's card)."""
        h = hashlib.sha256()
        for row in zip(self.queries, self.positives, self.negatives or [""] * len(self), strict=True):
            h.update("\x1f".join(row).encode("utf-8") + b"\x1e")
        return h.hexdigest()

    def subset(self, rows: Sequence[int]) -> Pairs:
        pick = lambda values: tuple(values[i] for i in rows)
        return Pairs(pick(self.queries), pick(self.positives), pick(self.negatives) if self.negatives else None)


@dataclass(frozen=True)
class Split:
    """Pairs split by positive into a training part and a held-out part.

    Attributes
    ----------
    train, test : Pairs
        No positive is in both.
    corpus : tuple of str
        Every distinct positive (training and held-out), plus the extra corpus: what held-out
        queries are ranked against.
    expected : tuple of int
        For each held-out query, the position of its positive in ``corpus``.
    random_state : int
    """

    train: Pairs
    test: Pairs
    corpus: tuple[str, ...] = field(repr=False)
    expected: tuple[int, ...] = field(repr=False)
    random_state: int = 0

    def describe(self) -> str:
        return (
            f"{len(self.train):,} training pairs, {len(self.test):,} held-out queries "
            f"ranked against {len(self.corpus):,} documents"
        )


def check_pairs(pairs: object) -> Pairs:
    """``pairs`` as checked :class:`Pairs`.

    Parameters
    ----------
    pairs : sequence of (query, positive) or (query, positive, negative) tuples, a DataFrame, or Pairs
        A DataFrame needs the columns ``query`` and ``positive`` (``anchor`` is read as
        ``query``), and may have ``negative``.

    Raises
    ------
    TypeError, ValueError
        One sentence naming the pair (1-based row) for a text that is missing, empty or not a
        str; a query given with two different positives; fewer than :data:`MIN_PAIRS` distinct
        pairs. Exact repeats are dropped and counted in ``dropped``.
    """
    if isinstance(pairs, Pairs):  # already checked
        return pairs
    rows = _rows(pairs)
    queries, positives, negatives = [], [], []
    seen: set[tuple] = set()
    first_positive: dict[str, tuple[int, str]] = {}
    triplets = bool(rows) and len(rows[0]) == 3
    dropped = 0
    for number, row in enumerate(rows, start=1):
        if len(row) != (3 if triplets else 2):
            raise ValueError(f"pair {number} has {len(row)} texts; every pair needs the same 2 (or 3) texts.")
        for what, text in zip(("query", "positive", "negative"), row, strict=False):
            if not isinstance(text, str):
                shown = (
                    "missing" if text is None or (isinstance(text, float) and np.isnan(text)) else type(text).__name__
                )
                raise TypeError(f"pair {number}'s {what} must be text, got {shown}.")
            if not text.strip():
                raise ValueError(f"pair {number}'s {what} is empty; every pair needs a non-empty {what}.")
        row = tuple(text.strip() for text in row)
        if row in seen:
            dropped += 1
            continue
        seen.add(row)
        earlier = first_positive.setdefault(row[0], (number, row[1]))
        if earlier[1] != row[1]:
            raise ValueError(
                f"the query {_short(row[0])!r} has two different positives (pairs {earlier[0]} and {number}); "
                "give each query one positive, or merge those documents."
            )
        queries.append(row[0])
        positives.append(row[1])
        if triplets:
            negatives.append(row[2])
    if len(queries) < MIN_PAIRS:
        raise ValueError(
            f"pairs must hold at least {MIN_PAIRS} distinct pairs, to train or judge on some and hold others out; "
            f"got {len(queries)}."
        )
    return Pairs(tuple(queries), tuple(positives), tuple(negatives) if triplets else None, dropped)


def _rows(pairs: object) -> list[tuple]:
    if isinstance(pairs, (str, bytes)):
        raise TypeError("pairs must be a list of (query, positive) tuples or a table, got a single string.")
    columns = getattr(pairs, "columns", None)
    if columns is not None:  # a DataFrame
        frame = pairs.rename(columns={c: _ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in columns})
        missing = [c for c in PAIR_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(
                f"pairs need the columns query and positive (and optionally negative); missing {', '.join(missing)}; "
                f"the table has: {', '.join(map(str, columns))}."
            )
        names = [*PAIR_COLUMNS, "negative"] if "negative" in frame.columns else list(PAIR_COLUMNS)
        frame = frame[names].astype(object).where(frame[names].notna(), None)
        return [tuple(row) for row in frame.itertuples(index=False, name=None)]
    try:
        rows = [tuple(row) if isinstance(row, (list, tuple)) else row for row in pairs]  # type: ignore[union-attr]
    except TypeError:
        raise TypeError(
            f"pairs must be a list of (query, positive) tuples or a table, got {type(pairs).__name__}."
        ) from None
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, tuple):
            raise TypeError(f"pair {number} must be a (query, positive) tuple, got {type(row).__name__}.")
    return rows


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def split_pairs(
    pairs: Pairs,
    *,
    held_out: float = 0.2,
    random_state: int = 0,
    extra_corpus: Iterable[str] = (),
) -> Split:
    """Split ``pairs`` by positive: a ``held_out`` share of the distinct positives, with every
    pair that has one of them, is held out; the rest trains. Reproducible from ``random_state``.

    Raises
    ------
    TypeError, ValueError
        ``held_out`` not in (0, 0.9]; ``random_state`` not a non-negative int; too few pairs for
        both parts (at least :data:`MIN_HELD_OUT` held-out queries and :data:`MIN_TRAIN` training pairs).
    """
    random_state = check_seed(random_state)
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)):
        raise TypeError(f"held_out must be a fraction between 0 and 0.9, got {type(held_out).__name__}.")
    if not 0 < held_out <= 0.9:
        raise ValueError(f"held_out must be a fraction between 0 and 0.9, got {held_out}.")
    distinct = list(dict.fromkeys(pairs.positives))
    order = np.random.default_rng(random_state).permutation(len(distinct))
    n_test = round(held_out * len(distinct))
    test_docs = {distinct[i] for i in order[:n_test]}
    test_rows = [i for i, p in enumerate(pairs.positives) if p in test_docs]
    train_rows = [i for i, p in enumerate(pairs.positives) if p not in test_docs]
    if len(test_rows) < MIN_HELD_OUT or len(train_rows) < MIN_TRAIN:
        raise ValueError(
            f"{len(pairs)} pairs with {len(distinct)} distinct positives are too few for a held-out split of "
            f"{held_out:.0%}: it leaves {len(train_rows)} to train and {len(test_rows)} to judge "
            f"(at least {MIN_TRAIN} and {MIN_HELD_OUT} are needed); add pairs or change the held-out share."
        )
    extra = [t.strip() for t in extra_corpus if isinstance(t, str) and t.strip()]
    corpus = tuple(dict.fromkeys([*distinct, *extra]))
    position = {text: i for i, text in enumerate(corpus)}
    test = pairs.subset(test_rows)
    return Split(
        train=pairs.subset(train_rows),
        test=test,
        corpus=corpus,
        expected=tuple(position[p] for p in test.positives),
        random_state=random_state,
    )


def check_seed(value: object) -> int:
    """``value`` as a seed: a non-negative int (TypeError for another type, ValueError below 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"random_state must be a non-negative int, got {type(value).__name__}.")
    if value < 0:
        raise ValueError(f"random_state must be a non-negative int, got {value}.")
    return int(value)


def read_pairs(data: bytes, filename: str) -> Pairs:
    """Pairs from an uploaded table (CSV, TSV, JSON, JSONL, Parquet) with columns query, positive
    (and optionally negative). Raises ValueError in one sentence naming the file."""
    frame = read_table(data, filename)
    try:
        return check_pairs(frame)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{filename}: {error}") from None


def pairs_from_text(text: str) -> Pairs:
    """Pairs pasted one per line, query and positive separated by a tab or by `` | ``.

    Raises ValueError naming the line that has no separator (counted as the user sees them:
    blank lines included).
    """
    rows = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" in line:
            query, _, positive = line.partition("\t")
        elif " | " in line:
            query, _, positive = line.partition(" | ")
        else:
            raise ValueError(
                f"line {number} has no separator: write the query, then a tab or ' | ', then its positive."
            )
        rows.append((query, positive))
    return check_pairs(rows)


def example_pairs(n: int | None = None) -> list[tuple[str, str]]:
    """The first ``n`` (default all 300) example pairs: a Debian package's summary and its description."""
    rows = [json.loads(line) for line in EXAMPLE_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["query"], row["positive"]) for row in rows[:n]]


def retrieval_pairs(
    queries: Sequence[str], expected: Sequence, ids: Sequence, texts: Sequence[str]
) -> list[tuple[str, str]]:
    """Pairs from a retrieval test set: each query with the text of its expected document (the
    first listed when several are right). ``ids``/``texts`` describe the corpus; ``expected`` holds
    one id, or a tuple of ids, per query (as :class:`embedlab.retrieval.traces.Prepared` has them)."""
    text_of = dict(zip(ids, texts, strict=True))
    pairs = []
    for query, wanted in zip(queries, expected, strict=True):
        first = wanted[0] if isinstance(wanted, (tuple, list)) else wanted
        if first in text_of:
            pairs.append((query, text_of[first]))
    return pairs
