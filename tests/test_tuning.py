"""Fine-tuning and distillation with the real packaged model, end to end.

Oracles: sentence-transformers' InformationRetrievalEvaluator and SentenceTransformer/StaticModel
run directly on the saved folders (held-out figures, vectors), ranks computed here with numpy,
the weights hashed again (user.weights_sha256), a second Python process (loading), and the
folder on disk (what is listed, what is left after a Stop or a kill).

Trainings are few and small (48 real pairs, one epoch, batch 16: a few steps each) and shared
through module-scoped fixtures; every name used here starts with ``tuning-test-``.
"""

from __future__ import annotations

import datetime
import importlib
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import embedlab
from embedlab import tuning
from embedlab.models import catalog, packaged, user
from embedlab.models.embedders import SentenceTransformerEmbedder
from embedlab.retrieval.evaluation import RetrievalResult
from embedlab.storage import folders
from embedlab.tuning import heldout

#: The module, not the function ``embedlab.tuning.finetune`` that shadows its name in the package.
finetune_module = importlib.import_module("embedlab.tuning.finetune")

ROOT = Path(__file__).resolve().parents[1]
PAIRS = tuning.example_pairs(48)
#: Other packages' descriptions: documents no held-out query is after (the ranking gets harder).
DISTRACTORS = [positive for _, positive in tuning.example_pairs(72)[48:]]
NAME = "tuning-test-debian"
WRECKED = "tuning-test-wrecked"
STOPPED = "tuning-test-stopped"
STATIC = "tuning-test-static"
#: Texts no test encodes before the vectors are compared (so no cache can answer for a model).
FRESH = [
    "library for reading and writing compressed archives",
    "command-line tool to synchronise files between computers",
    "a font for programmers with clear zeros",
    "Python bindings for a scientific plotting toolkit",
    "The cat sits on the mat",
]
K_VALUES = (1, 3, 5, 10)


# ---------------------------------------------------------------- oracles


def minilm():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(packaged.locate_minilm()), device="cpu")


