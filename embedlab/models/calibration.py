"""Calibration: time a model's backends on this machine and keep the fastest that agrees with torch-fp32.

:func:`calibrate` is what :func:`embedlab.models.backends.choose_backend` runs once per model and
machine. The calibration set is the lesson's seed (sentences, traces, queries) and some Debian
package summaries and descriptions (the packaged example pairs; ``$EMBEDLAB_CALIBRATION_TEXTS``
says how many, default :data:`DEBIAN_TEXTS`). Every backend is loaded, warmed up, then timed in
turns (so load from other programs falls on all alike), up to :data:`ROUNDS` rounds or
:data:`BUDGET_S` seconds each; its speed is its best round. Then :func:`decide` applies the rule.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from . import builders

log = logging.getLogger("embedlab")

#: The reference every backend is checked against, and ``auto``'s answer until a choice is recorded.
REFERENCE = "torch-fp32"
CALIBRATION_TEXTS_ENV = "EMBEDLAB_CALIBRATION_TEXTS"
#: Debian texts added to the seed's (half summaries, half descriptions cut at :data:`CUT` characters).
DEBIAN_TEXTS = 48
CUT = 300
ROUNDS = 3
#: Seconds of timed encoding per backend after which no further round is run (one always is).
BUDGET_S = 3.0
#: Mean cosine to torch-fp32 a float backend (bf16, fp32, fp16) must keep.
CLOSE_COSINE = 0.999
#: Mean cosine to torch-fp32 an int8 backend must keep, with every seed query's top-1 trace unchanged.
INT8_COSINE = 0.99
QUANTISED = ("onnx-int8",)
#: A backend displaces torch-fp32 only when at least this much faster (closer calls are noise).
MIN_SPEEDUP = 1.1


@dataclass(frozen=True)
class BackendChoice:
    """The backend ``auto`` runs ``model`` on, on this machine, and the measurements behind it.

    :func:`calibrate` makes it; :mod:`embedlab.models.backends` records it per machine and reads it back.

    Attributes
    ----------
    model, backend : str
        The model and the backend chosen for it.
    reason : str
        One sentence: why this backend (its speed against torch-fp32, and why faster ones were left).
    texts_per_second : dict of str to float
        Calibration speed of each backend tried.
    agreement, min_cosine : dict of str to float
        Mean and minimum cosine of each backend's vectors to torch-fp32's, on the calibration texts.
    top1_unchanged : dict of str to bool
        Whether each backend finds the same top-1 trace as torch-fp32 for every query of the lesson's seed.
    machine : str
        :func:`~embedlab.models.backends.machine_fingerprint` when it was chosen.
    calibrated_at : str
        ISO time of the calibration ("" when there was nothing to calibrate).
    """

    model: str
    backend: str
    reason: str
    texts_per_second: dict[str, float] = field(default_factory=dict)
    agreement: dict[str, float] = field(default_factory=dict)
    min_cosine: dict[str, float] = field(default_factory=dict)
    top1_unchanged: dict[str, bool] = field(default_factory=dict)
    machine: str = ""
    calibrated_at: str = ""


def calibration_texts(n_debian: int | None = None) -> list[str]:
    """The seed's texts and ``n_debian`` Debian texts (default ``$EMBEDLAB_CALIBRATION_TEXTS`` or
    :data:`DEBIAN_TEXTS`): half package summaries, half descriptions cut at :data:`CUT` characters."""
    from .. import seed
    from ..tuning.pairs import example_pairs

    if n_debian is None:
        n_debian = int(os.environ.get(CALIBRATION_TEXTS_ENV) or DEBIAN_TEXTS)
    queries, traces = seed_retrieval()
    pairs = example_pairs(max(n_debian, 0) // 2 + 1)
    debian = [q for q, _ in pairs] + [d[:CUT] for _, d in pairs]
    texts = [*seed.SENTENCES, *seed.TRACE_TEXTS, *queries, *traces, *debian[: max(n_debian, 0)]]
    return list(dict.fromkeys(texts))


def seed_retrieval() -> tuple[list[str], list[str]]:
    """The lesson's queries and traces (embedlab.seed), whose top-1 an int8 backend must keep."""
    from .. import seed

    return list(seed.QUERIES), [seed.TRACE_TEMPLATE.format(**trace) for trace in seed.TRACES]


def passes(backend: str, mean_cosine: float, top1_unchanged: bool) -> str:
    """ "" when ``backend`` keeps torch-fp32's answers by the rule, else why not (a short phrase)."""
    if backend == REFERENCE:
        return ""
    if backend in QUANTISED:
        if mean_cosine < INT8_COSINE:
            return f"mean cosine {mean_cosine:.4f} < {INT8_COSINE}"
        return "" if top1_unchanged else "top-1 changed on the seed's traces"
    return "" if mean_cosine >= CLOSE_COSINE else f"mean cosine {mean_cosine:.5f} < {CLOSE_COSINE}"


