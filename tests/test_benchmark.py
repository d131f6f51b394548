"""embedlab.benchmark and BenchmarkStore with the real packaged models (never mocked).

Oracles: sentence-transformers itself (dimensions, parameters, token counts, its own encode
time), the definitions of the figures (texts/s = n / median encode time, the noisy rule),
and a fresh Python process for the store.
"""

from __future__ import annotations

import dataclasses
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
from embedlab.benchmarking.comparison import compare_runs
from embedlab.benchmarking.results import COLUMNS, BenchmarkRun, results_json
from embedlab.benchmarking.run import advice, repeat_to
from embedlab.benchmarking.store import BenchmarkStore
from embedlab.models.packaged import locate_minilm
from embedlab.retrieval.evaluation import RetrievalSummary
from embedlab.runs import Progress

MINILM, STATIC = "all-MiniLM-L6-v2", "static-64d"
CORPUS = list(seed.BENCHMARK_CORPUS[:40])


@pytest.fixture(scope="module")
def run():
    """One small real run shared by the tests that only read it: MiniLM (baseline) and static-64d.

    One torch thread: on a machine shared with other work that is the fast setting.
    """
    events = []
    result = embedlab.benchmark(
        [MINILM, STATIC],
        CORPUS,
        repeats=2,
        batch_size=16,
        threads=1,
        progress=lambda e: events.append((e, e.results())),
    )
    return result, events


@pytest.fixture(scope="module")
def st_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(locate_minilm()), device="cpu")


@pytest.fixture
def store(tmp_path):
    return BenchmarkStore(tmp_path / "benchmarks.sqlite3")


# ------------------------------------------------------------------------------ figures
def test_one_row_per_model_with_every_column(run):
    result, _ = run
    results = result.table
    assert list(results.columns) == list(COLUMNS)
    assert list(results["model"]) == [MINILM, STATIC]
    assert list(results["status"]) == ["ok", "ok"]
    assert list(results["error"]) == ["", ""]
    assert isinstance(result, BenchmarkRun)
    assert result.baseline == MINILM
    assert result.stopped is False
    assert result.settings.models == (MINILM, STATIC) and result.settings.n_texts == len(CORPUS)


def test_figures_are_present_and_positive(run):
    result, _ = run
    results = result.table
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
    result, _ = run
    results = result.table
    for row in results.itertuples():
        times = result.times[row.model]
        assert len(times) == 2
        assert row.encode_median_s == pytest.approx(float(np.median(times)))
        assert row.encode_min_s == pytest.approx(min(times)) and row.encode_max_s == pytest.approx(max(times))
        assert row.texts_per_s == pytest.approx(len(CORPUS) / float(np.median(times)))
        assert row.texts_per_s_low == pytest.approx(len(CORPUS) / max(times))
        assert row.tokens_per_s == pytest.approx(row.tokens / row.encode_median_s)


def test_model_facts_match_sentence_transformers(run, st_model):
    result, _ = run
    results = result.table
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
    result = embedlab.benchmark([MINILM], texts, repeats=2, threads=1)
    results = result.table
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
    result, _ = run
    results = result.table
    minilm, static = results.iloc[0], results.iloc[1]
    assert static["texts_per_s"] > minilm["texts_per_s"]
    assert minilm["comparison"] == "baseline" and minilm["slowdown"] == pytest.approx(1.0)
    assert static["slowdown"] == pytest.approx(minilm["texts_per_s"] / static["texts_per_s"])
    assert re.fullmatch(r"static-64d is [\d.]+x faster than all-MiniLM-L6-v2", static["comparison"])


@pytest.mark.slow
def test_mpnet_is_slower_than_minilm_in_the_lessons_words():
    result = embedlab.benchmark([MINILM, "all-mpnet-base-v2"], list(seed.TRACE_TEXTS) * 4, repeats=1, threads=1)
    results = result.table
    assert list(results["status"]) == ["ok", "ok"]
    mpnet = results.iloc[1]
    assert mpnet["dim"] == 768
    assert mpnet["texts_per_s"] < results.iloc[0]["texts_per_s"]
    ratio = results.iloc[0]["texts_per_s"] / mpnet["texts_per_s"]
    assert mpnet["comparison"] == f"all-mpnet-base-v2 is {ratio:.1f}x slower than all-MiniLM-L6-v2"


