"""embedlab.maps.warmup: UMAP compiled in the background, once per process.

The oracle for "no user waits for compilation" is numba itself: after the warm-up, a user's
UMAP fits (small and NN-descent-sized) add no compiled signature to any umap/pynndescent function.
"""

import gc
import json
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest

from embedlab.maps import warmup

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh(monkeypatch):
    """A warm-up module as in a new process, with a quick fit so the test stays short."""
    monkeypatch.setattr(warmup, "_state", warmup._State())
    monkeypatch.setattr(warmup, "_done", threading.Event())
    monkeypatch.setattr(warmup, "_model", warmup._ModelState())
    monkeypatch.setattr(warmup, "_model_done", threading.Event())
    monkeypatch.setattr(warmup, "SIZES", (24,))
    monkeypatch.setattr(warmup, "DIM", 8)
    monkeypatch.setenv(warmup.ENV_VAR, "umap")  # the UMAP part only; the model's has its own tests
    yield warmup
    gc.unfreeze()  # the warm-up froze this test process's heap: later tests get a collector as usual


def test_start_is_idempotent_and_finishes(fresh):
    assert fresh.status()["state"] == "not started" and fresh.wait(0) is False
    first = fresh.start(delay=0)
    assert fresh.start() is first and first.daemon and first.name == "embedlab-umap-warmup"
    assert fresh.wait(timeout=600)
    status = fresh.status()
    assert status["state"] == "done" and status["error"] is None and status["seconds"] > 0
    assert fresh.start() is first  # once per process, even after it has finished


def test_the_delay_comes_first(fresh):
    fresh.start(delay=30)
    assert fresh.status()["state"] == "waiting" and not fresh.wait(0.05)


def test_a_failure_is_reported_not_raised(fresh, monkeypatch):
    from embedlab.maps import projection

    def broken(*args, **kwargs):
        raise RuntimeError("numba is not working")

    monkeypatch.setattr(projection, "project", broken)
    assert fresh.start(delay=0) is not None
    assert fresh.wait(timeout=60)
    status = fresh.status()
    assert status["state"] == "failed" and "numba is not working" in status["error"]


def test_it_can_be_turned_off(fresh, monkeypatch):
    monkeypatch.setenv(fresh.ENV_VAR, "0")
    assert fresh.start(delay=0) is None
    assert fresh.status()["state"] == "not started" and fresh.wait(0) is False
    assert fresh.model_status()["state"] == "not started" and fresh.wait_model(0) is False
    assert not fresh.model_ready()


def test_the_model_is_loaded_in_the_background_once(fresh, monkeypatch):
    """The model part alone: load_model's own instance is the one warmed, the default sentences are cached."""
    from embedlab import seed
    from embedlab.maps import pipeline
    from embedlab.models import catalog
    from embedlab.models.cache import embedding_cache, text_key

    monkeypatch.setenv(fresh.ENV_VAR, "model")
    pipeline.clear_cache()  # no map drawn earlier in this process: the warm-up's own must be found below
    assert fresh.model_status()["state"] == "not started"
    thread = fresh.start()
    assert thread is not None and thread.name == "embedlab-model-warmup" and thread.daemon
    assert fresh.start() is thread and fresh.status()["state"] == "not started"  # no UMAP in this mode
    assert fresh.wait_model(timeout=900)
    status = fresh.model_status()
    assert status["state"] == "done", status
    assert (
        status["model"] == catalog.DEFAULT_MODEL
        and status["backend"]
        and 0 < status["load_seconds"] <= status["seconds"]
    )
    assert fresh.model_ready()
    assert gc.get_freeze_count() > 0  # what it loaded is out of the way of Streamlit's collection after each run
    embedder = catalog.load_model(catalog.DEFAULT_MODEL)  # the page's call: the instance the warm-up loaded
    assert embedder.backend == status["backend"]
    found = embedding_cache().get_many(embedder.cache_key, [text_key(t) for t in seed.SENTENCES])
    assert len(found) == len(set(seed.SENTENCES))  # the first map's sentences are already encoded

    def not_again(*args, **kwargs):
        raise AssertionError("the warm-up's projection of the default sentences should have been kept")

    monkeypatch.setattr(pipeline, "project", not_again)
    first = pipeline.build_map(list(seed.SENTENCES), labels=list(seed.LABELS))  # the page's first map
    assert first.encoded == 0 and first.points.shape == (len(seed.SENTENCES), 2)
    assert fresh.start() is thread  # once per process


def test_with_both_parts_umap_compiles_after_the_model_is_warm(fresh, monkeypatch):
    monkeypatch.setenv(fresh.ENV_VAR, "")  # both parts, as a real server runs them
    fresh.start(delay=0)
    assert fresh.wait_model(timeout=900) and fresh.wait(timeout=900)
    assert fresh.model_status()["state"] == "done" and fresh.status()["state"] == "done"
    # one at a time on a small machine: the first map's model is not slowed by numba's compiler
    assert fresh._state.began >= fresh._model.finished


def test_a_model_that_fails_to_load_is_reported_not_raised(fresh, monkeypatch):
    monkeypatch.setenv(fresh.ENV_VAR, "model")
    fresh.start(model="nosuch/model-that-is-not-here")
    assert fresh.wait_model(timeout=120)
    status = fresh.model_status()
    assert status["state"] == "failed" and "nosuch/model-that-is-not-here" in status["error"]
    assert not fresh.model_ready()


def test_freezing_collects_garbage_first_and_takes_the_living_out_of_collections():
    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return a

    garbage = weakref.ref(cycle())  # unreachable, kept only by its own cycle
    alive = cycle()
    assert garbage() is not None
    try:
        warmup.freeze_heap()
        assert garbage() is None  # collected before the freeze, not kept for ever
        assert gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects())  # frozen: a full collection no longer walks it
        assert alive.other.other is alive
    finally:
        gc.unfreeze()
    assert any(o is alive for o in gc.get_objects())


def test_warm_up_points_look_like_embeddings():
    x = warmup._points(100)
    assert x.shape == (100, warmup.DIM) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)


CHECK = """
import json, sys
import numpy as np
from numba.core.registry import CPUDispatcher
from embedlab import project
from embedlab.maps import warmup

def compiled():
    found = {}
    for name, module in list(sys.modules.items()):
        if module is not None and name.startswith(("umap", "pynndescent")):
            for attr, value in list(vars(module).items()):
                if isinstance(value, CPUDispatcher):
                    found[name + "." + attr] = len(value.signatures)
    return found

warmup.start(delay=0)
assert warmup.wait(timeout=1200), "warm-up did not finish"
before = compiled()
rng = np.random.default_rng(1)
for n in (16, 5000):
    project(rng.normal(size=(n, 384)).astype(np.float32), method="umap", n_components=2)
after = compiled()
new = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
print(json.dumps({"status": warmup.status(), "warmed": sum(before.values()), "new": new}))
"""


@pytest.mark.slow
def test_after_the_warm_up_a_users_umap_compiles_nothing():
    """In a new process: warm up, then a 16-point and a 5,000-point fit add no numba signature."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(warmup.ENV_VAR, None)
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=1500, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"]["state"] == "done"
    assert result["warmed"] > 20  # the warm-up did compile UMAP's functions
    assert result["new"] == {}, f"compiled after the warm-up: {result['new']}"
