"""memory_search: one query against a 1,000,000 × 384 collection: exact vs approximate, and recall@10.

The vectors are made from real encoded texts, because encoding a million real texts would take
hours here: the Debian package descriptions of ``embedlab/data/debian_pairs.jsonl`` (whole and
sentence by sentence) and the lesson's seed texts are encoded with all-MiniLM-L6-v2 (~1,100 real
vectors, the "bases"); each collection row is a unit-norm perturbation of them,
``normalise(a + w·(b − a) + noise)`` with two random bases a, b, w ∈ [0, 0.5] and a noise vector
of norm 0.1–0.5 — so rows lie where real embeddings lie, and every query has many near rows.
The queries are real texts held out of the bases: the packages' one-line summaries, encoded.
``--quick`` uses 100,000 rows.

The collection is written as embedlab.memory stores it (a LanceDB table and its settings record)
and searched through :func:`embedlab.memory.search_collection`, one query at a time. Times are of
``search_collection`` given the query's vector (its hits' texts fetched too); the same with the
query as a text already in the embedding cache is kept beside them. Encoding a new text costs the
model's forward pass on top (~10 ms or more for MiniLM on this CPU).

* exact: ``search_collection(method="exact")`` — embedlab.rank over the memory-mapped vectors;
  peer: LanceDB's own flat scan (``bypass_vector_index``);
* approximate, each candidate built here with its build time, recall@10 against exact search on
  the 100 real queries and ms per query over a sweep of its search settings:
  - "HNSW": usearch's graph over int8 vectors, re-scored with float32
    (``build_index(kind="HNSW")``), with the time split into graph walk, re-scoring and
    fetching the hits' texts;
  - LanceDB's IVF_PQ through ``build_index(kind="IVF_PQ")`` (the default kind, whose
    ``search_collection`` path is the figure) with nprobes / refine_factor swept,
    the time split into LanceDB's query floor (one partition, no re-scoring, row numbers only),
    the search, and the texts; ``EMBEDLAB_BENCH_IVF_PQ`` ("PARTITIONSxSUBVECTORS,...") adds
    builds of other shapes (default: two more in ``--quick``, none at 1M);
  - "IVF": FAISS's inverted file over 8-bit codes, re-scored with float32
    (``build_index(kind="IVF")``, nprobe chosen on the collection), with nprobe swept, the time
    split into faiss's probe on 1 and on 2 threads, re-scoring and the texts;
    ``EMBEDLAB_BENCH_IVF`` ("LISTS,...") adds builds with other numbers of inverted lists;
  - LanceDB's IVF_HNSW_SQ when ``EMBEDLAB_BENCH_LANCE_HNSW=1`` (default in ``--quick`` only: its
    build took 11 minutes at 100,000 rows under load, so at 1M it is past a bearable build);
* top-1 of exact search equals ``embedlab.rank`` on the same vectors.

``EMBEDLAB_BENCH_KINDS`` ("HNSW,IVF_PQ,IVF" by default) names the kinds built, so one kind can be
measured at 1M without the others' builds; the approximate figure is ``DEFAULT_KIND``'s, with the
first other kind built as its peer.

Targets (issue 16): exact < 300 ms; approximate < 10 ms at recall@10 ≥ 0.95; top-1 identical.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench.common import ROOT, Samples, figure, main

os.environ.setdefault("LANCE_LOG", "error")  # LanceDB warns on every query that selects no _distance

NAME = "bench"
DIM = 384
QUERIES = 100  # for recall
TIMED = 30  # queries timed per setting


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


def timings(call, items) -> Samples:
    """Seconds of ``call(item)`` for each item, after one untimed call."""
    call(items[0])
    samples = Samples()
    for item in items:
        started = time.perf_counter()
        call(item)
        samples.add(time.perf_counter() - started)
    return samples


def ms(samples: Samples) -> dict:
    """Median, min and max in milliseconds, rounded."""
    s = samples.summary()
    return {key: round(s[key] * 1000, 3) for key in ("median", "min", "max")}


def recall(found: list[list[int]], exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e.tolist())) / len(e) for f, e in zip(found, exact, strict=True)]))


def trial(settings, **index):
    """``settings`` with its index record's search settings replaced (nothing written)."""
    return type(settings)(settings.name, settings.path, {**settings.record, "index": {**settings["index"], **index}})


