"""``python -m embedlab finetune``, ``distil``, ``keep-model`` and ``delete-model``: models made here.

    python -m embedlab finetune --pairs pairs.csv --name my-model --epochs 1
    python -m embedlab distil --pairs pairs.csv --name my-static
    python -m embedlab keep-model my-model      # use a fine-tune that was kept aside (not promoted)
    python -m embedlab delete-model my-model    # delete a fine-tuned or distilled model

``finetune`` trains a sentence-transformers model on (query, positive) pairs and judges it on
held-out queries (:func:`embedlab.tuning.finetune`); a fine-tune whose held-out MRR@10 drops is
kept aside rather than listed, until ``keep-model`` (or ``--keep-if-worse``) keeps it anyway.
``distil`` makes a static model2vec model from a transformer, for speed (:func:`embedlab.tuning.distil`).
Keeping and deleting are commands of their own (``keep-model NAME``, ``delete-model NAME``) because
``models`` lists the catalog and takes no subcommands. One module for the four: they share the
pairs file, the printing of the held-out table and the "how to use it" lines.
Registered by :func:`register` into the command line's subparsers (see :mod:`embedlab.cli.main`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .common import EXIT_OK, EXIT_STOPPED, ProgressLines, StopOnInterrupt, UsageError, read_file, table

__all__ = ["register", "run", "run_delete", "run_distil", "run_keep"]

#: Rows of the held-out table: the columns printed and their headers.
_COLUMNS = {
    "model": "model",
    "queries": "queries",
    "traces": "documents",
    "accuracy@1": "accuracy@1",
    "accuracy@5": "accuracy@5",
    "accuracy@10": "accuracy@10",
    "MRR@10": "MRR@10",
}


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``finetune``, ``distil``, ``keep-model`` and ``delete-model`` commands."""
    from ..models.entries import DEFAULT_MODEL

    finetune = commands.add_parser(
        "finetune",
        help="fine-tune a model on your (query, positive) pairs and judge it on held-out queries",
        description="Fine-tune a sentence-transformers model on your pairs with sentence-transformers' trainer "
        "(MultipleNegativesRankingLoss), then rank every document for held-out queries with the base model and the "
        "new one: accuracy@1/5/10 and MRR@10 before and after, and how many queries improved or regressed. The new "
        "model is promoted (listed by 'models', usable as embedlab.encode(texts, model=NAME)) only when held-out "
        "MRR@10 does not drop; otherwise it is kept aside until 'python -m embedlab keep-model NAME'. "
        "Press Ctrl-C to stop after the current training step; nothing is saved then.",
    )
    finetune.add_argument(
        "--pairs",
        required=True,
        type=Path,
        metavar="FILE",
        help="the pairs: a CSV/TSV/JSON/JSONL/Parquet table with columns query and positive (and optionally "
        "negative); at least 10 distinct pairs",
    )
    _base_and_name(finetune, DEFAULT_MODEL, "<base>-ft-<8 hex digits of the pairs' hash>")
    finetune.add_argument("--epochs", type=int, default=1, metavar="N", help="passes over the training pairs (1)")
    finetune.add_argument(
        "--batch-size",
        type=int,
        default=32,
        metavar="N",
        help="pairs per training step; each query's other positives in the batch are its negatives (32)",
    )
    finetune.add_argument(
        "--learning-rate", type=float, default=3e-5, metavar="F", help="the optimiser's peak learning rate (3e-5)"
    )
    _held_out_and_seed(finetune, training=True)
    finetune.add_argument(
        "--matryoshka-dims",
        type=int,
        nargs="+",
        metavar="D",
        help="train so that the first D dimensions work alone, for each D (e.g. 384 256 128; MatryoshkaLoss)",
    )
    finetune.add_argument(
        "--keep-if-worse",
        action="store_true",
        help="save the model under NAME even when held-out MRR@10 drops (otherwise it is kept aside)",
    )
    _json_and_quiet(finetune)
    finetune.set_defaults(run=run)

    distil = commands.add_parser(
        "distil",
        help="distil a transformer into a static model (model2vec): hundreds of times faster",
        description="Make a static model from a sentence-transformers model with model2vec (every vocabulary token "
        "embedded once, reduced by PCA): encoding becomes a table look-up, at some cost in quality. Prints its speed "
        "against the base on the same texts and, with --pairs, both models on the held-out queries (the same split "
        "as 'finetune' with the same --held-out and --seed). Press Ctrl-C to stop; nothing is saved then.",
    )
    distil.add_argument(
        "--pairs",
        type=Path,
        metavar="FILE",
        help="optional (query, positive) pairs as for 'finetune', to judge both models on held-out queries",
    )
    _base_and_name(distil, DEFAULT_MODEL, "<base>-static-<pca dims>")
    distil.add_argument(
        "--pca-dims",
        type=int,
        default=256,
        metavar="N",
        help="dimensions PCA keeps, at most the base model's (256)",
    )
    _held_out_and_seed(distil, training=False)
    _json_and_quiet(distil)
    distil.set_defaults(run=run_distil)

    keep = commands.add_parser(
        "keep-model",
        help="use a fine-tuned model that was kept aside because held-out MRR@10 dropped",
        description="A fine-tune that retrieves the held-out queries worse than its base is not promoted: it is "
        "kept aside. This moves it into place, so that 'models' lists it and embedlab.encode(texts, model=NAME) "
        "uses it.",
    )
    keep.add_argument("name", metavar="NAME", help="the model's name, as 'finetune' printed it")
    keep.set_defaults(run=run_keep)

    delete = commands.add_parser(
        "delete-model",
        help="delete a fine-tuned or distilled model (and one of that name kept aside)",
        description="Delete a model made here by 'finetune' or 'distil' from embedlab's data directory "
        "($EMBEDLAB_HOME/models/). Catalog models cannot be deleted.",
    )
    delete.add_argument("name", metavar="NAME", help="the model's name, as 'models' lists it")
    delete.set_defaults(run=run_delete)


