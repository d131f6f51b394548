"""Fine-tune: 1,000 real pairs, 1 epoch, all-MiniLM-L6-v2 — embedlab.finetune vs SentenceTransformerTrainer.

The pairs are real: a Debian package's one-line summary (the query) and its long description
(the positive, cut at 500 characters), read at run time from the machine's apt lists
(``/var/lib/apt/lists/*Translation-en*``, decompressed by ``apt-helper cat-file``; they are there
after ``apt-get update -o Acquire::Languages=en``), else from ``/var/lib/dpkg/status`` (installed
packages only), else the 300 packaged example pairs. 1,250 pairs are drawn (seed 0): held_out=0.2
keeps 250 of them out, 1,000 train; the held-out queries are ranked against every positive plus
1,000 other packages' descriptions (distractors).

The peer is the same training written directly with sentence-transformers, as a user would:
``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``, the same pairs in the same
order, batch size 32, learning rate 3e-5, 10% warm-up, no duplicates in a batch, 128 tokens,
seed 0, judged by sentence-transformers' own ``InformationRetrievalEvaluator`` (an independent
check of embedlab's held-out figures). An untimed 64-pair peer run goes first, so first-call costs
fall on neither. Training time is ``trainer.train()`` for both; embedlab's whole call (judging
the base, training, judging the new model, saving) is recorded too.

Also timed: ``embedlab.tuning.distil`` of the same base (model2vec, PCA 256): seconds, speed-up
against the base on the held-out corpus, held-out MRR@10 before and after (the same split, no
distractors: distil takes none).

Target: ≤ 150 s of training on 2 cores; the held-out gain is reported with the run.
"""

from __future__ import annotations

import glob
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Samples, figure, fresh_home, main

APT_TRANSLATIONS = "/var/lib/apt/lists/*_i18n_Translation-en*"
DPKG_STATUS = Path("/var/lib/dpkg/status")
APT_HELPER = "/usr/lib/apt/apt-helper"
CUT = 500  # characters of a description kept, as in embedlab/data/debian_pairs.jsonl
SETTINGS = {"epochs": 1, "batch_size": 32, "learning_rate": 3e-5, "held_out": 0.2, "random_state": 0}


# -- the pairs ------------------------------------------------------------------------------------


def _apt_text() -> tuple[str, str]:
    """The English package descriptions on this machine, and where they came from."""
    files = sorted(glob.glob(APT_TRANSLATIONS))
    if files and Path(APT_HELPER).exists():
        done = subprocess.run([APT_HELPER, "cat-file", *files], capture_output=True, text=True)
        if done.returncode == 0 and "Description-en:" in done.stdout:
            return done.stdout, f"apt Translation-en ({len(files)} files)"
    if DPKG_STATUS.exists():
        return DPKG_STATUS.read_text(encoding="utf-8", errors="replace"), str(DPKG_STATUS)
    return "", ""


def _records(text: str) -> dict[str, tuple[str, str]]:
    """package -> (summary, long description) from Debian control paragraphs."""
    out = {}
    for paragraph in text.split("\n\n"):
        package, lines = None, paragraph.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("Package:"):
                package = line.split(":", 1)[1].strip()
            elif line.startswith(("Description-en:", "Description:")):
                summary = line.split(":", 1)[1].strip()
                body = []
                for more in lines[i + 1 :]:
                    if not more.startswith(" "):
                        break
                    if more.strip() != ".":
                        body.append(more.strip())
                if package and summary and body:
                    out[package] = (summary, " ".join(" ".join(body).split()))
                break
    return out


def _cut(text: str) -> str:
    return text if len(text) <= CUT else text[:CUT].rsplit(" ", 1)[0] + " …"