def approximate_path(queries, texts, exact_idx) -> dict:
    """``search_collection(method="approximate")`` end to end: ms given the vector / a cached text, recall@10."""
    from embedlab.memory import search_collection

    by_vector = timings(lambda q: search_collection(NAME, q, k=10, method="approximate"), queries[:TIMED])
    by_text = timings(lambda t: search_collection(NAME, t, k=10, method="approximate"), texts[:TIMED])
    found = [search_collection(NAME, q, k=10, method="approximate").hits["id"].astype(int).tolist() for q in queries]
    return {
        "samples": by_vector,
        "ms": ms(by_vector),
        "ms_cached_text": ms(by_text),
        "recall_at_10": recall(found, exact_idx),
    }


def measure_hnsw(queries, texts, exact_idx) -> dict:
    """usearch's HNSW through build_index: build, the full path, the time split, and ef/candidates swept."""
    from embedlab.memory import build_index
    from embedlab.memory import index as ix
    from embedlab.memory.search import _hits
    from embedlab.memory.store import complete_settings

    report = build_index(NAME, kind="HNSW")
    note(f"HNSW (int8): {report}")
    settings = complete_settings(NAME)
    size_mb = (settings.path / ".exact" / settings["index"]["file"]).stat().st_size / 2**20
    out = {"build_s": report.seconds, "index_report": asdict(report), "file_mb": round(size_mb, 1)}
    out["path"] = approximate_path(queries, texts, exact_idx)
    graph = ix._graph(settings.path / ".exact" / settings["index"]["file"])
    found = [ix.hnsw_search(settings, q, 10) for q in queries[:TIMED]]
    out["split_ms"] = {
        f"graph walk (usearch, {ix.CANDIDATES} candidates)": ms(
            timings(lambda q: graph.search(q, ix.CANDIDATES, threads=1), queries[:TIMED])
        ),
        "graph walk + float32 re-scoring": ms(timings(lambda q: ix.hnsw_search(settings, q, 10), queries[:TIMED])),
        "hits' texts from the Arrow file + frame": ms(timings(lambda f: _hits(settings, *f), found)),
    }
    sweep = {}
    for ef, candidates in ((64, 40), (128, 40), (256, 100), (512, 100), (1024, 200)):
        t = trial(settings, ef=ef, candidates=candidates)
        got = [ix.nearest_rows(t, q, 10).tolist() for q in queries]
        sweep[f"ef={ef},candidates={candidates}"] = {
            "recall_at_10": recall(got, exact_idx),
            "ms": ms(timings(lambda q, t=t: ix.hnsw_search(t, q, 10), queries[:TIMED])),
        }
    out["sweep"] = sweep
    note(f"HNSW (int8): path {out['path']['ms']} recall {out['path']['recall_at_10']:.3f}; split {out['split_ms']}")
    return out


def lance_split(settings, queries) -> dict:
    """Where a LanceDB IVF_PQ query's time goes: its floor, the search, the texts; and its plan."""
    from embedlab.memory import index as ix
    from embedlab.memory.store import open_table

    table = open_table(settings)

    def rows_only(q, nprobes=ix.NPROBES, refine=ix.REFINE_FACTOR):
        query = table.search(q, vector_column_name="vector").distance_type("cosine").limit(10).nprobes(nprobes)
        return (query.refine_factor(refine) if refine else query).select(["row"]).to_arrow()

    offsets = [np.sort(np.random.default_rng(i).choice(int(settings["rows"]), 10, replace=False)) for i in range(TIMED)]
    plan = table.search(queries[0], vector_column_name="vector").distance_type("cosine").limit(10)
    plan = plan.nprobes(ix.NPROBES).refine_factor(ix.REFINE_FACTOR).select(["row"])
    with contextlib.suppress(Exception):  # the plan is extra: older LanceDB has no analyze_plan
        plan = plan.analyze_plan()
    return {
        "floor: 1 partition, no re-scoring, row numbers (ms)": ms(
            timings(lambda q: rows_only(q, 1, None), queries[:TIMED])
        ),
        f"nprobes {ix.NPROBES}, no re-scoring, row numbers (ms)": ms(
            timings(lambda q: rows_only(q, ix.NPROBES, None), queries[:TIMED])
        ),
        f"nprobes {ix.NPROBES}, refine {ix.REFINE_FACTOR}, row numbers (ms)": ms(timings(rows_only, queries[:TIMED])),
        f"nprobes {ix.NPROBES}, refine {ix.REFINE_FACTOR}, texts, pandas (lance_search) (ms)": ms(
            timings(lambda q: ix.lance_search(settings, q, 10, None), queries[:TIMED])
        ),
        "take 10 rows' texts by offset (ms)": ms(
            timings(lambda o: table.take_offsets(o.tolist()).select(["row", "id", "text"]).to_pandas(), offsets)
        ),
        "analyze_plan": str(plan)[:4000],
    }


