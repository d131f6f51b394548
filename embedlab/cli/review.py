"""``python -m embedlab review``: review candidate models and write the report.

    python -m embedlab review --models all-MiniLM-L6-v2 static-64d \\
        --traces traces.csv --queries queries.csv --corpus texts.txt \\
        --html review.html --markdown review.md --json review.json

Registered by :func:`register` into the command line's subparsers (see :mod:`embedlab.cli.main`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import seed
from ..formatting import percent
from .common import EXIT_FAILED, EXIT_OK, EXIT_STOPPED, StopOnInterrupt, UsageError, read_file, read_texts, table


def register(commands) -> argparse.ArgumentParser:
    """Add the ``review`` subcommand to ``commands`` (what ``add_subparsers`` returned)."""
    parser = commands.add_parser(
        "review",
        help="review candidate models on your data: speed, retrieval and cluster quality, the decision, a report",
        description="Measure each candidate model's speed (embedlab.benchmark on the corpus), retrieval quality "
        "(embedlab.evaluate_retrieval on the traces and test queries) and, with labelled sentences, cluster quality; "
        "mark the Pareto front of speed x quality and apply the lesson's decision framework. Writes the review as "
        "HTML (self-contained, charts included), Markdown and JSON, and can save it with the dashboard's reviews. "
        "Press Ctrl-C once to stop after the current step and keep the models that finished.",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        default=list(seed.BENCHMARK_MODELS),
        help="candidate models, in order (default: all-MiniLM-L6-v2 all-mpnet-base-v2, as in the lesson)",
    )
    data = parser.add_argument_group("review data (default: the lesson's)")
    data.add_argument(
        "--traces",
        type=Path,
        metavar="FILE",
        help="trace table (CSV/TSV/JSON/JSONL/Parquet) with id, query_pattern, approach, tools_used; with --queries",
    )
    data.add_argument(
        "--queries", type=Path, metavar="FILE", help="query table with query and expected_id (the trace id to find)"
    )
    data.add_argument(
        "--template",
        default=seed.TRACE_TEMPLATE,
        help="how a trace becomes text, fields in braces (default: the lesson's Query/Approach/Tools)",
    )
    data.add_argument(
        "--corpus",
        type=Path,
        metavar="FILE",
        help="texts timed for speed: one per line, or a table (see --column); default: the traces and queries "
        "reviewed (the texts whose quality is measured)",
    )
    data.add_argument("--lesson-corpus", action="store_true", help="time speed on the lesson's 5 texts x 20 instead")
    data.add_argument("--column", metavar="NAME", help="for a table --corpus, the column with the texts")
    sentences = data.add_mutually_exclusive_group()
    sentences.add_argument(
        "--sentences",
        type=Path,
        metavar="FILE",
        help="labelled sentences for cluster quality, one 'label | sentence' per line",
    )
    sentences.add_argument(
        "--lesson-sentences", action="store_true", help="score clusters on the lesson's 16 labelled sentences"
    )
    settings = parser.add_argument_group("settings")
    settings.add_argument("--k", type=int, default=5, metavar="N", help="retrieval cut-off for accuracy@k, MRR@k (5)")
    settings.add_argument("--repeats", type=int, default=3, metavar="N", help="timed passes per model (3)")
    settings.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per forward pass (32)")
    settings.add_argument(
        "--threshold", type=float, default=seed.GOOD_ENOUGH_ACCURACY, help="good-enough top-1 accuracy (0.8)"
    )
    settings.add_argument("--baseline", metavar="MODEL", help="the 'start here' model (default: all-MiniLM-L6-v2)")
    out = parser.add_argument_group("the record")
    out.add_argument("--name", default="", help="the review's name (required with --save)")
    out.add_argument("--notes", default="", help="the reviewer's notes")
    out.add_argument("--decision", default="", help="the reviewer's decision, e.g. 'Use all-MiniLM-L6-v2'")
    out.add_argument("--save", action="store_true", help="keep it with the dashboard's saved reviews")
    out.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    out.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown report")
    out.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    """Run the review the arguments describe; returns the exit status."""
    from ..reviewing.report import write
    from ..reviewing.run import review

    for option, suffixes in (("html", (".html", ".htm")), ("markdown", (".md", ".markdown")), ("json", (".json",))):
        path = getattr(args, option)
        if path is None:
            continue
        if path.suffix.lower() not in suffixes:
            raise UsageError(f"--{option} must end in {' or '.join(suffixes)}, got {str(path)!r}")
        if not path.parent.is_dir():
            raise UsageError(f"--{option} {path}: the folder {path.parent} does not exist")
    if args.save and not args.name.strip():
        raise UsageError("--save needs --name: give the review a name")
    data = _retrieval_data(args)
    if args.corpus and args.lesson_corpus:
        raise UsageError("give --corpus FILE or --lesson-corpus, not both")
    corpus, corpus_name = ("lesson" if args.lesson_corpus else "review"), None
    if args.corpus:
        corpus, corpus_name = read_texts("--corpus", args.corpus, args.column), args.corpus.name
    texts, labels = _sentences(args)

    stop = StopOnInterrupt()
    with stop:
        result = review(
            args.models,
            **data,
            corpus=corpus,
            corpus_name=corpus_name,
            sentences=texts,
            labels=labels,
            k=args.k,
            repeats=args.repeats,
            batch_size=args.batch_size,
            threshold=args.threshold,
            baseline=args.baseline,
            progress=None if args.quiet else _Progress(),
            should_stop=stop,
        )
    print(table(_rows(result)))
    print(f"Speed measured on {result.corpus_text}.")
    print("\nDecision framework:")
    for reason in result.decision.reasons:
        print(f"  - {reason}")
    if result.stopped:
        print("\nStopped early: only the models that finished are compared.")
    meta = {"name": args.name.strip() or "Model review", "notes": args.notes, "decision": args.decision}
    if args.save:
        from ..reviewing.store import ReviewStore

        store = ReviewStore()
        review_id = store.save(result, name=meta["name"], notes=args.notes, decision=args.decision)
        result = store.load(review_id)
        print(
            f"\nSaved as review {review_id} in {store.path} (in the dashboard: the Model Review page, /model_review?review={review_id})"
        )
    for option in ("html", "markdown", "json"):
        path = getattr(args, option)
        if path is not None:
            write(result, path, **meta)
            print(f"Wrote {path}")
    if result.stopped:
        return EXIT_STOPPED
    return EXIT_OK if result.decision.recommended else EXIT_FAILED


def _retrieval_data(args) -> dict:
    if (args.traces is None) != (args.queries is None):
        raise UsageError("--traces and --queries go together (or neither, for the lesson's)")
    if args.traces is None:
        return {}
    from ..retrieval.traces import NothingUsable, prepare, read_queries, read_traces

    tables = []
    for option, path, reader in (("--traces", args.traces, read_traces), ("--queries", args.queries, read_queries)):
        data = read_file(option, path)
        try:
            tables.append(reader(data, path.name))
        except ValueError as error:
            raise UsageError(f"{option} {error}") from None
    try:
        prepared = prepare(tables[0], tables[1], args.template)
    except NothingUsable as error:
        raise UsageError(str(error).rstrip(".")) from None
    except ValueError as error:
        raise UsageError(str(error).rstrip(".")) from None
    for problem in prepared.problems:
        print(problem, file=sys.stderr)
    return {"traces": prepared.texts, "ids": prepared.ids, "queries": prepared.queries, "expected": prepared.expected}


def _text(option: str, path: Path) -> str:
    try:
        return read_file(option, path).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{option} {path.name} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def _sentences(args) -> tuple[list[str] | None, list[str] | None]:
    if args.lesson_sentences:
        return list(seed.SENTENCES), list(seed.LABELS)
    if args.sentences is None:
        return None, None
    from ..maps.explore import from_lines

    try:
        sentences = from_lines(_text("--sentences", args.sentences))
    except ValueError as error:
        raise UsageError(f"--sentences {args.sentences.name}: {error}") from None
    if sentences.labels is None or len(set(sentences.labels)) < 2:
        raise UsageError(
            f"--sentences {args.sentences.name} needs at least two labels: write 'label | sentence' on each line"
        )
    return sentences.texts, sentences.labels


def _rows(result) -> list[dict]:
    import pandas as pd

    def number(value, spec):
        return "-" if pd.isna(value) else format(value, spec)

    def share(value):
        return "-" if pd.isna(value) else percent(value)

    k = result.k
    rows = []
    for r in result.table.itertuples():
        rows.append(
            {
                "model": r.model,
                "status": r.status,
                "dim": "-" if pd.isna(r.dim) else str(r.dim),
                "texts/s": number(r.texts_per_s, ",.1f"),
                "load s": number(r.load_s, ".2f"),
                "acc@1": "-" if pd.isna(r.accuracy) else f"{percent(r.accuracy)} ({r.correct}/{r.n_queries})",
                f"acc@{k}": share(r.accuracy_at_k),
                f"MRR@{k}": share(r.mrr),
                "silhouette": number(r.silhouette, ".2f"),
                "kNN agree": share(r.label_agreement),
                "Pareto": "yes" if not pd.isna(r.pareto) and r.pareto else "",
                "verdict": r.verdict,
            }
        )
    return rows


class _Progress:
    """Progress lines on stderr: rewritten in place on a terminal, one per stage otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = None

    def __call__(self, event) -> None:
        if self.tty:
            end = "\n" if event.stage == "done" else ""
            print(f"\r\033[K{event.message}", end=end, file=sys.stderr, flush=True)
        elif (event.model, event.stage) != self.last:
            self.last = (event.model, event.stage)
            print(event.message, file=sys.stderr, flush=True)
