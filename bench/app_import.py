"""Import time: ``import embedlab`` in a new process, against ``import sentence_transformers``.

Each measurement is a fresh interpreter timing its own import (interpreter start-up excluded).
Target: ``import embedlab`` < 0.5 s, and torch not imported by it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import ROOT, Samples, figure, main

CODE = """
import json, sys, time
start = time.perf_counter()
import {module}
print(json.dumps({{"seconds": time.perf_counter() - start, "torch": "torch" in sys.modules}}))
"""


def _time_import(module: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CODE.format(module=module)], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool):
    repeats = 3 if quick else 7
    _time_import("embedlab")  # the first run after an edit may compile .pyc files
    ours, peer, torch_seen = Samples(), Samples(), False
    for _ in range(repeats):
        result = _time_import("embedlab")
        ours.add(result["seconds"])
        torch_seen = torch_seen or result["torch"]
        peer.add(_time_import("sentence_transformers")["seconds"])
    return [
        figure(
            "import",
            "import embedlab (new process)",
            ours,
            peer=peer,
            peer_name="import sentence_transformers",
            target="< 0.5 s, no torch",
            met=ours.median < 0.5 and not torch_seen,
            torch_imported=torch_seen,
        )
    ]


if __name__ == "__main__":
    main(run)
