"""distil(): a static model made from a transformer by model2vec, for speed.

model2vec's ``distill`` embeds every token of the base model's vocabulary once, reduces the
vectors with PCA and keeps them as a table: encoding becomes a lookup and a mean, hundreds of
times faster than the transformer, at some cost in quality. The result is judged on the same
held-out pairs as a fine-tune (when pairs are given) and timed against its base on the same texts.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import seed
from ..models import catalog, user
from ..models.catalog import load_model
from ..models.embedders import Embedder, Model2VecEmbedder
from ..models.entries import DEFAULT_MODEL
from ..retrieval.evaluation import RetrievalResult, summary_table
from ..runs import check_callback
from ..storage.folders import replace_folder
from ..validation import check_positive_int
from . import heldout
from .cards import write_card
from .pairs import Split, check_pairs, split_pairs
from .quiet import no_bars
from .saved import check_new_name, saving

#: Texts timed for the speed-up (the held-out corpus, or the lesson's sentences, up to this many).
SPEED_TEXTS = 500

__all__ = ["DistilProgress", "DistilResult", "distil"]


@dataclass(frozen=True)
class DistilProgress:
    """Where a distillation is: ``stage`` is "distil", "judge", "speed" or "save"."""

    stage: str
    fraction: float

    @property
    def message(self) -> str:
        return {
            "distil": "Distilling: embedding the base model's vocabulary (20-60 s for MiniLM on 2 cores)…",
            "judge": "Judging both models on the held-out queries…",
            "speed": "Timing both models on the same texts…",
            "save": "Saving the model…",
        }.get(self.stage, self.stage)

    def results(self) -> None:
        """Nothing half-made is kept (for ``ui.runs``)."""
        return None


@dataclass(frozen=True)
class DistilResult:
    """A distilled static model: how fast, and how good on the held-out queries.

    Attributes
    ----------
    model_name : str
        Usable as ``embedlab.encode(texts, model=model_name)`` once ``saved``.
    base : str
    pca_dims : int or None
    dim : int
        Its vectors' length.
    seconds : float
        Distillation time.
    before, after : RetrievalResult or None
        Base and distilled model on the held-out queries (None without pairs).
    base_texts_per_second, texts_per_second : float
        Encoding speed of each on the same texts (no cache).
    speedup : float
        ``texts_per_second / base_texts_per_second``.
    split : Split or None
    saved : bool
        False when stopped (nothing saved).
    path : pathlib.Path or None
    """

    model_name: str
    base: str
    pca_dims: int | None
    dim: int
    seconds: float
    before: RetrievalResult | None = field(repr=False)
    after: RetrievalResult | None = field(repr=False)
    base_texts_per_second: float
    texts_per_second: float
    speedup: float
    split: Split | None = field(repr=False)
    saved: bool
    path: Path | None

    def table(self):
        """Base and distilled on the held-out queries, one row each (empty without pairs)."""
        return summary_table([r for r in (self.before, self.after) if r is not None])


def distil(
    pairs=None,
    *,
    base: str = DEFAULT_MODEL,
    name: str | None = None,
    pca_dims: int | None = 256,
    held_out: float = 0.2,
    random_state: int = 0,
    progress: Callable[[DistilProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DistilResult:
    """Distil ``base`` into a static model with model2vec; judge and time it.

    Parameters
    ----------
    pairs : list of (query, positive) tuples or a DataFrame, optional
        When given, both models are judged on the held-out part (the same split
        :func:`embedlab.tuning.finetune` makes with the same ``held_out`` and ``random_state``).
    base : str, default "all-MiniLM-L6-v2"
        A sentence-transformers model (a catalog transformer or one fine-tuned here).
    name : str, optional
        Default ``<base>-static-<pca_dims>``. A distilled model of that name is replaced.
    pca_dims : int or None, default 256
        Dimensions kept by PCA (None keeps the base's).

    Returns
    -------
    DistilResult

    Raises
    ------
    TypeError, ValueError
        Naming the argument; :class:`embedlab.ModelUnavailable` for a base that cannot be distilled here.
    """
    split = None
    if pairs is not None:
        split = split_pairs(check_pairs(pairs), held_out=held_out, random_state=random_state)
    if pca_dims is not None:
        pca_dims = check_positive_int(pca_dims, "pca_dims")
    check_callback(progress, "progress")
    check_callback(should_stop, "should_stop")
    stem = base.rsplit("/", 1)[-1][:40]
    name = check_new_name(name if name is not None else f"{stem}-static-{pca_dims or 'full'}", "distilled")
    folder = catalog.trainable_folder(base)
    identity = catalog.cached_identity(base)
    if pca_dims is not None and identity is not None and pca_dims > identity[1]:
        raise ValueError(f"pca_dims must be at most the base model's {identity[1]} dimensions, got {pca_dims}.")

    def emit(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(DistilProgress(stage, fraction))

    def stopped() -> bool:
        return should_stop is not None and bool(should_stop())

    from model2vec.distill import distill as model2vec_distill

    emit("distil", 0.05)
    started = time.perf_counter()
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    with no_bars():
        static = model2vec_distill(model_name=str(folder), pca_dims=pca_dims, device="cpu")
    seconds = time.perf_counter() - started
    result = dict(model_name=name, base=base, pca_dims=pca_dims, seconds=seconds, split=split)
    if stopped():
        return DistilResult(
            **result,
            dim=0,
            before=None,
            after=None,
            base_texts_per_second=0.0,
            texts_per_second=0.0,
            speedup=0.0,
            saved=False,
            path=None,
        )
    root = user.folder_for("distilled", name).parent
    with saving(root):
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{name}-distilling-", dir=root))
    try:
        with saving(root):
            static.save_pretrained(str(work))
        weights = user.weights_sha256(work)
        embedder = Model2VecEmbedder(name, work, version=weights[:16])
        base_model = load_model(base)
        before = after = None
        if split is not None:
            emit("judge", 0.6)
            before = heldout.evaluate(split, base_model)
            after = heldout.evaluate(split, embedder)
        emit("speed", 0.8)
        texts = list(split.corpus[:SPEED_TEXTS]) if split is not None else list(seed.SENTENCES)
        base_speed = _texts_per_second(base_model, texts)
        speed = _texts_per_second(embedder, texts)
        result.update(
            dim=embedder.dim,
            before=before,
            after=after,
            base_texts_per_second=base_speed,
            texts_per_second=speed,
            speedup=speed / base_speed,
        )
        if stopped():
            return DistilResult(**result, saved=False, path=None)
        emit("save", 0.95)
        card = _card(name, base, pca_dims, split, before, after, seconds, weights, embedder, base_speed, speed)
        with saving(root):
            write_card(work, card)
            path = replace_folder(user.folder_for("distilled", name), lambda _: work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    catalog.forget(name)
    return DistilResult(**result, saved=True, path=path)


def _texts_per_second(model: Embedder, texts: Sequence[str]) -> float:
    """Texts per second encoding ``texts`` with no cache: best of two runs after a warm-up."""
    model.encode(list(texts[:8]))
    best = min(_timed(model, texts) for _ in range(2))
    return len(texts) / max(best, 1e-9)


def _timed(model: Embedder, texts: Sequence[str]) -> float:
    started = time.perf_counter()
    model.encode(list(texts))
    return time.perf_counter() - started


def _card(name, base, pca_dims, split, before, after, seconds, weights, embedder, base_speed, speed) -> dict:
    from ..benchmarking.machine import describe, machine_info, package_version

    card = {
        "kind": "distilled",
        "name": name,
        "base": base,
        "pca_dims": pca_dims,
        "dim": embedder.dim,
        "max_tokens": embedder.max_tokens,
        "vocabulary": int(embedder.model.embedding.shape[0]),
        "seconds": round(seconds, 2),
        "base_texts_per_second": round(base_speed, 1),
        "texts_per_second": round(speed, 1),
        "speedup": round(speed / base_speed, 2),
        "weights_sha256": weights,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": describe(machine_info()),
        "versions": {p: package_version(p) for p in ("model2vec", "sentence-transformers")},
    }
    if split is not None and before is not None and after is not None:
        card.update(
            n_pairs=len(split.train) + len(split.test),
            n_held_out=len(split.test),
            n_corpus=len(split.corpus),
            random_state=split.random_state,
            before=heldout.figures(before),
            after=heldout.figures(after),
        )
    return card
