"""Backends: the ways one model can run here, and ``auto`` — the fastest correct one, chosen once per machine.

A transformer in the catalog can run on

* ``torch-fp32`` — sentence-transformers in float32: the reference, for exact reproduction;
* ``torch-bf16`` — the same, its forward pass inside ``torch.autocast("cpu", dtype=torch.bfloat16)``;
  offered where the CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16 in its flags);
* ``onnx-fp32`` / ``onnx-int8`` — the model exported to ONNX (fused; int8: dynamically quantised) and
  run by onnxruntime (:mod:`embedlab.models.quantization` builds them once per data directory);
* ``cuda-fp16`` — half precision on a GPU, where ``torch.cuda.is_available()``;
* ``openvino`` — never offered. The OpenVINO runtime alone would install beside this stack, but
  the route sentence-transformers takes to it, ``optimum-intel``, requires torch 2.14.1 (a CUDA
  build, with its nvidia-* packages), transformers 5.5.4 and tokenizers 0.22 — it would replace
  this project's pins (``pip install --dry-run "optimum-intel[openvino]"``, 2026-12). The name is
  kept so that results and settings can say it was considered.

A model with a single way to run (the static models, a shipped ONNX file, the int8 MiniLM alias)
reports that one: ``available_backends("static-64d") == ("static",)``.

``auto`` (:func:`choose_backend`) times the available backends on a short calibration set, checks
each against torch-fp32 and takes the fastest that keeps the answers (:mod:`~embedlab.models.calibration`);
the choice is stored in SQLite under :func:`~embedlab.storage.home.data_dir` with the machine's
fingerprint (:func:`machine_fingerprint`: CPU, flags, cores, library versions), so it is made once
per machine. Reading it back imports no model library, so a page whose texts are all cached loads
no model (:func:`key_backend`). ``$EMBEDLAB_BACKEND`` set to a backend name makes ``auto`` mean that
backend wherever the model can run it (``torch-fp32``: exact reproduction everywhere, and no calibration).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path

from ..storage.home import data_dir
from ..storage.sqlite import connect, open_checked
from ..validation import check_choice
from . import calibration
from .calibration import REFERENCE, BackendChoice
from .entries import canonical_name, checked_name, model_backends, model_version, runs_here

BACKENDS = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8", "openvino", "cuda-fp16")
#: The own path of a model that has no other: a static (model2vec-style) table, or one made by model2vec.
SINGLE_PATHS = ("static", "model2vec")
#: Set to a backend name, ``auto`` means it wherever the model can run it.
BACKEND_ENV = "EMBEDLAB_BACKEND"
FILE_NAME = "backends.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS backend_choices (
    model TEXT NOT NULL,
    machine TEXT NOT NULL,
    backend TEXT NOT NULL,
    choice TEXT NOT NULL,
    calibrated_at TEXT NOT NULL,
    PRIMARY KEY (model, machine)
)
"""
#: CPU flags that decide how fast a backend runs (AVX-512 and AMX families, VNNI, AVX2, FMA, F16C).
_FLAG_PREFIXES = ("avx512", "amx", "avx_vnni", "avx2", "fma", "f16c")


# -- the machine ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _cpuinfo_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_flags() -> str:
    """The CPU's flags as the OS lists them (``/proc/cpuinfo``), space-separated; "" where unknown."""
    return _cpuinfo_flags()


def _relevant_flags() -> list[str]:
    return sorted({flag for flag in cpu_flags().split() if flag.startswith(_FLAG_PREFIXES) or "vnni" in flag})


def has_bf16() -> bool:
    """Whether the CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16)."""
    return bool({"amx_bf16", "avx512_bf16"} & set(cpu_flags().split()))


@functools.cache
def _version(distribution: str) -> str | None:
    from ..benchmarking.machine import package_version  # imported here: benchmarking may import this module

    return package_version(distribution)


def cuda_available() -> bool:
    """Whether torch can run on a GPU here. A CPU build of torch answers without being imported."""
    version = _version("torch")
    if version is None or "+cpu" in version:
        return False
    import torch

    return bool(torch.cuda.is_available())


def _gpus() -> list[str]:
    names = []
    for information in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
        for line in information.read_text(errors="replace").splitlines():
            if line.startswith("Model:"):
                names.append(line.split(":", 1)[1].strip())
    return names