def decide(
    texts_per_second: dict[str, float], agreement: dict[str, float], top1_unchanged: dict[str, bool]
) -> tuple[str, str]:
    """The backend to run and one sentence saying why: the fastest that :func:`passes`, when it is
    at least :data:`MIN_SPEEDUP` × torch-fp32's speed, else torch-fp32.

    >>> decide({"torch-fp32": 10.0, "torch-bf16": 24.0}, {"torch-fp32": 1.0, "torch-bf16": 0.99999},
    ...        {"torch-fp32": True, "torch-bf16": True})[0]
    'torch-bf16'
    """
    base = texts_per_second[REFERENCE]
    notes, good = [], [REFERENCE]
    for backend, speed in texts_per_second.items():
        if backend == REFERENCE:
            continue
        failed = passes(backend, agreement[backend], top1_unchanged[backend])
        if failed:
            notes.append(f"{backend} ({speed / base:.2f}×) left out: {failed}")
        else:
            good.append(backend)
    best = max(good, key=lambda b: texts_per_second[b])
    if best != REFERENCE and texts_per_second[best] < MIN_SPEEDUP * base:
        notes.insert(0, f"{best} only {texts_per_second[best] / base:.2f}× torch-fp32's speed (< {MIN_SPEEDUP}×)")
        best = REFERENCE
    if best == REFERENCE:
        head = "torch-fp32: no backend that keeps its answers was clearly faster"
    else:
        head = (
            f"{best}: {texts_per_second[best] / base:.2f}× torch-fp32's texts/s, "
            f"mean cosine {agreement[best]:.5f} to it"
        )
    return best, "; ".join([head, *notes]) + "."


def calibrate(name: str, backends: tuple[str, ...], *, fingerprint: str):
    """Measure ``backends`` (torch-fp32 first) for ``name`` and decide; returns
    (:class:`BackendChoice`, the chosen backend's loaded Embedder).

    A backend that fails to build or run (an export this model does not support) is left out
    and named in the reason; torch-fp32 failing raises, as loading the model would.
    """
    texts = calibration_texts()
    queries, traces = seed_retrieval()
    started = time.perf_counter()
    reference = builders.build(name, REFERENCE)
    embedders, failed = {REFERENCE: reference}, {}
    for backend in backends:
        if backend == REFERENCE:
            continue
        try:
            if backend == "torch-bf16" and hasattr(reference, "sharing_weights"):
                embedders[backend] = reference.sharing_weights(backend)
            else:
                embedders[backend] = builders.build(name, backend)
            embedders[backend].encode(texts[:8])  # warm-up: first-call costs are not its speed
        except Exception as error:  # any failure leaves the other backends to choose from
            failed[backend] = f"{type(error).__name__}: {str(error)[:120]}"
            embedders.pop(backend, None)
    reference.encode(texts[:8])
    seconds: dict[str, list[float]] = {b: [] for b in embedders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(ROUNDS):
        for backend, embedder in embedders.items():
            if seconds[backend] and sum(seconds[backend]) > BUDGET_S:
                continue
            start = time.perf_counter()
            out = embedder.encode(texts)
            seconds[backend].append(time.perf_counter() - start)
            vectors.setdefault(backend, out)
    speed = {b: len(texts) / min(s) for b, s in seconds.items()}
    cosines = {b: (vectors[b] * vectors[REFERENCE]).sum(axis=1) for b in embedders}
    top1 = {b: _top1(embedder, queries, traces) for b, embedder in embedders.items()}
    unchanged = {b: bool(np.array_equal(top1[b], top1[REFERENCE])) for b in embedders}
    agreement = {b: float(c.mean()) for b, c in cosines.items()}
    backend, reason = decide(speed, agreement, unchanged)
    if failed:
        reason = reason[:-1] + "; " + "; ".join(f"{b} failed: {why}" for b, why in failed.items()) + "."
    log.info("calibrated %s in %.1f s: %s", name, time.perf_counter() - started, reason)
    choice = BackendChoice(
        model=name,
        backend=backend,
        reason=reason,
        texts_per_second=speed,
        agreement=agreement,
        min_cosine={b: float(c.min()) for b, c in cosines.items()},
        top1_unchanged=unchanged,
        machine=fingerprint,
        calibrated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return choice, embedders[backend]


def _top1(embedder, queries: list[str], traces: list[str]) -> np.ndarray:
    # queries in one batch and traces in another, as evaluate_retrieval encodes them
    return (embedder.encode(queries) @ embedder.encode(traces).T).argmax(axis=1)
