"""Backends per model, ``auto`` calibrated once per machine, cache keys per backend, no load when cached.

Oracle: sentence-transformers running the packaged fp32 model directly, in the same test. The
calibration runs the real models on a few texts ($EMBEDLAB_CALIBRATION_TEXTS); only where a test is
about what happens *after* a decision is a decision written for it (the models stay real).
"""

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

import embedlab
from embedlab import seed
from embedlab.cli import main as cli
from embedlab.models import backends, builders, calibration, catalog, packaged, quantization
from embedlab.models.cache import embedding_cache
from embedlab.tuning.pairs import example_pairs

MINILM = "all-MiniLM-L6-v2"
INT8 = "all-MiniLM-L6-v2-int8"
SESSION_HOME = os.environ["EMBEDLAB_HOME"]  # set by conftest for the whole session


@pytest.fixture(scope="module")
def oracle():
    return SentenceTransformer(str(packaged.locate_minilm()), device="cpu")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data directory (no choices, empty cache) sharing the session's built models."""
    models = os.path.join(SESSION_HOME, "models")
    os.makedirs(models, exist_ok=True)
    os.symlink(models, tmp_path / "models")
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    monkeypatch.delenv(backends.BACKEND_ENV, raising=False)
    monkeypatch.setenv(calibration.CALIBRATION_TEXTS_ENV, "6")
    monkeypatch.setattr(calibration, "ROUNDS", 2)
    monkeypatch.setattr(calibration, "BUDGET_S", 0.5)
    for name in (MINILM, INT8):
        catalog.forget(name)
    yield tmp_path
    for name in (MINILM, INT8):
        catalog.forget(name)


def texts_for_checking() -> list[str]:
    debian = [description[:300] for _, description in example_pairs(12)]
    return [*seed.SENTENCES, *debian]


def never(*args, **kwargs):
    raise AssertionError("calibrated again")


def written(backend: str) -> backends.BackendChoice:
    """Record a decision for MiniLM on this machine, as a calibration would."""
    choice = backends.BackendChoice(MINILM, backend, "written by the test", machine=backends.machine_fingerprint())
    backends._record(choice)
    return choice


def test_every_backend_here_agrees_with_torch_fp32(home, oracle):
    texts = texts_for_checking()
    theirs = oracle.encode(texts, normalize_embeddings=True)
    here = embedlab.available_backends(MINILM)
    assert here[0] == "torch-fp32" and {"onnx-fp32", "onnx-int8"} <= set(here)
    assert ("torch-bf16" in here) == backends.has_bf16()
    for backend in here:
        model = embedlab.load_model(MINILM, backend=backend)
        assert model.backend == backend
        ours = model.encode(texts)
        cosines = (ours * theirs).sum(axis=1)
        if backend == "torch-fp32":
            np.testing.assert_allclose(ours, theirs, atol=1e-5)
        elif backend == "onnx-int8":
            assert cosines.mean() >= calibration.INT8_COSINE, (backend, cosines)
        else:
            assert cosines.mean() >= calibration.CLOSE_COSINE, (backend, cosines)
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_single_path_models_report_their_own(home):
    assert embedlab.available_backends("static-64d") == ("static",)
    assert embedlab.available_backends("paraphrase-MiniLM-L3-v2") == ("onnx-fp32",)
    assert embedlab.available_backends(INT8) == ("onnx-int8",)
    choice = embedlab.choose_backend("static-64d")
    assert choice.backend == "static" and choice.texts_per_second == {}
    assert embedlab.load_model("static-64d").backend == "static"
    assert "openvino" not in embedlab.available_backends(MINILM)  # does not install with this stack


def test_bf16_is_offered_only_with_amx_or_avx512_bf16(home, monkeypatch):
    monkeypatch.setattr(backends, "cpu_flags", lambda: "fpu sse2 avx2 fma avx512f avx512_vnni")
    assert "torch-bf16" not in embedlab.available_backends(MINILM)
    with pytest.raises(ValueError, match=r"backend 'torch-bf16' cannot run .*AVX512-BF16"):
        embedlab.load_model(MINILM, backend="torch-bf16")
    for flag in ("amx_bf16", "avx512_bf16"):
        monkeypatch.setattr(backends, "cpu_flags", lambda flag=flag: f"fpu avx2 {flag}")
        assert "torch-bf16" in embedlab.available_backends(MINILM)