def machine_fingerprint() -> str:
    """What makes a backend's speed and results this machine's: CPU model, the flags that matter
    (AVX2, AVX-512*, AMX*, VNNI), usable cores, GPUs, and the versions of torch, onnxruntime,
    sentence-transformers and transformers. Imports no model library.

    >>> "cores" in machine_fingerprint()
    True
    """
    from ..benchmarking.machine import cpu_model, usable_cores

    versions = " ".join(
        f"{d}={_version(d) or '-'}" for d in ("torch", "onnxruntime", "sentence-transformers", "transformers")
    )
    return " | ".join(
        (
            cpu_model(),
            "flags " + (" ".join(_relevant_flags()) or "-"),
            f"{usable_cores()} cores",
            "gpu " + (", ".join(_gpus()) or "none"),
            versions,
        )
    )


# -- what can run a model here ------------------------------------------------------------------


def available_backends(name: str) -> tuple[str, ...]:
    """The backends that can run model ``name`` on this machine, the reference first.

    A catalog transformer: ``torch-fp32``, ``torch-bf16`` (CPU with AMX-BF16 or AVX512-BF16),
    ``onnx-fp32`` and ``onnx-int8`` (with onnx and onnxruntime installed; built on first use),
    ``cuda-fp16`` (with a GPU). A fine-tuned model, a Hugging Face id or a folder: the torch ones.
    A model with a single way to run: that one (``"static"``, ``"model2vec"``, ``"onnx-fp32"`` for a
    shipped ONNX file, ``"onnx-int8"`` for all-MiniLM-L6-v2-int8). ``openvino``: never (see the module).
    A catalog model that cannot be loaded here: none (``()``; :func:`embedlab.list_models` says why).

    Raises
    ------
    TypeError
        If ``name`` is not a non-empty string.
    """
    import importlib.util

    possible = model_backends(name)
    if not runs_here(name):
        return ()
    if len(possible) == 1:
        return possible
    onnx = importlib.util.find_spec("onnx") is not None and importlib.util.find_spec("onnxruntime") is not None
    runs = {
        "torch-fp32": True,
        "torch-bf16": has_bf16(),
        "onnx-fp32": onnx,
        "onnx-int8": onnx,
        "openvino": False,  # see the module's docstring
        "cuda-fp16": "cuda-fp16" in possible and cuda_available(),
    }
    return tuple(b for b in possible if runs.get(b, False))


def check_backend(name: str, backend: object) -> str:
    """``backend`` if it is ``"auto"`` or a backend that can run ``name`` here; else ValueError.

    The message names ``backend``, lists the valid values and what was given, e.g.
    "backend must be one of 'auto', 'torch-fp32', ..., got 'fp32'.", or says which of them run
    this model here. A model that cannot run here at all passes: loading it says why.
    """
    check_choice(backend, "backend", ("auto", *BACKENDS, *SINGLE_PATHS))
    if backend == "auto":
        return backend
    here = available_backends(name)
    if here and backend not in here:  # with none, loading the model says why it cannot run here
        why = " (the CPU has neither AMX-BF16 nor AVX512-BF16)" if backend == "torch-bf16" else ""
        why = " (see embedlab.models.backends: it does not install with this stack)" if backend == "openvino" else why
        options = ", ".join(repr(b) for b in ("auto", *here))
        raise ValueError(
            f"backend {backend!r} cannot run {name} on this machine{why}; backend must be one of {options}."
        )
    return backend


def _override(name: str) -> str | None:
    wanted = os.environ.get(BACKEND_ENV, "").strip()
    if not wanted or wanted == "auto":
        return None
    return wanted if wanted in available_backends(name) else None


def key_backend(name: str, backend: str = "auto") -> str:
    """The backend whose cached vectors answer for ``name`` with ``backend``, without loading or
    calibrating anything: ``auto`` gives ``$EMBEDLAB_BACKEND`` when set and able to run the model,
    else the recorded choice for this machine, else the reference (torch-fp32, or the model's only
    backend). Vectors cached under the reference never answer for another backend: when loading the
    model then chooses another, :func:`embedlab.encode` looks again under that backend's key."""
    if backend != "auto":
        return backend
    possible = model_backends(name)
    if len(possible) == 1:
        return possible[0]
    chosen = _override(name) or getattr(recorded_choice(name), "backend", None)
    return chosen if chosen in possible else REFERENCE


# -- the record ----------------------------------------------------------------------------------

