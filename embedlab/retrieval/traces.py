"""Trace and query tables: check them, render traces as text, read and write them.

A *trace table* has one row per reasoning trace: an ``id`` and the fields the template uses (the
lesson's ``query_pattern``, ``approach`` and ``tools_used``; any other columns may be used too). In a
table, ``tools_used`` is a comma-separated string ("empathy_engine, planner"); in JSON files it
may also be a list. When a trace is rendered with a template it becomes a Python list, exactly
as the lesson formats it: ``Tools: ['empathy_engine', 'planner']``.

A *query table* has one row per test query: ``query`` and ``expected_id``, the id of the trace
that should come back first (several ids separated by ``|`` when any of them is right).

Row problems — a missing id, a duplicate id, an empty field, an expected id that is not in the
trace table — do not stop the evaluation: :func:`prepare` skips those rows and says which, in
one sentence each. Problems with a whole table (no rows, a missing column) or the template
raise ``ValueError``.

The tables' editable form and their files live in :mod:`embedlab.retrieval.trace_tables`; its
names are re-exported here, so ``traces.trace_table`` and ``traces.read_traces`` keep working.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .. import seed
from .trace_tables import (
    ID_SEPARATOR,
    LIST_COLUMNS,
    LIST_SEPARATOR,
    QUERY_COLUMNS,
    TRACE_COLUMNS,
    cell_text,
    cells_by_column,
    column_cells,
    id_text,
    queries_to_json,
    query_table,
    read_queries,
    read_queries_text,
    read_traces,
    read_traces_text,
    split_list,
    to_csv,
    trace_table,
    traces_to_json,
    traces_to_records,
)

__all__ = [
    "DEFAULT_TEMPLATE",
    "ID_SEPARATOR",
    "LIST_COLUMNS",
    "LIST_SEPARATOR",
    "MAX_LISTED",
    "QUERY_COLUMNS",
    "TRACE_COLUMNS",
    "NothingUsable",
    "Prepared",
    "cell_text",
    "cells_by_column",
    "check_queries",
    "check_traces",
    "column_cells",
    "expected_ids",
    "id_text",
    "prepare",
    "queries_to_json",
    "query_table",
    "read_queries",
    "read_queries_text",
    "read_traces",
    "read_traces_text",
    "render",
    "split_list",
    "template_fields",
    "to_csv",
    "trace_table",
    "traces_to_json",
    "traces_to_records",
]

DEFAULT_TEMPLATE = seed.TRACE_TEMPLATE
#: Problems listed one by one at most; the rest are counted.
MAX_LISTED = 20


# -- template ------------------------------------------------------------------------------------
def template_fields(template: str, columns: Sequence[str] = TRACE_COLUMNS) -> list[str]:
    """The fields a template names, in order, each once.

    Raises
    ------
    ValueError
        When the template is empty, its braces don't pair up, a placeholder is not a plain
        ``{column}`` (positional ``{}``, attribute ``{a.b}``, index ``{a[0]}``, format spec or
        conversion), or it names a column the trace table does not have.
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a str, got {type(template).__name__}.")
    if not template.strip():
        raise ValueError("The template is empty; name at least one field, e.g. {query_pattern}.")
    available = ", ".join("{" + c + "}" for c in columns)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(
            f"The template cannot be read ({error}); write fields as {{name}} and a literal brace as {{{{ or }}}}."
        ) from None
    fields: list[str] = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise ValueError(f"The template has an empty placeholder {{{name}}}; name a field: {available}.")
        if spec or conversion or not name.replace("_", "a").isalnum():
            raise ValueError(
                f"The template field {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                f"is not a plain field name; use one of {available}."
            )
        if name not in columns:
            raise ValueError(f"The template names an unknown field {{{name}}}; the trace table has {available}.")
        if name not in fields:
            fields.append(name)
    if not fields:
        raise ValueError(f"The template names no field, so every trace would read the same; use some of {available}.")
    return fields


def _value_for_template(column: str, text: str):
    return split_list(text) if column in LIST_COLUMNS else text


