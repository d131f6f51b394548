"""A faster backend for the default model: all-MiniLM-L6-v2-int8 (onnxruntime) against torch.

Both are loaded through embedlab's catalog and timed on the same texts in turns, without the
cache (``Embedder.encode``, batch 32). Quality: mean cosine of the int8 vectors to the fp32 ones
over those texts, and the top-1 trace of each of the seed's queries (embedlab.seed) with each.
The other catalog models that run here are timed once for the speed/quality range.
Targets: ≥ 1.5× the texts/s of torch; mean cosine ≥ 0.99; same top-1 on the seed's traces.
Also recorded: the first load's time, which includes building the model when it was not built yet.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import figure, interleaved, main, sentences, timed


def run(quick: bool):
    import embedlab
    from embedlab import seed
    from embedlab.models import packaged

    n, repeats = (200, 3) if quick else (1000, 7)
    texts = sentences(n, seed=11)
    fp32 = embedlab.load_model("all-MiniLM-L6-v2")
    built_before = (packaged.minilm_int8_dir() / packaged.COMPLETE_MARKER).exists()
    started = time.perf_counter()
    int8 = embedlab.load_model("all-MiniLM-L6-v2-int8")  # the first use builds it
    first_load_s = time.perf_counter() - started
    samples = interleaved(
        {"torch": lambda: fp32.encode(texts, batch_size=32), "onnx": lambda: int8.encode(texts, batch_size=32)},
        repeats,
    )
    a, b = fp32.encode(texts), int8.encode(texts)
    cosine = float(np.mean(np.sum(a * b, axis=1)))
    traces = [seed.TRACE_TEMPLATE.format(**t) for t in seed.TRACES]
    top1 = {}
    for name, model in (("fp32", fp32), ("int8", int8)):
        idx, _ = embedlab.rank(model.encode(list(seed.QUERIES)), model.encode(traces), k=1)
        top1[name] = idx[:, 0].tolist()
    same_top1 = top1["fp32"] == top1["int8"]
    speed_ratio = samples["torch"].median / samples["onnx"].median
    others = {}
    for info in embedlab.list_models():
        if info.available and info.name not in ("all-MiniLM-L6-v2", "all-mpnet-base-v2") and info.name != int8.name:
            model = embedlab.load_model(info.name)
            model.encode(texts[:32])
            seconds, _ = timed(lambda model=model: model.encode(texts, batch_size=32))
            others[info.name] = {"texts_per_second": n / seconds, "backend": info.backend}
    return [
        figure(
            "onnx_int8",
            f"all-MiniLM-L6-v2-int8 (onnxruntime), {n:,} texts",
            samples["onnx"],
            peer=samples["torch"],
            peer_name="all-MiniLM-L6-v2 (torch)",
            target="≥ 1.5×, cosine ≥ 0.99, same top-1",
            met=speed_ratio >= 1.5 and cosine >= 0.99 and same_top1,
            texts_per_second=n / samples["onnx"].median,
            torch_texts_per_second=n / samples["torch"].median,
            mean_cosine_to_fp32=cosine,
            seed_top1=top1,
            same_top1=same_top1,
            other_models=others,
            first_load_s=first_load_s,
            first_load_built_it=not built_before,
        )
    ]


if __name__ == "__main__":
    main(run)
