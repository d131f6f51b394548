"""``python -m embedlab bench``: time models on your texts, on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import seed
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STOPPED,
    ProgressLines,
    StopOnInterrupt,
    UsageError,
    check_out,
    read_texts,
)
from .output import print_run, write_run

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command to the command line's subparsers."""
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
        "--backends",
        nargs="+",
        metavar="BACKEND",
        default=["auto"],
        help="how each model runs: 'auto' (the backend chosen for this machine, the default), 'all' (every backend "
        "available to it, side by side, with mean/min cosine and top-1 agreement to torch-fp32), or names such as "
        "torch-fp32 torch-bf16 onnx-fp32 onnx-int8",
    )
    bench.add_argument(
        "--sweep",
        action="store_true",
        help="also time each model with 1, 2, 4 ... threads up to the cores here and batch sizes 16, 32, 64, 128, "
        "and say which setting is fastest on this machine",
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
    bench.set_defaults(run=run)


def run(args) -> int:
    from ..benchmarking import notes
    from ..benchmarking.machine import describe
    from ..benchmarking.run import advice, benchmark, repeat_to
    from ..benchmarking.store import BenchmarkStore

    if args.column is not None and args.texts is None:
        raise UsageError("--column goes with --texts FILE (a table file)")
    texts = read_texts("--texts", args.texts, args.column) if args.texts else list(seed.BENCHMARK_CORPUS)
    if args.size is not None:
        texts = repeat_to(texts, args.size)
    if args.out is not None:
        check_out(args.out)
    if args.baseline is not None and args.baseline not in args.models:
        raise UsageError(f"--baseline must be one of --models ({', '.join(args.models)}), got {args.baseline!r}")

    store = BenchmarkStore() if args.save else None
    with StopOnInterrupt() as stop:
        result = benchmark(
            args.models,
            texts,
            batch_size=args.batch_size,
            repeats=args.repeats,
            warmup=args.warmup,
            baseline=args.baseline,
            progress=None if args.quiet else ProgressLines(),
            should_stop=stop,
            threads=args.threads,
            backends=args.backends[0]
            if len(args.backends) == 1 and args.backends[0] in ("auto", "all")
            else args.backends,
            sweep=args.sweep,
            store=store,  # saved as it goes: a killed process keeps the finished rows
            label=args.label,
        )
    settings = result.settings
    print(
        f"Benchmark: {settings.n_texts} texts ({settings.distinct_texts} distinct), batch size "
        f"{settings.batch_size}, {settings.repeats} repeats, warm-up {'on' if settings.warmup else 'off'}"
    )
    print(f"Machine: {describe(result.machine)}\n")
    print_run(result)
    for model, choice in result.choices.items():
        print(notes.choice_sentence(model, choice, result))
    for line in notes.noise_notes(result):
        print(line)
    if result.sweep is not None:
        print("\nFastest settings on this machine:")
        for line in notes.sweep_sentence(result):
            print(f"  - {line}")
    print("\nRecommendation:")
    for line in advice(result).reasons:
        print(f"  - {line}")
    if result.stopped:
        print("\nStopped early: only what finished is shown.")
    if args.out is not None:
        write_run(result, args.out)
        print(f"\nWrote {args.out}")
    if store is not None:
        print(f"Saved as run {result.id} in {store.path}")
    if result.stopped:
        return EXIT_STOPPED
    return EXIT_OK if not result.measured.empty else EXIT_FAILED
