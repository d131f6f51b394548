"""read_source(): a file or DataFrame → the rows of a collection (row, id, text, metadata).

Reads CSV, TSV, JSON (a list of objects), JSONL and Parquet of any length, and chat logs: JSONL
whose lines are ``{"role", "content"}`` messages, or one conversation per line (a list of such
messages, or an object with a ``"messages"`` list). A chat log's text is its ``content``; each
message is one row, with ``conversation`` (the line it came from) and ``turn`` as metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .results import CollectionError

__all__ = ["SOURCE_TYPES", "read_source", "text_hash"]

#: File types read, by extension.
SOURCE_TYPES: tuple[str, ...] = ("csv", "tsv", "json", "jsonl", "parquet")
#: Columns a collection keeps for itself; a source column of the same name is refused.
RESERVED = ("row", "vector", "text_hash", "rank", "score", "fused_score", "collection")


def text_hash(text: str) -> str:
    """sha256 of the text's UTF-8 bytes, as hex: how a build knows a text is already encoded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_source(source, *, text_column: str = "text", id_column: str | None = None):
    """The rows of a collection from a file or a DataFrame.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        A CSV, TSV, JSON, JSONL (tables or chat logs) or Parquet file, or a DataFrame.
    text_column : str, default "text"
        The column holding the texts ("content" is used for a chat log when "text" is absent).
    id_column : str, optional
        The column holding each row's id (unique); without it the id is the row number.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (int64, the 0-based row in the source), ``id``, ``text``, then the other
        columns as strings (missing values as ""). Rows whose text is empty or blank are left out
        (their count is in :func:`read_rows`'s second value).

    Raises
    ------
    CollectionError
        An unreadable or empty file, a missing column, duplicate ids, no text at all.
    """
    return read_rows(source, text_column=text_column, id_column=id_column)[0]


def read_rows(source, *, text_column: str = "text", id_column: str | None = None):
    """:func:`read_source`, the number of rows left out for an empty text, and the text column used."""
    import pandas as pd

    if not isinstance(text_column, str) or not text_column:
        raise TypeError(f"text_column must be a non-empty str, got {text_column!r}.")
    if id_column is not None and (not isinstance(id_column, str) or not id_column):
        raise TypeError(f"id_column must be a non-empty str or None, got {id_column!r}.")
    if isinstance(source, pd.DataFrame):
        frame, where = source.reset_index(drop=True), "the DataFrame"
    elif isinstance(source, (str, Path)):
        frame, where = _read_file(Path(source)), Path(source).name
    else:
        raise TypeError(f"source must be a path or a pandas DataFrame, got {type(source).__name__}.")
    frame.columns = [str(c) for c in frame.columns]
    if text_column == "text" and "text" not in frame.columns and {"role", "content"} <= set(frame.columns):
        text_column = "content"  # a chat log
    if frame.empty:
        raise CollectionError(f"{where} holds no rows.")
    for column, option in ((text_column, "text_column"), (id_column, "id_column")):
        if column is not None and column not in frame.columns:
            raise CollectionError(
                f"{option} {column!r} is not in {where}; its columns are: {', '.join(frame.columns)}."
            )
    for column in frame.columns:
        if column in RESERVED or (column in ("id", "text") and column not in (text_column, id_column)):
            hint = " (pass id_column='id' to use it as the ids)" if column == "id" else ""
            raise CollectionError(
                f"{where} has a column named {column!r}, which a collection keeps for itself; rename it{hint}."
            )
    texts = frame[text_column].map(_as_text)
    keep = texts.str.strip() != ""
    empty = int((~keep).sum())
    if not keep.any():
        rows = "its only row is" if len(frame) == 1 else f"all {len(frame):,} rows are"
        raise CollectionError(f"{where} has no text in column {text_column!r}: {rows} empty.")
    rows = pd.DataFrame({"row": pd.Series(range(len(frame)), dtype="int64")})
    rows["id"] = frame[id_column].map(_as_text) if id_column else rows["row"].astype(str)
    rows["text"] = texts
    for column in frame.columns:
        if column not in (text_column, id_column):
            rows[column] = frame[column].map(_as_text)
    rows = rows[keep.to_numpy()].reset_index(drop=True)
    if id_column:
        repeated = rows["id"][rows["id"].duplicated()]
        if len(repeated):
            raise CollectionError(
                f"id_column {id_column!r} must hold a different id on every row; {repeated.iloc[0]!r} appears "
                f"{int((rows['id'] == repeated.iloc[0]).sum())} times."
            )
        if (rows["id"].str.strip() == "").any():
            raise CollectionError(f"id_column {id_column!r} has rows without an id; give every row one.")
    return rows, empty, text_column