def measure_ivf_pq(queries, texts, exact_idx, shapes: list[tuple[int, int]]) -> dict:
    """LanceDB's IVF_PQ: build_index's shape with its settings swept and the time split; other shapes after."""
    from lancedb.index import IvfPq

    from embedlab.memory import build_index
    from embedlab.memory import index as ix
    from embedlab.memory.store import complete_settings, connect

    report = build_index(NAME, kind="IVF_PQ")
    note(f"IVF_PQ: {report}")
    settings = complete_settings(NAME)
    n = int(settings["rows"])
    out = {
        "build_s": report.seconds,
        "index_report": asdict(report),
        "path": approximate_path(queries, texts, exact_idx),
    }
    out["split"] = lance_split(settings, queries)
    settings_to_try = ((10, None), (10, 10), (20, 10), (20, 20), (40, 10), (40, 20), (80, 10))

    def sweep(s) -> dict:
        result = {}
        for nprobes, refine in settings_to_try:
            t = trial(s, nprobes=nprobes, refine_factor=refine)
            got = [ix.lance_search(t, q, 10, None)["row"].tolist() for q in queries]
            result[f"nprobes={nprobes},refine_factor={refine}"] = {
                "recall_at_10": recall(got, exact_idx),
                "ms": ms(timings(lambda q, t=t: ix.lance_search(t, q, 10, None), queries[:TIMED])),
            }
        return result

    out["sweep"] = sweep(settings)
    note(f"IVF_PQ: path {out['path']['ms']} recall {out['path']['recall_at_10']:.3f}; sweep {out['sweep']}")
    out["shapes"] = {}
    table = connect(settings.path).open_table(settings["table"])
    for partitions, sub_vectors in shapes:
        started = time.perf_counter()
        table.create_index(
            "vector",
            config=IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=sub_vectors),
            replace=True,
        )
        built = time.perf_counter() - started
        s = type(settings)(settings.name, settings.path, {**settings.record, "version": int(table.version)})
        key = f"partitions={partitions},sub_vectors={sub_vectors}"
        out["shapes"][key] = {"build_s": built, "sweep": sweep(s)}
        note(f"IVF_PQ {key}: {out['shapes'][key]}")
    out["default_shape"] = f"partitions={round(n**0.5)},sub_vectors={DIM // 8}"
    return out


