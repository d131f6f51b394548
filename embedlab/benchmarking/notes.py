"""What a benchmark run means, in sentences for people (the page and the command line say the same).

* :func:`stop_notice` — a run cut short: what was kept, what was cut, what never started;
* :func:`noise_notes` — why a row's timings varied: repeats too short to time, or other work on the CPU;
* :func:`choice_sentence` — the backend chosen for this machine, against torch-fp32;
* :func:`sweep_sentence` — the fastest thread count and batch size found by the sweep.
"""

from __future__ import annotations

import math

import pandas as pd

from .results import BenchmarkRun

__all__ = ["SHORT_REPEAT_S", "TARGET_REPEAT_S", "choice_sentence", "noise_notes", "stop_notice", "sweep_sentence"]

#: A repeat shorter than this is too short to time well: its spread is timer and scheduler granularity.
SHORT_REPEAT_S = 0.1
#: How long a repeat should last for a steady figure (the corpus size advised for short repeats).
TARGET_REPEAT_S = 0.5


def stop_notice(run: BenchmarkRun, *, how: str = "stopped") -> str:
    """One sentence on a run cut short: the rows kept, the one cut short and those never started.

    ``how`` is "stopped" (Stop) or "interrupted" (a reload, a closed tab, a process that ended).

    >>> import pandas as pd
    >>> from embedlab.benchmarking.results import BenchmarkSettings
    >>> table = pd.DataFrame({"name": ["a"], "status": ["ok"], "repeats_done": [3]})
    >>> stop_notice(BenchmarkRun(table, settings=BenchmarkSettings(models=("a", "b"))))
    'The run was stopped; kept what finished: a. Not started: b.'
    """
    table = run.table
    if table.empty:
        sentence = f"The run was {how} before any model was measured."
    else:
        kept = []
        for row in table.itertuples():
            if row.status != "stopped":
                kept.append(str(row.name))
            elif row.repeats_done:
                kept.append(f"{row.name} (cut short after {row.repeats_done} repeat(s))")
            else:
                kept.append(f"{row.name} (stopped before its first timed repeat: no speed)")
        sentence = f"The run was {how}; kept what finished: {', '.join(kept)}."
    started = set(table["model"]) if "model" in table else set(table["name"])
    never = [m for m in run.settings.models if m not in started]
    if never:
        sentence += f" Not started: {', '.join(never)}."
    return sentence


def noise_notes(run: BenchmarkRun) -> list[str]:
    """Why the noisy rows' timings varied, one sentence per cause.

    A row whose median repeat is under :data:`SHORT_REPEAT_S` is too short to time: its spread is
    the timer's and the scheduler's granularity, and the cure is a larger corpus (the size that
    makes a repeat last about :data:`TARGET_REPEAT_S` is suggested). A longer row varied because
    something else used the CPU — said with the load average when it was high at the start.
    """
    table = run.table
    noisy = table[table["noisy"].fillna(False).astype(bool)]
    if noisy.empty:
        return []
    limit = f"{run.settings.noisy_above:.0%}"
    short = noisy[noisy["encode_median_s"] < SHORT_REPEAT_S]
    loaded = noisy[~(noisy["encode_median_s"] < SHORT_REPEAT_S)]
    notes = []
    if len(short):
        n_texts = int(run.settings.n_texts or short["n_texts"].max())
        fastest = float(short["encode_median_s"].min())
        advised = min(50_000, max(n_texts, math.ceil(n_texts * TARGET_REPEAT_S / max(fastest, 1e-6) / 100) * 100))
        notes.append(
            f"Timings of {', '.join(short['name'])} vary by more than {limit} because each repeat is too short "
            f"to time well (median {fastest * 1000:.0f} ms): at that length the spread is timer and scheduler "
            f"granularity, not other work on the CPU. Repeat the corpus to about {advised:,} texts for a steadier figure."
        )
    if len(loaded):
        load, cores = run.machine.get("load_average"), run.machine.get("usable_cores")
        busy = load is not None and cores and float(load) >= 0.5 * float(cores)
        cause = (
            f"something else was using the CPU (load average {float(load):.1f} on {cores} cores when the run started)"
            if busy
            else "something else probably used the CPU for a moment"
        )
        notes.append(
            f"Noisy timing for {', '.join(loaded['name'])}: the slowest repeat took more than {limit} of the median "
            f"longer than the fastest; {cause}. Run again, with more repeats, or with fewer threads."
        )
    return notes


def choice_sentence(model: str, choice: dict, run: BenchmarkRun | None = None) -> str:
    """The backend chosen for ``model`` on this machine, in one sentence.

    ``choice`` is one of :attr:`BenchmarkRun.choices`. The speed ratio is this run's (``vs_fp32``)
    when it measured both, else the calibration's (``speedup``).

    >>> choice_sentence("m", {"backend": "onnx-int8", "speedup": 1.5, "agreement": 0.9931})
    'auto picked onnx-int8 for m on this machine: 1.5× torch-fp32, mean cosine 0.993.'
    """
    backend = choice.get("backend") or "?"
    ratio = None
    if run is not None:
        rows = run.table[(run.table["model"] == model) & (run.table["backend"] == backend)]
        if len(rows) and not math.isnan(float(rows["vs_fp32"].iloc[0])):
            ratio = float(rows["vs_fp32"].iloc[0])
    if ratio is None:
        ratio = _number(choice.get("speedup"))
    cosine = _number(choice.get("agreement"))
    parts = []
    if ratio is not None and backend != "torch-fp32":
        parts.append(f"{ratio:.1f}× torch-fp32")
    if cosine is not None and backend != "torch-fp32":
        parts.append(f"mean cosine {cosine:.5f}" if cosine > 0.999 else f"mean cosine {cosine:.3f}")
    if parts:
        return f"auto picked {backend} for {model} on this machine: {', '.join(parts)}."
    reason = str(choice.get("reason") or "").strip().rstrip(".")
    return f"auto picked {backend} for {model} on this machine" + (f" ({reason})." if reason else ".")


def sweep_sentence(run: BenchmarkRun) -> list[str]:
    """Per row swept: its fastest thread count and batch size, against the run's own setting as
    timed by the same sweep (so both figures were measured the same way, minutes apart at most)."""
    sweep = run.sweep
    if sweep is None or sweep.empty:
        return []
    threads_now = run.settings.threads or run.machine.get("torch_threads")
    lines = []
    for name, rows in sweep.groupby("name", sort=False):
        speeds = rows["texts_per_s"].astype(float)
        best = rows.loc[speeds.idxmax()]
        line = f"{name}: fastest with {_setting(best['threads'], best['batch_size'])} ({float(best['texts_per_s']):,.1f} texts/s)"
        same = rows[
            (rows["batch_size"] == run.settings.batch_size)
            & (rows["threads"].isna() | (rows["threads"] == threads_now))
        ]
        if len(same):
            now = same.iloc[0]
            if now.name == best.name:
                line += "; the run's own setting is already the fastest"
            else:
                ratio = float(best["texts_per_s"]) / float(now["texts_per_s"])
                line += f", {ratio:.1f}× the run's {_setting(now['threads'], now['batch_size'])}"
        lines.append(line + ".")
    return lines


def _setting(threads, batch_size) -> str:
    if pd.isna(threads):
        return f"batch size {int(batch_size)}"
    return f"{int(threads)} thread{'s' if int(threads) != 1 else ''} and batch size {int(batch_size)}"


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
