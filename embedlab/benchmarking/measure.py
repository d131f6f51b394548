"""The benchmark's loop: each (model, backend) row loaded fresh, warmed up, timed, checked against
torch-fp32; the optional thread and batch-size sweep; the run saved as it goes.

:func:`embedlab.benchmark` (in :mod:`~embedlab.benchmarking.run`) checks the arguments and runs a
:class:`Measurement`. Progress is reported *before* each step starts ("loading", "warming up",
"repeat 2 of 3", …), so the words on screen name the step that is running, and every event's
``results()`` holds every step finished before it.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from ..models.catalog import release_memory
from ..runs import ModelRun, reason
from . import loading
from .agreement import AgreementSet, agreement
from .results import BenchmarkRun, BenchmarkSettings, Record, table_of
from .sweep import Sweep

__all__ = ["WAITING", "Measurement", "choice_dict"]

# One benchmark at a time per process: two at once would slow each other down and both
# would report wrong figures. A second caller waits (and may stop while waiting).
RUN_LOCK = threading.Lock()
WAITING = "Waiting for another benchmark in this process to finish (two at once would skew both)"


class Measurement(ModelRun[BenchmarkRun]):
    """One benchmark run over ``rows`` ((model, backend asked for) pairs), reporting progress.

    With a ``store``, the run is saved as "running" when it starts, again after every row, and
    at the end as "finished" or "stopped"; when the caller's thread is torn down mid-run (a
    reload or a closed tab ends a Streamlit script with an exception raised in ``progress``)
    it is saved as "interrupted" with what finished, before the exception goes on.
    """

    def __init__(
        self,
        texts: list[str],
        settings: BenchmarkSettings,
        rows: list[tuple[str, str]],
        checks: AgreementSet,
        *,
        progress=None,
        should_stop=None,
        store=None,
        label: str = "",
    ):
        labels = [model if backend == "auto" else f"{model} · {backend}" for model, backend in rows]
        super().__init__(labels, progress=progress, should_stop=should_stop)
        self.rows = rows
        self.texts = texts
        self.settings = settings
        self.checks = checks
        self.store = store
        self.label = label
        self.run_id: int | None = None
        self.records: list[Record] = []
        self.current: Record | None = None
        self.machine: dict = {}
        self.choices: dict[str, dict] = {}
        self.sweep = Sweep(self, settings) if settings.sweep else None
        self._steps_per_row = 2 + int(settings.warmup) + settings.repeats  # load, warm-up, repeats, agreement
        self._total = len(rows) * self._steps_per_row + (self.sweep.steps(len(rows)) if self.sweep else 0)
        self._done_steps = 0

    # ------------------------------------------------------------------ reporting
    def _emit(self, index: int, stage: str, detail: str) -> None:
        self.emit(index, stage, detail, fraction=self._done_steps / max(self._total, 1))

    def results(self, *, partial: bool = False) -> BenchmarkRun:
        """The run so far. ``partial``: as if it ended now (the row being measured is marked
        "stopped" with the repeats it finished, and ``stopped`` is True unless every row is done)."""
        records, stopped = self.records, self.stopped
        if partial:
            current = self.current
            stopped = stopped or current is not None or len(records) < len(self.rows)
            if current is not None and current.status == "ok":
                records = [
                    r if r is not current else replace(r, status="stopped", times=list(r.times)) for r in records
                ]
        table, chosen = table_of(
            records,
            n_texts=len(self.texts),
            batch_size=self.settings.batch_size,
            baseline=self.settings.baseline,
            noisy_above=self.settings.noisy_above,
        )
        return BenchmarkRun(
            table=table,
            machine=dict(self.machine),
            settings=self.settings,
            times={name: [float(t) for t in r.times] for name, r in zip(table["name"], records, strict=True)},
            baseline=chosen,
            stopped=stopped,
            id=self.run_id,
            label=self.label,
            sweep=self.sweep.table() if self.sweep is not None else None,
            choices=dict(self.choices),
        )

    def _save(self, state: str) -> None:
        if self.store is None:
            return
        run = self.results(partial=state != "finished" and state != "stopped")
        if self.run_id is None:
            self.run_id = self.store.save(run, label=self.label, state=state)
        else:
            self.store.update(self.run_id, run, state=state)

    # ------------------------------------------------------------------ the loop
    def execute(self) -> BenchmarkRun:
        while not RUN_LOCK.acquire(timeout=0.25):
            self._emit(0, "waiting", WAITING)
            if self.stop_requested():
                return self.results()
        threads, restore = self.settings.threads, None
        try:
            from .machine import machine_info

            if threads is not None:
                import torch  # imported here, not at module level: it costs about a second

                restore = torch.get_num_threads()
                torch.set_num_threads(threads)
            self.settings = replace(self.settings, started=_now())
            # torch is imported only if a model needs it; its thread count is read at the end
            self.machine = machine_info(torch_threads=False)
            self._save("running")
            try:
                self._loop()
            except BaseException:  # the caller's thread torn down (a reload, a closed tab): keep what finished
                with contextlib.suppress(Exception):  # the exception that ended the run matters more
                    self._save("interrupted")
                raise
            self.settings = replace(self.settings, finished=_now())
            if self.machine.get("torch_threads") is None and "torch" in sys.modules:
                self.machine["torch_threads"] = int(sys.modules["torch"].get_num_threads())
            self._save("stopped" if self.stopped else "finished")
        finally:
            if restore is not None:
                import torch

                torch.set_num_threads(restore)
            RUN_LOCK.release()
        return self.results()

    def _loop(self) -> None:
        for index, (name, backend) in enumerate(self.rows):
            if self.stop_requested():
                return
            self._done_steps = index * self._steps_per_row
            self._measure(index, name, backend)
            self.current = None
            self._done_steps = (index + 1) * self._steps_per_row
            self._save("running")  # before the event: a caller torn down in it keeps this row
            self._emit(index, "done", "done")
        if self.sweep is not None and not self.stop_requested():
            self._total = self._done_steps + self.sweep.steps_for(self.records)
            if self.sweep.run_rows(self.records, list(self.results().table["name"])):
                self._done_steps = self._total
                self._emit(len(self.rows) - 1, "done", "sweep done")

    def _measure(self, index: int, name: str, backend: str) -> None:
        record = Record(model=name, requested=backend)
        self.records.append(record)
        self.current = record
        if backend == "auto" and loading.available(name):
            self._emit(index, "choose", "choosing the backend for this machine")
            try:
                choice = loading.choose(name)
            except Exception as error:  # the row says why; nothing else is measured for it
                record.status, record.error = "failed", f"could not load: {reason(error)}"
                return
            if choice is not None:
                record.backend = loading.auto_backend(name) or str(choice.backend)
                self.choices[name] = choice_dict(choice)
        self._emit(index, "load", "loading")
        embedder = self._load(record)
        self._done_steps += 1
        if embedder is None:
            return
        try:
            self._describe(record, embedder)
            self._encode(index, record, embedder)
            if record.status == "ok":
                self._agree(index, record, embedder)
        except Exception as error:  # a model that fails while encoding: its row says why
            record.status = "failed"
            record.error = f"encoding failed: {reason(error)}"
        finally:
            del embedder
            release_memory()  # collected and handed back: a server that benchmarked stays its size

    def _load(self, record: Record):
        asked = record.backend or record.requested
        try:
            started = time.perf_counter()
            library = loading.prepare(record.model, asked)
            record.backend = record.backend or ("" if asked == "auto" else asked) or library
            record.prepare_s = time.perf_counter() - started
            gc.collect()
            before = loading.rss()
            started = time.perf_counter()
            embedder = loading.load_fresh(record.model, asked)
            record.load_s = time.perf_counter() - started
            record.load_mb = max(0.0, (loading.rss() - before) / loading.MB)
        except Exception as error:  # whatever the loader raises, the row says why in a sentence
            record.status = "failed"
            record.error = f"could not load: {reason(error)}"
            return None
        return embedder

    def _describe(self, record: Record, embedder) -> None:
        from ..models.catalog import list_models
        from ..models.entries import canonical_name

        record.backend = str(getattr(embedder, "backend", "") or record.backend)
        record.dim = int(embedder.dim)
        record.parameters = embedder.parameters
        record.max_tokens = int(embedder.max_tokens)
        info = {m.name: m for m in list_models()}.get(canonical_name(record.model))
        record.size_bytes = info.size_bytes if info is not None else None
        counts = np.asarray(embedder.token_counts(self.texts))
        record.tokens = int(np.minimum(counts, embedder.max_tokens).sum())

    def _encode(self, index: int, record: Record, embedder) -> None:
        from ..models.encoding import encode

        settings = self.settings
        memory = loading.PeakMemory()
        if settings.warmup:
            if self.stop_requested():
                record.status = "stopped"
                return
            self._emit(index, "warmup", "warming up")
            started = time.perf_counter()
            encode(self.texts[: settings.batch_size], embedder, batch_size=settings.batch_size, use_cache=False)
            record.warmup_s = time.perf_counter() - started
            self._done_steps += 1
        for repeat in range(settings.repeats):
            if self.stop_requested():
                record.status = "stopped"
                break
            self._emit(index, "encode", f"repeat {repeat + 1} of {settings.repeats}")
            gc.collect()
            started = time.perf_counter()
            encode(self.texts, embedder, batch_size=settings.batch_size, use_cache=False)
            record.times.append(time.perf_counter() - started)
            record.encode_mb = memory.added_mb()
            self._done_steps += 1

    def _agree(self, index: int, record: Record, embedder) -> None:
        """Cosines and top-1 agreement with the same model on torch-fp32 (1 for torch-fp32 itself)."""
        if record.backend == loading.REFERENCE:
            record.cosine_mean = record.cosine_min = record.top1_agreement = 1.0
            record.top1_queries = len(self.checks.queries)
            return
        if loading.REFERENCE not in loading.available(record.model) or self.stop_requested():
            return
        self._emit(index, "agreement", f"comparing with {loading.REFERENCE}")
        texts = self.checks.all_texts
        found = agreement(
            embedder.encode(texts, batch_size=self.settings.batch_size),
            loading.reference_vectors(record.model, texts),
            self.checks,
        )
        record.cosine_mean, record.cosine_min = found.cosine_mean, found.cosine_min
        record.top1_agreement, record.top1_queries = found.top1_agreement, found.top1_queries


def choice_dict(choice) -> dict:
    """A ``BackendChoice`` as the plain values kept with the run: the chosen ``backend``, the
    ``reason``, and its calibration figures: ``speedup`` over torch-fp32, ``agreement`` (mean
    cosine), ``min_cosine``, ``top1_unchanged``, ``calibrated_at``."""
    backend = str(choice.backend)

    def of(values):
        return values.get(backend) if isinstance(values, dict) else None

    speeds = getattr(choice, "texts_per_second", None) or {}
    reference = speeds.get(loading.REFERENCE) if isinstance(speeds, dict) else None
    mine = of(speeds)
    return {
        "backend": backend,
        "reason": str(getattr(choice, "reason", "") or ""),
        "speedup": float(mine) / float(reference) if mine and reference else None,
        "agreement": of(getattr(choice, "agreement", None)),
        "min_cosine": of(getattr(choice, "min_cosine", None)),
        "top1_unchanged": of(getattr(choice, "top1_unchanged", None)),
        "calibrated_at": str(getattr(choice, "calibrated_at", "") or ""),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
