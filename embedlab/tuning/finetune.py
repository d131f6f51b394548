"""finetune(): a sentence-transformers model trained on the user's pairs, judged on held-out queries.

Training is sentence-transformers' own: ``SentenceTransformerTrainer`` with
``MultipleNegativesRankingLoss`` (``CachedMultipleNegativesRankingLoss`` above
:data:`CACHED_ABOVE` pairs a batch, wrapped in ``MatryoshkaLoss`` when dimensions are given) and a
batch sampler that never puts one text twice in a batch (a repeat would be its own false
negative). No loop is written here; a ``TrainerCallback`` reports progress and asks for Stop.

The model is judged on the held-out queries only (:mod:`embedlab.tuning.heldout`): a fine-tune
that lowers held-out MRR is not promoted — it is kept aside, and used only if the user insists
(:func:`embedlab.tuning.saved.keep_rejected`).
"""

from __future__ import annotations

import datetime
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..models import catalog, user
from ..models.embedders import SentenceTransformerEmbedder
from ..models.entries import DEFAULT_MODEL
from ..retrieval.evaluation import RetrievalResult, summary_table
from ..runs import check_callback
from ..storage.folders import replace_folder
from ..validation import check_positive_int
from . import heldout
from .cards import write_card
from .pairs import Pairs, Split, check_pairs, check_seed, split_pairs
from .quiet import no_bars
from .saved import check_new_name, saving

#: Above this batch size the cached (GradCache) loss keeps memory flat: same gradients, chunks of 32.
CACHED_ABOVE = 64
#: Seconds per training pair on 2 cores for a 384-d MiniLM at 128 tokens (measured here: 100-130 s for
#: 1,000 pairs); bigger models cost about as much more as their size (bench/finetune.py).
SECONDS_PER_PAIR = 0.12
#: Loading the model twice, building the trainer, saving: seconds whatever the pairs (measured here: 8-15 s).
STARTUP_SECONDS = 10.0
_RELATIVE_COST = {384: 1.0, 768: 4.8, 1024: 15.0}

__all__ = ["FinetuneProgress", "FinetuneResult", "FinetuneSettings", "duration", "estimate_seconds", "finetune"]


@dataclass(frozen=True)
class FinetuneSettings:
    """How a model was fine-tuned (recorded in its card)."""

    base: str
    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    held_out: float
    random_state: int
    loss: str
    matryoshka_dims: tuple[int, ...] | None = None
    max_seq_length: int = 128


