"""Trace and query tables: rendering as the lesson does, row checks, files in and out."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from embedlab import seed
from embedlab.retrieval import traces


def lesson_texts():
    # exactly the lesson's f-string, with tools_used a Python list
    return [f"Query: {t['query_pattern']}\nApproach: {t['approach']}\nTools: {t['tools_used']}" for t in seed.TRACES]


def test_seed_traces_render_exactly_as_the_lesson():
    table = traces.trace_table()
    assert table["tools_used"].tolist() == [
        "empathy_engine, planner",
        "resource_finder, goal_setter",
        "memory_search, summarizer",
    ]
    assert traces.render(table, seed.TRACE_TEMPLATE) == lesson_texts()
    assert "Tools: ['empathy_engine', 'planner']" in traces.render(table)[0]


def test_tools_edited_as_text_render_as_a_list():
    table = traces.trace_table(
        [{"id": "a", "query_pattern": "q", "approach": "x", "tools_used": " planner ,, memory_search "}]
    )
    assert traces.render(table, "{tools_used}") == ["['planner', 'memory_search']"]


def test_template_may_use_extra_columns_and_literal_braces():
    table = traces.trace_table([{"id": 1, "query_pattern": "q", "approach": "a", "tools_used": ["t"], "outcome": "ok"}])
    assert traces.render(table, "{{json}} {query_pattern} -> {outcome}") == ["{json} q -> ok"]


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("Query: {query}", "unknown field {query}"),
        ("Query: {query_pattern", "cannot be read"),
        ("{}", "empty placeholder"),
        ("{0}", "empty placeholder"),
        ("{approach.upper}", "{approach.upper} is not a plain field name"),
        ("{approach[0]}", "is not a plain field name"),
        ("{approach!r}", "is not a plain field name"),
        ("{approach:>30}", "is not a plain field name"),
        ("no fields at all", "names no field"),
        ("   ", "template is empty"),
    ],
)
def test_bad_templates_say_which_field(template, words):
    with pytest.raises(ValueError) as caught:
        traces.template_fields(template)
    assert words in str(caught.value)
    assert "{query_pattern}" in str(caught.value) or "cannot be read" in str(caught.value)


def test_prepare_on_the_seed_is_clean():
    prepared = traces.prepare(traces.trace_table(), traces.query_table())
    assert prepared.texts == lesson_texts()
    assert prepared.ids == ["0", "1", "2"] and prepared.expected == ["0", "1", "2"]
    assert prepared.queries == list(seed.QUERIES) and prepared.problems == []


def test_bad_rows_are_skipped_and_named_the_rest_kept():
    table = traces.trace_table()
    table.loc[3] = ["1", "a duplicate", "x", "t"]
    table.loc[4] = ["", "no id", "x", "t"]
    table.loc[5] = ["7", "  ", "x", "t"]
    table.loc[6] = ["8", "no tools", "x", " , "]
    table.loc[7] = ["9", "fine", "also fine", "t"]
    queries = traces.query_table()
    queries.loc[3] = ["expects a missing trace", "42"]
    queries.loc[4] = ["   ", "1"]
    queries.loc[5] = ["expects a skipped trace", "7"]
    queries.loc[6] = ["no expected id", ""]
    queries.loc[7] = ["either of two", "0 | 9"]
    prepared = traces.prepare(table, queries)
    assert prepared.ids == ["0", "1", "2", "9"]
    assert prepared.trace_rows == [0, 1, 2, 7]
    assert prepared.queries == [*seed.QUERIES, "either of two"]
    assert prepared.expected == ["0", "1", "2", ("0", "9")]
    assert prepared.trace_problems == [
        "Trace row 4 repeats the id 1 of row 2; it was skipped (ids must be unique).",
        "Trace row 5 has no id; it was skipped.",
        "Trace row 6 (id 7) has an empty query_pattern; it was skipped.",
        "Trace row 7 (id 8) has an empty tools_used; it was skipped.",
    ]
    assert prepared.query_problems == [
        "Query row 4 ('expects a missing trace') expects trace id 42, which is not in the trace table; it was skipped.",
        "Query row 5 has an empty query; it was skipped.",
        "Query row 6 ('expects a skipped trace') expects trace id 7, whose trace row was skipped; this query was skipped too.",
        "Query row 7 ('no expected id') has no expected_id; it was skipped.",
    ]


def test_only_fields_the_template_uses_must_be_filled():
    table = traces.trace_table([{"id": 1, "query_pattern": "q", "approach": "", "tools_used": ""}])
    prepared = traces.prepare(table, traces.query_table(["hi"], [1]), "{query_pattern}")
    assert prepared.texts == ["q"] and prepared.problems == []


def test_ids_match_whatever_their_type():
    table = traces.trace_table([{"id": 3.0, "query_pattern": "q", "approach": "a", "tools_used": ["t"]}])
    prepared = traces.prepare(table, pd.DataFrame({"query": ["hi"], "expected_id": [" 3 "]}))
    assert prepared.ids == ["3"] and prepared.expected == ["3"]


def test_long_problem_lists_are_shortened():
    table = traces.trace_table([{"id": "", "query_pattern": "q", "approach": "a", "tools_used": "t"}] * 30)
    table.loc[30] = ["ok", "q", "a", "t"]
    prepared = traces.prepare(table, traces.query_table(["hi"], ["ok"]))
    assert len(prepared.problems) == traces.MAX_LISTED + 1
    assert prepared.problems[-1] == "… and 10 more rows like these were skipped."


@pytest.mark.parametrize(
    ("traces_rows", "queries_rows", "words"),
    [
        ([], [("q", "0")], "The trace table is empty"),
        (None, [], "The query table is empty"),
        ([("", "q", "a", "t")], [("q", "0")], "No trace can be used: Trace row 1 has no id"),
        (None, [("q", "99")], "No query can be used: Query row 1 ('q') expects trace id 99"),
    ],
)
def test_unusable_tables_raise_one_sentence(traces_rows, queries_rows, words):
    table = (
        traces.trace_table()
        if traces_rows is None
        else pd.DataFrame(traces_rows, columns=list(traces.TRACE_COLUMNS), dtype="string")
    )
    queries = pd.DataFrame(queries_rows, columns=list(traces.QUERY_COLUMNS), dtype="string")
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        traces.prepare(table, queries)


def test_missing_columns_are_named():
    # finding 12: a trace table needs an id and only the fields its template uses
    with pytest.raises(ValueError, match="has no 'id' column"):
        traces.trace_table(pd.DataFrame({"query_pattern": ["q"]}))
    partial = traces.trace_table(pd.DataFrame({"id": [1], "query_pattern": ["q"]}))
    with pytest.raises(ValueError, match=r"unknown field \{approach\}; the trace table has \{id\}, \{query_pattern\}"):
        traces.prepare(partial, traces.query_table())  # the default template uses approach and tools_used
    with pytest.raises(ValueError, match=r"queries\.csv has no 'expected_id' column"):
        traces.read_queries(b"query\nhello\n", "queries.csv")


def test_headers_are_matched_loosely():
    table = traces.read_traces(b'ID,Query Pattern,APPROACH,tools_used\n1,q,a,"x, y"\n', "t.csv")
    assert list(table.columns) == list(traces.TRACE_COLUMNS)
    assert traces.render(table) == ["Query: q\nApproach: a\nTools: ['x', 'y']"]


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_traces_round_trip_through_files(kind):
    table = traces.trace_table()
    table.loc[3] = ["x-1", 'He said "<b>hi</b>", then left', "Line one\nline two", "a, b"]
    data = traces.traces_to_json(table) if kind == "json" else traces.to_csv(table)
    back = traces.read_traces(data, f"traces.{kind}")
    pd.testing.assert_frame_equal(back, table)


def test_trace_json_is_written_as_the_lesson_holds_it():
    records = json.loads(traces.traces_to_json(traces.trace_table()))
    assert records == [dict(t) for t in seed.TRACES]  # int ids, tools as lists


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_queries_round_trip_through_files(kind):
    queries = traces.query_table()
    queries.loc[3] = ["Ünïcode & <script>alert(1)</script>", "0|2"]
    data = traces.queries_to_json(queries) if kind == "json" else traces.to_csv(queries)
    pd.testing.assert_frame_equal(traces.read_queries(data, f"queries.{kind}"), queries)
    if kind == "json":
        assert json.loads(data)[0] == {"query": seed.QUERIES[0], "expected_id": 0}


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (b"{not json", "t.json", "t.json is not valid JSON"),
        (b'{"a": 1, "b": 2}', "t.json", "must hold a JSON list of objects"),
        (b"\xff\xfe\x00", "t.csv", "is not UTF-8"),
        (b"", "t.csv", "t.csv is empty"),
        (b"id,query_pattern\n", "t.csv", "holds no rows"),
        (b"hello", "t.txt", "is not a file type embedlab reads"),
    ],
)
def test_malformed_uploads_raise_one_sentence(data, name, words):
    with pytest.raises(ValueError, match=words):
        traces.read_traces(data, name)
