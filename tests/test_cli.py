"""``python -m embedlab``: bench on a small file (a real subprocess), models, runs, help and bad usage."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import embedlab
from embedlab.benchmarking.results import COLUMNS
from embedlab.benchmarking.run import advice
from embedlab.benchmarking.store import BenchmarkStore
from embedlab.cli import main as cli

TEXTS = [
    "User expressed anxiety about work deadlines and feeling overwhelmed",
    "Bot suggested breaking down tasks into smaller steps",
    "<script>alert('hi')</script> | a line with a separator",
]


def python_m(*args: str, home, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMBEDLAB_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "embedlab", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One real `bench` run in a new process: two models that work and one that cannot load."""
    folder = tmp_path_factory.mktemp("cli")
    corpus = folder / "texts.txt"
    corpus.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    out = folder / "results.csv"
    done = python_m(
        "bench",
        "--models",
        "all-MiniLM-L6-v2",
        "static-64d",
        "nosuch/model",
        "--texts",
        str(corpus),
        "--size",
        "30",
        "--repeats",
        "2",
        "--threads",
        "1",
        "--out",
        str(out),
        "--save",
        "--label",
        "from the cli",
        home=folder / "home",
    )
    return done, out, folder / "home"


def test_bench_writes_a_csv_one_row_per_model(bench_run):
    done, out, _ = bench_run
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(table.columns) == list(COLUMNS)
    assert list(table["model"]) == ["all-MiniLM-L6-v2", "static-64d", "nosuch/model"]
    assert list(table["status"]) == ["ok", "ok", "failed"]
    ok = table.iloc[:2]
    assert (ok["n_texts"] == 30).all() and (ok["repeats_done"] == 2).all()
    assert (ok["texts_per_s"] > 0).all()
    assert ok["texts_per_s"].tolist() == pytest.approx((30 / ok["encode_median_s"]).tolist())
    assert ok["dim"].tolist() == [384, 64]
    assert table.loc[2, "error"].startswith("could not load: ")


def test_bench_prints_the_table_comparison_and_machine(bench_run):
    done, out, home = bench_run
    text = done.stdout
    assert "Benchmark: 30 texts (3 distinct), batch size 32, 2 repeats, warm-up on" in text
    assert "Machine: " in text and "torch 1 threads" in text
    table = pd.read_csv(out)
    ratio = table.loc[0, "texts_per_s"] / table.loc[1, "texts_per_s"]
    assert f"static-64d is {1 / ratio:.1f}x faster than all-MiniLM-L6-v2" in text
    assert "nosuch/model: could not load" in text
    saved = BenchmarkStore(home / "benchmarks.sqlite3").load(int(text.split("Saved as run ")[1].split()[0]))
    decision = advice(saved)  # the same run, read back: the printed advice is the rule's, line for line
    assert decision.baseline == "all-MiniLM-L6-v2" and decision.fastest == "static-64d"
    assert decision.labels["nosuch/model"] == "failed"
    assert text.split("Recommendation:\n")[1].startswith("\n".join(f"  - {r}" for r in decision.reasons))
    assert f"Wrote {out}" in text
    # progress went to stderr, one line per model started and finished
    assert "Model 1 of 3 · all-MiniLM-L6-v2 · loading" in done.stderr


def test_bench_save_is_listed_by_runs(bench_run):
    done, _, home = bench_run
    runs = BenchmarkStore(home / "benchmarks.sqlite3").runs()
    assert list(runs["label"]) == ["from the cli"]
    run_id = int(runs.loc[0, "id"])
    assert f"Saved as run {run_id}" in done.stdout
    listed = python_m("runs", home=home)
    assert listed.returncode == 0 and "from the cli" in listed.stdout
    shown = python_m("runs", "--show", str(run_id), "--out", str(home / "run.json"), home=home)
    assert shown.returncode == 0, shown.stderr
    document = json.loads((home / "run.json").read_text())
    assert [r["model"] for r in document["results"]] == ["all-MiniLM-L6-v2", "static-64d", "nosuch/model"]
    assert python_m("runs", "--delete", str(run_id), home=home).returncode == 0
    gone = python_m("runs", "--show", str(run_id), home=home)
    assert gone.returncode == 2 and f"no saved benchmark run has id {run_id}" in gone.stderr


def test_bench_reads_a_table_column_and_writes_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path / "home"))
    table = tmp_path / "traces.csv"
    pd.DataFrame({"id": [1, 2], "text": TEXTS[:2]}).to_csv(table, index=False)
    out = tmp_path / "r.json"
    args = ["--models", "static-64d", "--texts", str(table), "--column", "text", "--repeats", "1"]
    status = cli.main(["bench", *args, "--out", str(out), "--quiet"])
    assert status == 0
    document = json.loads(out.read_text())
    assert document["settings"]["n_texts"] == 2 and document["results"][0]["texts_per_s"] > 0
    assert capsys.readouterr().err == ""  # --quiet: no progress
    assert out.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # an ordinary file, not mkstemp's 0600


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_cli_modules_do_not_import_each_other_in_a_circle():
    import ast
    from pathlib import Path

    folder = Path(cli.__file__).parent
    for path in folder.glob("*.py"):
        if path.name in ("main.py", "review.py"):  # main imports the commands; review is switched separately
            continue
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}
        assert "main" not in imported, f"{path.name} imports cli.main"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repeats", "0"], "repeats must be a positive integer, got 0."),
        (["--batch-size", "-1"], "batch_size must be a positive integer, got -1."),
        (["--size", "0"], "size must be a positive integer, got 0."),
        (["--threads", "0"], "threads must be a positive integer, got 0."),
        (["--texts", "/no/such/file.txt"], "--texts /no/such/file.txt: no such file"),
        (["--out", "results.xlsx"], "--out must end in .csv or .json"),
        (["--baseline", "static-64d"], "--baseline must be one of --models"),
        (["--models", "static-64d", "static-64d"], "must not name a model twice"),
        (["--column", "text"], "--column goes with --texts FILE"),
        (["--texts", __file__, "--column", "text"], "--column applies to table files"),
    ],
)
def test_bad_usage_is_one_line_and_exit_status_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_empty_or_unreadable_corpus_file_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for path, message in (
        (empty, "holds no texts"),
        (latin, "is not UTF-8 text"),
        (broken, "is not valid JSON"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["bench", "--texts", str(path)])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_help_explains_every_option():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert {"bench", "models", "runs"} <= set(commands.choices)
    for name, sub in commands.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and len(action.help) > 15, f"{name} {action.option_strings} has no help"
                assert action.option_strings[-1] in text
    bench_help = commands.choices["bench"].format_help()
    for option in ("--models", "--texts", "--repeats", "--out", "--batch-size", "--no-warmup", "--baseline"):
        assert option in bench_help


def test_help_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "embedlab", "bench", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "--repeats N" in done.stdout and "--texts FILE" in done.stdout
    bare = subprocess.run([sys.executable, "-m", "embedlab"], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2 and "bench" in bare.stderr


def test_models_prints_the_catalog(capsys):
    assert cli.main(["models"]) == 0
    text = capsys.readouterr().out
    catalog = embedlab.list_models()
    for model in catalog:
        assert model.name in text
    assert "cannot run here" in text  # the hub-only model says why
    assert cli.main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == [m.name for m in catalog]
    assert [m["available"] for m in listed] == [m.available for m in catalog]
