"""Trace and query tables in their editable form: cells as text, columns checked, files read and written.

A *trace table* has one row per reasoning trace: an ``id`` and the fields the template uses —
the lesson's ``query_pattern``, ``approach`` and ``tools_used``, or any others (``id,text`` with
the template ``{text}`` is a trace table too). In a table, ``tools_used`` is a
comma-separated string ("empathy_engine, planner"); in JSON files it may also be a list. A
*query table* has ``query`` and ``expected_id``, the id of the trace that should come back
first (several ids separated by ``|`` when any of them is right).

Checking the rows and rendering traces as text is :mod:`embedlab.retrieval.traces`, which
re-exports everything here.
"""

from __future__ import annotations

import io
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from .. import seed
from ..tables import read_table

__all__ = [
    "ID_SEPARATOR",
    "LIST_COLUMNS",
    "LIST_SEPARATOR",
    "QUERY_COLUMNS",
    "REQUIRED_TRACE_COLUMNS",
    "TRACE_COLUMNS",
    "cell_text",
    "cells_by_column",
    "column_cells",
    "id_text",
    "queries_to_json",
    "query_table",
    "read_queries",
    "read_queries_text",
    "read_traces",
    "read_traces_text",
    "split_list",
    "to_csv",
    "trace_table",
    "traces_to_json",
    "traces_to_records",
]

#: The lesson's trace columns (its template uses the last three); listed first when present.
TRACE_COLUMNS: tuple[str, ...] = ("id", "query_pattern", "approach", "tools_used")
#: What every trace table needs: the id queries name. Other fields are needed only when the
#: template uses them (checked by :func:`embedlab.retrieval.traces.template_fields`).
REQUIRED_TRACE_COLUMNS: tuple[str, ...] = ("id",)
QUERY_COLUMNS: tuple[str, ...] = ("query", "expected_id")
#: Columns edited as comma-separated text and rendered as a Python list.
LIST_COLUMNS: tuple[str, ...] = ("tools_used",)
LIST_SEPARATOR = ","
#: Separates several acceptable trace ids in ``expected_id``.
ID_SEPARATOR = "|"


# -- cells ---------------------------------------------------------------------------------------
def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def id_text(value) -> str:
    """An id as the text used to match traces and queries: ``0``, ``0.0`` and ``" 0 "`` are all "0"."""
    if type(value) is str:
        return value.strip()
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def cell_text(value) -> str:
    """A cell as editable text; lists (e.g. tools from a JSON file) become comma-separated."""
    if type(value) is str:
        return value
    if _missing(value):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(cell_text(v) for v in value)
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays from Parquet
        return cell_text(value.tolist())
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return str(int(value))
    return str(value)


def split_list(text: str) -> list[str]:
    """``"a, b,, c"`` → ``["a", "b", "c"]``."""
    return [part.strip() for part in str(text).split(LIST_SEPARATOR) if part.strip()]


# -- tables in their editable form -----------------------------------------------------------------
def _editable(
    frame: pd.DataFrame, required: Sequence[str], what: str, source: str, known: Sequence[str] = ()
) -> pd.DataFrame:
    """Every cell as text; required columns first, then the ``known`` ones present, matched case- and
    space-insensitively."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"the {what} table must be a pandas DataFrame, got {type(frame).__name__}.")
    named = [*required, *[c for c in known if c not in required]]
    rename = {}
    for column in frame.columns:
        tidy = str(column).strip().lower().replace(" ", "_")
        if tidy in named and tidy not in rename.values() and tidy not in frame.columns.drop(column):
            rename[column] = tidy
    frame = frame.rename(columns=rename)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        raise ValueError(
            f"{source} has no {' or '.join(repr(c) for c in missing)} column "
            f"(a {what} table needs {', '.join(required)}; it has {have})."
        )
    first = [c for c in named if c in frame.columns]
    frame = frame[[*first, *[c for c in frame.columns if c not in first]]]
    out = pd.DataFrame({str(c): column_cells(frame[c]) for c in frame.columns}, dtype="string")
    out.index = pd.RangeIndex(len(out))
    return out


def column_cells(column: pd.Series) -> list[str]:
    """A column's cells as text (gaps as empty text)."""
    if isinstance(column.dtype, pd.StringDtype):  # already text (e.g. our own tables): only fill gaps
        return column.fillna("").tolist()
    return [cell_text(v) for v in column.tolist()]


def cells_by_column(frame: pd.DataFrame) -> dict[str, list[str]]:
    """An editable-form table as plain lists of text, one per column (fast row access)."""
    return {str(c): frame[c].fillna("").tolist() for c in frame.columns}


