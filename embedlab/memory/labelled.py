"""Labelled queries for memory evaluation — read from tables, files and pasted lines — and the examples.

A labelled query is a row ``query, collection, id``: what is asked, the collection its memory
lives in, and the memory's id there. The examples are the lesson's traces (``embedlab.seed``) and
300 Debian package descriptions (``embedlab/data``), each with its labelled queries.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from .. import seed
from ..tables import read_table
from .results import CollectionError

__all__ = [
    "EXAMPLES",
    "LABELLED_COLUMNS",
    "example_labelled",
    "example_memories",
    "labelled_from_text",
    "labelled_queries",
    "read_labelled",
]

#: The columns of a labelled-queries table: the query, the collection its memory is in, its id there.
LABELLED_COLUMNS: tuple[str, ...] = ("query", "collection", "id")
#: Other spellings accepted for the ``id`` column.
ID_ALIASES: tuple[str, ...] = ("expected_id", "expected id", "expected")
#: The example memories: name → what they are.
EXAMPLES: dict[str, str] = {
    "lesson-traces": "The lesson's 3 reasoning traces (embedlab.seed), with its 3 test queries",
    "debian-packages": "300 Debian package descriptions, each found by its one-line summary",
}
DEBIAN_FILE = Path(__file__).resolve().parents[1] / "data" / "debian_pairs.jsonl"


def labelled_queries(labelled) -> pd.DataFrame:
    """Labelled queries checked: a DataFrame with columns query, collection, id (str), blank rows dropped.

    Parameters
    ----------
    labelled : pandas.DataFrame, str or path-like
        A table with the columns ``query``, ``collection`` and ``id`` (``expected_id`` is read as
        id), or a CSV, TSV, JSON, JSONL or Parquet file holding one.

    Raises
    ------
    CollectionError
        One sentence: a missing column, an empty query, collection or id, no rows.
    """
    if isinstance(labelled, (str, PathLike)):
        path = Path(labelled)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CollectionError(f"The labelled queries file {path} cannot be read: {error.strerror}.") from None
        labelled = _read(data, path.name)
    if not isinstance(labelled, pd.DataFrame):
        raise TypeError(f"labelled must be a DataFrame or a file path, got {type(labelled).__name__}.")
    frame = labelled.rename(columns={c: str(c).strip().lower() for c in labelled.columns})
    if "id" not in frame.columns:
        alias = next((a for a in ID_ALIASES if a in frame.columns), None)
        if alias is not None:
            frame = frame.rename(columns={alias: "id"})
    missing = [c for c in LABELLED_COLUMNS if c not in frame.columns]
    if missing:
        there = ", ".join(map(str, labelled.columns)) or "none"
        raise CollectionError(
            f"Labelled queries need the columns query, collection and id; missing {', '.join(missing)} "
            f"(the columns there: {there})."
        )
    frame = frame[list(LABELLED_COLUMNS)].map(lambda v: "" if _blank(v) else _as_text(v).strip())
    frame = frame[(frame != "").any(axis=1)].reset_index(drop=True)
    if frame.empty:
        raise CollectionError("There are no labelled queries: give at least one row of query, collection and id.")
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        for column in LABELLED_COLUMNS:
            if not getattr(row, column):
                raise CollectionError(f"Labelled query {number} has an empty {column}.")
    return frame


def read_labelled(data: bytes, filename: str) -> pd.DataFrame:
    """Labelled queries from an uploaded file's bytes (CSV, TSV, JSON, JSONL, Parquet), checked."""
    return labelled_queries(_read(data, filename))


def labelled_from_text(text: str) -> pd.DataFrame:
    """Labelled queries from pasted lines ``query | collection | id`` (a tab also separates), checked.

    The separator is split from the right, so a query may itself hold " | ".

    >>> labelled_from_text("where is my invoice? | notes | 12")["id"].tolist()
    ['12']
    """
    rows = []
    for number, line in enumerate(str(text).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rsplit("\t", 2) if "\t" in line else line.rsplit("|", 2)
        if len(parts) != 3:
            raise CollectionError(f"Line {number} needs three parts, query | collection | id; it has {len(parts)}.")
        rows.append([p.strip() for p in parts])
    return labelled_queries(pd.DataFrame(rows, columns=list(LABELLED_COLUMNS)))


def _read(data: bytes, filename: str) -> pd.DataFrame:
    try:
        return read_table(data, filename)
    except ValueError as error:
        raise CollectionError(str(error)) from None


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id column read as floats (a blank made pandas use NaN)
    return str(value)


# -- examples -----------------------------------------------------------------------------------------
def example_memories(name: str, n: int | None = None) -> pd.DataFrame:
    """An example corpus to build a collection from: columns id, text and metadata.

    Parameters
    ----------
    name : {"lesson-traces", "debian-packages"}
        See :data:`EXAMPLES`.
    n : int, optional
        Only the first ``n`` rows.
    """
    if name == "lesson-traces":
        from ..retrieval.traces import render, trace_table

        traces = trace_table()
        frame = traces.assign(text=render(traces, seed.TRACE_TEMPLATE))[["id", "text", "query_pattern", "tools_used"]]
    elif name == "debian-packages":
        rows = [json.loads(line) for line in DEBIAN_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
        frame = pd.DataFrame({"id": [r["package"] for r in rows], "text": [r["positive"] for r in rows]})
    else:
        raise ValueError(f"name must be one of {', '.join(map(repr, EXAMPLES))}, got {name!r}.")
    return frame.head(n).reset_index(drop=True) if n is not None else frame


def example_labelled(name: str, collection: str | None = None, n: int | None = None) -> pd.DataFrame:
    """The labelled queries of an example (see :func:`example_memories`), naming ``collection``
    (default: the example's name) — the lesson's test queries, or each package's summary."""
    collection = collection or name
    if name == "lesson-traces":
        queries, ids = list(seed.QUERIES), [str(i) for i in seed.EXPECTED]
    elif name == "debian-packages":
        rows = [json.loads(line) for line in DEBIAN_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
        queries, ids = [r["query"] for r in rows], [r["package"] for r in rows]
    else:
        raise ValueError(f"name must be one of {', '.join(map(repr, EXAMPLES))}, got {name!r}.")
    frame = pd.DataFrame({"query": queries, "collection": collection, "id": ids})
    return frame.head(n).reset_index(drop=True) if n is not None else frame