def debian_pairs(n: int, distractors: int) -> tuple[list[tuple[str, str]], list[str], str]:
    """``n`` (summary, description) pairs and up to ``distractors`` other descriptions, seed 0.

    Only packages whose summary and description are both unique and whose description has at
    least 120 characters, as for the packaged example pairs.
    """
    text, source = _apt_text()
    records = [(summary, _cut(description)) for summary, description in _records(text).values()]
    summaries: dict[str, int] = {}
    descriptions: dict[str, int] = {}
    for summary, description in records:  # unique as they will be used: after the cut
        summaries[summary] = summaries.get(summary, 0) + 1
        descriptions[description] = descriptions.get(description, 0) + 1
    usable = sorted((s, d) for s, d in records if summaries[s] == 1 and descriptions[d] == 1 and len(d) >= 120)
    if len(usable) < 100:
        from embedlab.tuning import example_pairs

        return example_pairs(), [], "embedlab/data/debian_pairs.jsonl (300 packaged pairs)"
    order = np.random.default_rng(0).permutation(len(usable))
    pairs = [usable[i] for i in order[:n]]
    extra = [usable[i][1] for i in order[n : n + distractors]]
    return pairs, extra, f"{source}: {len(usable):,} usable packages"


# -- the peer: sentence-transformers' trainer, as a user would write it -------------------------


def peer_train(folder: Path, train, *, epochs: int, batch_size: int, learning_rate: float, seed: int):
    """Train a fresh copy of the model at ``folder`` on ``train`` (a Pairs); (model, wall seconds, CPU seconds)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    model = SentenceTransformer(str(folder), device="cpu")
    full_length = model.max_seq_length
    model.max_seq_length = 128
    dataset = Dataset.from_dict({"anchor": list(train.queries), "positive": list(train.positives)})
    with tempfile.TemporaryDirectory() as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            num_train_epochs=epochs,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,
            warmup_steps=0.1,
            seed=seed,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
        )
        loss = losses.MultipleNegativesRankingLoss(model)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
        started, cpu = time.perf_counter(), time.process_time()
        trainer.train()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    model.max_seq_length = full_length
    return model, seconds, cpu


def peer_judge(model, split) -> dict:
    """sentence-transformers' InformationRetrievalEvaluator on the held-out queries: accuracy@1, MRR@10."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    queries = {f"q{i}": q for i, q in enumerate(split.test.queries)}
    corpus = {f"d{i}": d for i, d in enumerate(split.corpus)}
    relevant = {f"q{i}": {f"d{e}"} for i, e in enumerate(split.expected)}
    evaluator = InformationRetrievalEvaluator(
        queries,
        corpus,
        relevant,
        accuracy_at_k=[1, 10],
        precision_recall_at_k=[10],
        mrr_at_k=[10],
        ndcg_at_k=[10],
        map_at_k=[10],
        show_progress_bar=False,
        batch_size=32,
        name="heldout",
    )
    scores = evaluator(model)

    def pick(key: str) -> float:
        return float(next(v for k, v in scores.items() if k.endswith(key)))

    return {"accuracy@1": pick("cosine_accuracy@1"), "mrr@10": pick("cosine_mrr@10")}


# -- the run --------------------------------------------------------------------------------------


def _quality(result) -> dict:
    return {"accuracy@1": result.accuracy_at_k[1], "accuracy@10": result.accuracy_at_k[10], "mrr@10": result.mrr}


class _TrainingClock:
    """CPU seconds of embedlab's training, from its progress events: from the "step 0" event
    (sent just before ``trainer.train()``) to the last step's."""

    def __init__(self):
        self.started = self.cpu = None

    def __call__(self, event) -> None:
        if event.stage == "train" and event.step == 0:
            self.started = time.process_time()
        elif event.stage == "train" and event.step == event.steps and self.started is not None:
            self.cpu = time.process_time() - self.started


