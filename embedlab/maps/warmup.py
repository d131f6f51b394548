"""Warm-up in the background: the default model loaded, and UMAP's code compiled, before anyone asks.

The model. The first "Draw map" of a new server used to wait for the default model — importing
torch and sentence-transformers, choosing its backend for the machine and loading it (9-13 s on
a loaded 2-core machine, more when the backend is calibrated) — although its sentences might all
be cached. :func:`start` loads it at once in a daemon thread through :func:`embedlab.load_model`
(so the page's own call finds it loaded, or waits on the same lock rather than loading twice),
runs one forward pass, draws the Space Explorer's first map of its default sentences (encoded
into the embedding cache, projected, its figures built — importing openTSNE and plotly), then
logs "embedlab warm-up: … ready".
:func:`model_ready` and :func:`model_status` say where it is.

umap-learn compiles its functions with numba the first time they run in a process, and its
on-disk cache does not cover the fit: a first fit takes ~10 s below 4,096 points and 30-40 s
from 4,096 points (where the neighbour search switches to NN-descent). :func:`start` runs two
small fits — one of each kind — through :func:`embedlab.project` (so the compiled types are
exactly the ones a user's call needs) in a daemon thread, once per process, after a short
delay so the first page is drawn first, and after the model's warm-up (which the first map
needs) when both run. The dashboard starts both when the server starts (server.py, what
``make run`` serves), or on its first page run under ``streamlit run app.py``;
``EMBEDLAB_WARMUP=0`` turns both off, ``=model`` or ``=umap`` keeps only one;
``bench/umap_first_call.py`` and ``bench/first_map.py`` measure the effect.

After each part the heap is frozen (:func:`freeze_heap`): Streamlit runs a full garbage
collection after every script run, and with torch, transformers, numba and a model alive that
collection took ~0.5 s of every rerun on the 2-core machine (measured with the model loaded);
what the warm-up leaves alive lives as long as the server, so full collections skip it.

The thread shares the interpreter lock with the server while it compiles (numba holds it), so
pages stay responsive but a little slower during those seconds; it is not niced, because a
thread that holds the lock must not be starved of CPU.

>>> from embedlab import warmup
>>> thread = warmup.start()  # doctest: +SKIP
>>> warmup.wait()             # doctest: +SKIP
True
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

#: Points in the warm-up fits: one below umap-learn's 4,096-point switch to NN-descent, one at it.
SIZES: tuple[int, ...] = (64, 4096)
#: Width of the warm-up vectors: as wide as sentence embeddings, so NN-descent's forest splits
#: its trees breadth-first as it does for a user's vectors (narrow rows skip that code).
DIM = 384
#: Seconds between start() and the first fit: the page that started it is drawn first.
DELAY = 5.0
#: "0" turns the warm-up off (e.g. a test server); "model" or "umap" keeps only that part.
ENV_VAR = "EMBEDLAB_WARMUP"


@dataclass
class _State:
    thread: threading.Thread | None = None
    started: float | None = None  # start() called
    began: float | None = None  # first fit began (after the delay)
    finished: float | None = None
    error: str | None = None


@dataclass
class _ModelState:
    thread: threading.Thread | None = None
    model: str = ""
    began: float | None = None
    loaded: float | None = None  # the model is loaded (a map can be drawn without waiting for it)
    finished: float | None = None  # and the first pass, the default sentences and t-SNE are done
    backend: str = ""
    error: str | None = None


_state = _State()
_model = _ModelState()
_lock = threading.Lock()
_done = threading.Event()
_model_done = threading.Event()


def _points(n: int) -> np.ndarray:
    """Unit vectors in a few clusters, like sentence embeddings."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, DIM))
    x = centres[rng.integers(0, 8, n)] + 0.5 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _run(sizes: tuple[int, ...], delay: float) -> None:
    from .projection import project

    time.sleep(delay)
    if _model.thread is not None:
        _model_done.wait()  # one at a time on a small machine: the model, which the first map needs, first
    _state.began = time.perf_counter()
    try:
        for n in sizes:
            project(_points(n), method="umap", random_state=42)
    except Exception as error:  # a failed warm-up only means the first UMAP map is slow
        _state.error = f"{type(error).__name__}: {error}"
        _say("UMAP failed (the first UMAP map will be slower): %s", _state.error, level=logging.WARNING)
    finally:
        freeze_heap()
        _state.finished = time.perf_counter()
        _done.set()
        if _state.error is None:
            _say("UMAP compiled in %.1f s", _state.finished - _state.began)


#: The warm-up's own lines ("… ready in 8.1 s"), for the server's operator (and bench/first_map.py).
say = logging.getLogger("embedlab.warmup")


def _say(message: str, *args, level: int = logging.INFO) -> None:
    """Log a warm-up line on stderr, where a server's operator reads it, whatever logging is set up."""
    if not say.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("embedlab warm-up: %(message)s"))
        say.addHandler(handler)
        say.setLevel(logging.INFO)
        say.propagate = False  # said once, not again by a root handler a library may have set up
    say.log(level, message, *args)


