"""``python -m embedlab finetune / distil / keep-model / delete-model``: real runs in new processes.

One tiny fine-tune (40 real pairs, one epoch, two steps) is shared by the module; a second one with
a learning rate that wrecks the model checks that a worse model is kept aside; distil runs once;
Ctrl-C is sent to a third. Bad usage runs in this process (nothing is trained).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from embedlab.cli import main as cli
from embedlab.tuning import example_pairs

NAME = "my-debian"


def python_m(*args: str, home, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMBEDLAB_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "embedlab", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def listed(home) -> list[str]:
    """The model names ``python -m embedlab models --json`` lists."""
    done = python_m("models", "--json", home=home)
    assert done.returncode == 0, done.stderr
    return [m["name"] for m in json.loads(done.stdout)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A data directory and the pairs files: the first 40 example pairs, and bad ones."""
    folder = tmp_path_factory.mktemp("finetune")
    pairs = pd.DataFrame(example_pairs(40), columns=["query", "positive"])
    pairs.to_csv(folder / "pairs.csv", index=False)
    pairs.rename(columns={"positive": "document_text"}).to_csv(folder / "no_positive.csv", index=False)
    pairs.head(5).to_csv(folder / "five.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def tuned(folder):
    """One real fine-tune in a new process: 32 training pairs, 8 held out, 2 steps."""
    done = python_m(
        "finetune",
        "--pairs",
        str(folder / "pairs.csv"),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--name",
        NAME,
        "--keep-if-worse",  # saved whatever two small steps do to the held-out ranks
        home=folder / "home",
    )
    return done, folder / "home"


def test_finetune_prints_the_held_out_table_and_where_the_model_is(tuned):
    done, home = tuned
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith(f"Fine-tuned all-MiniLM-L6-v2 into {NAME}: 32 training pairs, 8 held-out queries")
    assert "1 epoch, batch size 16, MultipleNegativesRankingLoss; 2 steps in" in text
    header, rule, base_row, new_row = text.split("\n\n")[1].splitlines()[:4]
    assert header.split() == ["model", "queries", "documents", "accuracy@1", "accuracy@5", "accuracy@10", "MRR@10"]
    assert set(rule) == {"-", " "}
    assert base_row.split()[:3] == ["all-MiniLM-L6-v2", "8", "40"]
    assert new_row.split()[:3] == [NAME, "8", "40"]
    counts = text.split("Held-out queries: ")[1].split(" (")[0]  # "0 improved, 0 regressed, 8 same"
    assert sum(int(part.split()[0]) for part in counts.split(", ")) == 8
    card = json.loads((home / "models" / "finetuned" / NAME / "embedlab-card.json").read_text())
    if card["promoted"]:
        assert "Promoted: held-out MRR@10 " in text and f"\nSaved in {home}" in text
    else:
        assert "Not promoted: " in text and "Saved anyway (--keep-if-worse)" in text
    assert f"embedlab.encode(texts, model='{NAME}')" in text
    # progress on stderr: the estimate, the stages and the training steps
    assert "Fine-tuning all-MiniLM-L6-v2 on 40 pairs (20% held out), 1 epoch: about" in done.stderr
    assert "Judging the base model on the held-out queries" in done.stderr
    assert "Training: step 2 of 2 · loss " in done.stderr


def test_the_model_is_listed_loads_in_a_new_process_and_is_deleted(tuned):
    done, home = tuned
    assert done.returncode == 0, done.stderr
    table = python_m("models", home=home)
    assert table.returncode == 0
    row = next(line for line in table.stdout.splitlines() if line.startswith(NAME + " "))
    assert row.split()[1:3] == ["384", "sentence-transformers"]
    code = (
        "import json, numpy as np, embedlab\n"
        "text = ['interactively examine a C program source']\n"
        f"new = embedlab.encode(text, model={NAME!r})[0]\n"
        "base = embedlab.encode(text, model='all-MiniLM-L6-v2')[0]\n"
        "cosine = float(new @ base / np.linalg.norm(new) / np.linalg.norm(base))\n"
        "print(json.dumps({'dim': len(new), 'cosine': cosine, 'diff': float(np.abs(new - base).max())}))\n"
    )
    env = {**os.environ, "EMBEDLAB_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert loaded.returncode == 0, loaded.stderr
    vectors = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert vectors["dim"] == 384
    assert vectors["diff"] > 1e-6  # trained: not the base model's vector
    assert vectors["cosine"] > 0.5  # two small steps: still close to it

    deleted = python_m("delete-model", NAME, home=home)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith(f"Deleted the fine-tuned model {NAME} (")
    assert NAME not in listed(home)
    again = python_m("delete-model", NAME, home=home)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"python -m embedlab delete-model: error: there is no fine-tuned or distilled model called '{NAME}'."
    )


def test_a_worse_model_is_kept_aside_until_kept(folder):
    home = folder / "home-worse"
    done = python_m(
        "finetune",
        "--pairs",
        str(folder / "pairs.csv"),
        "--batch-size",
        "16",
        "--learning-rate",
        "0.5",  # wrecks the model: held-out MRR@10 falls from 0.94 to ~0.02
        "--name",
        "worse",
        "--json",
        "--quiet",
        home=home,
    )
    assert done.returncode == 0, done.stderr
    assert "Training: step" not in done.stderr and "Judging" not in done.stderr  # --quiet
    result = json.loads(done.stdout)
    assert result["model"] == "worse" and result["steps"] == 2
    assert (result["n_train"], result["n_held_out"], result["n_corpus"]) == (32, 8, 40)
    assert result["after"]["mrr"] < result["before"]["mrr"]
    assert result["promoted"] is False and result["saved"] is False and not result["stopped"]
    assert result["reason"].startswith("Not promoted: held-out MRR@10 ")
    assert "/.rejected/worse" in result["path"]
    assert sum(result["queries"].values()) == 8
    assert "worse" not in listed(home)

    kept = python_m("keep-model", "worse", home=home)
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("Kept worse: it is now listed") and "model='worse'" in kept.stdout
    assert "worse" in listed(home)
    assert python_m("delete-model", "worse", home=home).returncode == 0
    assert "worse" not in listed(home)


def test_distil_prints_the_speedup_and_the_held_out_table(folder):
    home = folder / "home-distil"
    done = python_m("distil", "--pairs", str(folder / "pairs.csv"), "--name", "my-static", home=home)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("Distilled all-MiniLM-L6-v2 into my-static: a static model2vec model, 256 dimensions")
    assert "\nSpeed on 40 of the documents: my-static " in text
    speedup = float(text.split("texts/s: ")[1].split("x faster")[0].replace(",", ""))
    assert speedup > 5  # a table look-up against a transformer
    assert "Held-out queries: 32 training pairs, 8 held-out queries ranked against 40 documents." in text
    rows = [line.split()[:3] for line in text.splitlines() if line.startswith(("all-MiniLM-L6-v2 ", "my-static "))]
    assert rows == [["all-MiniLM-L6-v2", "8", "40"], ["my-static", "8", "40"]]
    assert "embedlab.encode(texts, model='my-static')" in text
    assert "my-static" in listed(home)
    deleted = python_m("delete-model", "my-static", home=home)
    assert deleted.returncode == 0 and deleted.stdout.startswith("Deleted the distilled model my-static (")
    assert "my-static" not in listed(home)


def test_ctrl_c_stops_after_the_current_step_and_saves_nothing(folder):
    home = folder / "home-stopped"
    env = {**os.environ, "EMBEDLAB_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "embedlab", "finetune", "--pairs", str(folder / "pairs.csv")]
    process = subprocess.Popen(
        [*command, "--batch-size", "2", "--name", "stopped"],  # 16 steps: time to stop in between
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in process.stderr:
            if line.startswith("Training: step "):
                process.send_signal(signal.SIGINT)
                break
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert out.startswith("Stopped after ") and out.strip().endswith("training steps: nothing was saved.")
    assert "Stopping after the current step" in err and "Traceback" not in err
    assert not (home / "models" / "finetuned" / "stopped").exists()
    assert "stopped" not in listed(home)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["finetune", "--pairs", "/no/such/pairs.csv"], "--pairs /no/such/pairs.csv: no such file"),
        (
            ["finetune", "--pairs", "{no_positive}"],
            "--pairs no_positive.csv: pairs need the columns query and positive (and optionally negative); "
            "missing positive; the table has: query, document_text",
        ),
        (["finetune", "--pairs", "{five}"], "pairs must hold at least 10 distinct pairs"),
        (
            ["finetune", "--pairs", "{pairs}", "--name", "all-MiniLM-L6-v2"],
            "name 'all-MiniLM-L6-v2' is a catalog model's name; choose another name for your model.",
        ),
        (["finetune", "--pairs", "{pairs}", "--name", "no spaces"], "name must be 1-64 letters, digits"),
        (["finetune", "--pairs", "{pairs}", "--base", "static-64d"], "static-64d cannot be a base model"),
        (["finetune", "--pairs", "{pairs}", "--base", "nosuch-model"], "the base model nosuch-model is not on this"),
        (["finetune", "--pairs", "{pairs}", "--seed", "-1"], "random_state must be a non-negative int, got -1."),
        (["finetune", "--pairs", "{pairs}", "--held-out", "0.95"], "held_out must be a fraction between 0 and 0.9"),
        (["finetune", "--pairs", "{pairs}", "--epochs", "0"], "epochs must be a positive integer, got 0."),
        (["finetune", "--pairs", "{pairs}", "--learning-rate", "2"], "learning_rate must be a number between 0"),
        (["finetune", "--pairs", "{pairs}", "--matryoshka-dims", "512"], "matryoshka_dims must be at most the model"),
        (["distil", "--pairs", "{five}"], "pairs must hold at least 10 distinct pairs"),
        (["distil", "--base", "static-64d"], "static-64d cannot be a base model"),
        (["distil", "--pca-dims", "999"], "pca_dims must be at most the base model's 384 dimensions, got 999."),
        (["delete-model", "static-64d"], "static-64d is a catalog model, not one made here"),
        (["delete-model", "nosuch"], "there is no fine-tuned or distilled model called 'nosuch'."),
        (["keep-model", "nosuch"], "there is no model called 'nosuch' kept aside."),
    ],
)
def test_bad_usage_is_one_line_and_exit_status_2(args, message, folder, capsys, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(folder / "home-bad"))
    files = {name: str(folder / f"{name}.csv") for name in ("pairs", "no_positive", "five")}
    with pytest.raises(SystemExit) as exit_info:
        cli.main([arg.format(**files) for arg in args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"python -m embedlab {args[0]}: error: "), captured.err
    assert message in lines[0]
    assert captured.out == ""


def test_bad_usage_from_the_command_line(folder):
    done = python_m("finetune", "--pairs", str(folder / "pairs.csv"), "--base", "static-64d", home=folder / "home-bad")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "python -m embedlab finetune: error: static-64d cannot be a base model: it runs on static, not as a "
        "trainable sentence-transformers model; choose all-MiniLM-L6-v2 or all-mpnet-base-v2"
    ]


def test_help_names_the_commands_and_options():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert {"finetune", "distil", "keep-model", "delete-model"} <= set(commands.choices)
    finetune_help = commands.choices["finetune"].format_help()
    for option in (
        "--pairs FILE",
        "--base MODEL",
        "--name NAME",
        "--epochs N",
        "--batch-size N",
        "--learning-rate F",
        "--held-out F",
        "--matryoshka-dims D",
        "--seed N",
        "--keep-if-worse",
        "--json",
    ):
        assert option in finetune_help
    assert "keep-model NAME" in commands.choices["finetune"].description  # how a model kept aside is used anyway
    assert "--pca-dims N" in commands.choices["distil"].format_help()
