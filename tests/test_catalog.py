"""The model catalog: what is available, offline loading, and clear refusals."""

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import embedlab
from embedlab.models import packaged
from embedlab.storage import folders


def test_catalog_lists_the_lesson_models():
    models = {m.name: m for m in embedlab.list_models()}
    assert list(models)[0] == embedlab.DEFAULT_MODEL
    default = models["all-MiniLM-L6-v2"]
    assert default.available and default.dim == 384 and default.size_bytes > 50e6
    assert models["all-mpnet-base-v2"].dim == 768
    large = models["BAAI/bge-large-en-v1.5"]
    assert large.dim == 1024 and not large.available and "hub" in large.reason


def test_load_model_is_shared_and_described():
    a = embedlab.load_model("all-MiniLM-L6-v2")
    assert a is embedlab.load_model("sentence-transformers/all-MiniLM-L6-v2")
    assert (a.name, a.dim, a.max_tokens) == ("all-MiniLM-L6-v2", 384, 256)


def test_mpnet_is_assembled_once_and_matches_sentence_transformers():
    folder = packaged.locate_mpnet()
    assert (folder / folders.COMPLETE_MARKER).exists()
    assert packaged.locate_mpnet() == folder
    texts = ["The cat sits on the mat", "Python is a great programming language"]
    ours = embedlab.encode(texts, model="all-mpnet-base-v2")
    theirs = SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=True)
    assert ours.shape == (2, 768)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_half_assembled_mpnet_folder_is_set_aside(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    broken = tmp_path / "models" / "all-mpnet-base-v2"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{")
    folder = packaged.locate_mpnet()
    assert (folder / folders.COMPLETE_MARKER).exists()
    assert (tmp_path / "models" / "all-mpnet-base-v2.broken-1" / "config.json").exists()


def test_local_folders_only_from_allowed_directories(monkeypatch):
    folder = packaged.locate_minilm()
    monkeypatch.delenv("EMBEDLAB_MODEL_DIRS", raising=False)
    with pytest.raises(LookupError, match="EMBEDLAB_MODEL_DIRS"):
        embedlab.load_model(str(folder))
    monkeypatch.setenv("EMBEDLAB_MODEL_DIRS", str(folder.parent))
    model = embedlab.load_model(str(folder))
    assert model.dim == 384


@pytest.mark.parametrize("name", ["nosuch/model", "<script>alert(1)</script>", "BAAI/bge-large-en-v1.5"])
def test_unavailable_models_raise_one_sentence(name):
    with pytest.raises(LookupError) as caught:
        embedlab.load_model(name)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300


def test_other_packaged_models_encode_unit_vectors():
    texts = ["The cat sits on the mat", "A cat is sitting on a rug", "Python is a programming language"]
    for name, dim in [("all-MiniLM-L6-v2-int8", 384), ("paraphrase-MiniLM-L3-v2", 384), ("static-64d", 64)]:
        v = embedlab.encode(texts, model=name)
        assert v.shape == (3, dim)
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
        # the paraphrase is closer than the unrelated text: by 0.48 to 0.71 cosine for these
        # three models, where another CPU's floats (or int8's per-batch scales) move ~0.01 at most
        assert v[0] @ v[1] > v[0] @ v[2], name


def test_by_name_finds_catalog_entries_only():
    from embedlab.models import catalog

    entry = catalog.by_name(" sentence-transformers/all-MiniLM-L6-v2 ")
    assert (entry.name, entry.backend, entry.dim) == ("all-MiniLM-L6-v2", "sentence-transformers", 384)
    assert catalog.by_name("nosuch/model") is None and catalog.by_name(3) is None
    fresh = catalog.build_fresh("static-64d")
    assert fresh is not catalog.load_model("static-64d") and fresh.dim == 64


def test_set_aside_never_overwrites_an_earlier_copy(tmp_path):
    from embedlab.storage.folders import set_aside
    from embedlab.storage.sqlite import set_aside_database

    for n in (1, 2):
        (tmp_path / "x.sqlite3").write_text(f"copy {n}")
        (tmp_path / "x.sqlite3-wal").write_text(f"wal {n}")
        assert set_aside_database(tmp_path / "x.sqlite3").name == f"x.sqlite3.broken-{n}"
    assert (tmp_path / "x.sqlite3.broken-1").read_text() == "copy 1"
    assert (tmp_path / "x.sqlite3-wal.broken-2").read_text() == "wal 2"
    (tmp_path / "folder").mkdir()
    assert set_aside(tmp_path / "folder").name == "folder.broken-1"