@dataclass(frozen=True)
class FinetuneProgress:
    """Where a fine-tune is, passed to ``progress``.

    ``stage`` is "before" (judging the base model), "train", "after" (judging the new model) or
    "save"; ``step`` of ``steps`` training steps, the last ``loss``, seconds ``elapsed`` in
    training and the estimated seconds ``remaining`` (None before the first step).
    """

    stage: str
    step: int
    steps: int
    loss: float | None
    elapsed: float
    remaining: float | None
    fraction: float

    @property
    def message(self) -> str:
        if self.stage == "before":
            return "Judging the base model on the held-out queries…"
        if self.stage == "after":
            return "Judging the fine-tuned model on the held-out queries…"
        if self.stage == "save":
            return "Saving the model…"
        parts = [f"Training: step {self.step} of {self.steps}"]
        if self.loss is not None:
            parts.append(f"loss {self.loss:.4f}")
        if self.remaining is not None:
            parts.append(f"about {duration(self.remaining)} left")
        return " · ".join(parts)

    def results(self) -> None:
        """Nothing half-made is kept: a fine-tune cut short saves no model (for ``ui.runs``)."""
        return None


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tune made and how it does on the held-out queries.

    Attributes
    ----------
    model_name : str
        The new model's name: ``embedlab.encode(texts, model=model_name)`` once ``saved``.
    settings : FinetuneSettings
    split : Split
        The training and held-out pairs.
    before, after : RetrievalResult
        The base model and the new one on the held-out queries (``after`` is None when stopped).
    changes : pandas.DataFrame or None
        Per held-out query: ranks before/after and "improved" / "regressed" / "same"
        (:func:`embedlab.tuning.heldout.query_changes`).
    seconds : float
        Training time (wall clock).
    steps : int
        Optimiser steps taken.
    losses : tuple of float
        The training loss at each step.
    promoted : bool
        Held-out MRR@10 did not drop; the model is listed and usable.
    reason : str
        Why it was or was not promoted, in one sentence.
    stopped : bool
        Stop was asked for: nothing was saved.
    saved : bool
        The model is in ``$EMBEDLAB_HOME/models/finetuned/<name>/`` (promoted, or kept anyway).
    path : pathlib.Path or None
        Its folder (the rejected folder when kept aside).
    dropped : int
        Repeated pairs dropped before training.
    texts_per_second : float or None
        The new model's encoding speed while it was judged (held-out corpus and queries, no cache).
    """

    model_name: str
    settings: FinetuneSettings
    split: Split = field(repr=False)
    before: RetrievalResult = field(repr=False)
    after: RetrievalResult | None = field(repr=False)
    changes: pd.DataFrame | None = field(repr=False)
    seconds: float
    steps: int
    losses: tuple[float, ...] = field(repr=False)
    promoted: bool
    reason: str
    stopped: bool
    saved: bool
    path: Path | None
    dropped: int = 0
    texts_per_second: float | None = None

    def count(self, change: str) -> int:
        """How many held-out queries ``change`` ("improved", "regressed", "same")."""
        return 0 if self.changes is None else int((self.changes["change"] == change).sum())

    def table(self) -> pd.DataFrame:
        """Before and after, one row each: queries, documents, accuracy@1/3/5/10, MRR@10."""
        return summary_table([r for r in (self.before, self.after) if r is not None])


def estimate_seconds(n_train: int, *, base: str = DEFAULT_MODEL, epochs: int = 1, n_judged: int = 0) -> float:
    """A rough time for a fine-tune on 2 cores: training ``n_train`` pairs for ``epochs``, plus
    encoding ``n_judged`` held-out texts twice (before and after), for the page to show before it starts."""
    entry = catalog.by_name(base)
    made = user.find(base) if entry is None else None
    dim = entry.dim if entry is not None else (made.dim if made is not None else 384)
    cost = _RELATIVE_COST.get(dim, dim / 384)
    return STARTUP_SECONDS + SECONDS_PER_PAIR * cost * (n_train * epochs + n_judged / 4)


def finetune(
    pairs,
    *,
    base: str = DEFAULT_MODEL,
    name: str | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 3e-5,
    held_out: float = 0.2,
    matryoshka_dims: Sequence[int] | None = None,
    random_state: int = 0,
    extra_corpus: Sequence[str] = (),
    max_seq_length: int = 128,
    keep_if_worse: bool = False,
    progress: Callable[[FinetuneProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Fine-tune ``base`` on ``pairs`` and judge it on held-out queries.

    Parameters
    ----------
    pairs : list of (query, positive[, negative]) tuples, or a DataFrame
        Columns ``query``, ``positive`` and optionally ``negative`` (see
        :func:`embedlab.tuning.pairs.check_pairs`).
    base : str, default "all-MiniLM-L6-v2"
        A sentence-transformers model: a catalog transformer or a model fine-tuned here.
    name : str, optional
        The new model's name (default ``<base>-ft-<first 8 hex of the pairs' hash>``). A model
        fine-tuned earlier under that name is replaced; a catalog name is refused.
    epochs, batch_size : int
    learning_rate : float, default 3e-5
    held_out : float, default 0.2
        Share of the distinct positives held out (with every pair that has one).
    matryoshka_dims : list of int, optional
        Train so that the first d dimensions work alone, for each d (``MatryoshkaLoss``).
    random_state : int, default 0
        Seeds the split and the training.
    extra_corpus : list of str, optional
        More documents the held-out queries are ranked against (distractors).
    max_seq_length : int, default 128
        Tokens per text while training (the saved model keeps its base's limit).
    keep_if_worse : bool, default False
        Save the model under ``name`` even when held-out MRR drops; otherwise it is kept aside.
    progress : callable, optional
        Called with a :class:`FinetuneProgress` at each stage and training step.
    should_stop : callable, optional
        Asked after every step; True ends the run without saving anything.

    Returns
    -------
    FinetuneResult

    Raises
    ------
    TypeError, ValueError
        In one sentence naming the argument: bad pairs (see ``check_pairs``), too few for the
        split, a bad name, settings out of range.
    LookupError
        (:class:`embedlab.ModelUnavailable`) when ``base`` is not a trainable model here.
    """
    checked = check_pairs(pairs)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    max_seq_length = check_positive_int(max_seq_length, "max_seq_length")
    random_state = check_seed(random_state)
    learning_rate = _check_rate(learning_rate)
    check_callback(progress, "progress")
    check_callback(should_stop, "should_stop")
    split = split_pairs(checked, held_out=held_out, random_state=random_state, extra_corpus=extra_corpus)
    name = check_new_name(name if name is not None else _default_name(base, checked), "finetuned")
    folder = catalog.trainable_folder(base)
    dims = _check_dims(matryoshka_dims, catalog.cached_identity(base))
    loss_name = "CachedMultipleNegativesRankingLoss" if batch_size > CACHED_ABOVE else "MultipleNegativesRankingLoss"
    if dims:
        loss_name = f"MatryoshkaLoss({loss_name})"
    settings = FinetuneSettings(
        base, name, epochs, batch_size, learning_rate, held_out, random_state, loss_name, dims, max_seq_length
    )
    report = _Reporter(progress)

    report.stage("before", 0.0)
    before = heldout.evaluate(split, base)
    trained = _train(folder, split.train, settings, report, should_stop)
    if trained is None:
        return _stopped(settings, split, before, report, checked.dropped)
    model, seconds, steps = trained
    root = user.folder_for("finetuned", name).parent
    with saving(root):
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-training-", dir=root))
    try:
        with saving(root):
            model.save(str(work))
        weights = user.weights_sha256(work)
        report.stage("after", 0.92)
        embedder = SentenceTransformerEmbedder(name, work, version=weights[:16])
        judged = time.perf_counter()
        after = heldout.evaluate(split, embedder)  # a new cache key: every text is encoded
        texts_per_second = (len(split.corpus) + len(split.test)) / max(time.perf_counter() - judged, 1e-9)
        if should_stop is not None and should_stop():
            return _stopped(settings, split, before, report, checked.dropped)
        promoted = after.mrr >= before.mrr
        reason = _reason(before, after, promoted)
        saved = promoted or keep_if_worse
        report.stage("save", 0.98)
        card = _card(settings, checked, split, before, after, seconds, steps, report.losses, weights, promoted, reason)
        card["dim"] = embedder.dim
        card["max_tokens"] = embedder.max_tokens
        with saving(root):
            write_card(work, card)
            path = replace_folder(user.folder_for("finetuned", name, rejected=not saved), lambda _: work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    catalog.forget(name)
    return FinetuneResult(
        model_name=name,
        settings=settings,
        split=split,
        before=before,
        after=after,
        changes=heldout.query_changes(before, after),
        seconds=seconds,
        steps=steps,
        losses=tuple(report.losses),
        promoted=promoted,
        reason=reason,
        stopped=False,
        saved=saved,
        path=path,
        dropped=checked.dropped,
        texts_per_second=texts_per_second,
    )


def _train(folder: Path, train: Pairs, settings: FinetuneSettings, report: _Reporter, should_stop):
    """Train a fresh copy of the base model; (model, seconds, steps), or None when stopped."""
    from datasets import Dataset
    from datasets.utils import logging as datasets_logging
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, losses
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )
    from transformers import PrinterCallback, TrainerCallback
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    datasets_logging.disable_progress_bar()
    model = SentenceTransformer(str(folder), device="cpu", trust_remote_code=False)
    full_length = model.max_seq_length
    model.max_seq_length = min(settings.max_seq_length, full_length or settings.max_seq_length)
    columns = {"anchor": list(train.queries), "positive": list(train.positives)}
    if train.negatives:
        columns["negative"] = list(train.negatives)
    dataset = Dataset.from_dict(columns)
    if settings.batch_size > CACHED_ABOVE:
        loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=32)
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
    if settings.matryoshka_dims:
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=list(settings.matryoshka_dims))

    class Watch(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                report.step(state.global_step, state.max_steps, float(logs["loss"]))

        def on_step_end(self, args, state, control, **kwargs):
            if should_stop is not None and should_stop():
                report.stopped = True
                control.should_training_stop = True

    with tempfile.TemporaryDirectory(prefix="embedlab-train-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=0.1,
            seed=settings.random_state,
            data_seed=settings.random_state,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            dataloader_num_workers=0,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
        )
        with no_bars():  # the trainer computes its model card's widget examples here
            trainer = SentenceTransformerTrainer(
                model=model, args=args, train_dataset=dataset, loss=loss, callbacks=[Watch()]
            )
        trainer.remove_callback(PrinterCallback)  # progress goes to the caller, not to stdout
        report.start_training(trainer)
        started = time.perf_counter()
        with no_bars():
            output = trainer.train()
        seconds = time.perf_counter() - started
    if report.stopped:
        return None
    model.max_seq_length = full_length
    return model, seconds, int(output.global_step)


class _Reporter:
    """Turns trainer events into :class:`FinetuneProgress` for the caller."""

    def __init__(self, progress):
        self.progress = progress
        self.losses: list[float] = []
        self.stopped = False
        self.started = time.perf_counter()
        self.steps = 0

    def start_training(self, trainer) -> None:
        self.started = time.perf_counter()
        batches = math.ceil(len(trainer.train_dataset) / trainer.args.per_device_train_batch_size)
        self.steps = batches * int(trainer.args.num_train_epochs)
        self.emit("train", 0, self.steps, None, 0.1)

    def stage(self, stage: str, fraction: float) -> None:
        self.emit(stage, len(self.losses), self.steps, self.losses[-1] if self.losses else None, fraction)

    def step(self, step: int, steps: int, loss: float) -> None:
        self.losses.append(loss)
        self.steps = steps or self.steps
        self.emit("train", step, self.steps, loss, 0.1 + 0.8 * step / max(self.steps, 1))

    def emit(self, stage, step, steps, loss, fraction) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started if stage == "train" else 0.0
        remaining = elapsed / step * (steps - step) if stage == "train" and step else None
        self.progress(FinetuneProgress(stage, step, steps, loss, elapsed, remaining, min(1.0, fraction)))


def _stopped(settings, split, before, report, dropped) -> FinetuneResult:
    return FinetuneResult(
        model_name=settings.name,
        settings=settings,
        split=split,
        before=before,
        after=None,
        changes=None,
        seconds=time.perf_counter() - report.started,
        steps=len(report.losses),
        losses=tuple(report.losses),
        promoted=False,
        reason="Stopped before the end: nothing was saved.",
        stopped=True,
        saved=False,
        path=None,
        dropped=dropped,
    )


def _reason(before: RetrievalResult, after: RetrievalResult, promoted: bool) -> str:
    change = f"held-out MRR@{after.k} {before.mrr:.3f} → {after.mrr:.3f}, accuracy@1 {before.accuracy:.1%} → {after.accuracy:.1%}"
    if promoted:
        return f"Promoted: {change}."
    return (
        f"Not promoted: {change} — the fine-tuned model retrieves the held-out queries worse than its base; "
        "it is kept aside and used only if you keep it anyway."
    )


def _card(settings, pairs, split, before, after, seconds, steps, losses, weights, promoted, reason) -> dict:
    from ..benchmarking.machine import describe, machine_info, package_version

    return {
        "kind": "finetuned",
        "name": settings.name,
        "base": settings.base,
        "n_pairs": len(pairs),
        "pairs_sha256": pairs.digest,
        "n_train": len(split.train),
        "n_held_out": len(split.test),
        "n_corpus": len(split.corpus),
        "loss": settings.loss,
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate,
        "held_out": settings.held_out,
        "matryoshka_dims": list(settings.matryoshka_dims or []),
        "max_seq_length_training": settings.max_seq_length,
        "random_state": settings.random_state,
        "steps": steps,
        "train_seconds": round(seconds, 2),
        "final_loss": round(losses[-1], 6) if losses else None,
        "before": heldout.figures(before),
        "after": heldout.figures(after),
        "promoted": promoted,
        "reason": reason,
        "weights_sha256": weights,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": describe(machine_info()),
        "versions": {p: package_version(p) for p in ("sentence-transformers", "transformers", "torch")},
    }


def _default_name(base: str, pairs: Pairs) -> str:
    stem = base.rsplit("/", 1)[-1][:40]
    return f"{stem}-ft-{pairs.digest[:8]}"


def _check_rate(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"learning_rate must be a number between 0 and 1 (e.g. 3e-5), got {value!r}.")
    return float(value)


def _check_dims(dims, identity) -> tuple[int, ...] | None:
    if dims is None:
        return None
    if isinstance(dims, (str, bytes)):
        raise TypeError("matryoshka_dims must be a list of dimensions such as [384, 256, 128], got a string.")
    out = []
    for i, d in enumerate(dims):
        check_positive_int(d, f"matryoshka_dims[{i}]")
        out.append(int(d))
    if not out:
        return None
    if identity is not None:
        full = identity[1]
        if max(out) > full:
            raise ValueError(f"matryoshka_dims must be at most the model's {full} dimensions, got {max(out)}.")
        out.append(full)
    return tuple(sorted(set(out), reverse=True))


def duration(seconds: float) -> str:
    """Seconds for people: "42 s", "3 min 05 s"."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
