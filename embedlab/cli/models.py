"""``python -m embedlab models``: the model catalog, whether each model can run here, and on which backend."""

from __future__ import annotations

import argparse

from .common import EXIT_OK, UsageError, table
from .output import megabytes

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``models`` command to the command line's subparsers."""
    models = commands.add_parser(
        "models",
        help="list the model catalog: dimensions, backends, whether each can run here",
        description="List every catalog model, whether it can run on this machine (and why not), the backends it "
        "can run on here and the one 'auto' chose for this machine, its size on disk and the lesson's speed / "
        "quality / use case.",
    )
    models.add_argument("--json", action="store_true", help="print the catalog as JSON instead of a table")
    models.add_argument(
        "--calibrate",
        nargs="*",
        metavar="MODEL",
        help="time each backend of these models (default: every available one) on this machine and record "
        "the fastest that keeps torch-fp32's answers; the first time also builds the ONNX files (~10 s to a minute)",
    )
    models.set_defaults(run=run)


def run(args) -> int:
    import json

    from ..models.backends import available_backends, choose_backend
    from ..models.catalog import list_models

    models = list_models()
    if args.calibrate is not None:
        available = [m.name for m in models if m.available]
        unknown = [name for name in args.calibrate if name not in available]
        if unknown:
            raise UsageError(
                f"--calibrate: {', '.join(unknown)} is not an available model here ({', '.join(available)})"
            )
        for name in args.calibrate or available:
            if len(available_backends(name)) > 1:
                print(f"Calibrating {name}…", flush=True)
                print(f"  {choose_backend(name, recalibrate=True).reason}", flush=True)
    if args.json:
        print(json.dumps([{**m.__dict__, **_backends(m)} for m in models], indent=2))
        return EXIT_OK
    rows = [_row(m) for m in models]
    print(table(rows))
    if any(row["backend (auto)"] == "not calibrated" for row in rows):
        print(
            "\n'not calibrated': torch-fp32 answers until the first load calibrates, or: python -m embedlab models --calibrate"
        )
    for m in models:
        if not m.available:
            print(f"\n{m.name} cannot run here: {m.reason}.")
    return EXIT_OK


def _backends(info) -> dict:
    """``backends`` (those that run it here) and ``auto_backend`` (recorded, forced, or None) of one model."""
    import os

    from ..models.backends import BACKEND_ENV, available_backends, key_backend, recorded_choice

    if not info.available:
        return {"backends": [], "auto_backend": None}
    here = available_backends(info.name)
    forced = os.environ.get(BACKEND_ENV, "").strip() not in ("", "auto")
    known = len(here) == 1 or forced or recorded_choice(info.name) is not None
    return {"backends": list(here), "auto_backend": key_backend(info.name) if known else None}


def _row(info) -> dict:
    backends = _backends(info)
    auto = backends["auto_backend"] or ("not calibrated" if info.available else "-")
    return {
        "model": info.name,
        "dim": info.dim,
        "library": info.backend,
        "backends here": ", ".join(backends["backends"]) or "-",
        "backend (auto)": auto,
        "size": megabytes(info.size_bytes)
        if info.size_bytes
        else ("assembled on first use" if info.available else "-"),
        "speed": info.speed,
        "quality": info.quality,
        "use case": info.use_case,
        "here": "yes" if info.available else "no",
    }
