"""The sentences a map is drawn from: pasted lines or a table's column, cleaned for mapping.

Blank and repeated sentences are dropped (with a note saying so), missing labels are filled,
and the size limit is enforced; the result is a :class:`Sentences`. A table's other columns come
along as metadata (:class:`MetadataColumn`: numbers, categories or text, one value per sentence),
to filter the map by and show on hover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..tables import parse_lines
from ..validation import check_positive_int

__all__ = [
    "MAX_CATEGORIES",
    "MAX_METADATA",
    "MAX_SENTENCES",
    "RESERVED_COLUMNS",
    "UNLABELLED",
    "MetadataColumn",
    "Note",
    "Sentences",
    "from_lines",
    "from_table",
    "metadata_column",
    "prepare",
    "text_like_columns",
]

#: Sentences the page maps at most (t-SNE on 20,000 points takes about 80 s on 2 cores).
MAX_SENTENCES = 20_000
#: The label given to lines without one when other lines have labels.
UNLABELLED = "(no label)"
#: A table's extra columns kept as metadata at most (the first ones, in the table's order).
MAX_METADATA = 30
#: A text column with at most this many different values is a category (filtered by picking values).
MAX_CATEGORIES = 50
#: Column names a map's points table uses itself; a metadata column so named gets " (column)" added.
RESERVED_COLUMNS = ("text", "label", "x", "y", "z", "cluster")


@dataclass(frozen=True)
class Note:
    """A one-sentence message for the user; ``level`` is "info" or "warning"."""

    level: Literal["info", "warning"]
    text: str


@dataclass(frozen=True)
class MetadataColumn:
    """One extra column of an uploaded table, one value per sentence.

    ``kind`` says how it is filtered: "number" (a range; ``values`` are floats, NaN where empty),
    "category" (picking values; at most :data:`MAX_CATEGORIES` different ones) or "text" (a
    substring); the values of the last two are str, "" where empty.
    """

    name: str
    kind: Literal["number", "category", "text"]
    values: tuple

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Sentences:
    """What will be mapped: distinct texts, their labels (None when unlabelled), notes about the input,
    and a table's other columns (``metadata``, each with one value per kept text)."""

    texts: list[str]
    labels: list[str] | None
    notes: list[Note] = field(default_factory=list)
    metadata: tuple[MetadataColumn, ...] = ()

    def __len__(self) -> int:
        return len(self.texts)


