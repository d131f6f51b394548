"""memory_search: one query against a 1,000,000 × 384 collection: exact vs approximate, and recall@10.

The vectors are made from real encoded texts, because encoding a million real texts would take
hours here: the Debian package descriptions of ``embedlab/data/debian_pairs.jsonl`` (whole and
sentence by sentence) and the lesson's seed texts are encoded with all-MiniLM-L6-v2 (~1,100 real
vectors, the "bases"); each collection row is a unit-norm perturbation of them,
``normalise(a + w·(b − a) + noise)`` with two random bases a, b, w ∈ [0, 0.5] and a noise vector
of norm 0.1–0.5 — so rows lie where real embeddings lie, and every query has many near rows.
The queries are real texts held out of the bases: the packages' one-line summaries, encoded.
``--quick`` uses 100,000 rows; ``EMBEDLAB_BENCH_HNSW=0`` skips IVF_HNSW_SQ (its build takes ~11 minutes
at 100,000 rows on the loaded 2-core machine).

The collection is written as embedlab.memory stores it (a LanceDB table and its settings record)
and searched through :func:`embedlab.memory.search_collection`. Measured, one query at a time:

Times are of ``search_collection`` given the query's vector (its hits' texts fetched too); the
same with the query as a text already in the embedding cache is kept beside them. Encoding a new
text costs the model's forward pass on top (~10 ms or more for MiniLM on this CPU).

* exact: ``search_collection(method="exact")`` — embedlab.rank over the memory-mapped vectors;
  peer: LanceDB's own flat scan (``bypass_vector_index``);
* approximate: LanceDB's IVF_PQ (via :func:`embedlab.memory.build_index`) with nprobes /
  refine_factor settings, and IVF_HNSW_SQ, each with recall@10 against exact search;
* top-1 of exact search equals ``embedlab.rank`` on the same vectors.

Targets (issue 16): exact < 300 ms; approximate < 10 ms at recall@10 ≥ 0.95; top-1 identical.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, Samples, figure, main

NAME = "bench"
DIM = 384
QUERIES = 100  # for recall
TIMED = 15  # queries timed per method


def real_texts() -> tuple[list[str], list[str]]:
    """(bases, queries): Debian descriptions and their sentences plus the seed's texts; the summaries."""
    from embedlab import seed

    pairs = [json.loads(line) for line in (ROOT / "embedlab/data/debian_pairs.jsonl").read_text().splitlines()]
    bases = [p["positive"] for p in pairs]
    for p in pairs:
        bases += [s.strip() for s in re.split(r"(?<=[.!?])\s+", p["positive"]) if len(s.strip()) > 20]
    bases += list(seed.SENTENCES) + list(seed.TRACE_TEXTS) + list(seed.QUERIES)
    return list(dict.fromkeys(bases)), list(dict.fromkeys(p["query"] for p in pairs))


def perturbed(bases: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit rows near the real ``bases`` (see the module docstring), made in pieces."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, bases.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a, b = rng.integers(0, len(bases), m), rng.integers(0, len(bases), m)
        w = rng.uniform(0, 0.5, (m, 1)).astype(np.float32)
        noise = rng.standard_normal((m, bases.shape[1]), dtype=np.float32)
        noise *= (rng.uniform(0.1, 0.5, m) / np.linalg.norm(noise, axis=1)).astype(np.float32)[:, None]
        piece = bases[a] + w * (bases[b] - bases[a]) + noise
        out[start : start + m] = piece / np.linalg.norm(piece, axis=1, keepdims=True)
    return out


def install(vectors: np.ndarray, home: Path) -> None:
    """Write ``vectors`` as the collection NAME, exactly as build_collection stores one."""
    import pyarrow as pa

    from embedlab.memory import CollectionNotFound, delete_collection
    from embedlab.memory.store import Settings, collections_dir, connect, now, write_settings

    with contextlib.suppress(CollectionNotFound):
        delete_collection(NAME, home=home)  # a collection left by an earlier run
    folder = collections_dir(home)
    db = connect(folder)
    table_name = f"{NAME}.1"

    def batch(start: int, stop: int) -> pa.Table:
        rows = np.arange(start, stop)
        ids = pa.array([str(r) for r in rows])
        return pa.table(
            {
                "row": pa.array(rows, pa.int64()),
                "id": ids,
                "text": pa.array([f"perturbed row {r}" for r in rows]),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors[start:stop].ravel()), DIM),
                "text_hash": ids,
            }
        )

    step = 100_000
    table = db.create_table(table_name, batch(0, min(step, len(vectors))))
    for start in range(step, len(vectors), step):
        table.add(batch(start, min(start + step, len(vectors))))
    from embedlab.memory.build import _identity

    key, dim = _identity("all-MiniLM-L6-v2")
    record = {
        "model": "all-MiniLM-L6-v2",
        "model_key": key,
        "dim": dim,
        "text_column": "text",
        "id_column": None,
        "metadata_columns": [],
        "source": "bench/memory_search.py (perturbed real vectors)",
        "table": table_name,
        "version": int(table.version),
        "data_version": int(table.version),
        "rows": len(vectors),
        "created": now(),
        "updated": now(),
        "index": None,
        "pending": None,
        "generation": 1,
    }
    write_settings(Settings(NAME, folder, {}), record)