def test_baseline_can_be_chosen():
    result = embedlab.benchmark([MINILM, STATIC], CORPUS[:10], repeats=1, baseline=STATIC, warmup=False, threads=1)
    results = result.table
    assert result.baseline == STATIC and result.settings.baseline == STATIC
    # MiniLM on the backend chosen here, untimed warm-up off: it may even keep up with static-64d on 10 texts
    assert re.fullmatch(
        r"all-MiniLM-L6-v2 is ([\d.]+x (slower|faster) than|about as fast as) static-64d", results.loc[0, "comparison"]
    )
    assert math.isnan(results.loc[0, "warmup_s"])  # no warm-up asked for


def test_noisy_flag_follows_its_definition():
    texts = CORPUS[:10]
    for threshold in (1e-12, 1e9):
        result = embedlab.benchmark([STATIC], texts, repeats=3, noisy_above=threshold)
        results = result.table
        row = results.iloc[0]
        spread = (row["encode_max_s"] - row["encode_min_s"]) / row["encode_median_s"]
        assert row["spread"] == pytest.approx(spread)
        assert bool(row["noisy"]) == (spread > threshold)
    one = embedlab.benchmark([STATIC], texts, repeats=1)
    assert pd.isna(one.table.loc[0, "noisy"])  # one repeat: no spread to judge


def test_threads_are_set_for_the_run_and_restored():
    import torch

    before = torch.get_num_threads()
    result = embedlab.benchmark([STATIC], CORPUS[:5], repeats=1, threads=3)
    assert result.machine["torch_threads"] == 3
    assert result.settings.threads == 3
    assert torch.get_num_threads() == before


# ------------------------------------------------------------------------------ failures and bad input
def test_a_model_that_cannot_load_gets_a_row_and_the_others_run():
    result = embedlab.benchmark(["nosuch/model", STATIC], CORPUS[:10], repeats=1)
    results = result.table
    failed, ok = results.iloc[0], results.iloc[1]
    assert failed["status"] == "failed"
    assert failed["error"].startswith("could not load: ") and "nosuch/model" in failed["error"]
    assert pd.isna(failed["texts_per_s"]) and failed["comparison"] == ""
    assert ok["status"] == "ok" and ok["texts_per_s"] > 0
    assert result.baseline == STATIC  # the first model failed: the next one is the baseline


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
    assert [(e.model_index, e.stage, e.detail) for e in events if e.stage not in ("choose", "agreement")] == [
        (1, "load", "loading"),
        (1, "warmup", "warming up"),
        (1, "encode", "repeat 1 of 2"),
        (1, "encode", "repeat 2 of 2"),
        (1, "done", "done"),
        (2, "load", "loading"),
        (2, "warmup", "warming up"),
        (2, "encode", "repeat 1 of 2"),
        (2, "encode", "repeat 2 of 2"),
        (2, "done", "done"),
    ]
    assert all(isinstance(e, Progress) and e.n_models == 2 for e in events)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [e.stage for e in events[:2]] == ["choose", "load"]  # MiniLM's backend is chosen for this machine
    repeat_2 = next(i for i, e in enumerate(events) if e.detail == "repeat 2 of 2")
    assert events[repeat_2].message == "Model 1 of 2 · all-MiniLM-L6-v2 · repeat 2 of 2"
    partial = snapshots[repeat_2]  # mid-run, as repeat 2 starts: the first model with one repeat, marked stopped
    assert partial.models == [MINILM] and partial.stopped is True
    assert partial.table.loc[0, "status"] == "stopped" and partial.table.loc[0, "repeats_done"] == 1
    assert partial.table.loc[0, "texts_per_s"] > 0 and len(partial.times[MINILM]) == 1
    assert snapshots[-1].stopped is False and list(snapshots[-1].table["status"]) == ["ok", "ok"]


