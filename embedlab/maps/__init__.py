"""Maps: projecting embeddings to 2-D/3-D, how faithful a map is, vector arithmetic, the Space Explorer pipeline
and its figures.

* :mod:`.pipeline` — ``build_map(texts, ...) -> MapResult``: encode, plan (PCA fallback), cached projection;
* :mod:`.neighbourhood` — questions asked of a map: neighbours, a search, the heatmap's rows;
* :mod:`.sentences` — pasted lines or a table's column cleaned for mapping;
* :mod:`.explore` — the building blocks over arrays (points table, clusters, quality, placing a query);
* :mod:`.projection`, :mod:`.quality`, :mod:`.arithmetic`, :mod:`.figures`, :mod:`.warmup`.
"""