def measure_ivf(queries, texts, exact_idx, lists: list[int]) -> dict:
    """FAISS IVF through build_index: build, the full path, the time split, nprobe swept; other list counts."""
    import faiss

    from embedlab.memory import build_index
    from embedlab.memory import faiss_index as fx
    from embedlab.memory.index import exact_arrays, nearest_rows
    from embedlab.memory.search import _hits
    from embedlab.memory.store import complete_settings

    report = build_index(NAME, kind="IVF")
    note(f"IVF (faiss SQ8): {report}")
    settings = complete_settings(NAME)
    vectors = exact_arrays(settings)[0]
    record = settings["index"]
    size_mb = (settings.path / ".exact" / record["file"]).stat().st_size / 2**20
    out = {"build_s": report.seconds, "index_report": asdict(report), "file_mb": round(size_mb, 1), "index": record}
    out["path"] = approximate_path(queries, texts, exact_idx)
    index = fx._index(settings.path / ".exact" / record["file"])
    unit = [fx._unit(q[None]) for q in queries[:TIMED]]

    def probe(threads: int, nprobe: int):
        def call(q):
            faiss.omp_set_num_threads(threads)
            index.nprobe = nprobe
            return index.search(q, fx.CANDIDATES)

        return call

    default_threads = faiss.omp_get_max_threads()
    found = [fx.ivf_search(settings, q, 10, vectors=vectors) for q in queries[:TIMED]]
    out["split_ms"] = {
        f"faiss probe, nprobe {record['nprobe']}, 1 thread": ms(timings(probe(1, record["nprobe"]), unit)),
        f"faiss probe, nprobe {record['nprobe']}, 2 threads": ms(timings(probe(2, record["nprobe"]), unit)),
        "probe (1 thread) + float32 re-scoring": ms(
            timings(lambda q: fx.ivf_search(settings, q, 10, vectors=vectors), queries[:TIMED])
        ),
        "hits' texts from the Arrow file + frame": ms(timings(lambda f: _hits(settings, *f), found)),
    }
    faiss.omp_set_num_threads(default_threads)

    def sweep(s) -> dict:
        result = {}
        for nprobe in (8, 16, 24, 32, 48, 64, 96, 128):
            t = trial(s, nprobe=nprobe)
            got = [nearest_rows(t, q, 10).tolist() for q in queries]
            result[f"nprobe={nprobe}"] = {
                "recall_at_10": recall(got, exact_idx),
                "ms": ms(timings(lambda q, t=t: fx.ivf_search(t, q, 10, vectors=vectors), queries[:TIMED])),
            }
        return result

    out["sweep"] = sweep(settings)
    note(f"IVF: path {out['path']['ms']} recall {out['path']['recall_at_10']:.3f}; split {out['split_ms']}")
    note(f"IVF sweep: {out['sweep']}")
    out["lists"] = {}
    for count in lists:
        started = time.perf_counter()
        fields = fx.build_ivf(settings, int(settings["data_version"]), vectors, lists=count)
        built = time.perf_counter() - started
        out["lists"][f"lists={count}"] = {"build_s": built, "chosen": fields, "sweep": sweep(trial(settings, **fields))}
        note(f"IVF lists={count}: {out['lists'][f'lists={count}']}")
        with contextlib.suppress(OSError):
            os.remove(settings.path / ".exact" / fields["file"])
        fx.forget(settings.path / ".exact" / fields["file"])
    return out


def measure_lance_hnsw(queries, exact_idx) -> dict:
    """LanceDB's IVF_HNSW_SQ through build_index: build time, recall@10 and ms by ``ef``."""
    from embedlab.memory import build_index
    from embedlab.memory import index as ix
    from embedlab.memory.store import complete_settings

    report = build_index(NAME, kind="IVF_HNSW_SQ")
    settings = complete_settings(NAME)
    out = {"build_s": report.seconds, "by_ef": {}}
    for ef in (50, 100, 200):
        t = trial(settings, ef=ef)
        got = [ix.lance_search(t, q, 10, None)["row"].tolist() for q in queries]
        out["by_ef"][ef] = {
            "recall_at_10": recall(got, exact_idx),
            "ms": ms(timings(lambda q, t=t: ix.lance_search(t, q, 10, None), queries[:TIMED])),
        }
    note(f"IVF_HNSW_SQ: {out}")
    return out


