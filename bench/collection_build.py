"""collection_build: building a collection of 100,000 texts, against plain embedlab.encode on the same texts.

Texts: real-ish and distinct. The sentences of the Debian package descriptions in
``embedlab/data/debian_pairs.jsonl`` (split after ., ! or ?, at least 20 characters), the packages'
one-line summaries and the lesson's seed texts make a pool of ~1,150 real sentences; text *i* is
two of them, drawn at random (seed 0) and joined, repeats drawn again — ~180 characters (~40
tokens) each, the length of a remembered message. ``--quick`` builds 5,000.

Three sides, one after another, each in a fresh ``$EMBEDLAB_HOME`` (an empty embedding cache, no
collection), all on the backend ``auto`` chose for this machine (chosen once, before timing):

* plain :func:`embedlab.encode` of the texts (the peer);
* :func:`embedlab.memory.build_collection` with ``engine="local"`` — read, hash, encode, LanceDB;
* ``build_collection(engine="ray")`` on a local Ray started for the run (``os.cpu_count()`` CPUs,
  one actor per CPU, one thread each): Ray's start and the actors' model loading are in its time.

Each side is timed once: 100,000 texts take ~11 minutes a side on a quiet 2-core machine, the
whole script ~35. Targets (issue 16): local within 10% of encode's throughput (ratio ≥ 0.90), Ray
within 25% (ratio ≥ 0.75). Also measured, for docs/scaling-collections.md: texts/s of
:func:`~embedlab.memory.ray_engine.encode_with_ray` with 1 and 2 actors on a running Ray
(``SCALING`` texts, counted from each run's first batch, so model loading is apart), and the time
to the first batch.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np

from bench.common import Samples, figure, fresh_home, main

MODEL = "all-MiniLM-L6-v2"
SIZES = {True: 5_000, False: 100_000}
SCALING = {True: 1_000, False: 4_000}


def sentence_pool() -> list[str]:
    """The real sentences the texts are made of (distinct, in a fixed order)."""
    from embedlab import seed
    from embedlab.tuning.pairs import example_pairs

    pool = []
    for summary, description in example_pairs():
        pool.append(summary)
        pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", description) if len(s.strip()) >= 20]
    pool += [*seed.SENTENCES, *seed.TRACE_TEXTS, *seed.QUERIES]
    return list(dict.fromkeys(pool))


def texts(n: int, *, seed: int = 0) -> list[str]:
    """``n`` distinct texts, each two pool sentences joined."""
    pool = sentence_pool()
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        for a, b in rng.integers(len(pool), size=(n - len(out), 2)):
            if a != b:
                out.setdefault(f"{pool[a]} {pool[b]}")
    return list(out)[:n]


def timed_side(call) -> float:
    fresh_home()
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def scaling(corpus: list[str]) -> dict:
    """texts/s of encode_with_ray with 1 and 2 actors on one running local Ray, after the first batch."""
    import ray

    from embedlab.memory.ray_engine import encode_with_ray

    ray.init("local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    out = {}
    try:
        for workers in (1, 2):
            start, first, counted = time.perf_counter(), None, 0
            for positions, _ in encode_with_ray(corpus, model=MODEL, workers=workers, batch_size=64):
                if first is None:
                    first = time.perf_counter()
                else:
                    counted += len(positions)
            steady = time.perf_counter() - first
            out[workers] = {
                "texts_per_s": counted / steady,
                "first_batch_s": first - start,
                "total_s": time.perf_counter() - start,
            }
    finally:
        ray.shutdown()
    return out


def run(quick: bool):
    import pandas as pd

    import embedlab
    from embedlab.memory import build_collection

    n = SIZES[quick]
    corpus = texts(n)
    frame = pd.DataFrame({"text": corpus})
    # the backend auto picks here, chosen (and calibrated if need be) once, then fixed for every side
    os.environ["EMBEDLAB_BACKEND"] = embedlab.load_model(MODEL).backend
    ran = {}
    seconds = {
        "encode": timed_side(lambda: embedlab.encode(corpus, MODEL)),
        "local": timed_side(lambda: ran.setdefault("local", build_collection("bench", frame, model=MODEL))),
        "ray": timed_side(lambda: ran.setdefault("ray", build_collection("bench", frame, model=MODEL, engine="ray"))),
    }
    rates = {side: n / s for side, s in seconds.items()}
    encode = Samples([seconds["encode"]])
    shared = dict(
        texts=n,
        mean_characters=float(np.mean([len(t) for t in corpus])),
        backend=os.environ["EMBEDLAB_BACKEND"],
        texts_per_s={side: round(r, 1) for side, r in rates.items()},
        cpus=os.cpu_count(),
    )
    scale = scaling(corpus[: SCALING[quick]])
    per_thousand = {w: 1000 / s["texts_per_s"] for w, s in scale.items()}  # seconds: ratio = speed-up
    return [
        figure(
            "collection_build_local",
            f"build a collection of {n:,} texts, local engine",
            Samples([seconds["local"]]),
            peer=encode,
            peer_name="embedlab.encode",
            target="≥ 0.90× encode's throughput",
            met=seconds["encode"] / seconds["local"] >= 0.90 and ran["local"].info.rows == n,
            **shared,
        ),
        figure(
            "collection_build_ray",
            f"build a collection of {n:,} texts, Ray engine (local Ray, {os.cpu_count()} CPUs)",
            Samples([seconds["ray"]]),
            peer=encode,
            peer_name="embedlab.encode",
            target="≥ 0.75× encode's throughput",
            met=seconds["encode"] / seconds["ray"] >= 0.75 and ran["ray"].info.rows == n,
            **shared,
        ),
        figure(
            "ray_workers",
            f"encode_with_ray, {SCALING[quick]:,} texts: seconds per 1,000 texts, 2 actors (after the first batch)",
            Samples([per_thousand[2]]),
            peer=Samples([per_thousand[1]]),
            peer_name="1 actor",
            target="(measured)",
            met=None,
            per_worker=scale,
        ),
    ]


if __name__ == "__main__":
    main(run)