def test_the_fingerprint_follows_the_cpu_flags(monkeypatch):
    before = backends.machine_fingerprint()
    monkeypatch.setattr(backends, "cpu_flags", lambda: "fpu sse2 avx2 amx_tile amx_bf16 amx_int8")
    after = backends.machine_fingerprint()
    assert after != before and "amx_bf16" in after and "cores" in after
    assert "torch=" in after and "onnxruntime=" in after and "sentence-transformers=" in after
    monkeypatch.setattr(backends, "cpu_flags", lambda: "fpu sse2 avx2 amx_tile amx_bf16 amx_int8 sse4_2")
    assert backends.machine_fingerprint() == after  # only the flags that decide speed count


@pytest.mark.parametrize("call", ["load_model", "encode", "cached_identity"])
def test_a_bad_backend_name_is_one_sentence_naming_backend(home, call):
    run = {
        "load_model": lambda: embedlab.load_model(MINILM, backend="fp16"),
        "encode": lambda: embedlab.encode(["a text"], backend="fp16"),
        "cached_identity": lambda: catalog.cached_identity(MINILM, "fp16"),
    }[call]
    with pytest.raises(ValueError) as error:
        run()
    message = str(error.value)
    assert message.startswith("backend must be one of") and "'fp16'" in message
    assert all(repr(b) in message for b in ("auto", *embedlab.BACKENDS))
    with pytest.raises(ValueError, match=r"backend 'onnx-int8' cannot run static-64d .* 'auto', 'static'"):
        embedlab.load_model("static-64d", backend="onnx-int8")
    with pytest.raises(ValueError, match="backend must be 'auto' or 'static'"):
        embedlab.encode(["a text"], embedlab.load_model("static-64d"), backend="torch-fp32")


def test_each_backend_has_its_own_cache_key(home):
    text = ["one text under two backends"]
    fp32 = embedlab.encode(text, backend="torch-fp32")
    onnx = embedlab.encode(text, backend="onnx-int8")
    keys = {b: catalog.cached_identity(MINILM, b)[0] for b in ("torch-fp32", "onnx-int8")}
    assert keys["torch-fp32"] != keys["onnx-int8"]
    assert keys["torch-fp32"] == "all-MiniLM-L6-v2|sentence-transformers|384|1"  # vectors cached before backends
    for backend, key in keys.items():
        assert embedlab.load_model(MINILM, backend=backend).cache_key == key
        assert embedding_cache().count(key) == 1  # two entries for one text
    assert not np.array_equal(fp32, onnx)
    embedding_cache().clear_memory()
    np.testing.assert_array_equal(embedlab.encode(text, backend="onnx-int8"), onnx)  # each answers its own


def test_auto_is_calibrated_once_and_recorded(home, oracle, monkeypatch):
    assert backends.recorded_choice(MINILM) is None
    choice = embedlab.choose_backend(MINILM)
    here = embedlab.available_backends(MINILM)
    assert choice.backend in here and set(choice.texts_per_second) == set(here)
    assert choice.machine == backends.machine_fingerprint() and choice.calibrated_at
    # the rule, checked against the oracle: the chosen backend keeps torch-fp32's vectors and answers
    texts = calibration.calibration_texts()
    ours = embedlab.load_model(MINILM, backend=choice.backend).encode(texts)
    cosines = (ours * oracle.encode(texts, normalize_embeddings=True)).sum(axis=1)
    assert choice.agreement[choice.backend] == pytest.approx(cosines.mean(), abs=2e-3)
    threshold = calibration.INT8_COSINE if choice.backend == "onnx-int8" else calibration.CLOSE_COSINE
    assert cosines.mean() >= threshold and choice.top1_unchanged[choice.backend]
    fastest_passing = max(
        (b for b in here if not calibration.passes(b, choice.agreement[b], choice.top1_unchanged[b])),
        key=choice.texts_per_second.get,
    )
    assert choice.backend in (fastest_passing, "torch-fp32")

    monkeypatch.setattr(calibration, "calibrate", never)  # from now on, a calibration fails the test
    assert embedlab.choose_backend(MINILM) == choice
    assert embedlab.load_model(MINILM).backend == choice.backend
    with sqlite3.connect(home / backends.FILE_NAME) as db:
        rows = db.execute("SELECT backend, machine FROM backend_choices").fetchall()
    assert rows == [(choice.backend, choice.machine)]
    assert json.loads(subprocess_choice(home))["backend"] == choice.backend  # another process reads it
    with pytest.raises(AssertionError, match="calibrated again"):
        embedlab.choose_backend(MINILM, recalibrate=True)
    monkeypatch.setattr(backends, "cpu_flags", lambda: "fpu avx2 amx_bf16")  # another machine
    assert backends.recorded_choice(MINILM) is None