def _base_and_name(parser: argparse.ArgumentParser, default: str, default_name: str) -> None:
    parser.add_argument(
        "--base",
        default=default,
        metavar="MODEL",
        help=f"the model to start from: a catalog transformer (all-MiniLM-L6-v2, all-mpnet-base-v2) or one "
        f"fine-tuned here (default: {default})",
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help=f"the new model's name: letters, digits, '.', '_', '-'; a model made earlier under it is replaced "
        f"(default: {default_name})",
    )


def _held_out_and_seed(parser: argparse.ArgumentParser, *, training: bool) -> None:
    parser.add_argument(
        "--held-out",
        type=float,
        default=0.2,
        metavar="F",
        help="share of the distinct positives held out, with their queries, to judge the models (0.2)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seeds the held-out split" + (" and the training (0)" if training else " (0)"),
    )


def _json_and_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout instead of text")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _read_pairs(path: Path):
    from ..tuning import read_pairs

    data = read_file("--pairs", path)
    try:
        return read_pairs(data, path.name)
    except ValueError as error:
        raise UsageError(f"--pairs {str(error).rstrip('.')}") from None


class _Progress:
    """Progress on stderr: rewritten in place on a terminal; otherwise a line per stage and about
    every 10% of the training steps (the first and the last always)."""

    def __init__(self, quiet: bool, first: str = ""):
        self.quiet = quiet
        self.first = first  # printed with the first event, once the arguments have passed their checks
        self.lines = ProgressLines(stages=("before", "train", "after", "save", "distil", "judge", "speed"))
        self.last_tenth = -1

    def __call__(self, event) -> None:
        if self.quiet:
            return
        if self.first:
            print(self.first, file=sys.stderr, flush=True)
            self.first = ""
        if not self.lines.tty and event.stage == "train":
            tenth = 10 * event.step // max(event.steps, 1)
            if event.step == 0 or (tenth == self.last_tenth and event.step != event.steps):
                return
            self.last_tenth = tenth
        self.lines(event)

    def close(self) -> None:
        """End the line a terminal was rewriting, so the results start on a line of their own."""
        if not self.quiet and self.lines.tty:
            print(file=sys.stderr, flush=True)


