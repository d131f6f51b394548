"""Peak memory: encoding 10,000 texts with all-MiniLM-L6-v2, and a 20,000-point t-SNE.

Each runs in a new process that reports its own peak resident set (VmHWM); encoding starts
from an empty cache. For reference, the same encoding with SentenceTransformer.encode directly.
Targets: encoding < 1.5 GB; t-SNE < 2 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.common import ROOT, Samples, figure, main

ENCODE = """
import json
from bench.common import fresh_home, peak_rss_mb, sentences
fresh_home()
texts = sentences({n}, seed=21)
if {peer}:
    from sentence_transformers import SentenceTransformer
    from embedlab.models import packaged
    SentenceTransformer(str(packaged.locate_minilm()), device="cpu").encode(texts, batch_size=32)
else:
    import embedlab
    embedlab.encode(texts)
print(json.dumps({{"peak_mb": peak_rss_mb()}}))
"""

TSNE = """
import json
import embedlab
from bench.common import clustered, peak_rss_mb
x, _ = clustered({n})
embedlab.project(x, method="tsne")
print(json.dumps({{"peak_mb": peak_rss_mb()}}))
"""


def _child(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool):
    n_texts, n_points = (2000, 5000) if quick else (10_000, 20_000)
    ours = _child(ENCODE.format(n=n_texts, peer=False))["peak_mb"]
    peer = _child(ENCODE.format(n=n_texts, peer=True))["peak_mb"]
    tsne = _child(TSNE.format(n=n_points))["peak_mb"]
    return [
        figure(
            "memory_encode",
            f"peak memory, encoding {n_texts:,} texts (all-MiniLM-L6-v2)",
            Samples([ours], unit="MB"),
            peer=Samples([peer], unit="MB"),
            peer_name="SentenceTransformer.encode",
            target="< 1,500 MB",
            met=ours < 1500,
        ),
        figure(
            "memory_tsne",
            f"peak memory, t-SNE of {n_points:,} points",
            Samples([tsne], unit="MB"),
            target="< 2,000 MB",
            met=tsne < 2000,
        ),
    ]


if __name__ == "__main__":
    main(run)
