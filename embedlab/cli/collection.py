"""``python -m embedlab collection ...``: Memory Search collections from the command line.

    python -m embedlab collection build NAME --from FILE --text-column COLUMN [--id-column C] [--model M]
                                          [--engine local|ray] [--address ADDRESS] [--rebuild]
    python -m embedlab collection list [--json]
    python -m embedlab collection search NAME "text" -k 10 [--where col=value] [--json]
    python -m embedlab collection delete NAME
    python -m embedlab collection index NAME

A thin layer over :mod:`embedlab.memory`: progress lines on stderr, Ctrl-C stops a build after the
current batch (the collection readers see stays the previous one; building again carries on).
Registered by :func:`register` into the command line's subparsers (see :mod:`embedlab.cli.main`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..memory import index as index_kinds
from .common import EXIT_OK, EXIT_STOPPED, ProgressLines, StopOnInterrupt, UsageError, table

__all__ = ["register", "run_build", "run_delete", "run_index", "run_list", "run_search"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``collection`` command and its subcommands."""
    from ..models.entries import DEFAULT_MODEL

    collection = commands.add_parser(
        "collection",
        help="build, list, search and delete Memory Search collections (LanceDB)",
        description="Collections are corpora encoded once and stored with their texts, ids and metadata in LanceDB "
        "under $EMBEDLAB_HOME/collections/, then searched by the meaning of a text.",
    )
    actions = collection.add_subparsers(dest="action", metavar="ACTION", required=True)

    build = actions.add_parser(
        "build",
        help="build a collection from a file, or bring it up to date (only new texts are encoded)",
        description="Encode a file's texts into a collection. Building again encodes only texts not in it yet; a "
        "build that was stopped (Ctrl-C) or killed carries on where it was. Searches see the previous version "
        "until a build completes.",
    )
    build.add_argument("name", metavar="NAME", help="the collection's name: letters, digits, '_', '-'")
    build.add_argument(
        "--from",
        dest="source",
        required=True,
        type=Path,
        metavar="FILE",
        help="a CSV, TSV, JSON, JSONL or Parquet table, or a chat log (JSONL of {role, content} messages, or "
        "one conversation per line)",
    )
    build.add_argument("--text-column", default="text", metavar="COLUMN", help="the column of texts (text)")
    build.add_argument("--id-column", metavar="COLUMN", help="the column of ids (default: the row number)")
    build.add_argument("--model", default=DEFAULT_MODEL, metavar="MODEL", help=f"the model ({DEFAULT_MODEL})")
    build.add_argument(
        "--engine", choices=("local", "ray"), default="local", help="encode here, or with Ray Data (local)"
    )
    build.add_argument("--address", metavar="ADDRESS", help="with --engine ray: the Ray cluster (default: a local one)")
    build.add_argument("--batch-size", type=int, default=256, metavar="N", help="texts per encoding batch (256)")
    build.add_argument("--rebuild", action="store_true", help="re-encode everything (needed to change the model)")
    build.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    build.set_defaults(run=run_build)

    listing = actions.add_parser("list", help="list the collections", description="List the complete collections.")
    listing.add_argument("--json", action="store_true", help="print them as JSON on stdout")
    listing.set_defaults(run=run_list)

    search = actions.add_parser(
        "search",
        help="the rows of a collection nearest in meaning to a text",
        description="Encode the text with the collection's model and print its k nearest rows by cosine, best "
        "first. Exact up to 200,000 rows; approximate above when the collection has an index (its measured "
        "recall@10 is printed).",
    )
    search.add_argument("name", metavar="NAME", help="the collection")
    search.add_argument("query", metavar="TEXT", help="the text to search for")
    search.add_argument("-k", type=int, default=10, metavar="K", help="how many rows (10)")
    search.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="only rows whose COLUMN equals VALUE (repeatable; all must hold)",
    )
    search.add_argument("--method", choices=("auto", "exact", "approximate"), default="auto", help="(auto)")
    search.add_argument(
        "--json", action="store_true", help="print a JSON list of {id, text, score, collection, ...}, best first"
    )
    search.set_defaults(run=run_search)

    delete = actions.add_parser("delete", help="delete a collection", description="Delete a collection for good.")
    delete.add_argument("name", metavar="NAME", help="the collection")
    delete.set_defaults(run=run_delete)

    index = actions.add_parser(
        "index",
        help="build a collection's approximate index and measure its recall@10",
        description="Build an approximate index for a collection — FAISS's IVF (the default), LanceDB's IVF_PQ or "
        "IVF_HNSW_SQ, or usearch's HNSW — and measure, on queries drawn from it, its recall@10 against exact search "
        "and the time per query of each.",
    )
    index.add_argument("name", metavar="NAME", help="the collection")
    index.add_argument(
        "--kind",
        choices=index_kinds.KINDS,
        default=index_kinds.DEFAULT_KIND,
        help="IVF (FAISS; recall@10 0.98 in ~2 ms at 1M rows), IVF_PQ (LanceDB; ~14 ms at 1M), IVF_HNSW_SQ (slow "
        f"to build), HNSW (recall falls at 1M rows) ({index_kinds.DEFAULT_KIND})",
    )
    index.set_defaults(run=run_index)


