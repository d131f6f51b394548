"""The thread and batch-size sweep: which settings are fastest for each model and backend, here.

After the main rows are measured, each row that finished is loaded again and timed with every
thread count of :func:`thread_counts` (1, 2, 4, … up to the cores this process may use) and
every batch size of :data:`BATCH_SIZES`: a warm-up batch, then the run's repeats over the
corpus, median reported. Thread counts apply to torch backends (``torch.set_num_threads``); an
ONNX session keeps the threads it was built with, so for other backends only the batch size
varies (``threads`` is empty). Progress and Stop work as in the rest of the run.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pandas as pd

from . import loading
from .results import SWEEP_COLUMNS, BenchmarkSettings, Record, typed

__all__ = ["BATCH_SIZES", "Sweep", "thread_counts"]

#: Batch sizes the sweep tries.
BATCH_SIZES: tuple[int, ...] = (16, 32, 64, 128)


def thread_counts(cores: int | None = None) -> tuple[int, ...]:
    """1, 2, 4, … below ``cores``, then ``cores`` (default: the cores this process may use).

    >>> thread_counts(6)
    (1, 2, 4, 6)
    >>> thread_counts(1)
    (1,)
    """
    from .machine import usable_cores

    cores = max(1, int(cores if cores is not None else usable_cores()))
    counts, n = [], 1
    while n < cores:
        counts.append(n)
        n *= 2
    return (*counts, cores)


def _threaded(backend: str) -> bool:
    return backend.startswith(("torch", "cuda")) or backend == "sentence-transformers"


class Sweep:
    """The sweep of one :class:`~embedlab.benchmarking.measure.Measurement` (which reports its progress)."""

    def __init__(self, run, settings: BenchmarkSettings):
        self.run = run
        self.settings = settings
        self.threads = thread_counts()
        self.batches = BATCH_SIZES
        self.rows: list[dict] = []

    def steps(self, n_rows: int) -> int:
        """Progress steps the sweep adds (one per setting per row, at most)."""
        return n_rows * len(self.threads) * len(self.batches)

    def steps_for(self, records: list[Record]) -> int:
        """Progress steps the sweep of these measured rows takes (one per setting)."""
        return sum(
            (len(self.threads) if _threaded(r.backend) else 1) * len(self.batches) for r in records if r.status == "ok"
        )

    def table(self) -> pd.DataFrame:
        """What was swept so far, one row per setting; ``fastest`` marks each model and backend's best."""
        frame = pd.DataFrame(self.rows, columns=list(SWEEP_COLUMNS))
        frame["fastest"] = False
        if len(frame):
            best = frame.groupby("name")["texts_per_s"].transform("max")
            frame["fastest"] = frame["texts_per_s"] == best
        return typed(frame, SWEEP_COLUMNS)

    def run_rows(self, records: list[Record], names: list[str]) -> bool:
        """Sweep every record that finished (``names``: their row names, in the same order); False if stopped."""
        for index, (record, name) in enumerate(zip(records, names, strict=True)):
            if record.status != "ok":
                continue
            if not self._sweep_one(index, record, name):
                return False
        return True

    def _sweep_one(self, index: int, record: Record, name: str) -> bool:
        """Sweep one row; False when the run was asked to stop."""
        from ..models.encoding import encode

        run, texts, repeats = self.run, self.run.texts, self.settings.repeats
        threaded = _threaded(record.backend)
        counts = self.threads if threaded else (None,)
        total = len(counts) * len(self.batches)
        backend = record.backend if record.backend in loading.available(record.model) else record.requested
        try:
            embedder = loading.load_fresh(record.model, backend)
        except Exception:  # it loaded a moment ago; if it cannot now, its row simply has no sweep
            return True
        torch = None
        if threaded:
            import torch  # imported here, not at module level: it costs about a second

            restore = torch.get_num_threads()
        try:
            step = 0
            for threads in counts:
                if torch is not None:
                    torch.set_num_threads(threads)
                for batch in self.batches:
                    if run.stop_requested():
                        return False
                    step += 1
                    words = f"{threads} thread(s), batch size {batch}" if threads else f"batch size {batch}"
                    run._emit(index, "sweep", f"sweep: {words} ({step} of {total})")
                    encode(texts[:batch], embedder, batch_size=batch, use_cache=False)
                    times = []
                    for _ in range(repeats):
                        gc.collect()
                        started = time.perf_counter()
                        encode(texts, embedder, batch_size=batch, use_cache=False)
                        times.append(time.perf_counter() - started)
                    median = float(np.median(times))
                    self.rows.append(
                        {
                            "name": name,
                            "model": record.model,
                            "backend": record.backend,
                            "threads": threads,
                            "batch_size": batch,
                            "encode_median_s": median,
                            "texts_per_s": len(texts) / median if median > 0 else float("nan"),
                        }
                    )
                    run._done_steps += 1
        finally:
            if torch is not None:
                torch.set_num_threads(restore)
            del embedder
            gc.collect()
        return True
