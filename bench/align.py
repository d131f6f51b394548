"""Two models, one map: which way of lining the second map up keeps it more faithful?

``python -m bench.align [--quick] [--sizes 16 300 1000] [--seeds ...] [--pairs static similar]``
draws the first model's t-SNE map, then the second model's map of the same sentences two ways
(:func:`embedlab.maps.compare.compare_maps`):

* ``procrustes`` (P) — the second model's own t-SNE, rotated/reflected/scaled onto the first map;
* ``tsne_init`` (I) — the second model's t-SNE started from the first map's points (then Procrustes).

For each it prints the second map's trustworthiness@10 against the second model's own vectors
(scikit-learn's, cosine; k = 7 for the lesson's 16) and how far each sentence sits from its place
on the first map (mean distance ÷ the first map's RMS radius: lower = easier to compare by eye).
The first map is the same in both. Inputs: the lesson's 16 sentences and ``bench.common.sentences``
(300, 1,000). Pairs: "static" = all-MiniLM-L6-v2 ↔ static-64d in both orders; "similar" =
all-MiniLM-L6-v2 → all-MiniLM-L6-v2-int8 and → paraphrase-MiniLM-L3-v2.

Measured 2026-12-02 on the shared 2-core machine (trustworthiness P / I, medians; "I − P" the mean
paired difference; runs = orders × seeds):

=========  ==========  =====================  =========  ==========  =============
input      pairs       trust P / I            I − P      P ≥ I       apart P / I
=========  ==========  =====================  =========  ==========  =============
16         static      0.7214 / 0.7196        −0.0152    4 of 6      1.022 / 0.926
300        static      0.9416 / 0.9407        −0.0022    9 of 16     1.166 / 1.198
1,000      static      0.9713 / 0.9726        +0.0009    6 of 16     1.224 / 1.229
1,000      similar     int8 0.9818 / 0.9816,  −0.0002    2 of 6      int8 0.390 / 0.369,
                       L3 0.9729 / 0.9725                            L3 0.856 / 0.786
=========  ==========  =====================  =========  ==========  =============

Neither keeps the second map more faithful: the differences are a few thousandths either way, less
than one seed changes the same map by (0.956–0.962 at 1,000 sentences). Procrustes keeps it
*exactly* as faithful as that model's map drawn alone (only rotation, mirroring and one scale), takes
0.1–0.9 s instead of 0.8–8.5 s (the second map comes from the projection cache), works for PCA, UMAP
and 3-D, and starting t-SNE from the first map did not line the maps up reliably better either. So
Procrustes is the default (``DEFAULT_ALIGNMENT``); the t-SNE start stays one click away.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from bench.common import sentences
from embedlab import seed
from embedlab.maps.compare import compare_maps
from embedlab.maps.pipeline import build_map
from embedlab.maps.quality import trustworthiness

MODELS = ("all-MiniLM-L6-v2", "static-64d")
PAIRS = {
    "static": [MODELS, MODELS[::-1]],
    "similar": [("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"), ("all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2")],
}
SEEDS = (42, 7, 1)


def line_up(first: np.ndarray, second: np.ndarray) -> float:
    """Mean distance between a sentence's two places ÷ the first map's RMS radius."""
    radius = np.sqrt(((first - first.mean(axis=0)) ** 2).sum(axis=1).mean())
    return float(np.linalg.norm(first - second, axis=1).mean() / radius)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 and 300 sentences, one seed")
    parser.add_argument("--seeds", type=int, nargs="+", help=f"random states (default {SEEDS})")
    parser.add_argument("--sizes", nargs="+", default=["16", "300", "1000"], help="inputs: 16 (the lesson), 300, 1000")
    parser.add_argument("--pairs", nargs="+", default=["static"], choices=sorted(PAIRS), help="model pairs")
    args = parser.parse_args()
    every = {"16": ("lesson 16", list(seed.SENTENCES)), "300": ("300", sentences(300))}
    every["1000"] = ("1,000", sentences(1000))
    sizes = ["16", "300"] if args.quick else args.sizes
    inputs = dict(every[size] for size in sizes)
    seeds = SEEDS[:1] if args.quick else tuple(args.seeds or SEEDS)
    rows = []
    print(
        f"{'input':>9} {'first':>17} {'second':>17} {'seed':>4}  {'trust P':>7} {'trust I':>7}  "
        f"{'apart P':>7} {'apart I':>7}  {'time P':>6} {'time I':>6}"
    )
    for name, texts in inputs.items():
        for first_model, second_model in [pair for name in args.pairs for pair in PAIRS[name]]:
            for random_state in seeds:
                first = build_map(texts, model=first_model, random_state=random_state)
                build_map(texts, model=second_model, random_state=random_state)  # encoded before timing
                figures = {}
                for alignment in ("procrustes", "tsne_init"):
                    started = time.perf_counter()
                    compared = compare_maps(first, second_model, alignment=alignment)
                    seconds = time.perf_counter() - started
                    second = compared.second
                    trust = trustworthiness(second.embeddings, second.points, k=10)
                    figures[alignment] = (trust, line_up(first.points, second.points), seconds)
                (tp, ap, sp), (ti, ai, si) = figures["procrustes"], figures["tsne_init"]
                rows.append((name, tp, ti, ap, ai))
                print(
                    f"{name:>9} {first_model:>17} {second_model:>17} {random_state:>4}  {tp:7.4f} {ti:7.4f}  "
                    f"{ap:7.3f} {ai:7.3f}  {sp:6.1f} {si:6.1f}"
                )
    print(
        "\nmedians per input: trustworthiness@10 of the second map (Procrustes / t-SNE from the first map), "
        "distance apart (Procrustes / t-SNE from the first map)"
    )
    for name in inputs:
        mine = [r for r in rows if r[0] == name]
        med = [statistics.median(r[i] for r in mine) for i in (1, 2, 3, 4)]
        better = sum(r[1] >= r[2] for r in mine)
        gain = statistics.mean(r[2] - r[1] for r in mine)
        print(
            f"{name:>9}: trust {med[0]:.4f} / {med[1]:.4f} (Procrustes at least as faithful in {better} of "
            f"{len(mine)}; t-SNE from the first map minus Procrustes: mean {gain:+.4f}); "
            f"apart {med[2]:.3f} / {med[3]:.3f}"
        )


if __name__ == "__main__":
    main()
