"""The persistent embedding cache: crash safety, damage detection, bounded memory."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

import embedlab
from embedlab.models.cache import FILE_NAME, EmbeddingCache, text_key


def test_damaged_database_is_set_aside_and_rebuilt(tmp_path, caplog):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    cache = EmbeddingCache(path)
    assert (tmp_path / f"{FILE_NAME}.broken-1").exists()
    assert cache.notices and "set aside" in cache.notices[0]
    cache.put_many("m", [(text_key("a"), np.ones(3, dtype=np.float32))])
    assert cache.count("m") == 1


def test_truncated_database_is_set_aside(tmp_path):
    path = tmp_path / FILE_NAME
    good = EmbeddingCache(path)
    good.put_many("m", [(text_key(str(i)), np.full(64, i, dtype=np.float32)) for i in range(2000)])
    good.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    cache = EmbeddingCache(path)
    assert cache.notices
    assert cache.count() == 0


def test_memory_level_is_bounded(tmp_path):
    cache = EmbeddingCache(tmp_path / FILE_NAME, memory_bytes=10 * 4 * 8)
    cache.put_many("m", [(text_key(str(i)), np.zeros(8, dtype=np.float32)) for i in range(100)])
    assert cache.memory_entries == 10
    assert cache.count("m") == 100  # the disk keeps everything
    assert len(cache.get_many("m", [text_key("0"), text_key("99")])) == 2


def test_sigkill_while_encoding_leaves_only_whole_records(tmp_path):
    env = {**os.environ, "EMBEDLAB_HOME": str(tmp_path)}
    code = (
        "import embedlab\n"
        "for round in range(1000):\n"
        "    embedlab.encode([f'round {round} text {i}' for i in range(64)])\n"
        "    print(round, flush=True)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    for _ in range(3):  # let it write a few batches, then kill it mid-flight
        process.stdout.readline()
    time.sleep(0.15)
    process.send_signal(signal.SIGKILL)
    process.wait()
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = connection.execute("SELECT model, length(vector) FROM embeddings").fetchall()
    assert len(rows) >= 3 * 64 and len(rows) % 64 == 0  # whole batches only
    assert {length for _, length in rows} == {384 * 4}
    cache = EmbeddingCache(path)
    assert not cache.notices
    # and the cache still serves: the same texts come back without model work, equal to a fresh encode
    os.environ["EMBEDLAB_HOME"], saved = str(tmp_path), os.environ["EMBEDLAB_HOME"]
    try:
        texts = [f"round 0 text {i}" for i in range(64)]
        np.testing.assert_allclose(embedlab.encode(texts), embedlab.encode(texts, use_cache=False), atol=1e-6)
    finally:
        os.environ["EMBEDLAB_HOME"] = saved


def test_damaged_cache_is_announced_in_the_app(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    (tmp_path / FILE_NAME).write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("EMBEDLAB_HOME", str(tmp_path))
    at = AppTest.from_file("../app.py", default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    assert any("set aside" in toast.value for toast in at.toast)
    assert (tmp_path / f"{FILE_NAME}.broken-1").exists()
