"""Reading what users paste and upload: labelled lines and table files.

Every problem becomes a ``ValueError`` whose message is one sentence a user understands.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import PurePath

#: File types :func:`read_table` understands, by extension.
TABLE_TYPES: tuple[str, ...] = ("csv", "tsv", "json", "jsonl", "parquet")
#: Rows read from one upload at most; more is refused before parsing finishes.
MAX_ROWS = 200_000
LABEL_SEPARATOR = "|"


@dataclass(frozen=True)
class Lines:
    """Sentences parsed from pasted text, with optional labels.

    ``labels`` holds one entry per sentence ("" where a line had none); ``skipped_blank``
    counts blank lines dropped; ``partly_labelled`` is True when some lines had a label and
    others did not.
    """

    texts: list[str]
    labels: list[str]
    skipped_blank: int

    @property
    def has_labels(self) -> bool:
        return any(self.labels)

    @property
    def partly_labelled(self) -> bool:
        return self.has_labels and not all(self.labels)


def parse_lines(text: str, *, separator: str = LABEL_SEPARATOR) -> Lines:
    """Parse one sentence per line, with an optional ``label |`` before it.

    ``"Animals | The cat sits on the mat"`` gives label "Animals"; a line without the
    separator is a plain sentence. Blank lines are skipped. Only the first separator splits,
    so sentences may contain it.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    texts, labels, blank = [], [], 0
    for line in text.splitlines():
        if not line.strip():
            blank += 1
            continue
        label, found, sentence = line.partition(separator)
        if found and sentence.strip() and label.strip() and len(label.strip()) <= 60:
            texts.append(sentence.strip())
            labels.append(label.strip())
        else:
            texts.append(line.strip())
            labels.append("")
    return Lines(texts, labels, blank)


def read_table(data: bytes, filename: str):
    """Read an uploaded CSV, TSV, JSON (a list of objects), JSONL or Parquet file.

    Returns a pandas DataFrame. Raises ValueError with a one-sentence message for a type it
    does not read, text that is not UTF-8, malformed content, no rows, or too many rows.
    """
    import pandas as pd

    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}.")
    kind = PurePath(filename or "").suffix.lower().lstrip(".")
    if kind not in TABLE_TYPES:
        raise ValueError(f"{filename!r} is not a file type embedlab reads; use one of: {', '.join(TABLE_TYPES)}.")
    try:
        if kind == "parquet":
            try:
                frame = pd.read_parquet(io.BytesIO(data))
            except Exception as error:  # pyarrow raises ValueError subclasses with long texts
                raise ValueError(
                    f"{filename} could not be read as PARQUET: {str(error).splitlines()[0][:150]}"
                ) from None
        else:
            try:
                text = bytes(data).decode("utf-8-sig")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{filename} is not UTF-8 text (byte {error.start} cannot be read); save it as UTF-8 and upload it again."
                ) from None
            frame = _read_text_table(text, kind, filename)
    except ValueError:
        raise
    except Exception as error:  # pandas and pyarrow raise many types for malformed files
        raise ValueError(
            f"{filename} could not be read as {kind.upper()}: {str(error).splitlines()[0][:150]}."
        ) from None
    frame = frame.dropna(how="all")
    if frame.empty or not len(frame.columns):
        raise ValueError(f"{filename} holds no rows.")
    if len(frame) > MAX_ROWS:
        raise ValueError(f"{filename} has {len(frame):,} rows; embedlab reads at most {MAX_ROWS:,} from one file.")
    frame.columns = [str(c) for c in frame.columns]
    return frame.reset_index(drop=True)