class _Lines:
    """Build progress on stderr (see :class:`~embedlab.cli.common.ProgressLines`); about every 10% when not a terminal."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.lines = ProgressLines(stages=("read", "encode", "done"))
        self.tenth = -1

    def __call__(self, event) -> None:
        if self.quiet:
            return
        if not self.lines.tty and event.stage == "encode":
            tenth = int(10 * event.fraction)
            if tenth == self.tenth and event.done not in (0, event.total):
                return
            self.tenth = tenth
        self.lines(event)


def run_build(args) -> int:
    """``collection build``: build, then say what was encoded and what is visible."""
    from ..memory import build_collection

    if not args.source.is_file():
        raise UsageError(f"--from {args.source}: no such file")
    lines = _Lines(args.quiet)
    try:
        with StopOnInterrupt() as stop:
            result = build_collection(
                args.name,
                args.source,
                text_column=args.text_column,
                id_column=args.id_column,
                model=args.model,
                engine=args.engine,
                address=args.address,
                batch_size=args.batch_size,
                rebuild=args.rebuild,
                progress=lines,
                should_stop=stop,
            )
    except KeyboardInterrupt:
        print("Aborted: the collection searches see is the previous one; build again to carry on.", file=sys.stderr)
        return EXIT_STOPPED
    info = result.info
    notes = []
    if result.empty:
        notes.append(f"{result.empty:,} rows with an empty text skipped")
    if result.truncated:
        notes.append(f"{result.truncated:,} texts longer than the model reads: only their beginning was encoded")
    if result.resumed:
        notes.append("carried on from an earlier build that did not finish")
    if result.stopped:
        print(
            f"Stopped: {result.added:,} texts encoded and kept; searches still see "
            + (f"version {info.version} ({info.rows:,} rows)" if info.version else "no collection yet")
            + ". Run the same command again to carry on."
        )
        return EXIT_STOPPED
    print(
        f"Collection {info.name}: {info.rows:,} rows, {info.model} ({info.dim}-d), version {info.version}; "
        f"{result.added:,} texts encoded ({result.texts_per_second:.0f} texts/s, {result.engine}), "
        f"{result.skipped:,} already there, {result.seconds:.1f} s."
    )
    for note in notes:
        print(f"  {note}.")
    return EXIT_OK


def run_list(args) -> int:
    """``collection list``: a table, or JSON."""
    from dataclasses import asdict

    from ..memory import list_collections

    infos = list_collections()
    if args.json:
        print(json.dumps([asdict(i) for i in infos], indent=2))
        return EXIT_OK
    rows = [
        {
            "name": i.name,
            "rows": f"{i.rows:,}",
            "model": i.model,
            "text column": i.text_column,
            "index": i.index or "exact only",
            "updated": i.updated,
        }
        for i in infos
    ]
    print(table(rows) if rows else "No collections yet: python -m embedlab collection build NAME --from FILE")
    return EXIT_OK


def _where(pairs: list[str]) -> dict | None:
    where = {}
    for pair in pairs:
        column, found, value = pair.partition("=")
        if not found or not column:
            raise UsageError(f"--where must be COLUMN=VALUE, got {pair!r}")
        where[column] = value
    return where or None


def run_search(args) -> int:
    """``collection search``: hits as a table, or a JSON list best first."""
    from ..memory import search_collection

    if args.k < 1:
        raise UsageError(f"-k must be a positive integer, got {args.k}")
    result = search_collection(args.name, args.query, k=args.k, where=_where(args.where), method=args.method)
    records = result.hits.drop(columns=["rank"]).to_dict("records")
    for record in records:
        record["score"] = round(float(record["score"]), 6)
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return EXIT_OK
    how = result.method
    if result.recall_at_10 is not None:
        how += f", recall@10 {result.recall_at_10:.3f} measured against exact search"
    print(f"{len(records)} nearest in {args.name} ({how}, {result.seconds * 1000:.0f} ms):")
    rows = [
        {"rank": i + 1, "score": f"{r['score']:.3f}", "id": r["id"], "text": _short(r["text"])}
        for i, r in enumerate(records)
    ]
    print(table(rows))
    return EXIT_OK


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def run_delete(args) -> int:
    """``collection delete``."""
    from ..memory import delete_collection

    delete_collection(args.name)
    print(f"Deleted collection {args.name}.")
    return EXIT_OK


def run_index(args) -> int:
    """``collection index``: build the index, print its recall and speed against exact search."""
    from ..memory import build_index

    print(f"Building the approximate index of {args.name}...", file=sys.stderr, flush=True)
    report = build_index(args.name, kind=args.kind)
    print(
        f"Index {report.kind} of {report.name} ({report.rows:,} rows) built in {report.seconds:.1f} s: "
        f"recall@10 {report.recall_at_10:.3f} against exact search; {report.approximate_ms:.1f} ms per query "
        f"(exact: {report.exact_ms:.1f} ms)."
    )
    return EXIT_OK
