"""rank: 100 queries × 100,000 corpus rows (384-d float32), top 10 by cosine.

Side by side in one run, interleaved, median and spread of ≥ 7 repeats:

* embedlab.rank on a float32 corpus of unit rows held as the user's own array (its norms are
  measured), and on the same rows marked as encode's output marks them (``mark_unit_rows``);
* torch: ``torch.topk(Q @ C.T, 10)`` on pre-normalised tensors;
* numpy: ``Q @ C.T`` then ``argpartition`` and a sort of the top 10, pre-normalised;
* scikit-learn's ``cosine_similarity`` + ``argsort`` (the naive way) and sentence-transformers'
  ``semantic_search`` with ``dot_score`` on pre-normalised tensors, for reference.

The machine's bound is measured in the same run: single-precision matrix-multiply throughput (a
4096³ product in numpy and in torch; the faster counts) and memory read bandwidth (summing 1 GB);
bound = max(FLOPs ÷ sgemm rate, corpus bytes ÷ bandwidth). A 1,000,000-row corpus is ranked in
a new process to measure peak memory (and scikit-learn's peak for the same).
Targets: ≥ 10× the naive way; ≤ torch's median; ≤ 1.5 × bound; results identical; memory bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from bench.common import ROOT, Samples, figure, interleaved, main, show, timed

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


def marked(c: np.ndarray) -> np.ndarray:
    """A read-only copy of ``c`` marked as having unit rows, as ``embedlab.encode`` returns them."""
    from embedlab.retrieval.ranking import mark_unit_rows

    out = c.copy()
    out.flags.writeable = False
    if not mark_unit_rows(out):
        raise RuntimeError("the bench corpus should have unit rows")
    return out


def naive(q, c, k=K):
    from sklearn.metrics.pairwise import cosine_similarity

    sims = cosine_similarity(q, c)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, 1)


def numpy_top_k(unit_q, c, k=K):
    """``Q @ C.T``, ``argpartition`` for the top k, then those k sorted (inputs pre-normalised)."""
    sims = unit_q @ c.T
    top = np.argpartition(sims, -k, axis=1)[:, -k:]
    top_scores = np.take_along_axis(sims, top, 1)
    order = np.argsort(-top_scores, axis=1)
    return np.take_along_axis(top, order, 1), np.take_along_axis(top_scores, order, 1)


def sgemm_rate() -> dict:
    """Best GFLOP/s of a 4096³ float32 matrix product over a few runs, in numpy and in torch."""
    import torch

    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    out = np.empty_like(a)
    ta, tout = torch.from_numpy(a), torch.from_numpy(out)
    rates = {}
    for name, call in (("numpy", lambda: np.matmul(a, a, out=out)), ("torch", lambda: torch.mm(ta, ta, out=tout))):
        call()
        rates[name] = 2 * 4096**3 / min(timed(call)[0] for _ in range(5)) / 1e9
    return rates


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
from embedlab.retrieval.ranking import mark_unit_rows
c = corpus({n})
q = queries_for(c)
if {mark}:
    c.flags.writeable = False
    assert mark_unit_rows(c)
reset_peak()
before = rss_mb()
start = time.perf_counter()
result = ({call})(q, c)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "extra_mb": peak_rss_mb() - before,
                   "corpus_mb": c.nbytes / 2**20, "indices": np.asarray(result[0]).tolist()}}))
"""


def _memory_child(n: int, call: str, *, mark: bool = False) -> dict:
    code = MEMORY_CHILD.format(n=n, call=call, mark=mark)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _same(got, want) -> bool:
    """Same indices, scores within float noise."""
    return bool(np.array_equal(np.asarray(got[0]), np.asarray(want[0]))) and bool(
        np.allclose(np.asarray(got[1]), np.asarray(want[1]), atol=1e-5)
    )


