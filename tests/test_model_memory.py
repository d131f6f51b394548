"""A process keeps a bounded few models loaded: the least recently used leaves first, by count and by
the bytes of their weights, and a model that left is built again with the same vectors.

Oracles, computed here: a plain list that replays least-recently-used eviction on the same sequence
of loads; the weights' sizes on disk (the safetensors and ONNX files the models are read from);
sentence-transformers encoding the packaged MiniLM directly.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import embedlab
from embedlab.models import cache, catalog, packaged

MINILM = "all-MiniLM-L6-v2"
STATIC = "static-64d"
PARAPHRASE = "paraphrase-MiniLM-L3-v2"
TEXTS = ["The cat sits on the mat", "A cat is sitting on a rug", "Python is a programming language"]


@pytest.fixture
def empty(monkeypatch):
    """No model loaded when the test starts, none left behind; limits from the test's environment."""
    monkeypatch.delenv(catalog.MAX_MODELS_ENV, raising=False)
    monkeypatch.delenv(catalog.MAX_MODEL_MB_ENV, raising=False)
    for name in catalog.loaded_models():
        catalog.forget(name)
    yield monkeypatch
    for name in catalog.loaded_models():
        catalog.forget(name)


def least_recently_used(loads: list[str], capacity: int) -> list[str]:
    """What an LRU of ``capacity`` holds after ``loads``, least recently used first (the oracle)."""
    held: list[str] = []
    for name in loads:
        if name in held:
            held.remove(name)
        held.append(name)
        if len(held) > capacity:
            held.pop(0)
    return held


def test_the_least_recently_used_of_four_models_leaves_and_reloads_with_equal_vectors(empty):
    folder = packaged.locate_minilm()
    empty.setenv("EMBEDLAB_MODEL_DIRS", str(folder.parent))
    empty.setenv(catalog.MAX_MODELS_ENV, "3")
    as_folder = str(folder)  # a fourth model: MiniLM's folder loaded as a local model

    first = embedlab.load_model(MINILM)
    before = first.encode(TEXTS)
    gone = weakref.ref(first)
    del first
    loads = [MINILM, STATIC, PARAPHRASE, STATIC, as_folder]
    for name in loads[1:]:
        embedlab.load_model(name)
    assert catalog.loaded_models() == least_recently_used(loads, 3) == [PARAPHRASE, STATIC, as_folder]
    gc.collect()
    assert gone() is None  # nothing else held it: its memory went back

    again = embedlab.load_model(MINILM)  # built anew; now the paraphrase model is the one that leaves
    loads.append(MINILM)
    assert catalog.loaded_models() == least_recently_used(loads, 3) == [STATIC, as_folder, MINILM]
    after = again.encode(TEXTS)
    np.testing.assert_allclose(after, before, atol=1e-6)
    oracle = SentenceTransformer(str(folder), device="cpu").encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(after, oracle, atol=1e-5)
    assert embedlab.load_model(MINILM) is again  # kept while it is among the three


def test_models_leave_when_their_weights_pass_the_byte_limit(empty):
    on_disk = {
        MINILM: (packaged.locate_minilm() / "model.safetensors").stat().st_size,
        STATIC: (packaged.locate_static() / "model.safetensors").stat().st_size,
        PARAPHRASE: packaged.locate_paraphrase_l3().stat().st_size,
    }
    # room for MiniLM and the static table, not for the paraphrase model as well
    limit_mb = int((on_disk[MINILM] + on_disk[PARAPHRASE]) / 2**20) - 1
    assert on_disk[MINILM] + on_disk[STATIC] < limit_mb * 2**20 < on_disk[MINILM] + on_disk[PARAPHRASE]
    empty.setenv(catalog.MAX_MODELS_ENV, "10")
    empty.setenv(catalog.MAX_MODEL_MB_ENV, str(limit_mb))

    loaded = {name: embedlab.load_model(name) for name in (MINILM, STATIC)}
    for name, model in loaded.items():  # what the bound counts is what the weights take on disk
        assert model.weight_bytes == pytest.approx(on_disk[name], rel=0.005), name
    assert catalog.loaded_models() == [MINILM, STATIC]
    paraphrase = embedlab.load_model(PARAPHRASE)
    assert paraphrase.weight_bytes == on_disk[PARAPHRASE]
    assert catalog.loaded_models() == [STATIC, PARAPHRASE]  # MiniLM, least recently used, left
    assert catalog.loaded_weight_bytes() == loaded[STATIC].weight_bytes + paraphrase.weight_bytes


def test_the_model_last_used_stays_even_when_it_alone_passes_the_limit(empty):
    empty.setenv(catalog.MAX_MODEL_MB_ENV, "1")
    embedlab.load_model(STATIC)
    model = embedlab.load_model(MINILM)
    assert catalog.loaded_models() == [MINILM]
    assert embedlab.load_model(MINILM) is model


@pytest.mark.parametrize("variable", [catalog.MAX_MODELS_ENV, catalog.MAX_MODEL_MB_ENV])
@pytest.mark.parametrize("value", ["0", "-2", "three", "1.5"])
def test_a_bad_limit_in_the_environment_is_named(empty, variable, value):
    empty.setenv(variable, value)
    with pytest.raises(ValueError, match=rf"^{variable} must be a positive integer, got '{value}'\.$"):
        embedlab.load_model(STATIC)


def test_the_default_limits(empty):
    assert catalog.model_limits() == (3, 1536 * 2**20)
    empty.setenv(catalog.MAX_MODELS_ENV, " 5 ")
    assert catalog.model_limits() == (5, 1536 * 2**20)


def test_the_embedding_cache_memory_level_has_a_bound_an_operator_can_set(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.MEMORY_ENV, raising=False)
    assert embedlab.embedding_cache().memory_bytes == cache.MEMORY_BYTES == 512 * 2**20
    monkeypatch.setenv(cache.MEMORY_ENV, "1")
    small = cache.EmbeddingCache(tmp_path / cache.FILE_NAME)
    vectors = np.random.default_rng(0).normal(size=(1000, 384)).astype(np.float32)
    small.put_many("m", [(cache.text_key(str(i)), v) for i, v in enumerate(vectors)])
    # 1 MiB holds 682 vectors of 384 float32s (1,536 bytes each); the oldest left, the disk kept them all
    assert small.memory_entries == 2**20 // (384 * 4) and small.count("m") == 1000
    monkeypatch.setenv(cache.MEMORY_ENV, "half")
    with pytest.raises(ValueError, match=r"^EMBEDLAB_CACHE_MEMORY_MB must be a positive integer, got 'half'\.$"):
        cache.EmbeddingCache(tmp_path / "other.sqlite3")
