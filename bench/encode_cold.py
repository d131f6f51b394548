"""Encode cold: 1,000 fresh texts with all-MiniLM-L6-v2 — embedlab.encode vs SentenceTransformer.encode.

embedlab runs with an empty cache each time (a fresh ``$EMBEDLAB_HOME``) and texts it has never
seen, so it does all its bookkeeping — hashing, cache look-ups, storing the vectors in SQLite —
on top of the model's work. The peer is the same model loaded by sentence-transformers and
called directly. Both get the same texts in each round; who goes first alternates.
Target: ratio (peer time ÷ embedlab time) ≥ 0.95.
"""

from __future__ import annotations

from bench.common import Samples, figure, fresh_home, main, sentences, timed


def run(quick: bool):
    from sentence_transformers import SentenceTransformer

    import embedlab
    from embedlab.models import packaged

    n, repeats = (200, 3) if quick else (1000, 7)
    fresh_home()
    embedder = embedlab.load_model("all-MiniLM-L6-v2")  # loading is not part of the figure
    peer_model = SentenceTransformer(str(packaged.locate_minilm()), device="cpu")

    def peer(texts):
        return peer_model.encode(texts, batch_size=32, show_progress_bar=False)

    def ours(texts):
        fresh_home()  # an empty persistent cache; the in-memory level belongs to that folder too
        return embedlab.encode(texts, embedder, batch_size=32)

    def bare(texts):
        return embedlab.encode(texts, embedder, batch_size=32, use_cache=False)

    for call in (peer, ours, bare):  # first calls warm torch up
        call(sentences(64, seed=999))
    calls = {"peer": peer, "ours": ours, "bare": bare}
    times = {name: Samples() for name in calls}
    for round_ in range(repeats):
        texts = sentences(n, seed=round_ + 1)  # never seen before
        order = ("peer", "ours", "bare") if round_ % 2 == 0 else ("ours", "bare", "peer")
        for name in order:
            times[name].add(timed(lambda call=calls[name], texts=texts: call(texts))[0])
    ratio = times["peer"].median / times["ours"].median
    overhead = times["ours"].median - times["bare"].median
    return [
        figure(
            "encode_cold",
            f"encode cold, {n:,} texts, all-MiniLM-L6-v2",
            times["ours"],
            peer=times["peer"],
            peer_name="SentenceTransformer.encode",
            target="≥ 0.95×",
            met=ratio >= 0.95,
            without_cache=times["bare"].summary(),
            cache_overhead_s=overhead,
            texts_per_second=n / times["ours"].median,
        )
    ]


if __name__ == "__main__":
    main(run)
