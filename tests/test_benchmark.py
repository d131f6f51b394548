"""embedlab.benchmark and BenchmarkStore with the real packaged models (never mocked).

Oracles: sentence-transformers itself (dimensions, parameters, token counts, its own encode
time), the definitions of the figures (texts/s = n / median encode time, the noisy rule),
and a fresh Python process for the store.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

import embedlab
from embedlab import seed
from embedlab.benchmarking.run import (
    COLUMNS,
    BenchmarkStore,
    compare_runs,
    recommend,
    repeat_to,
    results_json,
)
from embedlab.models.packaged import locate_minilm

MINILM, STATIC = "all-MiniLM-L6-v2", "static-64d"
CORPUS = list(seed.BENCHMARK_CORPUS[:40])


@pytest.fixture(scope="module")
def run():
    """One small real run shared by the tests that only read it: MiniLM (baseline) and static-64d.

    One torch thread: on a machine shared with other work that is the fast setting.
    """
    events = []
    results = embedlab.benchmark(
        [MINILM, STATIC],
        CORPUS,
        repeats=2,
        batch_size=16,
        threads=1,
        progress=lambda e: events.append((e, e.results())),
    )
    return results, events


@pytest.fixture(scope="module")
def st_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(locate_minilm()), device="cpu")


@pytest.fixture
def store(tmp_path):
    return BenchmarkStore(tmp_path / "benchmarks.sqlite3")


# ------------------------------------------------------------------------------ figures
def test_one_row_per_model_with_every_column(run):
    results, _ = run
    assert list(results.columns) == list(COLUMNS)
    assert list(results["model"]) == [MINILM, STATIC]
    assert list(results["status"]) == ["ok", "ok"]
    assert list(results["error"]) == ["", ""]
    assert results.attrs["baseline"] == MINILM
    assert results.attrs["stopped"] is False


def test_figures_are_present_and_positive(run):
    results, _ = run
    positive = [
        "prepare_s",
        "load_s",
        "warmup_s",
        "encode_median_s",
        "encode_min_s",
        "encode_max_s",
        "texts_per_s",
        "texts_per_s_low",
        "texts_per_s_high",
        "tokens_per_s",
        "tokens",
        "dim",
        "size_bytes",
    ]
    for column in positive:
        assert (results[column].astype(float) > 0).all(), column
    assert (results["load_mb"] >= 0).all() and (results["encode_mb"] >= 0).all()
    assert (results["repeats_done"] == 2).all()
    assert (results["n_texts"] == len(CORPUS)).all()
    row = results.iloc[0]
    assert row["encode_min_s"] <= row["encode_median_s"] <= row["encode_max_s"]
    assert row["texts_per_s_low"] <= row["texts_per_s"] <= row["texts_per_s_high"]


def test_texts_per_s_is_n_over_the_median_encode_time(run):
    results, _ = run
    for row in results.itertuples():
        times = results.attrs["times"][row.model]
        assert len(times) == 2
        assert row.encode_median_s == pytest.approx(float(np.median(times)))
        assert row.encode_min_s == pytest.approx(min(times)) and row.encode_max_s == pytest.approx(max(times))
        assert row.texts_per_s == pytest.approx(len(CORPUS) / float(np.median(times)))
        assert row.texts_per_s_low == pytest.approx(len(CORPUS) / max(times))
        assert row.tokens_per_s == pytest.approx(row.tokens / row.encode_median_s)


def test_model_facts_match_sentence_transformers(run, st_model):
    results, _ = run
    row = results.iloc[0]
    assert row["dim"] == st_model.get_embedding_dimension() == 384
    assert row["parameters"] == sum(p.numel() for p in st_model.parameters())
    assert row["max_tokens"] == st_model.max_seq_length
    ids = st_model.tokenizer(CORPUS, add_special_tokens=True)["input_ids"]
    assert row["tokens"] == sum(min(len(i), st_model.max_seq_length) for i in ids)
    sizes = {m.name: m.size_bytes for m in embedlab.list_models()}
    assert row["size_bytes"] == sizes[MINILM]
    assert results.iloc[1]["dim"] == 64


def test_the_model_is_timed_not_the_cache(st_model):
    """With every text already cached, encoding still takes model time (sentence-transformers' own)."""
    import torch

    texts = repeat_to(seed.TRACE_TEXTS, 32)
    embedlab.encode(texts, MINILM)  # cached now: encode() with the cache would take microseconds
    results = embedlab.benchmark([MINILM], texts, repeats=2, threads=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        st_model.encode(texts[:4])
        direct = []
        for _ in range(2):
            started = time.perf_counter()
            st_model.encode(texts, batch_size=32, normalize_embeddings=True)
            direct.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    # a cache hit would be ~1000x faster than the model; allow a wide margin for a shared machine
    assert results.loc[0, "encode_min_s"] > min(direct) / 5


def test_a_slower_model_is_measured_slower(run):
    results, _ = run
    minilm, static = results.iloc[0], results.iloc[1]
    assert static["texts_per_s"] > minilm["texts_per_s"]
    assert minilm["comparison"] == "baseline" and minilm["slowdown"] == pytest.approx(1.0)
    assert static["slowdown"] == pytest.approx(minilm["texts_per_s"] / static["texts_per_s"])
    assert re.fullmatch(r"static-64d is [\d.]+x faster than all-MiniLM-L6-v2", static["comparison"])


@pytest.mark.slow
def test_mpnet_is_slower_than_minilm_in_the_lessons_words():
    results = embedlab.benchmark([MINILM, "all-mpnet-base-v2"], list(seed.TRACE_TEXTS) * 4, repeats=1, threads=1)
    assert list(results["status"]) == ["ok", "ok"]
    mpnet = results.iloc[1]
    assert mpnet["dim"] == 768
    assert mpnet["texts_per_s"] < results.iloc[0]["texts_per_s"]
    ratio = results.iloc[0]["texts_per_s"] / mpnet["texts_per_s"]
    assert mpnet["comparison"] == f"all-mpnet-base-v2 is {ratio:.1f}x slower than all-MiniLM-L6-v2"


def test_baseline_can_be_chosen():
    results = embedlab.benchmark([MINILM, STATIC], CORPUS[:10], repeats=1, baseline=STATIC, warmup=False, threads=1)
    assert results.attrs["baseline"] == STATIC
    assert re.fullmatch(r"all-MiniLM-L6-v2 is [\d.]+x slower than static-64d", results.loc[0, "comparison"])
    assert math.isnan(results.loc[0, "warmup_s"])  # no warm-up asked for


def test_noisy_flag_follows_its_definition():
    texts = CORPUS[:10]
    for threshold in (1e-12, 1e9):
        results = embedlab.benchmark([STATIC], texts, repeats=3, noisy_above=threshold)
        row = results.iloc[0]
        spread = (row["encode_max_s"] - row["encode_min_s"]) / row["encode_median_s"]
        assert row["spread"] == pytest.approx(spread)
        assert bool(row["noisy"]) == (spread > threshold)
    one = embedlab.benchmark([STATIC], texts, repeats=1)
    assert pd.isna(one.loc[0, "noisy"])  # one repeat: no spread to judge


def test_threads_are_set_for_the_run_and_restored():
    import torch

    before = torch.get_num_threads()
    results = embedlab.benchmark([STATIC], CORPUS[:5], repeats=1, threads=3)
    assert results.attrs["machine"]["torch_threads"] == 3
    assert results.attrs["settings"]["threads"] == 3
    assert torch.get_num_threads() == before


# ------------------------------------------------------------------------------ failures and bad input
def test_a_model_that_cannot_load_gets_a_row_and_the_others_run():
    results = embedlab.benchmark(["nosuch/model", STATIC], CORPUS[:10], repeats=1)
    failed, ok = results.iloc[0], results.iloc[1]
    assert failed["status"] == "failed"
    assert failed["error"].startswith("could not load: ") and "nosuch/model" in failed["error"]
    assert pd.isna(failed["texts_per_s"]) and failed["comparison"] == ""
    assert ok["status"] == "ok" and ok["texts_per_s"] > 0
    assert results.attrs["baseline"] == STATIC  # the first model failed: the next one is the baseline


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"models": []}, ValueError, "models"),
        ({"models": MINILM}, TypeError, "models"),
        ({"models": [MINILM, MINILM]}, ValueError, "models"),
        ({"models": [""]}, TypeError, "models[0]"),
        ({"texts": []}, ValueError, "texts"),
        ({"texts": "one text"}, TypeError, "texts"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": -3}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"repeats": 0}, ValueError, "repeats"),
        ({"warmup": "yes"}, TypeError, "warmup"),
        ({"baseline": "all-mpnet-base-v2"}, ValueError, "baseline"),
        ({"progress": 3}, TypeError, "progress"),
        ({"should_stop": "no"}, TypeError, "should_stop"),
        ({"noisy_above": 0}, ValueError, "noisy_above"),
        ({"threads": 0}, ValueError, "threads"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(kwargs, error, names):
    called = []
    arguments = {"models": [MINILM], "texts": ["a text"], "progress": called.append, **kwargs}
    with pytest.raises(error, match=re.escape(names)):
        embedlab.benchmark(arguments.pop("models"), arguments.pop("texts"), **arguments)
    assert called == []


# ------------------------------------------------------------------------------ progress and stopping
def test_progress_counts_models_and_repeats(run):
    events = [event for event, _ in run[1]]
    snapshots = [snapshot for _, snapshot in run[1]]
    assert [(e.model_index, e.stage, e.repeat) for e in events] == [
        (1, "load", 0),
        (1, "warmup", 0),
        (1, "encode", 1),
        (1, "encode", 2),
        (1, "done", 2),
        (2, "load", 0),
        (2, "warmup", 0),
        (2, "encode", 1),
        (2, "encode", 2),
        (2, "done", 2),
    ]
    assert all(e.n_models == 2 and e.n_repeats == 2 for e in events)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[3].message == "Model 1 of 2 · all-MiniLM-L6-v2 · repeat 2 of 2"
    partial = snapshots[2]  # mid-run: the first model with one repeat, marked stopped
    assert list(partial["model"]) == [MINILM] and partial.attrs["stopped"] is True
    assert partial.loc[0, "status"] == "stopped" and partial.loc[0, "repeats_done"] == 1
    assert partial.loc[0, "texts_per_s"] > 0
    assert snapshots[-1].attrs["stopped"] is False and list(snapshots[-1]["status"]) == ["ok", "ok"]


def test_should_stop_ends_the_run_and_keeps_what_finished():
    seen = []
    results = embedlab.benchmark(
        [STATIC, MINILM],
        CORPUS[:10],
        repeats=5,
        progress=seen.append,
        should_stop=lambda: any(e.stage == "encode" and e.repeat == 2 for e in seen),
    )
    assert list(results["model"]) == [STATIC]  # MiniLM never started
    assert results.loc[0, "status"] == "stopped" and results.loc[0, "repeats_done"] == 2
    assert results.loc[0, "texts_per_s"] > 0
    assert results.attrs["stopped"] is True
    assert not any(e.model == MINILM for e in seen)


def test_two_runs_at_once_take_turns():
    """Two benchmarks in one process would skew each other: the second waits for the first."""
    spans, errors = [], []

    def one():
        stamps = []
        try:
            embedlab.benchmark(
                [STATIC],
                CORPUS[:5] * 40,
                repeats=3,
                progress=lambda e: stamps.append((e.stage, time.perf_counter())),
            )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        measuring = [t for stage, t in stamps if stage != "waiting"]
        spans.append((min(measuring), max(measuring), any(stage == "waiting" for stage, _ in stamps)))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    (_, end_a, _), (start_b, _, _) = sorted(spans)
    assert end_a <= start_b  # no overlap
    assert any(waited for _, _, waited in spans)  # the second one said it was waiting


# ------------------------------------------------------------------------------ helpers
def test_repeat_to_cycles_or_cuts():
    assert repeat_to(["a", "b", "c"], 7) == ["a", "b", "c", "a", "b", "c", "a"]
    assert repeat_to(["a", "b", "c"], 2) == ["a", "b"]
    assert repeat_to(seed.TRACE_TEXTS, 100) == list(seed.BENCHMARK_CORPUS)
    with pytest.raises(ValueError, match="size"):
        repeat_to(["a"], 0)
    with pytest.raises(ValueError, match="texts"):
        repeat_to([], 3)


def test_results_json_holds_rows_machine_and_settings(run):
    results, _ = run
    document = json.loads(results_json(results))
    assert [row["model"] for row in document["results"]] == [MINILM, STATIC]
    assert document["results"][0]["texts_per_s"] == pytest.approx(results.loc[0, "texts_per_s"])
    assert document["results"][1]["parameters"] is None  # unknown for the static model: null, not NaN
    assert document["machine"]["cpu_model"] and document["machine"]["device"] == "cpu"
    assert document["settings"]["n_texts"] == len(CORPUS) and document["baseline"] == MINILM


def test_compare_runs_lines_up_models_and_names_differences(run):
    results, _ = run
    other = embedlab.benchmark([STATIC], CORPUS[:10], repeats=1, batch_size=8)
    comparison = compare_runs(results, other)
    assert list(comparison["model"]) == [STATIC]
    row = comparison.iloc[0]
    assert row["change"] == pytest.approx(results.loc[1, "texts_per_s"] / other.loc[0, "texts_per_s"])
    differences = " ".join(comparison.attrs["differences"])
    assert "different corpora" in differences and "batch size 16 now, 8 before" in differences
    assert compare_runs(results, results).attrs["differences"] == []


def test_recommendation_follows_the_lesson(run):
    results, _ = run
    lines = recommend(results)
    assert lines[0].startswith(f"Start with {MINILM} (384-d")
    assert any("static-64d" in line and "faster" in line for line in lines)
    assert "measure it" in lines[-1]
    assert "good enough, use it" in recommend(results, accuracy={MINILM: 1.0})[-1]
    low = recommend(results, accuracy={MINILM: 0.5, "all-mpnet-base-v2": 1.0})[-1]
    assert "consider a larger model or fine-tuning" in low and "all-mpnet-base-v2 did better" in low


def test_benchmark_stays_callable_after_its_module_is_imported():
    code = (
        "import embedlab.benchmarking.run, embedlab\n"
        "r = embedlab.benchmark(['static-64d'], ['a', 'b'], repeats=1)\n"
        "print(len(r), callable(embedlab.benchmark))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True"]


# ------------------------------------------------------------------------------ the store
def test_store_round_trip(run, store):
    results, _ = run
    run_id = store.save(results, label="first")
    loaded = store.load(run_id)
    pd.testing.assert_frame_equal(loaded, results)
    for key in ("machine", "settings", "times", "baseline", "stopped"):
        assert loaded.attrs[key] == results.attrs[key], key
    assert loaded.attrs["label"] == "first" and loaded.attrs["run_id"] == run_id
    listed = store.runs()
    assert list(listed["id"]) == [run_id] and listed.loc[0, "models"] == f"{MINILM}, {STATIC}"
    assert listed.loc[0, "n_texts"] == len(CORPUS) and not listed.loc[0, "stopped"]


def test_store_lists_newest_first_and_deletes(run, store):
    results, _ = run
    first, second = store.save(results), store.save(results)
    assert list(store.runs()["id"]) == [second, first]
    assert store.delete(first) is True
    assert store.delete(first) is False
    assert list(store.runs()["id"]) == [second] and len(store) == 1
    with pytest.raises(KeyError, match=f"no saved benchmark run has id {first}"):
        store.load(first)
    with sqlite3.connect(store.path) as connection:  # its rows went with it
        assert connection.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (first,)).fetchone()[0] == 0


def test_store_survives_a_new_process(run, tmp_path):
    results, _ = run
    path = tmp_path / "kept.sqlite3"
    run_id = BenchmarkStore(path).save(results)
    code = (
        "import sys, json\n"
        "from embedlab.benchmarking.run import BenchmarkStore\n"
        "r = BenchmarkStore(sys.argv[1]).load(int(sys.argv[2]))\n"
        "print(json.dumps({'models': list(r['model']), 'tps': r['texts_per_s'].tolist(),"
        " 'cpu': r.attrs['machine']['cpu_model']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(run_id)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert loaded["models"] == [MINILM, STATIC]
    assert loaded["tps"] == results["texts_per_s"].tolist()
    assert loaded["cpu"] == results.attrs["machine"]["cpu_model"]


def test_a_failed_save_leaves_nothing_behind(run, store):
    results, _ = run
    kept = store.save(results)
    broken = results.copy()
    broken["oops"] = [object(), object()]  # cannot be written as JSON: fails after the run row
    with pytest.raises(TypeError):
        store.save(broken)
    assert list(store.runs()["id"]) == [kept]
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("SELECT COUNT(DISTINCT run_id) FROM results").fetchone()[0] == 1


def test_saves_from_many_threads_are_all_whole(run, store):
    results, _ = run
    ids, errors = [], []

    def save_some():
        try:
            ids.extend(store.save(results) for _ in range(5))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(ids)) == 20
    for run_id in ids[::7]:
        assert list(store.load(run_id)["model"]) == [MINILM, STATIC]


def test_a_damaged_store_is_set_aside_and_started_afresh(tmp_path):
    path = tmp_path / "benchmarks.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = BenchmarkStore(path)
    assert len(store) == 0
    assert store.notices and "set aside" in store.notices[0]
    assert (tmp_path / "benchmarks.sqlite3.broken-1").read_bytes().startswith(b"this is not")


def test_a_store_file_removed_while_in_use_comes_back(run, store):
    results, _ = run
    store.save(results)
    for path in store.path.parent.glob("benchmarks.sqlite3*"):
        path.unlink()
    assert store.runs().empty
    assert list(store.load(store.save(results))["model"]) == [MINILM, STATIC]


def test_store_defaults_to_the_data_directory():
    assert BenchmarkStore().path == embedlab.data_dir() / "benchmarks.sqlite3"


def test_store_refuses_what_is_not_a_result(store):
    with pytest.raises(TypeError, match="results"):
        store.save([1, 2])
    with pytest.raises(ValueError, match="texts_per_s"):
        store.save(pd.DataFrame({"model": ["x"]}))
    with pytest.raises(TypeError, match="run_id"):
        store.load("1")


# ------------------------------------------------------------------------------ machine
def test_machine_info_without_importing_torch():
    code = (
        "import sys, json\n"
        "import embedlab.benchmarking.machine as m\n"
        "assert 'torch' not in sys.modules\n"
        "info = m.machine_info(torch_threads=False)\n"
        "assert 'torch' not in sys.modules\n"
        "print(json.dumps(info))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["cpu_model"] and info["usable_cores"] >= 1 and info["cpu_threads"] >= 1
    assert info["device"] == "cpu" and info["torch_threads"] is None
    assert info["torch"].startswith("2.") and info["sentence-transformers"]
    assert info["python"] == ".".join(map(str, sys.version_info[:3]))


def test_machine_info_records_torch_threads():
    import torch

    from embedlab.benchmarking.machine import describe, machine_info

    info = machine_info()
    assert info["torch_threads"] == torch.get_num_threads()
    assert f"torch {info['torch_threads']} threads" in describe(info)