def sentence_transformer(folder: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


def evaluator_figures(model, split: tuning.Split) -> dict:
    """sentence-transformers' own evaluator on the held-out queries and the corpus."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    evaluator = InformationRetrievalEvaluator(
        queries={f"q{i}": q for i, q in enumerate(split.test.queries)},
        corpus={f"d{i}": text for i, text in enumerate(split.corpus)},
        relevant_docs={f"q{i}": {f"d{e}"} for i, e in enumerate(split.expected)},
        accuracy_at_k=list(K_VALUES),
        mrr_at_k=[10],
        precision_recall_at_k=[1],
        ndcg_at_k=[10],
        map_at_k=[10],
        write_csv=False,
        show_progress_bar=False,
    )
    return evaluator(model)


def assert_same_figures(ours: RetrievalResult, theirs: dict) -> None:
    for k in K_VALUES:
        assert ours.accuracy_at_k[k] == pytest.approx(theirs[f"cosine_accuracy@{k}"], abs=1e-6), k
    assert ours.mrr == pytest.approx(theirs["cosine_mrr@10"], abs=1e-6)


def numpy_ranks(query_vectors: np.ndarray, corpus_vectors: np.ndarray, expected) -> np.ndarray:
    """1-based rank of each query's expected document by cosine (rows are normalised here)."""
    q = query_vectors / np.linalg.norm(query_vectors, axis=1, keepdims=True)
    c = corpus_vectors / np.linalg.norm(corpus_vectors, axis=1, keepdims=True)
    scores = q @ c.T
    own = scores[np.arange(len(q)), list(expected)]
    return 1 + (scores > own[:, None]).sum(axis=1)


def assert_figures_from_ranks(ours: RetrievalResult, ranks: np.ndarray) -> None:
    for k in K_VALUES:
        assert ours.accuracy_at_k[k] == pytest.approx(np.mean(ranks <= k), abs=1e-6), k
    assert ours.mrr == pytest.approx(np.mean(np.where(ranks <= 10, 1 / ranks, 0.0)), abs=1e-6)
    shown = ours.per_query["expected_rank"].astype("Float64").fillna(11).to_numpy(dtype=float)
    np.testing.assert_array_equal(shown, np.minimum(ranks, 11))


def listed() -> dict:
    return {m.name: m for m in embedlab.list_models()}


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---------------------------------------------------------------- the shared trainings


@pytest.fixture(scope="module")
def trained():
    """One fine-tune of MiniLM on 48 pairs (kept whatever its held-out figures: it is the subject)."""
    events: list[tuning.FinetuneProgress] = []
    result = tuning.finetune(
        PAIRS,
        name=NAME,
        epochs=1,
        batch_size=16,
        extra_corpus=DISTRACTORS,
        keep_if_worse=True,
        progress=events.append,
    )
    return result, events


@pytest.fixture(scope="module")
def wrecked():
    """A fine-tune that ruins the model (learning rate 0.5) and what was on disk right after it."""
    result = tuning.finetune(PAIRS, name=WRECKED, epochs=2, batch_size=16, learning_rate=0.5, extra_corpus=DISTRACTORS)
    return result, set(listed()), user.folder_for("finetuned", WRECKED).exists()


@pytest.fixture(scope="module")
def distilled():
    return tuning.distil(PAIRS, name=STATIC, pca_dims=64)


# ---------------------------------------------------------------- fine-tune: what is saved


def test_finetune_saves_the_model_and_its_card(trained):
    result, _ = trained
    folder = user.folder_for("finetuned", NAME)
    assert result.saved and not result.stopped and result.path == folder
    assert folders.is_complete(folder) and (folder / "model.safetensors").is_file()
    assert (folder / "MODEL_CARD.md").read_text().startswith(f"# {NAME}\n")
    card = json.loads((folder / user.CARD_FILE).read_text())

    assert card["kind"] == "finetuned" and card["name"] == NAME
    assert card["base"] == embedlab.DEFAULT_MODEL
    assert card["n_pairs"] == 48 and card["pairs_sha256"] == tuning.check_pairs(PAIRS).digest
    assert card["n_train"] + card["n_held_out"] == 48 and card["n_held_out"] == len(result.split.test)
    assert card["n_corpus"] == 72  # 48 positives and 24 distractors
    assert card["loss"] == "MultipleNegativesRankingLoss" == result.settings.loss
    assert (card["epochs"], card["batch_size"], card["learning_rate"]) == (1, 16, 3e-5)
    assert card["random_state"] == 0 and card["held_out"] == 0.2
    assert card["steps"] == result.steps == math.ceil(card["n_train"] / 16)
    assert card["before"] == heldout.figures(result.before)
    assert card["after"] == heldout.figures(result.after)
    assert card["promoted"] == result.promoted == (result.after.mrr >= result.before.mrr)
    created = datetime.datetime.fromisoformat(card["created"])
    assert abs(datetime.datetime.now(datetime.UTC) - created) < datetime.timedelta(hours=1)
    assert isinstance(card["machine"], str) and card["machine"].strip()
    assert len(card["weights_sha256"]) == 64 and card["weights_sha256"] == user.weights_sha256(folder)
    assert card["dim"] == 384


def test_the_finetuned_model_is_listed(trained):
    info = listed()[NAME]
    assert info.available and info.dim == 384 and info.backend == "sentence-transformers"
    assert info.size_bytes > 50e6 and embedlab.DEFAULT_MODEL in info.source
    made = user.find(NAME)
    assert made is not None and made.kind == "finetuned"
    key, dim = catalog.cached_identity(NAME)
    assert dim == 384 and made.weights_hash in key


def test_progress_reports_every_step_with_a_finite_loss(trained):
    result, events = trained
    stages = [e.stage for e in events]
    assert stages[0] == "before" and stages[-2:] == ["after", "save"]
    assert set(stages[1:-2]) == {"train"}
    train = [e for e in events if e.stage == "train"]
    steps = [e.step for e in train]
    assert steps == list(range(result.steps + 1))  # 0 when training starts, then every step
    assert all(e.steps == result.steps for e in train)
    losses = [e.loss for e in train[1:]]
    assert all(math.isfinite(loss) and loss >= 0 for loss in losses)
    assert tuple(losses) == result.losses
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] <= 1
    assert all(e.message for e in events)


# ---------------------------------------------------------------- held-out figures against oracles


def test_heldout_evaluate_agrees_with_the_information_retrieval_evaluator(trained):
    result, _ = trained
    split = result.split
    ours = heldout.evaluate(split, embedlab.DEFAULT_MODEL)
    assert ours.n_corpus == 72 and ours.n_queries == len(split.test)
    assert_same_figures(ours, evaluator_figures(minilm(), split))
    assert heldout.figures(ours) == heldout.figures(result.before)