def test_should_stop_ends_the_run_and_keeps_what_finished():
    seen = []
    result = embedlab.benchmark(
        [STATIC, MINILM],
        CORPUS[:10],
        repeats=5,
        progress=seen.append,
        should_stop=lambda: any(e.stage == "encode" and e.detail == "repeat 2 of 5" for e in seen),
    )
    results = result.table
    assert list(results["model"]) == [STATIC]  # MiniLM never started
    assert results.loc[0, "status"] == "stopped" and results.loc[0, "repeats_done"] == 2
    assert results.loc[0, "texts_per_s"] > 0
    assert result.stopped is True
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
    result, _ = run
    results = result.table
    document = json.loads(results_json(result))
    assert [row["model"] for row in document["results"]] == [MINILM, STATIC]
    assert document["results"][0]["texts_per_s"] == pytest.approx(results.loc[0, "texts_per_s"])
    assert document["results"][1]["parameters"] is None  # unknown for the static model: null, not NaN
    assert document["machine"]["cpu_model"] and document["machine"]["device"] == "cpu"
    assert document["settings"]["n_texts"] == len(CORPUS) and document["baseline"] == MINILM


def test_compare_runs_lines_up_models_and_names_differences(run):
    result, _ = run
    results = result.table
    other = embedlab.benchmark([STATIC], CORPUS[:10], repeats=1, batch_size=8)
    comparison = compare_runs(result, other)
    assert list(comparison.table["model"]) == [STATIC]
    row = comparison.table.iloc[0]
    assert row["change"] == pytest.approx(results.loc[1, "texts_per_s"] / other.table.loc[0, "texts_per_s"])
    differences = " ".join(comparison.differences)
    assert "different corpora" in differences and "batch size 16 now, 8 before" in differences
    assert compare_runs(result, result).differences == ()


def summary(model: str, correct: int, n_queries: int = 10) -> RetrievalSummary:
    """Retrieval figures as the Trace Retrieval page keeps them (only what the rule reads matters)."""
    accuracy = correct / n_queries
    return RetrievalSummary(model, 5, accuracy, {1: accuracy}, accuracy, n_queries, 20, correct, ())


def test_advice_is_the_lessons_rule_on_the_measured_speeds(run):
    result, _ = run
    decision = advice(result)
    assert decision.baseline == MINILM and decision.fastest == STATIC
    assert decision.suggestion == "measure quality" and decision.good_enough is None
    assert decision.labels == {MINILM: "start here", STATIC: "faster alternative"}
    ratio = result.table.loc[1, "texts_per_s"] / result.table.loc[0, "texts_per_s"]
    assert decision.verdict(STATIC).speed_ratio == pytest.approx(ratio)

    good = advice(result, {MINILM: summary(MINILM, 9)})
    assert good.suggestion == "keep" and good.good_enough is True and good.recommended == MINILM

    low = advice(result, {MINILM: summary(MINILM, 5), STATIC: summary(STATIC, 8)})
    assert low.good_enough is False and low.suggestion == "upgrade"
    assert low.recommended == STATIC and low.best_quality == STATIC and low.upgrade is True
    assert advice(result, {MINILM: summary(MINILM, 5), STATIC: summary(STATIC, 2)}).suggestion == "fine-tune"


def test_advice_without_a_finished_model_has_nothing_to_decide():
    result = embedlab.benchmark(["nosuch/model"], ["a text"], repeats=1)
    decision = advice(result)
    assert decision.suggestion == "nothing to decide" and decision.recommended is None
    assert decision.labels == {"nosuch/model": "failed"}


def test_benchmark_stays_callable_after_its_module_is_imported():
    code = (
        "import embedlab.benchmarking.run, embedlab\n"
        "r = embedlab.benchmark(['static-64d'], ['a', 'b'], repeats=1)\n"
        "print(len(r.table), callable(embedlab.benchmark))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True"]


