"""The Speed Benchmark's findings (issue 13: 1, 9, 10, 16) and its backends, agreement and sweep (issue 14).

Oracles: the run's own events and times (what had finished when each word was shown), a Python
thread torn down by an exception and a process killed mid-run (what the store kept), scikit-learn's
cosine_similarity and numpy's argmax for agreement, and the definitions of the sweep's figures.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embedlab
from embedlab import seed
from embedlab.benchmarking import notes
from embedlab.benchmarking.agreement import MAX_TEXTS, agreement, agreement_set
from embedlab.benchmarking.results import BenchmarkSettings, legacy_backend, row_names, upgrade_row
from embedlab.benchmarking.store import BenchmarkStore
from embedlab.benchmarking.sweep import BATCH_SIZES, thread_counts

ROOT = Path(__file__).resolve().parents[1]
MINILM, STATIC = "all-MiniLM-L6-v2", "static-64d"
CORPUS = list(seed.BENCHMARK_CORPUS[:20])


@pytest.fixture
def store(tmp_path):
    return BenchmarkStore(tmp_path / "benchmarks.sqlite3")


# ------------------------------------------------------------------ finding 9: progress names the step that runs
def test_each_word_names_the_step_running_not_the_one_before():
    seen = []
    embedlab.benchmark(
        [STATIC], CORPUS, repeats=3, progress=lambda e: seen.append((e.stage, e.detail, e.results())), threads=1
    )
    for stage, detail, partial in seen:
        row = partial.table.iloc[0] if len(partial.table) else None
        if stage == "warmup":  # shown while warming up: the warm-up has not finished yet
            assert math.isnan(row["warmup_s"]) and row["repeats_done"] == 0
        if stage == "encode":  # "repeat k of 3" is shown while repeat k runs: k - 1 have finished
            k = int(detail.split()[1])
            assert row["repeats_done"] == k - 1, detail
    assert [d for s, d, _ in seen if s == "encode"] == ["repeat 1 of 3", "repeat 2 of 3", "repeat 3 of 3"]
    assert seen[-1][0] == "done" and seen[-1][2].table.loc[0, "repeats_done"] == 3


# ------------------------------------------------------------------ finding 10: the stop notice
def test_the_stop_notice_names_rows_cut_short_and_models_never_started():
    snapshots = []
    embedlab.benchmark(
        [STATIC, MINILM], CORPUS, repeats=2, progress=lambda e: snapshots.append((e, e.results())), threads=1
    )
    loading = next(r for e, r in snapshots if e.stage == "load" and e.model == MINILM)  # as the load began
    settings = BenchmarkSettings(models=(STATIC, MINILM, "all-mpnet-base-v2"))
    cut = loading.__class__(loading.table, settings=settings, stopped=True)
    assert notes.stop_notice(cut) == (
        "The run was stopped; kept what finished: static-64d, all-MiniLM-L6-v2 (stopped before its first timed "
        "repeat: no speed). Not started: all-mpnet-base-v2."
    )
    empty = cut.__class__(cut.table.iloc[0:0], settings=settings)
    assert notes.stop_notice(empty, how="interrupted") == (
        "The run was interrupted before any model was measured. Not started: static-64d, all-MiniLM-L6-v2, "
        "all-mpnet-base-v2."
    )


# ------------------------------------------------------------------ finding 16: timer resolution is not load
def _noisy(run, median: float, load: float | None, cores: int = 2):
    table = run.table.copy()
    table["noisy"] = pd.array([True] * len(table), dtype="boolean")
    table["encode_median_s"] = median
    machine = {**run.machine, "load_average": load, "usable_cores": cores}
    return run.__class__(table, machine=machine, settings=run.settings)


def test_a_repeat_too_short_to_time_is_not_blamed_on_the_cpu():
    run = embedlab.benchmark([STATIC], CORPUS, repeats=3)
    short = notes.noise_notes(_noisy(run, 0.02, load=0.1))
    assert len(short) == 1 and "too short to time well (median 20 ms)" in short[0]
    assert "not other work on the CPU" in short[0] and "something else" not in short[0]
    assert "Repeat the corpus to about 500 texts" in short[0]  # 20 texts x 0.5 s / 0.02 s
    busy = notes.noise_notes(_noisy(run, 2.0, load=3.4))
    assert len(busy) == 1 and "something else was using the CPU (load average 3.4 on 2 cores" in busy[0]
    quiet = notes.noise_notes(_noisy(run, 2.0, load=0.2))
    assert "probably used the CPU for a moment" in quiet[0]
    assert notes.noise_notes(run.__class__(run.table.assign(noisy=False), settings=run.settings)) == []


# ------------------------------------------------------------------ finding 1: nothing lost to a reload
class TornDown(BaseException):
    """What Streamlit raises in a script whose session ended (StopException is a BaseException too)."""


def test_a_run_torn_down_mid_way_is_kept_as_interrupted_with_its_finished_rows(store):
    """The run in a thread whose caller goes away after the first model: the store keeps that model."""
    outcome = {}

    def progress(event):
        if event.stage == "load" and event.model == MINILM:
            raise TornDown  # the page was reloaded while the second model was about to load

    def run():
        try:
            embedlab.benchmark([STATIC, MINILM], CORPUS, repeats=2, progress=progress, store=store, threads=1)
        except TornDown:
            outcome["torn"] = True

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    assert outcome == {"torn": True}
    listed = store.runs()
    assert len(listed) == 1 and listed.loc[0, "state"] == "interrupted" and listed.loc[0, "stopped"]
    kept = store.load(int(listed.loc[0, "id"]))
    assert kept.state == "interrupted" and kept.stopped
    assert list(kept.table["name"]) == [STATIC, MINILM]
    assert list(kept.table["status"]) == ["ok", "stopped"] and list(kept.table["repeats_done"]) == [2, 0]
    assert len(kept.times[STATIC]) == 2 and kept.table.loc[0, "texts_per_s"] > 0
    assert "Not started" not in notes.stop_notice(kept, how="interrupted")


KILLED = """
import os, signal, sys
import embedlab
from embedlab.benchmarking.store import BenchmarkStore

