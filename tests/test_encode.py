"""encode() against sentence-transformers itself, and its cache."""

import subprocess
import sys
import threading

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import embedlab
from embedlab import seed
from embedlab.models import packaged
from embedlab.models.cache import embedding_cache


@pytest.fixture(scope="module")
def reference():
    """The oracle: the packaged model folder loaded by sentence-transformers directly."""
    return SentenceTransformer(str(packaged.locate_minilm()), device="cpu")


class Spy:
    """Counts the texts a real model is asked to encode."""

    def __init__(self, embedder):
        self.embedder, self.seen = embedder, []
        self.original = embedder._encode

    def __enter__(self):
        def counting(texts, batch_size):
            self.seen.extend(texts)
            return self.original(texts, batch_size)

        self.embedder._encode = counting
        return self

    def __exit__(self, *exc):
        self.embedder._encode = self.original


def test_matches_sentence_transformers(reference):
    texts = [*seed.SENTENCES, "", "   ", "日本語の文です 🙂", "<img src=x onerror=alert(1)>"]
    ours = embedlab.encode(texts)
    theirs = reference.encode(texts, normalize_embeddings=True)
    assert ours.dtype == np.float32 and ours.shape == (len(texts), 384)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_seed_sanity_figures(reference):
    texts = ["The cat sits on the mat", "A cat is sitting on a rug", "Python is a programming language"]
    v = embedlab.encode(texts)
    r = reference.encode(texts, normalize_embeddings=True)
    # the oracle, on this machine: the same two similarities as sentence-transformers computes them
    assert v[0] @ v[1] == pytest.approx(r[0] @ r[1], abs=1e-5)
    assert v[0] @ v[2] == pytest.approx(r[0] @ r[2], abs=1e-5)
    # and the lesson's printed figures: fp32 BERT on another x86 CPU moves a cosine by ~1e-6
    # (different SIMD summation order), three orders of magnitude inside this 1e-3 margin
    assert v[0] @ v[1] == pytest.approx(0.7695, abs=1e-3)
    assert v[0] @ v[2] == pytest.approx(0.0317, abs=1e-3)


def test_duplicates_and_cached_texts_cost_no_model_work():
    model = embedlab.load_model()
    fresh = [f"duplicate check sentence number {i}" for i in range(5)]
    with Spy(model) as spy:
        out = embedlab.encode(fresh + fresh[:2] + fresh)
    assert sorted(spy.seen) == sorted(fresh)
    np.testing.assert_array_equal(out[5], out[0])
    with Spy(model) as spy:
        again = embedlab.encode(fresh)
    assert spy.seen == []
    np.testing.assert_array_equal(again, out[:5])


def test_persistent_cache_survives_a_new_process():
    texts = ["persisted across processes one", "persisted across processes two"]
    first = embedlab.encode(texts)
    code = (
        "import embedlab, numpy as np, sys\n"
        "m = embedlab.load_model()\n"
        "calls = []\n"
        "orig = m._encode\n"
        "m._encode = lambda t, b: (calls.append(len(t)), orig(t, b))[1]\n"
        f"v = embedlab.encode({texts!r})\n"
        "np.save(sys.stdout.buffer, v); sys.stderr.write(str(sum(calls)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    import io

    second = np.load(io.BytesIO(done.stdout))
    assert done.stderr.decode().strip().endswith("0")
    np.testing.assert_array_equal(first, second)
    assert embedding_cache().count(embedlab.load_model().cache_key) >= 2


def test_a_new_process_answers_from_the_cache_without_loading_the_model():
    texts = ["answered from the cache alone one", "answered from the cache alone two"]
    first = embedlab.encode(texts)
    code = (
        "import embedlab, numpy as np, sys\n"
        f"v = embedlab.encode({texts!r})\n"
        "np.save(sys.stdout.buffer, v)\n"
        "sys.stderr.write(repr((embedlab.models.catalog.loaded_models(), 'torch' in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    import io

    np.testing.assert_array_equal(np.load(io.BytesIO(done.stdout)), first)
    assert done.stderr.decode().strip().endswith("([], False)")


def test_threads_share_the_model_and_cache_safely():
    texts = [[f"thread {t} sentence {i}" for i in range(20)] for t in range(4)]
    results = {}

    def work(t):
        results[t] = embedlab.encode(texts[t] + texts[0])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    alone = embedlab.encode(texts[0], use_cache=False)
    for t in range(4):
        np.testing.assert_allclose(results[t][20:], alone, atol=1e-5)


def test_progress_reports_counts():
    seen = []
    embedlab.encode([f"progress sentence {i}" for i in range(600)], progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 600) and seen[-1] == (600, 600)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_truncated_names_the_long_text():
    assert embedlab.truncated(["short", "word " * 2000]) == [1]


@pytest.mark.parametrize(
    ("texts", "kwargs", "error", "words"),
    [
        ([], {}, ValueError, "texts"),
        ("a single string", {}, TypeError, "texts"),
        (["ok", 3], {}, TypeError, "texts[1]"),
        (["ok"], {"batch_size": 0}, ValueError, "batch_size"),
        (["ok"], {"batch_size": 2.5}, TypeError, "batch_size"),
        (["ok"], {"model": ""}, TypeError, "model"),
    ],
)
def test_bad_arguments_name_the_parameter(texts, kwargs, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        embedlab.encode(texts, **kwargs)


def test_unknown_model_is_one_sentence_fast():
    with pytest.raises(LookupError, match="nosuch/model"):
        embedlab.encode(["x"], model="nosuch/model")