def shapes_from_env(quick: bool, n: int) -> list[tuple[int, int]]:
    """Extra IVF_PQ shapes to build (partitions × sub-vectors) beyond build_index's √n × dim/8."""
    text = os.environ.get("EMBEDLAB_BENCH_IVF_PQ")
    if text is None:
        root = round(n**0.5)
        return [(root, DIM // 4), (root // 4, DIM // 8)] if quick else []
    return [tuple(int(x) for x in part.split("x")) for part in text.split(",") if part.strip()]


def kinds_from_env() -> list[str]:
    """The index kinds to build (``EMBEDLAB_BENCH_KINDS``)."""
    text = os.environ.get("EMBEDLAB_BENCH_KINDS", "HNSW,IVF_PQ,IVF")
    return [kind.strip() for kind in text.split(",") if kind.strip()]


def run(quick: bool):
    import embedlab
    from embedlab.memory import search_collection
    from embedlab.memory.index import exact_arrays
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
    del vectors  # from here on the memory-mapped copy that exact search reads is the only one
    note(f"{n:,} rows from {len(bases_text):,} real texts; encoded in {encode_s:.0f} s, written in {write_s:.0f} s")
    texts = query_text[:QUERIES]

    # exact: the first search writes the memory-mapped vector file; then one query at a time
    started = time.perf_counter()
    first = search_collection(NAME, texts[0], k=10, method="exact")
    first_s = time.perf_counter() - started
    settings = complete_settings(NAME)
    vectors, rows, _ = exact_arrays(settings)
    assert np.array_equal(rows, np.arange(n)), "the bench's table is in row order"
    exact_idx = embedlab.rank(queries, vectors, k=10)[0]
    hits = [search_collection(NAME, t, k=10, method="exact").hits for t in texts]
    top1_same = float(np.mean([int(h["id"].iloc[0]) == int(e[0]) for h, e in zip(hits, exact_idx, strict=True)]))
    exact_recall = recall([h["id"].astype(int).tolist() for h in hits], exact_idx)
    exact = timings(lambda q: search_collection(NAME, q, k=10, method="exact"), queries[:TIMED])
    exact_text = timings(lambda t: search_collection(NAME, t, k=10, method="exact"), texts[:TIMED])
    rank_only = timings(lambda q: embedlab.rank(q, vectors, k=10), queries[:TIMED])
    table = open_table(settings)
    note(f"exact: {exact.median * 1000:.1f} ms, rank alone {rank_only.median * 1000:.1f} ms, first {first_s:.1f} s")
    flat = timings(
        lambda q: table.search(q).distance_type("cosine").bypass_vector_index().limit(10).select(["row"]).to_arrow(),
        queries[:3],
    )
    note(f"LanceDB flat: {flat.median * 1000:.0f} ms")

    from embedlab.memory.index import DEFAULT_KIND

    kinds = kinds_from_env()
    labels = {"HNSW": "HNSW (usearch, int8)", "IVF_PQ": "IVF_PQ (LanceDB)", "IVF": "IVF (FAISS, SQ8)"}
    candidates = {}
    for kind in kinds:  # the last built is left as the collection's index
        if kind == "HNSW":
            candidates[labels[kind]] = measure_hnsw(queries, texts, exact_idx)
        elif kind == "IVF_PQ":
            candidates[labels[kind]] = measure_ivf_pq(queries, texts, exact_idx, shapes_from_env(quick, n))
        elif kind == "IVF":
            extra = [int(x) for x in os.environ.get("EMBEDLAB_BENCH_IVF", "").split(",") if x.strip()]
            candidates[labels[kind]] = measure_ivf(queries, texts, exact_idx, extra)
    if os.environ.get("EMBEDLAB_BENCH_LANCE_HNSW", "1" if quick else "0") == "1":
        candidates["IVF_HNSW_SQ (LanceDB)"] = measure_lance_hnsw(queries, exact_idx)
    main_kind = DEFAULT_KIND if DEFAULT_KIND in kinds else kinds[0]
    chosen = candidates[labels[main_kind]]
    approximate = chosen["path"].pop("samples")  # build_index's default kind and settings
    peer_kind = next((kind for kind in kinds if kind != main_kind), None)
    peer = candidates[labels[peer_kind]] if peer_kind else None
    peer_samples = peer["path"].pop("samples") if peer else None
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
            f"Memory Search approximate ({labels[main_kind]}"
            f"{', the default index' if main_kind == DEFAULT_KIND else ''}), one query, {shape}",
            approximate,
            peer=peer_samples,
            peer_name=labels[peer_kind] if peer_kind else "",
            target="< 10 ms at recall@10 ≥ 0.95",
            met=approximate.median < 0.01 and chosen["path"]["recall_at_10"] >= 0.95,
            recall_at_10=chosen["path"]["recall_at_10"],
            peer_recall_at_10=peer["path"]["recall_at_10"] if peer else None,
            candidates=candidates,
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
