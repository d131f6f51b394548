"""The command line: ``python -m embedlab <command>``.

Commands are argparse subcommands, each a ``_<name>(args) -> int`` function registered in
:func:`build_parser`, so more can be added beside them.

    python -m embedlab models
    python -m embedlab bench --models all-MiniLM-L6-v2 all-mpnet-base-v2 --texts FILE --repeats 5 --out results.csv
    python -m embedlab runs
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .. import seed

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 130
TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m embedlab",
        description="embedlab: understand and choose text-embedding models, from the command line.",
        epilog="Run 'python -m embedlab COMMAND --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = commands.add_parser(
        "models",
        help="list the model catalog: dimensions, backend, whether each can run here",
        description="List every catalog model, whether it can run on this machine (and why not), its size on disk "
        "and the lesson's speed / quality / use case.",
    )
    models.add_argument("--json", action="store_true", help="print the catalog as JSON instead of a table")
    models.set_defaults(run=_models)

    bench = commands.add_parser(
        "bench",
        help="time models on your texts, on this machine",
        description="Time embedding models on a corpus: load time, warm-up, encoding over several repeats "
        "(median, min, max), texts/s and tokens/s, memory added, and how much slower or faster each model is than "
        "the baseline. Every model is loaded fresh and measured the same way, with the embedding cache bypassed. "
        "Press Ctrl-C once to stop after the current repeat and keep what finished.",
    )
    bench.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        default=list(seed.BENCHMARK_MODELS),
        help="models to measure, in order: catalog names (see 'python -m embedlab models'), Hugging Face ids "
        "or allowed local folders (default: all-MiniLM-L6-v2 all-mpnet-base-v2, as in the lesson)",
    )
    bench.add_argument(
        "--texts",
        metavar="FILE",
        type=Path,
        help="the corpus: a text file with one text per line (blank lines skipped), or a CSV/TSV/JSON/JSONL/"
        "Parquet table (see --column). Default: the lesson's five chatbot-trace texts x20 (100 texts)",
    )
    bench.add_argument(
        "--column",
        metavar="NAME",
        help="for a table file, the column holding the texts (default: the column with the longest texts)",
    )
    bench.add_argument(
        "--size",
        type=int,
        metavar="N",
        help="repeat (or cut) the corpus to exactly N texts, e.g. 5 texts to 1000 for a steadier timing",
    )
    bench.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per forward pass (default: 32)")
    bench.add_argument(
        "--repeats",
        type=int,
        default=3,
        metavar="N",
        help="timed passes over the corpus per model; the median is reported with min and max (default: 3)",
    )
    bench.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="skip the untimed warm-up batch (the first timed pass then includes first-call costs)",
    )
    bench.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads torch computes with (default: torch's choice, one per core); on a machine busy with other "
        "work, 1 can be much faster",
    )
    bench.add_argument(
        "--baseline",
        metavar="MODEL",
        help="the model others are compared with ('X is 5.8x slower than MODEL'); default: the first of --models",
    )
    bench.add_argument(
        "--out",
        metavar="FILE",
        type=Path,
        help="also write the results: FILE.csv (one row per model) or FILE.json (rows, machine and settings)",
    )
    bench.add_argument(
        "--save",
        action="store_true",
        help="keep the run with the dashboard's earlier runs (SQLite in embedlab's data directory, $EMBEDLAB_HOME)",
    )
    bench.add_argument("--label", default="", help="a name for the saved run, shown in the run lists (with --save)")
    bench.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    bench.set_defaults(run=_bench)

    runs = commands.add_parser(
        "runs",
        help="list, show or delete saved benchmark runs",
        description="Benchmark runs saved by the dashboard or by 'bench --save', newest first.",
    )
    action = runs.add_mutually_exclusive_group()
    action.add_argument("--show", type=int, metavar="ID", help="print one saved run's results")
    action.add_argument("--delete", type=int, metavar="ID", help="delete one saved run")
    runs.add_argument("--out", type=Path, metavar="FILE", help="with --show: also write it as FILE.csv or FILE.json")
    runs.set_defaults(run=_runs)

    from .review import register as register_review  # here, not at the top: review_cli imports this module

    register_review(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 nothing measured, 2 bad usage, 130 stopped)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: say which there are
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as error:
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {error}\n")
    except (ValueError, LookupError) as error:  # the core's one-sentence messages
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {message}\n")
    return EXIT_OK


# -- models ------------------------------------------------------------------------------------
def _models(args) -> int:
    import json

    from ..models.catalog import list_models

    models = list_models()
    if args.json:
        print(json.dumps([m.__dict__ for m in models], indent=2))
        return EXIT_OK
    rows = [
        {
            "model": m.name,
            "dim": m.dim,
            "backend": m.backend,
            "size": _megabytes(m.size_bytes) if m.size_bytes else ("assembled on first use" if m.available else "-"),
            "speed": m.speed,
            "quality": m.quality,
            "use case": m.use_case,
            "here": "yes" if m.available else "no",
        }
        for m in models
    ]
    print(_table(rows))
    for m in models:
        if not m.available:
            print(f"\n{m.name} cannot run here: {m.reason}.")
    return EXIT_OK


# -- bench -------------------------------------------------------------------------------------
def _bench(args) -> int:
    from ..benchmarking.machine import describe
    from ..benchmarking.run import BenchmarkStore, benchmark, recommend, repeat_to

    if args.column is not None and args.texts is None:
        raise UsageError("--column goes with --texts FILE (a table file)")
    texts = _read_texts(args.texts, args.column) if args.texts else list(seed.BENCHMARK_CORPUS)
    if args.size is not None:
        texts = repeat_to(texts, args.size)
    if args.out is not None:
        _check_out(args.out)
    if args.baseline is not None and args.baseline not in args.models:
        raise UsageError(f"--baseline must be one of --models ({', '.join(args.models)}), got {args.baseline!r}")

    stop = _StopOnInterrupt()
    with stop:
        results = benchmark(
            args.models,
            texts,
            batch_size=args.batch_size,
            repeats=args.repeats,
            warmup=args.warmup,
            baseline=args.baseline,
            progress=None if args.quiet else _Progress(),
            should_stop=stop,
            threads=args.threads,
        )
    settings = results.attrs["settings"]
    print(
        f"Benchmark: {settings['n_texts']} texts ({settings['distinct_texts']} distinct), batch size "
        f"{settings['batch_size']}, {settings['repeats']} repeats, warm-up {'on' if settings['warmup'] else 'off'}"
    )
    print(f"Machine: {describe(results.attrs['machine'])}\n")
    _print_results(results)
    print("\nRecommendation:")
    for line in recommend(results):
        print(f"  - {line}")
    if results.attrs.get("stopped"):
        print("\nStopped early: only what finished is shown.")
    if args.out is not None:
        _write(results, args.out)
        print(f"\nWrote {args.out}")
    if args.save:
        store = BenchmarkStore()
        run_id = store.save(results, label=args.label)
        print(f"Saved as run {run_id} in {store.path}")
    if results.attrs.get("stopped"):
        return EXIT_STOPPED
    return EXIT_OK if results["texts_per_s"].notna().any() else EXIT_FAILED


def _read_texts(path: Path, column: str | None) -> list[str]:
    if not path.is_file():
        raise UsageError(f"--texts {path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"--texts {path}: cannot read it ({error.strerror})") from None
    if path.suffix.lower() in TABLE_SUFFIXES:
        from ..tables import read_table, text_columns

        try:
            frame = read_table(data, path.name)
        except ValueError as error:
            raise UsageError(f"--texts {error}") from None
        candidates = text_columns(frame)
        if column is None:
            if not candidates:
                raise UsageError(f"--texts {path.name} has no text column; its columns: {', '.join(frame.columns)}")
            column = candidates[0]
        elif column not in frame.columns:
            raise UsageError(f"--column {column!r} is not in {path.name}; its columns: {', '.join(frame.columns)}")
        texts = [str(v) for v in frame[column].dropna() if str(v).strip()]
    else:
        if column is not None:
            raise UsageError("--column applies to table files (CSV, TSV, JSON, JSONL, Parquet) only")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise UsageError(f"--texts {path.name} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
        texts = [line.strip() for line in text.splitlines() if line.strip()]
    if not texts:
        raise UsageError(f"--texts {path.name} holds no texts")
    return texts


def _check_out(path: Path) -> None:
    if path.suffix.lower() not in (".csv", ".json"):
        raise UsageError(f"--out must end in .csv or .json, got {str(path)!r}")
    if not path.parent.exists():
        raise UsageError(f"--out {path}: the folder {path.parent} does not exist")


def _write(results, path: Path) -> None:
    from ..benchmarking.run import results_json

    text = results.to_csv(index=False) if path.suffix.lower() == ".csv" else results_json(results)
    # Written beside the target and renamed into place: a crash never leaves half a file.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class _Progress:
    """Progress lines on stderr: rewritten in place on a terminal, one per model otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()

    def __call__(self, event) -> None:
        if self.tty:
            end = "\n" if event.stage == "done" else ""
            print(f"\r\033[K{event.message}", end=end, file=sys.stderr, flush=True)
        elif event.stage in ("load", "done", "waiting"):
            print(event.message, file=sys.stderr, flush=True)


