"""rank: 100 queries × 100,000 corpus rows (384-d float32), top 10 by cosine.

Peer: scikit-learn's ``cosine_similarity`` + ``argsort`` (the naive way). The machine's bound is
measured in the same run: single-precision matrix-multiply throughput (4096³ sgemm) and memory
read bandwidth (summing 1 GB); bound = max(FLOPs ÷ sgemm rate, corpus bytes ÷ bandwidth).
sentence-transformers' ``semantic_search`` (dot product on pre-normalised vectors, the fastest
exact peer in the baselines) is timed too, for reference. A 1,000,000-row corpus is ranked in a
new process to measure peak memory (and scikit-learn's peak for the same).
Targets: ratio ≥ 10×; time ≤ 2 × bound; results identical to the naive way; memory bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from bench.common import ROOT, Samples, figure, interleaved, main, timed

K = 10
DIM = 384


def corpus(n: int, seed: int = 0) -> np.ndarray:
    """Unit float32 rows, made in pieces so no float64 copy of the whole is ever held."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        piece = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        piece /= np.linalg.norm(piece, axis=1, keepdims=True)
        out[start : start + len(piece)] = piece
    return out


def queries_for(c: np.ndarray, n: int = 100, seed: int = 1) -> np.ndarray:
    """Queries near random corpus rows (so each has clear winners), not normalised."""
    rng = np.random.default_rng(seed)
    return c[rng.choice(len(c), n, replace=False)] + 0.05 * rng.standard_normal((n, DIM), dtype=np.float32)


def naive(q, c, k=K):
    from sklearn.metrics.pairwise import cosine_similarity

    sims = cosine_similarity(q, c)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, 1)


def sgemm_rate() -> float:
    """Best GFLOP/s of a 4096³ float32 matrix product over a few runs."""
    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(timed(lambda: np.matmul(a, a, out=out))[0] for _ in range(5))
    return 2 * 4096**3 / best / 1e9


def read_bandwidth() -> float:
    """Best GB/s of summing a 1 GB float32 array (memory read, as scoring reads the corpus)."""
    a = np.ones(2**28, dtype=np.float32)
    a.sum()
    best = min(timed(lambda: a.sum())[0] for _ in range(5))
    return a.nbytes / best / 1e9


MEMORY_CHILD = """
import json, time
import numpy as np
from bench.common import peak_rss_mb, reset_peak, rss_mb
from bench.rank import corpus, queries_for, naive
import embedlab
c = corpus({n})
q = queries_for(c)
reset_peak()
before = rss_mb()
start = time.perf_counter()
result = ({call})(q, c)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "extra_mb": peak_rss_mb() - before,
                   "corpus_mb": c.nbytes / 2**20, "indices": np.asarray(result[0]).tolist()}}))
"""


def _memory_child(n: int, call: str) -> dict:
    code = MEMORY_CHILD.format(n=n, call=call)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool):
    import torch
    from sentence_transformers.util import dot_score, semantic_search

    import embedlab

    n, repeats = (20_000, 5) if quick else (100_000, 9)
    c = corpus(n)
    q = queries_for(c)
    gflops, bandwidth = sgemm_rate(), read_bandwidth()
    flops = 2 * len(q) * n * DIM
    bound = max(flops / (gflops * 1e9), c.nbytes / (bandwidth * 1e9))

    want_idx, want_scores = naive(q, c)
    got_idx, got_scores = embedlab.rank(q, c, k=K)
    identical = bool(np.array_equal(got_idx, want_idx)) and bool(np.allclose(got_scores, want_scores, atol=1e-5))

    unit_q = torch.from_numpy(q / np.linalg.norm(q, axis=1, keepdims=True))
    corpus_t = torch.from_numpy(c)
    samples = interleaved(
        {
            "naive": lambda: naive(q, c),
            "embedlab": lambda: embedlab.rank(q, c, k=K),
            "semantic_search": lambda: semantic_search(unit_q, corpus_t, top_k=K, score_function=dot_score),
        },
        repeats,
    )
    ours = samples["embedlab"]
    ratio = samples["naive"].median / ours.median
    big = 200_000 if quick else 1_000_000
    memory = _memory_child(big, "lambda q, c: embedlab.rank(q, c, k=10)")
    peer_memory = _memory_child(big, "naive")
    same_big = memory["indices"] == peer_memory["indices"]
    return [
        figure(
            "rank",
            f"rank, 100 queries × {n:,} corpus, 384-d, top {K}",
            ours,
            peer=samples["naive"],
            peer_name="sklearn cosine_similarity + argsort",
            target="≥ 10×, ≤ 2 × bound, identical",
            met=ratio >= 10 and ours.median <= 2 * bound and identical,
            bound_s=bound,
            of_bound=ours.median / bound,
            sgemm_gflops=gflops,
            read_gb_per_s=bandwidth,
            identical_to_naive=identical,
            semantic_search_dot_score=samples["semantic_search"].summary(),
        ),
        figure(
            "rank_memory",
            f"rank, 100 queries × {big:,} corpus: extra peak memory",
            Samples([memory["extra_mb"]], unit="MB"),
            peer=Samples([peer_memory["extra_mb"]], unit="MB"),
            peer_name="sklearn cosine_similarity + argsort",
            target="bounded (≪ corpus size)",
            met=memory["extra_mb"] < 0.1 * memory["corpus_mb"] and same_big,
            corpus_mb=memory["corpus_mb"],
            seconds=memory["seconds"],
            peer_seconds=peer_memory["seconds"],
            identical_to_naive=same_big,
        ),
    ]


if __name__ == "__main__":
    main(run)
