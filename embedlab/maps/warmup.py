"""Warm-up in the background: compile UMAP's code before anyone asks for a UMAP map.

umap-learn compiles its functions with numba the first time they run in a process, and its
on-disk cache does not cover the fit: a first fit takes ~10 s below 4,096 points and 30-40 s
from 4,096 points (where the neighbour search switches to NN-descent). :func:`start` runs two
small fits — one of each kind — through :func:`embedlab.project` (so the compiled types are
exactly the ones a user's call needs) in a daemon thread, once per process, after a short
delay so the first page is drawn first. The dashboard starts it when the server runs its first
page; ``EMBEDLAB_WARMUP=0`` turns it off; ``bench/umap_first_call.py`` measures the effect.

The thread shares the interpreter lock with the server while it compiles (numba holds it), so
pages stay responsive but a little slower during those seconds; it is not niced, because a
thread that holds the lock must not be starved of CPU.

>>> from embedlab import warmup
>>> thread = warmup.start()  # doctest: +SKIP
>>> warmup.wait()             # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("embedlab")

#: Points in the warm-up fits: one below umap-learn's 4,096-point switch to NN-descent, one at it.
SIZES: tuple[int, ...] = (64, 4096)
#: Width of the warm-up vectors: as wide as sentence embeddings, so NN-descent's forest splits
#: its trees breadth-first as it does for a user's vectors (narrow rows skip that code).
DIM = 384
#: Seconds between start() and the first fit: the page that started it is drawn first.
DELAY = 5.0
#: Set to "0" to turn the warm-up off (e.g. a test server that never draws UMAP).
ENV_VAR = "EMBEDLAB_WARMUP"


@dataclass
class _State:
    thread: threading.Thread | None = None
    started: float | None = None  # start() called
    began: float | None = None  # first fit began (after the delay)
    finished: float | None = None
    error: str | None = None


_state = _State()
_lock = threading.Lock()
_done = threading.Event()


def _points(n: int) -> np.ndarray:
    """Unit vectors in a few clusters, like sentence embeddings."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, DIM))
    x = centres[rng.integers(0, 8, n)] + 0.5 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _run(sizes: tuple[int, ...], delay: float) -> None:
    from .projection import project

    time.sleep(delay)
    _state.began = time.perf_counter()
    try:
        for n in sizes:
            project(_points(n), method="umap", random_state=42)
    except Exception as error:  # a failed warm-up only means the first UMAP map is slow
        _state.error = f"{type(error).__name__}: {error}"
        log.warning("UMAP warm-up failed (the first UMAP map will be slower): %s", _state.error)
    finally:
        _state.finished = time.perf_counter()
        _done.set()
        if _state.error is None:
            log.info("UMAP warm-up done in %.1f s", _state.finished - _state.began)


def start(*, delay: float | None = None) -> threading.Thread | None:
    """Start the UMAP warm-up in a daemon thread, once per process; return that thread.

    Parameters
    ----------
    delay : float, optional
        Seconds to wait before compiling (default :data:`DELAY`).

    Returns
    -------
    threading.Thread or None
        The warm-up thread (the same one on every call), or None when ``$EMBEDLAB_WARMUP``
        is ``"0"``. Safe to call on every page run. Never raises because of UMAP: a failure
        is logged and reported by :func:`status`.
    """
    if os.environ.get(ENV_VAR, "").strip() == "0":
        return None
    with _lock:
        if _state.thread is None:
            _state.started = time.perf_counter()
            wait_first = DELAY if delay is None else max(0.0, float(delay))
            _state.thread = threading.Thread(
                target=_run, args=(tuple(SIZES), wait_first), name="embedlab-umap-warmup", daemon=True
            )
            _state.thread.start()
        return _state.thread


def wait(timeout: float | None = None) -> bool:
    """Wait until the warm-up has finished (or ``timeout`` seconds); True when it has.

    False at once when it was never started.
    """
    if _state.thread is None:
        return False
    return _done.wait(timeout)


def status() -> dict:
    """Where the warm-up stands.

    Returns
    -------
    dict
        ``state``: "not started", "waiting" (the delay), "running", "done" or "failed";
        ``seconds``: compiling time so far or in all (None before it begins); ``error``: the
        failure, or None.
    """
    if _state.thread is None:
        return {"state": "not started", "seconds": None, "error": None}
    if _state.began is None:
        return {"state": "waiting", "seconds": None, "error": None}
    if not _done.is_set():
        return {"state": "running", "seconds": time.perf_counter() - _state.began, "error": None}
    state = "failed" if _state.error else "done"
    return {"state": state, "seconds": _state.finished - _state.began, "error": _state.error}