def render(frame: pd.DataFrame, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """Each row of a trace table as the text that gets embedded.

    List columns become Python lists, as the lesson writes them: ``Tools: ['a', 'b']``.
    Empty cells render as empty text (``[]`` for a list column); :func:`check_traces` is what
    skips such rows.
    """
    fields = template_fields(template, [str(c) for c in frame.columns])
    columns = {f: column_cells(frame[f]) for f in fields}
    return [
        template.format(**{f: _value_for_template(f, columns[f][row]) for f in fields}) for row in range(len(frame))
    ]


# -- checking --------------------------------------------------------------------------------------
class NothingUsable(ValueError):
    """No row of a table can be used.

    ``problems`` gives the rows' reasons, one sentence each (at most :data:`MAX_LISTED` per
    table, then one "… and N more" line); ``skipped`` is the true number of rows skipped.
    """

    def __init__(self, message: str, problems: Sequence[str], skipped: int | None = None):
        super().__init__(message)
        self.problems = list(problems)
        self.skipped = len(self.problems) if skipped is None else int(skipped)


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` hands to :func:`embedlab.evaluate_retrieval`.

    ``texts`` and ``ids`` describe the usable traces; ``queries`` and ``expected`` the usable
    queries (``expected`` items are an id, or a tuple of ids when several are right);
    ``trace_rows`` and ``query_rows`` are the 0-based table rows they came from; ``problems``
    says, one sentence each, which rows were skipped and why (at most :data:`MAX_LISTED` per
    table, then one "… and N more" line); ``skipped_traces`` and ``skipped_queries`` count
    every row skipped.
    """

    texts: list[str]
    ids: list[str]
    queries: list[str]
    expected: list
    trace_rows: list[int] = field(default_factory=list)
    query_rows: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped_traces: int = 0
    skipped_queries: int = 0

    @property
    def trace_problems(self) -> list[str]:
        """The trace rows' problems (with their "… and N more" line)."""
        return self._problems_of("Trace")

    @property
    def query_problems(self) -> list[str]:
        """The query rows' problems (with their "… and N more" line)."""
        return self._problems_of("Query")

    def _problems_of(self, kind: str) -> list[str]:
        out, current = [], None
        for problem in self.problems:
            if not problem.startswith("…"):  # "… and N more" belongs to the table listed before it
                current = problem.split(" ", 1)[0]
            if current == kind:
                out.append(problem)
        return out


def _row_name(row: int, ident: str) -> str:
    return f"row {row + 1}" + (f" (id {ident})" if ident else "")


def _listed(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_LISTED:
        return problems
    return [*problems[:MAX_LISTED], f"… and {len(problems) - MAX_LISTED} more rows like these were skipped."]


def check_traces(frame: pd.DataFrame, template: str = DEFAULT_TEMPLATE) -> tuple[list[int], list[str], list[str]]:
    """Usable trace rows: ``(rows, ids, problems)``.

    A row is skipped, with a sentence naming it, when its id is empty, its id repeats an
    earlier row's, or a field the template uses is empty.

    Raises
    ------
    ValueError
        When the table has no rows or lacks a required column, or the template is invalid.
    """
    frame = trace_table(frame)
    if frame.empty:
        raise ValueError("The trace table is empty; add at least one trace.")
    fields = template_fields(template, list(frame.columns))
    cells = cells_by_column(frame)
    rows, ids, problems = [], [], []
    first_row: dict[str, int] = {}
    for row in range(len(frame)):
        ident = id_text(cells["id"][row])
        if not ident:
            problems.append(f"Trace row {row + 1} has no id; it was skipped.")
            continue
        if ident in first_row:
            problems.append(
                f"Trace row {row + 1} repeats the id {ident} of row {first_row[ident] + 1}; it was skipped (ids must be unique)."
            )
            continue
        first_row[ident] = row
        empty = [f for f in fields if not _value_for_template(f, cells[f][row].strip())]
        if empty:
            names = " and ".join(empty)
            problems.append(f"Trace {_row_name(row, ident)} has an empty {names}; it was skipped.")
            continue
        rows.append(row)
        ids.append(ident)
    return rows, ids, problems


def expected_ids(value, trace_ids: Iterable[str]) -> list[str]:
    """The trace ids an ``expected_id`` cell names: itself, or its ``|``-separated parts."""
    known = trace_ids if isinstance(trace_ids, (set, frozenset)) else set(trace_ids)
    whole = id_text(value)
    if whole in known or ID_SEPARATOR not in whole:
        return [whole] if whole else []
    return [id_text(part) for part in whole.split(ID_SEPARATOR) if id_text(part)]


def check_queries(
    frame: pd.DataFrame, trace_ids: Sequence[str], *, all_ids: Iterable[str] = ()
) -> tuple[list[int], list, list[str]]:
    """Usable query rows: ``(rows, expected, problems)``.

    A row is skipped, with a sentence naming it, when its query or expected id is empty, or
    an expected id is not among ``trace_ids`` (``all_ids`` — ids of traces skipped for other
    reasons — get a message saying so).
    """
    frame = query_table(frame)
    if frame.empty:
        raise ValueError("The query table is empty; add at least one query with the trace id it should find.")
    usable = set(trace_ids)
    skipped_traces = set(all_ids) - usable
    cells = cells_by_column(frame)
    rows, expected, problems = [], [], []
    for row in range(len(frame)):
        query = cells["query"][row]
        wanted = expected_ids(cells["expected_id"][row], usable)
        where = f"Query row {row + 1}"
        if not query.strip():
            problems.append(f"{where} has an empty query; it was skipped.")
            continue
        if not wanted:
            problems.append(f"{where} ({query[:40]!r}) has no expected_id; it was skipped.")
            continue
        unknown = [w for w in wanted if w not in usable]
        if unknown:
            bad = unknown[0]
            if bad in skipped_traces:
                problems.append(
                    f"{where} ({query[:40]!r}) expects trace id {bad}, whose trace row was skipped; this query was skipped too."
                )
            else:
                problems.append(
                    f"{where} ({query[:40]!r}) expects trace id {bad}, which is not in the trace table; it was skipped."
                )
            continue
        rows.append(row)
        expected.append(wanted[0] if len(wanted) == 1 else tuple(wanted))
    return rows, expected, problems


def prepare(traces: pd.DataFrame, queries: pd.DataFrame, template: str = DEFAULT_TEMPLATE) -> Prepared:
    """Check both tables and the template; render the usable traces.

    Returns
    -------
    Prepared
        Ready for ``evaluate_retrieval(p.queries, p.texts, p.expected, ids=p.ids)``.

    Raises
    ------
    ValueError
        One sentence: a table is empty or lacks a column, or the template is invalid.
    NothingUsable
        (a ValueError) when no row of a table is usable: the sentence gives the first reason,
        ``.problems`` all of them.
    """
    traces = trace_table(traces)
    trace_rows, ids, trace_problems = check_traces(traces, template)
    if not trace_rows:
        raise NothingUsable(f"No trace can be used: {trace_problems[0]}", _listed(trace_problems), len(trace_problems))
    texts = render(traces.iloc[trace_rows].reset_index(drop=True), template)
    all_ids = [id_text(v) for v in traces["id"]]
    query_rows, expected, query_problems = check_queries(queries, ids, all_ids=all_ids)
    if not query_rows:
        raise NothingUsable(
            f"No query can be used: {query_problems[0]}",
            _listed(trace_problems) + _listed(query_problems),
            len(trace_problems) + len(query_problems),
        )
    asked = query_table(queries)["query"].fillna("").tolist()
    questions = [asked[r] for r in query_rows]
    return Prepared(
        texts,
        ids,
        questions,
        expected,
        trace_rows,
        query_rows,
        _listed(trace_problems) + _listed(query_problems),
        skipped_traces=len(trace_problems),
        skipped_queries=len(query_problems),
    )