def run(args) -> int:
    """``finetune``: train, judge, print the table and where the model is."""
    from ..tuning import estimate_seconds, finetune
    from ..tuning.finetune import duration

    pairs = _read_pairs(args.pairs)
    n_train = round(len(pairs) * (1 - min(max(args.held_out, 0.0), 1.0)))
    guess = estimate_seconds(n_train, base=args.base, epochs=max(args.epochs, 1), n_judged=len(pairs))
    lines = _Progress(
        args.quiet,
        f"Fine-tuning {args.base} on {len(pairs):,} pairs ({args.held_out:.0%} held out), "
        f"{_count(args.epochs, 'epoch')}: about {duration(guess)} on 2 cores.",
    )
    result = _stoppable(
        lines,
        lambda stop: finetune(
            pairs,
            base=args.base,
            name=args.name,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            held_out=args.held_out,
            matryoshka_dims=args.matryoshka_dims,
            random_state=args.seed,
            keep_if_worse=args.keep_if_worse,
            progress=lines,
            should_stop=stop,
        ),
    )
    if result is None:
        return EXIT_STOPPED
    if args.json:
        print(json.dumps(_finetune_json(result), indent=2))
        return EXIT_STOPPED if result.stopped else EXIT_OK
    if result.stopped:
        print(f"Stopped after {_count(result.steps, 'training step')}: nothing was saved.")
        return EXIT_STOPPED
    settings = result.settings
    print(
        f"Fine-tuned {settings.base} into {result.model_name}: {result.split.describe()}; "
        f"{_count(settings.epochs, 'epoch')}, batch size {settings.batch_size}, {settings.loss}; "
        f"{_count(result.steps, 'step')} in {result.seconds:.1f} s."
    )
    if result.dropped:
        print(f"{_count(result.dropped, 'repeated pair')} dropped.")
    print()
    print(_held_out_table(result))
    print(
        f"\nHeld-out queries: {result.count('improved')} improved, {result.count('regressed')} regressed, "
        f"{result.count('same')} same (rank of the expected document in the top 10)."
    )
    print(result.reason)
    name = result.model_name
    if result.saved:
        anyway = "" if result.promoted else " anyway (--keep-if-worse)"
        print(f"\nSaved{anyway} in {result.path}")
        _print_use(name)
    else:
        print(f"\nKept aside in {result.path}")
        print(f"To use it anyway: python -m embedlab keep-model {name}  (or run again with --keep-if-worse)")
        print(f"To throw it away: python -m embedlab delete-model {name}")
    return EXIT_OK


def run_distil(args) -> int:
    """``distil``: make the static model, time it, judge it with pairs, say where it is."""
    from .. import seed
    from ..tuning import distil
    from ..tuning.distil import SPEED_TEXTS

    pairs = _read_pairs(args.pairs) if args.pairs is not None else None
    lines = _Progress(args.quiet)
    started = time.perf_counter()
    result = _stoppable(
        lines,
        lambda stop: distil(
            pairs,
            base=args.base,
            name=args.name,
            pca_dims=args.pca_dims,
            held_out=args.held_out,
            random_state=args.seed,
            progress=lines,
            should_stop=stop,
        ),
    )
    if result is None:
        return EXIT_STOPPED
    if args.json:
        print(json.dumps(_distil_json(result, time.perf_counter() - started), indent=2))
        return EXIT_OK if result.saved else EXIT_STOPPED
    if not result.saved:
        print("Stopped: nothing was saved.")
        return EXIT_STOPPED
    print(
        f"Distilled {result.base} into {result.model_name}: a static model2vec model, {result.dim} dimensions, "
        f"in {result.seconds:.1f} s."
    )
    if result.split is not None:
        timed = f"{min(SPEED_TEXTS, len(result.split.corpus)):,} of the documents"
    else:
        timed = f"the lesson's {len(seed.SENTENCES)} sentences"
    print(
        f"Speed on {timed}: {result.model_name} {result.texts_per_second:,.0f} texts/s, {result.base} "
        f"{result.base_texts_per_second:,.0f} texts/s: {result.speedup:,.1f}x faster."
    )
    if result.split is not None:
        print(f"\nHeld-out queries: {result.split.describe()}.\n")
        print(_held_out_table(result))
    else:
        print("Give --pairs FILE to see how much retrieval quality it gives up on your own queries.")
    print(f"\nSaved in {result.path}")
    _print_use(result.model_name)
    return EXIT_OK


