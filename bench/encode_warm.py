"""Encode warm: 10,000 texts already in the cache — in the same process, and after a restart.

Cold: embedlab.encode of 10,000 new texts (an empty cache: the model encodes them all and they
are stored). Warm: the same call again in the same process (in-memory cache). After a restart:
a new process with the same ``$EMBEDLAB_HOME`` (the SQLite cache on disk), timed two ways —
the encode call once the model is loaded, and the very first call (every text is cached, so
the model is not even loaded: torch stays unimported).
Targets: cold ÷ warm ≥ 50×; cold ÷ after-restart ≥ 20×.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.common import ROOT, Samples, figure, fresh_home, main, sentences, timed

CHILD = """
import json, sys, time
t0 = time.perf_counter()
import embedlab
from bench.common import sentences
texts = sentences({n}, seed=7)
first = None
if {load_first}:
    embedlab.load_model("all-MiniLM-L6-v2")
times = []
for _ in range({repeats}):
    embedlab.embedding_cache().clear_memory()  # every call reads the disk, as after a restart
    start = time.perf_counter()
    embedlab.encode(texts)
    times.append(time.perf_counter() - start)
print(json.dumps({{"times": times, "torch_loaded": "torch" in sys.modules}}))
"""


def _child(n: int, repeats: int, load_first: bool) -> dict:
    code = CHILD.format(n=n, repeats=repeats, load_first=load_first)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool):
    import embedlab

    n, repeats = (1000, 3) if quick else (10_000, 5)
    fresh_home()
    texts = sentences(n, seed=7)
    embedder = embedlab.load_model("all-MiniLM-L6-v2")
    embedlab.encode(sentences(64, seed=999), embedder)  # warm torch up (other texts)
    cold = Samples()
    cold.add(timed(lambda: embedlab.encode(texts, embedder))[0])  # one run: it fills the cache
    warm = Samples()
    for _ in range(repeats):
        warm.add(timed(lambda: embedlab.encode(texts, embedder))[0])
    loaded = _child(n, repeats, load_first=True)
    restart = Samples(loaded["times"])
    first = _child(n, 1, load_first=False)
    first_call = Samples(first["times"])
    return [
        figure(
            "encode_warm",
            f"encode warm, {n:,} cached texts, same process",
            warm,
            peer=cold,
            peer_name="embedlab.encode cold",
            target="≥ 50×",
            met=cold.median / warm.median >= 50,
        ),
        figure(
            "encode_restart",
            f"encode warm, {n:,} cached texts, new process (SQLite cache, model loaded)",
            restart,
            peer=cold,
            peer_name="embedlab.encode cold",
            target="≥ 20×",
            met=cold.median / restart.median >= 20,
        ),
        figure(
            "encode_restart_first_call",
            f"encode warm, {n:,} cached texts, first call in a new process (model not loaded)",
            first_call,
            peer=cold,
            peer_name="embedlab.encode cold",
            target="≥ 20×, no model load",
            met=cold.median / first_call.median >= 20 and not first["torch_loaded"],
            torch_loaded=first["torch_loaded"],
        ),
    ]


if __name__ == "__main__":
    main(run)