def subprocess_choice(home) -> str:
    code = "import embedlab, json, dataclasses; print(json.dumps(dataclasses.asdict(embedlab.choose_backend('all-MiniLM-L6-v2'))))"
    env = {**os.environ, "EMBEDLAB_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout


def test_texts_all_cached_load_no_model(home, monkeypatch):
    monkeypatch.setattr(calibration, "calibrate", never)
    texts = ["all cached one", "all cached two", "all cached three"]
    # no choice recorded yet: auto's key is torch-fp32's
    reference = embedlab.encode(texts, backend="torch-fp32")
    catalog.forget(MINILM)
    embedding_cache().clear_memory()
    np.testing.assert_array_equal(embedlab.encode(texts), reference)
    assert MINILM not in catalog.loaded_models()
    # a choice recorded: auto's key is that backend's, and its vectors (not fp32's) answer
    written("onnx-int8")
    int8 = embedlab.encode(texts, backend="onnx-int8")
    catalog.forget(MINILM)
    embedding_cache().clear_memory()
    np.testing.assert_array_equal(embedlab.encode(texts), int8)
    assert not np.array_equal(int8, reference)
    assert MINILM not in catalog.loaded_models()
    # and a new process neither loads the model nor imports torch to find that out
    code = (
        "import embedlab, numpy as np, sys\n"
        f"v = embedlab.encode({texts!r})\n"
        "np.save(sys.stdout.buffer, v)\n"
        "sys.stderr.write(repr((embedlab.models.catalog.loaded_models(), 'torch' in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, env=dict(os.environ))
    import io

    np.testing.assert_array_equal(np.load(io.BytesIO(done.stdout)), int8)
    assert done.stderr.decode().strip().endswith("([], False)")


def test_a_choice_made_while_loading_is_not_mixed_with_reference_vectors(home, monkeypatch):
    """No choice recorded: fp32's key is looked up first; the load then chooses onnx-fp32, so every
    text is looked up again under onnx-fp32's key and the answer holds onnx-fp32 vectors only."""

    def decided(name, here, *, fingerprint):
        choice = backends.BackendChoice(name, "onnx-fp32", "decided by the test", machine=fingerprint)
        return choice, builders.build(name, "onnx-fp32")

    monkeypatch.setattr(calibration, "calibrate", decided)
    cached, fresh = ["mixed key one", "mixed key two"], ["mixed key three"]
    embedlab.encode(cached, backend="torch-fp32")
    out = embedlab.encode(cached + fresh)
    onnx_key = catalog.cached_identity(MINILM, "onnx-fp32")[0]
    assert embedding_cache().count(onnx_key) == 3
    assert embedlab.load_model(MINILM).backend == "onnx-fp32"
    alone = embedlab.load_model(MINILM, backend="onnx-fp32").encode(cached + fresh)
    np.testing.assert_allclose(out, alone, atol=1e-5)


def test_the_environment_can_pin_auto(home, monkeypatch):
    monkeypatch.setattr(calibration, "calibrate", never)
    monkeypatch.setenv(backends.BACKEND_ENV, "torch-fp32")
    assert embedlab.load_model(MINILM).backend == "torch-fp32"
    assert catalog.cached_identity(MINILM)[0] == catalog.cached_identity(MINILM, "torch-fp32")[0]
    assert embedlab.load_model("static-64d").backend == "static"  # a model without it keeps its own


def test_the_int8_model_is_minilms_onnx_int8_backend(home):
    alias = embedlab.load_model(INT8)
    backend = embedlab.load_model(MINILM, backend="onnx-int8")
    assert alias.backend == backend.backend == "onnx-int8"
    assert alias._file == backend._file == quantization.onnx_dir(MINILM, "int8") / quantization.FILE_NAME
    texts = texts_for_checking()
    np.testing.assert_array_equal(alias.encode(texts), backend.encode(texts))


def test_models_command_shows_and_forces_the_choice(home, monkeypatch, capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert "backend (auto)" in out and "not calibrated" in out
    written("onnx-fp32")
    assert cli.main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed[MINILM]["auto_backend"] == "onnx-fp32" and listed["static-64d"]["auto_backend"] == "static"
    assert listed[MINILM]["backends"] == list(embedlab.available_backends(MINILM))

    calls = []

    def counted(name, here, *, fingerprint):
        calls.append(name)
        return backends.BackendChoice(name, "torch-fp32", "counted by the test", machine=fingerprint), None

    monkeypatch.setattr(calibration, "calibrate", counted)
    assert cli.main(["models", "--calibrate", MINILM]) == 0
    assert calls == [MINILM]  # forced although a choice was recorded
    assert "counted by the test" in capsys.readouterr().out
    assert backends.recorded_choice(MINILM).backend == "torch-fp32"
    with pytest.raises(SystemExit):
        cli.main(["models", "--calibrate", "no-such-model"])