def run(quick: bool):
    import os

    from embedlab.models import catalog
    from embedlab.tuning import check_pairs, distil, finetune, split_pairs
    from embedlab.tuning.distil import SPEED_TEXTS

    n_pairs, n_distractors = (200, 100) if quick else (1250, 1000)
    fresh_home()
    pairs, extra, source = debian_pairs(n_pairs, n_distractors)
    split = split_pairs(
        check_pairs(pairs), held_out=SETTINGS["held_out"], random_state=SETTINGS["random_state"], extra_corpus=extra
    )
    folder = catalog.trainable_folder("all-MiniLM-L6-v2")
    train_settings = {k: SETTINGS[k] for k in ("epochs", "batch_size", "learning_rate")}
    load = [os.getloadavg()[0]]

    # untimed: the first training in a process pays for imports and first calls
    warm = split_pairs(check_pairs(pairs[:80]), held_out=0.2, random_state=0)
    peer_train(folder, warm.train, **train_settings, seed=0)

    peer_model, peer_seconds, peer_cpu = peer_train(folder, split.train, **train_settings, seed=0)
    peer_after = peer_judge(peer_model, split)
    del peer_model
    load.append(os.getloadavg()[0])

    clock = _TrainingClock()
    started = time.perf_counter()
    result = finetune(
        pairs, base="all-MiniLM-L6-v2", name="bench-debian", extra_corpus=extra, progress=clock, **SETTINGS
    )
    wall = time.perf_counter() - started
    before, after = _quality(result.before), _quality(result.after)
    load.append(os.getloadavg()[0])

    started = time.perf_counter()
    static = distil(pairs, base="all-MiniLM-L6-v2", name="bench-static", pca_dims=256, held_out=0.2, random_state=0)
    distil_wall = time.perf_counter() - started
    load.append(os.getloadavg()[0])

    n_train, n_test, n_corpus = len(result.split.train), len(result.split.test), len(result.split.corpus)
    n_timed = min(SPEED_TEXTS, len(static.split.corpus))  # what distil times both models on
    return [
        figure(
            "finetune_train",
            f"fine-tune training, {n_train:,} pairs ({n_test:,} more held out), 1 epoch, all-MiniLM-L6-v2",
            Samples([result.seconds]),
            peer=Samples([peer_seconds]),
            peer_name="SentenceTransformerTrainer + MNRL directly",
            target="≤ 150 s of training",
            met=result.seconds <= 150,
            pairs_source=source,
            n_train=n_train,
            n_held_out=n_test,
            n_corpus=n_corpus,
            steps=result.steps,
            final_loss=result.losses[-1] if result.losses else None,
            cpu_seconds=clock.cpu,
            peer_cpu_seconds=peer_cpu,
            cpu_ratio=None if not clock.cpu else peer_cpu / clock.cpu,
            embedlab_whole_call_s=wall,
            heldout_before=before,
            heldout_after=after,
            peer_heldout_after_st_evaluator=peer_after,
            queries={c: result.count(c) for c in ("improved", "regressed", "same")},
            promoted=result.promoted,
            settings=SETTINGS,
            load_average_1min=load,
        ),
        figure(
            "finetune_heldout",
            f"fine-tune held-out MRR@10 after training ({n_test:,} queries, {n_corpus:,} documents)",
            Samples([after["mrr@10"]], unit="MRR@10"),
            target=f"> the base model's {before['mrr@10']:.3f} (promoted)",
            met=result.promoted and after["mrr@10"] > before["mrr@10"],
            mrr_before=before["mrr@10"],
            accuracy_at_1_before=before["accuracy@1"],
            accuracy_at_1_after=after["accuracy@1"],
            peer_trained_mrr_st_evaluator=peer_after["mrr@10"],
            peer_trained_accuracy_at_1_st_evaluator=peer_after["accuracy@1"],
        ),
        figure(
            "distil",
            "distil all-MiniLM-L6-v2 → static model2vec, PCA 256",
            Samples([static.seconds]),
            target="(measured)",
            met=None,
            whole_call_s=distil_wall,
            speedup=static.speedup,
            texts_per_second=static.texts_per_second,
            base_texts_per_second=static.base_texts_per_second,
            heldout_before=_quality(static.before),
            heldout_after=_quality(static.after),
            n_corpus=len(static.split.corpus),
            dim=static.dim,
        ),
        figure(
            "distil_encode",
            f"encode {n_timed} held-out documents: the distilled static model vs its base (no cache)",
            Samples([n_timed / static.texts_per_second]),
            peer=Samples([n_timed / static.base_texts_per_second]),
            peer_name="all-MiniLM-L6-v2",
            target="(measured)",
            met=None,
            mrr_before=static.before.mrr,
            mrr_after=static.after.mrr,
        ),
    ]


if __name__ == "__main__":
    main(run)
