"""all-MiniLM-L6-v2-int8: built once from the packaged model, integer products, fp32's answers.

Oracle: sentence-transformers running the packaged fp32 model directly.
"""

import collections

import onnx
import pytest
from sentence_transformers import SentenceTransformer

import embedlab
from embedlab import seed
from embedlab.models import packaged

INT8 = "all-MiniLM-L6-v2-int8"


@pytest.fixture(scope="module")
def fp32():
    return SentenceTransformer(str(packaged.locate_minilm()), device="cpu")


def test_the_built_model_multiplies_in_int8():
    """The point of the model: its products are integer ones (the weight-only file was fp32)."""
    path = packaged.locate_minilm_int8()
    assert (path.parent / packaged.COMPLETE_MARKER).exists()
    assert packaged.locate_minilm_int8() == path  # built once, then found
    ops = collections.Counter(node.op_type for node in onnx.load(str(path)).graph.node)
    assert ops["MatMulInteger"] >= 12 and ops["QAttention"] == 6, ops
    assert ops["MatMul"] == 6  # the attention output projections, kept in fp32 on purpose
    assert path.stat().st_size < 30e6  # int8 weights: about a quarter of fp32's 90 MB


def test_vectors_stay_close_to_fp32(fp32):
    texts = list(seed.SENTENCES) + list(seed.TRACE_TEXTS) + list(seed.QUERIES)
    ours = embedlab.encode(texts, model=INT8)
    theirs = fp32.encode(texts, normalize_embeddings=True)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.97, cosines


def test_same_top1_traces_as_fp32(fp32):
    traces = [seed.TRACE_TEMPLATE.format(**trace) for trace in seed.TRACES]
    theirs = fp32.encode(traces, normalize_embeddings=True)
    their_queries = fp32.encode(list(seed.QUERIES), normalize_embeddings=True)
    expected = (their_queries @ theirs.T).argmax(axis=1)
    result = embedlab.evaluate_retrieval(list(seed.QUERIES), traces, list(seed.EXPECTED), model=INT8, k=3)
    got = [int(i) for i in result.per_query["top_id"]]
    assert got == expected.tolist()
    # dynamic quantisation scales activations per batch: alone, each query still finds its trace
    alone = [
        int(
            embedlab.rank(embedlab.encode([q], model=INT8, use_cache=False), embedlab.encode(traces, model=INT8), k=1)[
                0
            ][0, 0]
        )
        for q in seed.QUERIES
    ]
    assert alone == expected.tolist()


def test_cached_vectors_of_the_old_int8_file_are_not_reused():
    """Version 1 of the name was the weight-only file: its cache entries must not answer now."""
    identity = embedlab.models.catalog.cached_identity(INT8)
    assert identity == (embedlab.load_model(INT8).cache_key, 384)
    assert identity[0].endswith("|2")


def test_build_once_keeps_nothing_half_made(tmp_path):
    target = tmp_path / "models" / "thing"

    def failing(work):
        (work / "part").write_text("half")
        raise RuntimeError("crashed midway")

    with pytest.raises(RuntimeError):
        packaged.build_once(target, failing)
    assert not target.exists() and list(target.parent.iterdir()) == []

    def good(work):
        (work / "model").write_text("whole")
        return work

    assert packaged.build_once(target, good) == target
    assert (target / "model").read_text() == "whole" and (target / packaged.COMPLETE_MARKER).exists()
    assert packaged.build_once(target, failing) == target  # found, not rebuilt


def test_parameters_are_counted_from_the_graph(fp32):
    """Against torch's count of the same model (the exported graph has no pooler: 148k fewer)."""
    theirs = sum(p.numel() for p in fp32.parameters())
    ours = embedlab.load_model(INT8).parameters
    assert 0.98 * theirs < ours < theirs