class _StopOnInterrupt:
    """The first Ctrl-C asks the benchmark to stop after the current step; a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nStopping after the current step (Ctrl-C again to abort)...", file=sys.stderr, flush=True)

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no handler, Ctrl-C aborts as usual
            self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _print_results(results) -> None:
    import pandas as pd

    rows = []
    for r in results.itertuples():
        measured = pd.notna(r.texts_per_s)
        rows.append(
            {
                "model": r.model,
                "status": r.status,
                "dim": "-" if pd.isna(r.dim) else str(r.dim),
                "load s": _seconds(r.load_s),
                "warm-up s": _seconds(r.warmup_s),
                "encode s median [min-max]": (
                    f"{r.encode_median_s:.3f} [{r.encode_min_s:.3f}-{r.encode_max_s:.3f}]" if measured else "-"
                ),
                "texts/s": f"{r.texts_per_s:,.1f}" if measured else "-",
                "tokens/s": f"{r.tokens_per_s:,.0f}" if pd.notna(r.tokens_per_s) else "-",
                "size MB": "-" if pd.isna(r.size_bytes) else _megabytes(r.size_bytes),
                "+MB load/encode": (f"{_number(r.load_mb)}/{_number(r.encode_mb)}"),
                "noisy": "yes" if pd.notna(r.noisy) and bool(r.noisy) else "",
            }
        )
    print(_table(rows))
    comparisons = [c for c in results["comparison"] if c and c != "baseline"]
    if comparisons:
        print("\nComparison:")
        for line in comparisons:
            print(f"  {line}")
    noisy = results[results["noisy"].fillna(False)]
    if len(noisy):
        print(
            f"\nNoisy (slowest repeat more than {results.attrs['settings']['noisy_above']:.0%} of the median "
            f"slower than the fastest): {', '.join(noisy['model'])}. Something else was using the CPU; "
            "run again or with more --repeats."
        )
    failed = results[results["error"] != ""]
    if len(failed):
        print("\nErrors:")
        for r in failed.itertuples():
            print(f"  {r.model}: {r.error}")


def _seconds(value) -> str:
    return "-" if value != value else f"{value:.3f}"


def _number(value) -> str:
    return "-" if value != value else f"{value:.0f}"


def _megabytes(size) -> str:
    return f"{size / 1e6:,.0f}"


def _table(rows: list[dict]) -> str:
    """A plain text table, columns left-aligned, for any terminal."""
    if not rows:
        return "(nothing)"
    headers = list(rows[0])
    widths = {h: max(len(h), *(len(str(r[h])) for r in rows)) for h in headers}
    lines = ["  ".join(h.ljust(widths[h]) for h in headers).rstrip()]
    lines.append("  ".join("-" * widths[h] for h in headers))
    lines += ["  ".join(str(r[h]).ljust(widths[h]) for h in headers).rstrip() for r in rows]
    return "\n".join(lines)


# -- runs --------------------------------------------------------------------------------------
def _runs(args) -> int:
    from ..benchmarking.machine import describe
    from ..benchmarking.run import BenchmarkStore

    store = BenchmarkStore()
    for notice in store.notices:
        print(notice, file=sys.stderr)
    if args.delete is not None:
        if not store.delete(args.delete):
            raise UsageError(f"--delete {args.delete}: no saved run has this id")
        print(f"Deleted run {args.delete}.")
        return EXIT_OK
    if args.show is not None:
        if args.out is not None:
            _check_out(args.out)
        results = store.load(args.show)
        label = f" ({results.attrs['label']})" if results.attrs.get("label") else ""
        print(f"Run {args.show}{label}, {results.attrs.get('created')}")
        print(f"Machine: {describe(results.attrs.get('machine', {}))}\n")
        _print_results(results)
        if args.out is not None:
            _write(results, args.out)
            print(f"\nWrote {args.out}")
        return EXIT_OK
    if args.out is not None:
        raise UsageError("--out goes with --show ID")
    runs = store.runs()
    if runs.empty:
        print("No saved benchmark runs yet (run 'python -m embedlab bench --save', or use the dashboard).")
        return EXIT_OK
    print(_table([{k: ("" if v is None else v) for k, v in row.items()} for row in runs.to_dict("records")]))
    return EXIT_OK
