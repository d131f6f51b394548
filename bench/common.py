"""Shared pieces of the benchmark scripts: data, timing, figures, the command line.

Every script measures embedlab and the peer a user would otherwise reach for in the same
process, interleaved (peer, embedlab, peer, embedlab, …), so load from other programs falls on
both alike. Figures are medians with their spread (min–max) over the repeats.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# -- data -----------------------------------------------------------------------------------------

_SUBJECTS = (
    "The support team",
    "A new user",
    "The database",
    "Our quarterly report",
    "The mobile app",
    "A customer in Berlin",
    "The training run",
    "My manager",
    "The search index",
    "A junior developer",
    "The delivery van",
    "The hospital",
    "A local bakery",
    "The city council",
    "The football club",
    "A research group",
    "The weather service",
    "An online course",
    "The payment system",
    "A small startup",
)
_VERBS = (
    "reported",
    "fixed",
    "delayed",
    "improved",
    "cancelled",
    "reviewed",
    "launched",
    "questioned",
    "migrated",
    "celebrated",
    "rejected",
    "measured",
    "scheduled",
    "explained",
    "forgot",
    "approved",
)
_OBJECTS = (
    "the login problem",
    "a late invoice",
    "the holiday schedule",
    "an unexpected outage",
    "the new pricing page",
    "a memory leak",
    "the annual budget",
    "a customer complaint",
    "the onboarding guide",
    "a flaky test",
    "the recipe for sourdough",
    "a broken elevator",
    "the marketing plan",
    "a slow query",
    "the travel policy",
    "a security warning",
)
_TAILS = (
    "after the meeting on Tuesday",
    "because nobody had time",
    "with surprising results",
    "before the deadline",
    "for the third time this month",
    "without telling anyone",
    "while the servers were busy",
    "to everyone's relief",
    "during the storm",
    "in record time",
)


def sentences(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct, realistic-length English sentences (12-20 words); a seed gives a fresh set."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        s, v, o, t = (rng.integers(len(p)) for p in (_SUBJECTS, _VERBS, _OBJECTS, _TAILS))
        out.append(f"{_SUBJECTS[s]} {_VERBS[v]} {_OBJECTS[o]} {_TAILS[t]} (note {seed}-{i}).")
    return out


def clustered(n: int, dim: int = 384, *, clusters: int = 20, spread: float = 1.3, seed: int = 0):
    """L2-normalised float32 vectors in Gaussian clusters (as in shared/notes/performance-baselines.md).

    ``spread`` 1.3 makes PCA's trustworthiness@10 ~0.82, as for the baselines' data.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    x = centres[labels] + spread * rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels


def trustworthiness(x: np.ndarray, y: np.ndarray, k: int = 10, block: int = 1024) -> float:
    """scikit-learn's ``trustworthiness(x, y, n_neighbors=k)`` (Euclidean), in row blocks.

    scikit-learn holds an n × n distance matrix and an n × n rank matrix (6 GB at 20,000 points);
    this counts, for each of a point's k nearest neighbours in ``y``, how many points are nearer
    to it in ``x`` — the same rank, in bounded memory. ``bench/tsne.py`` checks it against
    scikit-learn on a small input.
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(x)
    x = np.asarray(x, dtype=np.float32)
    near_y = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    squared = (x * x).sum(1)
    total = 0
    for start in range(0, n, block):
        stop = min(n, start + block)
        d = squared[start:stop, None] + squared[None, :] - 2 * (x[start:stop] @ x.T)
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf
        theirs = np.take_along_axis(d, near_y[start:stop], 1)
        for j in range(k):
            ranks = (d < theirs[:, j : j + 1]).sum(1) + 1 - k
            total += int(ranks[ranks > 0].sum())
    return 1.0 - total * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


# -- timing ---------------------------------------------------------------------------------------


def timed(call: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of one call, and its result."""
    gc.collect()
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