def run_keep(args) -> int:
    """``keep-model NAME``: move a fine-tune kept aside into place."""
    from ..tuning import keep_rejected

    kept = keep_rejected(_model_name(args.name, "kept"))
    print(f"Kept {kept.name}: it is now listed by 'python -m embedlab models' ({kept.path}).")
    _print_use(kept.name)
    return EXIT_OK


def run_delete(args) -> int:
    """``delete-model NAME``: delete a fine-tuned or distilled model."""
    from ..tuning import delete

    deleted = delete(_model_name(args.name, "deleted"))
    what = "fine-tuned" if deleted.kind == "finetuned" else "distilled"
    print(f"Deleted the {what} model {deleted.name} ({deleted.path}).")
    return EXIT_OK


def _model_name(name: str, done: str) -> str:
    from ..models.entries import by_name

    if by_name(name) is not None:
        raise UsageError(
            f"{name} is a catalog model, not one made here; only fine-tuned and distilled models can be {done}"
        )
    return name


def _stoppable(lines: _Progress, call):
    """``call(should_stop)`` with Ctrl-C asking it to stop; None when a second Ctrl-C aborted it."""
    try:
        with StopOnInterrupt() as stop:
            return call(stop)
    except KeyboardInterrupt:
        print("Aborted: nothing was saved.", file=sys.stderr)
        return None
    finally:
        lines.close()


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _print_use(name: str) -> None:
    print(f"Use it: embedlab.encode(texts, model={name!r}), or as {name} wherever a model is asked for")
    print(f"        (e.g. python -m embedlab bench --models all-MiniLM-L6-v2 {name}).")


def _held_out_table(result) -> str:
    frame = result.table()
    rows = []
    for record in frame.to_dict("records"):
        row = {}
        for column, header in _COLUMNS.items():
            value = record.get(column)
            if column.startswith("accuracy"):
                value = f"{value:.1%}"
            elif column.startswith("MRR"):
                value = f"{value:.3f}"
            row[header] = value
        rows.append(row)
    return table(rows)


def _figures(result) -> dict | None:
    from ..tuning.heldout import figures

    return None if result is None else figures(result)


def _finetune_json(result) -> dict:
    from dataclasses import asdict

    settings = asdict(result.settings)
    settings["matryoshka_dims"] = list(settings["matryoshka_dims"] or [])
    return {
        "model": result.model_name,
        "settings": settings,
        "n_train": len(result.split.train),
        "n_held_out": len(result.split.test),
        "n_corpus": len(result.split.corpus),
        "dropped": result.dropped,
        "train_seconds": round(result.seconds, 3),
        "steps": result.steps,
        "final_loss": result.losses[-1] if result.losses else None,
        "before": _figures(result.before),
        "after": _figures(result.after),
        "queries": {c: result.count(c) for c in ("improved", "regressed", "same")},
        "promoted": result.promoted,
        "reason": result.reason,
        "stopped": result.stopped,
        "saved": result.saved,
        "path": None if result.path is None else str(result.path),
    }


def _distil_json(result, seconds: float) -> dict:
    return {
        "model": result.model_name,
        "base": result.base,
        "pca_dims": result.pca_dims,
        "dim": result.dim,
        "distil_seconds": round(result.seconds, 3),
        "total_seconds": round(seconds, 3),
        "texts_per_second": result.texts_per_second,
        "base_texts_per_second": result.base_texts_per_second,
        "speedup": result.speedup,
        "n_held_out": None if result.split is None else len(result.split.test),
        "n_corpus": None if result.split is None else len(result.split.corpus),
        "before": _figures(result.before),
        "after": _figures(result.after),
        "saved": result.saved,
        "path": None if result.path is None else str(result.path),
    }