def metadata_column(name: str, cells: Sequence) -> MetadataColumn:
    """A :class:`MetadataColumn` from raw cells, its kind read from them.

    Numbers (or text cells that all read as numbers, as a CSV's do) make a "number" column; text
    whose values repeat (at most :data:`MAX_CATEGORIES` different ones, and at most half as many
    as the filled cells) a "category"; other text "text". Empty cells (None, NaN, "") are left out
    when deciding.

    >>> metadata_column("year", ["2021", "", "2023"]).values
    (2021.0, nan, 2023.0)
    >>> metadata_column("team", ["red", "blue", "red"]).kind
    'category'
    """
    import pandas as pd

    raw = pd.Series(list(cells), dtype=object)
    empty = raw.isna() | raw.map(lambda v: isinstance(v, str) and not v.strip())
    present = raw[~empty]
    if len(present) and not present.map(lambda v: isinstance(v, bool)).any():
        numbers = pd.to_numeric(present.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
        if numbers.notna().all():
            values = pd.Series(float("nan"), index=raw.index)
            values[~empty] = numbers.astype(float)
            return MetadataColumn(name, "number", tuple(float(v) for v in values))
    texts = tuple("" if gone else _cell(v).strip() for v, gone in zip(raw, empty, strict=True))
    distinct = len(set(texts) - {""})
    # a category's values repeat; a column of (nearly) all different values is free text or an id
    kind = "category" if distinct <= min(MAX_CATEGORIES, max(2, len(present) // 2)) else "text"
    return MetadataColumn(name, kind, texts)


def prepare(
    texts: list[str],
    labels: list[str] | None = None,
    *,
    limit: int = MAX_SENTENCES,
    skipped_blank: int = 0,
    source: str = "input",
    metadata: Sequence[tuple[str, Sequence]] = (),
) -> Sentences:
    """Drop blank and repeated sentences, fill missing labels, and enforce the size limit.

    Parameters
    ----------
    texts : list of str
        Sentences in input order (may contain blanks and repeats).
    labels : list of str, optional
        One per text; "" where a text has none.
    limit : int, default MAX_SENTENCES
        More distinct sentences than this raise ValueError.
    skipped_blank : int, default 0
        Blank lines already dropped by the caller, reported in a note.
    source : str, default "input"
        How to name the input in messages ("the text box", a file name).
    metadata : sequence of (name, cells), optional
        Other columns, each with one cell per text; kept for the kept texts (the first
        occurrence's cells for a repeat), their kind read by :func:`metadata_column`.

    Returns
    -------
    Sentences
        A repeated sentence is kept once, with the label of its first occurrence.

    Raises
    ------
    ValueError
        No sentence at all, or more than ``limit`` distinct ones; the message is one sentence.
    """
    limit = check_positive_int(limit, "limit")
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"labels must have one entry per text ({len(texts)}), got {len(labels)}.")
    for name, cells in metadata:
        if len(cells) != len(texts):
            raise ValueError(f"metadata column {name!r} must have one cell per text ({len(texts)}), got {len(cells)}.")
    labels = list(labels) if labels is not None else [""] * len(texts)
    notes: list[Note] = []
    kept_rows: list[int] = []
    blank = skipped_blank
    seen: dict[str, int] = {}
    kept_texts: list[str] = []
    kept_labels: list[str] = []
    relabelled = 0
    for row, (text, label) in enumerate(zip(texts, labels, strict=True)):
        text = text.strip()
        if not text:
            blank += 1
            continue
        if text in seen:
            if label.strip() and label.strip() != kept_labels[seen[text]]:
                relabelled += 1
            continue
        seen[text] = len(kept_texts)
        kept_rows.append(row)
        kept_texts.append(text)
        kept_labels.append(label.strip())
    if not kept_texts:
        raise ValueError(f"There is no sentence in {source}: write one sentence per line.")
    if len(kept_texts) > limit:
        raise ValueError(
            f"{len(kept_texts):,} sentences is more than this page maps ({limit:,}); remove some and draw again."
        )
    if blank:
        notes.append(Note("info", f"{_count(blank, 'blank line')} skipped."))
    repeats = len(texts) - blank + skipped_blank - len(kept_texts)
    if repeats:
        text = f"{_count(repeats, 'repeated sentence')} drawn once (the first occurrence's label is kept)."
        if relabelled:
            text = text[:-1] + f"; {relabelled} of them had a different label."
        notes.append(Note("info", text))
    columns = tuple(metadata_column(name, [cells[i] for i in kept_rows]) for name, cells in metadata)
    missing = sum(1 for label in kept_labels if not label)
    if missing == len(kept_labels):
        return Sentences(kept_texts, None, notes, columns)
    if missing:
        notes.append(
            Note(
                "warning",
                f"{missing} of {len(kept_labels)} sentences have no label; they are grouped as “{UNLABELLED}”.",
            )
        )
        kept_labels = [label or UNLABELLED for label in kept_labels]
    return Sentences(kept_texts, kept_labels, notes, columns)


def from_lines(text: str, *, limit: int = MAX_SENTENCES) -> Sentences:
    """Sentences from pasted text: one per line, with an optional ``Label |`` before each."""
    lines = parse_lines(text)
    if not lines.texts:
        raise ValueError("There is no sentence in the text box: write one sentence per line.")
    return prepare(lines.texts, lines.labels, limit=limit, skipped_blank=lines.skipped_blank, source="the text box")


def from_table(
    frame,
    text_column: str,
    label_column: str | None = None,
    *,
    limit: int = MAX_SENTENCES,
    metadata: bool | Sequence[str] = True,
) -> Sentences:
    """Sentences from a table's text column, labels from another column (empty cells: no label).

    Parameters
    ----------
    frame : DataFrame
    text_column, label_column : str
    limit : int, default MAX_SENTENCES
    metadata : bool or sequence of str, default True
        The other columns to keep as :attr:`Sentences.metadata`: True for all of them (the first
        :data:`MAX_METADATA`, with a note when there are more), False for none, or their names.
        A column named like one of the map's own (:data:`RESERVED_COLUMNS`) gets " (column)" added.
    """
    columns = [str(c) for c in frame.columns]
    if text_column not in columns:
        raise ValueError(f"text_column must be one of the table's columns, got {text_column!r}.")
    if label_column is not None and label_column not in columns:
        raise ValueError(f"label_column must be one of the table's columns, got {label_column!r}.")
    if isinstance(metadata, bool):
        extra = [c for c in columns if c not in (text_column, label_column)] if metadata else []
    else:
        extra = [str(c) for c in metadata]
        unknown = [c for c in extra if c not in columns or c in (text_column, label_column)]
        if unknown:
            raise ValueError(f"metadata must name other columns of the table, got {unknown[0]!r}.")
    note = []
    if len(extra) > MAX_METADATA:
        note = [Note("info", f"The first {MAX_METADATA} of the table's {len(extra)} other columns are kept.")]
        extra = extra[:MAX_METADATA]
    texts = [_cell(v) for v in frame.iloc[:, columns.index(text_column)]]
    labels = [_cell(v) for v in frame.iloc[:, columns.index(label_column)]] if label_column else None
    taken = {text_column, label_column, *RESERVED_COLUMNS}
    cells = []
    for name in extra:
        shown = name if name not in RESERVED_COLUMNS else f"{name} (column)"
        while shown in taken:
            shown += "'"
        taken.add(shown)
        cells.append((shown, list(frame.iloc[:, columns.index(name)])))
    found = prepare(texts, labels, limit=limit, source=f"the column {text_column!r}", metadata=cells)
    return Sentences(found.texts, found.labels, found.notes + note, found.metadata)


def text_like_columns(frame) -> list[str]:
    """Columns that hold sentences: mostly strings (see ``tables.text_columns``) with letters in most cells.

    A CSV column of numbers reads as strings; it is not text to embed.
    """
    from ..tables import text_columns

    found = []
    for column in text_columns(frame):
        values = frame[column].dropna().astype(str)
        if len(values) and values.str.contains(r"[^\W\d_]", regex=True).mean() >= 0.5:
            found.append(column)
    return found


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN: no text
        return ""
    return str(value)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