_opened: set[Path] = set()
_opened_lock = threading.Lock()
_model_locks: dict[str, threading.Lock] = {}


def _database() -> Path:
    path = data_dir() / FILE_NAME
    with _opened_lock:
        if path not in _opened:
            open_checked(path, _SCHEMA, "backend choices")
            _opened.add(path)
    return path


def _record_key(name: str) -> str:
    return f"{name}|{model_version(name)}"


#: Choices already read or made in this process, by (database, model record, fingerprint): a cached
#: encode asks for the backend of every call, and SQLite costs milliseconds a time under load.
_known: dict[tuple[Path, str, str], BackendChoice] = {}


def recorded_choice(name: str) -> BackendChoice | None:
    """The choice recorded for ``name`` on this machine (same fingerprint), or None; never calibrates.

    A choice found is remembered for the process (a recalibration here replaces it).
    """
    name = canonical_name(name.strip())
    key = (_database(), _record_key(name), machine_fingerprint())
    if key in _known:
        return _known[key]
    try:
        connection = connect(_database())
        try:
            row = connection.execute(
                "SELECT choice FROM backend_choices WHERE model = ? AND machine = ?",
                (_record_key(name), machine_fingerprint()),
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    try:
        choice = BackendChoice(**json.loads(row[0]))
    except (TypeError, ValueError):  # written by another version: calibrate again
        return None
    _known[key] = choice
    return choice


def _record(choice: BackendChoice) -> None:
    _known.pop((_database(), _record_key(choice.model), choice.machine), None)
    connection = connect(_database())
    try:
        with connection:
            connection.execute(
                "INSERT OR REPLACE INTO backend_choices (model, machine, backend, choice, calibrated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    _record_key(choice.model),
                    choice.machine,
                    choice.backend,
                    json.dumps(asdict(choice)),
                    choice.calibrated_at,
                ),
            )
    finally:
        connection.close()


def choose_backend(name: str, *, recalibrate: bool = False) -> BackendChoice:
    """The backend ``auto`` runs ``name`` on here: recorded for this machine, or calibrated now.

    Calibration (:func:`embedlab.models.calibration.calibrate`) loads each available backend, times
    it on the seed's texts and some Debian package texts (a few seconds each; ONNX builds are made
    the first time, ~10 s to a minute), and keeps the fastest that passes its check against
    torch-fp32: mean cosine ≥ 0.999 (bf16, fp32 and fp16 backends), or ≥ 0.99 with the same top-1
    trace for every seed query (int8). Only a backend ≥ 1.1× torch-fp32's speed displaces it.
    The choice is stored with :func:`machine_fingerprint`; a new CPU or library version calibrates
    anew. A model with a single backend returns it without calibrating.

    Parameters
    ----------
    name : str
        A catalog name, a model made here, a Hugging Face id or an allowed folder.
    recalibrate : bool, default False
        Measure again even when a choice is recorded.

    Raises
    ------
    LookupError
        (:class:`~embedlab.ModelUnavailable`) if the model cannot be loaded here.
    """
    return _choose(name, recalibrate=recalibrate)[0]


def _choose(name: str, *, recalibrate: bool = False):
    """(choice, the chosen backend's embedder if it was loaded for calibrating, else None)."""
    name = checked_name(name)
    here = available_backends(name)
    if len(here) <= 1:  # nothing to choose (with none, loading the model says why it cannot run here)
        backend = here[0] if here else model_backends(name)[0]
        reason = f"{name} has a single way to run here: {backend}" if here else f"{name} cannot run here"
        return BackendChoice(name, backend, reason, machine=machine_fingerprint()), None
    with _opened_lock:
        lock = _model_locks.setdefault(name, threading.Lock())
    with lock:
        if not recalibrate:
            found = recorded_choice(name)
            if found is not None and found.backend in here:
                return found, None
        choice, embedder = calibration.calibrate(name, here, fingerprint=machine_fingerprint())
        _record(choice)
        return choice, embedder


def auto_backend(name: str):
    """(backend ``auto`` means for ``name`` now, its embedder when calibrating just loaded it, else None).
    ``$EMBEDLAB_BACKEND`` first; calibrates when nothing is recorded (see :func:`choose_backend`)."""
    forced = _override(name)
    if forced is not None:
        return forced, None
    choice, embedder = _choose(name)
    return choice.backend, embedder
