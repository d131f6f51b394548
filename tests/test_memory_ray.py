"""The Ray engine of collections (embedlab.memory.ray_engine) on a local Ray with 2 CPUs.

Oracle: :func:`embedlab.encode` on the same real texts (Debian package summaries), in the same
test; the end-to-end build is checked against the local engine's collection. Each test leaves Ray
shut down (the fixture makes sure even when it fails).
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import embedlab  # noqa: E402
from embedlab.memory.ray_engine import encode_with_ray  # noqa: E402
from embedlab.memory.results import CollectionError  # noqa: E402
from embedlab.tuning.pairs import example_pairs  # noqa: E402

MODEL = embedlab.DEFAULT_MODEL
WORKERS = 2


@pytest.fixture(scope="module", autouse=True)
def reference_backend():
    """The reference backend everywhere: no per-machine calibration (minutes of loading backends)
    in the middle of a build; what is compared here is Ray against local, on one backend."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMBEDLAB_BACKEND", "torch-fp32")
        yield


@pytest.fixture(autouse=True)
def no_ray_left():
    """Ray down before and after every test."""
    ray.shutdown()
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def pairs():
    return example_pairs(300)


@pytest.fixture(scope="module")
def summaries(pairs):
    """300 real, distinct texts: the one-line summaries of Debian packages."""
    texts = [summary for summary, _ in pairs]
    assert len(set(texts)) == len(texts) == 300
    return texts


def collect(batches):
    """{position: vector} from encode_with_ray's batches, failing on a position seen twice."""
    got = {}
    for positions, vectors in batches:
        assert positions.dtype == np.int64 and vectors.dtype == np.float32
        assert vectors.shape == (len(positions), 384)
        for p, v in zip(positions.tolist(), vectors, strict=True):
            assert p not in got, f"position {p} came twice"
            got[p] = v
    return got


def test_vectors_equal_encode_and_ray_is_shut_down(summaries):
    want = embedlab.encode(summaries, MODEL)
    events = []
    got = collect(
        encode_with_ray(summaries, model=MODEL, batch_size=64, workers=WORKERS, progress=lambda *a: events.append(a))
    )
    assert sorted(got) == list(range(len(summaries)))
    matrix = np.stack([got[i] for i in range(len(summaries))])
    cosine = (matrix * want).sum(1) / np.linalg.norm(matrix, axis=1) / np.linalg.norm(want, axis=1)
    assert cosine.min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert events[0] == (0, 300) and events[-1] == (300, 300)
    assert [done for done, _ in events] == sorted(done for done, _ in events)
    assert not ray.is_initialized()  # the local Ray started for the run is gone


def test_should_stop_ends_the_run_and_frees_the_workers(summaries):
    ray.init("local", num_cpus=2, include_dashboard=False)  # a Ray already running is used as it is
    seen = []
    batches = encode_with_ray(
        summaries, model=MODEL, batch_size=32, workers=WORKERS, should_stop=lambda: len(seen) >= 1
    )
    for positions, _ in batches:
        seen.append(positions)
    assert len(seen) == 1 and len(seen[0]) <= 32  # nothing after Stop
    assert ray.is_initialized()  # not ours: left running
    deadline = time.monotonic() + 60
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray.available_resources().get("CPU", 0) == 2  # the pool's actors are gone


def one_sentence(message: str) -> bool:
    return "\n" not in message and message.endswith(".") and message.count(". ") == 0


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never says anything (not a Ray)."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in held:
        connection.close()


@pytest.mark.parametrize("kind", ["refused", "silent", "unknown host"])
def test_an_address_that_does_not_answer_is_one_sentence_within_a_minute(kind, silent_port):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    address = {
        "refused": f"127.0.0.1:{closed_port}",
        "silent": f"127.0.0.1:{silent_port}",
        "unknown host": "no-such-host.invalid:6379",
    }[kind]
    started = time.monotonic()
    with pytest.raises(CollectionError) as raised:
        next(encode_with_ray(["a text"], model=MODEL, address=address))
    assert time.monotonic() - started < 60
    message = str(raised.value)
    assert message.startswith(f"Ray at {address} did not answer: ") and one_sentence(message), message
    assert not ray.is_initialized()


def test_an_address_that_is_not_one_says_what_an_address_is():
    with pytest.raises(CollectionError, match=r"^'nowhere' is not a Ray address; give host:port") as raised:
        next(encode_with_ray(["a text"], model=MODEL, address="nowhere"))
    assert one_sentence(str(raised.value))
    assert not ray.is_initialized()


@pytest.mark.parametrize(
    ("arguments", "error", "names"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"workers": 1.5}, TypeError, "workers"),
        ({"address": ""}, TypeError, "address"),
        ({"progress": 3}, TypeError, "progress"),
        ({"should_stop": "no"}, TypeError, "should_stop"),
        ({"model": ""}, TypeError, "model"),
    ],
)
def test_bad_arguments_name_the_parameter_before_ray_starts(arguments, error, names):
    with pytest.raises(error, match=names):
        encode_with_ray(["a text"], **{"model": MODEL, **arguments})
    assert not ray.is_initialized()


def test_build_collection_on_ray_finds_what_the_local_build_finds(pairs, summaries, tmp_path):
    memory = pytest.importorskip("embedlab.memory", reason="build_collection (embedlab/memory/build.py) is not there")
    import pandas as pd

    frame = pd.DataFrame({"id": [f"pkg-{i}" for i in range(len(summaries))], "text": summaries})
    local = memory.build_collection("local", frame, id_column="id", home=tmp_path)
    on_ray = memory.build_collection("on_ray", frame, id_column="id", engine="ray", home=tmp_path)
    assert (on_ray.engine, on_ray.added, on_ray.stopped) == ("ray", 300, False)
    assert on_ray.info.rows == local.info.rows == 300
    assert not ray.is_initialized()

    rows_l, vectors_l = memory.collection_vectors("local", home=tmp_path)
    rows_r, vectors_r = memory.collection_vectors("on_ray", home=tmp_path)
    by_id = dict(zip(rows_r["id"], vectors_r, strict=True))
    assert set(by_id) == set(rows_l["id"])
    assert min(float(v @ by_id[i]) for i, v in zip(rows_l["id"], vectors_l, strict=True)) >= 0.9999

    queries = [description.split(". ")[0] for _, description in pairs[:20]]
    for query in queries:
        top_local = memory.search_collection("local", query, k=1, home=tmp_path).hits["id"].iloc[0]
        top_ray = memory.search_collection("on_ray", query, k=1, home=tmp_path).hits["id"].iloc[0]
        assert top_ray == top_local, query