# ------------------------------------------------------------------------------ the store
def test_store_round_trip(run, store):
    result, _ = run
    results = result.table
    run_id = store.save(result, label="first")
    loaded = store.load(run_id)
    pd.testing.assert_frame_equal(loaded.table, results)
    for key in ("machine", "settings", "times", "baseline", "stopped"):
        assert getattr(loaded, key) == getattr(result, key), key
    assert loaded.label == "first" and loaded.id == run_id and loaded.created
    listed = store.runs()
    assert list(listed["id"]) == [run_id] and listed.loc[0, "models"] == f"{MINILM}, {STATIC}"
    assert listed.loc[0, "n_texts"] == len(CORPUS) and not listed.loc[0, "stopped"]


# What the version before typed results (embedlab/benchmarking.py's BenchmarkStore.save, with
# DataFrame.attrs) wrote, byte for byte in shape: its schema, and one run of two models.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    models TEXT NOT NULL,
    stopped INTEGER NOT NULL,
    machine TEXT NOT NULL,
    settings TEXT NOT NULL,
    extra TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""


def old_row(model: str, seconds: list[float], **values) -> dict:
    median = float(np.median(seconds))
    new = ("name", "requested", "vs_fp32", "cosine_mean", "cosine_min", "top1_agreement", "top1_queries")
    row = {column: None for column in COLUMNS if column not in new}  # the columns of the code before backends
    row.update(
        model=model,
        status="ok",
        backend="sentence-transformers" if model == "a-model" else "static",
        dim=64,
        n_texts=10,
        batch_size=32,
        repeats_done=len(seconds),
        encode_median_s=median,
        encode_min_s=min(seconds),
        encode_max_s=max(seconds),
        texts_per_s=10 / median,
        texts_per_s_low=10 / max(seconds),
        texts_per_s_high=10 / min(seconds),
        noisy=False,
        comparison="",
        error="",
    )
    row.update(values)
    return row


def test_a_run_saved_by_the_old_code_still_opens(tmp_path):
    path = tmp_path / "benchmarks.sqlite3"
    machine = {"cpu_model": "Old CPU", "usable_cores": 2, "torch_threads": 1, "device": "cpu"}
    settings = {
        "n_texts": 10,
        "distinct_texts": 2,
        "corpus_sha256": "0123456789abcdef",
        "batch_size": 32,
        "repeats": 2,
        "warmup": True,
        "baseline": None,
        "noisy_above": 0.5,
        "models": ["a-model", "b-model"],
        "threads": None,
        "started": "2026-11-30T10:00:00+00:00",
        "finished": "2026-11-30T10:00:05+00:00",
    }
    times = {"a-model": [0.2, 0.4], "b-model": [0.1, 0.1]}
    rows = [
        old_row("a-model", times["a-model"], slowdown=1.0, comparison="baseline"),
        old_row("b-model", times["b-model"], slowdown=3.0, comparison="b-model is 3.0x faster than a-model"),
    ]
    with sqlite3.connect(path) as connection:
        connection.executescript(OLD_SCHEMA)
        connection.execute(
            "INSERT INTO runs (created, label, models, stopped, machine, settings, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                "2026-11-30T10:00:06+00:00",
                "old",
                json.dumps(["a-model", "b-model"]),
                0,
                json.dumps(machine),
                json.dumps(settings),
                json.dumps({"times": times, "baseline": "a-model"}),
            ),
        )
        connection.executemany(
            "INSERT INTO results (run_id, position, row) VALUES (?, ?, ?)",
            [(1, i, json.dumps(row)) for i, row in enumerate(rows)],
        )
    connection.close()

    store = BenchmarkStore(path)
    assert store.notices == []
    listed = store.runs()
    assert list(listed["id"]) == [1] and listed.loc[0, "models"] == "a-model, b-model"
    assert listed.loc[0, "cpu"] == "Old CPU" and listed.loc[0, "n_texts"] == 10
    loaded = store.load(1)
    assert loaded.id == 1 and loaded.label == "old" and loaded.created == "2026-11-30T10:00:06+00:00"
    assert loaded.models == ["a-model", "b-model"] and loaded.baseline == "a-model" and loaded.stopped is False
    assert loaded.machine == machine and loaded.times == times
    assert loaded.settings.as_dict() == settings  # the same document, read back as a typed object
    assert loaded.settings.repeats == 2 and loaded.settings.models == ("a-model", "b-model")
    assert list(loaded.table.columns) == list(COLUMNS)
    assert loaded.table["texts_per_s"].tolist() == pytest.approx([10 / 0.3, 10 / 0.1])
    assert loaded.table.loc[1, "comparison"] == "b-model is 3.0x faster than a-model"
    assert advice(loaded).fastest == "b-model"
    # before backends could be chosen, sentence-transformers ran float32 torch: that is what the row says
    assert list(loaded.table["backend"]) == ["torch-fp32", "static"]
    assert list(loaded.table["requested"]) == ["torch-fp32", "static"]  # no automatic choice was made then
    assert list(loaded.table["name"]) == ["a-model", "b-model"] and loaded.settings.backends == ()
    assert loaded.state == "finished" and listed.loc[0, "state"] == "finished"
    # saving it again with the new code writes the same documents
    again = store.load(store.save(loaded, label="again"))
    assert again.settings == loaded.settings and again.machine == machine and again.times == times
    pd.testing.assert_frame_equal(again.table, loaded.table)


