"""UMAP: the first import, the first fit in a new process, warm fits, and the effect of the warm-up.

umap-learn compiles its code with numba on first use in every process. Each case runs in a new
process: importing umap; the first fit of 1,000 points (below umap-learn's 4,096-point switch to
NN-descent) and of 5,000 points, then warm fits in that process; and a process that runs
``embedlab.maps.warmup`` first (as the dashboard does when it starts), whose first user fit is then
timed. Target: after the warm-up, a user's first UMAP fit takes no longer than a warm fit
(within 1.5×) — no user waits for compilation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.common import ROOT, Samples, figure, main

CHILD = """
import json, time
result = {{}}
start = time.perf_counter()
import umap
result["import_umap"] = time.perf_counter() - start
import embedlab
from embedlab.maps import warmup
from bench.common import clustered
if {warm_up}:
    start = time.perf_counter()
    warmup.start(delay=0)
    warmup.wait()
    result["warm_up"] = time.perf_counter() - start
    result["warm_up_status"] = warmup.status()
fits = []
for i in range({fits}):
    x, _ = clustered({n}, seed=i + 1)
    start = time.perf_counter()
    embedlab.project(x, method="umap")
    fits.append(time.perf_counter() - start)
result["fits"] = fits
print(json.dumps(result))
"""


def _child(n: int, fits: int, warm_up: bool) -> dict:
    code = CHILD.format(n=n, fits=fits, warm_up=warm_up)
    env = {**os.environ, "EMBEDLAB_WARMUP": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool):
    figures = []
    small, large = 1000, 5000
    cold_small = _child(small, 1, warm_up=False)
    cold_large = _child(large, 2 if quick else 3, warm_up=False)  # later fits are the warm ones
    warmed = _child(large, 1, warm_up=True)
    warmed_small = _child(small, 1, warm_up=True) if not quick else None
    imports = Samples([r["import_umap"] for r in (cold_small, cold_large, warmed)])
    warm_fits = Samples(cold_large["fits"][1:])
    figures.append(figure("umap_import", "import umap (new process)", imports, target="(measured)", met=None))
    figures.append(
        figure(
            "umap_first_small",
            f"UMAP first fit in a new process, {small:,} points, after the warm-up",
            Samples([warmed_small["fits"][0]]) if warmed_small else Samples(),
            peer=Samples([cold_small["fits"][0]]),
            peer_name="first fit without warm-up",
            target="(measured)",
            met=None,
            warm_up_s=warmed_small["warm_up"] if warmed_small else None,
        )
    )
    first_after = warmed["fits"][0]
    figures.append(
        figure(
            "umap_first_large",
            f"UMAP first fit in a new process, {large:,} points, after the warm-up",
            Samples([first_after]),
            peer=Samples([cold_large["fits"][0]]),
            peer_name="first fit without warm-up",
            target="≤ 1.5 × a warm fit",
            met=first_after <= 1.5 * warm_fits.median,
            warm_fit=warm_fits.summary(),
            warm_up_s=warmed["warm_up"],
            warm_up_status=warmed["warm_up_status"],
        )
    )
    figures.append(figure("umap_warm", f"UMAP warm fit, {large:,} points", warm_fits, target="(measured)", met=None))
    return figures


if __name__ == "__main__":
    main(run)