def run(quick: bool):
    import torch
    from sentence_transformers.util import dot_score, semantic_search

    import embedlab
    from embedlab.retrieval import ranking

    n, repeats = (20_000, 7) if quick else (100_000, 9)
    c = corpus(n)
    c_marked = marked(c)
    q = queries_for(c)
    unit_q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    tq, tc = torch.from_numpy(unit_q), torch.from_numpy(c)
    rates, bandwidth = sgemm_rate(), read_bandwidth()
    gflops = max(rates.values())
    flops = 2 * len(q) * n * DIM
    bound = max(flops / (gflops * 1e9), c.nbytes / (bandwidth * 1e9))

    want = naive(q, c)
    identical = {
        "embedlab": _same(embedlab.rank(q, c, k=K), want),
        "embedlab_marked": _same(embedlab.rank(q, c_marked, k=K), want),
        "torch": _same([t.numpy() for t in torch.topk(tq @ tc.T, K)], want),
        "numpy": _same(numpy_top_k(unit_q, c), want),
    }
    samples = interleaved(
        {
            "naive": lambda: naive(q, c),
            "embedlab": lambda: embedlab.rank(q, c, k=K),
            "embedlab_marked": lambda: embedlab.rank(q, c_marked, k=K),
            "torch": lambda: torch.topk(tq @ tc.T, K),
            "numpy": lambda: numpy_top_k(unit_q, c),
            "semantic_search": lambda: semantic_search(tq, tc, top_k=K, score_function=dot_score),
        },
        repeats,
    )
    ours, ours_marked, peer_torch = samples["embedlab"], samples["embedlab_marked"], samples["torch"]
    ratio = samples["naive"].median / ours.median
    side_by_side = {
        name: {**samples[name].summary(), "of_bound": samples[name].median / bound}
        for name in ("embedlab", "embedlab_marked", "torch", "numpy", "semantic_search")
    }
    print(f"bound {bound * 1e3:.1f} ms (sgemm GFLOP/s {rates}, read {bandwidth:.1f} GB/s), side by side:", flush=True)
    for name, row in side_by_side.items():
        print(f"  {name:16s} {show(row)}  {row['of_bound']:.2f}× bound", flush=True)
    big = 200_000 if quick else 1_000_000
    memory = _memory_child(big, "lambda q, c: embedlab.rank(q, c, k=10)")
    memory_marked = _memory_child(big, "lambda q, c: embedlab.rank(q, c, k=10)", mark=True)
    peer_memory = _memory_child(big, "naive")
    same_big = memory["indices"] == peer_memory["indices"] == memory_marked["indices"]
    # rank's own bound (8 bytes per score of a chunk, per thread), and 8 MB for the threads' stacks in RSS
    stated_mb = ranking._threads() * 8 * ranking.CHUNK_ELEMENTS / 2**20 + 8
    common = {
        "bound_s": bound,
        "sgemm_gflops": rates,
        "read_gb_per_s": bandwidth,
        "threads": ranking._threads(),
        "side_by_side": side_by_side,
        "identical_to_naive": identical,
    }
    return [
        figure(
            "rank",
            f"rank, 100 queries × {n:,} corpus, 384-d, top {K}",
            ours,
            peer=samples["naive"],
            peer_name="sklearn cosine_similarity + argsort",
            target="≥ 10×, identical",
            met=ratio >= 10 and identical["embedlab"],
            of_bound=ours.median / bound,
            semantic_search_dot_score=samples["semantic_search"].summary(),
            **common,
        ),
        figure(
            "rank_vs_torch",
            f"rank vs torch topk(Q @ C.T), 100 queries × {n:,}, 384-d, top {K}",
            ours,
            peer=peer_torch,
            peer_name="torch.topk(Q @ C.T) pre-normalised",
            target="≤ torch, ≤ 1.5 × sgemm bound, identical",
            met=ours.median <= peer_torch.median and ours.median <= 1.5 * bound and identical["embedlab"],
            of_bound=ours.median / bound,
            **common,
        ),
        figure(
            "rank_marked_vs_torch",
            f"rank of encode's (marked) vectors vs torch topk(Q @ C.T), 100 queries × {n:,}",
            ours_marked,
            peer=peer_torch,
            peer_name="torch.topk(Q @ C.T) pre-normalised",
            target="≤ torch, ≤ 1.5 × sgemm bound, identical",
            met=ours_marked.median <= peer_torch.median
            and ours_marked.median <= 1.5 * bound
            and identical["embedlab_marked"],
            of_bound=ours_marked.median / bound,
            **common,
        ),
        figure(
            "rank_memory",
            f"rank, 100 queries × {big:,} corpus: extra peak memory",
            Samples([memory["extra_mb"]], unit="MB"),
            peer=Samples([peer_memory["extra_mb"]], unit="MB"),
            peer_name="sklearn cosine_similarity + argsort",
            target="bounded (≪ corpus size, ≤ the stated bound)",
            met=memory["extra_mb"] < min(0.1 * memory["corpus_mb"], stated_mb) and same_big,
            corpus_mb=memory["corpus_mb"],
            score_matrix_mb=100 * big * 4 / 2**20,
            stated_bound_mb=stated_mb,
            marked_extra_mb=memory_marked["extra_mb"],
            seconds=memory["seconds"],
            marked_seconds=memory_marked["seconds"],
            peer_seconds=peer_memory["seconds"],
            identical_to_naive=same_big,
        ),
    ]


if __name__ == "__main__":
    main(run)
