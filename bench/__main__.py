"""python -m bench [SCRIPT ...] [--quick]: run the benchmark scripts and print the table.

Each script runs in its own process (so cold starts and peak memory are honest) with an empty
temporary ``$EMBEDLAB_HOME``; its figures go into bench/results.json (merged with the figures of
scripts not run this time) and a table of figure, embedlab, peer, ratio, target and met? is
printed at the end. ``make bench`` runs them all (~22 minutes on a quiet 2-core machine;
``finetune`` alone takes ~7).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, machine, show

#: In the order they run: quick ones first.
SCRIPTS: tuple[str, ...] = (
    "app_import",
    "encode_cold",
    "encode_warm",
    "onnx_backend",
    "backends",
    "rank",
    "memory",
    "tsne",
    "umap_first_call",
    "first_map",
    "server_memory",
    "memory_search",
    "collection_build",
    "finetune",
)
RESULTS = ROOT / "bench" / "results.json"


def run_script(name: str, quick: bool, home: Path) -> dict:
    """Run ``bench.<name>`` in a new process; its figures, or the error it ended with."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        command = [sys.executable, "-m", f"bench.{name}", "--json", str(out), *(["--quick"] if quick else [])]
        env = {
            **os.environ,
            "EMBEDLAB_HOME": str(home / name),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONWARNINGS": "ignore",
        }
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)  # stdout: live
        seconds = time.perf_counter() - started
        figures = json.loads(out.read_text()) if done.returncode == 0 and out.exists() else []
    error = None if done.returncode == 0 else done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    if error:
        sys.stderr.write(done.stderr[-4000:])
    return {
        "figures": figures,
        "seconds": round(seconds, 1),
        "quick": quick,
        "taken": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "error": error[0] if error else None,
    }


def table(rows: list[dict]) -> str:
    """A Markdown table of the figures."""
    lines = [
        "| figure | embedlab | peer | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer = f"{row['peer_name']}: {show(row['peer'])}" if row.get("peer") else "—"
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[row["met"]]
        lines.append(f"| {row['figure']} | {show(row['embedlab'])} | {peer} | {ratio} | {row['target']} | {met} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.strip().splitlines()[0])
    parser.add_argument("scripts", nargs="*", metavar="SCRIPT", help=f"any of: {', '.join(SCRIPTS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args()
    unknown = [s for s in args.scripts if s not in SCRIPTS]
    if unknown:
        parser.error(f"unknown script {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")
    chosen = [s for s in SCRIPTS if s in args.scripts] if args.scripts else list(SCRIPTS)

    results = {"scripts": {}}
    if args.out.exists():
        with contextlib.suppress(json.JSONDecodeError, OSError):
            results = json.loads(args.out.read_text())
    results.setdefault("scripts", {})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="embedlab-bench-") as home:
        for name in chosen:
            print(f"== bench.{name}{' (quick)' if args.quick else ''}", flush=True)
            results["scripts"][name] = run_script(name, args.quick, Path(home))
            print(f"   {results['scripts'][name]['seconds']:.0f} s", flush=True)
            results["machine"] = machine()
            args.out.write_text(json.dumps(results, indent=2) + "\n")  # after each: nothing lost on a crash
    rows = [row for name in chosen for row in results["scripts"][name]["figures"]]
    print()
    print(table(rows))
    print(f"\n{len(chosen)} script(s) in {time.perf_counter() - started:.0f} s; figures in {args.out}")
    failed = [name for name in chosen if results["scripts"][name]["error"]]
    for name in failed:
        print(f"bench.{name} failed: {results['scripts'][name]['error']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
