"""Loading a model fresh for a benchmark, and measuring the memory it takes.

:func:`prepare` finds a model's files and imports the libraries that run it (what ``prepare_s``
times); :func:`load_fresh` builds a new instance, bypassing the process-wide one
:func:`embedlab.load_model` keeps (what ``load_s`` times); :func:`rss` and :class:`PeakMemory`
give ``load_mb`` and ``encode_mb``.
"""

from __future__ import annotations

MB = float(2**20)

__all__ = ["MB", "PeakMemory", "load_fresh", "prepare", "rss"]


def prepare(name: str) -> str:
    """Locate the model's files and import the library that runs it; return the backend."""
    from ..models.catalog import by_name

    entry = by_name(name)
    backend = entry.backend if entry is not None else "sentence-transformers"
    folder = entry.locate() if entry is not None else None  # all-mpnet-base-v2 is assembled here, once
    if backend == "sentence-transformers":
        import sentence_transformers  # noqa: F401  (imported here: it costs seconds)

        if folder is not None:
            _import_architecture(folder)
    elif backend == "onnxruntime":
        import onnxruntime  # noqa: F401
        import tokenizers
    elif backend == "static":
        import static_model  # noqa: F401
        import tokenizers  # noqa: F401
    return backend


def _import_architecture(folder) -> None:
    """Import the transformers code for the model's architecture (transformers imports it lazily,
    on the first load of that kind of model), so that one-time cost lands in prepare_s, not load_s."""
    try:
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        MODEL_MAPPING[type(AutoConfig.from_pretrained(str(folder)))]
    except Exception:  # best effort: without it the first load of an architecture is a little slower
        pass


def load_fresh(name: str):
    """A new Embedder built by the catalog's own loader, bypassing its per-process cache."""
    from ..models.catalog import build_fresh

    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"model must be a model name (a non-empty str), got {name!r}.")
    return build_fresh(name)


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
