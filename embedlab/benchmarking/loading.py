"""Loading a model fresh for a benchmark, on a chosen backend, and measuring the memory it takes.

:func:`prepare` finds a model's files and imports the libraries that run it (what ``prepare_s``
times); :func:`load_fresh` builds a new instance, bypassing the process-wide one
:func:`embedlab.load_model` keeps (what ``load_s`` times); :func:`rss` and :class:`PeakMemory`
give ``load_mb`` and ``encode_mb``. :func:`rows_for` and :func:`choose` speak to
:mod:`embedlab.models.backends` (which backends a model can run on here, and the one chosen
for this machine).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Sequence

MB = float(2**20)
#: The reference every backend is compared with.
REFERENCE = "torch-fp32"

__all__ = [
    "MB",
    "REFERENCE",
    "PeakMemory",
    "auto_backend",
    "available",
    "choose",
    "load_fresh",
    "prepare",
    "recorded",
    "reference_vectors",
    "rows_for",
    "rss",
]


def _backends():
    """:mod:`embedlab.models.backends`, or None in a version without it."""
    try:
        from ..models import backends
    except ImportError:
        return None
    return backends


def available(name: str) -> tuple[str, ...]:
    """The backends ``name`` can run on here (empty when unknown: a static model, a hub id, no backends module)."""
    module = _backends()
    if module is None:
        return ()
    try:
        return tuple(module.available_backends(name))
    except Exception:  # a model the backends module does not know: it runs as it always has
        return ()


def rows_for(models: Sequence[str], backends: Sequence[str]) -> list[tuple[str, str]]:
    """The (model, backend asked for) rows of a run, in order.

    ``backends`` is ``("auto",)`` (one row per model: the backend chosen for this machine),
    ``("all",)`` (one row per backend available for the model) or backend names (those among the
    model's available ones; a model that has none of them gets one row asking for the first, which
    fails with the reason). A model with no choice of backend gets one "auto" row.
    """
    rows = []
    for model in models:
        options = available(model)
        if tuple(backends) == ("auto",) or (not options and tuple(backends) == ("all",)):
            rows.append((model, "auto"))
        elif tuple(backends) == ("all",):
            rows.extend((model, backend) for backend in options)
        else:
            wanted = [b for b in backends if b in options]
            rows.extend((model, b) for b in wanted) if wanted else rows.append((model, backends[0]))
    return rows


def choose(name: str):
    """The backend chosen for ``name`` on this machine (a ``BackendChoice``), or None when there is
    no choice to make (a static model, a hub id, no backends module). May calibrate on first use."""
    module = _backends()
    if module is None or not available(name):
        return None
    return module.choose_backend(name)


def auto_backend(name: str) -> str | None:
    """The backend ``"auto"`` runs ``name`` on now (``$EMBEDLAB_BACKEND`` first, then the recorded choice)."""
    module = _backends()
    if module is None:
        return None
    return str(module.auto_backend(name)[0])


def recorded(name: str):
    """The choice recorded for ``name`` on this machine, or None; never calibrates."""
    module = _backends()
    if module is None or not available(name):
        return None
    try:
        return module.recorded_choice(name)
    except Exception:  # a model the backends module cannot look up: nothing recorded
        return None


def prepare(name: str, backend: str = "auto") -> str:
    """Locate the model's files and import the library that runs it; return the library's name."""
    from ..models.entries import by_name

    entry = by_name(name)
    library = entry.backend if entry is not None else "sentence-transformers"
    folder = entry.locate() if entry is not None else None  # all-mpnet-base-v2 is assembled here, once
    if backend.startswith("onnx"):
        library = "onnxruntime"
    elif backend.startswith(("torch", "cuda")):
        library = "sentence-transformers"
    elif backend.startswith("openvino"):
        library = "openvino"
    if library == "sentence-transformers":
        import sentence_transformers  # noqa: F401  (imported here: it costs seconds)

        if folder is not None:
            _import_architecture(folder)
    elif library == "onnxruntime":
        import onnxruntime  # noqa: F401
        import tokenizers
    elif library == "static":
        import static_model  # noqa: F401
        import tokenizers  # noqa: F401
    elif library == "openvino":
        with contextlib.suppress(ImportError):  # the loader says why it cannot run
            import openvino  # noqa: F401
    return library


def _import_architecture(folder) -> None:
    """Import the transformers code for the model's architecture (transformers imports it lazily,
    on the first load of that kind of model), so that one-time cost lands in prepare_s, not load_s."""
    try:
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        MODEL_MAPPING[type(AutoConfig.from_pretrained(str(folder)))]
    except Exception:  # best effort: without it the first load of an architecture is a little slower
        pass


def load_fresh(name: str, backend: str = "auto"):
    """A new Embedder for ``name`` on ``backend``, built by the catalog's own loader, bypassing its
    per-process cache. ``"auto"``: the backend chosen for this machine (or the model's only one)."""
    from ..models import catalog

    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"model must be a model name (a non-empty str), got {name!r}.")
    if "backend" in inspect.signature(catalog.build_fresh).parameters:
        return catalog.build_fresh(name, backend=backend)
    if backend != "auto":
        raise ValueError(f"this version of embedlab runs {name} on one backend only; {backend!r} cannot be chosen.")
    return catalog.build_fresh(name)


def reference_vectors(name: str, texts: list[str]):
    """``name``'s torch-fp32 vectors of ``texts`` (through the embedding cache), float32 (n, dim)."""
    from ..models.encoding import encode

    if "backend" not in inspect.signature(encode).parameters:
        return encode(texts, name)
    return encode(texts, name, backend=REFERENCE)


def rss() -> int:
    """The process's resident memory, in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


class PeakMemory:
    """Peak resident memory above the level at creation, in MiB (approximate).

    On Linux the kernel's high-water mark is reset (``/proc/self/clear_refs``) and read back
    (``VmHWM``), so short peaks between samples are seen; elsewhere the current RSS is used.
    """

    def __init__(self):
        self.base = rss()
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.kernel = _high_water_mark() is not None
        except OSError:
            self.kernel = False

    def added_mb(self) -> float:
        peak = _high_water_mark() if self.kernel else None
        peak = max(peak or 0, rss())
        return max(0.0, (peak - self.base) / MB)


def _high_water_mark() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