def _as_text(value) -> str:
    """A cell as a string: missing → "", lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:  # NaN
        return ""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "tolist"):  # numpy arrays and scalars from Parquet
        value = value.tolist()
        return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, list) else str(value)
    return str(value)


def _read_file(path: Path):
    import pandas as pd

    kind = path.suffix.lower().lstrip(".")
    if kind not in SOURCE_TYPES:
        raise CollectionError(
            f"{path.name} is not a file type a collection is built from; use {', '.join(SOURCE_TYPES)}."
        )
    if not path.is_file():
        raise CollectionError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise CollectionError(f"{path.name} is empty.")
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        if kind in ("csv", "tsv"):
            return pd.read_csv(
                path, sep="," if kind == "csv" else "\t", dtype=str, keep_default_na=False, encoding="utf-8-sig"
            )
        if kind == "jsonl":
            return _read_jsonl(path)
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except CollectionError:
        raise
    except UnicodeDecodeError as error:
        raise CollectionError(f"{path.name} is not UTF-8 text (byte {error.start} cannot be read).") from None
    except json.JSONDecodeError as error:
        raise CollectionError(f"{path.name} is not valid JSON ({error.msg} at line {error.lineno}).") from None
    except pd.errors.EmptyDataError:
        raise CollectionError(f"{path.name} is empty.") from None
    except Exception as error:  # pandas and pyarrow raise many types for malformed files
        first = str(error).splitlines()[0][:150] if str(error) else type(error).__name__
        raise CollectionError(f"{path.name} could not be read as {kind.upper()}: {first}.") from None
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), list):
        value = next(iter(value.values()))
    if not isinstance(value, list):
        raise CollectionError(f"{path.name} must hold a JSON list of objects, got a JSON {type(value).__name__}.")
    return _records(value, path.name)


def _read_jsonl(path: Path):
    records = []
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise CollectionError(f"line {number} of {path.name} is not valid JSON ({error.msg}).") from None
    if not records:
        raise CollectionError(f"{path.name} holds no rows.")
    return _records(records, path.name)


def _records(records: list, where: str):
    """A table from JSON records: objects (one row each) or conversations (one row per message)."""
    import pandas as pd

    conversations = [_messages(r) for r in records]
    if all(c is not None for c in conversations):
        rows = []
        for number, messages in enumerate(conversations):
            for turn, message in enumerate(messages):
                rows.append({"conversation": str(number), "turn": str(turn), **message})
        return pd.DataFrame(rows)
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise CollectionError(
                f"record {number} of {where} must be a JSON object or a conversation (a list of "
                f'{{"role", "content"}} messages), got a JSON {type(record).__name__}.'
            )
    return pd.DataFrame(records)


def _messages(record) -> list[dict] | None:
    """The messages of a conversation record (a list of them, or ``{"messages": [...]}``), else None."""
    if isinstance(record, dict) and isinstance(record.get("messages"), list):
        extra = {k: v for k, v in record.items() if k != "messages"}
        messages = record["messages"]
    elif isinstance(record, list):
        extra, messages = {}, record
    else:
        return None
    if not all(isinstance(m, dict) and "content" in m for m in messages):
        return None
    return [{**extra, **m} for m in messages]