def _load_model(name: str) -> None:
    from ..models.catalog import load_model

    _model.began = time.perf_counter()
    try:
        embedder = load_model(name)
        _model.backend = str(getattr(embedder, "backend", ""))
        _model.loaded = time.perf_counter()
        embedder.encode(["warm-up"])  # the first forward pass sets up thread pools and kernels
        _first_map(embedder)
    except Exception as error:  # a failed warm-up only means the first map waits for the model
        _model.error = f"{type(error).__name__}: {error}"
        _say("%s failed (the first map will load the model): %s", name, _model.error, level=logging.WARNING)
    finally:
        freeze_heap()
        _model.finished = time.perf_counter()
        _model_done.set()
        if _model.error is None:
            _say(
                "%s ready (%s) in %.1f s: loaded in %.1f s",
                name,
                _model.backend,
                _model.finished - _model.began,
                _model.loaded - _model.began,
            )


def freeze_heap() -> None:
    """Collect garbage, then move every object still alive out of later collections' way.

    For a long-lived process after its warm-up: the modules, models and compiled code loaded so
    far are never garbage, yet every full collection (Streamlit runs one after each script run)
    would walk them all again. Frozen objects are still freed when their last reference goes;
    only a reference cycle among them would be kept, and the collection before the freeze
    leaves none that is already unreachable.
    """
    gc.collect()
    gc.freeze()


def _first_map(embedder) -> None:
    """The Space Explorer's first map, as its page draws it: the default labelled sentences
    encoded (into the embedding cache), projected by t-SNE (importing openTSNE; the projection
    cache keeps it) and drawn as the map and the heatmap (importing plotly and its validators)."""
    from .. import seed
    from . import figures, neighbourhood
    from .pipeline import build_map

    result = build_map(list(seed.SENTENCES), model=embedder, labels=list(seed.LABELS))
    figures.scatter_figure(result.points_table(), groups=list(seed.LABELS), title=result.title())
    shown = neighbourhood.heatmap(result)
    figures.heatmap_figure(shown.matrix, list(shown.texts), list(shown.labels) if shown.labels else None)


def _parts() -> tuple[bool, bool]:
    """(warm the model, compile UMAP) as ``$EMBEDLAB_WARMUP`` says."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value == "0":
        return False, False
    return value != "umap", value != "model"


def start(*, delay: float | None = None, model: str | None = None) -> threading.Thread | None:
    """Start the warm-up in daemon threads, once per process: the default model at once, UMAP after ``delay``.

    Parameters
    ----------
    delay : float, optional
        Seconds to wait before compiling UMAP (default :data:`DELAY`).
    model : str, optional
        The model to load (default :data:`embedlab.DEFAULT_MODEL`, the Space Explorer's).

    Returns
    -------
    threading.Thread or None
        The UMAP warm-up thread (the same one on every call; the model's when UMAP's is off), or
        None when ``$EMBEDLAB_WARMUP`` is ``"0"``. Safe to call on every page run. Never raises
        because of the model or UMAP: a failure is logged and reported by :func:`status` and
        :func:`model_status`.
    """
    warm_model, warm_umap = _parts()
    if warm_model:
        from ..models.entries import DEFAULT_MODEL

        with _lock:
            if _model.thread is None:
                _model.model = model or DEFAULT_MODEL
                _model.thread = threading.Thread(
                    target=_load_model, args=(_model.model,), name="embedlab-model-warmup", daemon=True
                )
                _model.thread.start()
    if not warm_umap:
        return _model.thread
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


def model_ready() -> bool:
    """Whether the warm-up has loaded the model (a map can be drawn without waiting for it)."""
    return _model.loaded is not None


def wait_model(timeout: float | None = None) -> bool:
    """Wait until the model warm-up has finished (or ``timeout`` seconds); True when it has.

    False at once when it was never started.
    """
    if _model.thread is None:
        return False
    return _model_done.wait(timeout)


def model_status() -> dict:
    """Where the model warm-up stands.

    Returns
    -------
    dict
        ``state``: "not started", "loading", "warming" (loaded; first pass, default sentences
        and t-SNE under way), "done" or "failed"; ``model`` and ``backend``; ``seconds``: time
        so far or in all; ``load_seconds``: time to load the model (None before); ``error``.
    """
    if _model.thread is None:
        return {
            "state": "not started",
            "model": "",
            "backend": "",
            "seconds": None,
            "load_seconds": None,
            "error": None,
        }
    now = time.perf_counter()
    began = _model.began if _model.began is not None else now
    load = None if _model.loaded is None else _model.loaded - began
    if _model_done.is_set():
        state = "failed" if _model.error else "done"
        seconds = _model.finished - began
    else:
        state = "warming" if _model.loaded is not None else "loading"
        seconds = now - began
    return {
        "state": state,
        "model": _model.model,
        "backend": _model.backend,
        "seconds": seconds,
        "load_seconds": load,
        "error": _model.error,
    }