def test_store_lists_newest_first_and_deletes(run, store):
    result, _ = run
    first, second = store.save(result), store.save(result)
    assert list(store.runs()["id"]) == [second, first]
    assert store.delete(first) is True
    assert store.delete(first) is False
    assert list(store.runs()["id"]) == [second] and len(store) == 1
    with pytest.raises(KeyError, match=f"no saved benchmark run has id {first}"):
        store.load(first)
    with sqlite3.connect(store.path) as connection:  # its rows went with it
        assert connection.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (first,)).fetchone()[0] == 0


def test_store_survives_a_new_process(run, tmp_path):
    result, _ = run
    results = result.table
    path = tmp_path / "kept.sqlite3"
    run_id = BenchmarkStore(path).save(result)
    code = (
        "import sys, json\n"
        "from embedlab import BenchmarkStore\n"
        "r = BenchmarkStore(sys.argv[1]).load(int(sys.argv[2]))\n"
        "print(json.dumps({'models': r.models, 'tps': r.table['texts_per_s'].tolist(),"
        " 'cpu': r.machine['cpu_model']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(run_id)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout)
    assert loaded["models"] == [MINILM, STATIC]
    assert loaded["tps"] == results["texts_per_s"].tolist()
    assert loaded["cpu"] == result.machine["cpu_model"]


def test_a_failed_save_leaves_nothing_behind(run, store):
    result, _ = run
    results = result.table
    kept = store.save(result)
    table = results.copy()
    table["oops"] = [object(), object()]  # cannot be written as JSON: fails after the run row
    with pytest.raises(TypeError):
        store.save(dataclasses.replace(result, table=table))
    assert list(store.runs()["id"]) == [kept]
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("SELECT COUNT(DISTINCT run_id) FROM results").fetchone()[0] == 1


def test_saves_from_many_threads_are_all_whole(run, store):
    result, _ = run
    ids, errors = [], []

    def save_some():
        try:
            ids.extend(store.save(result) for _ in range(5))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(ids)) == 20
    for run_id in ids[::7]:
        assert store.load(run_id).models == [MINILM, STATIC]


def test_a_damaged_store_is_set_aside_and_started_afresh(tmp_path):
    path = tmp_path / "benchmarks.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = BenchmarkStore(path)
    assert len(store) == 0
    assert store.notices and "set aside" in store.notices[0]
    assert (tmp_path / "benchmarks.sqlite3.broken-1").read_bytes().startswith(b"this is not")


def test_a_store_file_removed_while_in_use_comes_back(run, store):
    result, _ = run
    store.save(result)
    for path in store.path.parent.glob("benchmarks.sqlite3*"):
        path.unlink()
    assert store.runs().empty
    assert store.load(store.save(result)).models == [MINILM, STATIC]


def test_store_defaults_to_the_data_directory():
    assert BenchmarkStore().path == embedlab.data_dir() / "benchmarks.sqlite3"


def test_store_refuses_what_is_not_a_result(store):
    with pytest.raises(TypeError, match="BenchmarkRun"):
        store.save([1, 2])
    with pytest.raises(TypeError, match="BenchmarkRun"):
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
