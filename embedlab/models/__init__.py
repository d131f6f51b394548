"""Models: the catalog, the embedders that run them, packaged weights, int8 builds, encode() and its cache."""
