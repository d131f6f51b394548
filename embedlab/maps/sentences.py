"""The sentences a map is drawn from: pasted lines or a table's column, cleaned for mapping.

Blank and repeated sentences are dropped (with a note saying so), missing labels are filled,
and the size limit is enforced; the result is a :class:`Sentences`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..tables import parse_lines
from ..validation import check_positive_int

__all__ = [
    "MAX_SENTENCES",
    "UNLABELLED",
    "Note",
    "Sentences",
    "from_lines",
    "from_table",
    "prepare",
    "text_like_columns",
]

#: Sentences the page maps at most (t-SNE on 20,000 points takes about 80 s on 2 cores).
MAX_SENTENCES = 20_000
#: The label given to lines without one when other lines have labels.
UNLABELLED = "(no label)"


@dataclass(frozen=True)
class Note:
    """A one-sentence message for the user; ``level`` is "info" or "warning"."""

    level: Literal["info", "warning"]
    text: str


@dataclass(frozen=True)
class Sentences:
    """What will be mapped: distinct texts, their labels (None when unlabelled), and notes about the input."""

    texts: list[str]
    labels: list[str] | None
    notes: list[Note] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


def prepare(
    texts: list[str],
    labels: list[str] | None = None,
    *,
    limit: int = MAX_SENTENCES,
    skipped_blank: int = 0,
    source: str = "input",
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
    labels = list(labels) if labels is not None else [""] * len(texts)
    notes: list[Note] = []
    blank = skipped_blank
    seen: dict[str, int] = {}
    kept_texts: list[str] = []
    kept_labels: list[str] = []
    relabelled = 0
    for text, label in zip(texts, labels, strict=True):
        text = text.strip()
        if not text:
            blank += 1
            continue
        if text in seen:
            if label.strip() and label.strip() != kept_labels[seen[text]]:
                relabelled += 1
            continue
        seen[text] = len(kept_texts)
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
    missing = sum(1 for label in kept_labels if not label)
    if missing == len(kept_labels):
        return Sentences(kept_texts, None, notes)
    if missing:
        notes.append(
            Note(
                "warning",
                f"{missing} of {len(kept_labels)} sentences have no label; they are grouped as “{UNLABELLED}”.",
            )
        )
        kept_labels = [label or UNLABELLED for label in kept_labels]
    return Sentences(kept_texts, kept_labels, notes)


def from_lines(text: str, *, limit: int = MAX_SENTENCES) -> Sentences:
    """Sentences from pasted text: one per line, with an optional ``Label |`` before each."""
    lines = parse_lines(text)
    if not lines.texts:
        raise ValueError("There is no sentence in the text box: write one sentence per line.")
    return prepare(lines.texts, lines.labels, limit=limit, skipped_blank=lines.skipped_blank, source="the text box")


def from_table(frame, text_column: str, label_column: str | None = None, *, limit: int = MAX_SENTENCES) -> Sentences:
    """Sentences from a table's text column, labels from another column (empty cells: no label)."""
    if text_column not in frame.columns:
        raise ValueError(f"text_column must be one of the table's columns, got {text_column!r}.")
    if label_column is not None and label_column not in frame.columns:
        raise ValueError(f"label_column must be one of the table's columns, got {label_column!r}.")
    texts = [_cell(v) for v in frame[text_column]]
    labels = [_cell(v) for v in frame[label_column]] if label_column else None
    return prepare(texts, labels, limit=limit, source=f"the column {text_column!r}")


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