def test_the_after_figures_are_those_of_the_saved_model(trained):
    result, _ = trained
    folder = user.folder_for("finetuned", NAME)
    # the saved model run by sentence-transformers itself, ranks counted with numpy
    model = sentence_transformer(folder)
    queries = model.encode(list(result.split.test.queries))
    corpus = model.encode(list(result.split.corpus))
    assert_figures_from_ranks(result.after, numpy_ranks(queries, corpus, result.split.expected))
    # and a fresh evaluation through embedlab, under a name no cache has seen
    fresh = SentenceTransformerEmbedder("tuning-test-fresh-copy", folder)
    again = heldout.evaluate(result.split, fresh)
    assert heldout.figures(again) == heldout.figures(result.after)


def test_query_changes_follow_the_two_per_query_tables(trained):
    result, _ = trained
    changes = result.changes
    assert len(changes) == len(result.split.test)
    before, after = result.before.per_query, result.after.per_query
    for i, row in changes.iterrows():
        rank_before = before.at[i, "expected_rank"]
        rank_after = after.at[i, "expected_rank"]
        b = 11 if pd.isna(rank_before) else int(rank_before)  # beyond the top 10
        a = 11 if pd.isna(rank_after) else int(rank_after)
        assert row["query"] == before.at[i, "query"] == result.split.test.queries[i]
        assert row["change"] == ("improved" if a < b else "regressed" if a > b else "same")
        assert row["score_before"] == before.at[i, "expected_score"]
        assert row["score_after"] == after.at[i, "expected_score"]
    assert sum(result.count(c) for c in ("improved", "regressed", "same")) == len(changes)


def test_query_changes_on_hand_made_tables():
    def result(ranks, scores):
        per_query = pd.DataFrame(
            {
                "query": [f"q{i}" for i in range(len(ranks))],
                "expected_rank": pd.array(ranks, dtype="Int64"),
                "expected_score": scores,
            }
        )
        return RetrievalResult("m", 10, {1: 0.0}, 0.0, per_query, 20)

    before = result([1, 3, None, 2, None, 10], [0.9, 0.5, 0.1, 0.6, 0.2, 0.3])
    after = result([1, 1, 4, None, None, None], [0.8, 0.7, 0.4, 0.1, 0.3, 0.2])
    changes = heldout.query_changes(before, after)
    assert changes["change"].tolist() == ["same", "improved", "improved", "regressed", "same", "regressed"]
    assert changes["rank_after"].isna().tolist() == [False, False, False, True, True, True]
    assert changes["score_after"].tolist() == [0.8, 0.7, 0.4, 0.1, 0.3, 0.2]


# ---------------------------------------------------------------- the saved model in use