def note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def median_ms(call, items) -> Samples:
    samples = Samples()
    for item in items:
        started = time.perf_counter()
        call(item)
        samples.add(time.perf_counter() - started)
    return samples


def recall(found: list[list[int]], exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e.tolist())) / len(e) for f, e in zip(found, exact, strict=True)]))


def measure_hnsw(settings, queries: np.ndarray, exact_idx: np.ndarray) -> dict:
    """LanceDB's IVF_HNSW_SQ on the collection: build time, recall@10 and ms per query by ``ef``.

    Measured before :func:`embedlab.memory.build_index`, which then replaces it with IVF_PQ.
    """
    from lancedb.index import IvfHnswSq

    from embedlab.memory.store import connect, write_settings

    table = connect(settings.path).open_table(settings["table"])
    started = time.perf_counter()
    partitions = max(1, int(settings["rows"]) // 250_000)
    table.create_index("vector", config=IvfHnswSq(distance_type="cosine", num_partitions=partitions))
    out = {"build_s": time.perf_counter() - started, "by_ef": {}}
    for ef in (50, 100, 200):

        def query(q, ef=ef):
            return table.search(q).distance_type("cosine").limit(10).ef(ef).select(["row"]).to_arrow()

        found = [query(q)["row"].to_pylist() for q in queries]
        out["by_ef"][ef] = {
            "recall_at_10": recall(found, exact_idx),
            "ms": median_ms(query, queries[:TIMED]).median * 1000,
        }
    note(f"IVF_HNSW_SQ: {out}")
    # the index made a table version: make it the one readers see, as build_index does
    write_settings(settings, {**settings.record, "version": int(table.version)})
    return out


def run(quick: bool):
    import embedlab
    from embedlab.memory import build_index, search_collection
    from embedlab.memory.search import _nearest
    from embedlab.memory.store import complete_settings, open_table

    n = 100_000 if quick else 1_000_000
    home = Path(os.environ.get("EMBEDLAB_HOME") or embedlab.data_dir())
    bases_text, query_text = real_texts()
    started = time.perf_counter()
    bases = embedlab.encode(bases_text)
    queries = embedlab.encode(query_text[:QUERIES])
    encode_s = time.perf_counter() - started
    vectors = perturbed(bases, n)
    started = time.perf_counter()
    install(vectors, home)
    write_s = time.perf_counter() - started
    note(f"{n:,} rows from {len(bases_text):,} real texts; encoded in {encode_s:.0f} s, written in {write_s:.0f} s")
    exact_idx = embedlab.rank(queries, vectors, k=10)[0]
    texts = query_text[:QUERIES]

    # exact: the first search writes the memory-mapped vector file; then one query at a time
    started = time.perf_counter()
    first = search_collection(NAME, texts[0], k=10, method="exact")
    first_s = time.perf_counter() - started
    hits = [search_collection(NAME, t, k=10, method="exact").hits for t in texts]
    top1_same = float(np.mean([int(h["id"].iloc[0]) == int(e[0]) for h, e in zip(hits, exact_idx, strict=True)]))
    exact_recall = recall([h["id"].astype(int).tolist() for h in hits], exact_idx)
    # the search itself, given the query's vector (encoding a new text costs the model's ~10+ ms on top)
    exact = median_ms(lambda q: search_collection(NAME, q, k=10, method="exact"), queries[:TIMED])
    exact_text = median_ms(lambda t: search_collection(NAME, t, k=10, method="exact"), texts[:TIMED])
    rank_only = median_ms(lambda q: embedlab.rank(q, vectors, k=10), queries[:TIMED])
    settings = complete_settings(NAME)
    table = open_table(settings)
    note(f"exact: {exact.median * 1000:.1f} ms, rank alone {rank_only.median * 1000:.1f} ms, first {first_s:.1f} s")
    flat = median_ms(
        lambda q: table.search(q).distance_type("cosine").bypass_vector_index().limit(10).select(["row"]).to_arrow(),
        queries[:3],
    )

    note(f"LanceDB flat: {flat.median * 1000:.0f} ms")
    hnsw = measure_hnsw(settings, queries, exact_idx) if os.environ.get("EMBEDLAB_BENCH_HNSW", "1") != "0" else None

    # IVF_PQ through embedlab.memory.build_index, then the settings swept
    report = build_index(NAME)
    note(f"IVF_PQ: {report}")
    settings = complete_settings(NAME)
    approximate = median_ms(lambda q: search_collection(NAME, q, k=10, method="approximate"), queries[:TIMED])
    approximate_text = median_ms(lambda t: search_collection(NAME, t, k=10, method="approximate"), texts[:TIMED])
    found = [search_collection(NAME, t, k=10, method="approximate").hits["id"].astype(int).tolist() for t in texts]
    approximate_recall = recall(found, exact_idx)
    sweep = {}
    for nprobes, refine in ((10, None), (10, 10), (20, 10), (20, 20), (40, 10), (40, 20)):
        trial = type(settings)(settings.name, settings.path, {**settings.record})
        trial.record["index"] = {**settings["index"], "nprobes": nprobes, "refine_factor": refine}
        got = [_nearest(trial, q, 10, None)["row"].tolist() for q in queries]
        ms = median_ms(lambda q, trial=trial: _nearest(trial, q, 10, None), queries[:TIMED]).median * 1000
        sweep[f"nprobes={nprobes},refine_factor={refine}"] = {"recall_at_10": recall(got, exact_idx), "ms": ms}
    shape = f"{n:,} × {DIM}"
    common = dict(rows=n, real_bases=len(bases_text), queries=len(texts), encode_bases_s=encode_s, write_s=write_s)
    return [
        figure(
            "memory_search_exact",
            f"Memory Search exact, one query, {shape}",
            exact,
            peer=flat,
            peer_name="LanceDB flat scan",
            target="< 300 ms, exact",
            met=exact.median < 0.3 and exact_recall == 1.0,
            recall_at_10=exact_recall,
            rank_alone=rank_only.summary(),
            with_cached_query_text=exact_text.summary(),
            first_search_s=first_s,
            first_search_rows=len(first.hits),
            **common,
        ),
        figure(
            "memory_search_approximate",
            f"Memory Search approximate (IVF_PQ), one query, {shape}",
            approximate,
            peer=exact,
            peer_name="exact search",
            target="< 10 ms at recall@10 ≥ 0.95",
            met=approximate.median < 0.01 and approximate_recall >= 0.95,
            recall_at_10=approximate_recall,
            with_cached_query_text=approximate_text.summary(),
            index_report_recall=report.recall_at_10,
            index_build_s=report.seconds,
            ivf_pq_sweep=sweep,
            ivf_hnsw_sq=hnsw,
            **common,
        ),
        figure(
            "memory_search_top1",
            f"Memory Search exact top-1 equals embedlab.rank, {shape}",
            Samples([top1_same], unit="share"),
            target="1.0 (every query)",
            met=top1_same == 1.0,
            **common,
        ),
    ]


if __name__ == "__main__":
    main(run)