def _read_text_table(text: str, kind: str, filename: str):
    import pandas as pd

    if kind in ("csv", "tsv"):
        if not text.strip():
            raise ValueError(f"{filename} is empty.")
        return pd.read_csv(
            io.StringIO(text),
            sep="," if kind == "csv" else "\t",
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            nrows=MAX_ROWS + 1,
        )
    if kind == "jsonl":
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                rows.append(_json_row(line, f"line {number} of {filename}"))
                if len(rows) > MAX_ROWS:
                    break
        return pd.DataFrame(rows)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{filename} is not valid JSON ({error.msg} at line {error.lineno}).") from None
    if isinstance(value, dict):
        inner = next(iter(value.values()), None) if len(value) == 1 else None
        if not (isinstance(inner, list) and inner and all(isinstance(row, dict) for row in inner)):
            raise ValueError(
                f"{filename} holds a JSON object; it must hold a JSON list of objects, one per row: "
                '[{"text": "…"}, {"text": "…"}].'
            )
        value = inner  # {"rows": [{...}, ...]}: the rows under one key
    if not isinstance(value, list):
        raise ValueError(f"{filename} must hold a JSON list of objects, got a JSON {json_type(value)}.")
    for number, row in enumerate(value[: MAX_ROWS + 1], start=1):
        if not isinstance(row, dict):
            raise ValueError(
                f"{filename} must hold a JSON list of objects (one per row); some items are not objects: "
                f"item {number} is a JSON {json_type(row)}."
            )
    return pd.DataFrame(value[: MAX_ROWS + 1])


def json_type(value) -> str:
    """JSON's name for a parsed value's type: object, array, string, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


def _json_row(line: str, where: str) -> dict:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where} is not valid JSON ({error.msg}).") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a JSON object, got a JSON {json_type(value)}.")
    return value


def text_columns(frame) -> list[str]:
    """Columns holding mostly text, best candidates first (longest average text first)."""
    scores = []
    for column in frame.columns:
        values = frame[column].dropna()
        strings = values[values.map(lambda v: isinstance(v, str))]
        if len(values) and len(strings) >= 0.8 * len(values):
            scores.append((-strings.str.len().mean(), column))
    return [column for _, column in sorted(scores)]


def text_lines(text: str | None) -> list[str]:
    """One text per non-blank line of ``text``, stripped (a pasted corpus)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def is_table_file(filename: str) -> bool:
    """Whether ``filename``'s extension is one :func:`read_table` reads (else: plain text, one text a line)."""
    return PurePath(filename).suffix.lower().lstrip(".") in TABLE_TYPES


def column_texts(frame, column: str | None = None, *, source: str = "the table") -> list[str]:
    """The non-blank texts of one column of ``frame``: ``column``, or the best text column.

    Raises
    ------
    ValueError
        ``column`` is not in the table, or (with ``column=None``) no column holds text; the
        message names the columns there are.
    """
    columns = ", ".join(map(str, frame.columns))
    if column is None:
        candidates = text_columns(frame)
        if not candidates:
            raise ValueError(f"{source} has no column of text; its columns are: {columns}.")
        column = candidates[0]
    elif column not in frame.columns:
        raise ValueError(f"column {column!r} is not in {source}; its columns are: {columns}.")
    return [str(v) for v in frame[column].dropna() if str(v).strip()]


def read_corpus(data: bytes, filename: str, *, column: str | None = None) -> list[str]:
    """A corpus of texts from a file's bytes: a table's text column, or one text per non-blank line.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Its name; the extension says whether it is a table (:data:`TABLE_TYPES`) or plain text.
    column : str, optional
        The table column holding the texts (default: the best text column). Only for tables.

    Raises
    ------
    ValueError
        An unreadable file, a missing column, a ``column`` for a plain-text file, or no texts,
        in one sentence that names the file.
    """
    name = PurePath(filename).name
    if is_table_file(name):
        texts = column_texts(read_table(data, name), column, source=name)
    else:
        if column is not None:
            raise ValueError(f"a column applies to table files ({', '.join(TABLE_TYPES)}) only, not to {name}.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError(f"{name} is not UTF-8 text (byte {error.start}); save it as UTF-8.") from None
        texts = text_lines(text)
    if not texts:
        raise ValueError(f"{name} holds no texts.")
    return texts
