"""Backends side by side: all-MiniLM-L6-v2 and all-mpnet-base-v2 on every backend this machine runs.

For each model: 1,000 real texts (200 Debian package summaries + 800 descriptions cut at 300
characters, from apt's lists when present), encoded without the cache (``Embedder.encode``, batch
32) by each backend in turns, median of ≥ 3 repeats; ratio = torch-fp32's time ÷ the backend's.
Agreement with torch-fp32 on the same texts: mean and minimum cosine, and held-out retrieval — each
of the 200 summaries ranks the 800 descriptions; how many top-1s differ from torch-fp32's (a copy of
the same description is the same answer: apt's lists repeat some, and those tie exactly).
The default (``auto``, calibrated here in this run's fresh data directory, ONNX builds included)
must reach ≥ 2× torch-fp32 on a CPU with AMX, ≥ 1.4× elsewhere, with top-1 changed for at most 1
query in 200. Also recorded: calibration seconds (first use on a machine) and the choice's reason.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import figure, interleaved, main, sentences

MODELS = ("all-MiniLM-L6-v2", "all-mpnet-base-v2")
CUT = 300


def texts(n_queries: int, n_texts: int) -> tuple[list[str], int, str]:
    """(summaries then descriptions, number of summaries, source): the first ``n_queries``
    descriptions belong to the summaries, in order; the rest are distractors."""
    from bench.finetune import debian_pairs

    pairs, extra, source = debian_pairs(n_queries, n_texts - 2 * n_queries)
    summaries = [s for s, _ in pairs]
    descriptions = [d[:CUT] for _, d in pairs] + [d[:CUT] for d in extra]
    out = summaries + descriptions
    if len(out) < n_texts:  # the packaged pairs only (no apt lists): made-up sentences fill up
        out += sentences(n_texts - len(out), seed=5)
    return out[:n_texts], len(summaries), source


def run(quick: bool):
    import embedlab
    from embedlab.models import backends

    n_queries, n_texts, repeats = (20, 100, 3) if quick else (200, 1000, 3)
    corpus, n_summaries, source = texts(n_queries, n_texts)
    amx = "amx_bf16" in backends.cpu_flags().split()
    target_ratio = 2.0 if amx else 1.4
    allowed_changes = max(1, n_summaries // 200)
    results = []
    for name in MODELS:
        here = embedlab.available_backends(name)
        if not here:
            continue
        started = time.perf_counter()
        choice = embedlab.choose_backend(name)  # calibrates (and builds the ONNX files) in this fresh home
        calibration_s = time.perf_counter() - started
        models = {b: embedlab.load_model(name, backend=b) for b in here}
        vectors = {b: m.encode(corpus, batch_size=32) for b, m in models.items()}  # also the warm-up
        samples = interleaved(
            {b: (lambda m=m: m.encode(corpus, batch_size=32)) for b, m in models.items()}, repeats, warmup=False
        )
        reference = vectors["torch-fp32"]
        top1 = {b: _top1(v, corpus, n_summaries) for b, v in vectors.items()}
        for backend in here:
            if backend == "torch-fp32":
                continue
            cosines = (vectors[backend] * reference).sum(axis=1)
            changed = int((top1[backend] != top1["torch-fp32"]).sum())
            threshold = 0.99 if backend == "onnx-int8" else 0.999
            results.append(
                figure(
                    f"backend_{_short(name)}_{backend}",
                    f"{name} on {backend}, {len(corpus):,} texts",
                    samples[backend],
                    peer=samples["torch-fp32"],
                    peer_name=f"{name} on torch-fp32",
                    target=f"mean cosine ≥ {threshold} (informational: auto decides)",
                    met=bool(cosines.mean() >= threshold),
                    mean_cosine=float(cosines.mean()),
                    min_cosine=float(cosines.min()),
                    top1_changed=changed,
                    queries=n_summaries,
                    texts_per_second=len(corpus) / samples[backend].median,
                    torch_texts_per_second=len(corpus) / samples["torch-fp32"].median,
                )
            )
        auto = choice.backend
        changed = int((top1[auto] != top1["torch-fp32"]).sum())
        ratio = samples["torch-fp32"].median / samples[auto].median
        results.append(
            figure(
                f"backend_{_short(name)}_auto",
                f"{name} default (auto = {auto}), {len(corpus):,} texts",
                samples[auto],
                peer=samples["torch-fp32"],
                peer_name=f"{name} on torch-fp32",
                target=f"≥ {target_ratio}× ({'AMX' if amx else 'no AMX'}), top-1 changed ≤ {allowed_changes}/{n_summaries}",
                met=ratio >= target_ratio and changed <= allowed_changes,
                backend=auto,
                reason=choice.reason,
                calibration_s=calibration_s,
                calibration_texts_per_second=choice.texts_per_second,
                top1_changed=changed,
                queries=n_summaries,
                mean_cosine=float((vectors[auto] * reference).sum(axis=1).mean()),
                texts_source=source,
                machine=choice.machine,
            )
        )
    return results


def _top1(vectors: np.ndarray, corpus: list[str], n_queries: int) -> np.ndarray:
    """Each summary's best description (by cosine) among the descriptions, as the position of the first
    description with that text: identical descriptions (apt has some) tie exactly, and which copy wins a
    tie is not a different answer."""
    documents = corpus[n_queries:]
    first = {}
    for i, text in enumerate(documents):
        first.setdefault(text, i)
    best = (vectors[:n_queries] @ vectors[n_queries:].T).argmax(axis=1)
    return np.array([first[documents[i]] for i in best])


def _short(name: str) -> str:
    return "minilm" if "MiniLM" in name else "mpnet" if "mpnet" in name else name


if __name__ == "__main__":
    main(run)
