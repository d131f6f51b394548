"""Maps: projecting embeddings to 2-D/3-D, how faithful a map is, vector arithmetic, the Space Explorer pipeline
and its figures."""