def progress(event):
    if event.stage == "done":
        os.kill(os.getpid(), signal.SIGKILL)  # the server process dies after the first model

embedlab.benchmark(["static-64d", "all-MiniLM-L6-v2"], ["a text", "another text"] * 10, repeats=2,
                   progress=progress, store=BenchmarkStore(sys.argv[1]))
"""


def test_a_run_whose_process_was_killed_reads_as_interrupted(tmp_path):
    path = tmp_path / "killed.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    store = BenchmarkStore(path)
    listed = store.runs()
    assert list(listed["state"]) == ["interrupted"]
    kept = store.load(int(listed.loc[0, "id"]))
    assert list(kept.table["name"]) == [STATIC] and kept.table.loc[0, "repeats_done"] == 2


def test_a_finished_run_saved_as_it_went_is_one_record(store):
    result = embedlab.benchmark([STATIC], CORPUS, repeats=1, store=store, label="kept")
    listed = store.runs()
    assert list(listed["id"]) == [result.id] and listed.loc[0, "state"] == "finished"
    assert listed.loc[0, "label"] == "kept"
    loaded = store.load(result.id)
    pd.testing.assert_frame_equal(loaded.table, result.table)
    assert loaded.settings == result.settings and loaded.times == result.times


def test_a_run_running_in_this_process_is_listed_as_running(store):
    seen = []

    def progress(event):
        if event.stage == "encode" and not seen:
            seen.append(store.runs().loc[0, "state"])

    embedlab.benchmark([STATIC], CORPUS, repeats=1, progress=progress, store=store)
    assert seen == ["running"] and store.runs().loc[0, "state"] == "finished"


# ------------------------------------------------------------------ backends: rows, names, old runs
def test_row_names_and_old_rows():
    assert row_names([("a", "x"), ("b", "y")]) == ["a", "b"]
    assert row_names([("a", "torch-fp32"), ("a", "onnx-int8")]) == ["a · torch-fp32", "a · onnx-int8"]
    assert legacy_backend("all-mpnet-base-v2", "sentence-transformers") == "torch-fp32"
    assert legacy_backend("paraphrase-MiniLM-L3-v2", "onnxruntime") == "onnx-fp32"
    assert legacy_backend("static-64d", "static") == "static"
    old = upgrade_row({"model": "m", "backend": "sentence-transformers"})
    assert old["name"] == "m" and old["backend"] == old["requested"] == "torch-fp32"
    assert upgrade_row({"model": "m", "backend": "onnx-int8", "requested": "auto"})["requested"] == "auto"


def test_the_default_asks_for_the_automatic_choice_and_says_so_in_the_settings():
    result = embedlab.benchmark([STATIC], CORPUS[:5], repeats=1)
    assert result.settings.backends == ("auto",) and result.settings.sweep is False
    assert list(result.table["requested"]) == ["auto"] and result.table.loc[0, "backend"]
    assert result.settings.agreement == "the lesson's 3 queries over 3 traces"
    document = json.loads(embedlab.benchmarking.results.results_json(result))
    assert document["results"][0]["requested"] == "auto" and document["settings"]["backends"] == ["auto"]


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"backends": []}, "backends"),
        ({"backends": ["auto", "all"]}, "backends"),
        ({"backends": 3}, "backends"),
        ({"sweep": "yes"}, "sweep"),
        ({"queries": ["q"]}, "queries and traces"),
        ({"store": "file.db"}, "store"),
    ],
)
def test_bad_backend_arguments_are_refused(kwargs, names):
    with pytest.raises((TypeError, ValueError), match=names):
        embedlab.benchmark([STATIC], ["a"], **kwargs)


# ------------------------------------------------------------------ agreement against an oracle
def test_agreement_matches_scikit_learn_and_argmax():
    from sklearn.metrics.pairwise import cosine_similarity

    checks = agreement_set(CORPUS + CORPUS, ["q1", "q2"], ["t1", "t2", "t3"])
    assert checks.texts == tuple(dict.fromkeys(CORPUS)) and "2 queries over 3 traces" in checks.source
    n = len(checks.all_texts)
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(n, 16))
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    noisy = reference + 0.3 * rng.normal(size=reference.shape)
    found = agreement(noisy, reference, checks)
    cosines = np.diag(cosine_similarity(noisy, reference))
    assert found.cosine_mean == pytest.approx(cosines.mean()) and found.cosine_min == pytest.approx(cosines.min())
    q, t = slice(len(checks.texts), len(checks.texts) + 2), slice(len(checks.texts) + 2, None)
    expected = np.mean(
        cosine_similarity(noisy[q], noisy[t]).argmax(1) == cosine_similarity(reference[q], reference[t]).argmax(1)
    )
    assert found.top1_agreement == pytest.approx(expected) and found.top1_queries == 2
    assert agreement(reference, reference, checks).top1_agreement == 1.0
    assert len(agreement_set([str(i) for i in range(1000)]).texts) == MAX_TEXTS
    with pytest.raises(ValueError, match="one row per text"):
        agreement(noisy[:3], reference[:3], checks)


# ------------------------------------------------------------------ the sweep
def test_thread_counts_reach_the_usable_cores():
    from embedlab.benchmarking.machine import usable_cores

    assert thread_counts(1) == (1,) and thread_counts(2) == (1, 2) and thread_counts(8) == (1, 2, 4, 8)
    assert thread_counts(12) == (1, 2, 4, 8, 12) and thread_counts()[-1] == usable_cores()


def test_the_sweep_times_every_setting_and_names_the_fastest():
    events = []
    result = embedlab.benchmark(
        [STATIC, MINILM], CORPUS, repeats=1, sweep=True, threads=1, progress=lambda e: events.append(e)
    )
    sweep = result.sweep
    cores = thread_counts()
    minilm = sweep[sweep["model"] == MINILM]
    assert sorted(zip(minilm["threads"], minilm["batch_size"], strict=True)) == sorted(
        (t, b) for t in cores for b in BATCH_SIZES
    )
    static = sweep[sweep["model"] == STATIC]  # not torch: only the batch size varies
    assert static["threads"].isna().all() and list(static["batch_size"]) == list(BATCH_SIZES)
    assert (sweep["texts_per_s"] == len(CORPUS) / sweep["encode_median_s"]).all()
    for _, rows in sweep.groupby("name"):
        assert rows["fastest"].sum() >= 1
        assert rows.loc[rows["fastest"], "texts_per_s"].iloc[0] == rows["texts_per_s"].max()
    lines = notes.sweep_sentence(result)
    assert len(lines) == 2 and lines[1].startswith(f"{MINILM}: fastest with ")
    assert [e.detail for e in events if e.stage == "sweep"][0] == "sweep: batch size 16 (1 of 4)"
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # a stop during the sweep keeps the main rows and the settings swept so far
    seen = []
    stopped = embedlab.benchmark(
        [STATIC],
        CORPUS,
        repeats=1,
        sweep=True,
        progress=seen.append,
        should_stop=lambda: sum(e.stage == "sweep" for e in seen) >= 2,
    )
    assert stopped.stopped and list(stopped.table["status"]) == ["ok"] and len(stopped.sweep) == 2


# ------------------------------------------------------------------ with the backends module (issue 14)
@pytest.fixture
def backends():
    return pytest.importorskip("embedlab.models.backends", reason="embedlab.models.backends has not landed yet")


def test_every_backend_side_by_side_agrees_with_torch_fp32(backends):
    available = tuple(backends.available_backends(MINILM))
    assert "torch-fp32" in available
    result = embedlab.benchmark([MINILM], CORPUS, repeats=1, backends="all", threads=1)
    table = result.table
    assert list(table["backend"]) == list(available) and list(table["requested"]) == list(available)
    assert list(table["name"]) == [f"{MINILM} · {b}" for b in available]
    fp32 = table[table["backend"] == "torch-fp32"].iloc[0]
    assert fp32["cosine_mean"] == 1.0 and fp32["top1_agreement"] == 1.0 and fp32["vs_fp32"] == pytest.approx(1.0)
    for row in table[table["backend"] != "torch-fp32"].itertuples():
        assert row.status == "ok", row.error
        assert 0.95 < row.cosine_min <= row.cosine_mean <= 1.0 + 1e-6
        assert row.vs_fp32 == pytest.approx(row.texts_per_s / fp32["texts_per_s"])
        assert row.top1_queries == len(seed.QUERIES)


def test_auto_runs_the_backend_chosen_for_this_machine(backends, monkeypatch):
    monkeypatch.delenv("EMBEDLAB_BACKEND", raising=False)  # conftest pins the reference; "auto" is the subject here
    choice = backends.choose_backend(MINILM)
    result = embedlab.benchmark([MINILM], CORPUS, repeats=1, threads=1)
    assert result.table.loc[0, "backend"] == choice.backend and result.table.loc[0, "requested"] == "auto"
    assert result.choices[MINILM]["backend"] == choice.backend
    assert notes.choice_sentence(MINILM, result.choices[MINILM], result).startswith(
        f"auto picked {choice.backend} for {MINILM} on this machine"
    )