@dataclass
class Samples:
    """Repeated measurements of one thing, in seconds (or another ``unit``)."""

    values: list[float] = field(default_factory=list)
    unit: str = "s"

    def add(self, value: float) -> float:
        self.values.append(float(value))
        return value

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def summary(self) -> dict:
        if not self.values:
            return {"median": None, "min": None, "max": None, "n": 0, "unit": self.unit}
        return {
            "median": self.median,
            "min": min(self.values),
            "max": max(self.values),
            "n": len(self.values),
            "unit": self.unit,
        }


def interleaved(calls: dict[str, Callable[[], object]], repeats: int, *, warmup: bool = True) -> dict[str, Samples]:
    """Time each call ``repeats`` times, taking turns; an untimed first round when ``warmup``."""
    if warmup:
        for call in calls.values():
            call()
    samples = {name: Samples() for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].add(timed(call)[0])
    return samples


def peak_rss_mb() -> float:
    """This process's peak resident memory (since start, or since :func:`reset_peak`), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def reset_peak() -> bool:
    """Start the peak over from the current resident memory (Linux); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def fresh_home() -> Path:
    """Point ``$EMBEDLAB_HOME`` at a new empty folder (an empty persistent cache)."""
    path = Path(tempfile.mkdtemp(prefix="embedlab-bench-"))
    os.environ["EMBEDLAB_HOME"] = str(path)
    return path


# -- figures --------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One row of the results table.

    ``ratio`` is peer time ÷ embedlab time (higher is better for embedlab) when there is a peer;
    ``met`` says whether the target holds. ``extra`` holds anything else worth keeping.
    """

    id: str
    figure: str
    embedlab: dict
    target: str
    met: bool | None
    peer_name: str = ""
    peer: dict | None = None
    ratio: float | None = None
    extra: dict = field(default_factory=dict)


def figure(
    id: str,
    name: str,
    ours: Samples,
    *,
    target: str,
    met: bool | None,
    peer: Samples | None = None,
    peer_name: str = "",
    **extra,
) -> Figure:
    ratio = None
    if peer is not None and ours.values and peer.values and ours.median > 0:
        ratio = peer.median / ours.median
    return Figure(
        id,
        name,
        ours.summary(),
        target,
        None if met is None else bool(met),
        peer_name,
        None if peer is None else peer.summary(),
        ratio,
        extra,
    )


def machine() -> dict:
    """What the figures were taken on."""
    import numpy

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": None if memory is None else round(memory, 1),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# -- the command line of each script --------------------------------------------------------------


def main(run: Callable[[bool], list[Figure]]) -> None:
    """``python -m bench.<script> [--quick] [--json PATH]``: run, print, and save the figures."""
    parser = argparse.ArgumentParser(description=(sys.modules["__main__"].__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a smoke test)")
    parser.add_argument("--json", type=Path, help="write the figures to this file as JSON")
    args = parser.parse_args()
    figures = run(args.quick)
    records = [asdict(f) for f in figures]
    for record in records:
        print(one_line(record), flush=True)
    if args.json:
        args.json.write_text(json.dumps(records, indent=2))


def one_line(record: dict) -> str:
    ours = record["embedlab"]
    peer = record.get("peer")
    ratio = record.get("ratio")
    parts = [f"{record['figure']}: embedlab {show(ours)}"]
    if peer:
        parts.append(f"{record['peer_name']} {show(peer)}")
    if ratio is not None:
        parts.append(f"ratio {ratio:.2f}×")
    met = record["met"]
    parts.append(f"target {record['target']} → {'met' if met else 'MISSED' if met is False else 'n/a'}")
    return " · ".join(parts)


def show(samples: dict | None) -> str:
    """'1.23 s (1.10–1.40, n=5)'."""
    if not samples or samples.get("median") is None:
        return "—"
    unit = samples.get("unit", "s")
    value, low, high = samples["median"], samples["min"], samples["max"]
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms ({low * 1000:.1f}–{high * 1000:.1f}, n={samples['n']})"
    return f"{value:.3g} {unit} ({low:.3g}–{high:.3g}, n={samples['n']})"