def test_the_model_loads_in_a_new_process_with_the_same_vectors(trained):
    script = textwrap.dedent(
        f"""
        import json, sys
        import embedlab
        model = embedlab.load_model({NAME!r})
        vectors = embedlab.encode({FRESH!r}, model={NAME!r}, use_cache=False)
        json.dump({{"version": model.version, "dim": model.dim, "vectors": vectors.tolist()}}, sys.stdout)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout)
    assert there["dim"] == 384 and there["version"] == user.find(NAME).weights_hash
    theirs = np.array(there["vectors"], dtype=np.float32)

    here = embedlab.encode(FRESH, model=NAME)
    np.testing.assert_allclose(theirs, here, atol=1e-5)
    direct = sentence_transformer(user.folder_for("finetuned", NAME)).encode(FRESH, normalize_embeddings=True)
    np.testing.assert_allclose(here, direct, atol=1e-5)
    base = minilm().encode(FRESH, normalize_embeddings=True)
    cosines = (here * base).sum(axis=1)
    assert cosines.min() < 0.9999, cosines  # training moved the vectors: not the base model under a new name


# ---------------------------------------------------------------- Stop


def test_stop_after_the_first_step_saves_nothing():
    root = user.models_root() / "finetuned"
    before = sorted(root.iterdir()) if root.exists() else []
    asked = []

    def should_stop():
        asked.append(True)
        return True

    result = tuning.finetune(PAIRS, name=STOPPED, epochs=1, batch_size=16, should_stop=should_stop)
    assert result.stopped and not result.saved and not result.promoted
    assert result.path is None and result.after is None and result.changes is None
    assert len(asked) == 1 and result.steps <= 1  # stopped at the end of the first of 3 steps
    assert not user.folder_for("finetuned", STOPPED).exists()
    assert not user.folder_for("finetuned", STOPPED, rejected=True).exists()
    after = sorted(root.iterdir()) if root.exists() else []
    assert after == before, "nothing left behind, not even a hidden working folder"
    assert STOPPED not in listed()
    with pytest.raises(LookupError):
        embedlab.load_model(STOPPED)


# ---------------------------------------------------------------- a worse model, kept, retrained, deleted


def test_a_worse_model_is_kept_aside_and_not_listed(wrecked):
    result, names, in_place = wrecked
    assert result.after.mrr < result.before.mrr, (result.before.mrr, result.after.mrr)  # the premise
    assert not result.promoted and not result.saved and not result.stopped
    aside = user.folder_for("finetuned", WRECKED, rejected=True)
    assert result.path == aside and aside.parent.name == ".rejected"
    assert WRECKED not in names and not in_place
    assert result.reason.startswith("Not promoted")
    card = user.read_card(aside)
    assert card["promoted"] is False and card["after"]["mrr"] < card["before"]["mrr"]
    assert user.find(WRECKED, rejected=True) is not None


def test_kept_anyway_then_retrained_then_deleted(wrecked):
    aside = user.folder_for("finetuned", WRECKED, rejected=True)
    folder = user.folder_for("finetuned", WRECKED)
    kept = tuning.keep_rejected(WRECKED)
    assert kept.path == folder and folders.is_complete(folder) and not aside.exists()
    assert WRECKED in listed()
    old = embedlab.encode(FRESH, model=WRECKED)
    np.testing.assert_allclose(old, sentence_transformer(folder).encode(FRESH, normalize_embeddings=True), atol=1e-5)
    old_hash, old_identity = user.weights_sha256(folder), catalog.cached_identity(WRECKED)
    assert old_hash == kept.card["weights_sha256"]

    retrained = tuning.finetune(
        PAIRS,
        name=WRECKED,
        epochs=1,
        batch_size=16,
        learning_rate=5e-5,
        random_state=1,
        extra_corpus=DISTRACTORS,
        keep_if_worse=True,
    )
    assert retrained.saved and retrained.path == folder
    new_hash = user.weights_sha256(folder)
    assert new_hash != old_hash and user.read_card(folder)["weights_sha256"] == new_hash
    assert catalog.cached_identity(WRECKED) != old_identity and new_hash[:16] in catalog.cached_identity(WRECKED)[0]
    new = embedlab.encode(FRESH, model=WRECKED)  # the old vectors are cached under the old key
    np.testing.assert_allclose(new, sentence_transformer(folder).encode(FRESH, normalize_embeddings=True), atol=1e-5)
    assert np.abs(new - old).max() > 1e-2
    assert embedlab.load_model(WRECKED).version == new_hash[:16]

    deleted = tuning.delete(WRECKED)
    assert deleted.name == WRECKED and not folder.exists()
    assert WRECKED not in listed() and user.find(WRECKED) is None
    with pytest.raises(LookupError):
        embedlab.load_model(WRECKED)
    with pytest.raises(LookupError, match=WRECKED):
        tuning.delete(WRECKED)
    with pytest.raises(LookupError, match="kept aside"):
        tuning.keep_rejected(WRECKED)


# ---------------------------------------------------------------- refusals before any training


@pytest.fixture
def no_training(monkeypatch):
    """Judging or training anything fails the test: a refusal must come before both."""

    def trained(*args, **kwargs):
        raise AssertionError("a model was judged or trained before the refusal")

    monkeypatch.setattr(heldout, "evaluate", trained)
    monkeypatch.setattr(finetune_module, "_train", trained)
    monkeypatch.setattr("model2vec.distill.distill", trained)


@pytest.mark.parametrize(
    ("settings", "error", "words"),
    [
        ({"name": "all-MiniLM-L6-v2"}, ValueError, ["catalog model's name"]),
        ({"name": "sentence-transformers/all-MiniLM-L6-v2"}, ValueError, ["name must be"]),
        ({"name": "my/model"}, ValueError, ["name must be", "'my/model'"]),
        ({"name": ".hidden"}, ValueError, ["name must be"]),
        ({"name": ""}, ValueError, ["name must be"]),
        ({"name": 3}, TypeError, ["name must be a str"]),
        ({"base": "static-64d"}, LookupError, ["static-64d cannot be a base model"]),
        ({"base": "paraphrase-MiniLM-L3-v2"}, LookupError, ["paraphrase-MiniLM-L3-v2 cannot be a base model"]),
        ({"base": "all-MiniLM-L6-v2-int8"}, LookupError, ["cannot be a base model"]),
        ({"base": "no-such-model"}, LookupError, ["no-such-model is not on this machine"]),
        ({"base": "nobody/no-such-model"}, LookupError, ["not on this machine"]),
        ({"matryoshka_dims": [512, 128]}, ValueError, ["at most the model's 384 dimensions", "512"]),
        ({"matryoshka_dims": [128, 0]}, ValueError, ["matryoshka_dims[1]"]),
        ({"matryoshka_dims": "256"}, TypeError, ["matryoshka_dims"]),
        ({"learning_rate": 0}, ValueError, ["learning_rate", "got 0"]),
        ({"learning_rate": 2.0}, ValueError, ["learning_rate"]),
        ({"epochs": 0}, ValueError, ["epochs must be a positive integer, got 0"]),
        ({"epochs": 1.5}, TypeError, ["epochs"]),
        ({"batch_size": 0}, ValueError, ["batch_size"]),
        ({"held_out": 0.95}, ValueError, ["held_out"]),
        ({"random_state": -1}, ValueError, ["random_state"]),
        ({"progress": "yes"}, TypeError, ["progress"]),
        ({"pairs": PAIRS[:9]}, ValueError, ["at least 10 distinct pairs"]),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else None,
)
def test_finetune_refuses_bad_settings_before_training(no_training, settings, error, words):
    settings = dict(settings)
    pairs = settings.pop("pairs", PAIRS)
    with pytest.raises(error) as caught:
        tuning.finetune(pairs, **{"epochs": 1, "batch_size": 16, **settings})
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    for word in words:
        assert word in message, (word, message)
    if error is LookupError:
        assert isinstance(caught.value, embedlab.ModelUnavailable)


@pytest.mark.parametrize(
    ("settings", "error", "words"),
    [
        ({"base": "static-64d"}, LookupError, ["cannot be a base model"]),
        ({"pca_dims": 1000}, ValueError, ["pca_dims must be at most the base model's 384 dimensions"]),
        ({"pca_dims": 0}, ValueError, ["pca_dims"]),
        ({"name": "all-mpnet-base-v2"}, ValueError, ["catalog model's name"]),
        ({"random_state": "0"}, TypeError, ["random_state"]),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else None,
)
def test_distil_refuses_bad_settings_before_distilling(no_training, settings, error, words):
    with pytest.raises(error) as caught:
        tuning.distil(PAIRS, **settings)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    for word in words:
        assert word in message, (word, message)


# ---------------------------------------------------------------- storage: never a half-made model


def test_replace_folder_keeps_the_old_folder_when_build_fails(tmp_path):
    target = tmp_path / "models" / "finetuned" / "kept"

    def first(work: Path) -> Path:
        (work / "weights.bin").write_bytes(b"old weights")
        return work

    assert folders.replace_folder(target, first) == target

    def failing(work: Path) -> Path:
        (work / "weights.bin").write_bytes(b"new wei")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        folders.replace_folder(target, failing)
    assert (target / "weights.bin").read_bytes() == b"old weights" and folders.is_complete(target)
    assert [p.name for p in target.parent.iterdir()] == ["kept"], "no half folder, no working folder left"

    def second(work: Path) -> Path:
        (work / "inner").mkdir()
        (work / "inner" / "weights.bin").write_bytes(b"new weights")
        return work / "inner"  # build may hand back a folder inside the working one

    folders.replace_folder(target, second)
    assert (target / "weights.bin").read_bytes() == b"new weights" and folders.is_complete(target)
    assert [p.name for p in target.parent.iterdir()] == ["kept"]

    folders.remove_folder(target)
    assert list(target.parent.iterdir()) == []
    folders.remove_folder(target)  # removing what is not there is not an error


KILLED_SAVE = """
import sys, time
from embedlab.models import user
from embedlab.storage.folders import replace_folder

def build(work):
    (work / "config.json").write_text("{}")
    (work / "model.safetensors").write_bytes(b"half of the weights")
    print("building", flush=True)
    time.sleep(120)
    return work

replace_folder(user.folder_for("finetuned", sys.argv[1]), build)
"""


@pytest.mark.parametrize("existing", [False, True], ids=["new-name", "replacing"])
def test_a_save_killed_midway_never_lists_a_half_model(tmp_path, monkeypatch, existing):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    name = "tuning-test-killed"
    folder = user.folder_for("finetuned", name)
    if existing:
        card = {"kind": "finetuned", "name": name, "base": "all-MiniLM-L6-v2", "dim": 384, "weights_sha256": "ab" * 32}

        def earlier(work: Path) -> Path:
            (work / user.CARD_FILE).write_text(json.dumps(card))
            return work

        folders.replace_folder(folder, earlier)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE, name],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "building", child.stderr.read()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    assert child.returncode == -signal.SIGKILL

    made = {m.name: m for m in user.list_user_models()}
    models = listed()  # the catalog lists (and reads every card) without tripping on the debris
    assert embedlab.DEFAULT_MODEL in models
    if existing:
        assert made[name].card == card and models[name].dim == 384
        assert not (folder / "model.safetensors").exists()
    else:
        assert name not in made and name not in models and not folder.exists()
        assert user.find(name) is None
    visible = [p.name for p in folder.parent.iterdir() if not p.name.startswith(".")]
    assert visible == ([name] if existing else [])


# ---------------------------------------------------------------- distillation


def test_the_distilled_model_is_listed_and_encodes_unit_vectors(distilled):
    assert distilled.saved and distilled.path == user.folder_for("distilled", STATIC)
    assert distilled.dim == distilled.pca_dims == 64
    info = listed()[STATIC]
    assert info.backend == "model2vec" and info.dim == 64 and info.available
    vectors = embedlab.encode(FRESH, model=STATIC)
    assert vectors.shape == (len(FRESH), 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    from model2vec import StaticModel

    direct = unit(StaticModel.from_pretrained(str(distilled.path)).encode(FRESH))
    np.testing.assert_allclose(vectors, direct, atol=1e-5)
    card = user.read_card(distilled.path)
    assert card["kind"] == "distilled" and card["dim"] == 64 and card["pca_dims"] == 64
    assert card["weights_sha256"] == user.weights_sha256(distilled.path)
    assert card["after"] == heldout.figures(distilled.after) and card["before"] == heldout.figures(distilled.before)


def test_distilled_held_out_figures_equal_a_recomputation(distilled, trained):
    from model2vec import StaticModel

    split = distilled.split
    # the same split a fine-tune makes from the same pairs and seed (without the distractors)
    assert split.test == trained[0].split.test and split.train == trained[0].split.train
    static = StaticModel.from_pretrained(str(distilled.path))
    ranks = numpy_ranks(static.encode(list(split.test.queries)), static.encode(list(split.corpus)), split.expected)
    assert_figures_from_ranks(distilled.after, ranks)
    base = minilm()
    base_ranks = numpy_ranks(base.encode(list(split.test.queries)), base.encode(list(split.corpus)), split.expected)
    assert_figures_from_ranks(distilled.before, base_ranks)


def test_the_distilled_model_is_much_faster(distilled):
    # model2vec is a lookup and a mean: ~100 times the transformer's speed; 5 is a margin any CPU keeps
    assert distilled.speedup > 5, (distilled.texts_per_second, distilled.base_texts_per_second)
    assert distilled.speedup == pytest.approx(distilled.texts_per_second / distilled.base_texts_per_second)


def test_a_name_is_either_fine_tuned_or_distilled(distilled, trained, no_training):
    with pytest.raises(ValueError, match=f"'{STATIC}' is already a distilled model"):
        tuning.finetune(PAIRS, name=STATIC)
    with pytest.raises(ValueError, match=f"'{NAME}' is already a finetuned model"):
        tuning.distil(PAIRS, name=NAME)
    with pytest.raises(LookupError, match="distilled static model"):
        tuning.finetune(PAIRS, base=STATIC)
    assert listed()[STATIC].backend == "model2vec" and listed()[NAME].backend == "sentence-transformers"


def test_a_full_disk_while_saving_keeps_nothing_and_says_so(monkeypatch):
    """The save fails (ENOSPC from the final rename): one sentence, nothing listed, no work folder left."""
    import errno

    def untrained(folder, train, settings, report, should_stop):  # skip training: the save is the subject
        return sentence_transformer(folder), 0.0, 0

    def full_disk(target, build):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(finetune_module, "_train", untrained)
    monkeypatch.setattr(finetune_module, "replace_folder", full_disk)
    name = "tuning-test-full-disk"
    with pytest.raises(
        tuning.saved.SaveFailed, match=r"could not be saved .*No space left on device.*nothing was kept"
    ):
        tuning.finetune(PAIRS, name=name, batch_size=16)
    assert name not in listed()
    assert user.find(name) is None and user.find(name, rejected=True) is None
    root = user.folder_for("finetuned", name).parent
    assert [p.name for p in root.iterdir() if name in p.name] == []  # the work folder was removed too