def trace_table(
    records: Iterable[Mapping] | pd.DataFrame = seed.TRACES, *, source: str = "The trace table"
) -> pd.DataFrame:
    """A trace table in its editable form: every cell text, ``tools_used`` comma-separated.

    Parameters
    ----------
    records : DataFrame or iterable of dict, default the lesson's three traces
        Rows with at least an ``id`` and the fields the template uses (the lesson's:
        ``query_pattern``, ``approach``, ``tools_used``, listed first when present).
    source : str
        How to name the table in error messages (e.g. an uploaded file's name).

    Returns
    -------
    pandas.DataFrame of shape (n_traces, n_columns), dtype string
    """
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    return _editable(frame, REQUIRED_TRACE_COLUMNS, "trace", source, known=TRACE_COLUMNS)


def query_table(
    queries: Iterable[str] | pd.DataFrame = seed.QUERIES,
    expected: Iterable | None = seed.EXPECTED,
    *,
    source: str = "The query table",
) -> pd.DataFrame:
    """A query table in its editable form (``query``, ``expected_id`` as text).

    Pass a DataFrame with those columns, or the queries and their expected ids as two lists
    (default: the lesson's three).
    """
    if isinstance(queries, pd.DataFrame):
        frame = queries
    else:
        queries = list(queries)
        expected = list(expected) if expected is not None else [""] * len(queries)
        if len(expected) != len(queries):
            raise ValueError(f"expected must hold one id per query: got {len(expected)} for {len(queries)} queries.")
        frame = pd.DataFrame({"query": queries, "expected_id": expected})
    return _editable(frame, QUERY_COLUMNS, "query", source)


# -- files -------------------------------------------------------------------------------------------
def read_traces(data: bytes, filename: str) -> pd.DataFrame:
    """Read an uploaded trace table (CSV, TSV, JSON, JSONL, Parquet) in its editable form.

    Raises ValueError naming the file: unreadable, no rows, or a missing column.
    """
    return trace_table(read_table(data, filename), source=filename)


def read_queries(data: bytes, filename: str) -> pd.DataFrame:
    """Read an uploaded query table (``query``, ``expected_id``) in its editable form."""
    return query_table(read_table(data, filename), source=filename)


def _read_pasted(text: str, what: str) -> pd.DataFrame:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    if not text.strip():
        raise ValueError(f"Nothing was pasted; paste a {what} table as CSV (with a header row) or JSON.")
    header = text.strip().splitlines()[0]
    kind = "json" if text.lstrip()[:1] in "[{" else "tsv" if "\t" in header else "csv"
    name = f"pasted.{kind}"
    try:
        return read_table(text.encode("utf-8"), name)
    except ValueError as error:
        raise ValueError(str(error).replace(name, f"The pasted {kind.upper()} text", 1)) from None


def read_traces_text(text: str) -> pd.DataFrame:
    """Read a trace table pasted as CSV, TSV (tabs, e.g. from a spreadsheet) or JSON text."""
    return trace_table(_read_pasted(text, "trace"), source="The pasted table")


def read_queries_text(text: str) -> pd.DataFrame:
    """Read a query table pasted as CSV, TSV or JSON text."""
    return query_table(_read_pasted(text, "query"), source="The pasted table")


def _json_id(value):
    text = id_text(value)
    return int(text) if text.lstrip("-").isdigit() and str(int(text)) == text else text


def traces_to_records(frame: pd.DataFrame) -> list[dict]:
    """The trace table as the lesson writes it: integer ids as ints, ``tools_used`` as lists."""
    cells = cells_by_column(trace_table(frame))
    records = []
    for row in range(len(frame)):
        record = {}
        for column, values in cells.items():
            value = values[row]
            if column == "id":
                value = _json_id(value)
            elif column in LIST_COLUMNS:
                value = split_list(value)
            record[str(column)] = value
        records.append(record)
    return records


def traces_to_json(frame: pd.DataFrame) -> bytes:
    """The trace table as a JSON list of objects (UTF-8); :func:`read_traces` reads it back."""
    return json.dumps(traces_to_records(frame), indent=2, ensure_ascii=False).encode("utf-8")


def queries_to_json(frame: pd.DataFrame) -> bytes:
    """The query table as a JSON list of ``{"query", "expected_id"}`` objects (UTF-8)."""
    cells = cells_by_column(query_table(frame))
    records = [
        {**{c: values[row] for c, values in cells.items()}, "expected_id": _json_id(cells["expected_id"][row])}
        for row in range(len(frame))
    ]
    return json.dumps(records, indent=2, ensure_ascii=False).encode("utf-8")


def to_csv(frame: pd.DataFrame) -> bytes:
    """Any table in its editable form as UTF-8 CSV (``tools_used`` stays comma-separated, quoted)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")
